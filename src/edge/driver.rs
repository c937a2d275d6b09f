//! The Worker's side of a KMS connection, whatever carries it — the TCP
//! `connect()` socket or a tunnel WebSocket: a [`ByteStream`] of chunks,
//! the Worker's clock (`Date.now()`, `setTimeout`) and `crypto` as the
//! shared driver's [`Transport`]. The loop itself, and every limit it
//! enforces, is [`crate::driver`]'s, the same as the native host's.
use super::registry_client::DecideError;
use super::rng::{self, SystemRng};
use crate::driver::{Ending, Recv, SendError, Transport};
use crate::host::Millis;
use crate::kms::ResponseRandom;
use core::cell::Cell;
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

/// A client's byte stream, in the chunks the runtime delivers.
#[allow(async_fn_in_trait)] // single-threaded Worker: no Send bound wanted
pub trait ByteStream {
    /// The next bytes from the client; `Ok(None)` once it has closed.
    async fn recv(&mut self) -> Result<Option<Vec<u8>>, StreamError>;
    async fn send(&mut self, data: &[u8]) -> Result<(), StreamError>;
}

/// How a connection ended, as the Worker logs it.
pub type EdgeEnding = Ending<StreamError, DecideError>;

/// Endings worth a log line: failures of the host, not of clients (a
/// branch over its rate is logged by the registry, once a minute).
pub fn is_host_failure(e: &EdgeEnding) -> bool {
    matches!(e, Ending::Decider(DecideError::Failed(_)) | Ending::Stalled)
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

/// A [`ByteStream`] as the driver's transport.
pub struct Edge<'s, S> {
    stream: &'s mut S,
    opened: u64,
    /// What is left of the last chunk when it was larger than the driver's
    /// buffer.
    pending: Vec<u8>,
    at: usize,
    /// Set when the registry shed this connection for a newcomer of its
    /// branch ([`super::registry_client::RegistryClient::shed`]).
    shed: Option<&'s Cell<bool>>,
    /// The shutdown was handed to the driver (once: after that the core's
    /// drain deadline runs its course).
    shut: bool,
}

impl<'s, S: ByteStream> Edge<'s, S> {
    pub fn new(stream: &'s mut S) -> Self {
        Edge { stream, opened: now_ms(), pending: Vec::new(), at: 0, shed: None, shut: false }
    }

    /// Ends the connection, without waiting for the client, once `shed` is
    /// set: the registry cannot close a WebSocket this isolate holds, so it
    /// says so in the answer to the connection's next activation. That
    /// answer is sent before the driver reads again, so it is never cut
    /// short; the core then closes with [`crate::host::CloseReason::Shutdown`].
    pub fn closing_when(mut self, shed: &'s Cell<bool>) -> Self {
        self.shed = Some(shed);
        self
    }

    fn wait(&self, deadline: Option<Millis>) -> Option<Duration> {
        deadline.map(|d| Duration::from_millis(d.saturating_sub(self.now())))
    }
}

impl<S: ByteStream> Transport for Edge<'_, S> {
    type Error = StreamError;

    fn now(&self) -> Millis {
        now_ms().saturating_sub(self.opened)
    }

    async fn recv(&mut self, buf: &mut [u8], deadline: Option<Millis>) -> Recv<StreamError> {
        if self.at == self.pending.len() {
            if !self.shut && self.shed.is_some_and(Cell::get) {
                self.shut = true;
                return Recv::Shutdown { grace: 0 };
            }
            let next = match self.wait(deadline) {
                None => self.stream.recv().await,
                Some(d) => match timeout(d, self.stream.recv()).await {
                    None => return Recv::Timeout,
                    Some(r) => r,
                },
            };
            match next {
                Err(e) => return Recv::Failed(e),
                Ok(None) => return Recv::Closed,
                Ok(Some(chunk)) => {
                    self.pending = chunk;
                    self.at = 0;
                }
            }
        }
        let n = (self.pending.len() - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Recv::Data(n)
    }

    async fn send(&mut self, bytes: &[u8], deadline: Option<Millis>) -> Result<(), SendError<StreamError>> {
        let sent = match self.wait(deadline) {
            None => Some(self.stream.send(bytes).await),
            Some(d) => timeout(d, self.stream.send(bytes)).await,
        };
        match sent {
            None => Err(SendError::Timeout),
            Some(r) => r.map_err(SendError::Failed),
        }
    }

    fn assoc_group(&mut self) -> u32 {
        SystemRng.next_u32()
    }

    fn response_random(&mut self) -> ResponseRandom {
        ResponseRandom { salt: rng::block(), iv: rng::block() }
    }
}
