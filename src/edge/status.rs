//! `/api/status`, `/api/clients` and `/api/activity` from the registry's
//! tables, in the shapes of `crate::api` so the dashboard reads the edge
//! exactly as it reads a native host. Runs inside the Durable Object.
use super::config::EdgeConfig;
use super::registry::{Identity, int, rows, scalar, text};
use crate::api::{
    Activity, ActivityPoint, ClientPage, ClientQuery, ClientRow, CountEntry, Counters, Identity as ApiIdentity,
    SlotEpid, Status,
};
use crate::catalog::{self, AppKey, EPID_SLOTS};
use crate::epid;
use crate::host::policy::reported_count;
use crate::kms::request::license_status_name;
use crate::registry::{self as sqlreg, counters};
use crate::Guid;
use std::collections::{BTreeMap, HashMap};
use worker::{Result, SqlStorage};

/// Entry paths, for `Status::listen`.
pub const LISTEN: [&str; 2] = ["tcp: connect() handler", "wss: tunnel (WebSocket upgrade on any path but /api/)"];

/// N policy of a counted id's clients: from the catalogue, else 25 for
/// Windows (client editions need the most) and 5 for Office.
fn threshold(kms_id: &Guid, application: &Guid) -> u32 {
    match catalog::kms_id(kms_id) {
        Some(k) => k.n_policy,
        None if *application == AppKey::Windows.application().id => 25,
        None => 5,
    }
}

pub fn status(sql: &SqlStorage, config: &EdgeConfig, id: &Identity, started_at: i64, now: i64) -> Result<Status> {
    let mut c = Counters::default();
    for r in rows(sql, sqlreg::ALL_COUNTERS, vec![])? {
        let (name, value) = (text(&r[0]), int(&r[1]).max(0) as u64);
        if name == counters::TOTAL {
            c.total = value;
        } else if name == counters::FAILED {
            c.failed = value;
        } else if let Some(n) = name.strip_prefix(counters::LICENSE_STATUS_PREFIX) {
            let label = n.parse().map(license_status_name).unwrap_or("Unknown");
            *c.by_license_status.entry(label.to_owned()).or_default() += value;
        }
    }
    let since = now - sqlreg::CMID_EXPIRY_SECS;
    let groups: HashMap<String, u64> = rows(sql, sqlreg::COUNTS_BY_APPLICATION, vec![since.into()])?
        .iter()
        .map(|r| (text(&r[0]), int(&r[1]).max(0) as u64))
        .collect();
    let policy = config.policy();
    let counts = rows(sql, sqlreg::COUNTS_BY_KMS_ID, vec![since.into()])?
        .iter()
        .map(|r| {
            let (kms, app) = (text(&r[0]), text(&r[1]));
            let kms_guid = Guid::parse(&kms).unwrap_or(Guid::ZERO);
            let app_guid = Guid::parse(&app).unwrap_or(Guid::ZERO);
            let group_genuine = groups.get(&app).copied().unwrap_or(0);
            let threshold = threshold(&kms_guid, &app_guid);
            CountEntry {
                name: catalog::kms_id(&kms_guid).map(|k| k.name).unwrap_or("Unknown").to_owned(),
                kms_id: kms,
                application: app,
                genuine: int(&r[2]).max(0) as u64,
                clients: int(&r[3]).max(0) as u64,
                group_genuine,
                threshold,
                reported: reported_count(policy.count, threshold, u32::try_from(group_genuine).unwrap_or(u32::MAX)),
            }
        })
        .collect();
    Ok(Status {
        runtime: "edge".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        uptime_secs: (now - started_at).max(0),
        listen: LISTEN.iter().map(|s| (*s).to_owned()).collect(),
        identity: ApiIdentity {
            epids: EPID_SLOTS
                .iter()
                .zip(&id.epids)
                .map(|(s, e)| SlotEpid {
                    slot: s.name.to_owned(),
                    csvlk_name: s.csvlk_name.to_owned(),
                    epid: e.as_str().to_owned(),
                })
                .collect(),
            hwid: epid::format_hwid(&id.hwid).to_string(),
            host_build: id.host_build,
            lcid: id.lcid,
        },
        policy: config.policy_info(),
        counters: c,
        counts,
        dns: None,
    })
}

/// `ClientRow` field (or column) → SQL column it sorts by.
fn sort_column(name: &str) -> Option<&'static str> {
    Some(match name {
        "last_seen" => "last_seen",
        "first_seen" => "first_seen",
        "workstation" => "workstation",
        "cmid" => "cmid",
        "kms_id" | "product" => "kms_id",
        "application" => "application",
        "sku" | "sku_name" => "sku",
        "remote" => "remote",
        "license_status" | "license_status_name" => "license_status",
        "protocol" => "protocol",
        "requests" => "requests",
        "last_hresult" => "last_hresult",
        _ => return None,
    })
}

/// Catalogue ids whose names contain `q` (lower case), as a SQL list of
/// literals. Safe to inline: a formatted GUID is hex digits and hyphens.
fn id_list<'a>(ids: impl Iterator<Item = &'a Guid>) -> String {
    let list: Vec<String> = ids.map(|g| format!("'{g}'")).collect();
    if list.is_empty() { "''".to_owned() } else { list.join(",") }
}

/// One page of clients, or a message for a 400 answer.
pub fn clients(sql: &SqlStorage, q: &ClientQuery) -> Result<core::result::Result<ClientPage, String>> {
    let column = match sort_column(q.sort.as_deref().unwrap_or("last_seen")) {
        Some(c) => c,
        None => return Ok(Err(format!("sort: unknown column {:?}", q.sort.as_deref().unwrap_or("")))),
    };
    let dir = match q.order.as_deref().unwrap_or("desc") {
        "asc" => "ASC",
        "desc" => "DESC",
        other => return Ok(Err(format!("order: {other:?} is neither asc nor desc"))),
    };
    let kms = match q.kms_id.as_deref().filter(|s| !s.is_empty()) {
        None => String::new(),
        Some(s) => match Guid::parse(s.trim()) {
            Ok(g) => g.to_string(),
            Err(_) => return Ok(Err(format!("kms_id: {s:?} is not a GUID"))),
        },
    };
    let needle = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let offset = q.offset.unwrap_or(0).min(i64::MAX as u64);
    let (skus, kms_ids) = if needle.is_empty() {
        (String::from("''"), String::from("''"))
    } else {
        let hit = |s: &str| s.to_lowercase().contains(&needle);
        (
            id_list(catalog::SKUS.iter().filter(|s| hit(s.name) || hit(s.family) || hit(s.edition)).map(|s| &s.id)),
            id_list(catalog::KMS_IDS.iter().filter(|k| hit(k.name)).map(|k| &k.id)),
        )
    };
    let filter = format!(
        "(?1 = '' OR kms_id = ?1) AND (?2 = '' OR instr(lower(workstation), ?2) > 0 OR instr(lower(cmid), ?2) > 0 \
         OR instr(lower(remote), ?2) > 0 OR sku IN ({skus}) OR kms_id IN ({kms_ids}))"
    );
    let total = scalar(
        sql,
        &format!("SELECT COUNT(*) FROM clients WHERE {filter}"),
        vec![kms.clone().into(), needle.clone().into()],
    )?;
    let query = format!(
        "SELECT {} FROM clients WHERE {filter} ORDER BY {column} {dir}, cmid, kms_id LIMIT ?3 OFFSET ?4",
        sqlreg::CLIENT_COLUMNS
    );
    let rows = rows(sql, &query, vec![kms.into(), needle.into(), (limit as i64).into(), (offset as i64).into()])?;
    let clients = rows
        .iter()
        .map(|r| {
            let kms_id = text(&r[1]);
            let sku = text(&r[3]);
            let status = int(&r[6]).clamp(0, u32::MAX as i64) as u32;
            ClientRow {
                cmid: text(&r[0]),
                product: Guid::parse(&kms_id).ok().and_then(|g| catalog::kms_id(&g)).map(|k| k.name).unwrap_or("Unknown").to_owned(),
                sku_name: Guid::parse(&sku).ok().and_then(|g| catalog::sku(&g)).map(|s| s.name).unwrap_or("Unknown").to_owned(),
                kms_id,
                application: text(&r[2]),
                sku,
                workstation: text(&r[4]),
                remote: text(&r[5]),
                license_status: status,
                license_status_name: license_status_name(status).to_owned(),
                protocol: text(&r[7]),
                first_seen: int(&r[8]),
                last_seen: int(&r[9]),
                requests: int(&r[10]).max(0) as u64,
                last_hresult: format!("0x{:08X}", int(&r[11]) as u32),
            }
        })
        .collect();
    Ok(Ok(ClientPage { total: total.max(0) as u64, offset, limit, clients }))
}

/// Hourly buckets for the last 48 hours and daily ones for the last 30
/// days, oldest first, empty buckets included so a chart needs no gaps logic.
pub fn activity(sql: &SqlStorage, now: i64) -> Result<Activity> {
    let hour_now = now.div_euclid(3600);
    let day_now = now.div_euclid(86_400);
    let first_day = day_now - 29;
    let mut hours: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for r in rows(sql, sqlreg::ACTIVITY_SINCE, vec![(first_day * 24).into()])? {
        hours.insert(int(&r[0]), (int(&r[1]).max(0) as u64, int(&r[2]).max(0) as u64));
    }
    let hourly = (hour_now - 47..=hour_now)
        .map(|h| {
            let (ok, failed) = hours.get(&h).copied().unwrap_or_default();
            ActivityPoint { start: h * 3600, ok, failed }
        })
        .collect();
    let daily = (first_day..=day_now)
        .map(|d| {
            let (ok, failed) = hours
                .range(d * 24..(d + 1) * 24)
                .fold((0, 0), |(o, f), (_, (a, b))| (o + a, f + b));
            ActivityPoint { start: d * 86_400, ok, failed }
        })
        .collect();
    Ok(Activity { hourly, daily })
}
