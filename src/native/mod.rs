//! The native host (feature `native`): `kmsedge serve` with its SQLite
//! registry and HTTP API, and the SRV record it publishes. Everything here
//! uses std; the protocol itself stays in the no_std core. The client
//! tools are in [`crate::tools`]: nothing here imports them, so the host
//! can change without the tools noticing and the other way round.
pub mod dns;
pub mod serve;
