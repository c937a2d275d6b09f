//! One request as the registry keeps it, and how a group of them (with its
//! events: [`crate::model::events`]) is written to SQLite. Both the journal (replaying at start-up, in
//! [`super::journal::recover`]) and the registry thread ([`super::writer`])
//! apply records; keeping the shared part here lets the writer import the
//! journal without the journal importing the writer.
use std::prelude::rust_2024::{String, ToString, Vec};
use std::format;
use crate::kms::Version;
use crate::model::events::{self, DnsEvent, RequestEvent};
use crate::registry;
use crate::Guid;
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::net::IpAddr;

/// Key in the `host` table: the sequence number of the last record applied.
pub const APPLIED_KEY: &str = "journal_applied";

/// Key in the `host` table: the Unix time of the last deep health check
/// applied ([`crate::host::health`]), which is written here instead of as a
/// client, an event or a counter, so `/healthz?deep=1` can see that SQLite
/// took it.
pub const HEALTH_KEY: &str = "health_check_applied";

/// One request as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub cmid: Guid,
    pub kms_id: Guid,
    pub application: Guid,
    pub sku: Guid,
    pub workstation: String,
    /// Client IP address.
    pub remote: IpAddr,
    pub license_status: u32,
    pub protocol: Version,
    /// Unix seconds.
    pub now: i64,
    /// 0 when granted.
    pub hresult: u32,
    /// The count the answer reported; `None` when refused.
    pub reported: Option<u32>,
}

impl Record {
    /// The request's entry in the event history.
    pub fn event(&self) -> RequestEvent {
        RequestEvent {
            time: self.now,
            remote: self.remote.to_string(),
            workstation: self.workstation.clone(),
            cmid: self.cmid,
            kms_id: self.kms_id,
            sku: self.sku,
            protocol: self.protocol,
            hresult: self.hresult,
            reported: self.reported,
        }
    }
}

/// What a group writes besides its requests.
#[derive(Debug, Default)]
pub struct Extra<'a> {
    /// DNS publishing attempts since the last group.
    pub dns: &'a [DnsEvent],
    /// Delete the events before this time ([`events::Retention`]).
    pub prune_events_before: Option<i64>,
}

/// [`write_group`] with nothing but requests.
pub fn write_batch<'a>(
    conn: &mut Connection,
    records: impl Iterator<Item = &'a Record>,
    applied: Option<u64>,
) -> rusqlite::Result<()> {
    write_group(conn, records, &Extra::default(), applied)
}

/// Writes a batch in one transaction: each client row, each request's
/// event (so an applied request always has its event, and a replayed one
/// gets it then), the counters and activity buckets summed over the batch
/// (one statement per counter, not per request), and `extra`.
/// With `applied`, the journal sequence number of the last record is stored
/// in the same transaction.
pub fn write_group<'a>(
    conn: &mut Connection,
    records: impl Iterator<Item = &'a Record>,
    extra: &Extra<'_>,
    applied: Option<u64>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if let Some(cutoff) = extra.prune_events_before {
        events::prune(&*tx, cutoff)?;
    }
    for e in extra.dns {
        e.store(&*tx)?;
    }
    let (mut total, mut failed) = (0i64, 0i64);
    let mut by_status: HashMap<u32, i64> = HashMap::new();
    let mut activity: HashMap<i64, (i64, i64)> = HashMap::new();
    {
        // One row write per client however many of its requests the group
        // holds (a busy group often has several per machine).
        // (last request, earliest time, requests, latest time): with the
        // wall clock stepped back the last request is not the latest.
        let mut clients: HashMap<(Guid, Guid), (&Record, i64, i64, i64)> = HashMap::new();
        let mut order: Vec<(Guid, Guid)> = Vec::new();
        let mut health: Option<i64> = None;
        for r in records {
            if crate::host::health::is_health_check(&r.cmid) {
                health = health.max(Some(r.now));
                continue;
            }
            r.event().store(&*tx)?;
            let key = (r.cmid, r.kms_id);
            match clients.get_mut(&key) {
                Some(c) => {
                    c.0 = r;
                    c.1 = c.1.min(r.now);
                    c.2 += 1;
                    c.3 = c.3.max(r.now);
                }
                None => {
                    clients.insert(key, (r, r.now, 1, r.now));
                    order.push(key);
                }
            }
            let refused = r.hresult != 0;
            total += 1;
            failed += i64::from(refused);
            *by_status.entry(r.license_status).or_default() += 1;
            let bucket = activity.entry(r.now.div_euclid(3600)).or_default();
            if refused {
                bucket.1 += 1;
            } else {
                bucket.0 += 1;
            }
        }
        let mut upsert = tx.prepare_cached(registry::UPSERT_CLIENT_REQUESTS)?;
        for key in &order {
            let (r, first, n, last) = clients[key];
            upsert.execute(params![
                r.cmid.to_string(),
                r.kms_id.to_string(),
                r.application.to_string(),
                r.sku.to_string(),
                r.workstation,
                r.remote.to_string(),
                r.license_status,
                r.protocol.to_string(),
                first,
                r.hresult,
                last,
                n,
            ])?;
        }
        let mut add = tx.prepare_cached(registry::ADD_COUNTER)?;
        add.execute(params![registry::counters::TOTAL, total])?;
        if failed > 0 {
            add.execute(params![registry::counters::FAILED, failed])?;
        }
        for (status, n) in &by_status {
            add.execute(params![format!("{}{status}", registry::counters::LICENSE_STATUS_PREFIX), n])?;
        }
        let mut bump = tx.prepare_cached(registry::BUMP_ACTIVITY)?;
        for (hour, (ok, failed)) in &activity {
            bump.execute(params![hour, ok, failed])?;
        }
        if let Some(t) = health {
            tx.prepare_cached(registry::SET_HOST)?.execute(params![HEALTH_KEY, t.to_string()])?;
        }
        if let Some(seq) = applied {
            tx.prepare_cached(registry::SET_HOST)?.execute(params![APPLIED_KEY, seq.to_string()])?;
        }
    }
    tx.commit()
}
