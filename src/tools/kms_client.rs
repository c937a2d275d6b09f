//! A KMS client connection over tokio: the socket side of the sans-IO
//! [`Session`](crate::client::Session).
//!
//! `kmsedge activate` and `kmsedge bench` are both built on
//! [`KmsConnection`]; so can tests and bridges. It owns one byte stream (TCP
//! by default, any `AsyncRead + AsyncWrite` otherwise), frames replies by
//! `frag_length` (never by `read()` boundaries), and judges every reply with
//! [`client::check_response`], the single place where the client checks of
//! kms-protocol.md §8.8 live.
//!
//! Two kinds of failure are kept apart on purpose:
//! * [`Error`]: no usable reply PDU arrived (resolve, connect, timeout, the
//!   peer closed, an unframeable PDU, a refused bind). The connection is
//!   finished.
//! * [`Reply::verdict`]: a reply PDU arrived and was judged; a refusal, an
//!   RPC fault or a failed check is recorded there and the connection can
//!   carry further requests, as with vlmcs.
use crate::HResult;
use crate::client::{self, ClientError, Options, Session};
use crate::crypto::Block;
use crate::kms::{self, Expect, OpenedResponse, RequestRepr};
use crate::wire::Syntax;
use crate::wire::ndr::ResponseStub;
use crate::wire::rpc::{HEADER_LEN, Packet, peek_frag_len};
use std::boxed::Box;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// The KMS port.
pub const DEFAULT_PORT: u16 = 1688;
/// Per operation (connect, one send, one reply). Generous for a LAN host,
/// short enough that a dead host is reported rather than waited on.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest reply accepted: the `max_recv_frag` a [`Session`] announces
/// in its bind. Real KMS replies are below 512 bytes.
pub const MAX_REPLY_PDU: usize = 5840;
/// A request PDU is at most 16 + 8 + 16 + 260 = 300 bytes; a bind 160.
const TX_CAP: usize = 512;
/// vlmcs starts its call ids at 2; matching it keeps captures comparable.
pub const FIRST_CALL_ID: u32 = 2;

/// A KMS host as given on a command line: `HOST`, `HOST:PORT`, `[V6]`,
/// `[V6]:PORT` or a bare IPv6 literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A name or an IP literal (without brackets).
    pub host: String,
    pub port: u16,
}

/// Why a target specification is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTarget {
    pub spec: String,
    pub reason: String,
}

impl fmt::Display for BadTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid KMS host {:?}: {}", self.spec, self.reason)
    }
}

impl std::error::Error for BadTarget {}

impl Target {
    /// Parses `spec`, using [`DEFAULT_PORT`] when it names none.
    pub fn parse(spec: &str) -> Result<Target, BadTarget> {
        let bad = |reason: &str| BadTarget { spec: spec.to_string(), reason: reason.to_string() };
        let s = spec.trim();
        if s.is_empty() {
            return Err(bad("empty; expected HOST[:PORT]"));
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let Some((inside, after)) = rest.split_once(']') else {
                return Err(bad("missing ']' after the IPv6 address"));
            };
            if inside.parse::<Ipv6Addr>().is_err() {
                return Err(bad("brackets must hold an IPv6 address"));
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("expected ':PORT' after ']'"))?),
            };
            (inside, port)
        } else if s.matches(':').count() > 1 {
            if s.parse::<Ipv6Addr>().is_err() {
                return Err(bad("not an IPv6 address; write [ADDRESS]:PORT to give a port"));
            }
            (s, None)
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad(&std::format!("port {p:?} is not a number from 1 to 65535"))),
                Ok(n) => n,
            },
        };
        if host.is_empty() {
            return Err(bad("no host name before the port"));
        }
        let name_ok = host.parse::<IpAddr>().is_ok()
            || host.split('.').all(|l| {
                !l.is_empty() && l.len() <= 63 && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            });
        if !name_ok || host.len() > 253 {
            return Err(bad("not a valid host name or IP address"));
        }
        Ok(Target { host: host.to_string(), port })
    }

    /// The addresses to try, in resolver order.
    pub async fn resolve(&self) -> Result<Vec<SocketAddr>, Error> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(std::vec![SocketAddr::new(ip, self.port)]);
        }
        let found = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|source| Error::Resolve { host: self.host.clone(), source })?;
        let addrs: Vec<SocketAddr> = found.collect();
        if addrs.is_empty() {
            let source = io::Error::new(io::ErrorKind::NotFound, "no addresses");
            return Err(Error::Resolve { host: self.host.clone(), source });
        }
        Ok(addrs)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// How a connection binds and how long it waits.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    /// NDR64 / BTFN / multiplex choices, as vlmcs's `-N`, `-B`, `-p`.
    pub rpc: Options,
    /// Limit for connect, each send and each reply.
    pub timeout: Duration,
    /// A hard stop: no operation runs past it ([`Error::Deadline`]). Used by
    /// `bench` so that its duration limit holds even mid-request.
    pub deadline: Option<Instant>,
    pub first_call_id: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            rpc: Options::default(),
            timeout: DEFAULT_TIMEOUT,
            deadline: None,
            first_call_id: FIRST_CALL_ID,
        }
    }
}

/// Where in the conversation a transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connect,
    Bind,
    AlterContext,
    Request,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connect",
            Phase::Bind => "bind",
            Phase::AlterContext => "alter_context",
            Phase::Request => "activation request",
        })
    }
}

/// A connection-ending failure: no usable reply PDU.
#[derive(Debug)]
pub enum Error {
    Resolve {
        host: String,
        source: io::Error,
    },
    Connect {
        addr: SocketAddr,
        source: io::Error,
    },
    Timeout {
        phase: Phase,
        after: Duration,
    },
    /// The [`ClientOptions::deadline`] passed.
    Deadline {
        phase: Phase,
    },
    Io {
        phase: Phase,
        source: io::Error,
    },
    /// The host closed the connection before a whole reply arrived.
    Closed {
        phase: Phase,
    },
    /// A reply whose `frag_length` is below the header size or above
    /// [`MAX_REPLY_PDU`]: the stream cannot be framed any further.
    Frame {
        phase: Phase,
        frag_len: usize,
    },
    /// bind or alter_context refused or answered malformed.
    Rpc {
        phase: Phase,
        error: ClientError,
    },
}

impl Error {
    /// A short stable name, for counting errors by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Resolve { .. } => "resolve",
            Error::Connect { .. } => "connect",
            Error::Timeout { .. } => "timeout",
            Error::Deadline { .. } => "deadline",
            Error::Io { .. } => "io",
            Error::Closed { .. } => "closed",
            Error::Frame { .. } => "frame",
            Error::Rpc { phase: Phase::AlterContext, .. } => "alter_context",
            Error::Rpc { .. } => "bind",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Resolve { host, source } => write!(f, "cannot resolve {host}: {source}"),
            Error::Connect { addr, source } => write!(f, "cannot connect to {addr}: {source}"),
            Error::Timeout { phase, after } => write!(f, "{phase} timed out after {:.1} s", after.as_secs_f64()),
            Error::Deadline { phase } => write!(f, "{phase} cut off by the deadline"),
            Error::Io { phase, source } => write!(f, "{phase}: {source}"),
            Error::Closed { phase } => write!(f, "host closed the connection during {phase}"),
            Error::Frame { phase, frag_len } => {
                write!(f, "{phase}: reply frag_length {frag_len} outside 16..={MAX_REPLY_PDU}")
            }
            Error::Rpc { phase, error } => write!(f, "{phase}: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Resolve { source, .. } | Error::Connect { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A request message sealed ahead of time, with what the client must find
/// echoed in the reply. Sealing is the only costly step of building a
/// request, so a load generator prepares these outside its timed path.
#[derive(Clone, Copy)]
pub struct SealedRequest {
    pub repr: RequestRepr,
    pub expect: Expect,
    msg: [u8; 260],
    len: usize,
}

impl SealedRequest {
    /// Seals `repr` with `iv` (ignored for V4).
    pub fn new(repr: &RequestRepr, iv: &Block) -> SealedRequest {
        let mut msg = [0u8; 260];
        let len = kms::seal_request(repr, iv, &mut msg);
        SealedRequest { repr: *repr, expect: Expect::for_request(repr, iv), msg, len }
    }

    /// Seals with a fresh random IV, as every client does per request.
    pub fn with_random_iv(repr: &RequestRepr) -> SealedRequest {
        SealedRequest::new(repr, &rand::random::<Block>())
    }

    /// The KMS request message (252 bytes for V4, 260 for V5/V6).
    pub fn message(&self) -> &[u8] {
        &self.msg[..self.len]
    }
}

impl fmt::Debug for SealedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedRequest").field("repr", &self.repr).field("len", &self.len).finish()
    }
}

/// One judged reply to an activation request.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    /// The call id of the request (echoed by the reply, or the verdict says not).
    pub call_id: u32,
    /// The transfer syntax the request was sent with.
    pub syntax: Syntax,
    /// The RPC return value: non-zero when the host refused.
    pub host_hresult: HResult,
    /// Size of the KMS response message (0 when there was none).
    pub message_len: usize,
    /// The decoded response, whenever it could be decrypted and parsed,
    /// also when a check failed (so it can be shown).
    pub response: Option<OpenedResponse>,
    /// `Ok` only if the host activated and every client check passed,
    /// including the count against the N policy.
    pub verdict: Result<(), ClientError>,
}

impl Reply {
    pub fn is_activated(&self) -> bool {
        self.verdict.is_ok()
    }

    /// The HRESULT a Windows client ends with (kms-protocol.md §8.7): the
    /// host's refusal, `0xC004F038` for a count below the N policy, and
    /// `0xC004F074` for anything else wrong with the reply.
    pub fn hresult(&self) -> HResult {
        match self.verdict {
            Ok(()) => HResult::S_OK,
            Err(ClientError::Refused(hr)) => hr,
            Err(_) => HResult::BINDING_SERVICE_UNAVAILABLE,
        }
    }
}

/// One client connection: handshake done, ready for activation requests.
pub struct KmsConnection<S = TcpStream> {
    stream: S,
    session: Session,
    options: ClientOptions,
    rx: Box<[u8]>,
    rx_len: usize,
    tx: [u8; TX_CAP],
    alter_context: bool,
    /// The bind_ack as received, for callers that look past the checks
    /// (`kmsedge probe`: association group, secondary address, results).
    bind_ack: Vec<u8>,
}

impl KmsConnection<TcpStream> {
    /// Connects to the first address of `addrs` that answers, then binds.
    pub async fn connect(addrs: &[SocketAddr], options: &ClientOptions) -> Result<Self, Error> {
        let mut last = None;
        for &addr in addrs {
            match connect_one(addr, options).await {
                Ok(stream) => return KmsConnection::handshake(stream, options).await,
                Err(e @ Error::Deadline { .. }) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(Error::Resolve {
            host: String::new(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to"),
        }))
    }
}

impl KmsConnection<TcpStream> {
    /// The address actually connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }
}

async fn connect_one(addr: SocketAddr, options: &ClientOptions) -> Result<TcpStream, Error> {
    let (deadline, by_deadline) = limit(options);
    let stream = match timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) if by_deadline => return Err(Error::Deadline { phase: Phase::Connect }),
        Err(_) => return Err(Error::Timeout { phase: Phase::Connect, after: options.timeout }),
        Ok(r) => r.map_err(|source| Error::Connect { addr, source })?,
    };
    // Each PDU goes out in one write; waiting for more data only adds latency.
    stream.set_nodelay(true).map_err(|source| Error::Connect { addr, source })?;
    Ok(stream)
}

/// The earlier of timeout and deadline, and whether it is the deadline.
fn limit(options: &ClientOptions) -> (Instant, bool) {
    let t = Instant::now() + options.timeout;
    match options.deadline {
        Some(d) if d <= t => (d, true),
        _ => (t, false),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> KmsConnection<S> {
    /// Binds on an open stream (and sends the alter_context vlmcs sends when
    /// the host took only NDR64 but requests should go on NDR32).
    pub async fn handshake(stream: S, options: &ClientOptions) -> Result<Self, Error> {
        let mut c = KmsConnection {
            stream,
            session: Session::new(options.rpc, options.first_call_id),
            options: *options,
            rx: std::vec![0u8; MAX_REPLY_PDU].into_boxed_slice(),
            rx_len: 0,
            tx: [0; TX_CAP],
            alter_context: false,
            bind_ack: Vec::new(),
        };
        let n = c.session.bind(&mut c.tx);
        c.send(n, Phase::Bind).await?;
        let len = c.read_pdu(Phase::Bind).await?;
        let acked = c.session.on_bind_ack(&c.rx[..len]);
        c.bind_ack = c.rx[..len].to_vec();
        c.consume(len);
        acked.map_err(|error| Error::Rpc { phase: Phase::Bind, error })?;
        if c.session.needs_alter_context() {
            c.alter_context = true;
            let n = c.session.alter_context(&mut c.tx);
            c.send(n, Phase::AlterContext).await?;
            let len = c.read_pdu(Phase::AlterContext).await?;
            let acked = c.session.on_alter_context_resp(&c.rx[..len]);
            c.consume(len);
            acked.map_err(|error| Error::Rpc { phase: Phase::AlterContext, error })?;
        }
        if c.session.request_syntax().is_none() {
            return Err(Error::Rpc { phase: Phase::Bind, error: ClientError::NoContext });
        }
        Ok(c)
    }

    /// The transfer syntax requests go out with.
    pub fn syntax(&self) -> Syntax {
        self.session.request_syntax().unwrap_or(Syntax::Ndr32)
    }

    /// Whether the handshake needed an alter_context.
    pub fn used_alter_context(&self) -> bool {
        self.alter_context
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Changes the hard stop for later operations.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.options.deadline = deadline;
    }

    /// Seals `repr` with a random IV, sends it and judges the reply against
    /// `repr.n_policy`.
    pub async fn activate(&mut self, repr: &RequestRepr) -> Result<Reply, Error> {
        self.activate_sealed(&SealedRequest::with_random_iv(repr)).await
    }

    /// Sends a prepared request and judges the reply against the request's
    /// N policy. Allocates nothing.
    pub async fn activate_sealed(&mut self, req: &SealedRequest) -> Result<Reply, Error> {
        let syntax = self.syntax();
        let n = self
            .session
            .request(req.message(), &mut self.tx)
            .map_err(|error| Error::Rpc { phase: Phase::Request, error })?;
        let call_id = Packet::new_unchecked(&self.tx[..n]).call_id();
        self.send(n, Phase::Request).await?;
        let len = self.read_pdu(Phase::Request).await?;
        let reply = judge(&mut self.session, &self.rx[..len], &req.expect, req.repr.n_policy, call_id, syntax);
        self.consume(len);
        Ok(reply)
    }

    /// The bind_ack PDU the handshake received (header included).
    pub fn bind_ack(&self) -> &[u8] {
        &self.bind_ack
    }

    /// Sends a PDU the caller built (at most 512 bytes) and returns the next
    /// reply PDU unjudged: for a probe sending what no client sends, e.g. a
    /// request on a context the host never accepted.
    pub async fn exchange_raw(&mut self, pdu: &[u8]) -> Result<Vec<u8>, Error> {
        let n = pdu.len().min(TX_CAP);
        self.tx[..n].copy_from_slice(&pdu[..n]);
        self.send(n, Phase::Request).await?;
        let len = self.read_pdu(Phase::Request).await?;
        let reply = self.rx[..len].to_vec();
        self.consume(len);
        Ok(reply)
    }

    /// Gives the stream back (e.g. to shut it down politely).
    pub fn into_inner(self) -> S {
        self.stream
    }

    async fn send(&mut self, n: usize, phase: Phase) -> Result<(), Error> {
        let (deadline, by_deadline) = limit(&self.options);
        let io = async {
            self.stream.write_all(&self.tx[..n]).await?;
            self.stream.flush().await
        };
        match timeout_at(deadline, io).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(Error::Io { phase, source }),
            Err(_) if by_deadline => Err(Error::Deadline { phase }),
            Err(_) => Err(Error::Timeout { phase, after: self.options.timeout }),
        }
    }

    /// Reads until `rx` starts with one whole PDU; returns its length.
    async fn read_pdu(&mut self, phase: Phase) -> Result<usize, Error> {
        let (deadline, by_deadline) = limit(&self.options);
        loop {
            if let Some(frag_len) = peek_frag_len(&self.rx[..self.rx_len]) {
                if !(HEADER_LEN..=MAX_REPLY_PDU).contains(&frag_len) {
                    return Err(Error::Frame { phase, frag_len });
                }
                if self.rx_len >= frag_len {
                    return Ok(frag_len);
                }
            }
            let read = self.stream.read(&mut self.rx[self.rx_len..]);
            match timeout_at(deadline, read).await {
                Ok(Ok(0)) => return Err(Error::Closed { phase }),
                Ok(Ok(n)) => self.rx_len += n,
                Ok(Err(source)) => return Err(Error::Io { phase, source }),
                Err(_) if by_deadline => return Err(Error::Deadline { phase }),
                Err(_) => return Err(Error::Timeout { phase, after: self.options.timeout }),
            }
        }
    }

    /// Drops the first `len` bytes (one PDU) from the receive buffer.
    fn consume(&mut self, len: usize) {
        self.rx.copy_within(len..self.rx_len, 0);
        self.rx_len -= len;
    }
}

/// Every check a client makes on a response PDU, via the session (RPC
/// layer) and [`client::check_response`] (KMS message and count).
fn judge(session: &mut Session, pdu: &[u8], expect: &Expect, n_policy: u32, call_id: u32, syntax: Syntax) -> Reply {
    let mut reply =
        Reply { call_id, syntax, host_hresult: HResult::S_OK, message_len: 0, response: None, verdict: Ok(()) };
    match session.on_response(pdu) {
        Err(e) => reply.verdict = Err(e),
        Ok(ResponseStub::Refused(hr)) => {
            reply.host_hresult = hr;
            reply.verdict = Err(ClientError::Refused(hr));
        }
        Ok(ResponseStub::Message(msg)) => {
            reply.message_len = msg.len();
            match client::check_response(msg, expect, n_policy) {
                Ok(opened) => reply.response = Some(opened),
                Err(e) => {
                    // Still decode what can be decoded, for display.
                    reply.response = kms::open_response(msg, expect).ok();
                    reply.verdict = Err(e);
                }
            }
        }
    }
    reply
}

/// Connects to `target`, binds, sends each of `requests` (random IVs) on
/// the one connection and returns every judged reply: the whole client
/// side of an activation, for callers that need no progress reporting.
pub async fn activate(target: &Target, requests: &[RequestRepr], options: &ClientOptions) -> Result<Vec<Reply>, Error> {
    let addrs = target.resolve().await?;
    let mut conn = KmsConnection::connect(&addrs, options).await?;
    let mut replies = Vec::with_capacity(requests.len());
    for r in requests {
        replies.push(conn.activate(r).await?);
    }
    Ok(replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = |s: &str| Target::parse(s).map(|t| (t.host, t.port));
        assert_eq!(t("127.0.0.1"), Ok(("127.0.0.1".into(), 1688)));
        assert_eq!(t("127.0.0.1:11688"), Ok(("127.0.0.1".into(), 11688)));
        assert_eq!(t("kms.example.com:1700"), Ok(("kms.example.com".into(), 1700)));
        assert_eq!(t("[::1]:1688"), Ok(("::1".into(), 1688)));
        assert_eq!(t("[::1]"), Ok(("::1".into(), 1688)));
        assert_eq!(t("::1"), Ok(("::1".into(), 1688)));
        for bad in [
            "",
            ":1688",
            "host:",
            "host:0",
            "host:65536",
            "host:x",
            "[::1",
            "[::1]x",
            "[nope]:1",
            "a b",
            "1:2:3",
            "a..b",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid KMS host"), "{bad}: {e}");
        }
        assert_eq!(Target::parse("[::1]:99").unwrap().to_string(), "[::1]:99");
        assert_eq!(Target::parse("h").unwrap().to_string(), "h:1688");
    }

    #[test]
    fn reply_hresults() {
        let mut r = Reply {
            call_id: 2,
            syntax: Syntax::Ndr32,
            host_hresult: HResult::S_OK,
            message_len: 0,
            response: None,
            verdict: Ok(()),
        };
        assert_eq!(r.hresult(), HResult::S_OK);
        r.verdict = Err(ClientError::Refused(HResult::INVALID_TIMESTAMP));
        assert_eq!(r.hresult(), HResult::INVALID_TIMESTAMP);
        r.verdict = Err(ClientError::Fault(0x1C01_0003));
        assert_eq!(r.hresult(), HResult::BINDING_SERVICE_UNAVAILABLE);
    }
}
