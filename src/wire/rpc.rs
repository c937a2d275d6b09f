//! The 16-byte common header of every connection-oriented PDU (§3.2).
use super::{Error, Result, put_u16, put_u32, u16_at, u32_at};

mod field {
    use core::ops::Range;
    pub const VERS: usize = 0;
    pub const VERS_MINOR: usize = 1;
    pub const PTYPE: usize = 2;
    pub const FLAGS: usize = 3;
    pub const DREP: Range<usize> = 4..8;
    pub const FRAG_LEN: usize = 8;
    pub const AUTH_LEN: usize = 10;
    pub const CALL_ID: usize = 12;
}

pub const HEADER_LEN: usize = 16;

/// `pfc_flags` bits.
pub mod flags {
    pub const FIRST_FRAG: u8 = 0x01;
    pub const LAST_FRAG: u8 = 0x02;
    /// In binds: "supports header signing"; never set by KMS clients.
    pub const PENDING_CANCEL: u8 = 0x04;
    /// Concurrent multiplexing; a host echoes the client's bit in bind_ack.
    pub const CONC_MPX: u8 = 0x10;
    pub const DID_NOT_EXECUTE: u8 = 0x20;
    pub const MAYBE: u8 = 0x40;
    pub const OBJECT_UUID: u8 = 0x80;
    pub const WHOLE: u8 = FIRST_FRAG | LAST_FRAG;
}

/// Little-endian integers, ASCII characters, IEEE floats.
pub const DREP_LE: [u8; 4] = [0x10, 0, 0, 0];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Request,
    Response,
    Fault,
    Bind,
    BindAck,
    BindNak,
    AlterContext,
    AlterContextResp,
    Other(u8),
}

impl From<u8> for PacketType {
    fn from(v: u8) -> Self {
        match v {
            0 => PacketType::Request,
            2 => PacketType::Response,
            3 => PacketType::Fault,
            11 => PacketType::Bind,
            12 => PacketType::BindAck,
            13 => PacketType::BindNak,
            14 => PacketType::AlterContext,
            15 => PacketType::AlterContextResp,
            x => PacketType::Other(x),
        }
    }
}

impl From<PacketType> for u8 {
    fn from(t: PacketType) -> u8 {
        match t {
            PacketType::Request => 0,
            PacketType::Response => 2,
            PacketType::Fault => 3,
            PacketType::Bind => 11,
            PacketType::BindAck => 12,
            PacketType::BindNak => 13,
            PacketType::AlterContext => 14,
            PacketType::AlterContextResp => 15,
            PacketType::Other(x) => x,
        }
    }
}

impl PacketType {
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Request => "request",
            PacketType::Response => "response",
            PacketType::Fault => "fault",
            PacketType::Bind => "bind",
            PacketType::BindAck => "bind_ack",
            PacketType::BindNak => "bind_nak",
            PacketType::AlterContext => "alter_context",
            PacketType::AlterContextResp => "alter_context_resp",
            PacketType::Other(_) => "unknown",
        }
    }
}

/// A read/write view of one PDU: header plus `frag_length - 16` body bytes.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Checks only that the header is present; see [`Packet::check_frame`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The header is present and `frag_length` lies within the buffer.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        super::need(b.len(), HEADER_LEN)?;
        let f = self.frag_len() as usize;
        if f < HEADER_LEN {
            return Err(Error::FragLength(f as u16));
        }
        super::need(b.len(), f)
    }

    /// The header fields a KMS host insists on (§3.2): version 5.0,
    /// little-endian data representation, no authentication trailer.
    pub fn check_header(&self) -> Result<()> {
        let (major, minor) = (self.rpc_vers(), self.rpc_vers_minor());
        if major != 5 || minor != 0 {
            return Err(Error::Version { major, minor });
        }
        if self.drep()[0] & 0xF0 != 0x10 {
            return Err(Error::DataRepresentation);
        }
        if self.auth_len() != 0 {
            return Err(Error::AuthLength);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn rpc_vers(&self) -> u8 {
        self.buffer.as_ref()[field::VERS]
    }
    pub fn rpc_vers_minor(&self) -> u8 {
        self.buffer.as_ref()[field::VERS_MINOR]
    }
    pub fn ptype(&self) -> PacketType {
        self.buffer.as_ref()[field::PTYPE].into()
    }
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    pub fn drep(&self) -> [u8; 4] {
        let mut d = [0u8; 4];
        d.copy_from_slice(&self.buffer.as_ref()[field::DREP]);
        d
    }
    pub fn frag_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::FRAG_LEN)
    }
    pub fn auth_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::AUTH_LEN)
    }
    pub fn call_id(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::CALL_ID)
    }
    /// The bytes after the header up to `frag_length`.
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.frag_len() as usize]
    }
    pub fn header(&self) -> Header {
        Header {
            ptype: self.ptype(),
            flags: self.flags(),
            frag_len: self.frag_len(),
            call_id: self.call_id(),
        }
    }
}

/// The header fields that vary between PDUs; the rest are constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ptype: PacketType,
    pub flags: u8,
    pub frag_len: u16,
    pub call_id: u32,
}

impl Header {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Header {
        p.header()
    }

    /// Writes the 16 header bytes (version 5.0, little-endian, no auth).
    pub fn emit(&self, b: &mut [u8]) {
        b[field::VERS] = 5;
        b[field::VERS_MINOR] = 0;
        b[field::PTYPE] = self.ptype.into();
        b[field::FLAGS] = self.flags;
        b[field::DREP].copy_from_slice(&DREP_LE);
        put_u16(b, field::FRAG_LEN, self.frag_len);
        put_u16(b, field::AUTH_LEN, 0);
        put_u32(b, field::CALL_ID, self.call_id);
    }
}

/// Peeks at a stream prefix: `Ok(Some(frag_len))` once a header is there.
/// Lets a byte-stream reader frame PDUs by `frag_length`, never by `recv()`.
pub fn peek_frag_len(stream: &[u8]) -> Option<usize> {
    if stream.len() < HEADER_LEN { None } else { Some(u16_at(stream, field::FRAG_LEN) as usize) }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn header_round_trip() {
        let h = Header { ptype: PacketType::BindAck, flags: 0x13, frag_len: 108, call_id: 2 };
        let mut b = [0u8; 16];
        h.emit(&mut b);
        assert_eq!(b, [5, 0, 0x0C, 0x13, 0x10, 0, 0, 0, 108, 0, 0, 0, 2, 0, 0, 0]);
        // frag_len 108 is beyond this 16-byte buffer.
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Truncated { needed: 108, have: 16 });
    }

    #[test]
    fn rejects_bad_headers() {
        let mut b = [5u8, 0, 0, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0];
        assert!(Packet::new_checked(&b[..]).unwrap().check_header().is_ok());
        b[0] = 4;
        assert_eq!(Packet::new_checked(&b[..]).unwrap().check_header(), Err(Error::Version { major: 4, minor: 0 }));
        b[0] = 5;
        b[4] = 0x00;
        assert_eq!(Packet::new_checked(&b[..]).unwrap().check_header(), Err(Error::DataRepresentation));
        b[4] = 0x10;
        b[10] = 1;
        assert_eq!(Packet::new_checked(&b[..]).unwrap().check_header(), Err(Error::AuthLength));
        b[8] = 15;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::FragLength(15));
    }
}
