//! The ePID read field by field, as an observer who knows the catalogue
//! would (kms-protocol.md §8.5): each field must be one a genuine host
//! holding that product's CSVLK could have written. Pure functions, so each
//! rule is unit-tested without a host.
use crate::catalog::{self, EPID_SLOTS, EpidSlot};
use crate::Guid;
use crate::epid::Epid;
use crate::time::is_leap_year;
use std::format;
use std::string::String;

/// The ePID field checks, in table order.
pub const CHECKS: [&str; 7] = [
    "ePID format",
    "ePID platform id",
    "ePID group id",
    "ePID key id",
    "ePID build vs NDR64",
    "ePID day of year",
    "ePID channel",
];

/// One problem per check of [`CHECKS`] (same index), `None` when it passed.
pub type FieldProblems = [Option<String>; 7];

/// Checks `epid`, answered for a product sending counted id `kms`, from a
/// host that accepted NDR64 (`ndr64`) or not. Any CSVLK whose licence
/// lists `kms` may have answered (a host with an older or newer key is
/// genuine too), so group and key id are checked against all of them.
pub fn check(epid: &Epid, kms: &Guid, ndr64: bool) -> FieldProblems {
    let mut out: FieldProblems = Default::default();
    let s = epid.as_str();
    let fields: std::vec::Vec<&str> = s.split('-').collect();
    // Day and channel are read from the raw fields so that a non-canonical
    // ePID still gets them named, not just "not canonical".
    if let Some(dy) = fields.get(7) {
        out[5] = day_problem(dy);
    }
    if let Some(ch) = fields.get(4) {
        if *ch != "03" {
            out[6] = Some(format!("channel {ch:?}, a volume (CSVLK) host writes 03"));
        }
    }
    let Some(p) = epid.parts() else {
        out[0] = Some(format!("{s:?} is not PPPPP-GGGGG-KKK-KKKKKK-03-LLLL-BBBBB.0000-DDDYYYY"));
        return out;
    };
    match catalog::host_build(p.build) {
        None => out[1] = Some(format!("build {} is no Windows host build in the catalogue", p.build)),
        Some(b) => {
            if b.platform_id != p.platform_id {
                out[1] = Some(format!(
                    "platform id {:05} is not build {}'s ({:05})",
                    p.platform_id, p.build, b.platform_id
                ));
            }
            // Windows 8 / Server 2012 (9200) and later accept NDR64; Vista
            // and 7 hosts never did (kms-protocol.md §3.4).
            if ndr64 && !b.ndr64 {
                out[4] = Some(format!("host accepted NDR64, but build {} ({}) never does", b.build, b.name));
            } else if !ndr64 && b.ndr64 {
                out[4] = Some(format!("host refused NDR64, but build {} ({}) accepts it", b.build, b.name));
            }
        }
    }
    let answering: std::vec::Vec<&EpidSlot> = EPID_SLOTS.iter().filter(|s| s.covers(kms)).collect();
    if answering.is_empty() {
        // No catalogued CSVLK lists the product: nothing to hold it to.
        return out;
    }
    let of_group: std::vec::Vec<&EpidSlot> = answering.iter().copied().filter(|s| s.group_id == p.group_id).collect();
    if of_group.is_empty() {
        out[2] = Some(format!("group {:05} is no CSVLK that activates it ({})", p.group_id, names(&answering)));
    } else if !of_group.iter().any(|s| key_id_in_range(s, p.key_id)) {
        out[3] = Some(format!("key id {} is in no key block of {}", p.key_id, names(&of_group)));
    }
    out
}

fn names(slots: &[&EpidSlot]) -> String {
    let v: std::vec::Vec<String> = slots.iter().map(|s| format!("{} {:05}", s.csvlk_name, s.group_id)).collect();
    v.join(", ")
}

/// Whether a CSVLK of `slot` can have key id `key_id`: one of its key
/// blocks holds it (the catalogue's blocks, holes between them excluded).
pub fn key_id_in_range(slot: &EpidSlot, key_id: u32) -> bool {
    slot.has_key_id(key_id)
}

/// `DDDYYYY`: a 1-based day of year (001..=365/366) and a year.
fn day_problem(dy: &str) -> Option<String> {
    if dy.len() != 7 || !dy.bytes().all(|c| c.is_ascii_digit()) {
        return Some(format!("{dy:?} is not DDDYYYY"));
    }
    let day: u16 = dy[..3].parse().ok()?;
    let year: u16 = dy[3..].parse().ok()?;
    let last = if is_leap_year(year) { 366 } else { 365 };
    if day == 0 || day > last {
        return Some(format!("day {:03} of {year}: a host writes 001..={last}", day));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::slot_by_name;

    fn slot(name: &str) -> &'static EpidSlot {
        slot_by_name(name).expect("slot in catalogue").get()
    }

    /// A canonical ePID for `slot` on build 20348 (NDR64), with `day`/`year`.
    fn epid_for(s: &EpidSlot, key_id: u32, dy: &str, channel: &str) -> Epid {
        let b = catalog::host_build(20348).expect("build 20348 in catalogue");
        let text = format!(
            "{:05}-{:05}-{:03}-{:06}-{channel}-1033-20348.0000-{dy}",
            b.platform_id,
            s.group_id,
            key_id / 1_000_000,
            key_id % 1_000_000
        );
        Epid::parse(&text).unwrap()
    }

    /// A Windows client's counted id, and the CSVLK that answers it by default.
    fn win10() -> (Guid, &'static EpidSlot) {
        let sku = catalog::SKUS.iter().find(|s| s.name == "Windows 10/11 Enterprise").unwrap();
        (sku.kms, slot("WinServer2025"))
    }

    #[test]
    fn a_consistent_epid_passes() {
        let (kms, s) = win10();
        let e = epid_for(s, s.key_blocks[0].first, "0452023", "03");
        assert_eq!(check(&e, &kms, true), FieldProblems::default(), "{e}");
        // An older Windows key that also activates the product is genuine too.
        let older = EPID_SLOTS.iter().find(|o| o.covers(&kms) && o.group_id != s.group_id).unwrap();
        let e = epid_for(older, older.key_blocks[0].first, "0452023", "03");
        assert_eq!(check(&e, &kms, true), FieldProblems::default(), "{e}");
    }

    #[test]
    fn each_field_is_checked() {
        let (kms, s) = win10();
        let b = catalog::host_build(20348).unwrap();
        // A group no CSVLK activating the product has.
        let text = format!("{:05}-{:05}-551-000000-03-1033-20348.0000-0452023", b.platform_id, 99_999);
        let p = check(&Epid::parse(&text).unwrap(), &kms, true);
        assert!(p[2].as_deref().unwrap().contains("no CSVLK"), "{p:?}");
        // A key id in the hole between Server 2022's blocks, and past Server 2025's last.
        let last = s.key_blocks.last().unwrap().last;
        let e = epid_for(s, last + 1, "0452023", "03");
        assert!(check(&e, &kms, true)[3].as_deref().unwrap().contains("no key block"), "{e}");
        if let Some(w22) = catalog::slot_by_name("WinServer2022").map(|x| x.get()).filter(|w| w.key_blocks.len() > 1) {
            let hole = w22.key_blocks[0].last + 1;
            assert!(!key_id_in_range(w22, hole));
        }
        // Day 000, a retail channel.
        let e = Epid::parse(&format!("{:05}-{:05}-000-000000-01-1033-20348.0000-0002023", b.platform_id, s.group_id))
            .unwrap();
        let p = check(&e, &kms, true);
        assert!(p[5].as_deref().unwrap().contains("day 000"), "{p:?}");
        assert!(p[6].as_deref().unwrap().contains("\"01\""), "{p:?}");
        assert!(p[0].is_some(), "day 000 is not canonical either");
        // Day 366 of a common year.
        assert!(day_problem("3662023").is_some());
        assert!(day_problem("3662024").is_none());
        // NDR64 refused by a build that accepts it.
        let e = epid_for(s, s.key_blocks[0].first, "0452023", "03");
        assert!(check(&e, &kms, false)[4].is_some());
    }

    #[test]
    fn platform_and_build_must_match_the_catalogue() {
        let (kms, s) = win10();
        let b = catalog::host_build(20348).unwrap();
        let wrong = if b.platform_id == 3612 { 5426 } else { 3612 };
        let e = Epid::parse(&format!("{wrong:05}-{:05}-000-000000-03-1033-20348.0000-0452023", s.group_id)).unwrap();
        assert!(check(&e, &kms, true)[1].as_deref().unwrap().contains("platform id"));
        let e = Epid::parse(&format!("03612-{:05}-000-000000-03-1033-12345.0000-0452023", s.group_id)).unwrap();
        assert!(check(&e, &kms, true)[1].as_deref().unwrap().contains("no Windows host build"));
        // A pre-NDR64 build (7601) claiming a host that accepted NDR64.
        if let Some(old) = catalog::host_build(7601).filter(|b| !b.ndr64) {
            let e = Epid::parse(&format!("{:05}-{:05}-000-000000-03-1033-7601.0000-0452023", old.platform_id, s.group_id))
                .unwrap();
            assert!(check(&e, &kms, true)[4].is_some());
            assert!(check(&e, &kms, false)[4].is_none());
        }
        assert!(check(&Epid::parse("not an epid").unwrap(), &kms, true)[0].is_some());
    }

    #[test]
    fn key_id_range_is_inclusive() {
        let s = slot("WinServer2025");
        for b in s.key_blocks {
            assert!(key_id_in_range(s, b.first) && key_id_in_range(s, b.last));
        }
        assert!(!key_id_in_range(s, s.key_blocks.last().unwrap().last + 1));
    }
}
