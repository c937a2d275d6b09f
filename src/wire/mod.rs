//! DCE/RPC connection-oriented PDUs and the NDR stubs of the one KMS call,
//! as zero-copy views over byte buffers plus `Repr`s that emit into a
//! caller's buffer (the smoltcp `wire` pattern).
//!
//! Every view checks its lengths once in `new_checked`; accessors after that
//! cannot go out of bounds. Malformed input is an [`Error`], never a panic.
use core::fmt;

pub mod bind;
pub mod call;
pub mod ndr;
pub mod rpc;
pub mod syntax;

pub use bind::{BindPacket, BindAckRepr, BindNakRepr, ContextResult};
pub use call::{FaultRepr, RequestPacket, ResponsePacket};
pub use ndr::Syntax;
pub use rpc::{Header, Packet, PacketType, flags};
pub use syntax::SyntaxId;

/// What was wrong with a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes than the structure needs.
    Truncated { needed: usize, have: usize },
    /// `rpc_vers`.`rpc_vers_minor` is not 5.0.
    Version { major: u8, minor: u8 },
    /// Integers are not little-endian (the only representation KMS uses).
    DataRepresentation,
    /// KMS uses no RPC authentication.
    AuthLength,
    /// `frag_length` smaller than the header or beyond the data.
    FragLength(u16),
    /// A count or length field contradicts the bytes present.
    Malformed(&'static str),
    /// The output buffer is too small for the PDU being emitted.
    Exhausted,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { needed, have } => write!(f, "truncated: need {needed} bytes, have {have}"),
            Error::Version { major, minor } => write!(f, "RPC version {major}.{minor}, expected 5.0"),
            Error::DataRepresentation => f.write_str("data representation is not little-endian ASCII"),
            Error::AuthLength => f.write_str("non-zero auth_length (KMS uses no RPC authentication)"),
            Error::FragLength(n) => write!(f, "frag_length {n} does not fit the PDU"),
            Error::Malformed(what) => write!(f, "malformed: {what}"),
            Error::Exhausted => f.write_str("output buffer too small"),
        }
    }
}

pub type Result<T> = core::result::Result<T, Error>;

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}
pub(crate) fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn need(have: usize, needed: usize) -> Result<()> {
    if have < needed { Err(Error::Truncated { needed, have }) } else { Ok(()) }
}
