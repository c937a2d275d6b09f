//! The host's HwId (kms-protocol.md §8.6): 8 opaque bytes that V6 replies
//! carry. Its own module because it is not part of the ePID, only made and
//! shown alongside it.
use core::fmt;
use rand_core::Rng;

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
    use super::super::test_rng::TestRng;
    use std::string::ToString;

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
