//! The one helper module of the integration tests, a file per concept.
//! Every test crate includes it with `mod support;` (or, from a
//! subdirectory, `#[path = "../support/mod.rs"] mod support;`); cargo does
//! not build `tests/support/` as a test crate of its own.
//!
//! | module      | what                                                        |
//! |-------------|-------------------------------------------------------------|
//! | `vectors`   | the recorded conversations of `tests/fixtures/vectors`, hex |
//! | `rng`       | a deterministic RNG for the core's `rand_core` parameters   |
//! | `capture`   | pcap/pcapng files around recorded PDUs (decoder tests)      |
//! | `alloc`     | the counting global allocator (no-allocation tests)         |
//! | `bin`       | the `kmsedge` binary: spawn, run with a time limit, output  |
//! | `serve`     | `kmsedge serve` on loopback: temp data, logs, HTTP, stop    |
//! | `fake_host` | an in-test KMS host on the core `Connection`                |
//! | `edge`      | the `wrangler dev` Worker under test and `kmsedge bridge`   |
//! | `dns`       | the BIND 9 server of scripts/test-dns.sh                    |
//! | `ad`        | the Samba AD DC of scripts/test-dns-ad.sh (feature ad-dns)  |
//!
//! The first three also build for wasm32 (the protocol suites run in node);
//! the rest need the native binary.
// Each test crate uses a part of this module, never all of it.
#![allow(dead_code)]

pub mod capture;
pub mod rng;
pub mod vectors;

#[cfg(not(target_arch = "wasm32"))]
pub mod alloc;

#[cfg(feature = "ad-dns")]
pub mod ad;
#[cfg(feature = "native")]
pub mod bin;
#[cfg(feature = "native")]
pub mod dns;
#[cfg(feature = "native")]
pub mod edge;
#[cfg(feature = "native")]
pub mod fake_host;
#[cfg(feature = "native")]
pub mod serve;
