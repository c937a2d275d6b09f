//! The host's identity — an ePID per ePID slot, the HwId, and the host
//! build and LCID the ePIDs claim — generated on first start and kept in
//! the registry's `host` table, so the host answers with the same ePID for
//! ever, as a genuine host does (kms-protocol.md §8.5–8.6).
//!
//! Writes are insert-only and followed by a re-read: two starters racing
//! keep the first identity, and what is stored is what the host answers
//! with. Values the administrator fixed win over the stored ones but do
//! not replace them.
use super::sql::{Sql, Value};
use crate::catalog::{self, EPID_SLOTS, SlotId};
use crate::epid::{self, Epid, HostProfile};
use crate::registry::{self, keys};
use crate::time::Date;
use rand_core::Rng;
use std::string::{String, ToString};
use std::vec::Vec;
use std::format;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Indexed by [`SlotId`], in [`EPID_SLOTS`] order.
    pub epids: Vec<Epid>,
    pub hwid: [u8; 8],
    pub host_build: u32,
    pub lcid: u16,
}

/// Identity values the administrator fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityOverrides {
    pub hwid: Option<[u8; 8]>,
    pub epids: Vec<(SlotId, Epid)>,
}

/// Why the stored identity cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    Store(String),
    /// A stored value that does not parse: key, value, and what it should be.
    Damaged { key: String, value: String, what: &'static str },
}

impl core::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IdentityError::Store(e) => write!(f, "registry: {e}"),
            IdentityError::Damaged { key, value, what } => write!(f, "registry: host key {key} holds a bad {what} {value:?}"),
        }
    }
}

impl Identity {
    pub fn epid(&self, slot: SlotId) -> Epid {
        self.epids[usize::from(slot.0)]
    }

    /// Reads the stored identity, first generating (and storing) whatever
    /// is missing — the first start, or a slot added to the catalogue since.
    pub fn load_or_create<S: Sql>(sql: &S, today: Date, ndr64: bool, rng: &mut impl Rng) -> Result<Identity, IdentityError> {
        let get = |key: &str| -> Result<Option<String>, IdentityError> {
            let v = sql.scalar(registry::GET_HOST, &[key.into()]).map_err(|e| IdentityError::Store(e.to_string()))?;
            Ok(v.map(|v| v.text()))
        };
        let init = |key: &str, value: String| {
            sql.execute(registry::INIT_HOST, &[key.into(), Value::Text(value)]).map_err(|e| IdentityError::Store(e.to_string()))
        };
        let build = get(keys::HOST_BUILD)?.and_then(|b| b.parse().ok()).and_then(catalog::host_build);
        let lcid = get(keys::LCID)?.and_then(|l| l.parse::<u16>().ok());
        let profile = match (build, lcid) {
            (Some(build), Some(lcid)) => HostProfile { build, lcid },
            _ => {
                let p = epid::choose_profile(rng, today, ndr64);
                init(keys::HOST_BUILD, p.build.build.to_string())?;
                init(keys::LCID, p.lcid.to_string())?;
                p
            }
        };
        if get(keys::HWID)?.is_none() {
            init(keys::HWID, epid::format_hwid(&epid::generate_hwid(rng)).to_string())?;
        }
        for slot in EPID_SLOTS.iter() {
            let key = slot_key(slot.name);
            if get(&key)?.is_none() {
                init(&key, epid::generate(rng, slot, &profile, today).as_str().into())?;
            }
        }

        let stored = |key: &str| -> Result<String, IdentityError> {
            get(key)?.ok_or_else(|| IdentityError::Store(format!("host key {key} is missing")))
        };
        let damaged = |key: &str, value: String, what| IdentityError::Damaged { key: key.into(), value, what };
        let mut epids = Vec::with_capacity(EPID_SLOTS.len());
        for slot in EPID_SLOTS.iter() {
            let key = slot_key(slot.name);
            let text = stored(&key)?;
            epids.push(Epid::parse(&text).map_err(|_| damaged(&key, text, "ePID"))?);
        }
        let text = stored(keys::HWID)?;
        let hwid = epid::parse_hwid(&text).ok_or_else(|| damaged(keys::HWID, text, "HwId"))?;
        let text = stored(keys::HOST_BUILD)?;
        let host_build = text.parse().map_err(|_| damaged(keys::HOST_BUILD, text, "host build"))?;
        let text = stored(keys::LCID)?;
        let lcid = text.parse().map_err(|_| damaged(keys::LCID, text, "LCID"))?;
        Ok(Identity { epids, hwid, host_build, lcid })
    }

    /// This identity with the administrator's fixed values applied.
    pub fn with(mut self, o: &IdentityOverrides) -> Identity {
        if let Some(h) = o.hwid {
            self.hwid = h;
        }
        for (slot, e) in &o.epids {
            self.epids[usize::from(slot.0)] = *e;
        }
        self
    }

    /// Whether the claimed host build contradicts NDR64 negotiation: hosts
    /// before 9200 never negotiated NDR64, so a client could tell.
    pub fn ndr64_mismatch(&self, ndr64: bool) -> bool {
        ndr64 && catalog::host_build(self.host_build).is_some_and(|b| !b.ndr64 || b.build < 9200)
    }

    /// As `/api/status` shows it.
    pub fn view(&self) -> crate::api::Identity {
        crate::api::Identity {
            epids: EPID_SLOTS
                .iter()
                .zip(&self.epids)
                .map(|(s, e)| crate::api::SlotEpid { slot: s.name.into(), csvlk_name: s.csvlk_name.into(), epid: e.as_str().into() })
                .collect(),
            hwid: epid::format_hwid(&self.hwid).to_string(),
            host_build: self.host_build,
            lcid: self.lcid,
        }
    }
}

fn slot_key(slot: &str) -> String {
    [keys::EPID_PREFIX, slot].concat()
}

/// Over a real SQLite (rusqlite, the native store).
#[cfg(all(test, feature = "native"))]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;
    use crate::catalog;
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::open_writer;

    const TODAY: Date = Date { year: 2025, month: 6, day: 1 };

    #[test]
    fn generated_once_then_kept_and_overridable() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("r.sqlite3");
        let conn = open_writer(&db, SyncMode::Normal).unwrap();
        let none = IdentityOverrides::default();
        let a = Identity::load_or_create(&conn, TODAY, true, &mut rand::rng()).map(|i| i.with(&none)).unwrap();
        assert_eq!(a.epids.len(), EPID_SLOTS.len());
        for (slot, e) in EPID_SLOTS.iter().zip(&a.epids) {
            let p = e.parts().expect("canonical");
            assert_eq!(p.group_id, slot.group_id, "{}", slot.name);
            assert_eq!(p.build, a.host_build);
            assert_eq!(p.lcid, u32::from(a.lcid));
        }
        assert!(!a.ndr64_mismatch(true));
        drop(conn);

        // Reopened: the same identity, not a new one.
        let conn = open_writer(&db, SyncMode::Normal).unwrap();
        let b = Identity::load_or_create(&conn, TODAY, true, &mut rand::rng()).map(|i| i.with(&none)).unwrap();
        assert_eq!(a, b);

        let fixed = Epid::parse("03612-00206-556-123727-03-1033-17763.0000-2972018").unwrap();
        let slot = catalog::slot_by_name("Office2019").unwrap();
        let o = IdentityOverrides { hwid: Some([1, 2, 3, 4, 5, 6, 7, 8]), epids: vec![(slot, fixed)] };
        let c = Identity::load_or_create(&conn, TODAY, true, &mut rand::rng()).map(|i| i.with(&o)).unwrap();
        assert_eq!(c.epid(slot), fixed);
        assert_eq!(c.hwid, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(c.epids.iter().filter(|e| !a.epids.contains(e)).count(), 1, "only the overridden slot differs");
        // Overrides are not stored.
        let d = Identity::load_or_create(&conn, TODAY, true, &mut rand::rng()).map(|i| i.with(&none)).unwrap();
        assert_eq!(a, d);
    }

    #[test]
    fn a_damaged_value_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        conn.execute(registry::SET_HOST, [keys::HWID, "not hex"]).unwrap();
        let e = Identity::load_or_create(&conn, TODAY, true, &mut rand::rng()).map(|i| i.with(&IdentityOverrides::default())).unwrap_err();
        assert_eq!(e.to_string(), "registry: host key hwid holds a bad HwId \"not hex\"");
    }
}
