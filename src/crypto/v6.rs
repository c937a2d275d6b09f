//! KMS V6: AES-128 with a modified key schedule (§7.5).
//!
//! The V6 key is expanded with the normal AES-128 schedule, then one byte of
//! round keys 4, 6 and 8 is XORed with a constant. Everything else (10
//! rounds, CBC, PKCS#7) is standard, so the cipher is our table
//! [`Rijndael`] with those round keys, built entirely at compile time; its
//! decryption keys are derived from the *modified* keys.

use super::Block;
use super::cbc_mode;
use super::rijndael::{Rijndael, expand_key};

/// The public KMS V6 key (§7.1).
pub(crate) const V6_KEY: [u8; 16] = [
    0xA9, 0x4A, 0x41, 0x95, 0xE2, 0x01, 0x43, 0x2D, 0x9B, 0xCB, 0x46, 0x04, 0x05, 0xD8, 0x4A, 0x21,
];

/// §7.5: (round key, XOR mask) for byte 0 of the round key, i.e. schedule
/// bytes 64, 96 and 128.
const SCHEDULE_TWEAKS: [(usize, u8); 3] = [(4, 0x73), (6, 0x09), (8, 0xE4)];

const fn v6_cipher() -> Rijndael<11> {
    let mut rk = expand_key::<11>(&V6_KEY);
    let mut i = 0;
    while i < SCHEDULE_TWEAKS.len() {
        let (r, mask) = SCHEDULE_TWEAKS[i];
        // Byte 0 of a round key is the low byte of its first LE word.
        rk[r][0] ^= mask as u32;
        i += 1;
    }
    Rijndael::from_round_keys(rk)
}

/// The V6 cipher, fully precomputed.
pub(crate) static V6: Rijndael<11> = v6_cipher();

#[inline]
pub(crate) fn encrypt_block(block: &mut Block) {
    V6.encrypt(block);
}

#[inline]
pub(crate) fn decrypt_block(block: &mut Block) {
    V6.decrypt(block);
}

/// CBC through the `cbc` crate, driving [`V6`] via its `cipher` traits.
pub(crate) fn cbc_encrypt(iv: &Block, buf: &mut [u8]) {
    cbc_mode::encrypt(&V6, iv, buf);
}

pub(crate) fn cbc_decrypt(iv: &Block, buf: &mut [u8]) {
    cbc_mode::decrypt(&V6, iv, buf);
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::crypto::test_util::hex;

    fn iota(start: u8) -> Block {
        core::array::from_fn(|i| start + i as u8)
    }

    /// §9.1, including the three modified bytes.
    #[test]
    fn v6_key_schedule_matches_spec() {
        let expected = [
            "A94A4195E201432D9BCB460405D84A21",
            "C99CBCFE2B9DFFD3B056B9D7B58EF3F6",
            "D291FE2BF90C01F8495AB82FFCD44BD9",
            "9E22CB9B672ECA632E74724CD2A03995",
            "0530E12E111E2B4D3F6A5901EDCA6094",
            "12E0C37B03FEE8363C94B137D15ED1A3",
            "63DEC9456920217355B4904484EA41E7",
            "AD5D5D1AC47D7C6991C9EC2D1523ADCA",
            "EFC82943CFB5552A5E7CB9074B5F14CD",
            "DF3294F01087C1DA4EFB78DD05A46C10",
            "A0625E9BB0E59F41FE1EE79CFBBA8B8C",
        ];
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(V6.round_key(i), hex::<16>(e), "rk[{i}]");
        }
        // The unmodified schedule differs exactly in those three bytes.
        let plain: Rijndael<11> = Rijndael::new(&V6_KEY);
        assert_eq!(plain.round_key(4)[0], 0x76);
        assert_eq!(plain.round_key(6)[0], 0x6A);
        assert_eq!(plain.round_key(8)[0], 0x0B);
    }

    /// §9.2 single blocks.
    #[test]
    fn v6_single_blocks_match_spec() {
        let mut b = [0u8; 16];
        encrypt_block(&mut b);
        assert_eq!(b, hex::<16>("8CA59DE0C483C04AA7026A22D6DD208E"));
        decrypt_block(&mut b);
        assert_eq!(b, [0u8; 16]);

        let mut b = iota(0);
        encrypt_block(&mut b);
        assert_eq!(b, hex::<16>("CA89CA11B2C4E77A94E806AF17136B38"));
        decrypt_block(&mut b);
        assert_eq!(b, iota(0));

        let mut b = [0u8; 16];
        decrypt_block(&mut b);
        assert_eq!(b, hex::<16>("8A1A5B385CAAFF8DD0CE3913D2CBC26F"));
    }

    /// §9.5: D6(request IV 00..0F) and D6(response IV 20..2F).
    #[test]
    fn v6_decrypted_ivs_match_spec() {
        let mut b = iota(0x00);
        decrypt_block(&mut b);
        assert_eq!(b, hex::<16>("7C49A81964119E65C24B99A098AFE453"));
        let mut b = iota(0x20);
        decrypt_block(&mut b);
        assert_eq!(b, hex::<16>("863A6543321F0A526FAC8D18A22BB34D"));
    }

    /// The `cbc`-crate path equals a hand-written CBC loop over the block
    /// functions, and round-trips.
    #[test]
    fn v6_cbc_matches_manual_chaining() {
        let iv = iota(0x90);
        let mut buf: [u8; 80] = core::array::from_fn(|i| (i as u8).wrapping_mul(31));
        let plain = buf;
        cbc_encrypt(&iv, &mut buf);

        let mut prev = iv;
        for (p, c) in plain.chunks_exact(16).zip(buf.chunks_exact(16)) {
            let mut x: Block = core::array::from_fn(|i| p[i] ^ prev[i]);
            encrypt_block(&mut x);
            assert_eq!(&x[..], c);
            prev = x;
        }

        cbc_decrypt(&iv, &mut buf);
        assert_eq!(buf, plain);
    }
}
