//! CBC over any `cipher` 0.5 block cipher, in place, without padding.
//!
//! Why a wrapper at all: both V5 (`aes::Aes128`) and V6 (our modified-key
//! [`Rijndael`](super::rijndael::Rijndael)) go through the same `cbc` crate
//! code; this module only turns a `&mut [u8]` of whole blocks into the
//! crate's block view. Padding is the caller's business (see `padding.rs`),
//! because the protocol code wants to decide where the plaintext ends.

use super::Block;
use cipher::consts::U16;
use cipher::{
    BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InOutBuf,
    InnerIvInit,
};

/// CBC-encrypts the whole blocks of `buf` in place. A trailing partial block
/// (a caller bug, caught by the debug assertion) is left untouched.
#[inline]
pub(crate) fn encrypt<C: BlockCipherEncrypt<BlockSize = U16>>(
    cipher: C,
    iv: &Block,
    buf: &mut [u8],
) {
    debug_assert!(
        buf.len().is_multiple_of(16),
        "CBC buffer length {} is not a multiple of 16",
        buf.len()
    );
    let (blocks, _tail) = InOutBuf::from(buf).into_chunks::<U16>();
    cbc::Encryptor::inner_iv_init(cipher, iv.into()).encrypt_blocks_inout(blocks);
}

/// CBC-decrypts the whole blocks of `buf` in place (see [`encrypt`]).
#[inline]
pub(crate) fn decrypt<C: BlockCipherDecrypt<BlockSize = U16>>(
    cipher: C,
    iv: &Block,
    buf: &mut [u8],
) {
    debug_assert!(
        buf.len().is_multiple_of(16),
        "CBC buffer length {} is not a multiple of 16",
        buf.len()
    );
    let (blocks, _tail) = InOutBuf::from(buf).into_chunks::<U16>();
    cbc::Decryptor::inner_iv_init(cipher, iv.into()).decrypt_blocks_inout(blocks);
}
