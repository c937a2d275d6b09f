//! The host's identity — an ePID per ePID slot, the HwId, the host build
//! and LCID the ePIDs claim — generated on first start and kept in the
//! registry's `host` table, so the host answers with the same ePID for
//! ever, as a genuine host does (kms-protocol.md §8.5–8.6). Values fixed in
//! the configuration win over the stored ones but do not replace them.
use std::prelude::rust_2024::{String, ToString, Vec};
use super::settings::IdentityOverrides;
use super::store::host_key;
use crate::catalog::{self, EPID_SLOTS, SlotId};
use crate::epid::{self, Epid, HostProfile};
use crate::registry::{self, keys};
use crate::time::Date;
use anyhow::{Context, anyhow};
use rand_core::Rng;
use rusqlite::Connection;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Indexed by [`SlotId`].
    pub epids: Vec<Epid>,
    pub hwid: [u8; 8],
    pub host_build: u32,
    pub lcid: u16,
}

impl Identity {
    pub fn epid(&self, slot: SlotId) -> Epid {
        self.epids[usize::from(slot.0)]
    }

    /// Reads the stored identity, first generating (and storing) whatever is
    /// missing, then applies the configured overrides.
    pub fn load(
        conn: &mut Connection,
        overrides: &IdentityOverrides,
        today: Date,
        ndr64: bool,
        rng: &mut impl Rng,
    ) -> anyhow::Result<Identity> {
        let tx = conn.transaction().context("registry")?;
        let build = host_key(&tx, keys::HOST_BUILD)?;
        let lcid = host_key(&tx, keys::LCID)?;
        let profile = match (build.as_deref().and_then(|b| b.parse().ok()).and_then(catalog::host_build), lcid) {
            (Some(b), Some(l)) => HostProfile { build: b, lcid: l.parse().unwrap_or(epid::DEFAULT_LCID) },
            _ => {
                let p = epid::choose_profile(rng, today, ndr64);
                tx.execute(registry::INIT_HOST, [keys::HOST_BUILD, &p.build.build.to_string()])?;
                tx.execute(registry::INIT_HOST, [keys::LCID, &p.lcid.to_string()])?;
                p
            }
        };
        for slot in EPID_SLOTS.iter() {
            let key = [keys::EPID_PREFIX, slot.name].concat();
            if host_key(&tx, &key)?.is_none() {
                let e = epid::generate(rng, slot, &profile, today);
                tx.execute(registry::INIT_HOST, [&key, e.as_str()])?;
            }
        }
        if host_key(&tx, keys::HWID)?.is_none() {
            let h = epid::format_hwid(&epid::generate_hwid(rng)).to_string();
            tx.execute(registry::INIT_HOST, [keys::HWID, &h])?;
        }
        tx.commit().context("registry")?;

        let get = |key: &str| -> anyhow::Result<String> {
            host_key(conn, key)?.ok_or_else(|| anyhow!("registry: host key {key} is missing"))
        };
        let mut epids = Vec::with_capacity(EPID_SLOTS.len());
        for slot in EPID_SLOTS.iter() {
            let key = [keys::EPID_PREFIX, slot.name].concat();
            let text = get(&key)?;
            epids.push(Epid::parse(&text).map_err(|e| anyhow!("registry: host key {key} holds a bad ePID ({e})"))?);
        }
        let hwid_text = get(keys::HWID)?;
        let hwid = epid::parse_hwid(&hwid_text)
            .ok_or_else(|| anyhow!("registry: host key {} holds a bad HwId {hwid_text:?}", keys::HWID))?;
        let host_build = get(keys::HOST_BUILD)?.parse().unwrap_or(profile.build.build);
        let lcid = get(keys::LCID)?.parse().unwrap_or(profile.lcid);

        let mut id = Identity { epids, hwid, host_build, lcid };
        if let Some(h) = overrides.hwid {
            id.hwid = h;
        }
        for (slot, e) in &overrides.epids {
            id.epids[usize::from(slot.0)] = *e;
        }
        Ok(id)
    }

    /// Whether the claimed host build contradicts NDR64 negotiation: hosts
    /// before 9200 never negotiated NDR64, so a client could tell.
    pub fn ndr64_mismatch(&self, ndr64: bool) -> bool {
        ndr64 && catalog::host_build(self.host_build).is_some_and(|b| !b.ndr64 || b.build < 9200)
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::open_writer;

    const TODAY: Date = Date { year: 2025, month: 6, day: 1 };

    #[test]
    fn generated_once_then_kept_and_overridable() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("r.sqlite3");
        let mut conn = open_writer(&db, SyncMode::Normal).unwrap();
        let none = IdentityOverrides::default();
        let a = Identity::load(&mut conn, &none, TODAY, true, &mut rand::rng()).unwrap();
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
        let mut conn = open_writer(&db, SyncMode::Normal).unwrap();
        let b = Identity::load(&mut conn, &none, TODAY, true, &mut rand::rng()).unwrap();
        assert_eq!(a, b);

        let fixed = Epid::parse("03612-00206-556-123727-03-1033-17763.0000-2972018").unwrap();
        let slot = catalog::slot_by_name("Office2019").unwrap();
        let o = IdentityOverrides { hwid: Some([1, 2, 3, 4, 5, 6, 7, 8]), epids: vec![(slot, fixed)] };
        let c = Identity::load(&mut conn, &o, TODAY, true, &mut rand::rng()).unwrap();
        assert_eq!(c.epid(slot), fixed);
        assert_eq!(c.hwid, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(c.epids.iter().filter(|e| !a.epids.contains(e)).count(), 1, "only the overridden slot differs");
        // Overrides are not stored.
        let d = Identity::load(&mut conn, &none, TODAY, true, &mut rand::rng()).unwrap();
        assert_eq!(a, d);
    }

    #[test]
    fn a_damaged_value_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        conn.execute(registry::SET_HOST, [keys::HWID, "not hex"]).unwrap();
        let e = Identity::load(&mut conn, &IdentityOverrides::default(), TODAY, true, &mut rand::rng()).unwrap_err();
        assert_eq!(e.to_string(), "registry: host key hwid holds a bad HwId \"not hex\"");
    }
}
