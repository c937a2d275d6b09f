//! The event history: what a genuine KMS host writes to its event log — one
//! event 12290 per request (client name, CMID, time, result) and one per
//! DNS publishing attempt (12293 failed, 12294 succeeded) — kept as rows of
//! the registry's `events` table, written once here for both hosts, and
//! the `/api/events` view (JSON page and CSV) over them.
//!
//! Sources: Microsoft, "Volume Activation Technical Reference" /
//! "Troubleshooting KMS" (event 12290 in the host's Key Management Service
//! log, 12293 and 12294 for SRV publishing).
//!
//! The history is append-only and bounded: [`Retention`] says when a host
//! deletes rows older than its setting (by the time index, at most once a
//! minute, inside the transaction that writes new ones), so no activation
//! ever pays for a scan.
use super::record::ClientRecord;
use super::sql::{Sql, Value};
use super::views::ViewError;
use super::Answer;
use crate::host::Decision;
use crate::api::{EventPage, EventQuery, EventRow};
use crate::catalog;
use crate::kms::Version;
use crate::registry;
use crate::Guid;
use std::borrow::ToOwned;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

/// A request was processed (granted or refused).
pub const REQUEST: u32 = 12290;
/// The host could not publish its SRV record.
pub const DNS_FAILED: u32 = 12293;
/// The host published its SRV record.
pub const DNS_PUBLISHED: u32 = 12294;

/// An administrator changed a setting of the running host
/// ([`super::admin`]). kmsedge's own id, outside the range of the Key
/// Management Service log's ids (12288–12294), so it is never taken for
/// one of a genuine host's events.
pub const SETTING_CHANGED: u32 = 1000;

/// Days of history kept unless configured.
pub const DEFAULT_DAYS: u32 = 30;
/// Expired events are deleted at most this often.
pub const PRUNE_EVERY_SECS: i64 = 60;

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;
/// The most rows one CSV export holds.
pub const MAX_CSV_ROWS: u64 = 100_000;

/// One request as its event records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEvent {
    /// Unix seconds.
    pub time: i64,
    pub remote: String,
    pub workstation: String,
    pub cmid: Guid,
    pub kms_id: Guid,
    pub sku: Guid,
    pub protocol: Version,
    pub hresult: u32,
    /// The count the answer reported; `None` when refused (or, natively,
    /// for a request journaled by a version that did not record it).
    pub reported: Option<u32>,
}

impl RequestEvent {
    /// Appends the event; run it in the transaction that stores the
    /// request's client row.
    pub fn store<S: Sql>(&self, sql: &S) -> Result<(), S::Error> {
        let protocol = format!("{}.{}", self.protocol.major, self.protocol.minor);
        sql.execute(
            registry::INSERT_EVENT,
            &[
                self.time.into(),
                i64::from(REQUEST).into(),
                i64::from(self.hresult).into(),
                self.remote.as_str().into(),
                self.workstation.as_str().into(),
                self.cmid.into(),
                self.kms_id.into(),
                self.sku.into(),
                protocol.into(),
                self.reported.map_or(Value::Null, |n| Value::Int(n.into())),
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        )
    }
}

/// The count a decision reports: `None` for a refusal.
pub fn reported(d: &Decision) -> Option<u32> {
    match d {
        Decision::Grant(g) => Some(g.current_count),
        Decision::Refuse(_) => None,
    }
}

/// The event of a request a host stores as a [`ClientRecord`] (the edge),
/// answered with `answer`.
pub fn request_event(r: &ClientRecord, answer: &Answer) -> RequestEvent {
    RequestEvent {
        time: r.now,
        remote: r.remote.clone(),
        workstation: r.workstation.clone(),
        cmid: r.cmid,
        kms_id: r.kms_id,
        sku: r.sku,
        protocol: r.protocol,
        hresult: r.hresult,
        reported: reported(&answer.decision),
    }
}

/// Appends a request's event, deleting the expired ones first when
/// [`Retention::due`] said so; run it in the request's transaction.
pub fn record<S: Sql>(sql: &S, event: &RequestEvent, prune_before: Option<i64>) -> Result<(), S::Error> {
    if let Some(cutoff) = prune_before {
        prune(sql, cutoff)?;
    }
    event.store(sql)
}

/// One attempt to publish the host's SRV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsEvent {
    /// Unix seconds.
    pub time: i64,
    /// The record, as zone-file text.
    pub name: String,
    pub server: String,
    /// 0 when published, else the failure's HRESULT.
    pub hresult: u32,
    /// "published", or why not.
    pub message: String,
}

impl DnsEvent {
    pub fn store<S: Sql>(&self, sql: &S) -> Result<(), S::Error> {
        let id = if self.hresult == 0 { DNS_PUBLISHED } else { DNS_FAILED };
        sql.execute(
            registry::INSERT_EVENT,
            &[
                self.time.into(),
                i64::from(id).into(),
                i64::from(self.hresult).into(),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                self.name.as_str().into(),
                self.server.as_str().into(),
                self.message.as_str().into(),
            ],
        )
    }
}

/// A setting changed on the running host: `name` is the setting, `message`
/// what it became (a host key by its last five characters only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingEvent {
    /// Unix seconds.
    pub time: i64,
    pub name: String,
    pub message: String,
}

impl SettingEvent {
    pub fn store<S: Sql>(&self, sql: &S) -> Result<(), S::Error> {
        let mut row = std::vec![Value::Null; 13];
        row[0] = self.time.into();
        row[1] = i64::from(SETTING_CHANGED).into();
        row[2] = 0i64.into();
        row[10] = self.name.as_str().into();
        row[12] = self.message.as_str().into();
        sql.execute(registry::INSERT_EVENT, &row)
    }
}

/// How long events are kept, and when the writer next deletes the expired
/// ones. Each host keeps one next to its writer (the native registry
/// thread, the edge's Durable Object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    keep_secs: i64,
    next: i64,
}

impl Retention {
    pub fn days(days: u32) -> Retention {
        Retention { keep_secs: i64::from(days) * 86_400, next: i64::MIN }
    }

    /// At `now`, the cutoff to delete before, if a minute has passed since
    /// the last deletion (the first call always prunes). After the wall
    /// clock steps back this waits for it to catch up, which loses nothing:
    /// until then the cutoff is below the last one used.
    pub fn due(&mut self, now: i64) -> Option<i64> {
        if now < self.next {
            return None;
        }
        self.next = now + PRUNE_EVERY_SECS;
        Some(now - self.keep_secs)
    }
}

/// Deletes the events before `cutoff`.
pub fn prune<S: Sql>(sql: &S, cutoff: i64) -> Result<(), S::Error> {
    sql.execute(registry::PRUNE_EVENTS, &[cutoff.into()])
}

/// The WHERE clause of a query and its parameters, validated.
struct Filter {
    clause: String,
    args: Vec<Value>,
}

fn bad<T>(m: String) -> Result<T, ViewError> {
    Err(ViewError::Bad(m))
}

fn some_text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `ok`, `error`, or one HRESULT in hex (`0xC004F042`) or decimal.
fn result_filter(text: &str) -> Result<(&'static str, Option<i64>), ViewError> {
    let t = text.to_ascii_lowercase();
    match t.as_str() {
        "ok" => return Ok(("hresult = 0", None)),
        "error" => return Ok(("hresult <> 0", None)),
        _ => {}
    }
    let n = match t.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => t.parse::<u32>().ok(),
    };
    match n {
        Some(n) => Ok(("hresult = ?", Some(i64::from(n)))),
        None => bad(format!("result must be ok, error or an HRESULT such as 0xC004F042, got {text:?}")),
    }
}

fn filter(q: &EventQuery) -> Result<Filter, ViewError> {
    let mut cond: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let param = |args: &mut Vec<Value>, v: Value| {
        args.push(v);
        format!("?{}", args.len())
    };
    if let (Some(s), Some(u)) = (q.since, q.until)
        && s > u
    {
        return bad(format!("since ({s}) is after until ({u})"));
    }
    if let Some(s) = q.since {
        let p = param(&mut args, s.into());
        cond.push(format!("time >= {p}"));
    }
    if let Some(u) = q.until {
        let p = param(&mut args, u.into());
        cond.push(format!("time < {p}"));
    }
    if let Some(kind) = some_text(&q.kind) {
        cond.push(match kind.to_ascii_lowercase().as_str() {
            "request" => format!("event_id = {REQUEST}"),
            "dns" => format!("event_id IN ({DNS_FAILED}, {DNS_PUBLISHED})"),
            "setting" => format!("event_id = {SETTING_CHANGED}"),
            _ => return bad(format!("kind must be request, dns or setting, got {kind:?}")),
        });
    }
    if let Some(r) = some_text(&q.result) {
        match result_filter(r)? {
            (c, None) => cond.push(c.to_owned()),
            (_, Some(n)) => {
                let p = param(&mut args, n.into());
                cond.push(format!("hresult = {p}"));
            }
        }
    }
    if let Some(c) = some_text(&q.cmid) {
        let Ok(g) = Guid::parse(c) else { return bad(format!("cmid {c:?} is not a GUID")) };
        let p = param(&mut args, g.into());
        cond.push(format!("cmid = {p}"));
    }
    if let Some(w) = some_text(&q.workstation) {
        let p = param(&mut args, w.to_lowercase().into());
        cond.push(format!("instr(lower(workstation), {p}) > 0"));
    }
    if let Some(text) = some_text(&q.product) {
        if let Ok(g) = Guid::parse(text) {
            let p = param(&mut args, g.into());
            cond.push(format!("(kms_id = {p} OR sku = {p})"));
        } else {
            // Names live in the catalogue, not in the table: match them here
            // and select the rows by id (formatted GUIDs are safe literals).
            let needle = text.to_lowercase();
            let hit = |name: &str| name.to_lowercase().contains(&needle);
            let kms: Vec<String> = catalog::KMS_IDS.iter().filter(|k| hit(k.name)).map(|k| format!("'{}'", k.id)).collect();
            let skus: Vec<String> = catalog::SKUS.iter().filter(|s| hit(s.name)).map(|s| format!("'{}'", s.id)).collect();
            cond.push(format!("(kms_id IN ({}) OR sku IN ({}))", kms.join(","), skus.join(",")));
        }
    }
    let clause = if cond.is_empty() { String::new() } else { format!("WHERE {}", cond.join(" AND ")) };
    Ok(Filter { clause, args })
}

/// The matching rows, newest first, and how many match in all.
fn select<S: Sql>(sql: &S, q: &EventQuery, default_limit: u64, max_limit: u64) -> Result<(u64, u64, u64, Vec<EventRow>), ViewError> {
    let limit = q.limit.unwrap_or(default_limit);
    if !(1..=max_limit).contains(&limit) {
        return bad(format!("limit must be 1 to {max_limit}, got {limit}"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset > i64::MAX as u64 {
        return bad(format!("offset {offset} is too large"));
    }
    let Filter { clause, args } = filter(q)?;
    let (total, rows) = super::views::page(sql, "events", registry::EVENT_COLUMNS, &clause, "time DESC, id DESC", args, limit, offset)?;
    Ok((total, offset, limit, rows.iter().map(|r| event_row(r)).collect()))
}

/// A page of `/api/events`, newest first.
pub fn events<S: Sql>(sql: &S, q: &EventQuery) -> Result<EventPage, ViewError> {
    let (total, offset, limit, events) = select(sql, q, DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(EventPage { total, offset, limit, events })
}

fn opt_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        v => Some(v.text()),
    }
}

/// A row in [`registry::EVENT_COLUMNS`] order, with catalogue names.
fn event_row(r: &[Value]) -> EventRow {
    let event_id = r[1].int().clamp(0, i64::from(u32::MAX)) as u32;
    let kms_id = opt_text(&r[6]);
    let sku = opt_text(&r[7]);
    let kms_name = |id: &str| Guid::parse(id).ok().and_then(|g| catalog::kms_id(&g)).map_or("Unknown", |k| k.name).to_owned();
    let sku_name = |id: &str| Guid::parse(id).ok().and_then(|g| catalog::sku(&g)).map_or("Unknown", |s| s.name).to_owned();
    EventRow {
        time: r[0].int(),
        kind: match event_id {
            REQUEST => "request",
            SETTING_CHANGED => "setting",
            _ => "dns",
        }
        .to_owned(),
        event_id,
        result: format!("0x{:08X}", r[2].int() as u32),
        remote: opt_text(&r[3]),
        workstation: opt_text(&r[4]),
        cmid: opt_text(&r[5]),
        product: kms_id.as_deref().map(kms_name),
        kms_id,
        sku_name: sku.as_deref().map(sku_name),
        sku,
        protocol: opt_text(&r[8]),
        reported: match &r[9] {
            Value::Null => None,
            v => u32::try_from(v.int()).ok(),
        },
        name: opt_text(&r[10]),
        server: opt_text(&r[11]),
        message: opt_text(&r[12]),
    }
}

/// Headers of the CSV answer: RFC 4180's media type, and a file name.
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8; header=present";
pub const CSV_DISPOSITION: &str = "attachment; filename=\"kmsedge-events.csv\"";

/// The CSV columns, in order.
pub const CSV_HEADER: [&str; 17] = [
    "time",
    "time_utc",
    "kind",
    "event_id",
    "result",
    "remote",
    "workstation",
    "cmid",
    "kms_id",
    "product",
    "sku",
    "sku_name",
    "protocol",
    "reported",
    "name",
    "server",
    "message",
];

/// `/api/events.csv`: the same filtered query (newest first, up to
/// [`MAX_CSV_ROWS`]), as RFC 4180 CSV with a header line.
pub fn events_csv<S: Sql>(sql: &S, q: &EventQuery) -> Result<String, ViewError> {
    let (_, _, _, rows) = select(sql, q, MAX_CSV_ROWS, MAX_CSV_ROWS)?;
    let mut out = String::new();
    csv_line(&mut out, CSV_HEADER.iter().copied());
    for e in &rows {
        let utc = crate::time::FileTime::from_unix(e.time).to_string();
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let fields: [String; 17] = [
            e.time.to_string(),
            utc,
            e.kind.clone(),
            e.event_id.to_string(),
            e.result.clone(),
            o(&e.remote),
            o(&e.workstation),
            o(&e.cmid),
            o(&e.kms_id),
            o(&e.product),
            o(&e.sku),
            o(&e.sku_name),
            o(&e.protocol),
            e.reported.map(|n| n.to_string()).unwrap_or_default(),
            o(&e.name),
            o(&e.server),
            o(&e.message),
        ];
        csv_line(&mut out, fields.iter().map(String::as_str));
    }
    Ok(out)
}

/// One CSV record (RFC 4180): a field holding a comma, a double quote, CR
/// or LF is quoted, its quotes doubled; lines end with CRLF.
fn csv_line<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push_str("\r\n");
}

/// The view over a real SQLite (rusqlite, the native store), with rows
/// written by the shared event writers.
#[cfg(all(test, feature = "native"))]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::open_writer;
    use rusqlite::Connection;

    const NOW: i64 = 1_750_000_000;

    fn sku(name: &str) -> &'static catalog::Sku {
        catalog::SKUS.iter().find(|s| s.name == name).unwrap()
    }

    fn req(i: u128, product: &str, ws: &str, hr: u32, time: i64) -> RequestEvent {
        let s = sku(product);
        RequestEvent {
            time,
            remote: "192.0.2.7".into(),
            workstation: ws.into(),
            cmid: Guid::from_u128(i),
            kms_id: s.kms,
            sku: s.id,
            protocol: Version::V6,
            hresult: hr,
            reported: (hr == 0).then_some(50),
        }
    }

    fn db() -> (tempfile::TempDir, Connection) {
        let tmp = tempfile::tempdir().unwrap();
        let c = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let win = "Windows 10/11 Enterprise";
        let office = "Office LTSC Professional Plus 2021";
        req(1, win, "DESK-1", 0, NOW - 50).store(&c).unwrap();
        req(2, win, "DESK-2", 0, NOW - 40).store(&c).unwrap();
        req(3, office, "LAB,\"3\"\nx", 0xC004_F042, NOW - 30).store(&c).unwrap();
        DnsEvent { time: NOW - 20, name: "_vlmcs._tcp.example.org. 86400 IN SRV 0 0 1688 kms.example.org.".into(), server: "192.0.2.53:53".into(), hresult: 0x8007_232D, message: "refused".into() }
            .store(&c)
            .unwrap();
        DnsEvent { time: NOW - 10, name: "_vlmcs._tcp.example.org. 86400 IN SRV 0 0 1688 kms.example.org.".into(), server: "192.0.2.53:53".into(), hresult: 0, message: "published".into() }
            .store(&c)
            .unwrap();
        req(1, win, "DESK-1", 0, NOW).store(&c).unwrap();
        (tmp, c)
    }

    fn q() -> EventQuery {
        EventQuery::default()
    }

    #[test]
    fn pages_are_newest_first_with_catalogue_names() {
        let (_t, c) = db();
        let all = events(&c, &q()).unwrap();
        assert_eq!((all.total, all.offset, all.limit, all.events.len()), (6, 0, DEFAULT_LIMIT, 6));
        let times: Vec<i64> = all.events.iter().map(|e| e.time).collect();
        assert_eq!(times, [NOW, NOW - 10, NOW - 20, NOW - 30, NOW - 40, NOW - 50]);
        let first = &all.events[0];
        assert_eq!((first.kind.as_str(), first.event_id, first.result.as_str()), ("request", REQUEST, "0x00000000"));
        assert_eq!(first.workstation.as_deref(), Some("DESK-1"));
        assert_eq!(first.cmid, Some(Guid::from_u128(1).to_string()));
        assert_eq!(first.product.as_deref(), catalog::kms_id(&sku("Windows 10/11 Enterprise").kms).map(|k| k.name));
        assert_eq!(first.sku_name.as_deref(), Some("Windows 10/11 Enterprise"));
        assert_eq!((first.protocol.as_deref(), first.reported), (Some("6.0"), Some(50)));
        assert_eq!((first.name.as_ref(), first.message.as_ref()), (None, None));
        let dns = &all.events[1];
        assert_eq!((dns.kind.as_str(), dns.event_id, dns.message.as_deref()), ("dns", DNS_PUBLISHED, Some("published")));
        assert_eq!((dns.workstation.as_ref(), dns.reported), (None, None));
        assert_eq!(all.events[2].event_id, DNS_FAILED);
        assert_eq!(all.events[2].result, "0x8007232D");
        assert_eq!(all.events[3].reported, None, "a refusal reports no count");

        let page = events(&c, &EventQuery { limit: Some(2), offset: Some(3), ..q() }).unwrap();
        assert_eq!((page.total, page.events.len()), (6, 2));
        assert_eq!(page.events[0].time, NOW - 30);
    }

    #[test]
    fn filters_combine_and_bad_ones_are_refused() {
        let (_t, c) = db();
        let total = |q: EventQuery| events(&c, &q).unwrap().total;
        assert_eq!(total(EventQuery { kind: Some("dns".into()), ..q() }), 2);
        assert_eq!(total(EventQuery { kind: Some("Request".into()), ..q() }), 4);
        assert_eq!(total(EventQuery { result: Some("ok".into()), ..q() }), 4);
        assert_eq!(total(EventQuery { result: Some("error".into()), ..q() }), 2);
        assert_eq!(total(EventQuery { result: Some("0xc004f042".into()), ..q() }), 1);
        assert_eq!(total(EventQuery { result: Some("0xC004F042".into()), kind: Some("dns".into()), ..q() }), 0);
        assert_eq!(total(EventQuery { since: Some(NOW - 40), until: Some(NOW), ..q() }), 4, "since inclusive, until exclusive");
        assert_eq!(total(EventQuery { cmid: Some(Guid::from_u128(1).to_string().to_uppercase()), ..q() }), 2);
        assert_eq!(total(EventQuery { workstation: Some("desk".into()), ..q() }), 3);
        assert_eq!(total(EventQuery { workstation: Some("%".into()), ..q() }), 0, "no LIKE wildcards");
        let office = sku("Office LTSC Professional Plus 2021");
        assert_eq!(total(EventQuery { product: Some(office.kms.to_string()), ..q() }), 1);
        assert_eq!(total(EventQuery { product: Some(office.id.to_string()), ..q() }), 1, "by SKU id");
        assert_eq!(total(EventQuery { product: Some("ltsc professional plus 2021".into()), ..q() }), 1, "by name");
        assert_eq!(total(EventQuery { product: Some("no such product".into()), ..q() }), 0);
        for bad in [
            EventQuery { limit: Some(0), ..q() },
            EventQuery { limit: Some(MAX_LIMIT + 1), ..q() },
            EventQuery { kind: Some("everything".into()), ..q() },
            EventQuery { result: Some("fine".into()), ..q() },
            EventQuery { cmid: Some("PC-1".into()), ..q() },
            EventQuery { since: Some(10), until: Some(5), ..q() },
        ] {
            let e = events(&c, &bad).unwrap_err();
            assert!(matches!(&e, ViewError::Bad(m) if !m.contains('\n')), "{bad:?}: {e:?}");
            assert!(matches!(events_csv(&c, &bad), Err(ViewError::Bad(_))) || bad.limit.is_some(), "{bad:?}");
        }
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines() {
        let (_t, c) = db();
        let csv = events_csv(&c, &EventQuery { kind: Some("request".into()), ..q() }).unwrap();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], CSV_HEADER.join(","));
        assert_eq!(lines.len(), 1 + 4 + 1, "header, four records (one spans two lines inside quotes), final CRLF");
        assert!(lines[1].starts_with(&format!("{NOW},2025-06-15 15:06:40,request,12290,0x00000000,192.0.2.7,DESK-1,")), "{}", lines[1]);
        assert!(lines[1].ends_with(",6.0,50,,,"), "{}", lines[1]);
        assert!(csv.contains(",\"LAB,\"\"3\"\"\nx\","), "{csv}");
        assert!(lines[2].ends_with(",6.0,,,,"), "no count for a refusal: {}", lines[2]);
        let mut out = String::new();
        csv_line(&mut out, ["plain", "a,b", "say \"hi\"", "cr\rlf", ""].into_iter());
        assert_eq!(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"cr\rlf\",\r\n");
        let limited = events_csv(&c, &EventQuery { limit: Some(1), ..q() }).unwrap();
        assert_eq!(limited.matches("\r\n").count(), 2);
    }

    #[test]
    fn retention_prunes_by_time_at_most_once_a_minute() {
        let (_t, c) = db();
        let mut r = Retention::days(1);
        let later = NOW + 86_400 - 25;
        let cutoff = r.due(later).expect("the first call prunes");
        assert_eq!(cutoff, NOW - 25);
        prune(&c, cutoff).unwrap();
        assert_eq!(events(&c, &q()).unwrap().total, 3, "the three events older than a day are gone");
        assert_eq!(r.due(later + 59), None, "not again within the minute");
        assert_eq!(r.due(later + 60), Some(NOW + 35));
        assert_eq!(Retention::days(DEFAULT_DAYS).due(NOW), Some(NOW - 30 * 86_400));
    }
}
