//! The host's answer to one activation request: the core's pure policy
//! ([`crate::host::policy`]) fed with the clock, the in-memory count and
//! the stored identity, then the record committed to the registry. Shared
//! by every connection.
use std::prelude::rust_2024::ToOwned;
use super::counts::Counts;
use super::identity::Identity;
use super::metrics::Metrics;
use super::settings::{PolicySettings, ScopeSetting};
use super::store::writer::{CommitError, Record, Writer};
use crate::catalog;
use crate::host::policy::{self, Decision, Policy, Scope};
use crate::host::Activation;
use crate::registry::CMID_EXPIRY_SECS;
use crate::time::FileTime;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Host {
    pub policy: PolicySettings,
    pub identity: Identity,
    pub counts: Mutex<Counts>,
    pub writer: Writer,
    pub metrics: Arc<Metrics>,
}

/// A decision that is on disk, ready to be sent.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub decision: Decision,
    /// The group's genuine count after this request.
    pub genuine: u32,
}

/// Now, as Unix seconds and as FILETIME.
pub fn now() -> (i64, FileTime) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() as i64, FileTime::from_unix_nanos(d.as_nanos() as i128))
}

impl Host {
    /// The core policy over this host's settings.
    pub fn policy(&self) -> Policy<'_> {
        let p = &self.policy;
        Policy {
            max_time_skew: p.max_time_skew,
            scope: match &p.scope {
                ScopeSetting::All => Scope::All,
                ScopeSetting::Known => Scope::Known,
                ScopeSetting::Genuine => Scope::Genuine,
                ScopeSetting::List(ids) => Scope::List(ids),
            },
            count: p.count,
            activation_interval: p.activation_interval,
            renewal_interval: p.renewal_interval,
        }
    }

    /// Decides, records, and returns the answer once it is committed.
    pub async fn activate(&self, a: &Activation, peer: IpAddr) -> Result<Answer, CommitError> {
        let (unix, filetime) = now();
        self.answer_at(a, peer, unix, filetime).await
    }

    /// [`Host::activate`] at a given time (the unit test moves the clock).
    pub async fn answer_at(&self, a: &Activation, peer: IpAddr, unix: i64, filetime: FileTime) -> Result<Answer, CommitError> {
        let req = &a.request;
        let policy = self.policy();
        let since = unix - CMID_EXPIRY_SECS;
        // The count includes this machine when it is granted, as a genuine
        // host counts the client it is answering.
        let genuine = {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            match policy::check_request(req, filetime, &policy) {
                Ok(()) => counts.grant(req.application, req.cmid, req.kms_id, unix, since),
                Err(_) => counts.refuse(req.application, req.cmid, req.kms_id),
            }
        };
        let slot = catalog::slot_for(&req.kms_id, &req.application);
        let decision = policy::decide(req, filetime, &policy, genuine, self.identity.epid(slot), self.identity.hwid);
        let mut ws = [0u8; 192];
        let record = Record {
            cmid: req.cmid,
            kms_id: req.kms_id,
            application: req.application,
            sku: req.sku,
            workstation: req.workstation.to_str(&mut ws).to_owned(),
            remote: peer,
            license_status: req.license_status,
            protocol: a.version,
            now: unix,
            hresult: decision.hresult().0,
        };
        self.writer.commit(record).await?;
        self.metrics.request(a.version, decision.hresult());
        Ok(Answer { decision, genuine })
    }

    /// Applies 30-day expiry to the in-memory counts.
    pub fn prune(&self) {
        let since = now().0 - CMID_EXPIRY_SECS;
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).prune(since);
        self.update_gauges();
    }

    /// Copies the counts into the metrics gauges (before a scrape).
    pub fn update_gauges(&self) {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        self.metrics.rows_in_memory.set(counts.tracked_rows() as i64);
        for app in catalog::APPLICATIONS.iter() {
            self.metrics.genuine.get_or_create(&[("application", app.name)]).set(i64::from(counts.genuine(&app.id)));
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
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::{open_reader, open_writer};
    use crate::native::serve::metrics::CommitMetrics;
    use crate::wire::Syntax;
    use crate::Guid;

    const DAY: i64 = 86_400;
    const T: i64 = 1_750_000_000;

    fn activation(cmid: u128, time: i64) -> Activation {
        let sku = catalog::SKUS.iter().find(|s| s.name == "Windows 10/11 Enterprise").unwrap();
        let request = RequestBuilder::for_sku(sku).cmid(Guid::from_u128(cmid)).time(FileTime::from_unix(time)).build();
        Activation { request, version: Version::V6, syntax: Syntax::Ndr32, call_id: 2 }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_itself_refuses_skew_and_forgets_after_30_days() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("r.sqlite3");
        let mut conn = open_writer(&db, SyncMode::Normal).unwrap();
        let identity = Identity::load(
            &mut conn,
            &Default::default(),
            crate::time::Date::from_unix(T),
            true,
            &mut rand::rng(),
        )
        .unwrap();
        let metrics = Metrics::new();
        let journal = crate::native::serve::store::journal::Journal::open(tmp.path(), 1, SyncMode::Normal).unwrap();
        let (writer, thread) = Writer::spawn(conn, journal, 0, CommitMetrics(metrics.clone())).unwrap();
        let host = Host {
            policy: PolicySettings {
                count: CountPolicy::Genuine,
                scope: ScopeSetting::All,
                max_time_skew: Some(4 * 3600),
                activation_interval: 120,
                renewal_interval: 10_080,
            },
            identity,
            counts: Mutex::new(Counts::default()),
            writer: writer.clone(),
            metrics,
        };
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
        host.counts.lock().unwrap().prune(u - CMID_EXPIRY_SECS);
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
}
