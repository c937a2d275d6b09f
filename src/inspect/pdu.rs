//! The decoded form of each PDU type. Views borrow the input; everything
//! else is `Copy`, so an item can be kept while the next one is decoded.
use super::error::Error;
use super::message::{KmsRequest, KmsResponse};
use super::names::{self, NamedSyntax};
use crate::HResult;
use crate::wire::bind::{BindAckPacket, BindPacket, ContextResult, result};
use crate::wire::{PacketType, Syntax, SyntaxId};

/// The 16-byte common header, every field as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduHeader {
    pub rpc_vers: u8,
    pub rpc_vers_minor: u8,
    pub ptype: PacketType,
    pub flags: u8,
    pub drep: [u8; 4],
    pub frag_len: u16,
    pub auth_len: u16,
    pub call_id: u32,
}

/// Most contexts whose ids are remembered between a bind and its ack
/// (clients offer 1–3).
pub const MAX_CONTEXTS: usize = 16;

/// One offered context, remembered to name the results of the ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub context_id: u16,
    /// The first offered transfer syntax (clients offer exactly one).
    pub transfer: NamedSyntax,
}

/// The contexts of the last bind or alter_context, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offers {
    list: [Option<Offer>; MAX_CONTEXTS],
}

impl Default for Offers {
    fn default() -> Self {
        Offers { list: [None; MAX_CONTEXTS] }
    }
}

impl Offers {
    pub(super) fn from_bind(bind: &BindItem<'_>) -> Offers {
        let mut o = Offers::default();
        for (slot, c) in o.list.iter_mut().zip(bind.contexts()) {
            if let Some(transfer) = c.transfer_syntaxes().next() {
                *slot = Some(Offer { context_id: c.context_id, transfer });
            }
        }
        o
    }
    /// The `i`-th offered context, if a bind was seen and had one there.
    pub fn get(&self, i: usize) -> Option<Offer> {
        self.list.get(i).copied().flatten()
    }
}

/// Bind bodies: a 12-byte head, then context elements of 24 bytes plus 20
/// per transfer syntax (§3.4). Bind_ack bodies: the result list follows the
/// secondary address, aligned to 4 (§3.7).
mod layout {
    pub const N_CONTEXT: usize = 8;
    pub const CONTEXTS: usize = 12;
    pub const CTX_HEAD: usize = 24;
    pub const SEC_ADDR_LEN: usize = 8;
    pub const SEC_ADDR: usize = 10;
    pub fn results_at(sec_len: usize) -> usize {
        (SEC_ADDR + sec_len + 3) & !3
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// A bind or alter_context.
#[derive(Debug, Clone, Copy)]
pub struct BindItem<'a> {
    pub alter: bool,
    pub max_xmit_frag: u16,
    pub max_recv_frag: u16,
    pub assoc_group: u32,
    /// The body (after the 16-byte header), validated by
    /// [`BindPacket::new_checked`] so the walks below stay in bounds.
    body: &'a [u8],
}

/// One offered presentation context, with its syntaxes named.
#[derive(Debug, Clone, Copy)]
pub struct ContextOffer<'a> {
    pub context_id: u16,
    pub abstract_syntax: NamedSyntax,
    transfer: &'a [u8],
}

impl<'a> ContextOffer<'a> {
    pub fn transfer_syntaxes(&self) -> impl Iterator<Item = NamedSyntax> + 'a {
        self.transfer.chunks_exact(SyntaxId::LEN).map(|c| NamedSyntax::of(SyntaxId::parse(c)))
    }
}

impl<'a> BindItem<'a> {
    pub(super) fn new(alter: bool, p: &BindPacket<&'a [u8]>, body: &'a [u8]) -> BindItem<'a> {
        BindItem {
            alter,
            max_xmit_frag: p.max_xmit_frag(),
            max_recv_frag: p.max_recv_frag(),
            assoc_group: p.assoc_group(),
            body,
        }
    }
    pub fn n_contexts(&self) -> usize {
        self.body[layout::N_CONTEXT] as usize
    }
    pub fn contexts(&self) -> impl Iterator<Item = ContextOffer<'a>> + 'a {
        let b = self.body;
        let mut at = layout::CONTEXTS;
        (0..b[layout::N_CONTEXT]).map(move |_| {
            let n = b[at + 2] as usize;
            let end = at + layout::CTX_HEAD + n * SyntaxId::LEN;
            let offer = ContextOffer {
                context_id: u16_at(b, at),
                abstract_syntax: NamedSyntax::of(SyntaxId::parse(&b[at + 4..])),
                transfer: &b[at + layout::CTX_HEAD..end],
            };
            at = end;
            offer
        })
    }
}

/// A bind_ack or alter_context_resp.
#[derive(Debug, Clone, Copy)]
pub struct BindAckItem<'a> {
    pub alter: bool,
    pub max_xmit_frag: u16,
    pub max_recv_frag: u16,
    pub assoc_group: u32,
    /// Validated by [`BindAckPacket::new_checked`].
    body: &'a [u8],
    /// The contexts of the bind it answers (results are positional).
    pub offers: Offers,
}

/// One result of a bind_ack, paired with the context it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckResult {
    /// Position in the result list (= position in the bind).
    pub index: usize,
    /// What the bind offered at this position, if the bind was seen.
    pub offer: Option<Offer>,
    pub result: u16,
    pub reason: u16,
    pub syntax: NamedSyntax,
}

impl AckResult {
    pub fn result_name(&self) -> &'static str {
        names::result_name(self.result)
    }
    /// For rejections, why; for BTFN acks the reason field holds feature
    /// bits instead, and for acceptances it is 0.
    pub fn reason_name(&self) -> Option<&'static str> {
        match self.result {
            result::USER_REJECTION | result::PROVIDER_REJECTION => Some(names::reason_name(self.reason)),
            _ => None,
        }
    }
    pub fn accepted(&self) -> bool {
        self.result == result::ACCEPTANCE
    }
    /// BTFN acknowledged: the feature bits the host agreed to.
    pub fn btfn_ack(&self) -> Option<u16> {
        (self.result == result::NEGOTIATE_ACK).then_some(self.reason)
    }
}

impl<'a> BindAckItem<'a> {
    pub(super) fn new(alter: bool, p: &BindAckPacket<&'a [u8]>, body: &'a [u8], offers: Offers) -> BindAckItem<'a> {
        BindAckItem {
            alter,
            max_xmit_frag: p.max_xmit_frag(),
            max_recv_frag: p.max_recv_frag(),
            assoc_group: p.assoc_group(),
            body,
            offers,
        }
    }
    /// The secondary address as sent, without its terminating NUL (the
    /// host's port as a decimal string; empty for alter_context_resp).
    pub fn secondary_addr(&self) -> &'a [u8] {
        let len = u16_at(self.body, layout::SEC_ADDR_LEN) as usize;
        let s = &self.body[layout::SEC_ADDR..layout::SEC_ADDR + len];
        s.strip_suffix(&[0]).unwrap_or(s)
    }
    pub fn results(&self) -> impl Iterator<Item = AckResult> + 'a {
        let (b, offers) = (self.body, self.offers);
        let at = layout::results_at(u16_at(b, layout::SEC_ADDR_LEN) as usize);
        let n = b[at] as usize;
        b[at + 4..at + 4 + n * ContextResult::LEN].chunks_exact(ContextResult::LEN).enumerate().map(
            move |(index, c)| {
                let r = ContextResult::parse(c);
                AckResult { index, offer: offers.get(index), result: r.result, reason: r.reason, syntax: NamedSyntax::of(r.syntax) }
            },
        )
    }
}

/// A bind_nak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindNakItem {
    pub reason: u16,
}

impl BindNakItem {
    pub fn reason_name(&self) -> &'static str {
        names::nak_reason_name(self.reason)
    }
}

/// How the transfer syntax of a call was determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxSource {
    /// The context was accepted in a bind_ack/alter_context_resp seen earlier.
    Negotiated,
    /// The context was offered but not seen accepted (vlmcsd serves such
    /// requests; a strict host faults them).
    Offered,
    /// No negotiation in the input: read from the stub layout.
    Guessed,
    /// A response: the syntax of the request with the same call id.
    FromRequest,
}

impl SyntaxSource {
    pub fn name(self) -> &'static str {
        match self {
            SyntaxSource::Negotiated => "negotiated",
            SyntaxSource::Offered => "offered, not seen accepted",
            SyntaxSource::Guessed => "guessed from the stub layout",
            SyntaxSource::FromRequest => "from the request",
        }
    }
}

/// A request PDU and the KMS request inside it.
#[derive(Debug, Clone, Copy)]
pub struct RequestItem<'a> {
    pub alloc_hint: u32,
    pub context_id: u16,
    pub opnum: u16,
    pub object_uuid: Option<crate::Guid>,
    pub syntax: Syntax,
    pub syntax_source: SyntaxSource,
    pub stub: &'a [u8],
    pub kms: Result<KmsRequest, Error>,
}

/// What a response stub carries.
#[allow(clippy::large_enum_variant)] // no boxing in the core; a value either way
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseBody {
    /// NULL response array: the host refused with this HRESULT.
    Refused(HResult),
    Message(KmsResponse),
}

/// A response PDU and the KMS response (or refusal) inside it.
#[derive(Debug, Clone, Copy)]
pub struct ResponseItem<'a> {
    pub alloc_hint: u32,
    pub context_id: u16,
    pub cancel_count: u8,
    pub syntax: Syntax,
    pub syntax_source: SyntaxSource,
    pub stub: &'a [u8],
    pub kms: Result<ResponseBody, Error>,
}

/// A fault PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultItem {
    pub alloc_hint: u32,
    pub context_id: u16,
    pub cancel_count: u8,
    pub status: u32,
}

impl FaultItem {
    pub fn status_name(&self) -> &'static str {
        names::fault_status_name(self.status)
    }
}
