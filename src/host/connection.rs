//! One client connection of a KMS host, as a state machine over bytes and
//! time (quinn-proto style).
//!
//! The runtime calls [`Connection::receive`] with whatever arrived, then
//! [`Connection::poll`] until it returns [`Event::NeedData`]. `poll` frames
//! PDUs by `frag_length` and answers binds, alter_contexts and faults by
//! itself; an activation request comes out as [`Event::Activation`], and the
//! runtime — after asking its registry — answers it with
//! [`Connection::answer`]. Nothing here blocks, allocates or panics on
//! input; every malformed PDU gets the protocol's defined answer.
//!
//! The connection's limits live here too, so that every runtime enforces
//! the same ones: time is the runtime's milliseconds since the connection
//! was created, passed into [`Connection::receive`] and
//! [`Connection::handle_timeout`]; the runtime sleeps until
//! [`Connection::poll_timeout`] and reports when it woke. The idle timer
//! restarts only when a whole PDU completes, so a client trickling one byte
//! a second cannot hold a connection open.
use crate::host::policy::Decision;
use crate::kms::{self, OpenedRequest, RequestRepr, ResponseRepr, Version};
use crate::kms::seal::{RequestIv, ResponseRandom};
use crate::wire::bind::{BindAckRepr, BindNakRepr, BindPacket, ContextResult, nak_reason, reason, result};
use crate::wire::call::{self, FaultRepr, RequestPacket, status};
use crate::wire::rpc::{HEADER_LEN, flags};
use crate::wire::syntax::{self, SyntaxId};
use crate::wire::{Header, Packet, PacketType, Syntax};

/// The smallest `out` buffer `poll` and `answer` accept; every PDU a host
/// emits fits (the DCE minimum fragment a client must accept is 1432).
pub const MAX_REPLY: usize = 512;
/// Receive buffer: the largest PDU a connection accepts.
pub const RX_CAP: usize = 4096;
/// Presentation contexts remembered per connection.
pub const MAX_CONTEXTS: usize = 16;
/// Largest request stub reassembled from fragments (a KMS stub is ≤ 276).
pub const MAX_STUB: usize = 1024;

/// Milliseconds since the connection was created, on the runtime's clock.
pub type Millis = u64;

/// What one connection may use, whatever the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Close a connection that completes no PDU for this long.
    pub idle_timeout: Millis,
    /// Close any connection this long after it opened.
    pub max_lifetime: Millis,
    /// Activation requests answered per connection; the next one closes it.
    pub max_requests: u32,
}

impl Limits {
    pub const DEFAULT_IDLE_TIMEOUT: Millis = 30_000;
    pub const DEFAULT_MAX_LIFETIME: Millis = 300_000;
    pub const DEFAULT_MAX_REQUESTS: u32 = 10_000;
}

impl Default for Limits {
    /// A Windows client sends one request per connection, within a second;
    /// these leave load generators room (10 000 requests, 5 minutes) and
    /// still bound what one connection can hold.
    fn default() -> Self {
        Limits {
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_lifetime: Self::DEFAULT_MAX_LIFETIME,
            max_requests: Self::DEFAULT_MAX_REQUESTS,
        }
    }
}

/// Per-listener settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Listening port, sent back as the bind_ack secondary address.
    pub port: u16,
    /// Accept NDR64 (rejecting NDR32 offered alongside it), as Windows 8+
    /// hosts do. Turn off when the ePIDs claim a pre-9200 host build.
    pub ndr64: bool,
    /// Acknowledge bind-time feature negotiation.
    pub btfn: bool,
    /// Largest `frag_length` accepted (at most [`RX_CAP`]).
    pub max_pdu: u16,
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config { port: 1688, ndr64: true, btfn: true, max_pdu: RX_CAP as u16, limits: Limits::default() }
    }
}

/// A decoded activation request awaiting the runtime's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activation {
    pub request: RequestRepr,
    /// Envelope version (4.0, 5.0 or 6.0).
    pub version: Version,
    pub syntax: Syntax,
    pub call_id: u32,
}

/// Why the connection should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Header unusable for framing (bad version, representation, length).
    Protocol,
    /// A PDU type a KMS host does not serve (auth3, shutdown, responses…).
    UnexpectedPdu(u8),
    /// `poll`/`answer` was given an `out` smaller than [`MAX_REPLY`].
    BufferTooSmall,
    /// No PDU completed within [`Limits::idle_timeout`].
    IdleTimeout,
    /// Open longer than [`Limits::max_lifetime`].
    TimeLimit,
    /// More activation requests than [`Limits::max_requests`].
    RequestLimit,
    /// The host is shutting down ([`Connection::shutdown`]) and nothing of
    /// this client's is left to answer.
    Shutdown,
}

/// What a [`Event::Transmit`] carries, so the runtime can count and log it
/// without parsing its own output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transmitted {
    BindAck,
    AlterContextResp,
    BindNak,
    Fault,
    /// A response PDU carrying `ERROR_INVALID_DATA`: the request stub or
    /// KMS message could not be read.
    UnreadableRequest,
}

/// What the runtime should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Need more bytes before anything can happen.
    NeedData,
    /// Send `out[..len]`; then close the connection if `close`.
    Transmit { len: usize, close: bool, what: Transmitted },
    /// Decide, then call [`Connection::answer`].
    Activation(Activation),
    /// Close without sending anything more.
    Close(CloseReason),
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    activation: Activation,
    context_id: u16,
    iv: RequestIv,
}

#[derive(Debug, Clone, Copy)]
struct Fragments {
    call_id: u32,
    context_id: u16,
    opnum: u16,
    len: usize,
}

pub struct Connection {
    config: Config,
    assoc_group: u32,
    contexts: [(u16, Syntax); MAX_CONTEXTS],
    n_contexts: usize,
    rx: [u8; RX_CAP],
    rx_len: usize,
    frag: Option<Fragments>,
    frag_buf: [u8; MAX_STUB],
    pending: Option<Pending>,
    closed: Option<CloseReason>,
    /// Time of the latest `receive`: when the PDUs it completes arrived.
    rx_at: Millis,
    /// When the latest whole PDU arrived (the idle timer's start).
    progress_at: Millis,
    requests: u32,
    /// Set by [`Connection::shutdown`]: close once nothing is buffered, and
    /// at this time at the latest.
    drain_by: Option<Millis>,
}

impl Connection {
    /// `assoc_group` is used when a client asks for a new association
    /// group (id 0); draw it at random per connection, never a constant.
    /// Time starts at 0 now.
    pub fn new(config: Config, assoc_group: u32) -> Connection {
        Connection {
            config,
            assoc_group: assoc_group.max(1),
            contexts: [(0, Syntax::Ndr32); MAX_CONTEXTS],
            n_contexts: 0,
            rx: [0; RX_CAP],
            rx_len: 0,
            frag: None,
            frag_buf: [0; MAX_STUB],
            pending: None,
            closed: None,
            rx_at: 0,
            progress_at: 0,
            requests: 0,
            drain_by: None,
        }
    }

    /// Takes as many of `data` (arrived at `now`) as fit; returns how many.
    /// When it returns less than `data.len()`, poll first, then offer the
    /// rest again.
    pub fn receive(&mut self, now: Millis, data: &[u8]) -> usize {
        if self.closed.is_some() {
            return data.len();
        }
        self.rx_at = now;
        let n = data.len().min(RX_CAP - self.rx_len);
        self.rx[self.rx_len..self.rx_len + n].copy_from_slice(&data[..n]);
        self.rx_len += n;
        n
    }

    /// Bytes received but not yet consumed by a PDU.
    pub fn buffered(&self) -> usize {
        self.rx_len
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// When the runtime must call [`Connection::handle_timeout`] if nothing
    /// arrives before; `None` once closed.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.closed.is_some() {
            return None;
        }
        let l = &self.config.limits;
        let t = self.progress_at.saturating_add(l.idle_timeout).min(l.max_lifetime);
        Some(self.drain_by.map_or(t, |d| t.min(d)))
    }

    /// The runtime's timer fired at `now`: closes the connection if a limit
    /// has run out (the next `poll` says which).
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.closed.is_some() {
            return;
        }
        let l = &self.config.limits;
        let why = if self.drain_by.is_some_and(|d| now >= d) {
            CloseReason::Shutdown
        } else if now >= l.max_lifetime {
            CloseReason::TimeLimit
        } else if now >= self.progress_at.saturating_add(l.idle_timeout) {
            CloseReason::IdleTimeout
        } else {
            return;
        };
        self.close(why);
    }

    /// The host is stopping: the connection closes as soon as nothing of
    /// the client's is buffered or waiting for an answer, and after `grace`
    /// at the latest, so a request in flight is still answered.
    pub fn shutdown(&mut self, now: Millis, grace: Millis) {
        let by = now.saturating_add(grace);
        self.drain_by = Some(self.drain_by.map_or(by, |d| d.min(by)));
    }

    /// Advances until there is something to send or decide, or no complete
    /// PDU is left; replies go to `out`.
    pub fn poll(&mut self, out: &mut [u8]) -> Event {
        if let Some(why) = self.closed {
            return Event::Close(why);
        }
        if let Some(p) = &self.pending {
            return Event::Activation(p.activation);
        }
        if out.len() < MAX_REPLY {
            return self.close(CloseReason::BufferTooSmall);
        }
        loop {
            if self.rx_len < HEADER_LEN {
                if self.rx_len == 0 && self.drain_by.is_some() {
                    return self.close(CloseReason::Shutdown);
                }
                return Event::NeedData;
            }
            let pkt = Packet::new_unchecked(&self.rx[..self.rx_len]);
            let hdr = pkt.header();
            let frag_len = hdr.frag_len as usize;
            if pkt.check_header().is_err() || frag_len < HEADER_LEN {
                let nak = BindNakRepr { reason: nak_reason::PROTOCOL_VERSION_NOT_SUPPORTED };
                return self.refuse_and_close(&hdr, nak, out);
            }
            if frag_len > self.config.max_pdu as usize || frag_len > RX_CAP {
                let nak = BindNakRepr { reason: nak_reason::LOCAL_LIMIT_EXCEEDED };
                return self.refuse_and_close(&hdr, nak, out);
            }
            if self.rx_len < frag_len {
                return Event::NeedData;
            }
            self.progress_at = self.rx_at;
            let event = match hdr.ptype {
                PacketType::Bind | PacketType::AlterContext => self.on_bind(&hdr, out),
                PacketType::Request => self.on_request(&hdr, out),
                other => return self.close(CloseReason::UnexpectedPdu(other.into())),
            };
            if self.closed.is_some() {
                return event;
            }
            self.rx.copy_within(frag_len..self.rx_len, 0);
            self.rx_len -= frag_len;
            // A request fragment that is not the last one produces nothing;
            // go on with whatever follows it.
            if event != Event::NeedData {
                return event;
            }
        }
    }

    /// Answers the pending activation; returns the length of the response
    /// PDU in `out` (0 if nothing was pending). `random` supplies the V5/V6
    /// salt and V6 response IV.
    pub fn answer(&mut self, decision: &Decision, random: &ResponseRandom, out: &mut [u8]) -> usize {
        let Some(p) = self.pending.take() else { return 0 };
        if out.len() < MAX_REPLY {
            self.close(CloseReason::BufferTooSmall);
            return 0;
        }
        let a = &p.activation;
        let stub_at = HEADER_LEN + call::CALL_HEADER_LEN;
        let stub_len = match decision {
            Decision::Refuse(hr) => return emit_refusal(a.call_id, p.context_id, a.syntax, *hr, out),
            Decision::Grant(g) => {
                let resp = ResponseRepr {
                    version: a.version,
                    epid: g.epid,
                    cmid: a.request.cmid,
                    request_time: a.request.request_time,
                    current_count: g.current_count,
                    activation_interval: g.activation_interval,
                    renewal_interval: g.renewal_interval,
                };
                let msg_at = stub_at + a.syntax.response_prefix_len();
                let m = kms::seal_response(&resp, &p.iv, random, &g.hwid, &mut out[msg_at..]);
                a.syntax.encode_response(&mut out[stub_at..], m)
            }
        };
        call::emit_response_header(&mut out[HEADER_LEN..], stub_len as u32, p.context_id);
        let len = stub_at + stub_len;
        Header { ptype: PacketType::Response, flags: flags::WHOLE, frag_len: len as u16, call_id: a.call_id }
            .emit(out);
        len
    }

    fn close(&mut self, why: CloseReason) -> Event {
        self.closed = Some(why);
        self.rx_len = 0;
        self.pending = None;
        Event::Close(why)
    }

    /// A PDU whose header cannot be trusted: answer binds with bind_nak and
    /// requests with a protocol-error fault, then close; drop anything else.
    fn refuse_and_close(&mut self, hdr: &Header, nak: BindNakRepr, out: &mut [u8]) -> Event {
        let (len, what) = match hdr.ptype {
            PacketType::Bind | PacketType::AlterContext => (emit_nak(hdr.call_id, nak, out), Transmitted::BindNak),
            PacketType::Request => (emit_fault(hdr.call_id, status::PROTOCOL_ERROR, out), Transmitted::Fault),
            other => return self.close(CloseReason::UnexpectedPdu(other.into())),
        };
        self.close(CloseReason::Protocol);
        Event::Transmit { len, close: true, what }
    }

    fn syntax_of(&self, context_id: u16) -> Option<Syntax> {
        self.contexts[..self.n_contexts].iter().find(|c| c.0 == context_id).map(|c| c.1)
    }

    fn remember(&mut self, context_id: u16, syntax: Syntax) -> bool {
        if let Some(c) = self.contexts[..self.n_contexts].iter_mut().find(|c| c.0 == context_id) {
            c.1 = syntax;
        } else if self.n_contexts < MAX_CONTEXTS {
            self.contexts[self.n_contexts] = (context_id, syntax);
            self.n_contexts += 1;
        } else {
            return false;
        }
        true
    }

    /// Presentation-context negotiation, kms-protocol.md §3.6.
    fn on_bind(&mut self, hdr: &Header, out: &mut [u8]) -> Event {
        let is_bind = hdr.ptype == PacketType::Bind;
        let body_range = HEADER_LEN..hdr.frag_len as usize;
        let bind = match BindPacket::new_checked(&self.rx[body_range.clone()]) {
            Ok(b) if b.n_contexts() <= MAX_CONTEXTS => b,
            Ok(_) if is_bind => {
                let len = emit_nak(hdr.call_id, BindNakRepr { reason: nak_reason::LOCAL_LIMIT_EXCEEDED }, out);
                return Event::Transmit { len, close: false, what: Transmitted::BindNak };
            }
            _ if is_bind => {
                let len = emit_nak(hdr.call_id, BindNakRepr { reason: nak_reason::NOT_SPECIFIED }, out);
                return Event::Transmit { len, close: false, what: Transmitted::BindNak };
            }
            _ => {
                let len = emit_fault(hdr.call_id, status::PROTOCOL_ERROR, out);
                return Event::Transmit { len, close: false, what: Transmitted::Fault };
            }
        };
        let is_kms = |c: &crate::wire::bind::ContextElement<'_>| {
            c.abstract_syntax.uuid == syntax::KMS_INTERFACE.uuid && c.abstract_syntax.version & 0xFFFF == 1
        };
        let ndr64 = self.config.ndr64;
        let offers_ndr64 = ndr64
            && bind.contexts().any(|c| is_kms(&c) && c.transfer_syntaxes().any(|t| t == syntax::NDR64));
        let mut results = [ContextResult::default(); MAX_CONTEXTS];
        let mut accepted = [(0u16, Syntax::Ndr32, false); MAX_CONTEXTS];
        for (i, c) in bind.contexts().enumerate() {
            let offered = |s: SyntaxId| c.transfer_syntaxes().any(|t| t == s);
            let btfn = c.transfer_syntaxes().find_map(|t| syntax::btfn_features(&t));
            results[i] = if !is_kms(&c) {
                ContextResult::reject(reason::ABSTRACT_SYNTAX_NOT_SUPPORTED)
            } else if ndr64 && offered(syntax::NDR64) {
                accepted[i] = (c.context_id, Syntax::Ndr64, true);
                ContextResult::accept(syntax::NDR64)
            } else if offered(syntax::NDR32) && !offers_ndr64 {
                accepted[i] = (c.context_id, Syntax::Ndr32, true);
                ContextResult::accept(syntax::NDR32)
            } else if let (Some(bits), true) = (btfn, self.config.btfn) {
                ContextResult { result: result::NEGOTIATE_ACK, reason: (bits & 3) as u16, syntax: SyntaxId::NULL }
            } else {
                ContextResult::reject(reason::TRANSFER_SYNTAXES_NOT_SUPPORTED)
            };
        }
        let n = bind.n_contexts();
        let (max_xmit, max_recv, group) = (bind.max_xmit_frag(), bind.max_recv_frag(), bind.assoc_group());
        for (i, &(id, syn, ok)) in accepted[..n].iter().enumerate() {
            if ok && !self.remember(id, syn) {
                results[i] = ContextResult::reject(reason::LOCAL_LIMIT_EXCEEDED);
            }
        }
        if is_bind && group != 0 {
            self.assoc_group = group;
        }
        let mut port = [0u8; 6];
        let sec_addr: &[u8] = if is_bind { port_string(self.config.port, &mut port) } else { &[] };
        let ack = BindAckRepr {
            max_xmit_frag: max_xmit,
            max_recv_frag: max_recv,
            assoc_group: self.assoc_group,
            secondary_addr: sec_addr,
            results: &results[..n],
        };
        let (ptype, flags, what) = if is_bind {
            (PacketType::BindAck, flags::WHOLE | (hdr.flags & flags::CONC_MPX), Transmitted::BindAck)
        } else {
            (PacketType::AlterContextResp, flags::WHOLE, Transmitted::AlterContextResp)
        };
        let body = ack.emit(&mut out[HEADER_LEN..]).expect("MAX_CONTEXTS results fit MAX_REPLY");
        let len = HEADER_LEN + body;
        Header { ptype, flags, frag_len: len as u16, call_id: hdr.call_id }.emit(out);
        Event::Transmit { len, close: false, what }
    }

    fn on_request(&mut self, hdr: &Header, out: &mut [u8]) -> Event {
        let frag_end = hdr.frag_len as usize;
        let (context_id, opnum, stub_start) =
            match RequestPacket::new_checked(&self.rx[HEADER_LEN..frag_end], hdr.flags) {
                Ok(r) => (r.context_id(), r.opnum(), frag_end - r.stub().len()),
                Err(_) => return self.fault(hdr.call_id, status::PROTOCOL_ERROR, out),
            };
        let first = hdr.flags & flags::FIRST_FRAG != 0;
        let last = hdr.flags & flags::LAST_FRAG != 0;
        if first && last {
            self.frag = None;
            return self.on_call(hdr.call_id, context_id, opnum, StubAt::Rx(stub_start, frag_end), out);
        }
        // A fragmented request: reassemble into frag_buf, bounded by MAX_STUB.
        let piece = frag_end - stub_start;
        let (f, at) = match (first, self.frag) {
            (true, _) => (Fragments { call_id: hdr.call_id, context_id, opnum, len: 0 }, 0),
            (false, Some(f)) if f.call_id == hdr.call_id => (f, f.len),
            _ => {
                self.frag = None;
                return self.fault(hdr.call_id, status::PROTOCOL_ERROR, out);
            }
        };
        if at + piece > MAX_STUB {
            self.frag = None;
            return self.fault(hdr.call_id, status::PROTOCOL_ERROR, out);
        }
        self.frag_buf[at..at + piece].copy_from_slice(&self.rx[stub_start..frag_end]);
        let f = Fragments { len: at + piece, ..f };
        if !last {
            self.frag = Some(f);
            return Event::NeedData;
        }
        self.frag = None;
        self.on_call(hdr.call_id, f.context_id, f.opnum, StubAt::Reassembled(f.len), out)
    }

    fn on_call(&mut self, call_id: u32, context_id: u16, opnum: u16, stub: StubAt, out: &mut [u8]) -> Event {
        let Some(syntax) = self.syntax_of(context_id) else {
            return self.fault(call_id, status::UNKNOWN_INTERFACE, out);
        };
        if opnum != 0 {
            return self.fault(call_id, status::OP_RANGE_ERROR, out);
        }
        let stub = match stub {
            StubAt::Reassembled(len) => &self.frag_buf[..len],
            StubAt::Rx(a, b) => &self.rx[a..b],
        };
        let opened: Result<OpenedRequest, ()> = match syntax.decode_request(stub) {
            Ok(msg) => kms::open_request(msg).map_err(|_| ()),
            Err(_) => Err(()),
        };
        match opened {
            Ok(o) => {
                self.requests = self.requests.saturating_add(1);
                if self.requests > self.config.limits.max_requests {
                    return self.close(CloseReason::RequestLimit);
                }
                let activation = Activation { request: o.repr, version: o.version, syntax, call_id };
                self.pending = Some(Pending { activation, context_id, iv: o.iv });
                Event::Activation(activation)
            }
            Err(()) => {
                // Undecodable stub or message: a normal response carrying
                // ERROR_INVALID_DATA, as genuine hosts and vlmcsd answer.
                let len = emit_refusal(call_id, context_id, syntax, crate::HResult::INVALID_DATA, out);
                Event::Transmit { len, close: false, what: Transmitted::UnreadableRequest }
            }
        }
    }

    fn fault(&mut self, call_id: u32, status: u32, out: &mut [u8]) -> Event {
        Event::Transmit { len: emit_fault(call_id, status, out), close: false, what: Transmitted::Fault }
    }
}

/// Where a complete request stub lies: in the receive buffer, or in the
/// reassembly buffer.
enum StubAt {
    Rx(usize, usize),
    Reassembled(usize),
}

fn emit_refusal(call_id: u32, context_id: u16, syntax: Syntax, hr: crate::HResult, out: &mut [u8]) -> usize {
    let stub_at = HEADER_LEN + call::CALL_HEADER_LEN;
    let stub_len = syntax.encode_refusal(&mut out[stub_at..], hr);
    call::emit_response_header(&mut out[HEADER_LEN..], stub_len as u32, context_id);
    let len = stub_at + stub_len;
    Header { ptype: PacketType::Response, flags: flags::WHOLE, frag_len: len as u16, call_id }.emit(out);
    len
}

fn emit_fault(call_id: u32, status: u32, out: &mut [u8]) -> usize {
    let len = HEADER_LEN + FaultRepr::LEN;
    FaultRepr { context_id: 0, status }.emit(&mut out[HEADER_LEN..]).expect("MAX_REPLY");
    let fl = flags::WHOLE | flags::DID_NOT_EXECUTE;
    Header { ptype: PacketType::Fault, flags: fl, frag_len: len as u16, call_id }.emit(out);
    len
}

fn emit_nak(call_id: u32, nak: BindNakRepr, out: &mut [u8]) -> usize {
    let len = HEADER_LEN + nak.emit(&mut out[HEADER_LEN..]).expect("MAX_REPLY");
    Header { ptype: PacketType::BindNak, flags: flags::WHOLE, frag_len: len as u16, call_id }.emit(out);
    len
}

/// The decimal port and its NUL, e.g. `1688\0`.
fn port_string(port: u16, buf: &mut [u8; 6]) -> &[u8] {
    let mut digits = [0u8; 5];
    let mut n = 0;
    let mut p = port;
    loop {
        digits[n] = b'0' + (p % 10) as u8;
        n += 1;
        p /= 10;
        if p == 0 {
            break;
        }
    }
    for i in 0..n {
        buf[i] = digits[n - 1 - i];
    }
    buf[n] = 0;
    &buf[..n + 1]
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::client::{Options, RequestBuilder, Session};
    use crate::time::FileTime;

    const LIMITS: Limits = Limits { idle_timeout: 1_000, max_lifetime: 10_000, max_requests: 2 };

    fn conn() -> Connection {
        Connection::new(Config { limits: LIMITS, ..Config::default() }, 9)
    }

    /// Binds `c` at `now` through a real client session.
    fn bind(c: &mut Connection, s: &mut Session, now: Millis) {
        let (mut a, mut b) = ([0u8; 512], [0u8; MAX_REPLY]);
        let n = s.bind(&mut a);
        assert_eq!(c.receive(now, &a[..n]), n);
        let Event::Transmit { len, what: Transmitted::BindAck, close: false } = c.poll(&mut b) else { panic!() };
        s.on_bind_ack(&b[..len]).unwrap();
    }

    fn request(s: &mut Session, out: &mut [u8]) -> usize {
        let sku = &crate::catalog::SKUS[0];
        let repr = RequestBuilder::for_sku(sku).time(FileTime::from_unix(1_717_200_000)).build();
        let mut msg = [0u8; 300];
        let m = crate::kms::seal_request(&repr, &[1; 16], &mut msg);
        s.request(&msg[..m], out).unwrap()
    }

    #[test]
    fn idle_timer_restarts_only_on_a_whole_pdu() {
        let mut c = conn();
        assert_eq!(c.poll_timeout(), Some(1_000));
        let mut s = Session::new(Options { offer_ndr64: false, ..Options::default() }, 2);
        bind(&mut c, &mut s, 600);
        assert_eq!(c.poll_timeout(), Some(1_600), "the bind restarted it");
        // Half a request, trickled in late, does not.
        let mut a = [0u8; 512];
        let n = request(&mut s, &mut a);
        c.receive(1_500, &a[..n / 2]);
        assert_eq!(c.poll(&mut [0u8; MAX_REPLY]), Event::NeedData);
        assert_eq!(c.poll_timeout(), Some(1_600));
        c.handle_timeout(1_599);
        assert!(!c.is_closed(), "not yet");
        c.handle_timeout(1_600);
        assert_eq!(c.poll(&mut [0u8; MAX_REPLY]), Event::Close(CloseReason::IdleTimeout));
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn lifetime_and_request_cap() {
        let mut c = conn();
        let mut s = Session::new(Options { offer_ndr64: false, ..Options::default() }, 2);
        for t in (0..10_000).step_by(900) {
            bind(&mut c, &mut s, t);
        }
        assert_eq!(c.poll_timeout(), Some(10_000), "the lifetime bounds a busy connection");
        c.handle_timeout(10_000);
        assert_eq!(c.poll(&mut [0u8; MAX_REPLY]), Event::Close(CloseReason::TimeLimit));

        let mut c = conn();
        let mut s = Session::new(Options { offer_ndr64: false, ..Options::default() }, 2);
        bind(&mut c, &mut s, 0);
        let (mut a, mut out) = ([0u8; 512], [0u8; MAX_REPLY]);
        let refuse = crate::host::Decision::Refuse(crate::HResult::INVALID_DATA);
        let random = crate::kms::ResponseRandom { salt: [0; 16], iv: [0; 16] };
        for _ in 0..LIMITS.max_requests {
            let n = request(&mut s, &mut a);
            c.receive(1, &a[..n]);
            assert!(matches!(c.poll(&mut out), Event::Activation(_)));
            assert!(c.answer(&refuse, &random, &mut out) > 0);
            s.on_response(&out[..0]).ok();
        }
        let n = request(&mut s, &mut a);
        c.receive(2, &a[..n]);
        assert_eq!(c.poll(&mut out), Event::Close(CloseReason::RequestLimit));
    }

    #[test]
    fn shutdown_answers_what_is_in_hand_then_closes() {
        let mut s = Session::new(Options { offer_ndr64: false, ..Options::default() }, 2);
        let mut out = [0u8; MAX_REPLY];
        // Nothing buffered: closes at once.
        let mut c = conn();
        bind(&mut c, &mut s, 0);
        c.shutdown(5, 500);
        assert_eq!(c.poll(&mut out), Event::Close(CloseReason::Shutdown));
        // A request in hand is still handed over; then it closes.
        let mut c = conn();
        let mut s = Session::new(Options { offer_ndr64: false, ..Options::default() }, 2);
        bind(&mut c, &mut s, 0);
        let mut a = [0u8; 512];
        let n = request(&mut s, &mut a);
        c.receive(3, &a[..n]);
        c.shutdown(4, 500);
        assert!(matches!(c.poll(&mut out), Event::Activation(_)));
        let random = crate::kms::ResponseRandom { salt: [0; 16], iv: [0; 16] };
        assert!(c.answer(&crate::host::Decision::Refuse(crate::HResult::INVALID_DATA), &random, &mut out) > 0);
        assert_eq!(c.poll(&mut out), Event::Close(CloseReason::Shutdown));
        // Half a request: waits for the rest until the grace runs out.
        let mut c = conn();
        let mut s = Session::new(Options { offer_ndr64: false, ..Options::default() }, 2);
        bind(&mut c, &mut s, 0);
        let n = request(&mut s, &mut a);
        c.receive(10, &a[..n - 1]);
        c.shutdown(20, 300);
        assert_eq!(c.poll(&mut out), Event::NeedData);
        assert_eq!(c.poll_timeout(), Some(320));
        c.handle_timeout(320);
        assert_eq!(c.poll(&mut out), Event::Close(CloseReason::Shutdown));
    }

    #[test]
    fn transmit_names_what_it_carries() {
        let mut c = conn();
        let mut s = Session::new(Options { offer_ndr64: false, ..Options::default() }, 2);
        bind(&mut c, &mut s, 0);
        // A request on the right context whose stub is garbage.
        let mut a = [0u8; 512];
        let n = request(&mut s, &mut a);
        for b in &mut a[HEADER_LEN + call::CALL_HEADER_LEN..n] {
            *b = 0xFF;
        }
        c.receive(1, &a[..n]);
        let ev = c.poll(&mut [0u8; MAX_REPLY]);
        assert!(matches!(ev, Event::Transmit { what: Transmitted::UnreadableRequest, close: false, .. }), "{ev:?}");
    }
}
