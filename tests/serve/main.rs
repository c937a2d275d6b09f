//! `kmsedge serve` end to end: the real binary on loopback TCP, driven by a
//! client built on the core (and by raw bytes where a client would not
//! misbehave), with its registry inspected after restarts and kill -9.
//! Every server binds 127.0.0.1 on an ephemeral port with its own data
//! directory, so the tests run in parallel.
mod client;
#[path = "../support/mod.rs"]
mod support;

mod activation;
mod admin;
mod admission;
mod config;
mod events;
mod faults;
mod health;
mod host_keys;
mod http;
mod limits;
mod persistence;
mod policy;
mod vectors;
