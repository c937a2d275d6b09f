//! kmsedge: a Microsoft KMS host whose protocol core is `no_std` and never
//! allocates, so that one implementation serves natively, in a Cloudflare
//! Worker and in the browser.
//!
//! The crate root is always `no_std`. The core modules below can therefore
//! only reach `core`; the runtimes (`native`, `edge`, `web`) bring in `std`
//! explicitly behind their features. See ARCHITECTURE.md for the map.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(any(test, feature = "std"))]
extern crate std;

#[cfg(any(feature = "native", feature = "edge"))]
pub mod api;
pub mod catalog;
pub mod client;
pub mod crypto;
pub mod epid;
pub mod guid;
pub mod host;
pub mod hresult;
pub mod kms;
pub mod registry;
pub mod time;
pub mod wire;

#[cfg(feature = "native")]
pub mod native;

pub use guid::Guid;
pub use hresult::HResult;

/// A bare-core wasm build (`--no-default-features`, as a no_std cdylib) has
/// no std to provide the panic handler. The core never panics on input —
/// that is what the malformed-input tests check — so a trap is enough.
#[cfg(all(target_arch = "wasm32", not(feature = "std"), not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
