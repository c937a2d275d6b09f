//! One client association: bind (and alter_context), requests, and the
//! checks vlmcs makes on every reply PDU (kms-protocol.md §6.6, §8.8).
use crate::kms::{OpenError, VerifyError};
use crate::wire::bind::{self, BindAckPacket, BindNakRepr, result};
use crate::wire::call::{self, FaultRepr, ResponsePacket};
use crate::wire::ndr::{ResponseStub, StubError};
use crate::wire::rpc::{HEADER_LEN, flags};
use crate::wire::syntax::{self, SyntaxId};
use crate::wire::{self, Header, Packet, PacketType, Syntax};
use crate::HResult;
use core::fmt;

/// How the client binds, as vlmcs's `-N`, `-B`, `-p` switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Offer NDR64 alongside NDR32.
    pub offer_ndr64: bool,
    /// Send requests on the NDR64 context when the host accepted it.
    pub use_ndr64: bool,
    /// Offer bind-time feature negotiation.
    pub btfn: bool,
    /// Set the concurrent-multiplex flag in bind and alter_context.
    pub multiplex: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { offer_ndr64: true, use_ndr64: false, btfn: true, multiplex: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientError {
    Wire(wire::Error),
    /// A PDU of a type that does not answer what was sent.
    UnexpectedPdu(u8),
    CallId { sent: u32, got: u32 },
    Fault(u32),
    BindNak(u16),
    /// bind_ack with a wrong number of results or an inconsistent entry.
    BadBindAck(&'static str),
    /// The host accepted no NDR context to send a request on.
    NoContext,
    /// bind_ack's multiplex flag differs from the bind's.
    MultiplexMismatch,
    /// Response on another context, non-zero cancel count or wrong alloc_hint.
    BadResponseHeader(&'static str),
    Stub(StubError),
    /// The host answered with this HRESULT (or the count was too low).
    Refused(HResult),
    Open(OpenError),
    Verify(VerifyError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Wire(e) => write!(f, "RPC: {e}"),
            ClientError::UnexpectedPdu(t) => write!(f, "unexpected PDU type {t}"),
            ClientError::CallId { sent, got } => write!(f, "call id {got} does not echo {sent}"),
            ClientError::Fault(s) => write!(f, "RPC fault 0x{s:08X}"),
            ClientError::BindNak(r) => write!(f, "bind rejected (bind_nak reason {r})"),
            ClientError::BadBindAck(what) => write!(f, "bad bind_ack: {what}"),
            ClientError::NoContext => f.write_str("host accepted no NDR transfer syntax"),
            ClientError::MultiplexMismatch => f.write_str("RPC_PF_MULTIPLEX of bind and bind_ack differ"),
            ClientError::BadResponseHeader(what) => write!(f, "bad response PDU: {what}"),
            ClientError::Stub(e) => write!(f, "response stub: {e}"),
            ClientError::Refused(hr) => write!(f, "activation refused: {hr}"),
            ClientError::Open(e) => write!(f, "response: {e}"),
            ClientError::Verify(e) => write!(f, "response check failed: {e}"),
        }
    }
}

impl From<wire::Error> for ClientError {
    fn from(e: wire::Error) -> Self {
        ClientError::Wire(e)
    }
}

/// Contexts are numbered in offer order, as vlmcs and Windows do: NDR32 is
/// always 0, NDR64 (if offered) 1, BTFN last.
const CTX_NDR32: u16 = 0;
const CTX_NDR64: u16 = 1;
const MAX_FRAG: u16 = 5840;
/// Feature bits Windows offers: security-context multiplexing, keep
/// connection on orphan.
const BTFN_BITS: u64 = 3;

pub struct Session {
    options: Options,
    call_id: u32,
    ndr32: bool,
    ndr64: bool,
    /// Context and syntax of the request in flight.
    in_flight: Option<(u16, Syntax)>,
    /// bind_ack's association group (echoed in alter_context).
    assoc_group: u32,
}

fn pdu(out: &mut [u8], ptype: PacketType, fl: u8, call_id: u32, body: usize) -> usize {
    let len = HEADER_LEN + body;
    Header { ptype, flags: fl, frag_len: len as u16, call_id }.emit(out);
    len
}

impl Session {
    /// `first_call_id` as the client likes (vlmcs starts at 2, py-kms at 1).
    pub fn new(options: Options, first_call_id: u32) -> Session {
        Session { options, call_id: first_call_id, ndr32: false, ndr64: false, in_flight: None, assoc_group: 0 }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// vlmcs sends its first request on NDR32 and later ones on NDR64;
    /// switching this between requests reproduces that.
    pub fn set_use_ndr64(&mut self, on: bool) {
        self.options.use_ndr64 = on;
    }

    fn offered(&self) -> ([(u16, SyntaxId); 3], usize) {
        let mut c = [(CTX_NDR32, syntax::NDR32); 3];
        let mut n = 1;
        if self.options.offer_ndr64 {
            c[n] = (CTX_NDR64, syntax::NDR64);
            n += 1;
        }
        if self.options.btfn {
            c[n] = (n as u16, syntax::btfn(BTFN_BITS));
            n += 1;
        }
        (c, n)
    }

    fn bind_flags(&self) -> u8 {
        flags::WHOLE | if self.options.multiplex { flags::CONC_MPX } else { 0 }
    }

    /// The bind PDU (needs ≥ 160 bytes).
    pub fn bind(&mut self, out: &mut [u8]) -> usize {
        let (ctx, n) = self.offered();
        let body = bind::emit_bind(&mut out[HEADER_LEN..], MAX_FRAG, 0, &ctx[..n]).expect("160-byte buffer");
        pdu(out, PacketType::Bind, self.bind_flags(), self.call_id, body)
    }

    fn check_reply<'a>(&self, reply: &'a [u8], want: PacketType) -> Result<Packet<&'a [u8]>, ClientError> {
        let p = Packet::new_checked(reply)?;
        p.check_header()?;
        if p.call_id() != self.call_id {
            return Err(ClientError::CallId { sent: self.call_id, got: p.call_id() });
        }
        match p.ptype() {
            t if t == want => Ok(p),
            PacketType::BindNak => Err(ClientError::BindNak(BindNakRepr::parse(p.body())?.reason)),
            PacketType::Fault => Err(ClientError::Fault(FaultRepr::parse(p.body())?.status)),
            t => Err(ClientError::UnexpectedPdu(t.into())),
        }
    }

    /// Checks a bind_ack: one well-formed result per offered context,
    /// accepted syntaxes echoed with their version, rejected ones zeroed,
    /// the multiplex flag echoed.
    pub fn on_bind_ack(&mut self, reply: &[u8]) -> Result<(), ClientError> {
        let p = self.check_reply(reply, PacketType::BindAck)?;
        if (p.flags() & flags::CONC_MPX != 0) != self.options.multiplex {
            return Err(ClientError::MultiplexMismatch);
        }
        let ack = BindAckPacket::new_checked(p.body())?;
        if ack.secondary_addr().last() != Some(&0) {
            return Err(ClientError::BadBindAck("secondary address not NUL-terminated"));
        }
        self.assoc_group = ack.assoc_group();
        let (ctx, n) = self.offered();
        self.check_results(&ack, &ctx[..n])
    }

    fn check_results<T: AsRef<[u8]>>(&mut self, ack: &BindAckPacket<T>, ctx: &[(u16, SyntaxId)]) -> Result<(), ClientError> {
        if ack.n_results() != ctx.len() {
            return Err(ClientError::BadBindAck("result count differs from offered contexts"));
        }
        for (r, (_, offered)) in ack.results().zip(ctx) {
            match r.result {
                result::ACCEPTANCE => {
                    if r.syntax != *offered || r.reason != 0 {
                        return Err(ClientError::BadBindAck("accepted syntax not echoed"));
                    }
                    match *offered {
                        s if s == syntax::NDR32 => self.ndr32 = true,
                        s if s == syntax::NDR64 => self.ndr64 = true,
                        _ => return Err(ClientError::BadBindAck("BTFN item accepted as a transfer syntax")),
                    }
                }
                result::NEGOTIATE_ACK if syntax::btfn_features(offered).is_some() => {
                    if r.syntax != SyntaxId::NULL {
                        return Err(ClientError::BadBindAck("BTFN acknowledgement carries a syntax"));
                    }
                }
                result::PROVIDER_REJECTION | result::USER_REJECTION => {
                    if r.syntax != SyntaxId::NULL {
                        return Err(ClientError::BadBindAck("rejected context carries a syntax"));
                    }
                }
                _ => return Err(ClientError::BadBindAck("unknown result code")),
            }
        }
        Ok(())
    }

    /// Whether to send an alter_context for NDR32 first (vlmcs does when the
    /// host took NDR64 and rejected NDR32, and requests should use NDR32).
    pub fn needs_alter_context(&self) -> bool {
        !self.ndr32 && self.ndr64 && !self.options.use_ndr64
    }

    /// alter_context offering NDR32 on context 0, reusing the bind's call id.
    pub fn alter_context(&mut self, out: &mut [u8]) -> usize {
        let body = bind::emit_bind(&mut out[HEADER_LEN..], MAX_FRAG, 0, &[(CTX_NDR32, syntax::NDR32)])
            .expect("72-byte buffer");
        pdu(out, PacketType::AlterContext, self.bind_flags(), self.call_id, body)
    }

    pub fn on_alter_context_resp(&mut self, reply: &[u8]) -> Result<(), ClientError> {
        let p = self.check_reply(reply, PacketType::AlterContextResp)?;
        let ack = BindAckPacket::new_checked(p.body())?;
        self.check_results(&ack, &[(CTX_NDR32, syntax::NDR32)])
    }

    /// The syntax the next request will use.
    pub fn request_syntax(&self) -> Option<Syntax> {
        match (self.options.use_ndr64 && self.ndr64, self.ndr32, self.ndr64) {
            (true, _, _) => Some(Syntax::Ndr64),
            (_, true, _) => Some(Syntax::Ndr32),
            (_, _, true) => Some(Syntax::Ndr64),
            _ => None,
        }
    }

    /// A request PDU carrying `msg` (the sealed KMS request). Advances the
    /// call id, as clients do per call after the bind.
    pub fn request(&mut self, msg: &[u8], out: &mut [u8]) -> Result<usize, ClientError> {
        let syntax = self.request_syntax().ok_or(ClientError::NoContext)?;
        let ctx = if syntax == Syntax::Ndr64 { CTX_NDR64 } else { CTX_NDR32 };
        if self.in_flight.is_some() {
            self.call_id = self.call_id.wrapping_add(1);
        }
        let stub_at = HEADER_LEN + call::CALL_HEADER_LEN;
        let msg_at = stub_at + syntax.request_prefix_len();
        if out.len() < msg_at + msg.len() {
            return Err(ClientError::Wire(wire::Error::Exhausted));
        }
        out[msg_at..msg_at + msg.len()].copy_from_slice(msg);
        let stub = syntax.encode_request(&mut out[stub_at..], msg.len());
        call::emit_request_header(&mut out[HEADER_LEN..], stub as u32, ctx, 0);
        self.in_flight = Some((ctx, syntax));
        Ok(pdu(out, PacketType::Request, flags::WHOLE, self.call_id, call::CALL_HEADER_LEN + stub))
    }

    /// Checks a response PDU and returns what its stub carries.
    pub fn on_response<'a>(&mut self, reply: &'a [u8]) -> Result<ResponseStub<'a>, ClientError> {
        let (ctx, syntax) = self.in_flight.ok_or(ClientError::UnexpectedPdu(2))?;
        let p = self.check_reply(reply, PacketType::Response)?;
        let frag = p.frag_len() as usize;
        let body = &reply[HEADER_LEN..frag];
        let r = ResponsePacket::new_checked(body)?;
        if r.context_id() != ctx {
            return Err(ClientError::BadResponseHeader("context id not echoed"));
        }
        if r.cancel_count() != 0 {
            return Err(ClientError::BadResponseHeader("non-zero cancel count"));
        }
        if r.alloc_hint() as usize != r.stub().len() {
            return Err(ClientError::BadResponseHeader("alloc_hint differs from stub length"));
        }
        let stub = &body[call::CALL_HEADER_LEN..];
        syntax.decode_response(stub).map_err(ClientError::Stub)
    }
}
