//! The sans-IO KMS host: [`Connection`] turns the bytes of one TCP
//! connection into replies and activation requests, and [`policy`] holds the
//! rules that decide them. No sockets, clocks, randomness or storage here:
//! the runtime (tokio, the Worker, a test) feeds bytes, time and random
//! bytes in and carries the answers out.
pub mod connection;
pub mod health;
pub mod policy;

pub use connection::{Activation, CloseReason, Config, Connection, Event, Limits, MAX_REPLY, Millis, Transmitted};
pub use policy::{CountPolicy, Decision, Grant, Policy, Scope};
