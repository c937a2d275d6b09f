//! The client tools (feature `native`): `kmsedge activate`, `bench`,
//! `products`, `key`, `decode`, `dns record`/`dns check`, `bridge`, `probe` and `host`
//! (administering a running host through its admin API). They talk to
//! a KMS host from the outside, as Windows clients do, so they import the
//! core and each other but never the host ([`crate::native`]); what they
//! share with it (SRV names) is in [`crate::dns`].
pub mod activate;
pub mod bench;
pub mod bridge;
pub mod common;
pub mod decode;
pub mod dns;
pub mod host;
pub mod key;
pub mod kms_client;
pub mod probe;
pub mod products;
