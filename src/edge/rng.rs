//! Randomness for the Worker: `crypto.getRandomValues` through getrandom's
//! `wasm_js` backend. Used for the V5/V6 response salt and IV, association
//! groups and the one-time ePID/HwId generation — all values a client or an
//! observer must not be able to predict.
use rand_core::{Infallible, TryCryptoRng, TryRng};

/// The platform CSPRNG as a [`rand_core::Rng`].
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRng;

impl TryRng for SystemRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        // Workers always provide crypto.getRandomValues; without it no
        // response could be sealed safely, so there is nothing to fall back to.
        if let Err(e) = getrandom::fill(dst) {
            panic!("crypto.getRandomValues failed: {e}");
        }
        Ok(())
    }
}

impl TryCryptoRng for SystemRng {}

/// 16 random bytes.
pub fn block() -> [u8; 16] {
    let mut b = [0u8; 16];
    let _ = SystemRng.try_fill_bytes(&mut b);
    b
}
