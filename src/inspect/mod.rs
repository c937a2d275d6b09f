//! The decoder behind `kmsedge decode` and the browser page: takes the
//! bytes of a KMS conversation and says, PDU by PDU, what each side sent —
//! with the KMS messages decrypted and every response checked the way a
//! client checks it.
//!
//! Like the rest of the core it is `no_std` and allocation-free:
//! [`decode`] returns an iterator of [`Item`]s that borrow the input or are
//! `Copy`; the std layers (CLI, web) turn them into text or JSON.
//!
//! # Input
//!
//! * A stream of connection-oriented DCE/RPC PDUs (`05 00 …`), both
//!   directions in the order they were sent, e.g. a capture's two TCP
//!   streams interleaved, or PDUs copied one after another. PDUs are framed
//!   by their `frag_length`. The decoder follows the presentation-context
//!   negotiation to know each request's transfer syntax (NDR32/NDR64), and
//!   pairs each response with its request by call id to verify it.
//! * A bare KMS message (version word `00 00 04 00` etc.): a request, a
//!   response, or a request directly followed by its response.
//! * Hex text goes through [`parse_hex`] first (see [`hex`] for the
//!   accepted forms).
//!
//! # Errors
//!
//! Every [`Error`] carries the byte offset in the input and says what was
//! expected there. A PDU whose header cannot be trusted (wrong RPC version,
//! impossible `frag_length`, input cut short) ends the iteration, as nothing
//! after it can be framed; a PDU whose body is malformed is reported and
//! decoding continues with the next one. Problems inside a KMS message
//! (stub, version, padding) are kept in the request/response item, so the
//! PDU's header is still shown.
mod error;
pub mod hex;
mod message;
mod names;
mod pdu;

pub use error::{Error, ErrorKind};
pub use hex::{HexError, HexErrorKind, parse_hex};
pub use message::{
    Check, KmsRequest, KmsResponse, Outcome, RequestFacts, RequestIntegrity, Verdict, decode_request, decode_response,
};
pub use names::{
    NamedSyntax, SyntaxKind, btfn_feature_names, fault_status_name, flag_names, nak_reason_name, reason_name,
    result_name,
};
pub use pdu::{
    AckResult, BindAckItem, BindItem, BindNakItem, ContextOffer, FaultItem, MAX_CONTEXTS, Offer, Offers, PduHeader,
    RequestItem, ResponseBody, ResponseItem, SyntaxSource,
};

use crate::wire::bind::{BindAckPacket, BindNakRepr, BindPacket};
use crate::wire::call::{FaultRepr, RequestPacket, ResponsePacket};
use crate::wire::ndr::ResponseStub;
use crate::wire::rpc::HEADER_LEN;
use crate::wire::{self, Packet, PacketType, Syntax, flags};

/// Which side sent an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
    Unknown,
}

impl Direction {
    pub fn short(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c2s",
            Direction::ServerToClient => "s2c",
            Direction::Unknown => "?",
        }
    }
}

/// One PDU (or bare KMS message) of the conversation.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// 0-based position among the items.
    pub index: usize,
    /// Byte offset of the PDU/message in the input.
    pub offset: usize,
    pub bytes: &'a [u8],
    /// The RPC header; `None` for bare KMS messages.
    pub header: Option<PduHeader>,
    pub kind: ItemKind<'a>,
}

// Variants differ in size (a bind_ack carries the offers it answers); the
// core cannot box, and items are short-lived values, so that is fine.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum ItemKind<'a> {
    /// bind or alter_context.
    Bind(BindItem<'a>),
    /// bind_ack or alter_context_resp.
    BindAck(BindAckItem<'a>),
    BindNak(BindNakItem),
    Request(RequestItem<'a>),
    Response(ResponseItem<'a>),
    Fault(FaultItem),
    /// A PDU type KMS does not use (auth3, shutdown, …): header only.
    OtherPdu,
    /// A KMS request without RPC framing.
    KmsRequest(KmsRequest),
    /// A KMS response without RPC framing.
    KmsResponse(KmsResponse),
}

impl Item<'_> {
    pub fn direction(&self) -> Direction {
        match self.kind {
            ItemKind::Bind(_) | ItemKind::Request(_) | ItemKind::KmsRequest(_) => Direction::ClientToServer,
            ItemKind::BindAck(_)
            | ItemKind::BindNak(_)
            | ItemKind::Response(_)
            | ItemKind::Fault(_)
            | ItemKind::KmsResponse(_) => Direction::ServerToClient,
            ItemKind::OtherPdu => Direction::Unknown,
        }
    }

    /// `bind`, `bind_ack`, … for PDUs; `kms_request`/`kms_response` for bare messages.
    pub fn type_name(&self) -> &'static str {
        match (self.header, self.kind) {
            (Some(h), _) => h.ptype.name(),
            (None, ItemKind::KmsRequest(_)) => "kms_request",
            (None, _) => "kms_response",
        }
    }
}

/// Decodes a conversation; see the [module docs](self).
pub fn decode(input: &[u8]) -> Conversation<'_> {
    Conversation {
        input,
        at: 0,
        index: 0,
        mode: Mode::Start,
        offers: Offers::default(),
        accepted: [None; MAX_CONTEXTS],
        offered: [None; MAX_CONTEXTS],
        pending: [None; MAX_PENDING],
        next_pending: 0,
    }
}

/// Calls whose responses may still come (clients have one outstanding).
const MAX_PENDING: usize = 4;

#[derive(Debug, Clone, Copy)]
enum Mode {
    Start,
    Pdus,
    /// Bare messages: a response may follow the request.
    Bare(Option<RequestFacts>),
    Done,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    call_id: u32,
    syntax: Syntax,
    facts: Option<RequestFacts>,
}

/// A small table context id → transfer syntax.
type ContextTable = [Option<(u16, Syntax)>; MAX_CONTEXTS];

fn table_get(t: &ContextTable, id: u16) -> Option<Syntax> {
    t.iter().flatten().find(|(c, _)| *c == id).map(|(_, s)| *s)
}

fn table_put(t: &mut ContextTable, id: u16, s: Syntax) {
    if let Some(slot) = t.iter_mut().find(|e| matches!(e, Some((c, _)) if *c == id)) {
        *slot = Some((id, s));
    } else if let Some(slot) = t.iter_mut().find(|e| e.is_none()) {
        *slot = Some((id, s));
    }
}

fn ndr_of(kind: SyntaxKind) -> Option<Syntax> {
    match kind {
        SyntaxKind::Ndr32 => Some(Syntax::Ndr32),
        SyntaxKind::Ndr64 => Some(Syntax::Ndr64),
        _ => None,
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// NDR64 puts 4 zero bytes of alignment after the leading u32 size and
/// repeats the size as a u64; NDR32 repeats it as a u32.
fn guess_request_syntax(stub: &[u8]) -> Syntax {
    let (size, pad, conf_lo, conf_hi) = (u32_at(stub, 0), u32_at(stub, 4), u32_at(stub, 8), u32_at(stub, 12));
    if pad == Some(0) && size.is_some() && conf_lo == size && conf_hi == Some(0) && size != Some(0) {
        Syntax::Ndr64
    } else {
        Syntax::Ndr32
    }
}

/// In a response, NDR32 has the (non-zero) referent id at byte 4 whenever a
/// message follows; NDR64 has alignment zeros there. A refusal is 12 bytes
/// in NDR32 and 20 in NDR64.
fn guess_response_syntax(stub: &[u8]) -> Syntax {
    match (u32_at(stub, 0), u32_at(stub, 4)) {
        (_, Some(r)) if r != 0 => Syntax::Ndr32,
        (Some(size), _) if size != 0 => Syntax::Ndr64,
        _ if stub.len() >= 20 => Syntax::Ndr64,
        _ => Syntax::Ndr32,
    }
}

/// A wire-layer error inside `what`, whose bytes start at input offset `at`.
fn wire_error(e: wire::Error, what: &'static str, at: usize) -> Error {
    match e {
        wire::Error::Truncated { needed, have } => Error::truncated(what, at, needed, have),
        wire::Error::Malformed(m) => Error::new(at, ErrorKind::Malformed(m)),
        _ => Error::new(at, ErrorKind::Malformed(what)),
    }
}

/// Iterator over the items of a conversation (see [`decode`]).
pub struct Conversation<'a> {
    input: &'a [u8],
    at: usize,
    index: usize,
    mode: Mode,
    /// The contexts of the last bind/alter_context, for naming its ack.
    offers: Offers,
    /// Contexts accepted by the host.
    accepted: ContextTable,
    /// Every KMS context offered with NDR32/NDR64 (vlmcsd's leniency).
    offered: ContextTable,
    pending: [Option<Pending>; MAX_PENDING],
    next_pending: usize,
}

impl<'a> Iterator for Conversation<'a> {
    type Item = Result<Item<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.mode {
            Mode::Done => None,
            Mode::Start => {
                let b = self.input;
                if b.is_empty() {
                    self.mode = Mode::Done;
                    return Some(Err(Error::new(0, ErrorKind::Empty)));
                }
                if b[0] == 5 && b.get(1).is_none_or(|&m| m == 0) {
                    self.mode = Mode::Pdus;
                } else if b.len() >= 4 && b[1] == 0 && b[3] == 0 && (4..=15).contains(&b[2]) {
                    self.mode = Mode::Bare(None);
                } else {
                    self.mode = Mode::Done;
                    let mut found = [0u8; 4];
                    let len = b.len().min(4);
                    found[..len].copy_from_slice(&b[..len]);
                    return Some(Err(Error::new(0, ErrorKind::UnknownStart { found, len })));
                }
                self.next()
            }
            Mode::Pdus => self.next_pdu(),
            Mode::Bare(facts) => self.next_bare(facts),
        }
    }
}

impl<'a> Conversation<'a> {
    fn item(&mut self, offset: usize, bytes: &'a [u8], header: Option<PduHeader>, kind: ItemKind<'a>) -> Item<'a> {
        let index = self.index;
        self.index += 1;
        Item { index, offset, bytes, header, kind }
    }

    fn fail(&mut self, e: Error) -> Option<Result<Item<'a>, Error>> {
        self.mode = Mode::Done;
        Some(Err(e))
    }

    fn next_bare(&mut self, facts: Option<RequestFacts>) -> Option<Result<Item<'a>, Error>> {
        let (input, at) = (self.input, self.at);
        let rest = &input[at..];
        if rest.is_empty() {
            self.mode = Mode::Done;
            return None;
        }
        if at > 0 {
            // What follows a request is its response.
            self.mode = Mode::Done;
            return Some(decode_response(rest, at, facts).map(|r| self.item(at, rest, None, ItemKind::KmsResponse(r))));
        }
        let req_len = wire_version_len(rest);
        let as_request = (rest.len() >= req_len).then(|| decode_request(&rest[..req_len], 0));
        if let Some(Ok(req)) = as_request
            && req.integrity.is_valid()
        {
            self.at = req_len;
            self.mode = Mode::Bare(req.facts(0));
            return Some(Ok(self.item(0, &rest[..req_len], None, ItemKind::KmsRequest(req))));
        }
        self.mode = Mode::Done;
        match (decode_response(rest, 0, None), as_request) {
            (Ok(resp), _) => Some(Ok(self.item(0, rest, None, ItemKind::KmsResponse(resp)))),
            // Exactly a request's length: show it, with its failed check.
            (Err(_), Some(Ok(req))) if rest.len() == req_len => {
                Some(Ok(self.item(0, rest, None, ItemKind::KmsRequest(req))))
            }
            (Err(e), _) => Some(Err(e)),
        }
    }

    fn next_pdu(&mut self) -> Option<Result<Item<'a>, Error>> {
        let at = self.at;
        let rest = &self.input[at..];
        if rest.is_empty() {
            self.mode = Mode::Done;
            return None;
        }
        if rest.len() < HEADER_LEN {
            return self.fail(Error::truncated("DCE/RPC PDU header", at, HEADER_LEN, rest.len()));
        }
        let p = Packet::new_unchecked(rest);
        let (major, minor) = (p.rpc_vers(), p.rpc_vers_minor());
        if (major, minor) != (5, 0) {
            return self.fail(Error::new(at, ErrorKind::RpcVersion { major, minor }));
        }
        if p.drep()[0] & 0xF0 != 0x10 {
            return self.fail(Error::new(at + 4, ErrorKind::DataRepresentation(p.drep()[0])));
        }
        let frag = p.frag_len();
        if (frag as usize) < HEADER_LEN {
            return self.fail(Error::new(at + 8, ErrorKind::FragLength(frag)));
        }
        if frag as usize > rest.len() {
            return self.fail(Error::truncated(pdu_what(p.ptype()), at, frag as usize, rest.len()));
        }
        let pdu = &rest[..frag as usize];
        self.at += frag as usize;
        let header = PduHeader {
            rpc_vers: major,
            rpc_vers_minor: minor,
            ptype: p.ptype(),
            flags: p.flags(),
            drep: p.drep(),
            frag_len: frag,
            auth_len: p.auth_len(),
            call_id: p.call_id(),
        };
        if header.auth_len != 0 {
            return Some(Err(Error::new(at + 10, ErrorKind::AuthLength(header.auth_len))));
        }
        let kind = self.pdu_body(&header, &pdu[HEADER_LEN..], at + HEADER_LEN);
        Some(kind.map(|kind| self.item(at, pdu, Some(header), kind)))
    }

    fn pdu_body(&mut self, h: &PduHeader, body: &'a [u8], body_at: usize) -> Result<ItemKind<'a>, Error> {
        let whole = h.flags & flags::WHOLE == flags::WHOLE;
        let fragmented = Error::new(body_at - HEADER_LEN + 3, ErrorKind::Fragmented { flags: h.flags });
        match h.ptype {
            PacketType::Bind | PacketType::AlterContext => {
                let what = if h.ptype == PacketType::Bind { "bind body" } else { "alter_context body" };
                let p = BindPacket::new_checked(body).map_err(|e| wire_error(e, what, body_at))?;
                let item = BindItem::new(h.ptype == PacketType::AlterContext, &p, body);
                self.offers = Offers::from_bind(&item);
                for c in item.contexts().filter(|c| c.abstract_syntax.kind == SyntaxKind::KmsInterface) {
                    if let Some(s) = c.transfer_syntaxes().find_map(|t| ndr_of(t.kind)) {
                        table_put(&mut self.offered, c.context_id, s);
                    }
                }
                Ok(ItemKind::Bind(item))
            }
            PacketType::BindAck | PacketType::AlterContextResp => {
                let what = if h.ptype == PacketType::BindAck { "bind_ack body" } else { "alter_context_resp body" };
                let p = BindAckPacket::new_checked(body).map_err(|e| wire_error(e, what, body_at))?;
                let item = BindAckItem::new(h.ptype == PacketType::AlterContextResp, &p, body, self.offers);
                for r in item.results().filter(|r| r.accepted()) {
                    if let (Some(offer), Some(s)) = (r.offer, ndr_of(r.syntax.kind)) {
                        table_put(&mut self.accepted, offer.context_id, s);
                    }
                }
                Ok(ItemKind::BindAck(item))
            }
            PacketType::BindNak => {
                let r = BindNakRepr::parse(body).map_err(|e| wire_error(e, "bind_nak body", body_at))?;
                Ok(ItemKind::BindNak(BindNakItem { reason: r.reason }))
            }
            PacketType::Request => {
                let rp = RequestPacket::new_checked(body, h.flags).map_err(|e| wire_error(e, "request header", body_at))?;
                let object_uuid =
                    (h.flags & flags::OBJECT_UUID != 0).then(|| crate::Guid::from_wire(&body[8..24]));
                let stub: &'a [u8] = &body[body.len() - rp.stub().len()..];
                let stub_at = body_at + (body.len() - stub.len());
                let ctx = rp.context_id();
                let (syntax, syntax_source) = if let Some(s) = table_get(&self.accepted, ctx) {
                    (s, SyntaxSource::Negotiated)
                } else if let Some(s) = table_get(&self.offered, ctx) {
                    (s, SyntaxSource::Offered)
                } else {
                    (guess_request_syntax(stub), SyntaxSource::Guessed)
                };
                let kms = if !whole {
                    Err(fragmented)
                } else {
                    syntax.decode_request(stub).map_err(|e| Error::stub(stub_at, e)).and_then(|msg| {
                        let pre = syntax.request_prefix_len();
                        let mut req = decode_request(msg, stub_at + pre)?;
                        req.trailing += stub.len() - pre - msg.len();
                        Ok(req)
                    })
                };
                let facts = kms.ok().and_then(|r| r.facts(self.index));
                self.pending[self.next_pending] = Some(Pending { call_id: h.call_id, syntax, facts });
                self.next_pending = (self.next_pending + 1) % MAX_PENDING;
                Ok(ItemKind::Request(RequestItem {
                    alloc_hint: rp.alloc_hint(),
                    context_id: ctx,
                    opnum: rp.opnum(),
                    object_uuid,
                    syntax,
                    syntax_source,
                    stub,
                    kms,
                }))
            }
            PacketType::Response => {
                let rp = ResponsePacket::new_checked(body).map_err(|e| wire_error(e, "response header", body_at))?;
                let stub: &'a [u8] = &body[body.len() - rp.stub().len()..];
                let stub_at = body_at + (body.len() - stub.len());
                let pending = self.take_pending(h.call_id);
                let (syntax, syntax_source) = match pending {
                    Some(p) => (p.syntax, SyntaxSource::FromRequest),
                    None => (guess_response_syntax(stub), SyntaxSource::Guessed),
                };
                let kms = if !whole {
                    Err(fragmented)
                } else {
                    match syntax.decode_response(stub) {
                        Err(e) => Err(Error::stub(stub_at, e)),
                        Ok(ResponseStub::Refused(hr)) => Ok(ResponseBody::Refused(hr)),
                        Ok(ResponseStub::Message(m)) => {
                            let facts = pending.and_then(|p| p.facts);
                            decode_response(m, stub_at + syntax.response_prefix_len(), facts).map(ResponseBody::Message)
                        }
                    }
                };
                Ok(ItemKind::Response(ResponseItem {
                    alloc_hint: rp.alloc_hint(),
                    context_id: rp.context_id(),
                    cancel_count: rp.cancel_count(),
                    syntax,
                    syntax_source,
                    stub,
                    kms,
                }))
            }
            PacketType::Fault => {
                let f = FaultRepr::parse(body).map_err(|e| wire_error(e, "fault body", body_at))?;
                self.take_pending(h.call_id);
                Ok(ItemKind::Fault(FaultItem {
                    alloc_hint: u32_at(body, 0).unwrap_or(0),
                    context_id: f.context_id,
                    cancel_count: body[6],
                    status: f.status,
                }))
            }
            PacketType::Other(_) => Ok(ItemKind::OtherPdu),
        }
    }

    fn take_pending(&mut self, call_id: u32) -> Option<Pending> {
        let slot = self.pending.iter_mut().find(|p| matches!(p, Some(p) if p.call_id == call_id))?;
        slot.take()
    }
}

/// The request length implied by a bare message's version word.
fn wire_version_len(b: &[u8]) -> usize {
    crate::kms::Version::parse(b).request_len()
}

fn pdu_what(t: PacketType) -> &'static str {
    match t {
        PacketType::Request => "request PDU",
        PacketType::Response => "response PDU",
        PacketType::Fault => "fault PDU",
        PacketType::Bind => "bind PDU",
        PacketType::BindAck => "bind_ack PDU",
        PacketType::BindNak => "bind_nak PDU",
        PacketType::AlterContext => "alter_context PDU",
        PacketType::AlterContextResp => "alter_context_resp PDU",
        PacketType::Other(_) => "PDU",
    }
}

#[cfg(test)]
mod tests;
