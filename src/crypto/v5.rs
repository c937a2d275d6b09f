//! KMS V5: plain AES-128 with a public key (§7.1, §7.4).
//!
//! Two interchangeable backends, both driven through the `cbc` crate:
//!
//! * On x86/x86-64/AArch64 the `aes` crate (`Aes128Enc`/`Aes128Dec`): V5 is
//!   standard AES, so the audited RustCrypto code with AES-NI/ARMv8 can be
//!   used unchanged. Its key schedule cannot be a compile-time constant (the
//!   backend is picked at runtime), so each call expands the key once; the
//!   encrypt-only / decrypt-only types compute only the half that is needed.
//! * Elsewhere — in practice wasm32 — our compile-time-keyed table
//!   [`Rijndael`](super::rijndael::Rijndael). There `aes` falls back to its
//!   constant-time bitsliced code, which is pointless for a public key and
//!   measured ~1.1 µs per key expansion and ~520 ns per serial CBC block in
//!   Node, i.e. ~7.6 µs of crypto per V5 activation against a budget of a
//!   few µs; the table code does the same work in ~90–110 ns per block with
//!   no key expansion at all.
//!
//! The tests check both against the spec vectors (and, natively, against
//! each other).

use super::Block;

/// The public KMS V5 AES-128 key (§7.1).
pub(crate) const V5_KEY: [u8; 16] = [
    0xCD, 0x7E, 0x79, 0x6F, 0x2A, 0xB2, 0x5D, 0xCB, 0x55, 0xFF, 0xC8, 0xEF, 0x83, 0x64, 0xC4, 0x70,
];

#[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
mod imp {
    use super::{Block, V5_KEY};
    use crate::crypto::cbc_mode;
    use aes::{Aes128Dec, Aes128Enc};
    use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};

    #[inline]
    fn enc() -> Aes128Enc {
        Aes128Enc::new(&V5_KEY.into())
    }

    #[inline]
    fn dec() -> Aes128Dec {
        Aes128Dec::new(&V5_KEY.into())
    }

    pub(crate) fn encrypt_block(block: &mut Block) {
        enc().encrypt_block(block.into());
    }

    pub(crate) fn decrypt_block(block: &mut Block) {
        dec().decrypt_block(block.into());
    }

    pub(crate) fn cbc_encrypt(iv: &Block, buf: &mut [u8]) {
        cbc_mode::encrypt(enc(), iv, buf);
    }

    pub(crate) fn cbc_decrypt(iv: &Block, buf: &mut [u8]) {
        cbc_mode::decrypt(dec(), iv, buf);
    }
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    use super::{Block, V5_KEY};
    use crate::crypto::cbc_mode;
    use crate::crypto::rijndael::Rijndael;

    /// Standard AES-128 with the V5 key, schedule computed at compile time.
    static V5: Rijndael<11> = Rijndael::new(&V5_KEY);

    #[inline]
    pub(crate) fn encrypt_block(block: &mut Block) {
        V5.encrypt(block);
    }

    #[inline]
    pub(crate) fn decrypt_block(block: &mut Block) {
        V5.decrypt(block);
    }

    pub(crate) fn cbc_encrypt(iv: &Block, buf: &mut [u8]) {
        cbc_mode::encrypt(&V5, iv, buf);
    }

    pub(crate) fn cbc_decrypt(iv: &Block, buf: &mut [u8]) {
        cbc_mode::decrypt(&V5, iv, buf);
    }
}

pub(crate) use imp::{cbc_decrypt, cbc_encrypt, decrypt_block, encrypt_block};

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::crypto::rijndael::Rijndael;
    use crate::crypto::test_util::hex;

    /// Our table implementation with the V5 key: natively an independent
    /// oracle for the `aes` crate (on wasm32 it is the backend itself).
    const TABLE_V5: Rijndael<11> = Rijndael::new(&V5_KEY);

    /// §9.1: the V5 schedule is the standard one (checked through our
    /// generic expansion, which `aes` does not expose).
    #[test]
    fn v5_key_schedule_matches_spec() {
        let expected = [
            "CD7E796F2AB25DCB55FFC8EF8364C470",
            "8F622883A5D07548F02FBDA7734B79D7",
            "3ED4260C9B0453446B2BEEE318609734",
            "EA5C3EA171586DE51A73830602131432",
            "9FA61DD6EEFE7033F48DF335F69EE707",
            "8432D8946ACCA8A79E415B9268DFBC95",
            "3A57F2D1509B5A76CEDA01E4A605BD71",
            "112D51F541B60B838F6C0A672969B716",
            "6884165029321DD3A65E17B48F37A0A2",
            "E9642C23C05631F066082644E93F86E6",
            "AA20A23D6A7693CD0C7EB589E541336F",
        ];
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(TABLE_V5.round_key(i), hex::<16>(e), "rk[{i}]");
        }
    }

    /// §9.2 single blocks, plus §9.5's D5(00..0F).
    #[test]
    fn v5_single_blocks_match_spec() {
        let mut b = [0u8; 16];
        encrypt_block(&mut b);
        assert_eq!(b, hex::<16>("EC7C7E75B1923978EAC4B2D2260235D5"));

        let mut b: Block = core::array::from_fn(|i| i as u8);
        encrypt_block(&mut b);
        assert_eq!(b, hex::<16>("8D77CB43633C62CBE1D15D570C23DC75"));

        let mut b = [0u8; 16];
        decrypt_block(&mut b);
        assert_eq!(b, hex::<16>("9F1680F29FEED1274E875C9D86D107AF"));

        let mut b: Block = core::array::from_fn(|i| i as u8);
        decrypt_block(&mut b);
        assert_eq!(b, hex::<16>("86BF207B6970EF43830E988FF1E6F329"));
    }

    /// The backend (natively the `aes` crate) and our table implementation
    /// agree on many blocks in both directions.
    #[test]
    fn v5_backend_matches_table_implementation() {
        let mut x: Block = [0x3c; 16];
        for _ in 0..200 {
            let mut a = x;
            let mut t = x;
            encrypt_block(&mut a);
            TABLE_V5.encrypt(&mut t);
            assert_eq!(a, t);
            let mut a2 = x;
            let mut t2 = x;
            decrypt_block(&mut a2);
            TABLE_V5.decrypt(&mut t2);
            assert_eq!(a2, t2);
            x = a;
        }
    }

    #[test]
    fn v5_cbc_matches_manual_chaining() {
        let iv: Block = core::array::from_fn(|i| (i * 7) as u8);
        let mut buf = [0u8; 64];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = i as u8 ^ 0xa5;
        }
        let plain = buf;
        cbc_encrypt(&iv, &mut buf);

        let mut prev = iv;
        for (p, c) in plain.chunks_exact(16).zip(buf.chunks_exact(16)) {
            let mut x: Block = core::array::from_fn(|i| p[i] ^ prev[i]);
            TABLE_V5.encrypt(&mut x);
            assert_eq!(&x[..], c);
            prev = x;
        }

        cbc_decrypt(&iv, &mut buf);
        assert_eq!(buf, plain);
    }
}
