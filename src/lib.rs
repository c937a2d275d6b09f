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

pub mod catalog;
pub mod client;
pub mod crypto;
pub mod epid;
pub mod guid;
pub mod host;
pub mod hresult;
pub mod kms;
pub mod time;
pub mod wire;

pub use guid::Guid;
pub use hresult::HResult;
