//! The host's extended PID (kms-protocol.md §8.5) and HwId (§8.6).
//!
//! An ePID names the CSVLK a host claims to hold:
//! `PPPPP-GGGGG-KKK-KKKKKK-03-LLLL-BBBBB.0000-DDDYYYY` (platform id, group id,
//! key id, channel, LCID, host build, day-of-year and year of activation).
//! [`Epid`] stores any configured value inline; [`generate`](fn@generate) makes a plausible
//! one for an ePID slot, deterministically from the RNG it is given.
//!
//! The value (this file), the policy that invents one ([`generate`](mod@generate))
//! and the HwId ([`hwid`]) change for different reasons, so they are kept
//! apart; the re-exports keep every item at `crate::epid::*` for callers.
use crate::time::{Date, is_leap_year};
use core::fmt;

pub mod generate;
pub mod hwid;
#[cfg(test)]
mod test_rng;

pub use generate::{
    DEFAULT_LCID, HostProfile, OTHER_LCIDS, activation_date_range, choose_profile, generate, generate_for_key, key_id,
    min_consistent_build,
};
pub use hwid::{format_hwid, generate_hwid, parse_hwid};

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

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use std::string::ToString;

    const VLMCSD_WINDOWS: &str = "03612-00206-556-123727-03-1033-17763.0000-2972018";

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
}
