//! PKCS#7 padding for the 16-byte blocks of V5/V6 (§5.4, §6.3, §6.4).
//!
//! Kept separate from CBC because the protocol code builds messages in its
//! own fixed buffers: it writes the plaintext, pads in place, then encrypts
//! in place, and never needs a second buffer. Keys are public, so there is no
//! padding-oracle secret to protect and a plain early-return check is fine.

/// Writes PKCS#7 padding after `buf[..len]` (always 1..=16 bytes, a full
/// block when `len` is already a multiple of 16) and returns the padded
/// length, or `None` if `buf` is too short to hold it.
pub fn pkcs7_pad(buf: &mut [u8], len: usize) -> Option<usize> {
    let pad = 16 - len % 16;
    let padded = len.checked_add(pad)?;
    buf.get_mut(len..padded)?.fill(pad as u8);
    Some(padded)
}

/// Validates the PKCS#7 padding of `buf` (a non-zero multiple of 16 bytes)
/// and returns the unpadded length, or `None` if the length or the padding
/// is invalid (pad byte 0 or > 16, or pad bytes not all equal).
pub fn pkcs7_unpad(buf: &[u8]) -> Option<usize> {
    if buf.is_empty() || !buf.len().is_multiple_of(16) {
        return None;
    }
    let n = usize::from(*buf.last()?);
    if n == 0 || n > 16 {
        return None;
    }
    let start = buf.len() - n;
    buf[start..]
        .iter()
        .all(|&b| usize::from(b) == n)
        .then_some(start)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn pad_partial_block() {
        let mut buf = [0xEEu8; 48];
        assert_eq!(pkcs7_pad(&mut buf, 236 % 48), Some(48)); // 44 bytes -> 4 x 04
        assert_eq!(&buf[44..], &[4, 4, 4, 4]);
        assert_eq!(buf[43], 0xEE);

        let mut buf = [0u8; 16];
        assert_eq!(pkcs7_pad(&mut buf, 15), Some(16));
        assert_eq!(buf[15], 1);
    }

    #[test]
    fn pad_whole_block_adds_full_block() {
        let mut buf = [0xEEu8; 32];
        assert_eq!(pkcs7_pad(&mut buf, 16), Some(32));
        assert_eq!(&buf[16..], &[16u8; 16]);
        assert_eq!(&buf[..16], &[0xEEu8; 16]);

        let mut buf = [0u8; 16];
        assert_eq!(pkcs7_pad(&mut buf, 0), Some(16));
        assert_eq!(buf, [16u8; 16]);
    }

    #[test]
    fn pad_rejects_short_buffer() {
        let mut buf = [0u8; 16];
        assert_eq!(pkcs7_pad(&mut buf, 16), None);
        let mut buf = [0u8; 30];
        assert_eq!(pkcs7_pad(&mut buf, 17), None);
        assert_eq!(pkcs7_pad(&mut buf, 100), None);
        assert_eq!(pkcs7_pad(&mut buf, usize::MAX), None);
        assert_eq!(buf, [0u8; 30], "nothing written on failure");
    }

    #[test]
    fn unpad_valid() {
        let mut buf = [0x11u8; 32];
        let n = pkcs7_pad(&mut buf, 29).unwrap();
        assert_eq!(pkcs7_unpad(&buf[..n]), Some(29));
        assert_eq!(pkcs7_unpad(&[16u8; 16]), Some(0));
        let mut b = [0u8; 16];
        b[15] = 1;
        assert_eq!(pkcs7_unpad(&b), Some(15));
    }

    #[test]
    fn unpad_rejects_bad_padding() {
        let mut b = [0u8; 16];
        assert_eq!(pkcs7_unpad(&b), None, "pad byte 0");
        b[15] = 17;
        assert_eq!(pkcs7_unpad(&b), None, "pad byte > 16");
        b[14] = 2;
        b[15] = 3;
        b[13] = 3;
        assert_eq!(pkcs7_unpad(&b), None, "unequal pad bytes");
        let mut b = [0u8; 32];
        b[31] = 0xFF;
        assert_eq!(pkcs7_unpad(&b), None);
        let mut b = [16u8; 16];
        b[0] = 15;
        assert_eq!(pkcs7_unpad(&b), None, "full pad block with one wrong byte");
    }

    #[test]
    fn unpad_rejects_bad_length() {
        assert_eq!(pkcs7_unpad(&[]), None);
        assert_eq!(pkcs7_unpad(&[1u8; 15]), None);
        assert_eq!(pkcs7_unpad(&[1u8; 17]), None);
    }
}
