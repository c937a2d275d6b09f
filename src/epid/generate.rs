//! Inventing a plausible ePID for a host that has none configured: which
//! host build and LCID it claims (one [`HostProfile`] for every key it
//! holds, as on a real host) and, per key, a key id and activation date the
//! catalogue makes believable. Kept apart from the value so that the
//! policy can change without touching parsing.
use super::{Epid, EpidError, EpidParts};
use crate::catalog::{EpidSlot, HOST_BUILDS, HostBuild, SlotId, slot};
use crate::time::Date;
use rand_core::Rng;

/// Host identity choices shared by all slots: the same build and LCID
/// everywhere, as on a real host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostProfile {
    pub build: &'static HostBuild,
    pub lcid: u16,
}

/// The LCID most hosts have.
pub const DEFAULT_LCID: u16 = 1033;

/// Other common system locales a host may have (de-DE, fr-FR, es-ES, it-IT,
/// ja-JP, ko-KR, nl-NL, pl-PL, pt-BR, ru-RU, zh-CN, zh-TW, en-GB, sv-SE,
/// tr-TR, cs-CZ).
pub const OTHER_LCIDS: [u16; 16] = [
    1031, 1036, 3082, 1040, 1041, 1042, 1043, 1045, 1046, 1049, 2052, 1028, 2057, 1053, 1055, 1029,
];

/// Uniform in `0..n` (`n > 0`), unbiased (rejection sampling).
fn below<R: Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    debug_assert!(n > 0);
    // Largest multiple of n, minus one, that fits in u64.
    let zone = u64::MAX - (u64::MAX % n + 1) % n;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return x % n;
        }
    }
}

/// The largest `min_host_build` over the held keys: a build at least this
/// new can carry every one of them, so they can share it.
pub fn min_consistent_build(held: &[SlotId]) -> u32 {
    held.iter()
        .map(|s| slot(*s).min_host_build)
        .max()
        .unwrap_or(0)
}

/// Whether a host build is a valid choice for [`choose_profile`], ignoring dates.
fn build_fits(b: &HostBuild, held: &[SlotId], ndr64: bool) -> bool {
    b.use_for_epid && b.build >= min_consistent_build(held) && (!ndr64 || (b.ndr64 && b.build >= 9200))
}

/// Picks a host build and an LCID. The build is uniform among the
/// `use_for_epid` builds released on or before `today` that can carry every
/// held CSVLK (≥ the largest `min_host_build`) and, when `ndr64` is true,
/// that negotiate NDR64 (≥ 9200: older hosts never did). If `today` precedes
/// all of them (a wrong clock), the oldest such build is used. The LCID is
/// 1033 three times in four, else one of [`OTHER_LCIDS`].
pub fn choose_profile<R: Rng + ?Sized>(rng: &mut R, held: &[SlotId], today: Date, ndr64: bool) -> HostProfile {
    let fits = |b: &&HostBuild| build_fits(b, held, ndr64);
    let released = |b: &&HostBuild| b.release <= today;
    let n = HOST_BUILDS.iter().filter(fits).filter(released).count();
    let build = if n > 0 {
        let k = below(rng, n as u64) as usize;
        HOST_BUILDS.iter().filter(fits).filter(released).nth(k)
    } else {
        HOST_BUILDS.iter().filter(fits).min_by_key(|b| b.release)
    };
    // build.rs guarantees a fitting build exists; the fallback is defensive only.
    let build = build.unwrap_or(&HOST_BUILDS[HOST_BUILDS.len() - 1]);
    let lcid = if below(rng, 4) < 3 {
        DEFAULT_LCID
    } else {
        OTHER_LCIDS[below(rng, OTHER_LCIDS.len() as u64) as usize]
    };
    HostProfile { build, lcid }
}

/// A key id uniform over all the CSVLK's key blocks (each id of each
/// block equally likely), so it never falls in a hole between blocks.
pub fn key_id<R: Rng + ?Sized>(rng: &mut R, slot: &EpidSlot) -> u32 {
    let size = |b: &crate::catalog::KeyBlock| u64::from(b.last - b.first) + 1;
    let total: u64 = slot.key_blocks.iter().map(size).sum();
    let mut k = below(rng, total.max(1));
    for b in slot.key_blocks {
        if k < size(b) {
            return b.first + k as u32;
        }
        k -= size(b);
    }
    // build.rs guarantees at least one block; defensive only.
    slot.key_blocks.first().map_or(0, |b| b.first)
}

/// The activation date bounds [`generate`] uses: from max(CSVLK release,
/// host build release) to `today` (both ends inclusive; if `today` is earlier,
/// the range collapses to its lower end).
pub fn activation_date_range(slot: &EpidSlot, profile: &HostProfile, today: Date) -> (Date, Date) {
    let lo = slot.release.max(profile.build.release);
    (lo, today.max(lo))
}

/// A plausible ePID for `slot` on the host described by `profile`: platform
/// id and build from the profile, the slot's group id, a key id uniform in
/// [`key_id`], channel 03, the profile's LCID, and an activation date
/// uniform in [`activation_date_range`] written as 1-based day of year +
/// year. Deterministic for a given RNG state.
pub fn generate<R: Rng + ?Sized>(
    rng: &mut R,
    slot: &EpidSlot,
    profile: &HostProfile,
    today: Date,
) -> Epid {
    let key_id = key_id(rng, slot);
    // The catalogue's values are validated by build.rs to fit their fields.
    generate_for_key(rng, slot, slot.group_id, key_id, profile, today).expect("catalogue values fit the ePID format")
}

/// [`generate`] for an installed host key: the same rules (platform id,
/// build and LCID from the profile, channel 03, an activation date uniform
/// in [`activation_date_range`]), but the group id and key id are the
/// key's own (its group and serial), as a genuine host's ePID carries the
/// CSVLK it holds. A group or key id too wide for its ePID field (a key's
/// group has 20 bits, its serial 30) is [`EpidError::FieldOutOfRange`].
pub fn generate_for_key<R: Rng + ?Sized>(
    rng: &mut R,
    slot: &EpidSlot,
    group_id: u32,
    key_id: u32,
    profile: &HostProfile,
    today: Date,
) -> Result<Epid, EpidError> {
    let (dlo, dhi) = activation_date_range(slot, profile, today);
    let lo = dlo.days_since_unix_epoch();
    let hi = dhi.days_since_unix_epoch();
    let day = lo + below(rng, (hi - lo) as u64 + 1) as i64;
    let date = Date::from_days_since_unix_epoch(day);
    let parts = EpidParts {
        platform_id: profile.build.platform_id,
        group_id,
        key_id,
        channel: 3,
        lcid: u32::from(profile.lcid),
        build: profile.build.build,
        activation_day: date.day_of_year(),
        activation_year: date.year,
    };
    parts.to_epid()
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use super::super::{MAX_LEN, generate_hwid};
    use super::super::test_rng::TestRng;
    use crate::catalog::{self, EPID_SLOTS, HELD_BY_DEFAULT, slot_by_name};
    use std::string::{String, ToString};
    use std::vec::Vec;

    const TODAY: Date = Date {
        year: 2025,
        month: 6,
        day: 1,
    };

    fn slot(name: &str) -> &'static EpidSlot {
        catalog::slot(slot_by_name(name).unwrap())
    }

    #[test]
    fn profile_respects_constraints() {
        // The Server 2025 CSVLK can be hosted on Server 2019 (17763) or newer.
        assert_eq!(min_consistent_build(HELD_BY_DEFAULT), 17763);
        let held = HELD_BY_DEFAULT;
        let mut rng = TestRng(1);
        let mut seen_builds = Vec::new();
        let mut seen_lcids = Vec::new();
        for i in 0..400 {
            let ndr64 = i % 2 == 0;
            let today = if i % 3 == 0 {
                Date {
                    year: 2020,
                    month: 1,
                    day: 1,
                }
            } else {
                TODAY
            };
            let p = choose_profile(&mut rng, held, today, ndr64);
            assert!(p.build.use_for_epid);
            assert!(p.build.release <= today, "{:?}", p.build);
            assert!(p.build.build >= min_consistent_build(held));
            assert!(held.iter().all(|s| p.build.build >= s.get().min_host_build));
            if ndr64 {
                assert!(p.build.build >= 9200 && p.build.ndr64);
            }
            assert!(p.lcid == DEFAULT_LCID || OTHER_LCIDS.contains(&p.lcid));
            if !seen_builds.contains(&p.build.build) {
                seen_builds.push(p.build.build);
            }
            if !seen_lcids.contains(&p.lcid) {
                seen_lcids.push(p.lcid);
            }
        }
        seen_builds.sort();
        assert_eq!(seen_builds, [17763, 20348, 26100]);
        assert!(seen_lcids.len() > 5);
        let default = (0..1000)
            .filter(|_| choose_profile(&mut rng, held, TODAY, true).lcid == DEFAULT_LCID)
            .count();
        assert!((650..850).contains(&default), "{default}");
        // A clock before every candidate build: the oldest candidate, no panic.
        let p = choose_profile(
            &mut rng,
            held,
            Date {
                year: 2000,
                month: 1,
                day: 1,
            },
            true,
        );
        assert_eq!(p.build.build, 17763);
        // Without NDR64, pre-9200 builds would be allowed if every held key
        // permitted them; an Office-2010-only host may run on 6002.
        let p = choose_profile(&mut rng, held, TODAY, false);
        assert!(p.build.build >= 17763);
        let o2010 = [slot_by_name("Office2010").unwrap()];
        assert_eq!(min_consistent_build(&o2010), 6002);
    }

    #[test]
    fn ndr64_excludes_pre_9200_builds() {
        // The catalogue's ndr64 flag is exactly "build >= 9200", and the
        // ePID-capable 6002/7601 never qualify when NDR64 is on.
        for b in HOST_BUILDS {
            assert_eq!(b.ndr64, b.build >= 9200, "{}", b.build);
            if b.build < 9200 {
                assert!(!build_fits(b, &[], true));
            }
        }
        assert!(HOST_BUILDS.iter().any(|b| b.use_for_epid && b.build < 9200));
    }

    #[test]
    fn generated_epids_are_valid() {
        let mut rng = TestRng(42);
        for round in 0..50 {
            let ndr64 = round % 2 == 1;
            let profile = choose_profile(&mut rng, HELD_BY_DEFAULT, TODAY, ndr64);
            for s in EPID_SLOTS {
                let e = generate(&mut rng, s, &profile, TODAY);
                let back = Epid::parse(e.as_str()).unwrap();
                assert_eq!(back, e);
                let p = e.parts().unwrap_or_else(|| panic!("{e} not canonical"));
                assert_eq!(p.platform_id, profile.build.platform_id);
                assert_eq!(p.build, profile.build.build);
                assert_eq!(p.lcid, u32::from(profile.lcid));
                assert_eq!(p.group_id, s.group_id);
                assert_eq!(p.channel, 3);
                assert!(s.has_key_id(p.key_id), "{e}");
                let date = p.activation_date().unwrap();
                assert!(
                    date >= s.release && date >= profile.build.release && date <= TODAY,
                    "{e}"
                );
                assert!(e.len() <= MAX_LEN && (48..=50).contains(&e.len()), "{e}");
                if ndr64 {
                    assert!(p.build >= 9200);
                }
            }
        }
    }

    #[test]
    fn key_ids_fall_in_every_block_and_never_in_a_hole() {
        let mut rng = TestRng(7);
        for name in ["WinServer2022", "WinServer2025"] {
            let s = slot(name);
            let mut per_block = [0u32; 2];
            for _ in 0..4000 {
                let k = key_id(&mut rng, s);
                let i = s.key_blocks.iter().position(|b| b.contains(k)).unwrap_or_else(|| panic!("{name}: {k} outside every block"));
                per_block[i] += 1;
            }
            // Uniform over ids: the second, 1000 times larger block gets almost all.
            assert!(per_block[1] > per_block[0], "{name}: {per_block:?}");
        }
        // A block of one id: always that id.
        let one = EpidSlot { key_blocks: &[crate::catalog::KeyBlock { first: 5, last: 5 }], ..*slot("Office2024") };
        assert_eq!(key_id(&mut rng, &one), 5);
        // Small blocks around a hole are both reached.
        let two = EpidSlot {
            key_blocks: &[crate::catalog::KeyBlock { first: 0, last: 1 }, crate::catalog::KeyBlock { first: 10, last: 11 }],
            ..*slot("Office2024")
        };
        let mut seen: Vec<u32> = (0..200).map(|_| key_id(&mut rng, &two)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, [0, 1, 10, 11]);
    }

    #[test]
    fn date_bounds_and_edge_cases() {
        let mut rng = TestRng(3);
        let b26100 = catalog::host_build(26100).unwrap();
        let profile = HostProfile {
            build: b26100,
            lcid: 1031,
        };
        let s = slot("Office2010");
        // The build's release (2024-10-01) is the lower bound, not the CSVLK's (2010).
        assert_eq!(activation_date_range(s, &profile, TODAY).0, b26100.release);
        // today == lower bound: exactly that date.
        let e = generate(&mut rng, s, &profile, b26100.release);
        assert_eq!(e.parts().unwrap().activation_date(), Some(b26100.release));
        assert!(e.as_str().ends_with("-26100.0000-2752024"), "{e}");
        assert!(e.as_str().starts_with("03612-00096-"), "{e}");
        assert!(e.as_str().contains("-03-1031-"), "{e}");
        // today before it (wrong clock): collapses to the lower bound.
        let e = generate(
            &mut rng,
            s,
            &profile,
            Date {
                year: 2001,
                month: 1,
                day: 1,
            },
        );
        assert_eq!(e.parts().unwrap().activation_date(), Some(b26100.release));
        // Dates cover the whole window over many draws.
        let p = HostProfile {
            build: catalog::host_build(9600).unwrap(),
            lcid: 1033,
        };
        let w = slot("Windows");
        let (lo, hi) = activation_date_range(w, &p, TODAY);
        assert_eq!(lo, w.release);
        let dates: Vec<Date> = (0..2000)
            .map(|_| {
                generate(&mut rng, w, &p, TODAY)
                    .parts()
                    .unwrap()
                    .activation_date()
                    .unwrap()
            })
            .collect();
        assert!(dates.iter().all(|d| (lo..=hi).contains(d)));
        assert!(dates.iter().any(|d| d.year == 2018) && dates.iter().any(|d| d.year == 2025));
        // Pre-10240 platform id.
        let e = generate(&mut rng, w, &p, TODAY);
        assert!(e.as_str().starts_with("06401-00206-5"), "{e}");
    }

    #[test]
    fn an_installed_key_gives_its_group_and_key_id_and_the_rest_by_the_rules() {
        let mut rng = TestRng(5);
        let profile = choose_profile(&mut rng, HELD_BY_DEFAULT, TODAY, true);
        let s = slot("WinServer2022");
        for _ in 0..50 {
            let e = generate_for_key(&mut rng, s, 4573, 30_123, &profile, TODAY).unwrap();
            let p = e.parts().unwrap();
            assert_eq!((p.group_id, p.key_id, p.channel), (4573, 30_123, 3));
            assert_eq!((p.platform_id, p.build, p.lcid), (profile.build.platform_id, profile.build.build, u32::from(profile.lcid)));
            let (lo, hi) = activation_date_range(s, &profile, TODAY);
            assert!((lo..=hi).contains(&p.activation_date().unwrap()), "{e}");
        }
        // A serial or group too wide for the ePID's fields is an error, not a panic.
        assert!(generate_for_key(&mut rng, s, 4573, 1_000_000_000, &profile, TODAY).is_err());
        assert!(generate_for_key(&mut rng, s, 100_000, 1, &profile, TODAY).is_err());
        // generate() is generate_for_key() with a drawn key id: same draws, same ePID.
        let (mut a, mut b) = (TestRng(9), TestRng(9));
        let e = generate(&mut a, s, &profile, TODAY);
        let k = key_id(&mut b, s);
        assert_eq!(generate_for_key(&mut b, s, s.group_id, k, &profile, TODAY), Ok(e));
    }

    #[test]
    fn same_seed_same_epid() {
        let run = |seed| {
            let mut rng = TestRng(seed);
            let profile = choose_profile(&mut rng, HELD_BY_DEFAULT, TODAY, true);
            let epids: Vec<String> = EPID_SLOTS
                .iter()
                .map(|s| generate(&mut rng, s, &profile, TODAY).to_string())
                .collect();
            (profile, epids, generate_hwid(&mut rng))
        };
        assert_eq!(run(99), run(99));
        assert_ne!(run(99).1, run(100).1);
    }
}
