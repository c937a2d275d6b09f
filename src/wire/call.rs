//! request, response and fault bodies (§3.9, §3.10).
use super::{Error, Result, need, put_u16, put_u32, rpc::flags, u16_at, u32_at};

mod field {
    pub const ALLOC_HINT: usize = 0;
    pub const CONTEXT_ID: usize = 4;
    pub const OPNUM: usize = 6;
    pub const CANCEL_COUNT: usize = 6;
    pub const STUB: usize = 8;
    pub const OBJECT_UUID_LEN: usize = 16;
    pub const FAULT_STATUS: usize = 8;
}

/// Bytes between the common header and the stub of a request or response.
pub const CALL_HEADER_LEN: usize = field::STUB;

/// DCE status codes a host puts in a fault (§3.10).
pub mod status {
    /// Request on a context id that was never accepted.
    pub const UNKNOWN_INTERFACE: u32 = 0x1C01_0003;
    /// opnum other than 0.
    pub const OP_RANGE_ERROR: u32 = 0x1C01_0002;
    /// Malformed request, or fragments that cannot be reassembled.
    pub const PROTOCOL_ERROR: u32 = 0x1C01_000B;
    /// Windows RPC's RPC_X_BAD_STUB_DATA.
    pub const BAD_STUB_DATA: u32 = 0x0000_06F7;
}

/// Read view of a request body. Whether an object UUID precedes the stub is
/// a header flag, so the view is built with the header's `pfc_flags`.
#[derive(Debug, Clone, Copy)]
pub struct RequestPacket<T: AsRef<[u8]>> {
    buffer: T,
    stub_at: usize,
}

impl<T: AsRef<[u8]>> RequestPacket<T> {
    pub fn new_checked(buffer: T, pfc_flags: u8) -> Result<RequestPacket<T>> {
        let stub_at = if pfc_flags & flags::OBJECT_UUID != 0 {
            field::STUB + field::OBJECT_UUID_LEN
        } else {
            field::STUB
        };
        need(buffer.as_ref().len(), stub_at)?;
        Ok(RequestPacket { buffer, stub_at })
    }
    pub fn alloc_hint(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::ALLOC_HINT)
    }
    pub fn context_id(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CONTEXT_ID)
    }
    pub fn opnum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::OPNUM)
    }
    pub fn stub(&self) -> &[u8] {
        &self.buffer.as_ref()[self.stub_at..]
    }
}

/// Read view of a response body (client side).
#[derive(Debug, Clone, Copy)]
pub struct ResponsePacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ResponsePacket<T> {
    pub fn new_checked(buffer: T) -> Result<ResponsePacket<T>> {
        need(buffer.as_ref().len(), field::STUB)?;
        Ok(ResponsePacket { buffer })
    }
    pub fn alloc_hint(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::ALLOC_HINT)
    }
    pub fn context_id(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CONTEXT_ID)
    }
    pub fn cancel_count(&self) -> u8 {
        self.buffer.as_ref()[field::CANCEL_COUNT]
    }
    pub fn stub(&self) -> &[u8] {
        &self.buffer.as_ref()[field::STUB..]
    }
}

/// Writes the 8 bytes that precede a request's stub (client side).
pub fn emit_request_header(b: &mut [u8], alloc_hint: u32, context_id: u16, opnum: u16) {
    put_u32(b, field::ALLOC_HINT, alloc_hint);
    put_u16(b, field::CONTEXT_ID, context_id);
    put_u16(b, field::OPNUM, opnum);
}

/// Writes the 8 bytes that precede a response's stub.
pub fn emit_response_header(b: &mut [u8], alloc_hint: u32, context_id: u16) {
    put_u32(b, field::ALLOC_HINT, alloc_hint);
    put_u16(b, field::CONTEXT_ID, context_id);
    b[field::CANCEL_COUNT] = 0;
    b[field::CANCEL_COUNT + 1] = 0;
}

/// A fault body: 16 bytes, so a fault PDU is always 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultRepr {
    pub context_id: u16,
    pub status: u32,
}

impl FaultRepr {
    pub const LEN: usize = 16;

    pub fn parse(b: &[u8]) -> Result<FaultRepr> {
        need(b.len(), field::FAULT_STATUS + 4)?;
        Ok(FaultRepr { context_id: u16_at(b, field::CONTEXT_ID), status: u32_at(b, field::FAULT_STATUS) })
    }

    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        if b.len() < Self::LEN {
            return Err(Error::Exhausted);
        }
        // alloc_hint: the whole fault PDU, as vlmcsd and Windows put it.
        put_u32(b, field::ALLOC_HINT, 32);
        put_u16(b, field::CONTEXT_ID, self.context_id);
        b[6] = 0;
        b[7] = 0;
        put_u32(b, field::FAULT_STATUS, self.status);
        put_u32(b, 12, 0);
        Ok(Self::LEN)
    }
}
