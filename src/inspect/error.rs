//! Decoder errors: always a byte offset into the input plus what was
//! expected there, because the reader is looking at a hex dump and needs to
//! find the bad byte.
use crate::kms::{OpenError, RequestError};
use crate::kms::response::PidError;
use crate::wire::ndr::StubError;
use core::fmt;

/// Something in the input that is not what a KMS conversation has there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// Byte offset into the decoded input (after hex parsing, or into the
    /// reassembled stream for captures).
    pub offset: usize,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No bytes at all.
    Empty,
    /// The input starts with neither an RPC header nor a KMS version word.
    UnknownStart { found: [u8; 4], len: usize },
    /// The bytes end before `what` is complete: `needed` bytes counted from
    /// `from` (an input offset), of which only `have` are present.
    Truncated { what: &'static str, from: usize, needed: usize, have: usize },
    /// `rpc_vers`.`rpc_vers_minor` is not 5.0.
    RpcVersion { major: u8, minor: u8 },
    /// The data representation is not little-endian ASCII (`10 00 00 00`).
    DataRepresentation(u8),
    /// `frag_length` smaller than the 16-byte header.
    FragLength(u16),
    /// An authentication trailer, which KMS never uses.
    AuthLength(u16),
    /// A count or length contradicts the bytes (`what` says which).
    Malformed(&'static str),
    /// A request or response that is not a single fragment.
    Fragmented { flags: u8 },
    /// The NDR stub around the KMS message.
    Stub(StubError),
    /// The KMS request message.
    Request(RequestError),
    /// The KMS response message.
    Response(OpenError),
}

impl Error {
    pub const fn new(offset: usize, kind: ErrorKind) -> Error {
        Error { offset, kind }
    }

    /// A truncation of `what`, which starts at input offset `from`.
    pub const fn truncated(what: &'static str, from: usize, needed: usize, have: usize) -> Error {
        Error { offset: from + have, kind: ErrorKind::Truncated { what, from, needed, have } }
    }

    /// An error of the NDR stub that starts at input offset `at`.
    pub fn stub(at: usize, e: StubError) -> Error {
        match e {
            StubError::Truncated { needed, have } => Error::truncated("NDR stub", at, needed, have),
            other => Error::new(at, ErrorKind::Stub(other)),
        }
    }

    /// An error of the KMS request message at input offset `at`.
    pub fn request(at: usize, e: RequestError) -> Error {
        match e {
            RequestError::Truncated { needed, have } => Error::truncated("KMS request", at, needed, have),
            RequestError::BadMac => Error::new(at + 236, ErrorKind::Request(e)),
            RequestError::BadPadding => Error::new(at + 20, ErrorKind::Request(e)),
            RequestError::UnsupportedVersion(_) => Error::new(at, ErrorKind::Request(e)),
        }
    }

    /// An error of the KMS response message at input offset `at`.
    pub fn response(at: usize, e: OpenError) -> Error {
        match e {
            OpenError::Truncated { needed, have } => Error::truncated("KMS response", at, needed, have),
            OpenError::UnsupportedVersion(_) => Error::new(at, ErrorKind::Response(e)),
            // PIDSize sits at byte 4 of the (V4: plain; V5/V6: decrypted) body.
            OpenError::Pid(PidError::Size(_)) => Error::new(at + 4, ErrorKind::Response(e)),
            _ => Error::new(at + 20, ErrorKind::Response(e)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: ", self.offset)?;
        match self.kind {
            ErrorKind::Empty => f.write_str("no input; expected DCE/RPC PDUs or a KMS message"),
            ErrorKind::UnknownStart { found, len } => {
                f.write_str("expected a DCE/RPC header (05 00 …) or a KMS version word (00 00 04 00, 00 00 05 00 or 00 00 06 00), found")?;
                for b in &found[..len.min(4)] {
                    write!(f, " {b:02x}")?;
                }
                Ok(())
            }
            ErrorKind::Truncated { what, from, needed, have } => write!(
                f,
                "input ends inside the {what} that starts at byte {from}: expected {needed} bytes, found {have}"
            ),
            ErrorKind::RpcVersion { major, minor } => {
                write!(f, "RPC version {major}.{minor}; expected 5.0 (connection-oriented DCE/RPC)")
            }
            ErrorKind::DataRepresentation(d) => {
                write!(f, "data representation 0x{d:02x}; expected 0x10 (little-endian integers, ASCII)")
            }
            ErrorKind::FragLength(n) => write!(f, "frag_length {n}; expected at least 16 (the header)"),
            ErrorKind::AuthLength(n) => write!(f, "auth_length {n}; expected 0 (KMS uses no RPC authentication)"),
            ErrorKind::Malformed(what) => write!(f, "malformed: {what}"),
            ErrorKind::Fragmented { flags } => write!(
                f,
                "pfc_flags 0x{flags:02x}; expected a single fragment (first|last): KMS calls are never fragmented"
            ),
            ErrorKind::Stub(e) => write!(f, "NDR stub: {e}"),
            ErrorKind::Request(e) => write!(f, "{e}"),
            ErrorKind::Response(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for Error {}
