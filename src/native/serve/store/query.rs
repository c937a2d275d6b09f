//! Reads of the registry for the HTTP API, shaped as [`crate::api`] (the
//! JSON the edge host serves too). Counting uses the shared SQL of
//! [`crate::registry`], so the dashboard shows what the host counts.
use std::prelude::rust_2024::{String, ToOwned, ToString, Vec};
use std::format;
use crate::api::{Activity, ActivityPoint, ClientPage, ClientQuery, ClientRow, CountEntry, Counters};
use crate::catalog::{self, AppKey};
use crate::host::policy::{CountPolicy, reported_count};
use crate::kms::request::license_status_name;
use crate::registry::{self, CMID_EXPIRY_SECS};
use crate::Guid;
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};
use std::collections::BTreeMap;

/// A query the caller got wrong (HTTP 400), or a database failure (500).
#[derive(Debug)]
pub enum QueryError {
    Bad(String),
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for QueryError {
    fn from(e: rusqlite::Error) -> Self {
        QueryError::Db(e)
    }
}

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;

/// Columns `/api/clients` sorts by: the stored ones.
const SORTABLE: [&str; 12] = [
    "cmid",
    "kms_id",
    "application",
    "sku",
    "workstation",
    "remote",
    "license_status",
    "protocol",
    "first_seen",
    "last_seen",
    "requests",
    "last_hresult",
];

/// Request counters in the `slmgr /dlv` layout.
pub fn counters(conn: &Connection) -> rusqlite::Result<Counters> {
    let mut c = Counters::default();
    let mut stmt = conn.prepare_cached(registry::ALL_COUNTERS)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (name, value): (String, i64) = (r.get(0)?, r.get(1)?);
        let value = value.max(0) as u64;
        if name == registry::counters::TOTAL {
            c.total = value;
        } else if name == registry::counters::FAILED {
            c.failed = value;
        } else if let Some(n) = name.strip_prefix(registry::counters::LICENSE_STATUS_PREFIX) {
            let label = n.parse().map(license_status_name).unwrap_or("Unknown");
            *c.by_license_status.entry(label.to_owned()).or_default() += value;
        }
    }
    Ok(c)
}

/// The count a client of this counted id needs: its catalogue N policy,
/// else 25 for Windows (client editions need the most) and 5 for Office.
pub fn threshold(kms_id: &Guid, application: &Guid) -> u32 {
    match catalog::kms_id(kms_id) {
        Some(k) => k.n_policy,
        None if catalog::application(application).is_none_or(|a| a.key == AppKey::Windows) => 25,
        None => 5,
    }
}

/// One entry per KMS counted id seen in the 30 days before `now`.
pub fn counts(conn: &Connection, now: i64, policy: CountPolicy) -> rusqlite::Result<Vec<CountEntry>> {
    let since = now - CMID_EXPIRY_SECS;
    let mut groups: BTreeMap<String, u64> = BTreeMap::new();
    {
        let mut stmt = conn.prepare_cached(registry::COUNTS_BY_APPLICATION)?;
        let mut rows = stmt.query([since])?;
        while let Some(r) = rows.next()? {
            groups.insert(r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64);
        }
    }
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(registry::COUNTS_BY_KMS_ID)?;
    let mut rows = stmt.query([since])?;
    while let Some(r) = rows.next()? {
        let (kms_text, app_text): (String, String) = (r.get(0)?, r.get(1)?);
        let kms = Guid::parse(&kms_text).unwrap_or_default();
        let app = Guid::parse(&app_text).unwrap_or_default();
        let group_genuine = groups.get(&app_text).copied().unwrap_or(0);
        let threshold = threshold(&kms, &app);
        out.push(CountEntry {
            name: catalog::kms_id(&kms).map_or("Unknown", |k| k.name).to_owned(),
            kms_id: kms_text,
            application: app_text,
            genuine: r.get::<_, i64>(2)?.max(0) as u64,
            clients: r.get::<_, i64>(3)?.max(0) as u64,
            group_genuine,
            threshold,
            reported: reported_count(policy, threshold, group_genuine.min(u64::from(u32::MAX)) as u32),
        });
    }
    Ok(out)
}

/// A page of `/api/clients`.
pub fn clients(conn: &Connection, q: &ClientQuery) -> Result<ClientPage, QueryError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(QueryError::Bad(format!("limit must be 1 to {MAX_LIMIT}, got {limit}")));
    }
    let offset = q.offset.unwrap_or(0);
    if offset > i64::MAX as u64 {
        return Err(QueryError::Bad(format!("offset {offset} is too large")));
    }
    let sort = q.sort.as_deref().unwrap_or("last_seen");
    if !SORTABLE.contains(&sort) {
        return Err(QueryError::Bad(format!("cannot sort by {sort:?}; use one of {}", SORTABLE.join(", "))));
    }
    let order = match q.order.as_deref().unwrap_or("desc") {
        o if o.eq_ignore_ascii_case("desc") => "DESC",
        o if o.eq_ignore_ascii_case("asc") => "ASC",
        o => return Err(QueryError::Bad(format!("order must be asc or desc, got {o:?}"))),
    };

    let mut cond: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(id) = q.kms_id.as_deref().filter(|s| !s.is_empty()) {
        let g = Guid::parse(id).map_err(|_| QueryError::Bad(format!("kms_id {id:?} is not a GUID")))?;
        args.push(Value::Text(g.to_string()));
        cond.push(format!("kms_id = ?{}", args.len()));
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        args.push(Value::Text(format!("%{}%", like_escape(text))));
        let p = args.len();
        let mut any = format!(
            "workstation LIKE ?{p} ESCAPE '\\' OR cmid LIKE ?{p} ESCAPE '\\' OR remote LIKE ?{p} ESCAPE '\\'"
        );
        // Product names live in the catalogue, not in the table: match them
        // here and look the rows up by id.
        let needle = text.to_ascii_lowercase();
        for k in catalog::KMS_IDS.iter().filter(|k| k.name.to_ascii_lowercase().contains(&needle)) {
            args.push(Value::Text(k.id.to_string()));
            any.push_str(&format!(" OR kms_id = ?{}", args.len()));
        }
        for s in catalog::SKUS.iter().filter(|s| s.name.to_ascii_lowercase().contains(&needle)) {
            args.push(Value::Text(s.id.to_string()));
            any.push_str(&format!(" OR sku = ?{}", args.len()));
        }
        cond.push(format!("({any})"));
    }
    let filter = if cond.is_empty() { String::new() } else { format!("WHERE {}", cond.join(" AND ")) };

    let total: i64 =
        conn.query_row(&format!("SELECT COUNT(*) FROM clients {filter}"), params_from_iter(args.iter()), |r| r.get(0))?;
    let n = args.len();
    let sql = format!(
        "SELECT {} FROM clients {filter} ORDER BY {sort} {order}, cmid, kms_id LIMIT ?{} OFFSET ?{}",
        registry::CLIENT_COLUMNS,
        n + 1,
        n + 2
    );
    args.push(Value::Integer(limit as i64));
    args.push(Value::Integer(offset as i64));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args.iter()), client_row)?;
    let clients = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ClientPage { total: total.max(0) as u64, offset, limit, clients })
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A row in [`registry::CLIENT_COLUMNS`] order, with catalogue names.
fn client_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClientRow> {
    let kms_id: String = r.get(1)?;
    let sku: String = r.get(3)?;
    let license_status = r.get::<_, i64>(6)?.clamp(0, i64::from(u32::MAX)) as u32;
    let hresult = r.get::<_, i64>(11)? as u32;
    Ok(ClientRow {
        cmid: r.get(0)?,
        product: Guid::parse(&kms_id).ok().and_then(|g| catalog::kms_id(&g)).map_or("Unknown", |k| k.name).to_owned(),
        kms_id,
        application: r.get(2)?,
        sku_name: Guid::parse(&sku).ok().and_then(|g| catalog::sku(&g)).map_or("Unknown", |s| s.name).to_owned(),
        sku,
        workstation: r.get(4)?,
        remote: r.get(5)?,
        license_status,
        license_status_name: license_status_name(license_status).to_owned(),
        protocol: r.get(7)?,
        first_seen: r.get(8)?,
        last_seen: r.get(9)?,
        requests: r.get::<_, i64>(10)?.max(0) as u64,
        last_hresult: format!("0x{hresult:08X}"),
    })
}

/// Per hour for the 48 hours up to `now`, per day (UTC) for the 30 days up
/// to `now`, with empty buckets included so a chart needs no gap logic.
pub fn activity(conn: &Connection, now: i64) -> rusqlite::Result<Activity> {
    let this_hour = now.div_euclid(3600);
    let today = now.div_euclid(86_400);
    let first_day = today - 29;
    let mut hours: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(registry::ACTIVITY_SINCE)?;
    let mut rows = stmt.query(params![first_day * 24])?;
    while let Some(r) = rows.next()? {
        let (h, ok, failed): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        hours.insert(h, (ok.max(0) as u64, failed.max(0) as u64));
    }
    let hourly = (this_hour - 47..=this_hour)
        .map(|h| {
            let (ok, failed) = hours.get(&h).copied().unwrap_or_default();
            ActivityPoint { start: h * 3600, ok, failed }
        })
        .collect();
    let daily = (first_day..=today)
        .map(|d| {
            let (ok, failed) = hours
                .range(d * 24..(d + 1) * 24)
                .fold((0, 0), |(a, b), (_, (ok, failed))| (a + ok, b + failed));
            ActivityPoint { start: d * 86_400, ok, failed }
        })
        .collect();
    Ok(Activity { hourly, daily })
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;
    use crate::kms::Version;
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::open_writer;
    use crate::native::serve::store::writer::{Record, write_batch};

    const NOW: i64 = 1_750_000_000;

    fn win10() -> &'static catalog::KmsId {
        catalog::KMS_IDS.iter().find(|k| k.id == Guid::parse("58e2134f-8e11-4d17-9cb2-91069c151148").unwrap()).unwrap()
    }

    fn rec(cmid: u128, kms: Guid, ws: &str, hr: u32, now: i64) -> Record {
        let app = catalog::application_by_key(catalog::AppKey::Windows).id;
        Record {
            cmid: Guid::from_u128(cmid),
            kms_id: kms,
            application: app,
            sku: catalog::skus_for_kms(&kms).next().map_or(Guid::ZERO, |s| s.id),
            workstation: ws.into(),
            remote: "192.0.2.7".parse().unwrap(),
            license_status: 2,
            protocol: Version::V6,
            now,
            hresult: hr,
        }
    }

    fn db() -> (tempfile::TempDir, Connection) {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let w = win10().id;
        let other = Guid::from_u128(0xABCD);
        let recs = [
            rec(1, w, "DESK-1", 0, NOW),
            rec(2, w, "DESK-2", 0, NOW - 10),
            rec(3, w, "LAB_3", 0xC004_F06C, NOW - 20),
            rec(4, other, "desk-4", 0, NOW - 30),
            rec(5, w, "OLD", 0, NOW - CMID_EXPIRY_SECS - 5),
        ];
        write_batch(&mut c, recs.iter(), None).unwrap();
        (tmp, c)
    }

    #[test]
    fn counts_follow_the_shared_counting_rule() {
        let (_t, c) = db();
        let counts = counts(&c, NOW, CountPolicy::Genuine).unwrap();
        assert_eq!(counts.len(), 2);
        let w = counts.iter().find(|e| e.kms_id == win10().id.to_string()).unwrap();
        assert_eq!(w.name, win10().name);
        assert_eq!(w.genuine, 2, "refused and expired clients do not count");
        assert_eq!(w.clients, 3);
        assert_eq!(w.group_genuine, 3, "the other Windows id counts in the same group");
        assert_eq!(w.threshold, win10().n_policy);
        assert_eq!(w.reported, 3);
        let u = counts.iter().find(|e| e.name == "Unknown").unwrap();
        assert_eq!((u.genuine, u.threshold), (1, 25));
        let s = super::counts(&c, NOW, CountPolicy::Sufficient).unwrap();
        assert_eq!(s[0].reported.max(s[1].reported), 50);
    }

    #[test]
    fn counters_by_licence_status_name() {
        let (_t, c) = db();
        let k = counters(&c).unwrap();
        assert_eq!((k.total, k.failed), (5, 1));
        assert_eq!(k.by_license_status["OOB grace"], 5);
    }

    #[test]
    fn client_pages_filter_sort_and_reject_bad_queries() {
        let (_t, c) = db();
        let all = clients(&c, &ClientQuery::default()).unwrap();
        assert_eq!(all.total, 5);
        assert_eq!(all.clients[0].workstation, "DESK-1", "newest first");
        assert_eq!(all.clients[0].product, win10().name);
        assert_eq!(all.clients[0].license_status_name, "OOB grace");
        let lab = all.clients.iter().find(|r| r.workstation == "LAB_3").unwrap();
        assert_eq!(lab.last_hresult, "0xC004F06C");

        let q = |q: &str| ClientQuery { q: Some(q.into()), ..ClientQuery::default() };
        let desk = clients(&c, &q("desk")).unwrap();
        assert_eq!(desk.total, 3, "case-insensitive substring");
        assert_eq!(clients(&c, &q("_")).unwrap().total, 1, "LIKE wildcards are literal");
        let by_product = clients(&c, &q(&win10().name[..8])).unwrap();
        assert!(by_product.total >= 4);

        let page = ClientQuery {
            sort: Some("workstation".into()),
            order: Some("asc".into()),
            limit: Some(2),
            offset: Some(1),
            ..ClientQuery::default()
        };
        let p = clients(&c, &page).unwrap();
        assert_eq!((p.total, p.clients.len()), (5, 2));
        assert_eq!(p.clients[0].workstation, "DESK-2");
        let by_id = ClientQuery { kms_id: Some(win10().id.to_string().to_uppercase()), ..ClientQuery::default() };
        assert_eq!(clients(&c, &by_id).unwrap().total, 4);

        for bad in [
            ClientQuery { sort: Some("name; DROP TABLE clients".into()), ..ClientQuery::default() },
            ClientQuery { order: Some("sideways".into()), ..ClientQuery::default() },
            ClientQuery { limit: Some(0), ..ClientQuery::default() },
            ClientQuery { limit: Some(1001), ..ClientQuery::default() },
            ClientQuery { kms_id: Some("nope".into()), ..ClientQuery::default() },
        ] {
            assert!(matches!(clients(&c, &bad), Err(QueryError::Bad(_))), "{bad:?}");
        }
    }

    #[test]
    fn activity_has_every_bucket() {
        let (_t, c) = db();
        let a = activity(&c, NOW).unwrap();
        assert_eq!(a.hourly.len(), 48);
        assert_eq!(a.daily.len(), 30);
        let last = a.hourly.last().unwrap();
        assert_eq!(last.start, NOW / 3600 * 3600);
        let hourly: u64 = a.hourly.iter().map(|p| p.ok + p.failed).sum();
        assert_eq!(hourly, 4, "the 30-day-old request is outside 48 h");
        let daily_failed: u64 = a.daily.iter().map(|p| p.failed).sum();
        assert_eq!(daily_failed, 1);
    }
}
