//! One KMS client connection on tokio: the socket, tokio's clock and the
//! OS's randomness as a [`Transport`], and the host as a [`Decider`], run
//! by the shared [`driver::serve`] loop. Every limit (idle, lifetime,
//! requests, shutdown drain) is the core connection's.
use std::prelude::rust_2024::Box;
use super::admission::{Admission, Conn, Ticket};
use super::host::Host;
use crate::model::Answer;
use crate::driver::{self, Decider, Ending, Recv, SendError, Transport};
use crate::host::{Activation, CloseReason, Config, Decision, Millis, Transmitted};
use crate::kms::ResponseRandom;
use crate::native::serve::store::writer::CommitError;
use rand::RngExt;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub rpc: Config,
    pub shutdown_grace: Duration,
}

/// How a connection ended (the `reason` label of
/// `kmsedge_connections_closed_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    ClientClosed,
    IdleTimeout,
    TimeLimit,
    RequestLimit,
    Protocol,
    Io,
    Shutdown,
    RegistryUnavailable,
    /// Closed to make room for a newcomer (the shared shedding rule).
    Shed,
    /// Its address went over its activation rate.
    RateLimited,
}

impl End {
    pub fn label(self) -> &'static str {
        match self {
            End::ClientClosed => "client_closed",
            End::IdleTimeout => "idle_timeout",
            End::TimeLimit => "time_limit",
            End::RequestLimit => "request_limit",
            End::Protocol => "protocol",
            End::Io => "io_error",
            End::Shutdown => "shutdown",
            End::RegistryUnavailable => "registry_unavailable",
            End::Shed => "shed",
            End::RateLimited => "rate_limited",
        }
    }

    fn of(e: &Ending<std::io::Error, Refusal>) -> End {
        match e {
            Ending::ClientClosed => End::ClientClosed,
            Ending::Closed(CloseReason::IdleTimeout) | Ending::SendTimeout => End::IdleTimeout,
            Ending::Closed(CloseReason::TimeLimit) => End::TimeLimit,
            Ending::Closed(CloseReason::RequestLimit) => End::RequestLimit,
            Ending::Closed(CloseReason::Shutdown) => End::Shutdown,
            Ending::Closed(_) | Ending::Refused | Ending::Stalled => End::Protocol,
            Ending::Transport(_) => End::Io,
            Ending::Decider(Refusal::Registry(_)) => End::RegistryUnavailable,
            Ending::Decider(Refusal::RateLimited) => End::RateLimited,
        }
    }
}

/// Serves one connection until it ends; never panics on input.
pub async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    host: Arc<Host>,
    cfg: Arc<SessionConfig>,
    shutdown: watch::Receiver<bool>,
    ticket: Ticket,
) {
    host.metrics.connections_open.inc();
    let _ = stream.set_nodelay(true);
    let ip = peer.ip().to_canonical();
    let (admission, conn) = (ticket.admission(), &*ticket.conn);
    let mut t = Socket::new(stream, shutdown, cfg.shutdown_grace, conn);
    let ending = driver::serve(&mut t, &Client { host: &host, ip, admission, conn }, cfg.rpc).await;
    let end = if conn.is_shed() && matches!(ending, Ending::Transport(_)) { End::Shed } else { End::of(&ending) };
    if end == End::Shed && admission.should_log(ip, end.label()) {
        tracing::warn!(client = %ip, "connection shed to make room: the host is at --max-connections (logged once a minute per address)");
    }
    host.metrics.connections_open.dec();
    host.metrics.closed(end.label());
    tracing::debug!(client = %ip, reason = end.label(), "connection closed");
    // Dropping the stream closes it (FIN, or RST if the client's bytes
    // were left unread, as for a protocol error).
}

/// A tokio socket as the driver's transport.
struct Socket<'a> {
    stream: TcpStream,
    /// Its entry in the admission's registry: told when a request is done,
    /// woken when it is shed.
    conn: &'a Conn,
    opened: Instant,
    /// One timer for the connection's life, moved as deadlines change:
    /// moving a registered timer is an atomic store, where a new timeout
    /// per read would take the timer wheel's lock twice.
    timer: Pin<Box<Sleep>>,
    shutdown: watch::Receiver<bool>,
    /// The shutdown was seen (and passed on to the core).
    draining: bool,
    grace: Duration,
}

impl<'a> Socket<'a> {
    fn new(stream: TcpStream, shutdown: watch::Receiver<bool>, grace: Duration, conn: &'a Conn) -> Socket<'a> {
        let opened = Instant::now();
        Socket { stream, conn, opened, timer: Box::pin(tokio::time::sleep_until(opened)), shutdown, draining: false, grace }
    }

    fn at(&self, ms: Millis) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    fn arm(&mut self, deadline: Option<Millis>) {
        // Without a deadline (a closed core) the timer is simply far away.
        let at = self.at(deadline.unwrap_or(u64::from(u32::MAX)));
        if self.timer.deadline() != at {
            self.timer.as_mut().reset(at);
        }
    }
}

impl Transport for Socket<'_> {
    type Error = std::io::Error;

    fn now(&self) -> Millis {
        self.opened.elapsed().as_millis() as Millis
    }

    async fn recv(&mut self, buf: &mut [u8], deadline: Option<Millis>) -> Recv<std::io::Error> {
        // The driver reads only once every request so far is answered.
        self.conn.waiting();
        if self.conn.is_shed() {
            return Recv::Failed(std::io::Error::other("shed"));
        }
        if !self.draining && *self.shutdown.borrow() {
            self.draining = true;
            return Recv::Shutdown { grace: self.grace.as_millis() as Millis };
        }
        self.arm(deadline);
        tokio::select! {
            r = self.stream.read(buf) => match r {
                Err(e) => Recv::Failed(e),
                Ok(0) => Recv::Closed,
                Ok(n) => Recv::Data(n),
            },
            () = &mut self.timer => Recv::Timeout,
            () = self.conn.shed() => Recv::Failed(std::io::Error::other("shed")),
            _ = self.shutdown.changed(), if !self.draining => {
                self.draining = true;
                Recv::Shutdown { grace: self.grace.as_millis() as Millis }
            }
        }
    }

    async fn send(&mut self, bytes: &[u8], deadline: Option<Millis>) -> Result<(), SendError<std::io::Error>> {
        // A reply almost always fits the socket buffer at once; only a
        // client that stopped reading needs the timer.
        let sent = match self.stream.try_write(bytes) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(SendError::Failed(e)),
        };
        if sent == bytes.len() {
            return Ok(());
        }
        self.arm(deadline);
        tokio::select! {
            r = self.stream.write_all(&bytes[sent..]) => r.map_err(SendError::Failed),
            () = &mut self.timer => Err(SendError::Timeout),
        }
    }

    fn assoc_group(&mut self) -> u32 {
        rand::rng().random()
    }

    /// ThreadRng is a CSPRNG seeded from the OS.
    fn response_random(&mut self) -> ResponseRandom {
        let mut r = rand::rng();
        ResponseRandom { salt: r.random(), iv: r.random() }
    }
}

/// Why a request was not answered: the connection is closed instead, and
/// the client retries at its activation interval (every 2 hours by
/// default) as with any host it cannot reach ("KMS Activation Timing",
/// technet.microsoft.com/library/ff793418.aspx). A KMS response has no
/// "busy" code, and an error HRESULT in a response would be shown to the
/// user as a verdict on their licence.
#[derive(Debug)]
pub enum Refusal {
    /// Not on disk, so not answered.
    Registry(CommitError),
    /// The address is over its activation rate (`--rate-limit`).
    RateLimited,
}

/// The host, for one client connection.
struct Client<'a> {
    host: &'a Host,
    ip: IpAddr,
    admission: &'a Admission,
    conn: &'a Conn,
}

impl Decider for Client<'_> {
    type Error = Refusal;

    async fn decide(&self, a: &Activation) -> Result<Decision, Refusal> {
        self.conn.request_in_hand(self.admission.now_ms());
        if let Err(refused) = self.admission.activation(self.ip) {
            self.host.metrics.rate_limited();
            if refused.log {
                tracing::warn!(client = %self.ip, "activation refused: the address is over --rate-limit; connection closed, the client retries later (logged once a minute per address)");
            }
            return Err(Refusal::RateLimited);
        }
        let started = std::time::Instant::now();
        let answer = self.host.activate(a, self.ip).await.map_err(Refusal::Registry)?;
        // Still in hand until the answer is sent: the next read clears it.
        self.conn.answered();
        self.host.metrics.answer_seconds.observe(started.elapsed().as_secs_f64());
        log_activation(a, self.ip, &answer);
        Ok(answer.decision)
    }

    fn transmitted(&self, what: Transmitted) {
        self.conn.pdu(self.admission.now_ms());
        if what == Transmitted::UnreadableRequest {
            self.host.metrics.unreadable_request();
        }
    }
}

/// One line per activation: who, what, and the answer. The health check
/// (a probe every few seconds) only at debug level; a failed one is
/// reported by the probe itself.
fn log_activation(a: &Activation, ip: IpAddr, answer: &Answer) {
    let r = &a.request;
    if crate::host::health::is_health_check(&r.cmid) {
        tracing::debug!(client = %ip, result = %answer.decision.hresult(), "health check answered");
        return;
    }
    let product = crate::catalog::kms_id(&r.kms_id).map_or("unknown product", |k| k.name);
    let sku = crate::catalog::sku(&r.sku).map_or("unknown SKU", |s| s.name);
    let mut ws = [0u8; 192];
    let workstation = r.workstation.to_str(&mut ws);
    let result = answer.decision.hresult();
    match answer.decision {
        // `event_id`: the genuine host's (12290), kept by the Event Log entry.
        Decision::Grant(g) => tracing::info!(
            event_id = crate::model::events::REQUEST, client = %ip, product, sku, workstation, cmid = %r.cmid, protocol = %a.version,
            %result, count = g.current_count, "activated"
        ),
        Decision::Refuse(_) => tracing::info!(
            event_id = crate::model::events::REQUEST, client = %ip, product, sku, workstation, cmid = %r.cmid, protocol = %a.version,
            %result, "refused"
        ),
    }
}
