//! KMS V4 MAC: CBC-MAC over Rijndael with a 160-bit key and 11 rounds (§7.3).
//!
//! V4 messages travel in the clear; the MAC (vlmcsd calls it "CMAC", but no
//! CMAC subkeys are involved) is the only cryptography. `aes` cannot do a
//! 160-bit key, hence the generic [`Rijndael`] with `Nk = 5`, whose schedule
//! (12 round keys) is computed at compile time.

use super::Block;
use super::rijndael::Rijndael;

/// The public 160-bit V4 MAC key (§7.1).
pub(crate) const V4_KEY: [u8; 20] = [
    0x05, 0x3D, 0x83, 0x07, 0xF9, 0xE5, 0xF0, 0x88, 0xEB, 0x5E, 0xA6, 0x68, 0x6C, 0xF0, 0x37, 0xC7,
    0xE4, 0xEF, 0xD2, 0xD6,
];

/// Rijndael-160: Nk = 5, Nr = 11, 12 round keys.
pub(crate) static V4: Rijndael<12> = Rijndael::new(&V4_KEY);

/// V4 CBC-MAC over Rijndael-160 with ISO/IEC 9797-1 method-2 padding: a
/// `0x80` byte is always appended, then zeros to a block boundary, so a
/// message of a whole number of blocks gets one extra `80 00 … 00` block.
pub fn v4_mac(msg: &[u8]) -> Block {
    let mut mac = [0u8; 16];
    let mut chunks = msg.chunks_exact(16);
    for chunk in &mut chunks {
        for (m, b) in mac.iter_mut().zip(chunk) {
            *m ^= b;
        }
        V4.encrypt(&mut mac);
    }
    let rem = chunks.remainder();
    for (m, b) in mac.iter_mut().zip(rem) {
        *m ^= b;
    }
    mac[rem.len()] ^= 0x80; // rem.len() < 16
    V4.encrypt(&mut mac);
    mac
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::crypto::test_util::hex;

    /// §9.1: the 12 round keys of Rijndael-160.
    #[test]
    fn v4_key_schedule_matches_spec() {
        let expected = [
            "053D8307F9E5F088EB5EA6686CF037C7",
            "E4EFD2D6DB88756E226D85E6C933238E",
            "A5C31449412CC69FA83CAEED8A512B0B",
            "43620885E6A11CCCA78DDA53F16B43B1",
            "7B3A68BA3858603FDEF97CF37974A6A0",
            "6B4FA3071075CBBD282DAB82F6D4D771",
            "8FA071D19BEC9D748B9956C9A3B4FD4B",
            "55602A3ADAC05BEB01D574238A4C22EA",
            "29F8DFA17C98F59BA658AE702B312507",
            "A17D07ED8885D84CF41D2DD7524583A7",
            "C5DD790764A07EEAEC25A6A618388B71",
            "4A7D08D621ED8FD1454DF13BA968579D",
        ];
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(V4.round_key(i), hex::<16>(e), "rk[{i}]");
        }
    }

    /// §9.2 single blocks.
    #[test]
    fn v4_single_blocks_match_spec() {
        let mut b = [0u8; 16];
        V4.encrypt(&mut b);
        assert_eq!(b, hex::<16>("933030F10E2E7782B80915D5778A4957"));
        V4.decrypt(&mut b);
        assert_eq!(b, [0u8; 16]);

        let iota: Block = core::array::from_fn(|i| i as u8);
        let mut b = iota;
        V4.encrypt(&mut b);
        assert_eq!(b, hex::<16>("28916E4A0EE525B42CF393CAE0F4DC9A"));
        V4.decrypt(&mut b);
        assert_eq!(b, iota);

        let mut b = [0u8; 16];
        V4.decrypt(&mut b);
        assert_eq!(b, hex::<16>("ED598A4EB5901E33DD8CA442E4EB4B06"));
    }

    /// §9.3, including the empty message and the whole-block cases.
    #[test]
    fn v4_mac_vectors_match_spec() {
        assert_eq!(v4_mac(b""), hex::<16>("D144963029E2BD12F9970C9F52B27F09"));
        assert_eq!(
            v4_mac(&[0u8; 16]),
            hex::<16>("2A090D7C1155251AB86445447D060335")
        );
        assert_eq!(
            v4_mac(b"KMS"),
            hex::<16>("D824EAD5CAA9C99AA40FDD5AFD30CF49")
        );
        let m: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(v4_mac(&m), hex::<16>("63A8205F72A50CD39BE8C47BF15B1D07"));
    }

    /// The padding rule spelled out: a 15-byte message gets `80` to fill one
    /// block, whereas the same 16 bytes given as the message get a second,
    /// `80 00 … 00` block and hence a different MAC.
    #[test]
    fn v4_mac_padding_boundaries() {
        let m15 = [0xAAu8; 15];
        let mut padded = [0u8; 16];
        padded[..15].copy_from_slice(&m15);
        padded[15] = 0x80;
        let mut expected = padded;
        V4.encrypt(&mut expected);
        assert_eq!(v4_mac(&m15), expected);
        assert_ne!(v4_mac(&padded), expected);
    }
}
