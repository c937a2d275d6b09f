//! The V6 response HMAC (§6.4) and its time-derived key (§7.6).
//!
//! V6 authenticates the response body with HMAC-SHA256 under a key derived
//! from the request's FILETIME (not the host clock, so clock skew cannot break
//! it), and transmits only the last 16 bytes of the 32-byte tag.

use super::hash::sha256;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Length of a key time slot in FILETIME units (100 ns): ≈ 4 h 07 min.
const C1: u64 = 0x0000_0022_8168_89BD;
const C2: u64 = 0x0000_0020_8CBA_B5ED;
const C3: u64 = 0x3156_CD5A_C628_477A;

/// V6 HMAC key for a request time (FILETIME), §7.6:
/// `SHA-256(le64((T / C1) * C2 + C3 + slot_offset * C1))[16..32]`, wrapping.
///
/// A host always uses `slot_offset = 0`; a verifier (vlmcs) also tries -1 and
/// +1. The offset is added after the multiply/add, i.e. the slot *value*
/// moves by ± C1 — exactly as vlmcs computes it (the key of the adjacent
/// C1 period would instead differ by C2; we reproduce vlmcs, not intent).
pub fn v6_hmac_key(request_time: u64, slot_offset: i8) -> [u8; 16] {
    let slot = (request_time / C1)
        .wrapping_mul(C2)
        .wrapping_add(C3)
        .wrapping_add(C1.wrapping_mul(i64::from(slot_offset) as u64));
    let digest = sha256(&slot.to_le_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[16..]);
    key
}

/// Full HMAC-SHA256 of `first ‖ rest` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], first: &[u8], rest: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(first);
    mac.update(rest);
    mac.finalize().into_bytes().into()
}

/// The transmitted V6 HMAC: bytes 16..32 of `HMAC-SHA256(key, first ‖ rest)`
/// (§6.4). Two message parts so that callers can pass `D6(IVr)` and the body
/// without building a concatenation buffer.
pub fn v6_hmac(key: &[u8; 16], first: &[u8], rest: &[u8]) -> [u8; 16] {
    let full = hmac_sha256(key, first, rest);
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[16..]);
    out
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::crypto::test_util::hex;

    /// 2024-01-01T00:00:00Z.
    const T: u64 = 133_485_408_000_000_000;

    /// §9.4: slot values and keys for offsets -1, 0, +1.
    #[test]
    fn v6_hmac_keys_match_spec() {
        assert_eq!(T / C1, 900_711);
        let slot0 = (T / C1).wrapping_mul(C2).wrapping_add(C3);
        assert_eq!(slot0, 0x3316_2861_3556_5FD5);
        assert_eq!(slot0 - C1, 0x3316_283E_B3ED_D618);
        assert_eq!(slot0 + C1, 0x3316_2883_B6BE_E992);

        assert_eq!(
            v6_hmac_key(T, -1),
            hex::<16>("FFD3FD3518ADBE5675BA3F0686B62FF2")
        );
        assert_eq!(
            v6_hmac_key(T, 0),
            hex::<16>("2E37461994584E155504B4D24DAD5DDF")
        );
        assert_eq!(
            v6_hmac_key(T, 1),
            hex::<16>("81142CE06ABF6E8445B98417E9E694FC")
        );
    }

    /// Times within one C1 period share a key. The ±1 offsets move the slot
    /// *value* by ±C1 (what vlmcs does), which is not the key of the adjacent
    /// period (that slot value differs by C2): pin that quirk down.
    #[test]
    fn v6_hmac_key_slot_boundaries() {
        let start = (T / C1) * C1;
        assert_eq!(v6_hmac_key(start, 0), v6_hmac_key(start + C1 - 1, 0));
        assert_ne!(v6_hmac_key(start - 1, 0), v6_hmac_key(start, 0));

        let next_period_slot = (T / C1 + 1).wrapping_mul(C2).wrapping_add(C3);
        let digest = sha256(&next_period_slot.to_le_bytes());
        assert_eq!(v6_hmac_key(start + C1, 0), digest[16..]);
        assert_ne!(v6_hmac_key(start + C1, 0), v6_hmac_key(T, 1));

        // Extreme inputs wrap rather than panic.
        let _ = v6_hmac_key(u64::MAX, i8::MAX);
        let _ = v6_hmac_key(0, i8::MIN);
    }

    /// RFC 4231 test case 2, also split at every point of the message.
    #[test]
    fn hmac_sha256_rfc4231_case2() {
        let msg = b"what do ya want for nothing?";
        let expected =
            hex::<32>("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        for split in 0..=msg.len() {
            let (a, b) = msg.split_at(split);
            assert_eq!(hmac_sha256(b"Jefe", a, b), expected);
        }
    }

    #[test]
    fn v6_hmac_is_second_half_of_full_hmac() {
        let key = [0x0bu8; 16];
        let full = hmac_sha256(&key, b"Hi ", b"There");
        assert_eq!(v6_hmac(&key, b"Hi There", b""), full[16..]);
    }
}
