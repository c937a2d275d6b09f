//! One KMS client connection: moves bytes between the socket and the core's
//! sans-IO [`Connection`], and answers its activation requests through
//! [`Host`].
//!
//! The deadline is per request, not per byte: a connection that has not
//! completed a PDU within `idle_timeout` is closed, so a client trickling
//! one byte a second cannot hold a slot for ever. On shutdown a connection
//! with nothing buffered closes at once; one in the middle of a request
//! gets to finish it (within the shutdown grace) and is then closed.
use std::prelude::rust_2024::Box;
use super::admission::Ticket;
use super::host::Host;
use crate::host::connection::RX_CAP;
use crate::host::{Config, Connection, Event, MAX_REPLY};
use crate::kms::ResponseRandom;
use crate::wire::PacketType;
use rand::RngExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

pub struct SessionConfig {
    pub rpc: Config,
    pub idle_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// How a connection ended (the `reason` label of
/// `kmsedge_connections_closed_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    ClientClosed,
    IdleTimeout,
    Protocol,
    Io,
    Shutdown,
    RegistryUnavailable,
}

impl End {
    pub fn label(self) -> &'static str {
        match self {
            End::ClientClosed => "client_closed",
            End::IdleTimeout => "idle_timeout",
            End::Protocol => "protocol",
            End::Io => "io_error",
            End::Shutdown => "shutdown",
            End::RegistryUnavailable => "registry_unavailable",
        }
    }
}

/// Serves one connection until it ends; never panics on input.
pub async fn run(
    mut stream: TcpStream,
    peer: SocketAddr,
    host: Arc<Host>,
    cfg: Arc<SessionConfig>,
    mut shutdown: watch::Receiver<bool>,
    _ticket: Ticket,
) {
    host.metrics.connections_open.inc();
    let end = serve(&mut stream, peer, &host, &cfg, &mut shutdown).await;
    host.metrics.connections_open.dec();
    host.metrics.closed(end.label());
    tracing::debug!(client = %peer.ip().to_canonical(), reason = end.label(), "connection closed");
    // Dropping the stream closes it (FIN, or RST if the client's bytes
    // were left unread, as for a protocol error).
    drop(stream);
}

async fn serve(
    stream: &mut TcpStream,
    peer: SocketAddr,
    host: &Host,
    cfg: &SessionConfig,
    shutdown: &mut watch::Receiver<bool>,
) -> End {
    let _ = stream.set_nodelay(true);
    let ip = peer.ip().to_canonical();
    let mut conn = Box::new(Connection::new(cfg.rpc, rand::rng().random()));
    let mut rx = [0u8; 2048];
    let mut out = [0u8; MAX_REPLY];
    let mut deadline = Instant::now() + cfg.idle_timeout;
    // One timer for the connection's life, moved as requests complete:
    // moving a registered timer later is an atomic store, where a new
    // timeout per read would take the timer wheel's lock twice.
    let idle = tokio::time::sleep_until(deadline);
    tokio::pin!(idle);
    let mut draining = *shutdown.borrow();
    loop {
        // Everything complete in the buffer first.
        loop {
            match conn.poll(&mut out) {
                Event::NeedData => break,
                Event::Close(_) => return End::Protocol,
                Event::Transmit { len, close } => {
                    // The core answers an unreadable KMS request itself, with
                    // a response PDU carrying ERROR_INVALID_DATA.
                    if out[2] == u8::from(PacketType::Response) {
                        host.metrics.unreadable_request();
                    }
                    if let Err(end) = send(stream, &out[..len], cfg.idle_timeout).await {
                        return end;
                    }
                    if close {
                        return End::Protocol;
                    }
                    deadline = Instant::now() + cfg.idle_timeout;
                }
                Event::Activation(a) => {
                    let started = std::time::Instant::now();
                    let answer = match host.activate(&a, ip).await {
                        Ok(answer) => answer,
                        // Not on disk, so not answered: the client retries
                        // later, as with any unreachable host.
                        Err(_) => return End::RegistryUnavailable,
                    };
                    let len = conn.answer(&answer.decision, &fresh_random(), &mut out);
                    host.metrics.answer_seconds.observe(started.elapsed().as_secs_f64());
                    log_activation(&a, ip, &answer);
                    if len == 0 {
                        return End::Protocol;
                    }
                    if let Err(end) = send(stream, &out[..len], cfg.idle_timeout).await {
                        return end;
                    }
                    deadline = Instant::now() + cfg.idle_timeout;
                }
            }
        }
        if draining && conn.buffered() == 0 {
            return End::Shutdown;
        }
        // Never read more than the connection can take, so `receive` always
        // takes all of it: while it needs data, a PDU is incomplete and
        // shorter than its buffer.
        let room = (RX_CAP - conn.buffered()).min(rx.len());
        if room == 0 {
            return End::Protocol;
        }
        if idle.deadline() != deadline {
            idle.as_mut().reset(deadline);
        }
        let n = tokio::select! {
            r = stream.read(&mut rx[..room]) => match r {
                Err(_) => return End::Io,
                Ok(0) => return End::ClientClosed,
                Ok(n) => n,
            },
            () = &mut idle => return if draining { End::Shutdown } else { End::IdleTimeout },
            _ = shutdown.changed(), if !draining => {
                draining = true;
                deadline = deadline.min(Instant::now() + cfg.shutdown_grace);
                continue;
            }
        };
        if conn.receive(&rx[..n]) != n {
            return End::Protocol;
        }
    }
}

/// The V5 salt and V6 response IV: fresh for every response (ThreadRng is
/// a CSPRNG seeded from the OS).
fn fresh_random() -> ResponseRandom {
    let mut r = rand::rng();
    ResponseRandom { salt: r.random(), iv: r.random() }
}

/// Writes a reply; a client that does not read it within `limit` is gone.
async fn send(stream: &mut TcpStream, bytes: &[u8], limit: Duration) -> Result<(), End> {
    // A reply almost always fits the socket buffer at once; only a client
    // that stopped reading needs the timer.
    let sent = match stream.try_write(bytes) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(_) => return Err(End::Io),
    };
    if sent == bytes.len() {
        return Ok(());
    }
    match tokio::time::timeout(limit, stream.write_all(&bytes[sent..])).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Io),
        Err(_) => Err(End::IdleTimeout),
    }
}

/// One line per activation: who, what, and the answer.
fn log_activation(a: &crate::host::Activation, ip: std::net::IpAddr, answer: &super::host::Answer) {
    let r = &a.request;
    let product = crate::catalog::kms_id(&r.kms_id).map_or("unknown product", |k| k.name);
    let sku = crate::catalog::sku(&r.sku).map_or("unknown SKU", |s| s.name);
    let mut ws = [0u8; 192];
    let workstation = r.workstation.to_str(&mut ws);
    let result = answer.decision.hresult();
    match answer.decision {
        crate::host::Decision::Grant(g) => tracing::info!(
            client = %ip, product, sku, workstation, cmid = %r.cmid, protocol = %a.version,
            %result, count = g.current_count, "activated"
        ),
        crate::host::Decision::Refuse(_) => tracing::info!(
            client = %ip, product, sku, workstation, cmid = %r.cmid, protocol = %a.version,
            %result, "refused"
        ),
    }
}
