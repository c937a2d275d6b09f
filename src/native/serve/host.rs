//! The native host's answer to one activation: the shared host model
//! ([`crate::model::HostModel`]) decides, the journal records before the
//! answer, metrics count. Shared by every connection.
use std::prelude::rust_2024::ToOwned;
use super::metrics::Metrics;
use super::store::writer::{CommitError, Record, Writer};
use crate::catalog;
use crate::host::Activation;
use crate::model::events::reported;
use crate::model::{Answer, HostModel};
use crate::time::FileTime;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Host {
    pub model: HostModel,
    pub writer: Writer,
    pub metrics: Arc<Metrics>,
}

/// Now, as Unix seconds and as FILETIME.
pub fn now() -> (i64, FileTime) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() as i64, FileTime::from_unix_nanos(d.as_nanos() as i128))
}

impl Host {
    /// Decides, records, and returns the answer once it is committed.
    pub async fn activate(&self, a: &Activation, peer: IpAddr) -> Result<Answer, CommitError> {
        let (unix, filetime) = now();
        self.answer_at(a, peer, unix, filetime).await
    }

    /// [`Host::activate`] at a given time (the unit test moves the clock).
    pub async fn answer_at(&self, a: &Activation, peer: IpAddr, unix: i64, filetime: FileTime) -> Result<Answer, CommitError> {
        let req = &a.request;
        let verdict = self.model.check(req, filetime);
        let mut ws = [0u8; 192];
        let mut record = Record {
            cmid: req.cmid,
            kms_id: req.kms_id,
            application: req.application,
            sku: req.sku,
            workstation: req.workstation.to_str(&mut ws).to_owned(),
            remote: peer,
            license_status: req.license_status,
            protocol: a.version,
            now: unix,
            hresult: verdict.err().map_or(0, |hr| hr.0),
            reported: None,
        };
        self.writer.admit().await;
        let started = std::time::Instant::now();
        // Journaled with the count it is answered with (for its event); the
        // append is one small write, so it may run under the count's lock.
        // A failed sync (sync = full) leaves the machine counted, as the
        // record is in the journal and SQLite will hold it.
        let (answer, seq) = self.model.conclude_recording(req, verdict, unix, |answer| {
            record.reported = reported(&answer.decision);
            self.writer.append(record)
        })?;
        self.writer.durable(seq, started).await?;
        self.metrics.request(a.version, answer.decision.hresult());
        Ok(answer)
    }

    /// Applies 30-day expiry to the in-memory counts.
    pub fn prune(&self) {
        self.model.prune(now().0);
        self.update_gauges();
    }

    /// Copies the counts into the metrics gauges (before a scrape).
    pub fn update_gauges(&self) {
        self.metrics.rows_in_memory.set(self.model.tracked_rows() as i64);
        for app in catalog::APPLICATIONS.iter() {
            self.metrics.genuine.get_or_create(&[("application", app.name)]).set(i64::from(self.model.genuine(&app.id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;
    use crate::HResult;
    use crate::client::RequestBuilder;
    use crate::host::policy::CountPolicy;
    use crate::kms::Version;
    use crate::host::Decision;
    use crate::model::counts::Counts;
    use crate::model::identity::Identity;
    use crate::model::settings::{PolicySettings, ScopeSetting};
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::{open_reader, open_writer};
    use crate::native::serve::metrics::CommitMetrics;
    use crate::wire::Syntax;
    use crate::Guid;

    const DAY: i64 = 86_400;
    const T: i64 = 1_750_000_000;
    const CMID_EXPIRY: i64 = crate::registry::CMID_EXPIRY_SECS;

    fn activation(cmid: u128, time: i64) -> Activation {
        let sku = catalog::SKUS.iter().find(|s| s.name == "Windows 10/11 Enterprise").unwrap();
        let request = RequestBuilder::for_sku(sku).cmid(Guid::from_u128(cmid)).time(FileTime::from_unix(time)).build();
        Activation { request, version: Version::V6, syntax: Syntax::Ndr32, call_id: 2 }
    }

    /// A host on a fresh registry (`r.sqlite3` and its journal in the
    /// returned directory) at Unix time `t`: genuine counting, every
    /// product, a 4-hour skew limit. Stop its writer and join the thread.
    fn test_host(t: i64) -> (tempfile::TempDir, Host, crate::native::serve::store::writer::WriterThread) {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let identity = Identity::load_or_create(&conn, crate::time::Date::from_unix(t), true, &Default::default(), &mut rand::rng()).unwrap();
        let metrics = Metrics::new();
        let journal = crate::native::serve::store::journal::Journal::open(tmp.path(), 1, SyncMode::Normal).unwrap();
        let (writer, thread) = Writer::spawn(conn, journal, 0, CommitMetrics(metrics.clone())).unwrap();
        let policy = PolicySettings {
            count: CountPolicy::Genuine,
            scope: ScopeSetting::All,
            max_time_skew: Some(4 * 3600),
            activation_interval: 120,
            renewal_interval: 10_080,
        };
        (tmp, Host { model: HostModel::new(policy, identity, Counts::default(), t), writer, metrics }, thread)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_itself_refuses_skew_and_forgets_after_30_days() {
        let (tmp, host, thread) = test_host(T);
        let (db, writer) = (tmp.path().join("r.sqlite3"), host.writer.clone());
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let at = |t: i64| (t, FileTime::from_unix(t));
        let answer = |a: Answer| match a.decision {
            Decision::Grant(g) => Ok(g.current_count),
            Decision::Refuse(hr) => Err(hr),
        };
        let (u, f) = at(T);
        assert_eq!(answer(host.answer_at(&activation(1, T), ip, u, f).await.unwrap()), Ok(1), "counts itself");
        assert_eq!(answer(host.answer_at(&activation(1, T), ip, u, f).await.unwrap()), Ok(1));
        assert_eq!(answer(host.answer_at(&activation(2, T), ip, u, f).await.unwrap()), Ok(2));
        let skewed = host.answer_at(&activation(3, T - 5 * 3600), ip, u, f).await.unwrap();
        assert_eq!(answer(skewed), Err(HResult::INVALID_TIMESTAMP));
        assert_eq!(skewed.genuine, 2, "a refused machine does not count");
        // 31 days later, after the minute's pruning, both have expired.
        let (u, f) = at(T + 31 * DAY);
        host.model.prune(u);
        assert_eq!(answer(host.answer_at(&activation(1, T + 31 * DAY), ip, u, f).await.unwrap()), Ok(1));

        writer.stop().await;
        tokio::task::spawn_blocking(move || thread.join()).await.unwrap().unwrap();
        let r = open_reader(&db).unwrap();
        let rows: Vec<(String, i64, i64)> = r
            .prepare("SELECT cmid, requests, last_hresult FROM clients ORDER BY cmid")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].1, rows[0].2), (3, 0));
        assert_eq!((rows[2].1, rows[2].2), (1, i64::from(HResult::INVALID_TIMESTAMP.0)));
        assert_eq!(rows[2].0, Guid::from_u128(3).to_string());
    }

    /// The wall clock steps forward and back by hours while requests are
    /// answered concurrently (time injected through [`Host::answer_at`]):
    /// every answered request is one client request and one event, the
    /// in-memory count is the registry's, no row was seen before it was
    /// first seen, and expiry runs from the latest time a client was seen.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clock_steps_keep_counts_expiry_and_events_consistent() {
        const HOUR: i64 = 3600;
        // Near the real time: the registry thread prunes events by it.
        let t = now().0;
        let (tmp, host, thread) = test_host(t);
        let (db, writer) = (tmp.path().join("r.sqlite3"), host.writer.clone());
        let host = std::sync::Arc::new(host);
        let app = activation(0, t).request.application;
        let ip: IpAddr = "192.0.2.9".parse().unwrap();

        // (clock, CMIDs activating then): forward 10 h, back 12 h, forward
        // 3 h. Machines 0..20 are last seen at +10 h, 20..30 only at −2 h.
        let phases: [(i64, core::ops::Range<u128>); 4] = [(t, 0..8), (t + 10 * HOUR, 0..20), (t - 2 * HOUR, 0..30), (t + HOUR, 5..10)];
        let mut answered = 0usize;
        let mut seen = std::collections::BTreeSet::new();
        for (clock, cmids) in phases {
            let mut tasks = Vec::new();
            for round in 0..3 {
                for c in cmids.clone() {
                    let host = host.clone();
                    // The client's clock follows the host's, as after an NTP step on both.
                    tasks.push(tokio::spawn(async move {
                        let a = activation(c, clock + round);
                        host.answer_at(&a, ip, clock + round, FileTime::from_unix(clock + round)).await.unwrap()
                    }));
                }
            }
            seen.extend(cmids.clone());
            for task in tasks {
                let a = task.await.unwrap();
                assert!(matches!(a.decision, Decision::Grant(_)), "refused: {a:?}");
                assert!(a.genuine as usize <= seen.len(), "never above the machines seen");
                answered += 1;
            }
            assert_eq!(host.model.genuine(&app) as usize, seen.len(), "distinct machines at clock {clock}: no double count, none lost");
        }
        assert_eq!(host.model.tracked_rows(), 30);

        // Expiry runs from each machine's latest time (+10 h for 0..20),
        // not from its last request (−2 h for 0..10).
        let latest = t + 10 * HOUR;
        let back = t - 2 * HOUR;
        host.model.prune(back + CMID_EXPIRY + 60);
        assert_eq!(host.model.genuine(&app), 20, "machines 20..30, last seen at −2 h, expired; 0..20 did not");
        assert!(writer.settled(std::time::Duration::from_secs(10)).await);
        let r = open_reader(&db).unwrap();
        let sql_count = |at: i64| -> i64 {
            r.query_row(crate::registry::GENUINE_COUNT, rusqlite::params![app.to_string(), at - CMID_EXPIRY], |row| row.get(0)).unwrap()
        };
        assert_eq!(sql_count(back + CMID_EXPIRY + 60), 20, "the registry expires the same machines");
        host.model.prune(latest + CMID_EXPIRY + 60);
        assert_eq!(host.model.genuine(&app), 0);
        assert_eq!(sql_count(latest + CMID_EXPIRY + 60), 0);

        // Nothing lost, nothing negative.
        let (requests, rows, backwards): (i64, i64, i64) = r
            .query_row("SELECT SUM(requests), COUNT(*), SUM(last_seen < first_seen) FROM clients", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap();
        assert_eq!((requests as usize, rows, backwards), (answered, 30, 0));
        let latest_rows: i64 = r.query_row("SELECT COUNT(*) FROM clients WHERE last_seen >= ?1", [latest], |row| row.get(0)).unwrap();
        assert_eq!(latest_rows, 20, "last_seen never moved back");
        let events: i64 = r.query_row("SELECT COUNT(*) FROM events WHERE event_id = 12290", [], |row| row.get(0)).unwrap();
        assert_eq!(events as usize, answered, "one event per answered request, whatever the clock said");
        drop(r);
        writer.stop().await;
        tokio::task::spawn_blocking(move || thread.join()).await.unwrap().unwrap();
    }
}
