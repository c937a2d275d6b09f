//! The host's extended PID (kms-protocol.md §8.5) and HwId (§8.6).
//!
//! An ePID names the CSVLK a host claims to hold:
//! `PPPPP-GGGGG-KKK-KKKKKK-03-LLLL-BBBBB.0000-DDDYYYY` (platform id, group id,
//! key id, channel, LCID, host build, day-of-year and year of activation).
//! [`Epid`] stores any configured value inline; [`generate`] makes a plausible
//! one for an ePID slot, deterministically from the RNG it is given.
use crate::catalog::{EPID_SLOTS, EpidSlot, HOST_BUILDS, HostBuild};
use crate::time::{Date, is_leap_year};
use core::fmt;
use rand_core::Rng;

/// Longest ePID in characters (the client's limit; the response carries it
/// as UTF-16 with a terminating NUL).
pub const MAX_LEN: usize = 63;

/// An ePID: printable ASCII, 1..=63 characters, stored inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Epid {
    // Bytes past `len` are always zero, so the derived traits are sound.
    buf: [u8; 64],
    len: u8,
}

/// Why a string is not usable as an ePID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpidError {
    /// The string is empty.
    Empty,
    /// Longer than [`MAX_LEN`] characters.
    TooLong { len: usize },
    /// Contains NUL (clients would cut the ePID there).
    Nul { pos: usize },
    /// A character other than printable ASCII (U+0020..=U+007E), at byte `pos`.
    NotPrintableAscii { pos: usize },
    /// Rendered [`EpidParts`] whose numbers do not fit the format.
    FieldOutOfRange,
}

impl fmt::Display for EpidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EpidError::Empty => f.write_str("the ePID is empty"),
            EpidError::TooLong { len } => write!(
                f,
                "the ePID is {len} characters long; at most {MAX_LEN} are allowed"
            ),
            EpidError::Nul { pos } => {
                write!(f, "the ePID contains a NUL character at position {pos}")
            }
            EpidError::NotPrintableAscii { pos } => {
                write!(
                    f,
                    "the ePID contains a character that is not printable ASCII at position {pos}"
                )
            }
            EpidError::FieldOutOfRange => {
                f.write_str("an ePID field is out of range for the canonical format")
            }
        }
    }
}

impl core::error::Error for EpidError {}

impl Epid {
    /// Accepts any printable-ASCII string of 1..=63 characters. Hosts may be
    /// configured with unusual ePIDs (clients check only length and NUL), so
    /// the canonical format is not required; see [`Epid::parts`].
    pub fn parse(s: &str) -> Result<Epid, EpidError> {
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(EpidError::Empty);
        }
        for (pos, &c) in b.iter().enumerate() {
            match c {
                0 => return Err(EpidError::Nul { pos }),
                0x20..=0x7E => {}
                _ => return Err(EpidError::NotPrintableAscii { pos }),
            }
        }
        // All ASCII from here on: bytes = characters.
        if b.len() > MAX_LEN {
            return Err(EpidError::TooLong { len: b.len() });
        }
        let mut buf = [0u8; 64];
        buf[..b.len()].copy_from_slice(b);
        Ok(Epid {
            buf,
            len: b.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Always ASCII by construction.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The ASCII bytes (no terminator).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// Length in characters (= bytes = UTF-16 code units), 1..=63.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false (an ePID has at least one character); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The characters as UTF-16 code units, without the terminating NUL.
    pub fn utf16(&self) -> impl Iterator<Item = u16> + '_ {
        self.as_bytes().iter().map(|&b| u16::from(b))
    }

    /// The fields of a canonical ePID, or `None` if this one is not in the
    /// canonical `PPPPP-GGGGG-KKK-KKKKKK-CC-LLLL-BBBBB.0000-DDDYYYY` form
    /// (fixed widths zero-padded, LCID and build unpadded without leading
    /// zeros, day of year valid for the year). For any `Some(p)`,
    /// `p.to_string() == self.as_str()`.
    pub fn parts(&self) -> Option<EpidParts> {
        let mut it = self.as_str().split('-');
        let mut field = || it.next();
        let platform_id = fixed(field()?, 5)?;
        let group_id = fixed(field()?, 5)?;
        let key_hi = fixed(field()?, 3)?;
        let key_lo = fixed(field()?, 6)?;
        let channel = fixed(field()?, 2)? as u8;
        let lcid = unpadded(field()?, 5)?;
        let build = unpadded(field()?.strip_suffix(".0000")?, 5)?;
        let dy = field()?;
        if field().is_some() || dy.len() != 7 {
            return None;
        }
        let activation_day = fixed(dy.get(..3)?, 3)? as u16;
        let activation_year = fixed(dy.get(3..)?, 4)? as u16;
        let year_len = if is_leap_year(activation_year) {
            366
        } else {
            365
        };
        if activation_day == 0 || activation_day > year_len {
            return None;
        }
        Some(EpidParts {
            platform_id,
            group_id,
            key_id: key_hi * 1_000_000 + key_lo,
            channel,
            lcid,
            build,
            activation_day,
            activation_year,
        })
    }
}

/// Exactly `width` ASCII digits.
fn fixed(s: &str, width: usize) -> Option<u32> {
    if s.len() != width || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// 1..=`max` ASCII digits without a leading zero.
fn unpadded(s: &str, max: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max || s.starts_with('0') || !s.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for Epid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for Epid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Epid({:?})", self.as_str())
    }
}

impl core::str::FromStr for Epid {
    type Err = EpidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Epid::parse(s)
    }
}

/// The fields of a canonical ePID `PPPPP-GGGGG-KKK-KKKKKK-03-LLLL-BBBBB.0000-DDDYYYY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EpidParts {
    /// Host OS platform id (55041, 5426, 6401, 3612).
    pub platform_id: u32,
    /// CSVLK group id.
    pub group_id: u32,
    /// CSVLK key id, 0..=999 999 999 (written `KKK-KKKKKK`).
    pub key_id: u32,
    /// Licence channel, 3 = volume.
    pub channel: u8,
    pub lcid: u32,
    /// Host OS build.
    pub build: u32,
    /// Day of year of the CSVLK activation, 1-based.
    pub activation_day: u16,
    pub activation_year: u16,
}

impl EpidParts {
    /// The activation date, if the day exists in that year.
    pub fn activation_date(&self) -> Option<Date> {
        Date::from_year_day(self.activation_year, self.activation_day)
    }

    /// Renders the canonical string. Fails with
    /// [`EpidError::FieldOutOfRange`] when a number is too wide for its
    /// field (which would make the result non-canonical).
    pub fn to_epid(&self) -> Result<Epid, EpidError> {
        let p = self;
        if p.platform_id > 99_999
            || p.group_id > 99_999
            || p.key_id > 999_999_999
            || p.channel > 99
            || p.lcid == 0
            || p.lcid > 99_999
            || p.build == 0
            || p.build > 99_999
            || p.activation_day == 0
            || p.activation_day > 999
            || p.activation_year > 9999
        {
            return Err(EpidError::FieldOutOfRange);
        }
        let mut w = Buf {
            buf: [0; 64],
            len: 0,
        };
        // Cannot overflow: at most 5+1+5+1+3+1+6+1+2+1+5+1+10+1+7 = 50 characters.
        fmt::write(&mut w, format_args!("{p}")).map_err(|_| EpidError::FieldOutOfRange)?;
        Ok(Epid {
            buf: w.buf,
            len: w.len as u8,
        })
    }
}

impl fmt::Display for EpidParts {
    /// The canonical form (see [`Epid::parts`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:05}-{:05}-{:03}-{:06}-{:02}-{}-{}.0000-{:03}{:04}",
            self.platform_id,
            self.group_id,
            self.key_id / 1_000_000,
            self.key_id % 1_000_000,
            self.channel,
            self.lcid,
            self.build,
            self.activation_day,
            self.activation_year
        )
    }
}

/// Fixed-capacity `fmt::Write` sink for one ePID.
struct Buf {
    buf: [u8; 64],
    len: usize,
}

impl fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > MAX_LEN {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

// ---------------------------------------------------------------- generation

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

/// Slots whose key id range is uncertain (notes in `data/README.md`: the
/// Server 2022 range may have a hole at 20 000–29 999, the Server 2025 data
/// is unverified, Office LTSC 2024's range is copied from Office 2019): key
/// ids are drawn from the upper half of their range.
pub const UNCERTAIN_RANGE_SLOTS: [&str; 3] = ["WinServer2022", "WinServer2025", "Office2024"];

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

/// Uniform in `lo..=hi` (`lo <= hi`).
fn between<R: Rng + ?Sized>(rng: &mut R, lo: u64, hi: u64) -> u64 {
    lo + below(rng, hi - lo + 1)
}

/// The largest `min_host_build` over all slots: a build at least this new can
/// carry every CSVLK, so all slots can share it.
pub fn min_consistent_build() -> u32 {
    EPID_SLOTS
        .iter()
        .map(|s| s.min_host_build)
        .max()
        .unwrap_or(0)
}

/// Whether a host build is a valid choice for [`choose_profile`], ignoring dates.
fn build_fits(b: &HostBuild, ndr64: bool) -> bool {
    b.use_for_epid && b.build >= min_consistent_build() && (!ndr64 || (b.ndr64 && b.build >= 9200))
}

/// Picks a host build and an LCID. The build is uniform among the
/// `use_for_epid` builds released on or before `today` that can carry every
/// slot's CSVLK (≥ the largest `min_host_build`) and, when `ndr64` is true,
/// that negotiate NDR64 (≥ 9200: older hosts never did). If `today` precedes
/// all of them (a wrong clock), the oldest such build is used. The LCID is
/// 1033 three times in four, else one of [`OTHER_LCIDS`].
pub fn choose_profile<R: Rng + ?Sized>(rng: &mut R, today: Date, ndr64: bool) -> HostProfile {
    let fits = |b: &&HostBuild| build_fits(b, ndr64);
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

/// The inclusive key id range [`generate`] draws from for a slot: the whole
/// range, or its upper half for [`UNCERTAIN_RANGE_SLOTS`].
pub fn key_id_range(slot: &EpidSlot) -> (u32, u32) {
    let (lo, hi) = (slot.key_id_min, slot.key_id_max.max(slot.key_id_min));
    if UNCERTAIN_RANGE_SLOTS.contains(&slot.name) {
        (lo + (hi - lo).div_ceil(2), hi)
    } else {
        (lo, hi)
    }
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
/// [`key_id_range`], channel 03, the profile's LCID, and an activation date
/// uniform in [`activation_date_range`] written as 1-based day of year +
/// year. Deterministic for a given RNG state.
pub fn generate<R: Rng + ?Sized>(
    rng: &mut R,
    slot: &EpidSlot,
    profile: &HostProfile,
    today: Date,
) -> Epid {
    let (klo, khi) = key_id_range(slot);
    let key_id = between(rng, u64::from(klo), u64::from(khi)) as u32;
    let (dlo, dhi) = activation_date_range(slot, profile, today);
    let lo = dlo.days_since_unix_epoch();
    let hi = dhi.days_since_unix_epoch();
    let day = lo + below(rng, (hi - lo) as u64 + 1) as i64;
    let date = Date::from_days_since_unix_epoch(day);
    let parts = EpidParts {
        platform_id: profile.build.platform_id,
        group_id: slot.group_id,
        key_id,
        channel: 3,
        lcid: u32::from(profile.lcid),
        build: profile.build.build,
        activation_day: date.day_of_year(),
        activation_year: date.year,
    };
    // The catalogue's values are validated by build.rs to fit their fields.
    parts
        .to_epid()
        .expect("catalogue values fit the ePID format")
}

/// 8 random bytes: a host HwId (opaque to clients, §8.6).
pub fn generate_hwid<R: Rng + ?Sized>(rng: &mut R) -> [u8; 8] {
    let mut h = [0u8; 8];
    rng.fill_bytes(&mut h);
    h
}

/// Displays a HwId as 16 uppercase hex digits in byte order, as vlmcs does
/// (e.g. `3A1C049600B60076`).
pub fn format_hwid(h: &[u8; 8]) -> impl fmt::Display {
    HwIdHex(*h)
}

struct HwIdHex([u8; 8]);

impl fmt::Display for HwIdHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// Parses a HwId written as 16 hex digits (`0123456789ABCDEF`, any case),
/// optionally with single spaces, `:` or `-` between bytes
/// (`01 23 45 67 89 AB CD EF`). Surrounding whitespace is ignored.
pub fn parse_hwid(s: &str) -> Option<[u8; 8]> {
    let s = s.trim().as_bytes();
    let mut out = [0u8; 8];
    let mut i = 0;
    for (n, byte) in out.iter_mut().enumerate() {
        if n > 0 && matches!(s.get(i), Some(b' ' | b':' | b'-')) {
            i += 1;
        }
        let hi = hex(*s.get(i)?)?;
        let lo = hex(*s.get(i + 1)?)?;
        *byte = hi << 4 | lo;
        i += 2;
    }
    (i == s.len()).then_some(out)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::catalog::{self, slot_by_name};
    use core::convert::Infallible;
    use rand_core::TryRng;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// splitmix64: a tiny deterministic RNG for tests.
    struct TestRng(u64);

    impl TryRng for TestRng {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok((self.try_next_u64()? >> 32) as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            Ok(z ^ (z >> 31))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            for chunk in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
            Ok(())
        }
    }

    const TODAY: Date = Date {
        year: 2025,
        month: 6,
        day: 1,
    };
    const VLMCSD_WINDOWS: &str = "03612-00206-556-123727-03-1033-17763.0000-2972018";

    fn slot(name: &str) -> &'static EpidSlot {
        catalog::slot(slot_by_name(name).unwrap())
    }

    #[test]
    fn parse_and_parts_of_vlmcsd_default() {
        let e = Epid::parse(VLMCSD_WINDOWS).unwrap();
        assert_eq!(e.as_str(), VLMCSD_WINDOWS);
        assert_eq!(e.len(), 49);
        assert!(!e.is_empty());
        assert_eq!(e.to_string(), VLMCSD_WINDOWS);
        assert_eq!(
            std::format!("{e:?}"),
            std::format!("Epid({VLMCSD_WINDOWS:?})")
        );
        assert_eq!(VLMCSD_WINDOWS.parse::<Epid>(), Ok(e));
        assert_eq!(e.utf16().count(), 49);
        assert_eq!(e.utf16().next(), Some(u16::from(b'0')));
        let p = e.parts().unwrap();
        assert_eq!(
            p,
            EpidParts {
                platform_id: 3612,
                group_id: 206,
                key_id: 556_123_727,
                channel: 3,
                lcid: 1033,
                build: 17763,
                activation_day: 297,
                activation_year: 2018,
            }
        );
        assert_eq!(
            p.activation_date(),
            Some(Date {
                year: 2018,
                month: 10,
                day: 24
            })
        );
        assert_eq!(p.to_string(), VLMCSD_WINDOWS);
        assert_eq!(p.to_epid(), Ok(e));
    }

    #[test]
    fn parse_accepts_odd_but_legal_epids() {
        let max = "X".repeat(63);
        for s in [
            "x",
            " ",
            "my host ePID!",
            max.as_str(),
            "03612-00206-556-123727-03-1033-17763.0000-2972018 ",
        ] {
            let e = Epid::parse(s).unwrap();
            assert_eq!(e.as_str(), s);
            assert_eq!(e.parts(), None, "{s}");
        }
    }

    #[test]
    fn parse_rejects() {
        assert_eq!(Epid::parse(""), Err(EpidError::Empty));
        assert_eq!(
            Epid::parse(&"X".repeat(64)),
            Err(EpidError::TooLong { len: 64 })
        );
        assert_eq!(
            Epid::parse(&"é".repeat(40)),
            Err(EpidError::NotPrintableAscii { pos: 0 })
        );
        assert_eq!(Epid::parse("ab\0cd"), Err(EpidError::Nul { pos: 2 }));
        assert_eq!(
            Epid::parse("ab\ncd"),
            Err(EpidError::NotPrintableAscii { pos: 2 })
        );
        assert_eq!(
            Epid::parse("03612-é"),
            Err(EpidError::NotPrintableAscii { pos: 6 })
        );
        assert_eq!(
            Epid::parse("\x7f"),
            Err(EpidError::NotPrintableAscii { pos: 0 })
        );
        for e in [
            EpidError::Empty,
            EpidError::TooLong { len: 70 },
            EpidError::Nul { pos: 1 },
            EpidError::NotPrintableAscii { pos: 3 },
        ] {
            let msg = e.to_string();
            assert!(msg.contains("ePID"), "{msg}");
        }
        assert!(EpidError::TooLong { len: 70 }.to_string().contains("70"));
    }

    #[test]
    fn parts_requires_the_canonical_format() {
        for s in [
            "3612-00206-556-123727-03-1033-17763.0000-2972018", // platform not 5 digits
            "03612-00206-556123727-03-1033-17763.0000-2972018", // key id not split
            "03612-00206-556-123727-03-01033-17763.0000-2972018", // padded LCID
            "03612-00206-556-123727-03-1033-017763.0000-2972018", // padded build
            "03612-00206-556-123727-03-1033-17763-2972018",     // no .0000
            "03612-00206-556-123727-03-1033-17763.0001-2972018", // wrong suffix
            "03612-00206-556-123727-03-1033-17763.0000-0002018", // day 0
            "03612-00206-556-123727-03-1033-17763.0000-3662018", // day 366 of a common year
            "03612-00206-556-123727-03-1033-17763.0000-297201", // short date
            "03612-00206-556-123727-03-1033-17763.0000-2972018-1", // extra field
            "03612-00206-556-12372a-03-1033-17763.0000-2972018", // non-digit
            "03612-00206-556-+23727-03-1033-17763.0000-2972018", // sign
            "03612-00206-556-123727-3-1033-17763.0000-2972018", // channel 1 digit
        ] {
            assert_eq!(Epid::parse(s).unwrap().parts(), None, "{s}");
        }
        // Day 366 of a leap year and other channels are fine.
        let p = Epid::parse("06401-00096-199-000000-02-2052-9600.0000-3662016")
            .unwrap()
            .parts()
            .unwrap();
        assert_eq!(
            (
                p.platform_id,
                p.group_id,
                p.key_id,
                p.channel,
                p.lcid,
                p.build
            ),
            (6401, 96, 199_000_000, 2, 2052, 9600)
        );
        assert_eq!(
            p.activation_date(),
            Some(Date {
                year: 2016,
                month: 12,
                day: 31
            })
        );
    }

    #[test]
    fn parts_rendering_rejects_wide_fields() {
        let ok = Epid::parse(VLMCSD_WINDOWS).unwrap().parts().unwrap();
        for bad in [
            EpidParts {
                platform_id: 100_000,
                ..ok
            },
            EpidParts {
                group_id: 100_000,
                ..ok
            },
            EpidParts {
                key_id: 1_000_000_000,
                ..ok
            },
            EpidParts { channel: 100, ..ok },
            EpidParts { lcid: 0, ..ok },
            EpidParts {
                build: 100_000,
                ..ok
            },
            EpidParts {
                activation_day: 0,
                ..ok
            },
            EpidParts {
                activation_year: 10_000,
                ..ok
            },
        ] {
            assert_eq!(bad.to_epid(), Err(EpidError::FieldOutOfRange), "{bad:?}");
        }
        let widest = EpidParts {
            platform_id: 99_999,
            group_id: 99_999,
            key_id: 999_999_999,
            channel: 99,
            lcid: 99_999,
            build: 99_999,
            activation_day: 366,
            activation_year: 2024,
        };
        assert_eq!(widest.to_epid().unwrap().parts(), Some(widest));
    }

    #[test]
    fn profile_respects_constraints() {
        assert_eq!(min_consistent_build(), 9600);
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
            let p = choose_profile(&mut rng, today, ndr64);
            assert!(p.build.use_for_epid);
            assert!(p.build.release <= today, "{:?}", p.build);
            assert!(p.build.build >= min_consistent_build());
            assert!(EPID_SLOTS.iter().all(|s| p.build.build >= s.min_host_build));
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
        assert_eq!(seen_builds, [9600, 14393, 17763, 20348, 26100]);
        assert!(seen_lcids.len() > 5);
        let default = (0..1000)
            .filter(|_| choose_profile(&mut rng, TODAY, true).lcid == DEFAULT_LCID)
            .count();
        assert!((650..850).contains(&default), "{default}");
        // A clock before every candidate build: the oldest candidate, no panic.
        let p = choose_profile(
            &mut rng,
            Date {
                year: 2000,
                month: 1,
                day: 1,
            },
            true,
        );
        assert_eq!(p.build.build, 9600);
        // Without NDR64, pre-9200 builds would be allowed if any slot permitted
        // them; with this catalogue the Windows slot needs 9600 anyway.
        let p = choose_profile(&mut rng, TODAY, false);
        assert!(p.build.build >= 9600);
    }

    #[test]
    fn ndr64_excludes_pre_9200_builds() {
        // The catalogue's ndr64 flag is exactly "build >= 9200", and the
        // ePID-capable 6002/7601 never qualify when NDR64 is on.
        for b in HOST_BUILDS {
            assert_eq!(b.ndr64, b.build >= 9200, "{}", b.build);
            if b.build < 9200 {
                assert!(!build_fits(b, true));
            }
        }
        assert!(HOST_BUILDS.iter().any(|b| b.use_for_epid && b.build < 9200));
    }

    #[test]
    fn generated_epids_are_valid() {
        let mut rng = TestRng(42);
        for round in 0..50 {
            let ndr64 = round % 2 == 1;
            let profile = choose_profile(&mut rng, TODAY, ndr64);
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
                assert!((s.key_id_min..=s.key_id_max).contains(&p.key_id), "{e}");
                let (klo, khi) = key_id_range(s);
                assert!((klo..=khi).contains(&p.key_id));
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
    fn uncertain_ranges_use_the_upper_half() {
        for name in UNCERTAIN_RANGE_SLOTS {
            let s = slot(name); // the names exist in the catalogue
            let (lo, hi) = key_id_range(s);
            assert_eq!(hi, s.key_id_max);
            assert!(lo >= s.key_id_min + (s.key_id_max - s.key_id_min) / 2);
        }
        // Server 2022: the suspected hole at 20000–29999 is never used.
        let (lo, _) = key_id_range(slot("WinServer2022"));
        assert!(lo >= 30_000);
        assert_eq!(key_id_range(slot("Windows")), (551_000_000, 570_999_999));
        let mut rng = TestRng(7);
        let profile = choose_profile(&mut rng, TODAY, true);
        let s = slot("WinServer2025");
        let mut min = u32::MAX;
        let mut max = 0;
        for _ in 0..500 {
            let k = generate(&mut rng, s, &profile, TODAY)
                .parts()
                .unwrap()
                .key_id;
            min = min.min(k);
            max = max.max(k);
        }
        assert!(min >= key_id_range(s).0 && max <= s.key_id_max);
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
        // The build's release (2024-11-01) is the lower bound, not the CSVLK's (2010).
        assert_eq!(activation_date_range(s, &profile, TODAY).0, b26100.release);
        // today == lower bound: exactly that date.
        let e = generate(&mut rng, s, &profile, b26100.release);
        assert_eq!(e.parts().unwrap().activation_date(), Some(b26100.release));
        assert!(e.as_str().ends_with("-26100.0000-3062024"), "{e}");
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
    fn same_seed_same_epid() {
        let run = |seed| {
            let mut rng = TestRng(seed);
            let profile = choose_profile(&mut rng, TODAY, true);
            let epids: Vec<String> = EPID_SLOTS
                .iter()
                .map(|s| generate(&mut rng, s, &profile, TODAY).to_string())
                .collect();
            (profile, epids, generate_hwid(&mut rng))
        };
        assert_eq!(run(99), run(99));
        assert_ne!(run(99).1, run(100).1);
    }

    #[test]
    fn hwid_format_and_parse() {
        let h = [0x3A, 0x1C, 0x04, 0x96, 0x00, 0xB6, 0x00, 0x76];
        assert_eq!(format_hwid(&h).to_string(), "3A1C049600B60076");
        assert_eq!(parse_hwid("3A1C049600B60076"), Some(h));
        assert_eq!(parse_hwid("3a1c049600b60076"), Some(h));
        assert_eq!(parse_hwid("3A 1C 04 96 00 B6 00 76"), Some(h));
        assert_eq!(parse_hwid("3A:1C:04:96:00:B6:00:76"), Some(h));
        assert_eq!(parse_hwid("  3A-1C-04-96-00-B6-00-76\n"), Some(h));
        assert_eq!(
            parse_hwid("0123456789ABCDEF"),
            Some([0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF])
        );
        assert_eq!(
            parse_hwid("01 23 45 67 89 AB CD EF"),
            Some([0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF])
        );
        for bad in [
            "",
            "3A1C049600B600",
            "3A1C049600B6007600",
            "3A1C049600B6007G",
            "3 A1C049600B60076",
            "3A  1C049600B60076",
            " 3A1C049600B60076 X",
            "0x3A1C049600B60076",
        ] {
            assert_eq!(parse_hwid(bad), None, "{bad:?}");
        }
        let mut rng = TestRng(5);
        let a = generate_hwid(&mut rng);
        let b = generate_hwid(&mut rng);
        assert_ne!(a, b);
        assert_eq!(parse_hwid(&format_hwid(&a).to_string()), Some(a));
    }
}
