//! The host's identity — the CSVLKs it holds with the ePID of each, the
//! HwId, and the host build and LCID the ePIDs claim — generated on first
//! start and kept in the registry's `host` table, so the host answers with
//! the same ePID for ever, as a genuine host does (kms-protocol.md
//! §8.5–8.6).
//!
//! A genuine host holds one Windows CSVLK and one CSVLK per Office
//! generation (`data/README.md`, "Host keys"); a host without keys of the
//! organisation's own holds `catalog::HELD_BY_DEFAULT`, all on one host
//! build able to carry every one of them. An installed key (the
//! organisation's own CSVLK, [`super::host_keys`], or an administrator's
//! `--epid SLOT=EPID`) goes through [`Identity::hold`], which replaces the
//! held key of its kind.
//!
//! An installed CSVLK's ePID carries the key's group id and its serial as
//! the key id, on the host's one build and LCID; it is stored with the key
//! (`installed_key:`/`installed_epid:`, apart from the generated `epid:`
//! values, which stay for the day the key is removed) and reused while the
//! same key is installed; a different key gets a new ePID.
//!
//! Writes are insert-only and followed by a re-read: two starters racing
//! keep the first identity, and what is stored is what the host answers
//! with. A stored value the corrected catalogue contradicts (a key id
//! outside its CSVLK's blocks, a group id since corrected, a host build too
//! old for a held key) is replaced once, by compare-and-swap; stored ePIDs
//! that still fit stay. Values the administrator fixed win over the stored
//! ones but do not replace them.
use super::host_keys::{HostKeys, Installed};
use super::sql::{Sql, Value};
use crate::catalog::{self, AppKey, HELD_BY_DEFAULT, SlotId};
use crate::epid::{self, Epid, HostProfile};
use crate::guid::Guid;
use crate::registry::{self, keys};
use crate::time::Date;
use rand_core::Rng;
use std::string::{String, ToString};
use std::vec::Vec;
use std::format;
use std::vec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The CSVLKs the host holds, in catalogue order.
    pub slots: Vec<SlotId>,
    /// The ePID of each held CSVLK, parallel to `slots`.
    pub epids: Vec<Epid>,
    /// Where each ePID comes from, parallel to `slots`.
    pub origins: Vec<Origin>,
    pub hwid: [u8; 8],
    pub host_build: u32,
    pub lcid: u16,
}

/// Where a held key's ePID comes from, as `/api/status` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Generated for a key held by default.
    Generated,
    /// Set by the administrator (`--epid`).
    Fixed,
    /// Made for the organisation's installed key, named by its last five
    /// characters.
    Installed { partial: String },
}

impl core::fmt::Display for Origin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Origin::Generated => f.write_str("generated"),
            Origin::Fixed => f.write_str("fixed"),
            Origin::Installed { partial } => write!(f, "installed key …{partial}"),
        }
    }
}

/// Identity values the administrator fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityOverrides {
    pub hwid: Option<[u8; 8]>,
    /// CSVLKs to hold with these ePIDs, each replacing the held key of its kind.
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
    /// The ePID of a held CSVLK (of the first held key if `slot` is not held,
    /// which [`catalog::answering`] never returns).
    pub fn epid(&self, slot: SlotId) -> Epid {
        let i = self.slots.iter().position(|s| *s == slot).unwrap_or(0);
        self.epids[i]
    }

    /// The ePID that answers a request for `kms_id` from `application`.
    pub fn answer(&self, kms_id: &Guid, application: &Guid) -> Epid {
        self.epid(catalog::answering(&self.slots, kms_id, application))
    }

    /// The ePID of the held Windows CSVLK.
    pub fn windows_epid(&self) -> Epid {
        self.answer(&Guid::ZERO, &catalog::application_by_key(AppKey::Windows).id)
    }

    /// Holds `slot` with `epid`, as installing a CSVLK does: the held keys
    /// it replaces ([`catalog::replaces`]: the Windows key for a Windows
    /// CSVLK, the same generation for an Office one) are dropped. This is
    /// the seam for the organisation's own keys.
    pub fn hold(&mut self, slot: SlotId, epid: Epid, origin: Origin) {
        let mut held: Vec<(SlotId, (Epid, Origin))> = self
            .slots
            .iter()
            .copied()
            .zip(self.epids.iter().copied().zip(self.origins.drain(..)))
            .filter(|(s, _)| !catalog::replaces(slot, *s))
            .collect();
        held.push((slot, (epid, origin)));
        held.sort_by_key(|(s, _)| *s);
        let (slots, rest): (Vec<SlotId>, Vec<(Epid, Origin)>) = held.into_iter().unzip();
        self.slots = slots;
        (self.epids, self.origins) = rest.into_iter().unzip();
    }

    /// Reads the stored identity, first generating (and storing) whatever
    /// is missing or contradicts the catalogue — the first start, a key
    /// newly held by default, or a fact corrected since — and the ePID of
    /// each installed key not installed before. The installed keys replace
    /// the default keys they [`catalog::replaces`].
    pub fn load_or_create<S: Sql>(
        sql: &S,
        today: Date,
        ndr64: bool,
        installed: &HostKeys,
        rng: &mut impl Rng,
    ) -> Result<Identity, IdentityError> {
        let held = HELD_BY_DEFAULT;
        // The one profile carries the default keys (kept for the day an
        // installed key is removed) and the installed ones.
        let carried: Vec<SlotId> = held.iter().copied().chain(installed.iter().map(|i| i.slot)).collect();
        let get = |key: &str| -> Result<Option<String>, IdentityError> {
            let v = sql.scalar(registry::GET_HOST, &[key.into()]).map_err(|e| IdentityError::Store(e.to_string()))?;
            Ok(v.map(|v| v.text()))
        };
        // Inserts a missing value, or swaps a stale one for `value`.
        let put = |key: &str, old: Option<String>, value: String| -> Result<(), IdentityError> {
            match old {
                None => sql.execute(registry::INIT_HOST, &[key.into(), Value::Text(value)]),
                Some(old) => sql.execute(registry::REPLACE_HOST, &[key.into(), Value::Text(old), Value::Text(value)]),
            }
            .map_err(|e| IdentityError::Store(e.to_string()))
        };
        let stored_build = get(keys::HOST_BUILD)?;
        let stored_lcid = get(keys::LCID)?;
        let build = stored_build.as_deref().and_then(|b| b.parse().ok()).and_then(catalog::host_build);
        let lcid = stored_lcid.as_deref().and_then(|l| l.parse::<u16>().ok());
        let fitting = |b: Option<&'static catalog::HostBuild>| b.filter(|b| b.build >= epid::min_consistent_build(&carried));
        if fitting(build).is_none() || lcid.is_none() {
            // First start, or a build too old for a held key: the host
            // looks moved to a newer Windows, and every ePID follows.
            let p = epid::choose_profile(rng, &carried, today, ndr64);
            put(keys::HOST_BUILD, stored_build, p.build.build.to_string())?;
            put(keys::LCID, stored_lcid, p.lcid.to_string())?;
        }
        // Re-read: a racing starter's profile may have won.
        let build = fitting(get(keys::HOST_BUILD)?.and_then(|b| b.parse().ok()).and_then(catalog::host_build));
        let lcid = get(keys::LCID)?.and_then(|l| l.parse::<u16>().ok());
        let profile = match (build, lcid) {
            (Some(build), Some(lcid)) => HostProfile { build, lcid },
            _ => return Err(IdentityError::Store("the host build and LCID could not be stored".into())),
        };
        if get(keys::HWID)?.is_none() {
            put(keys::HWID, None, epid::format_hwid(&epid::generate_hwid(rng)).to_string())?;
        }
        for &slot in held {
            let key = slot_key(slot);
            let stored = get(&key)?;
            let fits = stored.as_deref().map(|t| Epid::parse(t).map(|e| fits(&e, slot, &profile)));
            if fits != Some(Ok(true)) && !matches!(fits, Some(Err(_))) {
                put(&key, stored, epid::generate(rng, slot.get(), &profile, today).as_str().into())?;
            }
        }
        for i in installed.iter() {
            let (key_name, epid_name) = installed_keys(i.slot);
            let (stored_key, stored_epid) = (get(&key_name)?, get(&epid_name)?);
            let same_key = stored_key.as_deref() == Some(i.key.secret().as_str());
            let fitting = stored_epid.as_deref().and_then(|t| Epid::parse(t).ok()).is_some_and(|e| fits_installed(&e, i, &profile));
            if !(same_key && fitting) {
                let e = epid::generate_for_key(rng, i.slot.get(), i.key.group(), i.key.serial(), &profile, today)
                    .map_err(|e| IdentityError::Store(format!("host key …{}: {e}", i.key.partial())))?;
                put(&epid_name, stored_epid, e.as_str().into())?;
                put(&key_name, stored_key, i.key.secret().as_str().into())?;
            }
        }

        let stored = |key: &str| -> Result<String, IdentityError> {
            get(key)?.ok_or_else(|| IdentityError::Store(format!("host key {key} is missing")))
        };
        let damaged = |key: &str, value: String, what| IdentityError::Damaged { key: key.into(), value, what };
        let mut epids = Vec::with_capacity(held.len());
        for &slot in held {
            let key = slot_key(slot);
            let text = stored(&key)?;
            epids.push(Epid::parse(&text).map_err(|_| damaged(&key, text, "ePID"))?);
        }
        let text = stored(keys::HWID)?;
        let hwid = epid::parse_hwid(&text).ok_or_else(|| damaged(keys::HWID, text, "HwId"))?;
        let text = stored(keys::HOST_BUILD)?;
        let host_build = text.parse().map_err(|_| damaged(keys::HOST_BUILD, text, "host build"))?;
        let text = stored(keys::LCID)?;
        let lcid = text.parse().map_err(|_| damaged(keys::LCID, text, "LCID"))?;
        let origins = vec![Origin::Generated; held.len()];
        let mut identity = Identity { slots: held.to_vec(), epids, origins, hwid, host_build, lcid };
        for i in installed.iter() {
            let (key_name, epid_name) = installed_keys(i.slot);
            let text = stored(&epid_name)?;
            let e = Epid::parse(&text).map_err(|_| damaged(&epid_name, text, "ePID"))?;
            // A racing starter given another key may have stored its own.
            if stored(&key_name)? != i.key.secret().as_str() || !fits_installed(&e, i, &profile) {
                return Err(IdentityError::Store(format!(
                    "host key …{}: another start stored a different key for {}",
                    i.key.partial(),
                    i.slot.get().name
                )));
            }
            identity.hold(i.slot, e, Origin::Installed { partial: i.key.partial().into() });
        }
        Ok(identity)
    }

    /// This identity with the administrator's fixed values applied.
    pub fn with(mut self, o: &IdentityOverrides) -> Identity {
        if let Some(h) = o.hwid {
            self.hwid = h;
        }
        for (slot, e) in &o.epids {
            self.hold(*slot, *e, Origin::Fixed);
        }
        self
    }

    /// Whether the claimed host build contradicts NDR64 negotiation: hosts
    /// before 9200 never negotiated NDR64, so a client could tell.
    pub fn ndr64_mismatch(&self, ndr64: bool) -> bool {
        ndr64 && catalog::host_build(self.host_build).is_some_and(|b| !b.ndr64 || b.build < 9200)
    }

    /// As `/api/status` shows it: the held keys, one Windows CSVLK and the
    /// Office ones.
    pub fn view(&self) -> crate::api::Identity {
        crate::api::Identity {
            epids: self
                .slots
                .iter()
                .zip(&self.epids)
                .zip(&self.origins)
                .map(|((s, e), o)| {
                    let s = s.get();
                    crate::api::SlotEpid {
                        slot: s.name.into(),
                        csvlk_name: s.csvlk_name.into(),
                        epid: e.as_str().into(),
                        origin: o.to_string(),
                    }
                })
                .collect(),
            hwid: epid::format_hwid(&self.hwid).to_string(),
            host_build: self.host_build,
            lcid: self.lcid,
        }
    }
}

/// Whether a stored ePID still fits its CSVLK and the host: its group, a
/// key id inside one of the CSVLK's blocks, and the host's build and LCID.
fn fits(e: &Epid, slot: SlotId, profile: &HostProfile) -> bool {
    let s = slot.get();
    e.parts().is_some_and(|p| {
        p.group_id == s.group_id
            && s.has_key_id(p.key_id)
            && p.build == profile.build.build
            && p.platform_id == profile.build.platform_id
            && p.lcid == u32::from(profile.lcid)
    })
}

/// Whether a stored ePID is the one for installed key `i` on this host:
/// the key's group and serial, the host's build and LCID.
fn fits_installed(e: &Epid, i: &Installed, profile: &HostProfile) -> bool {
    e.parts().is_some_and(|p| {
        p.group_id == i.key.group()
            && p.key_id == i.key.serial()
            && p.build == profile.build.build
            && p.platform_id == profile.build.platform_id
            && p.lcid == u32::from(profile.lcid)
    })
}

/// The registry keys of an installed key and of its ePID.
fn installed_keys(slot: SlotId) -> (String, String) {
    let name = slot.get().name;
    ([keys::INSTALLED_KEY_PREFIX, name].concat(), [keys::INSTALLED_EPID_PREFIX, name].concat())
}

fn slot_key(slot: SlotId) -> String {
    [keys::EPID_PREFIX, slot.get().name].concat()
}

/// Over a real SQLite (rusqlite, the native store).
#[cfg(all(test, feature = "native"))]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::open_writer;

    const TODAY: Date = Date { year: 2025, month: 6, day: 1 };

    fn load(conn: &rusqlite::Connection) -> Identity {
        Identity::load_or_create(conn, TODAY, true, &HostKeys::default(), &mut rand::rng()).unwrap()
    }

    #[test]
    fn generated_once_then_kept_and_overridable() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("r.sqlite3");
        let conn = open_writer(&db, SyncMode::Normal).unwrap();
        let none = IdentityOverrides::default();
        let a = load(&conn).with(&none);
        // One Windows key and the six Office keys, all on one build and LCID.
        assert_eq!(a.slots, HELD_BY_DEFAULT);
        assert_eq!(a.epids.len(), HELD_BY_DEFAULT.len());
        for (slot, e) in a.slots.iter().zip(&a.epids) {
            let (s, p) = (slot.get(), e.parts().expect("canonical"));
            assert_eq!(p.group_id, s.group_id, "{}", s.name);
            assert!(s.has_key_id(p.key_id), "{e}");
            assert_eq!(p.build, a.host_build);
            assert_eq!(p.lcid, u32::from(a.lcid));
        }
        assert!(a.host_build >= 17763, "the Server 2025 CSVLK needs Server 2019 or newer");
        assert!(!a.ndr64_mismatch(true));
        assert_eq!(a.view().epids.iter().filter(|e| e.csvlk_name.starts_with("Windows")).count(), 1);
        drop(conn);

        // Reopened: the same identity, not a new one.
        let conn = open_writer(&db, SyncMode::Normal).unwrap();
        assert_eq!(a, load(&conn).with(&none));

        // An administrator's ePID for a held key replaces only that key's.
        let fixed = Epid::parse("03612-00206-684-137669-03-1033-17763.0000-2972018").unwrap();
        let o2019 = catalog::slot_by_name("Office2019").unwrap();
        let o = IdentityOverrides { hwid: Some([1, 2, 3, 4, 5, 6, 7, 8]), epids: vec![(o2019, fixed)] };
        let c = load(&conn).with(&o);
        assert_eq!(c.epid(o2019), fixed);
        assert_eq!(c.hwid, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(c.slots, a.slots);
        assert_eq!(c.epids.iter().filter(|e| !a.epids.contains(e)).count(), 1, "only the overridden key differs");
        // Overrides are not stored.
        assert_eq!(a, load(&conn).with(&none));
    }

    #[test]
    fn an_installed_windows_key_replaces_the_windows_key() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let a = load(&conn);
        let ws2019 = catalog::slot_by_name("Windows").unwrap();
        let ws2025 = catalog::slot_by_name("WinServer2025").unwrap();
        let fixed = Epid::parse("03612-00206-556-123727-03-1033-17763.0000-2972018").unwrap();
        let b = a.clone().with(&IdentityOverrides { hwid: None, epids: vec![(ws2019, fixed)] });
        assert_eq!(b.slots.len(), a.slots.len());
        assert!(b.slots.contains(&ws2019) && !b.slots.contains(&ws2025));
        assert_eq!(b.windows_epid(), fixed);
        let win10 = Guid::parse("58e2134f-8e11-4d17-9cb2-91069c151148").unwrap();
        let win_app = catalog::application_by_key(AppKey::Windows).id;
        assert_eq!(b.answer(&win10, &win_app), fixed);
        // Office keys are untouched.
        let o2024 = catalog::slot_by_name("Office2024").unwrap();
        assert_eq!(b.epid(o2024), a.epid(o2024));
    }

    fn keys(list: &[String]) -> HostKeys {
        crate::model::host_keys::parse(list.iter().map(|k| ("test", k.as_str()))).unwrap()
    }

    fn made(group: u32, serial: u32) -> String {
        let k = crate::pkey::ProductKey { group, serial, security: 0x5eed, upgrade: false, extra: false };
        crate::pkey::encode(&k).unwrap().as_str().to_string()
    }

    #[test]
    fn an_installed_key_is_answered_with_its_group_and_serial_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let with = |k: &HostKeys| Identity::load_or_create(&conn, TODAY, true, k, &mut rand::rng()).unwrap();
        let generated = with(&HostKeys::default());
        let (ws2022_key, o2021_key) = (made(4573, 30_017), made(206, 590_000_999));
        let installed = keys(&[ws2022_key.clone(), o2021_key]);
        let a = with(&installed);
        let (ws2022, ws2025) = (catalog::slot_by_name("WinServer2022").unwrap(), catalog::slot_by_name("WinServer2025").unwrap());
        let o2021 = catalog::slot_by_name("Office2021").unwrap();
        // The Windows key replaced, one Office generation replaced, the rest generated.
        assert_eq!(a.slots.len(), HELD_BY_DEFAULT.len());
        assert!(a.slots.contains(&ws2022) && !a.slots.contains(&ws2025));
        for (slot, group, serial) in [(ws2022, 4573, 30_017), (o2021, 206, 590_000_999)] {
            let p = a.epid(slot).parts().unwrap();
            assert_eq!((p.group_id, p.key_id, p.channel), (group, serial, 3));
            assert_eq!((p.build, p.lcid), (a.host_build, u32::from(a.lcid)), "the host's one build and LCID");
            let date = p.activation_date().unwrap();
            assert!(date >= slot.get().release && date <= TODAY, "{date:?}");
        }
        assert_eq!(a.windows_epid(), a.epid(ws2022));
        assert_eq!((a.host_build, a.lcid, a.hwid), (generated.host_build, generated.lcid, generated.hwid));
        let o2024 = catalog::slot_by_name("Office2024").unwrap();
        assert_eq!(a.epid(o2024), generated.epid(o2024));
        // The view names the key by its last five characters only.
        let view = a.view();
        let w = view.epids.iter().find(|e| e.slot == "WinServer2022").unwrap();
        assert_eq!(w.origin, format!("installed key …{}", &ws2022_key[24..]));
        assert_eq!(view.epids.iter().find(|e| e.slot == "Office2024").unwrap().origin, "generated");
        assert!(!format!("{view:?}{a:?}").contains(&ws2022_key[..20]));
        // The key is stored whole, as a Windows host keeps it.
        let stored = conn.query_row(registry::GET_HOST, ["installed_key:WinServer2022"], |r| r.get::<_, String>(0)).unwrap();
        assert_eq!(stored, ws2022_key);

        // Restarted with the same keys: the same ePIDs.
        assert_eq!(with(&installed), a);
        // Another Windows key: a new ePID with its serial; Office kept.
        let b = with(&keys(&[made(4573, 30_018)]));
        assert_eq!(b.epid(ws2022).parts().unwrap().key_id, 30_018);
        assert_eq!(b.epid(o2021), generated.epid(o2021), "no key for Office 2021 now: its generated ePID");
        // The same serial, but another key (another security value): a new key, a new ePID.
        let same_serial = {
            let k = crate::pkey::ProductKey { group: 4573, serial: 30_018, security: 0x5eee, upgrade: false, extra: false };
            crate::pkey::encode(&k).unwrap().as_str().to_string()
        };
        let c = with(&keys(&[same_serial]));
        assert_eq!(c.epid(ws2022).parts().unwrap().key_id, 30_018);
        assert_eq!(with(&keys(&[made(4573, 30_018)])).epid(ws2022).parts().unwrap().key_id, 30_018);
        // No key any more: the generated Windows ePID is back, unchanged.
        assert_eq!(with(&HostKeys::default()), generated);
        // An administrator's ePID overrides the installed key's kind only via
        // settings' refusal; applied here it replaces it.
        let fixed = Epid::parse("03612-00206-684-137669-03-1033-17763.0000-2972018").unwrap();
        let d = a.clone().with(&IdentityOverrides { hwid: None, epids: vec![(catalog::slot_by_name("Office2019").unwrap(), fixed)] });
        assert_eq!(d.view().epids.iter().find(|e| e.slot == "Office2019").unwrap().origin, "fixed");
        assert_eq!(d.epid(ws2022), a.epid(ws2022));
    }

    /// A registry written before the catalogue's corrections: a profile on
    /// build 9600 and ePIDs for every old slot, among them Server 2025 with
    /// the Azure-only group 4918 and Office LTSC 2024 in Office 2019's range.
    #[test]
    fn an_upgraded_host_keeps_what_still_fits_and_corrects_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let set = |k: &str, v: &str| conn.execute(registry::SET_HOST, [k, v]).unwrap();
        let old = [
            ("Office2010", "06401-00096-200-000001-03-1033-9600.0000-1002019"),
            ("Office2016", "06401-00206-440-000002-03-1033-9600.0000-1002019"),
            ("WinServer2025", "06401-04918-010-000003-03-1033-9600.0000-1002025"),
        ];
        set(keys::HOST_BUILD, "9600");
        set(keys::LCID, "1033");
        set(keys::HWID, "0123456789ABCDEF");
        for (slot, e) in old {
            set(&slot_key(catalog::slot_by_name(slot).unwrap()), e);
        }
        // Build 9600 cannot carry the Server 2025 CSVLK: a new profile, new ePIDs.
        let a = load(&conn);
        assert!(a.host_build >= 17763);
        assert_eq!(epid::format_hwid(&a.hwid).to_string().replace(' ', ""), "0123456789ABCDEF");
        let ws2025 = catalog::slot_by_name("WinServer2025").unwrap();
        assert_eq!(a.epid(ws2025).parts().unwrap().group_id, 4919);
        for e in &a.epids {
            assert_eq!(e.parts().unwrap().build, a.host_build);
        }

        // On a build that fits, ePIDs that still fit stay; the rest are corrected.
        let b = catalog::host_build(a.host_build).unwrap();
        let keep = format!("{:05}-00096-200-000001-03-{}-{}.0000-1002019", b.platform_id, a.lcid, b.build);
        let stale = format!("{:05}-00206-670-000004-03-{}-{}.0000-1002025", b.platform_id, a.lcid, b.build);
        let o2010 = catalog::slot_by_name("Office2010").unwrap();
        let o2024 = catalog::slot_by_name("Office2024").unwrap();
        set(&slot_key(o2010), &keep);
        set(&slot_key(o2024), &stale);
        let c = load(&conn);
        assert_eq!(c.epid(o2010).as_str(), keep);
        let k = c.epid(o2024).parts().unwrap().key_id;
        assert!((591_000_000..=610_999_999).contains(&k), "{k}");
        assert_eq!(c.epid(ws2025), a.epid(ws2025), "a fitting ePID is never regenerated");
        assert_eq!(load(&conn), c);
    }

    #[test]
    fn a_damaged_value_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        conn.execute(registry::SET_HOST, [keys::HWID, "not hex"]).unwrap();
        let e = Identity::load_or_create(&conn, TODAY, true, &HostKeys::default(), &mut rand::rng()).map(|i| i.with(&IdentityOverrides::default())).unwrap_err();
        assert_eq!(e.to_string(), "registry: host key hwid holds a bad HwId \"not hex\"");
    }
}
