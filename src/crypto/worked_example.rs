//! The worked example of spec §9.5, end to end: the V4 MACs, the V5 and V6
//! requests and responses byte for byte, and every V6 intermediate value.
//!
//! These exercise the public API exactly as the host and client code will
//! (fixed buffers, pad/encrypt in place, the "CBC with zero IV" decryption
//! shortcut of §5.4, and the two equivalent HMAC constructions of §6.4).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::test_util::{dump, hex};
use super::*;

// Dumps copied verbatim from §9.5 (the base request is given up to 0x8F;
// the rest of its 236 bytes is zero; the V6 plaintext omits 0x10..0x7F).

const BASE_REQUEST_V4: &str = "
0000: 00 00 04 00 00 00 00 00 02 00 00 00 C0 A8 00 00
0010: 34 27 C9 55 82 D6 71 4D 98 3E D6 EC 3F 16 05 9F
0020: 92 73 E6 2D A7 B7 2A 46 B1 CA 10 8D D1 89 F5 88
0030: 4F 13 E2 58 11 8E 17 4D 9C B2 91 06 9C 15 11 48
0040: 78 56 34 12 BC 9A EF 4D 81 23 45 67 89 AB CD EF
0050: 19 00 00 00 00 C0 89 76 45 3C DA 01 00 00 00 00
0060: 00 00 00 00 00 00 00 00 00 00 00 00 57 00 53 00
0070: 30 00 31 00 2E 00 65 00 78 00 61 00 6D 00 70 00
0080: 6C 00 65 00 2E 00 63 00 6F 00 6D 00 00 00 00 00
";

const RESPONSE_V4: &str = "
0000: 00 00 04 00 64 00 00 00 30 00 33 00 36 00 31 00
0010: 32 00 2D 00 30 00 30 00 32 00 30 00 36 00 2D 00
0020: 35 00 36 00 30 00 2D 00 31 00 32 00 33 00 34 00
0030: 35 00 36 00 2D 00 30 00 33 00 2D 00 31 00 30 00
0040: 33 00 33 00 2D 00 31 00 37 00 37 00 36 00 33 00
0050: 2E 00 30 00 30 00 30 00 30 00 2D 00 33 00 36 00
0060: 35 00 32 00 30 00 32 00 33 00 00 00 78 56 34 12
0070: BC 9A EF 4D 81 23 45 67 89 AB CD EF 00 C0 89 76
0080: 45 3C DA 01 32 00 00 00 78 00 00 00 60 27 00 00
0090: 9A EA 03 27 97 60 13 AF 9E AE 73 42 CE 10 A3 75
";

const REQUEST_V5: &str = "
0000: 00 00 05 00 00 01 02 03 04 05 06 07 08 09 0A 0B
0010: 0C 0D 0E 0F 95 3C CC DA 1E 87 C1 24 69 1C BB 4B
0020: D7 BB A5 F7 0B 4B 40 19 90 AD 01 1B F5 E1 0B F0
0030: 02 64 7E 0B F2 1D F4 94 40 8A 47 8B 8C F8 34 92
0040: 3F C5 9C F2 B3 75 2C 51 8B 62 49 88 20 68 27 B4
0050: F0 10 D1 B9 48 A0 D5 5B 0E CE AF 97 B2 7B EA 68
0060: D2 3F A0 6E 2F AB 15 32 3A F0 62 B2 00 C2 15 24
0070: 29 B9 7E E1 FB 52 04 30 CC C6 DE 53 E6 85 B7 BA
0080: 90 8D 57 33 C3 BB 71 83 EF 14 5E AC 74 13 81 A1
0090: B2 E3 21 59 72 0D A4 E7 E0 A2 27 8A C5 21 CC A0
00A0: A0 FE 1B 9E 33 6D CD 5F 39 99 68 05 FC 3F F1 5A
00B0: 28 CB BB 92 15 B4 83 37 92 AA A3 D7 CE 84 8F 25
00C0: 49 E3 18 4E A1 73 23 24 E4 E3 41 67 6D 7F 42 68
00D0: 1A 56 9B 35 A2 FD A0 D2 2D 27 78 69 3D 6A DD CE
00E0: 72 26 61 27 57 AB 67 77 72 8F 84 C0 B9 48 FD F0
00F0: 77 6B B5 FE B9 43 7C 21 03 BF 58 D3 6D 1F 95 A0
0100: 26 8A 02 49
";

const RESPONSE_V5: &str = "
0000: 00 00 05 00 00 01 02 03 04 05 06 07 08 09 0A 0B
0010: 0C 0D 0E 0F C0 06 24 2C D7 DC AD 6D 83 4E 77 0C
0020: EB B1 50 0E 3A 46 2D 40 42 E6 6D 50 0E E5 83 79
0030: 4B E0 B3 1A 3A 37 31 7D 15 EB 0B C8 E1 E2 0D D9
0040: A1 45 14 A3 B2 69 EA 08 90 6E 83 5E E1 C8 CB C8
0050: 62 74 37 E3 12 62 45 12 8C D1 D2 E4 21 CE 41 B5
0060: 38 11 F1 17 9B B7 44 8B 42 F4 1C D5 AE C3 18 C3
0070: 10 B7 DB 85 E4 0D 72 F2 A3 F2 9E 91 6F 37 6C 89
0080: 5D DA C2 5F B7 0C F2 CB 74 4D CC 03 19 4D E9 5C
0090: 2E D6 42 4E 27 3E 90 FE 5A 90 16 F1 71 A5 02 FB
00A0: F7 83 05 59 ED C1 22 DE D0 AE F1 55 47 7C 64 01
00B0: 29 34 7A 2F DE FF BE 11 3C BF 01 56 75 8E BC CC
00C0: B4 1D C5 67 AD 38 A3 40 3A B0 59 5B 83 7A 0C 11
00D0: 3C 0D 77 7E 4C D3 1B 65 5A 9E 50 F7 38 95 C5 CA
00E0: C5 8C 6F EE
";

const REQUEST_V6: &str = "
0000: 00 00 06 00 00 01 02 03 04 05 06 07 08 09 0A 0B
0010: 0C 0D 0E 0F 0E 9F D8 70 B2 8B 82 85 F7 36 F8 2C
0020: 6C D0 E0 6B 03 FC FF ED 0B 5B 85 DD 30 00 94 CA
0030: C3 6B E1 65 EE 8F 2E AA 55 53 E2 CB 07 D5 21 65
0040: F4 12 99 0E 41 CC 35 31 11 9F 72 A7 FB 4D BE 15
0050: 9F 2E A5 56 15 89 69 BE 3B 93 8A 71 73 61 42 0E
0060: 46 6C F7 B7 4A C7 62 65 DE E5 85 F1 70 12 63 42
0070: 9C 33 F9 56 2C A0 07 81 5E 2D 22 65 89 C2 04 63
0080: 66 A7 27 3E F0 50 AC 29 2F 83 0E 3B 27 3A 68 9A
0090: AA A1 00 D2 E9 FF 94 5D BF 06 31 37 9C 32 9D 09
00A0: CD DB 0F F3 46 02 09 5B 42 F7 86 39 7A AC 7D A1
00B0: 83 3A 69 01 56 9A E6 E3 61 44 5D 18 84 32 43 68
00C0: 9A 7C 3B 52 40 19 40 9A A5 37 5C DB 25 A7 22 A6
00D0: 6B 10 5C BF 3A B5 5C E9 64 5C D7 32 4E DD C4 20
00E0: EC 10 E7 9E A2 53 70 C9 09 10 5E 4C 2F 25 4F 4A
00F0: EC 37 3A D0 49 9C 85 43 71 27 D5 BB 79 C0 92 37
0100: 36 A9 41 96
";

const PLAINTEXT_V6: &str = "
0000: 00 00 06 00 64 00 00 00 30 00 33 00 36 00 31 00
0080: 45 3C DA 01 32 00 00 00 78 00 00 00 60 27 00 00
0090: 6C 58 BA 0A 70 04 88 72 DA 52 83 BB 84 B2 FA 4C
00A0: FC 2E 2C 73 07 2B FA 2B DA 03 FF 93 07 47 2D EB
00B0: D3 CC 81 05 02 8A 8A 9E 23 5E 35 BA 8D 2E 37 F4
00C0: 3A 1C 04 96 00 B6 00 76 7C 49 A8 19 64 11 9E 65
00D0: C2 4B 99 A0 98 AF E4 53 DA 8C 0B 0D 52 D5 26 BE
00E0: 9C 15 89 76 56 D4 B2 C4
";

const RESPONSE_V6: &str = "
0000: 00 00 06 00 20 21 22 23 24 25 26 27 28 29 2A 2B
0010: 2C 2D 2E 2F 48 00 A4 03 88 B2 8C 20 70 53 1B 33
0020: 06 ED 4A A3 DE D8 CD 37 3C A2 16 71 6C 01 6C 3C
0030: 5D E9 7E 9A 32 CE 2C D8 EB 7E 14 E8 43 1C 7D E6
0040: 10 D6 01 57 39 59 16 D3 16 2A 4C C6 19 DB 61 30
0050: 47 87 19 E1 CD 1A F4 55 18 2E 14 C3 62 C8 F7 29
0060: EA FD AC 6C 84 9B 68 BC 37 2A 86 69 91 B8 7B 78
0070: E7 EC 2D EC C4 B3 A1 46 18 58 BF 69 F8 8F 3B 6D
0080: 58 36 BF 6B 91 45 EF 12 56 19 3E 28 8D 39 21 72
0090: 24 47 66 B8 74 2B BE 11 92 1E 5D 90 B8 1D 21 3B
00A0: 43 9E 70 45 E1 AC 4D 2A 55 11 85 B1 20 EA 1D A3
00B0: 3C 87 20 93 4A C3 85 A2 60 66 37 D8 9B E6 0C 76
00C0: 50 19 B3 1E F4 92 20 4A 7E 8E DE 8C 34 8B B4 2B
00D0: B4 11 6E 09 4F 9F AF 30 F4 B7 4B 13 91 25 63 5A
00E0: E3 12 77 AE 1C FD FE 51 B0 C9 AF 6C 7A 89 F6 AA
00F0: 87 4F CE 5D B0 36 70 28 DF 72 9C 49 0F B9 82 3F
0100: 05 B0 9A 37
";

const REQUEST_TIME: u64 = 133_485_408_000_000_000;

fn iota(start: u8) -> Block {
    core::array::from_fn(|i| start + i as u8)
}

const REQUEST_IV: u8 = 0x00; // 00 01 … 0F
const SALT: u8 = 0x10; // R = 10 11 … 1F
const RESPONSE_IV: u8 = 0x20; // 20 21 … 2F

fn xor(a: &Block, b: &Block) -> Block {
    core::array::from_fn(|i| a[i] ^ b[i])
}

/// The 236-byte base request with the given major version.
fn base_request(major: u8) -> [u8; 236] {
    let (mut b, end) = dump::<236>(BASE_REQUEST_V4);
    assert_eq!(end, 0x90);
    b[2] = major;
    b
}

/// The 144-byte base response (P = 100) with the given major version.
fn base_response(major: u8) -> [u8; 144] {
    let (r, end) = dump::<160>(RESPONSE_V4);
    assert_eq!(end, 160);
    let mut b = [0u8; 144];
    b.copy_from_slice(&r[..144]);
    b[2] = major;
    b
}

fn wire<const N: usize>(d: &str) -> [u8; N] {
    let (b, end) = dump::<N>(d);
    assert_eq!(end, N);
    b
}

// ---- V4 -------------------------------------------------------------------

#[test]
fn v4_request_mac() {
    assert_eq!(
        v4_mac(&base_request(4)),
        hex::<16>("2B92E010AE558754AD0D410E4B21BC44")
    );
}

#[test]
fn v4_response_mac() {
    let resp = wire::<160>(RESPONSE_V4);
    assert_eq!(v4_mac(&resp[..144]), resp[144..]);
}

// ---- V5 / V6 requests -----------------------------------------------------

/// Client side: PKCS#7(base request) CBC-encrypted under the request IV.
fn check_request_encryption(v: KmsAes, major: u8, request: &[u8; 260]) {
    let iv = iota(REQUEST_IV);
    assert_eq!(request[..4], [0, 0, major, 0]);
    assert_eq!(request[4..20], iv);
    let mut buf = [0u8; 240];
    buf[..236].copy_from_slice(&base_request(major));
    assert_eq!(pkcs7_pad(&mut buf, 236), Some(240));
    assert_eq!(buf[236..], [4, 4, 4, 4]);
    v.cbc_encrypt(&iv, &mut buf);
    assert_eq!(buf, request[20..]);
}

/// Host side, §5.4 shortcut: CBC-decrypt `IV ‖ ciphertext` with a zero IV;
/// block 0 is D(IV), the rest the padded base request.
fn check_request_decryption(v: KmsAes, major: u8, request: &[u8; 260], d_iv: &str) {
    let mut buf = [0u8; 256];
    buf.copy_from_slice(&request[4..]);
    v.cbc_decrypt(&[0u8; 16], &mut buf);
    assert_eq!(buf[..16], hex::<16>(d_iv));
    assert_eq!(pkcs7_unpad(&buf[16..]), Some(236));
    assert_eq!(buf[16..252], base_request(major));
}

#[test]
fn v5_request_encrypts_to_spec_bytes() {
    check_request_encryption(KmsAes::V5, 5, &wire(REQUEST_V5));
}

#[test]
fn v5_request_host_decryption_shortcut() {
    check_request_decryption(
        KmsAes::V5,
        5,
        &wire(REQUEST_V5),
        "86BF207B6970EF43830E988FF1E6F329",
    );
}

#[test]
fn v6_request_encrypts_to_spec_bytes() {
    check_request_encryption(KmsAes::V6, 6, &wire(REQUEST_V6));
}

#[test]
fn v6_request_host_decryption_shortcut() {
    check_request_decryption(
        KmsAes::V6,
        6,
        &wire(REQUEST_V6),
        "7C49A81964119E65C24B99A098AFE453",
    );
}

// ---- V5 response ----------------------------------------------------------

#[test]
fn v5_response_encrypts_to_spec_bytes() {
    let response = wire::<228>(RESPONSE_V5);
    let iv = iota(REQUEST_IV);
    let salt = iota(SALT);
    let mut d_iv = iv;
    KmsAes::V5.decrypt_block(&mut d_iv);

    let mut buf = [0u8; 208];
    buf[..144].copy_from_slice(&base_response(5));
    buf[144..160].copy_from_slice(&xor(&salt, &d_iv));
    buf[160..192].copy_from_slice(&sha256(&salt));
    assert_eq!(pkcs7_pad(&mut buf, 192), Some(208));
    KmsAes::V5.cbc_encrypt(&iv, &mut buf);

    assert_eq!(response[..4], [0, 0, 5, 0]);
    assert_eq!(response[4..20], iv, "V5 response IV = request IV");
    assert_eq!(buf, response[20..]);
}

#[test]
fn v5_response_client_checks_pass() {
    let response = wire::<228>(RESPONSE_V5);
    let iv: Block = response[4..20].try_into().unwrap();
    let mut buf = [0u8; 208];
    buf.copy_from_slice(&response[20..]);
    KmsAes::V5.cbc_decrypt(&iv, &mut buf);
    assert_eq!(pkcs7_unpad(&buf), Some(192));
    assert_eq!(buf[..144], base_response(5));

    let mut d_own_iv = iota(REQUEST_IV);
    KmsAes::V5.decrypt_block(&mut d_own_iv);
    let r = xor(buf[144..160].try_into().unwrap(), &d_own_iv);
    assert_eq!(r, iota(SALT));
    assert_eq!(sha256(&r), buf[160..192]);
}

// ---- V6 response ----------------------------------------------------------

/// body = base response ‖ R⊕D6(IV) ‖ SHA-256(R) ‖ HwId ‖ D6(IV): 216 bytes.
fn v6_body() -> [u8; 216] {
    let salt = iota(SALT);
    let mut d_iv = iota(REQUEST_IV);
    KmsAes::V6.decrypt_block(&mut d_iv);
    let mut body = [0u8; 216];
    body[..144].copy_from_slice(&base_response(6));
    body[144..160].copy_from_slice(&xor(&salt, &d_iv));
    body[160..192].copy_from_slice(&sha256(&salt));
    body[192..200].copy_from_slice(&hex::<8>("3A 1C 04 96 00 B6 00 76"));
    body[200..216].copy_from_slice(&d_iv);
    body
}

#[test]
fn v6_intermediate_values_match_spec() {
    let salt = iota(SALT);
    let mut d_iv = iota(REQUEST_IV);
    KmsAes::V6.decrypt_block(&mut d_iv);
    assert_eq!(d_iv, hex::<16>("7C49A81964119E65C24B99A098AFE453"));
    assert_eq!(
        sha256(&salt),
        hex::<32>("FC2E2C73072BFA2BDA03FF9307472DEBD3CC8105028A8A9E235E35BA8D2E37F4")
    );
    assert_eq!(
        xor(&salt, &d_iv),
        hex::<16>("6C58BA0A70048872DA5283BB84B2FA4C")
    );

    let mut d_ivr = iota(RESPONSE_IV);
    KmsAes::V6.decrypt_block(&mut d_ivr);
    assert_eq!(d_ivr, hex::<16>("863A6543321F0A526FAC8D18A22BB34D"));

    let key = v6_hmac_key(REQUEST_TIME, 0);
    assert_eq!(key, hex::<16>("2E37461994584E155504B4D24DAD5DDF"));

    let body = v6_body();
    assert_eq!(
        v6_hmac::hmac_sha256(&key, &d_ivr, &body),
        hex::<32>("3017E11F06B6BF76227FC1E37E8506D6DA8C0B0D52D526BE9C15897656D4B2C4")
    );
    assert_eq!(
        v6_hmac(&key, &d_ivr, &body),
        hex::<16>("DA8C0B0D52D526BE9C15897656D4B2C4")
    );
}

/// body ‖ mac, checked against the (partial) plaintext dump of §9.5.
fn v6_plaintext() -> [u8; 232] {
    let body = v6_body();
    let mut d_ivr = iota(RESPONSE_IV);
    KmsAes::V6.decrypt_block(&mut d_ivr);
    let mac = v6_hmac(&v6_hmac_key(REQUEST_TIME, 0), &d_ivr, &body);
    let mut p = [0u8; 232];
    p[..216].copy_from_slice(&body);
    p[216..].copy_from_slice(&mac);
    p
}

#[test]
fn v6_plaintext_matches_spec_dump() {
    let (expected, end) = dump::<232>(PLAINTEXT_V6);
    assert_eq!(end, 232);
    let p = v6_plaintext();
    assert_eq!(p[..0x10], expected[..0x10]);
    assert_eq!(p[0x80..], expected[0x80..]);
}

#[test]
fn v6_response_encrypts_to_spec_bytes() {
    let response = wire::<260>(RESPONSE_V6);
    let ivr = iota(RESPONSE_IV);
    let mut buf = [0u8; 240];
    buf[..232].copy_from_slice(&v6_plaintext());
    assert_eq!(pkcs7_pad(&mut buf, 232), Some(240));
    assert_eq!(buf[232..], [8u8; 8]);
    KmsAes::V6.cbc_encrypt(&ivr, &mut buf);
    assert_eq!(response[..4], [0, 0, 6, 0]);
    assert_eq!(response[4..20], ivr);
    assert_eq!(buf, response[20..]);
}

/// vlmcsd's equivalent construction (§6.4): CBC-encrypt `X ‖ body ‖ mac ‖
/// padding` with a zero IV where `X = D6(IVr)`; the first output block is the
/// transmitted IV, the rest the transmitted ciphertext.
#[test]
fn v6_response_zero_iv_construction_is_equivalent() {
    let response = wire::<260>(RESPONSE_V6);
    let mut buf = [0u8; 256];
    let mut x = iota(RESPONSE_IV);
    KmsAes::V6.decrypt_block(&mut x);
    buf[..16].copy_from_slice(&x);
    buf[16..248].copy_from_slice(&v6_plaintext());
    assert_eq!(pkcs7_pad(&mut buf[16..], 232), Some(240));
    KmsAes::V6.cbc_encrypt(&[0u8; 16], &mut buf);
    assert_eq!(buf, response[4..]);
}

/// Client side (§6.4): decrypt with IVr, unpad, check the salt hash, the
/// XoredIVs and the HMAC for the echoed time (slot 0 matches, ±1 do not).
#[test]
fn v6_response_client_checks_pass() {
    let response = wire::<260>(RESPONSE_V6);
    let ivr: Block = response[4..20].try_into().unwrap();
    let mut buf = [0u8; 240];
    buf.copy_from_slice(&response[20..]);
    KmsAes::V6.cbc_decrypt(&ivr, &mut buf);
    assert_eq!(pkcs7_unpad(&buf), Some(232));
    let (body, mac) = buf[..232].split_at(216);
    assert_eq!(body[..144], base_response(6));

    let mut d_own_iv = iota(REQUEST_IV);
    KmsAes::V6.decrypt_block(&mut d_own_iv);
    let r = xor(body[144..160].try_into().unwrap(), &d_own_iv);
    assert_eq!(sha256(&r), body[160..192]);
    assert_eq!(body[200..216], d_own_iv);

    let echoed_time = u64::from_le_bytes(body[124..132].try_into().unwrap());
    assert_eq!(echoed_time, REQUEST_TIME);
    let mut d_ivr = ivr;
    KmsAes::V6.decrypt_block(&mut d_ivr);
    assert_eq!(v6_hmac(&v6_hmac_key(echoed_time, 0), &d_ivr, body), mac);
    for off in [-1, 1] {
        assert_ne!(v6_hmac(&v6_hmac_key(echoed_time, off), &d_ivr, body), mac);
    }
}
