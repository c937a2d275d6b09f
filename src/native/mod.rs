//! The native host (feature `native`): `kmsedge serve` with its SQLite
//! registry and HTTP API, the SRV record it publishes, and (on Windows) the
//! service and Event Log around it. Everything here
//! uses std; the protocol itself stays in the no_std core. The client
//! tools are in [`crate::tools`]: nothing here imports them, so the host
//! can change without the tools noticing and the other way round.
pub mod dns;
pub mod serve;
pub mod service;
