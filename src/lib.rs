//! kmsedge: a Microsoft KMS host whose protocol core is `no_std` and never
//! allocates, so that one implementation serves natively, in a Cloudflare
//! Worker and in the browser.
//!
//! The crate root is `no_std`. The core modules below can therefore
//! only reach `core`; the runtimes (`native`, `edge`, `web`) bring in `std`
//! explicitly behind their features. See ARCHITECTURE.md for the map.
//! One exception: under `edge` the root has the std prelude, because the
//! glue modules that workers-rs's `#[event]`/`#[durable_object]` macros
//! generate name `Box`, `format!` and `ToString` unqualified. The core stays
//! no_std all the same: every other build (bare wasm, web, native) still
//! compiles it without the std prelude.
#![cfg_attr(not(feature = "edge"), no_std)]
#![forbid(unsafe_code)]

#[cfg(any(test, feature = "std"))]
extern crate std;

#[cfg(any(feature = "native", feature = "edge"))]
pub mod api;
/// The one loop that drives a host connection over any runtime (std).
#[cfg(any(feature = "native", feature = "edge"))]
pub mod driver;
/// The host model both runtimes share: settings, identity, counts, API views (std).
#[cfg(any(feature = "native", feature = "edge"))]
pub mod model;
pub mod catalog;
pub mod client;
pub mod crypto;
#[cfg(feature = "native")]
pub mod dns;
pub mod epid;
pub mod guid;
pub mod host;
pub mod hresult;
pub mod inspect;
pub mod kms;
pub mod pkey;
pub mod registry;
pub mod time;
pub mod wire;

#[cfg(feature = "native")]
pub mod native;
#[cfg(feature = "native")]
pub mod tools;

/// pcap/pcapng → KMS TCP conversations for the decoder (std).
#[cfg(feature = "capture")]
pub mod capture;
/// Decoded conversations as text or JSON, for the CLI and the page (std).
#[cfg(feature = "capture")]
pub mod report;

/// The browser page's wasm-bindgen API (`www/`).
#[cfg(feature = "web")]
pub mod web;

/// The Cloudflare Worker: TCP `connect()` and WebSocket tunnel entry paths,
/// and the Durable Object registry.
#[cfg(feature = "edge")]
pub mod edge;

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
