//! bind / alter_context (client → host) and bind_ack / alter_context_resp /
//! bind_nak (host → client): §3.4, §3.7, §3.8. The views here cover the PDU
//! *body*, i.e. the bytes after the 16-byte common header.
use super::{Error, Result, SyntaxId, need, put_u16, put_u32, u16_at, u32_at};

mod field {
    pub const MAX_XMIT: usize = 0;
    pub const MAX_RECV: usize = 2;
    pub const ASSOC_GROUP: usize = 4;
    pub const N_CONTEXT: usize = 8;
    pub const CONTEXTS: usize = 12;
    // within one context element
    pub const CTX_ID: usize = 0;
    pub const CTX_N_TRANSFER: usize = 2;
    pub const CTX_ABSTRACT: usize = 4;
    pub const CTX_TRANSFER: usize = 24;
    // bind_ack after max_xmit/max_recv/assoc_group
    pub const SEC_ADDR_LEN: usize = 8;
    pub const SEC_ADDR: usize = 10;
}

/// Context result codes (§3.6).
pub mod result {
    pub const ACCEPTANCE: u16 = 0;
    pub const USER_REJECTION: u16 = 1;
    pub const PROVIDER_REJECTION: u16 = 2;
    /// Bind-time feature negotiation acknowledged; `reason` carries the bits.
    pub const NEGOTIATE_ACK: u16 = 3;
}

/// Provider-rejection reasons (§3.6).
pub mod reason {
    pub const NOT_SPECIFIED: u16 = 0;
    pub const ABSTRACT_SYNTAX_NOT_SUPPORTED: u16 = 1;
    pub const TRANSFER_SYNTAXES_NOT_SUPPORTED: u16 = 2;
    pub const LOCAL_LIMIT_EXCEEDED: u16 = 3;
}

/// bind_nak reasons (§3.8).
pub mod nak_reason {
    pub const NOT_SPECIFIED: u16 = 0;
    pub const LOCAL_LIMIT_EXCEEDED: u16 = 2;
    pub const PROTOCOL_VERSION_NOT_SUPPORTED: u16 = 4;
}

/// Read view of a bind or alter_context body. `new_checked` validates every
/// context element against the body length, so iteration cannot fail.
#[derive(Debug, Clone, Copy)]
pub struct BindPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> BindPacket<T> {
    pub fn new_checked(buffer: T) -> Result<BindPacket<T>> {
        let b = buffer.as_ref();
        need(b.len(), field::CONTEXTS)?;
        let mut at = field::CONTEXTS;
        for _ in 0..b[field::N_CONTEXT] {
            need(b.len(), at + field::CTX_TRANSFER)?;
            let n = b[at + field::CTX_N_TRANSFER] as usize;
            if n == 0 {
                return Err(Error::Malformed("context element offers no transfer syntax"));
            }
            at += field::CTX_TRANSFER + n * SyntaxId::LEN;
            need(b.len(), at)?;
        }
        Ok(BindPacket { buffer })
    }

    pub fn max_xmit_frag(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::MAX_XMIT)
    }
    pub fn max_recv_frag(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::MAX_RECV)
    }
    pub fn assoc_group(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::ASSOC_GROUP)
    }
    pub fn n_contexts(&self) -> usize {
        self.buffer.as_ref()[field::N_CONTEXT] as usize
    }
    pub fn contexts(&self) -> Contexts<'_> {
        Contexts { rest: &self.buffer.as_ref()[field::CONTEXTS..], left: self.n_contexts() }
    }
}

/// One offered presentation context.
#[derive(Debug, Clone, Copy)]
pub struct ContextElement<'a> {
    pub context_id: u16,
    pub abstract_syntax: SyntaxId,
    transfer: &'a [u8],
}

impl<'a> ContextElement<'a> {
    pub fn transfer_syntaxes(&self) -> impl Iterator<Item = SyntaxId> + 'a {
        self.transfer.chunks_exact(SyntaxId::LEN).map(SyntaxId::parse)
    }
}

pub struct Contexts<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Contexts<'a> {
    type Item = ContextElement<'a>;
    fn next(&mut self) -> Option<ContextElement<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let b = self.rest;
        let n = b[field::CTX_N_TRANSFER] as usize;
        let end = field::CTX_TRANSFER + n * SyntaxId::LEN;
        let e = ContextElement {
            context_id: u16_at(b, field::CTX_ID),
            abstract_syntax: SyntaxId::parse(&b[field::CTX_ABSTRACT..]),
            transfer: &b[field::CTX_TRANSFER..end],
        };
        self.rest = &b[end..];
        Some(e)
    }
}

/// One entry of a bind_ack's result list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContextResult {
    pub result: u16,
    pub reason: u16,
    pub syntax: SyntaxId,
}

impl ContextResult {
    pub const LEN: usize = 24;
    pub fn accept(syntax: SyntaxId) -> Self {
        ContextResult { result: result::ACCEPTANCE, reason: 0, syntax }
    }
    pub fn reject(reason: u16) -> Self {
        ContextResult { result: result::PROVIDER_REJECTION, reason, syntax: SyntaxId::NULL }
    }
    pub fn parse(b: &[u8]) -> Self {
        ContextResult { result: u16_at(b, 0), reason: u16_at(b, 2), syntax: SyntaxId::parse(&b[4..]) }
    }
    pub fn emit(&self, b: &mut [u8]) {
        put_u16(b, 0, self.result);
        put_u16(b, 2, self.reason);
        self.syntax.emit(&mut b[4..]);
    }
}

/// bind_ack / alter_context_resp body.
#[derive(Debug, Clone, Copy)]
pub struct BindAckRepr<'a> {
    pub max_xmit_frag: u16,
    pub max_recv_frag: u16,
    pub assoc_group: u32,
    /// Including its terminating NUL; empty for alter_context_resp.
    pub secondary_addr: &'a [u8],
    pub results: &'a [ContextResult],
}

impl<'a> BindAckRepr<'a> {
    /// Body offset of the result list: the secondary address is followed by
    /// padding to a multiple of 4 from the PDU start, which (the header being
    /// 16 bytes) is the same as from the body start.
    fn results_offset(sec_len: usize) -> usize {
        (field::SEC_ADDR + sec_len + 3) & !3
    }

    pub fn buffer_len(&self) -> usize {
        Self::results_offset(self.secondary_addr.len()) + 4 + self.results.len() * ContextResult::LEN
    }

    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        if b.len() < len {
            return Err(Error::Exhausted);
        }
        put_u16(b, field::MAX_XMIT, self.max_xmit_frag);
        put_u16(b, field::MAX_RECV, self.max_recv_frag);
        put_u32(b, field::ASSOC_GROUP, self.assoc_group);
        put_u16(b, field::SEC_ADDR_LEN, self.secondary_addr.len() as u16);
        let sec_end = field::SEC_ADDR + self.secondary_addr.len();
        b[field::SEC_ADDR..sec_end].copy_from_slice(self.secondary_addr);
        let at = Self::results_offset(self.secondary_addr.len());
        b[sec_end..at].fill(0);
        b[at] = self.results.len() as u8;
        b[at + 1..at + 4].fill(0);
        for (i, r) in self.results.iter().enumerate() {
            r.emit(&mut b[at + 4 + i * ContextResult::LEN..]);
        }
        Ok(len)
    }
}

/// Read view of a bind_ack / alter_context_resp body (the client side).
#[derive(Debug, Clone, Copy)]
pub struct BindAckPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> BindAckPacket<T> {
    pub fn new_checked(buffer: T) -> Result<BindAckPacket<T>> {
        let b = buffer.as_ref();
        need(b.len(), field::SEC_ADDR)?;
        let sec = u16_at(b, field::SEC_ADDR_LEN) as usize;
        let at = BindAckRepr::results_offset(sec);
        need(b.len(), at + 4)?;
        need(b.len(), at + 4 + b[at] as usize * ContextResult::LEN)?;
        Ok(BindAckPacket { buffer })
    }
    pub fn max_xmit_frag(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::MAX_XMIT)
    }
    pub fn max_recv_frag(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::MAX_RECV)
    }
    pub fn assoc_group(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::ASSOC_GROUP)
    }
    /// Including the terminating NUL, as sent.
    pub fn secondary_addr(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[field::SEC_ADDR..field::SEC_ADDR + u16_at(b, field::SEC_ADDR_LEN) as usize]
    }
    pub fn results(&self) -> impl Iterator<Item = ContextResult> + '_ {
        let b = self.buffer.as_ref();
        let at = BindAckRepr::results_offset(self.secondary_addr().len());
        let n = b[at] as usize;
        b[at + 4..at + 4 + n * ContextResult::LEN].chunks_exact(ContextResult::LEN).map(ContextResult::parse)
    }
    pub fn n_results(&self) -> usize {
        let b = self.buffer.as_ref();
        b[BindAckRepr::results_offset(self.secondary_addr().len())] as usize
    }
}

/// bind_nak body: a reason and the one RPC version we speak (5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindNakRepr {
    pub reason: u16,
}

impl BindNakRepr {
    pub const LEN: usize = 5;
    pub fn parse(b: &[u8]) -> Result<BindNakRepr> {
        need(b.len(), 2)?;
        Ok(BindNakRepr { reason: u16_at(b, 0) })
    }
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        if b.len() < Self::LEN {
            return Err(Error::Exhausted);
        }
        put_u16(b, 0, self.reason);
        b[2] = 1;
        b[3] = 5;
        b[4] = 0;
        Ok(Self::LEN)
    }
}

/// Emits a bind or alter_context body offering `contexts` (client side).
/// Each context is `(id, transfer syntax)` for the KMS interface.
pub fn emit_bind(
    b: &mut [u8],
    max_frag: u16,
    assoc_group: u32,
    contexts: &[(u16, SyntaxId)],
) -> Result<usize> {
    let len = field::CONTEXTS + contexts.len() * (field::CTX_TRANSFER + SyntaxId::LEN);
    if b.len() < len {
        return Err(Error::Exhausted);
    }
    put_u16(b, field::MAX_XMIT, max_frag);
    put_u16(b, field::MAX_RECV, max_frag);
    put_u32(b, field::ASSOC_GROUP, assoc_group);
    b[field::N_CONTEXT] = contexts.len() as u8;
    b[9..12].fill(0);
    let mut at = field::CONTEXTS;
    for (id, syntax) in contexts {
        put_u16(b, at + field::CTX_ID, *id);
        b[at + field::CTX_N_TRANSFER] = 1;
        b[at + 3] = 0;
        super::syntax::KMS_INTERFACE.emit(&mut b[at + field::CTX_ABSTRACT..]);
        syntax.emit(&mut b[at + field::CTX_TRANSFER..]);
        at += field::CTX_TRANSFER + SyntaxId::LEN;
    }
    Ok(len)
}
