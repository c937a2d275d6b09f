//! Benchmark seeding: `POST /api/bench/seed?n=N` fills the organisation's
//! registry with N synthetic clients, so `scripts/bench-edge.sh` can measure
//! the Worker at organisation scale (1 000 to 100 000 clients) without
//! sending that many activations first.
//!
//! Off unless the Worker var `KMS_BENCH_SEED` is `true` (the Durable Object
//! answers 404 then), and, like every `/api/*` path, only behind the admin
//! token. Never set it on a deployed Worker: the rows are invented.
//!
//! Each row is what a real granted request would leave, written by the
//! product's own [`ClientRecord::store`] (client row, request counters, the
//! hour's activity), [`BATCH`] rows per `transactionSync`: distinct random
//! version-4 CMIDs, SKUs of current products from [`catalog::SKUS`] with
//! their KMS counted id, application and protocol version, last seen within
//! the last 29 days (all still counted for the benchmark's duration), all
//! granted. Then the in-memory host model is dropped, so the next
//! activation rebuilds it from the rows — the Durable Object's wake, which
//! logs `registry woke: … rebuilt in … ms`.
use super::registry::{transaction_sync, unix_now};
use super::rng::SystemRng;
use crate::catalog::{self, Sku};
use crate::kms::Version;
use crate::model::HostModel;
use crate::model::record::ClientRecord;
use crate::Guid;
use rand_core::Rng;
use std::cell::RefCell;
use std::rc::Rc;
use worker::{Request, Response, Result, Storage};

/// The Worker var that enables [`PATH`].
pub const ENABLE_VAR: &str = "KMS_BENCH_SEED";
/// Under `/api/`, so the Worker's admin-token check guards it and forwards
/// it unchanged to the Durable Object.
pub const PATH: &str = "/api/bench/seed";
/// `GET`: the registry's [`super::registry::Usage`] since it woke (decides,
/// SQLite rows read and written), under the same switch, for the cost
/// model `scripts/bench-edge.sh` reports.
pub const USAGE_PATH: &str = "/api/bench/usage";
/// Most clients one request may add (call again for more).
pub const MAX_PER_CALL: u64 = 100_000;
/// Rows per transaction.
pub const BATCH: u64 = 1_000;
/// Spread of `last_seen` back from now: inside the 30-day window with a day
/// to spare, so no seeded row expires while a benchmark runs.
pub const SPREAD_SECS: u64 = 29 * 86_400;

/// Whether the var's value enables seeding (only the exact `true`).
pub fn enabled(var: Option<&str>) -> bool {
    var.is_some_and(|v| v.trim() == "true")
}

/// `POST /api/bench/seed?n=N`: 404 unless enabled; N in 1..=[`MAX_PER_CALL`].
pub fn handle(enabled: bool, req: &Request, storage: &Storage, model: &RefCell<Option<Rc<HostModel>>>) -> Result<Response> {
    if !enabled {
        return Response::error("not found", 404);
    }
    let url = req.url()?;
    let n = match url.query_pairs().find(|(k, _)| k == "n").map(|(_, v)| v.parse::<u64>()) {
        Some(Ok(n)) if (1..=MAX_PER_CALL).contains(&n) => n,
        _ => return Response::error(format!("give ?n=N, 1 to {MAX_PER_CALL} clients"), 400),
    };
    let now = unix_now();
    let salt = SystemRng.next_u64();
    let mut done = 0;
    while done < n {
        let end = (done + BATCH).min(n);
        let records: Vec<ClientRecord> = (done..end).map(|i| synthetic(salt, i, now)).collect();
        let sql = storage.sql();
        transaction_sync(storage, move || records.iter().try_for_each(|r| r.store(&sql)))?;
        done = end;
    }
    // The counts in memory no longer match the rows: the next activation
    // rebuilds the model, as after a wake.
    *model.borrow_mut() = None;
    Response::from_json(&serde_json::json!({ "inserted": n, "batch": BATCH }))
}

/// splitmix64's finaliser: a bijection of u64.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Current products, weighted roughly like an organisation's estate:
/// mostly Windows 10/11 clients, then Office, then servers.
fn weight(s: &Sku) -> u64 {
    let k = match s.kms_id() {
        Some(k) if !k.synthetic && !k.retail && !k.preview && s.gvlk.is_some() => k,
        _ => return 0,
    };
    let f = s.family;
    if f.starts_with("Windows 10/11") {
        if s.edition.contains("Enterprise") || s.edition.starts_with("Pro") { 40 } else { 4 }
    } else if f.starts_with("Office") && ["2016", "2019", "2021", "2024"].iter().any(|y| f.contains(y)) {
        6
    } else if f.starts_with("Windows Server 20") && k.protocol == 6 {
        2
    } else {
        0
    }
}

/// The `i`-th synthetic client of a call whose random salt is `salt`:
/// distinct CMIDs for distinct `i` (the low 62 bits are a bijection of `i`).
pub fn synthetic(salt: u64, i: u64, now: i64) -> ClientRecord {
    let h = mix(salt ^ mix(i.wrapping_add(0x9e37_79b9_7f4a_7c15)));
    let hi = (mix(salt) & !0xf000) | 0x4000; // version 4
    let lo = (1 << 63) | ((i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt) & ((1 << 62) - 1)); // variant 10
    let cmid = Guid::from_u128((u128::from(hi) << 64) | u128::from(lo));
    let total: u64 = catalog::SKUS.iter().map(weight).sum();
    let mut pick = h % total.max(1);
    let sku = catalog::SKUS
        .iter()
        .find(|s| {
            let w = weight(s);
            if pick < w {
                return true;
            }
            pick -= w;
            false
        })
        .unwrap_or(&catalog::SKUS[0]);
    let kms = sku.kms_id();
    let major = kms.map_or(6, |k| u16::from(k.protocol));
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let w = mix(h);
    let name: String = (0..7).map(|j| ALNUM[((w >> (j * 5)) % 36) as usize] as char).collect();
    let remote = match h >> 60 {
        0..=2 => "tcp".to_owned(),
        b => format!("branch-{b:02}"),
    };
    ClientRecord {
        cmid,
        kms_id: sku.kms,
        application: sku.app.application().id,
        sku: sku.id,
        workstation: format!("DESKTOP-{name}"),
        remote,
        // Mostly renewals of licensed clients, some first activations.
        license_status: if (w >> 40).is_multiple_of(5) { 2 } else { 1 },
        protocol: Version { major, minor: 0 },
        now: now - ((w >> 8) % SPREAD_SECS) as i64,
        hresult: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const NOW: i64 = 1_750_000_000;

    #[test]
    fn distinct_realistic_live_grants() {
        let salt = 0x1234_5678_9abc_def0;
        let mut cmids = HashSet::new();
        let mut windows = 0;
        for i in 0..20_000 {
            let r = synthetic(salt, i, NOW);
            assert!(cmids.insert(r.cmid), "CMID {i} repeated");
            assert_eq!(r.cmid.to_u128() >> 76 & 0xf, 4, "version 4");
            let sku = catalog::SKUS.iter().find(|s| s.id == r.sku).expect("a catalogue SKU");
            assert_eq!(r.kms_id, sku.kms);
            assert_eq!(catalog::application(&r.application).map(|a| a.key), Some(sku.app));
            assert!(r.now <= NOW && r.now > NOW - 30 * 86_400);
            assert_eq!(r.hresult, 0);
            assert!((4..=6).contains(&r.protocol.major));
            windows += usize::from(sku.family.starts_with("Windows 10/11"));
        }
        assert!(windows > 10_000, "mostly Windows clients: {windows}");
        // Another call (another salt) does not repeat this one's CMIDs.
        assert!((0..20_000).all(|i| !cmids.contains(&synthetic(salt ^ 1, i, NOW).cmid)));
    }

    #[test]
    fn only_true_enables() {
        assert!(enabled(Some("true")) && enabled(Some(" true ")));
        for v in [None, Some("false"), Some("1"), Some("TRUE"), Some("yes"), Some("")] {
            assert!(!enabled(v), "{v:?}");
        }
    }
}
