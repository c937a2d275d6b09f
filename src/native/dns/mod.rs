//! The host publishes its own SRV record `_vlmcs._tcp.<zone>` (kms-protocol.md
//! §8.9) by RFC 2136 dynamic update, TSIG-signed, refreshes it, and removes
//! it on a clean stop ([`publish`], configured by [`config`]). Off unless
//! configured. Printing the record and checking discovery are client
//! tools ([`crate::tools::dns`]); the names both sides check are in
//! [`crate::dns`].
//!
//! Messages, HMAC TSIG and transport are hickory-dns's; the GSS-TSIG
//! exchange for Active Directory zones ([`gss`]) frames TKEY itself.
pub mod config;
pub mod gss;
pub mod publish;
pub mod tsig;

pub use config::{DnsPublishConfig, PublishArgs, PublishSettings};
pub use publish::{DnsStatus, PublishControl, Publisher};
