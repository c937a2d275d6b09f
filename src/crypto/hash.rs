//! SHA-256 (`sha2`), used for the V5/V6 `Hash` field (`SHA-256(R)`, §6.3)
//! and for the V6 HMAC key (§7.6). A thin wrapper so that callers deal in
//! plain arrays rather than `digest`'s generic array types.

use sha2::{Digest, Sha256};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::crypto::test_util::hex;

    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            sha256(b""),
            hex::<32>("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(
            sha256(b"abc"),
            hex::<32>("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }

    /// §9.5: SHA-256 of the salt R = 10 11 … 1F.
    #[test]
    fn sha256_of_worked_example_salt() {
        let r: [u8; 16] = core::array::from_fn(|i| 0x10 + i as u8);
        assert_eq!(
            sha256(&r),
            hex::<32>("FC2E2C73072BFA2BDA03FF9307472DEBD3CC8105028A8A9E235E35BA8D2E37F4")
        );
    }
}
