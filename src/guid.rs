//! GUIDs as they travel on the wire.
//!
//! The wire form is mixed-endian (Data1..3 little-endian, Data4 raw); we keep
//! exactly those 16 bytes so that comparing, hashing and emitting are plain
//! byte operations, and convert only when a human reads or writes one.
use core::fmt;

/// A GUID stored in its 16-byte wire (little-endian, Microsoft) order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Guid(pub [u8; 16]);

/// Why a GUID string did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseGuidError;

impl fmt::Display for ParseGuidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected a GUID like 55c92734-d682-4d71-983e-d6ec3f16059f")
    }
}

impl Guid {
    pub const ZERO: Guid = Guid([0; 16]);

    /// Reads 16 wire bytes. Panics if `b` is shorter, so callers slice first.
    pub fn from_wire(b: &[u8]) -> Guid {
        let mut g = [0u8; 16];
        g.copy_from_slice(&b[..16]);
        Guid(g)
    }

    /// Builds from the canonical 128-bit number (as written in text).
    pub const fn from_u128(v: u128) -> Guid {
        let be = v.to_be_bytes();
        Guid([
            be[3], be[2], be[1], be[0], be[5], be[4], be[7], be[6], be[8], be[9], be[10], be[11],
            be[12], be[13], be[14], be[15],
        ])
    }

    /// The canonical 128-bit number (as written in text).
    pub const fn to_u128(self) -> u128 {
        let w = self.0;
        u128::from_be_bytes([
            w[3], w[2], w[1], w[0], w[5], w[4], w[7], w[6], w[8], w[9], w[10], w[11], w[12], w[13],
            w[14], w[15],
        ])
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, optionally in braces,
    /// any case. The version nibble is deliberately not checked: at least one
    /// counted id in use is not a version-4 UUID.
    pub const fn parse(s: &str) -> Result<Guid, ParseGuidError> {
        let b = s.as_bytes();
        let (start, end) = if b.len() == 38 && b[0] == b'{' && b[37] == b'}' {
            (1, 37)
        } else if b.len() == 36 {
            (0, 36)
        } else {
            return Err(ParseGuidError);
        };
        let mut v: u128 = 0;
        let mut i = start;
        let mut digits = 0;
        while i < end {
            let c = b[i];
            let pos = i - start;
            if pos == 8 || pos == 13 || pos == 18 || pos == 23 {
                if c != b'-' {
                    return Err(ParseGuidError);
                }
            } else {
                let d = match c {
                    b'0'..=b'9' => c - b'0',
                    b'a'..=b'f' => c - b'a' + 10,
                    b'A'..=b'F' => c - b'A' + 10,
                    _ => return Err(ParseGuidError),
                };
                v = (v << 4) | d as u128;
                digits += 1;
            }
            i += 1;
        }
        if digits != 32 {
            return Err(ParseGuidError);
        }
        Ok(Guid::from_u128(v))
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl core::str::FromStr for Guid {
    type Err = ParseGuidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Guid::parse(s)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.to_u128();
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use std::string::ToString;

    #[test]
    fn wire_order_matches_spec() {
        // kms-protocol.md §1.
        let g = Guid::parse("55c92734-d682-4d71-983e-d6ec3f16059f").unwrap();
        assert_eq!(
            g.0,
            [0x34, 0x27, 0xC9, 0x55, 0x82, 0xD6, 0x71, 0x4D, 0x98, 0x3E, 0xD6, 0xEC, 0x3F, 0x16, 0x05, 0x9F]
        );
        assert_eq!(g.to_string(), "55c92734-d682-4d71-983e-d6ec3f16059f");
    }

    #[test]
    fn braces_case_and_rejects() {
        let a = Guid::parse("{A8973CB5-BF03-0A4C-9CEF-703099645AB3}").unwrap();
        assert_eq!(a.to_string(), "a8973cb5-bf03-0a4c-9cef-703099645ab3");
        for bad in ["", "a8973cb5bf030a4c9cef703099645ab3", "a8973cb5-bf03-0a4c-9cef-703099645ab", "g8973cb5-bf03-0a4c-9cef-703099645ab3", "a8973cb5-bf03+0a4c-9cef-703099645ab3"] {
            assert!(Guid::parse(bad).is_err(), "{bad}");
        }
    }
}
