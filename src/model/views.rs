//! The `/api/*` answers (status, counts with thresholds, the clients
//! listing with its validation, sort and search, activity), computed once
//! for both hosts from the registry through [`Sql`]: the same statements,
//! the same rules, the same JSON (`crate::api`).
use super::sql::{Sql, Value};
use crate::Guid;
use crate::api::{Activity, ActivityPoint, ClientPage, ClientQuery, ClientRow, CountEntry, Counters};
use crate::catalog::{self, AppKey};
use crate::host::policy::{CountPolicy, reported_count};
use crate::kms::request::license_status_name;
use crate::registry::{self, CMID_EXPIRY_SECS};
use std::borrow::ToOwned;
use std::collections::{BTreeMap, HashMap};
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

/// A query the caller got wrong (HTTP 400), or a store failure (500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewError {
    Bad(String),
    Store(String),
}

impl core::fmt::Display for ViewError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ViewError::Bad(m) => f.write_str(m),
            ViewError::Store(e) => write!(f, "registry read failed: {e}"),
        }
    }
}

fn store<E: core::fmt::Display>(e: E) -> ViewError {
    ViewError::Store(e.to_string())
}

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;

/// Request counters in the `slmgr /dlv` layout.
pub fn counters<S: Sql>(sql: &S) -> Result<Counters, ViewError> {
    let mut c = Counters::default();
    for r in sql.query(registry::ALL_COUNTERS, &[]).map_err(store)? {
        let (name, value) = (r[0].text(), r[1].count());
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
/// else 25 for Windows or an unknown application (client editions need the
/// most), 5 for Office.
pub fn threshold(kms_id: &Guid, application: &Guid) -> u32 {
    match catalog::kms_id(kms_id) {
        Some(k) => k.n_policy,
        None if catalog::application(application).is_none_or(|a| a.key == AppKey::Windows) => 25,
        None => 5,
    }
}

/// One entry per KMS counted id seen in the 30 days before `now`.
pub fn counts<S: Sql>(sql: &S, now: i64, policy: CountPolicy) -> Result<Vec<CountEntry>, ViewError> {
    let since = now - CMID_EXPIRY_SECS;
    let groups: HashMap<String, u64> = sql
        .query(registry::COUNTS_BY_APPLICATION, &[since.into()])
        .map_err(store)?
        .iter()
        .map(|r| (r[0].text(), r[1].count()))
        .collect();
    let rows = sql.query(registry::COUNTS_BY_KMS_ID, &[since.into()]).map_err(store)?;
    Ok(rows
        .iter()
        .map(|r| {
            let (kms_text, app_text) = (r[0].text(), r[1].text());
            let kms = Guid::parse(&kms_text).unwrap_or_default();
            let app = Guid::parse(&app_text).unwrap_or_default();
            let group_genuine = groups.get(&app_text).copied().unwrap_or(0);
            let threshold = threshold(&kms, &app);
            CountEntry {
                name: catalog::kms_id(&kms).map_or("Unknown", |k| k.name).to_owned(),
                kms_id: kms_text,
                application: app_text,
                genuine: r[2].count(),
                clients: r[3].count(),
                group_genuine,
                threshold,
                reported: reported_count(policy, threshold, &app, u32::try_from(group_genuine).unwrap_or(u32::MAX)),
            }
        })
        .collect())
}

/// `sort=` value → the stored column it sorts by: every column of a
/// client row, by its stored name or by the name it has in [`ClientRow`].
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

/// A page of `/api/clients`. `q` matches, case-insensitively and
/// literally, the workstation, CMID or remote, or the catalogue name of the
/// row's product or SKU.
pub fn clients<S: Sql>(sql: &S, q: &ClientQuery) -> Result<ClientPage, ViewError> {
    let bad = |m: String| Err(ViewError::Bad(m));
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return bad(format!("limit must be 1 to {MAX_LIMIT}, got {limit}"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset > i64::MAX as u64 {
        return bad(format!("offset {offset} is too large"));
    }
    let sort = q.sort.as_deref().unwrap_or("last_seen");
    let Some(column) = sort_column(&sort.to_ascii_lowercase()) else {
        return bad(format!("cannot sort by {sort:?}; use a column of the client rows, e.g. last_seen, workstation, product"));
    };
    let order = match q.order.as_deref().unwrap_or("desc") {
        o if o.eq_ignore_ascii_case("desc") => "DESC",
        o if o.eq_ignore_ascii_case("asc") => "ASC",
        o => return bad(format!("order must be asc or desc, got {o:?}")),
    };

    let mut cond: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(id) = q.kms_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let Ok(g) = Guid::parse(id) else { return bad(format!("kms_id {id:?} is not a GUID")) };
        args.push(g.into());
        cond.push(format!("kms_id = ?{}", args.len()));
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let needle = text.to_lowercase();
        args.push(Value::Text(needle.clone()));
        let p = args.len();
        let mut any = format!("instr(lower(workstation), ?{p}) > 0 OR instr(lower(cmid), ?{p}) > 0 OR instr(lower(remote), ?{p}) > 0");
        // Product names live in the catalogue, not in the table: match them
        // here and look the rows up by id (formatted GUIDs are safe literals).
        let hit = |name: &str| name.to_lowercase().contains(&needle);
        let kms: Vec<String> = catalog::KMS_IDS.iter().filter(|k| hit(k.name)).map(|k| format!("'{}'", k.id)).collect();
        let skus: Vec<String> = catalog::SKUS.iter().filter(|s| hit(s.name)).map(|s| format!("'{}'", s.id)).collect();
        if !kms.is_empty() {
            any.push_str(&format!(" OR kms_id IN ({})", kms.join(",")));
        }
        if !skus.is_empty() {
            any.push_str(&format!(" OR sku IN ({})", skus.join(",")));
        }
        cond.push(format!("({any})"));
    }
    let filter = if cond.is_empty() { String::new() } else { format!("WHERE {}", cond.join(" AND ")) };

    let order = format!("{column} {order}, cmid, kms_id");
    let (total, rows) = page(sql, "clients", registry::CLIENT_COLUMNS, &filter, &order, args, limit, offset)?;
    let clients = rows.iter().map(|r| client_row(r)).collect();
    Ok(ClientPage { total, offset, limit, clients })
}

/// One page of `table`: the count of rows matching `filter` (a `WHERE`
/// clause over `args`, or empty) and the rows in `order`, `limit` from
/// `offset` — what every paged `/api` view asks its store.
#[allow(clippy::too_many_arguments)]
pub(super) fn page<S: Sql>(
    sql: &S,
    table: &str,
    columns: &str,
    filter: &str,
    order: &str,
    mut args: Vec<Value>,
    limit: u64,
    offset: u64,
) -> Result<(u64, Vec<Vec<Value>>), ViewError> {
    let total = sql.scalar(&format!("SELECT COUNT(*) FROM {table} {filter}"), &args).map_err(store)?.map_or(0, |v| v.count());
    let n = args.len();
    let query = format!("SELECT {columns} FROM {table} {filter} ORDER BY {order} LIMIT ?{} OFFSET ?{}", n + 1, n + 2);
    args.push(Value::Int(limit as i64));
    args.push(Value::Int(offset as i64));
    Ok((total, sql.query(&query, &args).map_err(store)?))
}

/// A row in [`registry::CLIENT_COLUMNS`] order, with catalogue names.
fn client_row(r: &[Value]) -> ClientRow {
    let kms_id = r[1].text();
    let sku = r[3].text();
    let license_status = r[6].int().clamp(0, i64::from(u32::MAX)) as u32;
    ClientRow {
        cmid: r[0].text(),
        product: Guid::parse(&kms_id).ok().and_then(|g| catalog::kms_id(&g)).map_or("Unknown", |k| k.name).to_owned(),
        kms_id,
        application: r[2].text(),
        sku_name: Guid::parse(&sku).ok().and_then(|g| catalog::sku(&g)).map_or("Unknown", |s| s.name).to_owned(),
        sku,
        workstation: r[4].text(),
        remote: r[5].text(),
        license_status,
        license_status_name: license_status_name(license_status).to_owned(),
        protocol: r[7].text(),
        first_seen: r[8].int(),
        last_seen: r[9].int(),
        requests: r[10].count(),
        last_hresult: format!("0x{:08X}", r[11].int() as u32),
    }
}

/// Per hour for the 48 hours up to `now`, per day (UTC) for the 30 days up
/// to `now`, oldest first, empty buckets included so a chart needs no gap
/// logic.
pub fn activity<S: Sql>(sql: &S, now: i64) -> Result<Activity, ViewError> {
    let this_hour = now.div_euclid(3600);
    let today = now.div_euclid(86_400);
    let first_day = today - 29;
    let mut hours: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for r in sql.query(registry::ACTIVITY_SINCE, &[(first_day * 24).into()]).map_err(store)? {
        hours.insert(r[0].int(), (r[1].count(), r[2].count()));
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

/// What only the runtime knows for `/api/status`.
#[derive(Debug, Clone)]
pub struct RuntimeInfo {
    /// "native" or "edge".
    pub name: &'static str,
    /// Unix seconds.
    pub started_at: i64,
    /// Where KMS is served: socket addresses natively, entry paths at the edge.
    pub listen: Vec<String>,
    pub dns: Option<crate::api::DnsInfo>,
    pub ndr64: bool,
}

/// `/api/status`.
pub fn status<S: Sql>(sql: &S, model: &super::HostModel, rt: RuntimeInfo, now: i64) -> Result<crate::api::Status, ViewError> {
    Ok(crate::api::Status {
        runtime: rt.name.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: rt.started_at,
        uptime_secs: (now - rt.started_at).max(0),
        listen: rt.listen,
        identity: model.identity().view(),
        policy: model.policy_settings().info(rt.ndr64),
        counters: counters(sql)?,
        counts: counts(sql, now, model.policy_settings().count)?,
        dns: rt.dns,
    })
}

/// The views over a real SQLite (rusqlite, the native store), with rows
/// written by the shared record.
#[cfg(all(test, feature = "native"))]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;
    use crate::api::ClientQuery;
    use crate::host::policy::CountPolicy;
    use crate::kms::Version;
    use crate::model::record::ClientRecord;
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::open_writer;
    use rusqlite::Connection;

    const NOW: i64 = 1_750_000_000;

    fn win10() -> &'static catalog::KmsId {
        catalog::KMS_IDS.iter().find(|k| k.id == Guid::parse("58e2134f-8e11-4d17-9cb2-91069c151148").unwrap()).unwrap()
    }

    fn rec(cmid: u128, kms: Guid, ws: &str, hr: u32, now: i64) -> ClientRecord {
        let app = catalog::application_by_key(catalog::AppKey::Windows).id;
        ClientRecord {
            cmid: Guid::from_u128(cmid),
            kms_id: kms,
            application: app,
            sku: catalog::skus_for_kms(&kms).next().map_or(Guid::ZERO, |s| s.id),
            workstation: ws.into(),
            remote: "192.0.2.7".into(),
            license_status: 2,
            protocol: Version::V6,
            now,
            hresult: hr,
        }
    }

    fn db() -> (tempfile::TempDir, Connection) {
        let tmp = tempfile::tempdir().unwrap();
        let c = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let w = win10().id;
        let other = Guid::from_u128(0xABCD);
        let recs = [
            rec(1, w, "DESK-1", 0, NOW),
            rec(2, w, "DESK-2", 0, NOW - 10),
            rec(3, w, "LAB_3", 0xC004_F06C, NOW - 20),
            rec(4, other, "desk-4", 0, NOW - 30),
            rec(5, w, "OLD", 0, NOW - CMID_EXPIRY_SECS - 5),
        ];
        for r in &recs {
            r.store(&c).unwrap();
        }
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
            assert!(matches!(clients(&c, &bad), Err(ViewError::Bad(_))), "{bad:?}");
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
