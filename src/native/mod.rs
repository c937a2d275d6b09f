//! The native runtime (feature `native`): the tokio KMS host with its SQLite
//! registry and HTTP API, and the command-line tools. Everything here uses
//! std; the protocol itself stays in the no_std core.
pub mod activate;
pub mod bench;
pub mod bridge;
pub mod decode;
pub mod dns;
pub mod kms_client;
pub mod products;
pub mod serve;
