//! A small table-based Rijndael (128-bit block) parametrised by its round keys.
//!
//! Why not the `aes` crate: KMS V6 runs AES-128 with three bytes of the key
//! schedule flipped (§7.5) and the V4 MAC runs Rijndael with a 160-bit key and
//! 11 rounds (§7.2); `aes` offers neither custom round keys nor 160-bit keys.
//! Everything here is built at compile time by `const fn` (S-boxes, T-tables,
//! the fixed key schedules of the callers), so there is no runtime
//! initialisation, no `static mut` and no allocation.
//!
//! Why T-tables: every KMS key is a public constant (§7.1), so there is no
//! secret for a cache-timing attack to recover; the classic four-table
//! implementation is the fastest portable choice (it is also what makes the
//! wasm build fast, where there is no AES instruction at all). Measured:
//! ~45 ns per AES-128 block natively (2.6 GHz EPYC, ≈ 115 cycles, close to
//! the load-latency floor of a serial T-table round) and ~70–110 ns in Node.
//! AES-NI through `aes::hazmat` was tried and is no faster: its per-round
//! calls (runtime-dispatched, not inlinable) cost ~32 ns for the nine inner
//! rounds alone, and it has no final-round primitive.
//!
//! Word convention: a state column is the little-endian `u32` of its four
//! bytes, so row `r` lives in bits `8r..8r+8`. On every target we care about
//! (x86-64, AArch64, wasm32) loading a column is then a plain load.

use super::Block;
use cipher::consts::{U1, U16};
use cipher::{
    BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut, ParBlocksSizeUser,
};

/// A 4-word (16-byte) round key; word `c` is column `c`, little-endian.
pub(crate) type RoundKey = [u32; 4];

// ---------------------------------------------------------------------------
// GF(2^8) arithmetic and tables, all evaluated at compile time.
// ---------------------------------------------------------------------------

/// Multiplication by x in GF(2^8) modulo the AES polynomial x^8+x^4+x^3+x+1.
const fn xtime(x: u8) -> u8 {
    (x << 1) ^ ((x >> 7) * 0x1b)
}

/// General GF(2^8) multiplication (only used at compile time).
const fn gmul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        a = xtime(a);
        b >>= 1;
    }
    p
}

/// The forward S-box: walk the multiplicative group with generator 3 and its
/// inverse 0xF6 in lockstep, so `q = p^-1` at every step, then apply the
/// affine map to `q`.
const fn make_sbox() -> [u8; 256] {
    let mut s = [0u8; 256];
    let mut p: u8 = 1;
    let mut q: u8 = 1;
    loop {
        p = p ^ xtime(p); // p *= 3
        q = gmul(q, 0xf6); // q /= 3
        let affine = q ^ q.rotate_left(1) ^ q.rotate_left(2) ^ q.rotate_left(3) ^ q.rotate_left(4);
        s[p as usize] = affine ^ 0x63;
        if p == 1 {
            break;
        }
    }
    s[0] = 0x63; // 0 has no inverse; the affine map of 0
    s
}

const fn invert(s: &[u8; 256]) -> [u8; 256] {
    let mut inv = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        inv[s[i] as usize] = i as u8;
        i += 1;
    }
    inv
}

const SBOX_C: [u8; 256] = make_sbox();
const INV_SBOX_C: [u8; 256] = invert(&SBOX_C);

/// Encryption T-tables: `TE[0][x]` is the MixColumns image of the column
/// `(S[x], 0, 0, 0)`, i.e. bytes `(2s, s, s, 3s)`; `TE[k]` is the same for
/// row `k`, which is a byte rotation of `TE[0]`.
#[cfg_attr(all(feature = "small-crypto", not(test)), allow(dead_code))]
const fn make_te() -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut x = 0;
    while x < 256 {
        let s = SBOX_C[x];
        let w = u32::from_le_bytes([xtime(s), s, s, xtime(s) ^ s]);
        t[0][x] = w;
        t[1][x] = w.rotate_left(8);
        t[2][x] = w.rotate_left(16);
        t[3][x] = w.rotate_left(24);
        x += 1;
    }
    t
}

/// Decryption T-tables: InvMixColumns image of `(S^-1[x], 0, 0, 0)`, i.e.
/// bytes `(14s, 9s, 13s, 11s)`, and its byte rotations.
#[cfg_attr(all(feature = "small-crypto", not(test)), allow(dead_code))]
const fn make_td() -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut x = 0;
    while x < 256 {
        let s = INV_SBOX_C[x];
        let w = u32::from_le_bytes([gmul(s, 14), gmul(s, 9), gmul(s, 13), gmul(s, 11)]);
        t[0][x] = w;
        t[1][x] = w.rotate_left(8);
        t[2][x] = w.rotate_left(16);
        t[3][x] = w.rotate_left(24);
        x += 1;
    }
    t
}

// `static` rather than `const` so that runtime lookups index one shared copy
// instead of materialising the arrays at each use.
static SBOX: [u8; 256] = SBOX_C;
static INV_SBOX: [u8; 256] = INV_SBOX_C;
#[cfg(not(feature = "small-crypto"))]
static TE: [[u32; 256]; 4] = make_te();
#[cfg(not(feature = "small-crypto"))]
static TD: [[u32; 256]; 4] = make_td();

/// `TE[k][x]`.
#[cfg(not(feature = "small-crypto"))]
#[inline(always)]
fn te(k: usize, x: usize) -> u32 {
    TE[k][x]
}

/// `TD[k][x]`.
#[cfg(not(feature = "small-crypto"))]
#[inline(always)]
fn td(k: usize, x: usize) -> u32 {
    TD[k][x]
}

// Feature `small-crypto` (the browser page's decoder, where 8 KB of tables
// weigh more than speed): the T-table entries are computed from the S-boxes
// at each use, exactly as `make_te`/`make_td` compute them, so the cipher is
// the same, several times slower, and 8 KB smaller. Native and edge builds
// keep the tables.

/// `TE[k][x]`, computed.
#[cfg(feature = "small-crypto")]
#[inline(never)]
fn te(k: usize, x: usize) -> u32 {
    let s = SBOX[x];
    u32::from_le_bytes([xtime(s), s, s, xtime(s) ^ s]).rotate_left(8 * k as u32)
}

/// `TD[k][x]`, computed.
#[cfg(feature = "small-crypto")]
#[inline(never)]
fn td(k: usize, x: usize) -> u32 {
    let s = INV_SBOX[x];
    u32::from_le_bytes([gmul(s, 14), gmul(s, 9), gmul(s, 13), gmul(s, 11)]).rotate_left(8 * k as u32)
}

// ---------------------------------------------------------------------------
// Key schedule.
// ---------------------------------------------------------------------------

const fn sub_word(w: u32) -> u32 {
    let b = w.to_le_bytes();
    u32::from_le_bytes([
        SBOX_C[b[0] as usize],
        SBOX_C[b[1] as usize],
        SBOX_C[b[2] as usize],
        SBOX_C[b[3] as usize],
    ])
}

/// FIPS-197 §5.2 key expansion generalised to `Nk = key.len() / 4` words and
/// `Nr = Nk + 6` rounds; `R = Nr + 1` round keys. AES-128 is `R = 11`, the
/// KMS V4 key (160 bits, Nk = 5) is `R = 12`. The extra SubWord step of
/// Nk > 6 keys is included for generality (it never fires for KMS keys).
pub(crate) const fn expand_key<const R: usize>(key: &[u8]) -> [RoundKey; R] {
    let nk = key.len() / 4;
    assert!(
        key.len().is_multiple_of(4) && nk >= 4 && nk <= 8,
        "Rijndael key must be 16..=32 bytes in steps of 4"
    );
    assert!(R == nk + 7, "R must be Nr + 1 = Nk + 7 round keys");
    let mut rk = [[0u32; 4]; R];
    let mut i = 0;
    while i < nk {
        rk[i / 4][i % 4] =
            u32::from_le_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]]);
        i += 1;
    }
    let mut rcon: u8 = 1;
    while i < 4 * R {
        let mut t = rk[(i - 1) / 4][(i - 1) % 4];
        if i % nk == 0 {
            // RotWord moves byte 1 to byte 0: a right rotation of the LE word.
            t = sub_word(t.rotate_right(8)) ^ rcon as u32;
            rcon = xtime(rcon);
        } else if nk > 6 && i % nk == 4 {
            t = sub_word(t);
        }
        rk[i / 4][i % 4] = rk[(i - nk) / 4][(i - nk) % 4] ^ t;
        i += 1;
    }
    rk
}

/// InvMixColumns of one column (compile-time only; used to derive the
/// equivalent-inverse-cipher keys).
const fn inv_mix_column(w: u32) -> u32 {
    let [a0, a1, a2, a3] = w.to_le_bytes();
    u32::from_le_bytes([
        gmul(a0, 14) ^ gmul(a1, 11) ^ gmul(a2, 13) ^ gmul(a3, 9),
        gmul(a0, 9) ^ gmul(a1, 14) ^ gmul(a2, 11) ^ gmul(a3, 13),
        gmul(a0, 13) ^ gmul(a1, 9) ^ gmul(a2, 14) ^ gmul(a3, 11),
        gmul(a0, 11) ^ gmul(a1, 13) ^ gmul(a2, 9) ^ gmul(a3, 14),
    ])
}

// ---------------------------------------------------------------------------
// The cipher.
// ---------------------------------------------------------------------------

/// Rijndael with a 128-bit block and `R - 1` rounds, holding both the
/// encryption round keys and the equivalent-inverse-cipher decryption keys.
///
/// Built by `const fn`, so callers keep their fixed ciphers in `static`s.
#[derive(Clone, Debug)]
pub(crate) struct Rijndael<const R: usize> {
    enc: [RoundKey; R],
    /// `dec[0] = enc[Nr]`, `dec[i] = InvMixColumns(enc[Nr - i])`,
    /// `dec[Nr] = enc[0]`.
    dec: [RoundKey; R],
}

impl<const R: usize> Rijndael<R> {
    /// Standard Rijndael key schedule for `key` (16..=32 bytes, `R = Nk + 7`).
    pub(crate) const fn new(key: &[u8]) -> Self {
        Self::from_round_keys(expand_key::<R>(key))
    }

    /// A cipher with arbitrary (e.g. deliberately modified) round keys. The
    /// decryption keys are derived from exactly these keys, so a modification
    /// made before this call is carried into decryption too (§7.5: modify
    /// first, InvMixColumns second).
    pub(crate) const fn from_round_keys(enc: [RoundKey; R]) -> Self {
        assert!(R >= 3);
        let nr = R - 1;
        let mut dec = [[0u32; 4]; R];
        dec[0] = enc[nr];
        dec[nr] = enc[0];
        let mut i = 1;
        while i < nr {
            let k = enc[nr - i];
            dec[i] = [
                inv_mix_column(k[0]),
                inv_mix_column(k[1]),
                inv_mix_column(k[2]),
                inv_mix_column(k[3]),
            ];
            i += 1;
        }
        Self { enc, dec }
    }

    /// Encryption round key `i` as 16 bytes.
    #[cfg(test)]
    pub(crate) fn round_key(&self, i: usize) -> Block {
        store(self.enc[i])
    }

    /// Encrypts one block: AddRoundKey, `Nr - 1` full rounds through the
    /// T-tables, and a final SubBytes/ShiftRows/AddRoundKey round.
    #[inline]
    pub(crate) fn encrypt(&self, block: &mut Block) {
        *block = self.encrypt_copy(block);
    }

    /// Decrypts one block with the equivalent inverse cipher.
    #[inline]
    pub(crate) fn decrypt(&self, block: &mut Block) {
        *block = self.decrypt_copy(block);
    }

    #[inline]
    fn encrypt_copy(&self, input: &Block) -> Block {
        let rk = &self.enc;
        let [mut s0, mut s1, mut s2, mut s3] = load(input);
        s0 ^= rk[0][0];
        s1 ^= rk[0][1];
        s2 ^= rk[0][2];
        s3 ^= rk[0][3];
        // ShiftRows: row r of output column c comes from input column c + r.
        for k in &rk[1..R - 1] {
            let t0 = te(0, b0(s0)) ^ te(1, b1(s1)) ^ te(2, b2(s2)) ^ te(3, b3(s3)) ^ k[0];
            let t1 = te(0, b0(s1)) ^ te(1, b1(s2)) ^ te(2, b2(s3)) ^ te(3, b3(s0)) ^ k[1];
            let t2 = te(0, b0(s2)) ^ te(1, b1(s3)) ^ te(2, b2(s0)) ^ te(3, b3(s1)) ^ k[2];
            let t3 = te(0, b0(s3)) ^ te(1, b1(s0)) ^ te(2, b2(s1)) ^ te(3, b3(s2)) ^ k[3];
            (s0, s1, s2, s3) = (t0, t1, t2, t3);
        }
        let k = &rk[R - 1];
        let sub = |a: u32, b: u32, c: u32, d: u32| {
            u32::from_le_bytes([SBOX[b0(a)], SBOX[b1(b)], SBOX[b2(c)], SBOX[b3(d)]])
        };
        store([
            sub(s0, s1, s2, s3) ^ k[0],
            sub(s1, s2, s3, s0) ^ k[1],
            sub(s2, s3, s0, s1) ^ k[2],
            sub(s3, s0, s1, s2) ^ k[3],
        ])
    }

    #[inline]
    fn decrypt_copy(&self, input: &Block) -> Block {
        let rk = &self.dec;
        let [mut s0, mut s1, mut s2, mut s3] = load(input);
        s0 ^= rk[0][0];
        s1 ^= rk[0][1];
        s2 ^= rk[0][2];
        s3 ^= rk[0][3];
        // InvShiftRows: row r of output column c comes from input column c - r.
        for k in &rk[1..R - 1] {
            let t0 = td(0, b0(s0)) ^ td(1, b1(s3)) ^ td(2, b2(s2)) ^ td(3, b3(s1)) ^ k[0];
            let t1 = td(0, b0(s1)) ^ td(1, b1(s0)) ^ td(2, b2(s3)) ^ td(3, b3(s2)) ^ k[1];
            let t2 = td(0, b0(s2)) ^ td(1, b1(s1)) ^ td(2, b2(s0)) ^ td(3, b3(s3)) ^ k[2];
            let t3 = td(0, b0(s3)) ^ td(1, b1(s2)) ^ td(2, b2(s1)) ^ td(3, b3(s0)) ^ k[3];
            (s0, s1, s2, s3) = (t0, t1, t2, t3);
        }
        let k = &rk[R - 1];
        let sub = |a: u32, b: u32, c: u32, d: u32| {
            u32::from_le_bytes([
                INV_SBOX[b0(a)],
                INV_SBOX[b1(b)],
                INV_SBOX[b2(c)],
                INV_SBOX[b3(d)],
            ])
        };
        store([
            sub(s0, s3, s2, s1) ^ k[0],
            sub(s1, s0, s3, s2) ^ k[1],
            sub(s2, s1, s0, s3) ^ k[2],
            sub(s3, s2, s1, s0) ^ k[3],
        ])
    }
}

#[inline(always)]
fn b0(w: u32) -> usize {
    (w & 0xff) as usize
}
#[inline(always)]
fn b1(w: u32) -> usize {
    ((w >> 8) & 0xff) as usize
}
#[inline(always)]
fn b2(w: u32) -> usize {
    ((w >> 16) & 0xff) as usize
}
#[inline(always)]
fn b3(w: u32) -> usize {
    (w >> 24) as usize
}

#[inline(always)]
fn load(b: &Block) -> [u32; 4] {
    [
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
    ]
}

#[inline(always)]
fn store(w: [u32; 4]) -> Block {
    // Built as one array expression: `copy_from_slice` here was left as four
    // out-of-line calls by the optimiser and cost as much as three rounds.
    let [a0, a1, a2, a3] = w[0].to_le_bytes();
    let [b0, b1, b2, b3] = w[1].to_le_bytes();
    let [c0, c1, c2, c3] = w[2].to_le_bytes();
    let [d0, d1, d2, d3] = w[3].to_le_bytes();
    [
        a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3,
    ]
}

// ---------------------------------------------------------------------------
// RustCrypto `cipher` 0.5 traits, so the `cbc` crate can drive this cipher
// exactly as it drives `aes::Aes128` (one CBC implementation for V5 and V6).
// ---------------------------------------------------------------------------

impl<const R: usize> BlockSizeUser for Rijndael<R> {
    type BlockSize = U16;
}

impl<const R: usize> BlockCipherEncrypt for Rijndael<R> {
    #[inline]
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = U16>) {
        f.call(&EncBackend(self));
    }
}

impl<const R: usize> BlockCipherDecrypt for Rijndael<R> {
    #[inline]
    fn decrypt_with_backend(&self, f: impl BlockCipherDecClosure<BlockSize = U16>) {
        f.call(&DecBackend(self));
    }
}

/// One block at a time: a table implementation gains nothing from
/// interleaving, and CBC encryption is serial anyway.
struct EncBackend<'a, const R: usize>(&'a Rijndael<R>);
struct DecBackend<'a, const R: usize>(&'a Rijndael<R>);

impl<const R: usize> BlockSizeUser for EncBackend<'_, R> {
    type BlockSize = U16;
}
impl<const R: usize> ParBlocksSizeUser for EncBackend<'_, R> {
    type ParBlocksSize = U1;
}
impl<const R: usize> BlockCipherEncBackend for EncBackend<'_, R> {
    #[inline(always)]
    fn encrypt_block(&self, mut block: InOut<'_, '_, cipher::Block<Self>>) {
        let out = self.0.encrypt_copy(&block.get_in().0);
        block.get_out().0 = out;
    }
}

impl<const R: usize> BlockSizeUser for DecBackend<'_, R> {
    type BlockSize = U16;
}
impl<const R: usize> ParBlocksSizeUser for DecBackend<'_, R> {
    type ParBlocksSize = U1;
}
impl<const R: usize> BlockCipherDecBackend for DecBackend<'_, R> {
    #[inline(always)]
    fn decrypt_block(&self, mut block: InOut<'_, '_, cipher::Block<Self>>) {
        let out = self.0.decrypt_copy(&block.get_in().0);
        block.get_out().0 = out;
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::crypto::test_util::hex;

    #[test]
    fn sbox_spot_values() {
        assert_eq!(SBOX[0x00], 0x63);
        assert_eq!(SBOX[0x01], 0x7c);
        assert_eq!(SBOX[0x53], 0xed);
        assert_eq!(SBOX[0xff], 0x16);
        assert_eq!(INV_SBOX[0x63], 0x00);
        assert_eq!(INV_SBOX[0x16], 0xff);
        for x in 0..=255u8 {
            assert_eq!(INV_SBOX[SBOX[x as usize] as usize], x);
        }
    }

    /// The T-table entries, from the tables or computed (`small-crypto`),
    /// are the tables `make_te`/`make_td` build.
    #[test]
    fn t_tables() {
        let (e, d) = (make_te(), make_td());
        for k in 0..4 {
            for x in 0..256 {
                assert_eq!((te(k, x), td(k, x)), (e[k][x], d[k][x]), "{k} {x}");
            }
        }
    }

    #[test]
    fn fips197_c1_aes128() {
        let c: Rijndael<11> = Rijndael::new(&hex::<16>("000102030405060708090a0b0c0d0e0f"));
        let mut b = hex::<16>("00112233445566778899aabbccddeeff");
        c.encrypt(&mut b);
        assert_eq!(b, hex::<16>("69c4e0d86a7b0430d8cdb78070b4c55a"));
        c.decrypt(&mut b);
        assert_eq!(b, hex::<16>("00112233445566778899aabbccddeeff"));
    }

    /// C.2/C.3 exercise the generic Nk expansion (Nk = 6, and Nk = 8 with
    /// its extra SubWord step) beyond what KMS needs.
    #[test]
    fn fips197_c2_c3_aes192_aes256() {
        let pt = hex::<16>("00112233445566778899aabbccddeeff");
        let c192: Rijndael<13> = Rijndael::new(&hex::<24>(
            "000102030405060708090a0b0c0d0e0f1011121314151617",
        ));
        let mut b = pt;
        c192.encrypt(&mut b);
        assert_eq!(b, hex::<16>("dda97ca4864cdfe06eaf70a0ec0d7191"));
        c192.decrypt(&mut b);
        assert_eq!(b, pt);

        let c256: Rijndael<15> = Rijndael::new(&hex::<32>(
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ));
        let mut b = pt;
        c256.encrypt(&mut b);
        assert_eq!(b, hex::<16>("8ea2b7ca516745bfeafc49904b496089"));
        c256.decrypt(&mut b);
        assert_eq!(b, pt);
    }

    #[test]
    fn fips197_a1_schedule_last_round_key() {
        let c: Rijndael<11> = Rijndael::new(&hex::<16>("2b7e151628aed2a6abf7158809cf4f3c"));
        assert_eq!(
            c.round_key(1),
            hex::<16>("a0fafe1788542cb123a339392a6c7605")
        );
        assert_eq!(
            c.round_key(10),
            hex::<16>("d014f9a8c9ee2589e13f0cc8b6630ca6")
        );
    }

    #[test]
    fn cipher_traits_match_inherent_methods() {
        let c: Rijndael<11> = Rijndael::new(&[7u8; 16]);
        let mut a = [0x5au8; 16];
        let mut b = cipher::Block::<Rijndael<11>>::from(a);
        c.encrypt(&mut a);
        BlockCipherEncrypt::encrypt_block(&c, &mut b);
        assert_eq!(a, b.0);
        c.decrypt(&mut a);
        BlockCipherDecrypt::decrypt_block(&c, &mut b);
        assert_eq!(a, b.0);
        assert_eq!(a, [0x5au8; 16]);
    }

    #[test]
    fn modified_round_keys_round_trip() {
        let mut rk = expand_key::<11>(&[0x42u8; 16]);
        rk[5][2] ^= 0xdead_beef;
        let c = Rijndael::from_round_keys(rk);
        let mut b = *b"sixteen byte blk";
        c.encrypt(&mut b);
        assert_ne!(&b, b"sixteen byte blk");
        c.decrypt(&mut b);
        assert_eq!(&b, b"sixteen byte blk");
    }
}
