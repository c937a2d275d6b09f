//! KMS cryptography (spec §7): the V4 MAC, the V5/V6 block ciphers with CBC
//! and PKCS#7, SHA-256 and the V6 HMAC.
//!
//! Everything is `no_std`, allocation-free and works on caller buffers in
//! place. All keys are public constants of the protocol (§7.1), so nothing
//! here is secret and table-based, non-constant-time code is acceptable.
//!
//! Layout:
//! * `rijndael` — compile-time tables and key schedules, a
//!   T-table Rijndael over arbitrary round keys (V4 and V6 need it).
//! * `v4` — Rijndael-160 CBC-MAC; `v5` — the `aes` crate (AES-NI/ARMv8)
//!   natively, the table code on wasm32 (see `v5.rs` for the measurements);
//!   `v6` — AES-128 with the modified schedule of §7.5 on the table code.
//! * `cbc_mode` — the `cbc` crate over either cipher; `padding` — PKCS#7.
//! * `hash`, `v6_hmac` — SHA-256 and the time-keyed V6 HMAC.

mod cbc_mode;
mod hash;
mod padding;
mod rijndael;
mod v4;
mod v5;
mod v6;
mod v6_hmac;

#[cfg(test)]
mod worked_example;

pub use hash::sha256;
pub use padding::{pkcs7_pad, pkcs7_unpad};
pub use v4::v4_mac;
pub use v6_hmac::{v6_hmac, v6_hmac_key};

/// One 16-byte cipher block.
pub type Block = [u8; 16];

/// The two AES-128 variants of KMS: V5 (standard AES-128, V5 key) and V6
/// (AES-128 with the modified key schedule of §7.5, V6 key). Keys are the
/// public constants of §7.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KmsAes {
    V5,
    V6,
}

impl KmsAes {
    /// Raw single-block encryption `E_v` (no chaining).
    #[inline]
    pub fn encrypt_block(self, block: &mut Block) {
        match self {
            KmsAes::V5 => v5::encrypt_block(block),
            KmsAes::V6 => v6::encrypt_block(block),
        }
    }

    /// Raw single-block decryption `D_v` (no chaining), e.g. `D(request IV)`.
    #[inline]
    pub fn decrypt_block(self, block: &mut Block) {
        match self {
            KmsAes::V5 => v5::decrypt_block(block),
            KmsAes::V6 => v6::decrypt_block(block),
        }
    }

    /// CBC-encrypts `buf` in place; `buf.len()` must be a multiple of 16
    /// (debug-asserted; a trailing partial block is left untouched). No
    /// padding is added here — see [`pkcs7_pad`].
    pub fn cbc_encrypt(self, iv: &Block, buf: &mut [u8]) {
        match self {
            KmsAes::V5 => v5::cbc_encrypt(iv, buf),
            KmsAes::V6 => v6::cbc_encrypt(iv, buf),
        }
    }

    /// CBC-decrypts `buf` in place; `buf.len()` a multiple of 16 (as for
    /// [`cbc_encrypt`](Self::cbc_encrypt)). No unpadding — see
    /// [`pkcs7_unpad`].
    pub fn cbc_decrypt(self, iv: &Block, buf: &mut [u8]) {
        match self {
            KmsAes::V5 => v5::cbc_decrypt(iv, buf),
            KmsAes::V6 => v6::cbc_decrypt(iv, buf),
        }
    }
}

/// Hex helpers for the test modules of this directory.
#[cfg(test)]
pub(crate) mod test_util {
    /// Parses hex digits into `out`, skipping whitespace; returns how many
    /// bytes were written. Panics on anything else.
    pub(crate) fn parse_hex(s: &str, out: &mut [u8]) -> usize {
        let mut n = 0;
        let mut hi: Option<u8> = None;
        for c in s.chars().filter(|c| !c.is_whitespace()) {
            let d = c
                .to_digit(16)
                .unwrap_or_else(|| panic!("bad hex digit {c:?}")) as u8;
            match hi.take() {
                None => hi = Some(d),
                Some(h) => {
                    out[n] = h << 4 | d;
                    n += 1;
                }
            }
        }
        assert!(hi.is_none(), "odd number of hex digits");
        n
    }

    /// Exactly `N` bytes of hex.
    pub(crate) fn hex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        assert_eq!(parse_hex(s, &mut out), N, "hex length");
        out
    }

    /// A hex dump as printed in the spec (`0010: 34 27 …` per line): each
    /// line's bytes are placed at its offset; bytes not covered stay zero.
    /// Returns the array and the end of the last line.
    pub(crate) fn dump<const N: usize>(s: &str) -> ([u8; N], usize) {
        let mut out = [0u8; N];
        let mut end = 0;
        for line in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (off, bytes) = line.split_once(':').expect("dump line without offset");
            let off = usize::from_str_radix(off, 16).expect("dump offset");
            end = off + parse_hex(bytes, &mut out[off..]);
        }
        (out, end)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::test_util::hex;
    use super::*;

    const BOTH: [KmsAes; 2] = [KmsAes::V5, KmsAes::V6];

    #[test]
    fn block_round_trip_both_variants() {
        for v in BOTH {
            let mut b: Block = core::array::from_fn(|i| (i * 13) as u8);
            let orig = b;
            v.encrypt_block(&mut b);
            assert_ne!(b, orig);
            v.decrypt_block(&mut b);
            assert_eq!(b, orig, "{v:?}");
        }
    }

    /// §9.2 through the public API.
    #[test]
    fn public_api_single_blocks() {
        let mut b = [0u8; 16];
        KmsAes::V5.encrypt_block(&mut b);
        assert_eq!(b, hex::<16>("EC7C7E75B1923978EAC4B2D2260235D5"));
        let mut b = [0u8; 16];
        KmsAes::V6.encrypt_block(&mut b);
        assert_eq!(b, hex::<16>("8CA59DE0C483C04AA7026A22D6DD208E"));
        let mut b: Block = core::array::from_fn(|i| i as u8);
        KmsAes::V5.decrypt_block(&mut b);
        assert_eq!(b, hex::<16>("86BF207B6970EF43830E988FF1E6F329"));
        let mut b: Block = core::array::from_fn(|i| i as u8);
        KmsAes::V6.decrypt_block(&mut b);
        assert_eq!(b, hex::<16>("7C49A81964119E65C24B99A098AFE453"));
    }

    #[test]
    fn cbc_round_trip_both_variants() {
        for v in BOTH {
            for blocks in [0usize, 1, 2, 15, 16] {
                let iv: Block = core::array::from_fn(|i| 0xF0 ^ i as u8);
                let mut buf = [0u8; 256];
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = (i as u8).wrapping_mul(17);
                }
                let orig = buf;
                let n = blocks * 16;
                v.cbc_encrypt(&iv, &mut buf[..n]);
                if n > 0 {
                    assert_ne!(buf[..n], orig[..n]);
                }
                assert_eq!(buf[n..], orig[n..], "bytes past the slice untouched");
                v.cbc_decrypt(&iv, &mut buf[..n]);
                assert_eq!(buf, orig, "{v:?} {blocks} blocks");
            }
        }
    }

    /// Pad, encrypt, decrypt, unpad: the full V5/V6 message path.
    #[test]
    fn padded_cbc_round_trip_both_variants() {
        for v in BOTH {
            for len in [0usize, 1, 15, 16, 17, 236, 240] {
                let mut buf = [0u8; 256];
                for (i, b) in buf[..len].iter_mut().enumerate() {
                    *b = i as u8;
                }
                let padded = pkcs7_pad(&mut buf, len).unwrap();
                assert_eq!(padded, (len / 16 + 1) * 16);
                let iv = [0x5Au8; 16];
                v.cbc_encrypt(&iv, &mut buf[..padded]);
                v.cbc_decrypt(&iv, &mut buf[..padded]);
                assert_eq!(pkcs7_unpad(&buf[..padded]), Some(len));
                assert!(buf[..len].iter().enumerate().all(|(i, &b)| b == i as u8));
            }
        }
    }

    /// The variants really differ.
    #[test]
    fn v5_and_v6_differ() {
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        KmsAes::V5.encrypt_block(&mut a);
        KmsAes::V6.encrypt_block(&mut b);
        assert_ne!(a, b);
    }
}
