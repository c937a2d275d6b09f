//! The genuine count of each counting group (application), kept in memory
//! so that answering a request needs no query.
//!
//! It mirrors [`crate::registry::GENUINE_COUNT`] exactly — distinct CMIDs
//! of the application with a granted row (CMID × KMS id) seen within 30
//! days — is loaded from the registry at start ([`Counts::load`]) and updated
//! with each request before its record is committed. Expiry is applied by
//! [`Counts::prune`], which the host runs every minute, so a CMID leaves the
//! count at most a minute after its 30 days.
use super::store::LiveGrant;
use crate::Guid;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Counts {
    /// Granted rows, keyed like the registry's (CMID, KMS id). A row moves
    /// between groups if a client changes the application id it sends, as
    /// the registry's upsert moves it.
    rows: HashMap<(Guid, Guid), Row>,
    groups: HashMap<Guid, Group>,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    app: Guid,
    last_seen: i64,
    /// Within 30 days when last evaluated: included in its group.
    live: bool,
}

#[derive(Debug, Default)]
struct Group {
    /// Live rows per CMID; a CMID counts while it has one.
    live_rows: HashMap<Guid, u32>,
}

impl Group {
    fn add(&mut self, cmid: Guid) {
        *self.live_rows.entry(cmid).or_insert(0) += 1;
    }
    fn sub(&mut self, cmid: Guid) {
        if let Some(n) = self.live_rows.get_mut(&cmid) {
            *n -= 1;
            if *n == 0 {
                self.live_rows.remove(&cmid);
            }
        }
    }
    fn count(&self) -> u32 {
        self.live_rows.len() as u32
    }
}

impl Counts {
    /// From the registry's live grants ([`super::store::live_grants`]).
    pub fn load(rows: &[LiveGrant], since: i64) -> Counts {
        let mut c = Counts::default();
        for r in rows {
            c.grant(r.application, r.cmid, r.kms_id, r.last_seen, since);
        }
        c
    }

    /// Records a granted request; returns the group's count including it.
    pub fn grant(&mut self, app: Guid, cmid: Guid, kms_id: Guid, now: i64, since: i64) -> u32 {
        self.forget(cmid, kms_id);
        let live = now >= since;
        self.rows.insert((cmid, kms_id), Row { app, last_seen: now, live });
        let g = self.groups.entry(app).or_default();
        if live {
            g.add(cmid);
        }
        g.count()
    }

    /// Records a refused request: its row no longer counts (its
    /// `last_hresult` is no longer 0). Returns the group's count.
    pub fn refuse(&mut self, app: Guid, cmid: Guid, kms_id: Guid) -> u32 {
        self.forget(cmid, kms_id);
        self.genuine(&app)
    }

    fn forget(&mut self, cmid: Guid, kms_id: Guid) {
        if let Some(old) = self.rows.remove(&(cmid, kms_id))
            && old.live
            && let Some(g) = self.groups.get_mut(&old.app)
        {
            g.sub(cmid);
        }
    }

    pub fn genuine(&self, app: &Guid) -> u32 {
        self.groups.get(app).map_or(0, Group::count)
    }

    /// Forgets rows last seen before `since`.
    pub fn prune(&mut self, since: i64) {
        let groups = &mut self.groups;
        self.rows.retain(|(cmid, _), r| {
            if r.last_seen >= since {
                return true;
            }
            if r.live
                && let Some(g) = groups.get_mut(&r.app)
            {
                g.sub(*cmid);
            }
            false
        });
        groups.retain(|_, g| !g.live_rows.is_empty());
    }

    /// Granted (CMID, KMS id) rows held in memory, over all groups.
    pub fn tracked_rows(&self) -> usize {
        self.rows.len()
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::{live_grants, open_writer, writer::{Record, write_batch}};
    use crate::registry::{CMID_EXPIRY_SECS, GENUINE_COUNT};

    const DAY: i64 = 86_400;
    const T: i64 = 1_750_000_000;

    fn g(n: u128) -> Guid {
        Guid::from_u128(n)
    }

    #[test]
    fn distinct_cmids_per_group() {
        let mut c = Counts::default();
        let since = T - 30 * DAY;
        assert_eq!(c.grant(g(1), g(10), g(100), T, since), 1);
        assert_eq!(c.grant(g(1), g(10), g(100), T + 1, since), 1, "same machine again");
        assert_eq!(c.grant(g(1), g(10), g(101), T + 2, since), 1, "same machine, other product of the group");
        assert_eq!(c.grant(g(1), g(11), g(100), T, since), 2);
        assert_eq!(c.grant(g(2), g(10), g(200), T, since), 1, "groups count apart");
        assert_eq!(c.genuine(&g(1)), 2);
        // A refusal of one of machine 10's products leaves the other.
        assert_eq!(c.refuse(g(1), g(10), g(100)), 2);
        assert_eq!(c.refuse(g(1), g(10), g(101)), 1);
        assert_eq!(c.refuse(g(1), g(99), g(100)), 1, "unknown machine");
        assert_eq!(c.refuse(g(9), g(99), g(100)), 0, "unknown group");
        assert_eq!(c.tracked_rows(), 2, "(10,100) and (10,101) were refused; (11,100) and (10,200) remain");
    }

    #[test]
    fn expiry() {
        let mut c = Counts::default();
        let since = T - 30 * DAY;
        c.grant(g(1), g(10), g(100), T - 31 * DAY, since);
        assert_eq!(c.genuine(&g(1)), 0, "already expired when recorded");
        c.grant(g(1), g(11), g(100), T - 29 * DAY, since);
        c.grant(g(1), g(12), g(100), T, since);
        assert_eq!(c.genuine(&g(1)), 2);
        // Two days later machine 11 has expired.
        c.prune(since + 2 * DAY);
        assert_eq!(c.genuine(&g(1)), 1);
        assert_eq!(c.tracked_rows(), 1, "only machine 12's row is left");
        // The expired machine comes back: counted again, once.
        assert_eq!(c.grant(g(1), g(11), g(100), T + 2 * DAY, since + 2 * DAY), 2);
        assert_eq!(c.grant(g(1), g(11), g(100), T + 2 * DAY, since + 2 * DAY), 2);
    }

    /// The in-memory count equals the shared SQL's over a random history.
    #[test]
    fn agrees_with_the_registry_sql() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let mut c = Counts::default();
        let mut x: u64 = 0x1234_5678;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let apps = [g(1), g(2)];
        let now = T;
        let since = now - CMID_EXPIRY_SECS;
        let mut recs = Vec::new();
        for i in 0..2000 {
            let app = apps[next(2) as usize];
            let (cmid, kms) = (g(1000 + next(300) as u128), g(next(3) as u128 + 50));
            // Time moves forward; some requests are over 30 days old by `now`.
            let t = now - 40 * DAY + i * (40 * DAY / 2000);
            let hr = if next(5) == 0 { 0xC004_F042 } else { 0 };
            if hr == 0 { c.grant(app, cmid, kms, t, since) } else { c.refuse(app, cmid, kms) };
            recs.push(Record {
                cmid,
                kms_id: kms,
                application: app,
                sku: Guid::ZERO,
                workstation: String::new(),
                remote: std::net::Ipv4Addr::LOCALHOST.into(),
                license_status: 1,
                protocol: crate::kms::Version::V6,
                now: t,
                hresult: hr,
            });
        }
        write_batch(&mut conn, recs.iter(), None).unwrap();
        c.prune(since);
        for app in apps {
            let sql: u32 = conn.query_row(GENUINE_COUNT, rusqlite::params![app.to_string(), since], |r| r.get(0)).unwrap();
            assert_eq!(c.genuine(&app), sql, "{app}");
            assert!(sql > 10);
            let (rows, bad) = live_grants(&conn, since).unwrap();
            assert_eq!(bad, 0);
            assert_eq!(Counts::load(&rows, since).genuine(&app), sql);
        }
    }
}
