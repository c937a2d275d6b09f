//! The organisation's own KMS host keys (CSVLKs), as an administrator
//! installs them with `slmgr /ipk` on a Windows host: `kmsedge serve
//! --host-key` and `[identity] host_keys` natively, the `HOST_KEYS` Worker
//! secret on the edge. Both hosts parse the list here, once, so both accept
//! and refuse exactly the same keys with the same line.
//!
//! Each key goes through [`pkey::host_key`] (a valid 2009-format CSVLK);
//! then it must name a CSVLK of the catalogue (`slot()`): the catalogue's
//! `covers` list is what decides which products a held key activates, so
//! a CSVLK it does not list (e.g. group 206 outside every known key block)
//! would activate nothing kmsedge could name, and is refused rather than
//! guessed at. Two keys for the same held key ([`catalog::replaces`]: any
//! two Windows keys, two keys of one Office generation) are refused too: a
//! host holds one Windows key and one per Office generation, and which one
//! wins must not depend on the order the keys were listed in.
//!
//! A key is a secret: refusals and `Debug` show the last five characters
//! only, as `slmgr /dlv` shows a partial product key.
use crate::catalog::{self, AppKey, SlotId};
use crate::pkey::{self, HostKey, HostKeyError};
use std::string::String;
use std::vec::Vec;

/// One installed key and the catalogue CSVLK it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    pub slot: SlotId,
    pub key: HostKey,
}

/// The validated keys: at most one per held key of the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostKeys(Vec<Installed>);

impl HostKeys {
    pub fn iter(&self) -> impl Iterator<Item = &Installed> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The installed key that holds `slot`'s place, if any: the one that
    /// replaces it ([`catalog::replaces`]).
    pub fn replacing(&self, slot: SlotId) -> Option<&Installed> {
        self.0.iter().find(|i| catalog::replaces(i.slot, slot))
    }
}

/// A refused key, one line: where it came from, its last five characters,
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub origin: String,
    pub partial: String,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Not a valid CSVLK ([`pkey::host_key`]'s refusal).
    Key(HostKeyError),
    /// A CSVLK the catalogue lists no key block for.
    NotInCatalogue { group: u32, serial: u32 },
    /// The same key given twice.
    Twice,
    /// A second key for a held key already given (`other`: its last five).
    SameHeldKey { other: String, slot: SlotId },
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} …{}: ", self.origin, self.partial)?;
        match &self.reason {
            Reason::Key(e) => write!(f, "{e}"),
            Reason::NotInCatalogue { group, serial } => write!(
                f,
                "a KMS host key of group {group} with key id {serial}, which no CSVLK in the catalogue has, so which products it activates is unknown"
            ),
            Reason::Twice => f.write_str("given twice"),
            Reason::SameHeldKey { other, slot } => {
                let s = slot.get();
                if s.app == AppKey::Windows {
                    write!(f, "a host holds one Windows host key, and …{other} ({}) is given too", s.csvlk_name)
                } else {
                    write!(f, "a host holds one key per Office generation, and …{other} ({}) is given too", s.csvlk_name)
                }
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// The last five key characters of `text` as typed, for naming a key that
/// did not even parse; never more, whatever was typed.
fn partial_of(text: &str) -> String {
    let chars: Vec<char> = text.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    chars[chars.len().saturating_sub(5)..].iter().map(|c| c.to_ascii_uppercase()).collect()
}

/// Validates `given` — `(origin, key text)` pairs, the origin naming where
/// the key came from (`--host-key`, `identity.host_keys in kmsedge.toml`,
/// `secret HOST_KEYS`) — and stops at the first refusal.
pub fn parse<'a, O: Into<String>>(given: impl IntoIterator<Item = (O, &'a str)>) -> Result<HostKeys, Refusal> {
    let mut keys: Vec<Installed> = Vec::new();
    for (origin, text) in given {
        let refuse = |partial: String, reason| Refusal { origin: origin.into(), partial, reason };
        let key = match pkey::host_key(text) {
            Ok(k) => k,
            Err(e) => return Err(refuse(partial_of(text), Reason::Key(e))),
        };
        let partial = String::from(key.partial());
        let Some(slot) = key.slot() else {
            return Err(refuse(partial, Reason::NotInCatalogue { group: key.group(), serial: key.serial() }));
        };
        if let Some(other) = keys.iter().find(|i| catalog::replaces(slot, i.slot) || catalog::replaces(i.slot, slot)) {
            let reason = if other.key == key {
                Reason::Twice
            } else {
                Reason::SameHeldKey { other: other.key.partial().into(), slot: other.slot }
            };
            return Err(refuse(partial, reason));
        }
        keys.push(Installed { slot, key });
    }
    Ok(HostKeys(keys))
}

/// The keys of one text value (the Worker secret), separated by commas or
/// white space.
pub fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(|c: char| c == ',' || c.is_whitespace()).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{SKUS, slot_by_name};
    use crate::pkey::{ProductKey, encode};
    use std::string::ToString;
    use std::vec;

    /// A valid 2009-format key of this group and serial, as `pkey`'s own
    /// tests make them.
    pub(crate) fn made(group: u32, serial: u32) -> String {
        let k = ProductKey { group, serial, security: 0x1234_5678_9abc, upgrade: false, extra: false };
        encode(&k).unwrap().as_str().to_string()
    }

    fn last5(k: &str) -> &str {
        &k[k.len() - 5..]
    }

    fn one(origin: &str, k: &str) -> Result<HostKeys, Refusal> {
        parse([(origin, k)])
    }

    #[test]
    fn a_csvlk_of_the_catalogue_is_installed_for_its_slot() {
        let ws2022 = made(4573, 30_123);
        let o2021 = made(206, 575_000_123);
        let keys = parse([("--host-key", ws2022.as_str()), ("--host-key", o2021.as_str())]).unwrap();
        let got: Vec<(SlotId, u32, u32)> = keys.iter().map(|i| (i.slot, i.key.group(), i.key.serial())).collect();
        assert_eq!(
            got,
            vec![(slot_by_name("WinServer2022").unwrap(), 4573, 30_123), (slot_by_name("Office2021").unwrap(), 206, 575_000_123)]
        );
        // The Windows key takes the place of the default Windows key.
        let ws2025 = slot_by_name("WinServer2025").unwrap();
        assert_eq!(keys.replacing(ws2025).map(|i| i.slot), slot_by_name("WinServer2022"));
        assert!(keys.replacing(slot_by_name("Office2024").unwrap()).is_none());
        // A Windows 10 client CSVLK is a host key too, and the host's one Windows key.
        let win10 = one("x", &made(206, 260_000_042)).unwrap();
        assert_eq!(win10.replacing(ws2025).map(|i| i.slot), slot_by_name("Win10_2019"));
        // Lower case, no dashes: the same key.
        let bare = ws2022.replace('-', "").to_lowercase();
        assert_eq!(one("x", &bare).unwrap().iter().next().unwrap().key, keys.iter().next().unwrap().key);
        assert!(parse::<&str>([]).unwrap().is_empty());
    }

    #[test]
    fn refusals_are_one_line_naming_the_origin_and_the_last_five_only() {
        let enterprise = SKUS.iter().find(|s| s.name == "Windows 10/11 Enterprise").unwrap().gvlk.unwrap();
        let cases = [
            (enterprise.to_string(), "a KMS client key (GVLK) of Windows 10/11 Enterprise, not a KMS host key (CSVLK)"),
            // Group 1 is no CSVLK's.
            (made(1, 5), "a valid product key of group 1, which is no KMS host key (CSVLK) group in the catalogue"),
            // Group 206, serial in no catalogue block.
            (made(206, 1_000), "a KMS host key of group 206 with key id 1000, which no CSVLK in the catalogue has"),
            ("BCDFG-HJKMP-QRTVW-XY234-6789B".to_string(), "not a 2009-format product key (it has no N)"),
        ];
        for (k, why) in cases {
            let e = one("--host-key", &k).unwrap_err().to_string();
            assert!(e.starts_with(&std::format!("--host-key …{}: ", last5(&k))), "{e}");
            assert!(e.contains(why), "{e:?} lacks {why:?}");
            assert!(!e.contains('\n'));
            assert!(!e.contains(&k[..k.len() - 5]), "more than the last five shown: {e}");
        }
        // A checksum error: the key as typed is still shown by its last five only.
        let mut typo = made(4573, 30_123);
        let c = if &typo[7..8] == "X" { "Y" } else { "X" };
        typo.replace_range(7..8, c);
        let e = one("secret HOST_KEYS", &typo).unwrap_err().to_string();
        assert!(e.starts_with(&std::format!("secret HOST_KEYS …{}: not a valid product key: invalid checksum", last5(&typo))), "{e}");
        // Too short to hide anything but still no more than five.
        assert_eq!(one("o", "abc").unwrap_err().partial, "ABC");
    }

    #[test]
    fn two_keys_for_one_held_key_are_refused() {
        let (ws2019, ws2025) = (made(206, 560_000_000), made(4919, 12));
        let e = parse([("a", ws2019.as_str()), ("b", ws2025.as_str())]).unwrap_err();
        assert_eq!(e.origin, "b");
        assert_eq!(
            e.to_string(),
            std::format!("b …{}: a host holds one Windows host key, and …{} (Windows Server 2019) is given too", last5(&ws2025), last5(&ws2019))
        );
        let (o24a, o24b) = (made(206, 595_000_000), made(206, 600_000_000));
        let e = parse([("a", o24a.as_str()), ("a", o24b.as_str())]).unwrap_err().to_string();
        assert!(e.contains("one key per Office generation") && e.contains("(Office LTSC 2024)"), "{e}");
        let e = parse([("a", o24a.as_str()), ("a", o24a.as_str())]).unwrap_err().to_string();
        assert!(e.ends_with(": given twice"), "{e}");
        // Different Office generations and one Windows key: all held.
        let o2019 = made(206, 670_000_000);
        assert_eq!(parse([("a", o24a.as_str()), ("a", o2019.as_str()), ("a", ws2025.as_str())]).unwrap().iter().count(), 3);
    }

    #[test]
    fn the_secret_splits_on_commas_and_white_space() {
        let got: Vec<&str> = split(" A-B,C\n D ,, \tE ").collect();
        assert_eq!(got, ["A-B", "C", "D", "E"]);
        assert_eq!(split("  ").count(), 0);
    }
}
