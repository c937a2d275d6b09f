//! One KMS connection at the edge, whatever carries it: the TCP `connect()`
//! socket or a tunnel WebSocket. Both hand [`serve`] a [`ByteStream`]; it
//! runs the sans-IO [`Connection`] and asks a [`Decider`] (the registry
//! Durable Object) about each activation. Keeping the loop here, once,
//! is what makes the two entry paths answer identically.
//!
//! Every connection is bounded: an idle timeout, a total lifetime and a
//! request count. Whatever a client sends, the worst outcome is the end of
//! its own connection.
use super::rng::{self, SystemRng};
use crate::host::{Activation, CloseReason, Connection, Decision, Event, MAX_REPLY};
use crate::kms::ResponseRandom;
use core::fmt;
use core::future::Future;
use core::pin::pin;
use core::time::Duration;
use futures_util::future::{Either, select};
use rand_core::Rng;

/// Why a stream failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// A WebSocket message larger than the tunnel accepts.
    Oversized(usize),
    /// A text WebSocket message: the tunnel carries a byte stream.
    Text,
    /// The transport failed (reset, runtime error).
    Io(String),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Oversized(n) => write!(f, "{n}-byte message exceeds the tunnel's frame limit"),
            StreamError::Text => f.write_str("text message on a binary tunnel"),
            StreamError::Io(e) => write!(f, "transport: {e}"),
        }
    }
}

/// A client's byte stream.
#[allow(async_fn_in_trait)] // single-threaded Worker: no Send bound wanted
pub trait ByteStream {
    /// The next bytes from the client; `Ok(None)` once it has closed.
    async fn recv(&mut self) -> Result<Option<Vec<u8>>, StreamError>;
    async fn send(&mut self, data: &[u8]) -> Result<(), StreamError>;
}

/// Answers activation requests (the registry).
#[allow(async_fn_in_trait)]
pub trait Decider {
    async fn decide(&self, activation: &Activation) -> Result<Decision, String>;
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The client closed its side.
    ClientClosed,
    /// The host engine answered and asked to close (e.g. a bad header).
    HostClosed,
    /// The host engine closed without an answer (an unexpected PDU type).
    Protocol(CloseReason),
    IdleTimeout,
    TimeLimit,
    RequestLimit,
    Stream(StreamError),
    /// The registry could not decide; the client will retry later.
    Registry(String),
    /// Input the engine could neither consume nor reject (defensive).
    Stalled,
}

impl Ending {
    /// Endings worth a log line: failures of the host, not of clients.
    pub fn is_host_failure(&self) -> bool {
        matches!(self, Ending::Registry(_) | Ending::Stalled)
    }
}

/// Limits and engine settings for one connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub idle_timeout: Duration,
    pub max_connection_time: Duration,
    pub max_requests: u32,
}

/// Milliseconds since the Unix epoch (`Date.now()`).
pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// `f`, or `None` once `d` has passed.
async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
    let f = pin!(f);
    let t = pin!(worker::Delay::from(d));
    match select(f, t).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

/// Runs one client connection to its end.
pub async fn serve<S: ByteStream, D: Decider>(
    stream: &mut S,
    decider: &D,
    config: crate::host::Config,
    limits: Limits,
) -> Ending {
    let mut rng = SystemRng;
    // ~6 KiB of state: on the heap, not the (small) wasm stack.
    let mut conn = Box::new(Connection::new(config, rng.next_u32()));
    let mut out = [0u8; MAX_REPLY];
    let started = now_ms();
    let max_ms = limits.max_connection_time.as_millis() as u64;
    let mut requests = 0u32;
    loop {
        let elapsed = now_ms().saturating_sub(started);
        if elapsed >= max_ms {
            return Ending::TimeLimit;
        }
        let left = Duration::from_millis(max_ms - elapsed);
        let wait = limits.idle_timeout.min(left);
        let chunk = match timeout(wait, stream.recv()).await {
            None if wait < limits.idle_timeout => return Ending::TimeLimit,
            None => return Ending::IdleTimeout,
            Some(Err(e)) => return Ending::Stream(e),
            Some(Ok(None)) => return Ending::ClientClosed,
            Some(Ok(Some(c))) => c,
        };
        let mut data: &[u8] = &chunk;
        // Each pass consumes input or ends the connection, so this runs at
        // most chunk.len() + 1 times.
        loop {
            let took = conn.receive(data);
            data = &data[took..];
            loop {
                match conn.poll(&mut out) {
                    Event::NeedData => break,
                    Event::Transmit { len, close } => {
                        if let Err(e) = stream.send(&out[..len]).await {
                            return Ending::Stream(e);
                        }
                        if close {
                            return Ending::HostClosed;
                        }
                    }
                    Event::Activation(a) => {
                        requests += 1;
                        if requests > limits.max_requests {
                            return Ending::RequestLimit;
                        }
                        let decision = match decider.decide(&a).await {
                            Ok(d) => d,
                            Err(e) => return Ending::Registry(e),
                        };
                        let random = ResponseRandom { salt: rng::block(), iv: rng::block() };
                        let len = conn.answer(&decision, &random, &mut out);
                        if len == 0 {
                            return Ending::Stalled;
                        }
                        if let Err(e) = stream.send(&out[..len]).await {
                            return Ending::Stream(e);
                        }
                    }
                    Event::Close(why) => return Ending::Protocol(why),
                }
            }
            if data.is_empty() {
                break;
            }
            if took == 0 {
                return Ending::Stalled;
            }
        }
    }
}
