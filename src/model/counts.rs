//! The genuine count of each counting group (application), kept in memory
//! so that answering a request costs O(1) whatever the number of clients,
//! on both hosts.
//!
//! It mirrors [`crate::registry::GENUINE_COUNT`] exactly — distinct CMIDs
//! of the application with a granted row (CMID × KMS id) seen within 30
//! days — is rebuilt from the registry when a host starts or its Durable
//! Object wakes ([`Counts::rebuild`]), and updated with each request.
//! Expiry is applied by [`Counts::prune`], at most a minute apart, so a
//! CMID leaves the count at most a minute after its 30 days.
use super::sql::Sql;
use crate::Guid;
use crate::registry;
use std::collections::HashMap;
use std::vec::Vec;

/// One row of [`registry::LIVE_GRANTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveGrant {
    pub application: Guid,
    pub cmid: Guid,
    pub kms_id: Guid,
    pub last_seen: i64,
}

/// The granted clients seen since `since` (Unix seconds), and how many rows
/// had ids that do not parse (written by something else; not counted).
pub fn live_grants<S: Sql>(sql: &S, since: i64) -> Result<(Vec<LiveGrant>, usize), S::Error> {
    let (mut out, mut bad) = (Vec::new(), 0);
    for r in sql.query(registry::LIVE_GRANTS, &[since.into()])? {
        let g = |i: usize| r.get(i).and_then(|v| Guid::parse(&v.text()).ok());
        match (g(0), g(1), g(2)) {
            (Some(application), Some(cmid), Some(kms_id)) => {
                out.push(LiveGrant { application, cmid, kms_id, last_seen: r.get(3).map_or(0, |v| v.int()) })
            }
            _ => bad += 1,
        }
    }
    Ok((out, bad))
}

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
    /// From the registry's rows: one scan, when a host starts or wakes.
    /// Also returns how many rows were unreadable.
    pub fn rebuild<S: Sql>(sql: &S, since: i64) -> Result<(Counts, usize), S::Error> {
        let (rows, bad) = live_grants(sql, since)?;
        Ok((Counts::load(&rows, since), bad))
    }

    /// From the registry's live grants.
    pub fn load(rows: &[LiveGrant], since: i64) -> Counts {
        let mut c = Counts::default();
        for r in rows {
            c.grant(r.application, r.cmid, r.kms_id, r.last_seen, since);
        }
        c
    }

    /// Records a granted request; returns the group's count including it.
    /// The row's `last_seen` never moves back (the registry's rule, for a
    /// wall clock stepped back).
    pub fn grant(&mut self, app: Guid, cmid: Guid, kms_id: Guid, now: i64, since: i64) -> u32 {
        let now = self.rows.get(&(cmid, kms_id)).map_or(now, |r| r.last_seen.max(now));
        self.forget(cmid, kms_id);
        let live = now >= since;
        self.rows.insert((cmid, kms_id), Row { app, last_seen: now, live });
        let g = self.groups.entry(app).or_default();
        if live {
            g.add(cmid);
        }
        g.count()
    }

    /// What [`Counts::grant`] will return, without changing anything.
    pub fn after_grant(&self, app: Guid, cmid: Guid, kms_id: Guid, now: i64, since: i64) -> u32 {
        let now = self.rows.get(&(cmid, kms_id)).map_or(now, |r| r.last_seen.max(now));
        if now < since {
            return self.after_refusal(app, cmid, kms_id);
        }
        // The CMID is in the group afterwards, whatever row it had before.
        let g = self.groups.get(&app);
        g.map_or(0, Group::count) + u32::from(!g.is_some_and(|g| g.live_rows.contains_key(&cmid)))
    }

    /// What [`Counts::refuse`] will return, without changing anything.
    pub fn after_refusal(&self, app: Guid, cmid: Guid, kms_id: Guid) -> u32 {
        let count = self.genuine(&app);
        let leaves = self.rows.get(&(cmid, kms_id)).is_some_and(|r| r.live && r.app == app)
            && self.groups.get(&app).and_then(|g| g.live_rows.get(&cmid)) == Some(&1);
        count - u32::from(leaves)
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

    /// The in-memory count equals the shared SQL's over a random history
    /// written with the shared upsert, and a rebuild from the rows agrees.
    #[cfg(feature = "native")]
    #[test]
    fn agrees_with_the_registry_sql() {
        use crate::model::sql::{Sql, Value};
        use crate::registry::{CMID_EXPIRY_SECS, GENUINE_COUNT};
        let tmp = tempfile::tempdir().unwrap();
        let conn = crate::native::serve::store::open_writer(&tmp.path().join("r.sqlite3"), crate::native::serve::settings::SyncMode::Normal).unwrap();
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
        for i in 0..2000 {
            let app = apps[next(2) as usize];
            let (cmid, kms) = (g(1000 + next(300) as u128), g(next(3) as u128 + 50));
            // Time moves forward; some requests are over 30 days old by `now`.
            let t = now - 40 * DAY + i * (40 * DAY / 2000);
            let hr: i64 = if next(5) == 0 { 0xC004_F042 } else { 0 };
            let foreseen = if hr == 0 { c.after_grant(app, cmid, kms, t, since) } else { c.after_refusal(app, cmid, kms) };
            let made = if hr == 0 { c.grant(app, cmid, kms, t, since) } else { c.refuse(app, cmid, kms) };
            assert_eq!(foreseen, made, "after_grant/after_refusal foresee request {i}");
            let row: [Value; 10] = [
                cmid.into(), kms.into(), app.into(), Guid::ZERO.into(), "".into(), "127.0.0.1".into(),
                1i64.into(), "6.0".into(), t.into(), hr.into(),
            ];
            Sql::execute(&conn, crate::registry::UPSERT_CLIENT, &row).unwrap();
        }
        c.prune(since);
        let (rebuilt, bad) = Counts::rebuild(&conn, since).unwrap();
        assert_eq!(bad, 0);
        for app in apps {
            let sql = conn.scalar(GENUINE_COUNT, &[app.into(), since.into()]).unwrap().unwrap().int() as u32;
            assert_eq!(c.genuine(&app), sql, "{app}");
            assert!(sql > 10);
            assert_eq!(rebuilt.genuine(&app), sql);
        }
    }
}
