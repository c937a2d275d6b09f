//! KMS messages: the request and response carried as the byte arrays of
//! `RequestActivation`, in protocol versions 4, 5 and 6 (kms-protocol.md
//! §5–§6).
//!
//! Both directions live here, because host, client and decoder all need
//! them: the host *opens* requests and *seals* responses, the client seals
//! requests and opens responses. Every function writes into a caller's
//! buffer; nothing allocates.
use core::fmt;

pub mod request;
pub mod response;
pub mod seal;

pub use request::{BASE_REQUEST_LEN, RequestRepr, Workstation};
pub use response::{ResponseRepr, MAX_PID_BYTES};
pub use seal::{
    Checks, Expect, MAX_RESPONSE_LEN, OpenError, OpenedRequest, OpenedResponse, RequestError, RequestIv,
    ResponseRandom, VerifyError, open_request, open_response, seal_request, seal_response,
};

/// The version word that starts every KMS message: u16 minor, u16 major.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
}

impl Version {
    pub const V4: Version = Version { major: 4, minor: 0 };
    pub const V5: Version = Version { major: 5, minor: 0 };
    pub const V6: Version = Version { major: 6, minor: 0 };

    pub fn parse(b: &[u8]) -> Version {
        Version { minor: u16::from_le_bytes([b[0], b[1]]), major: u16::from_le_bytes([b[2], b[3]]) }
    }
    pub fn emit(&self, b: &mut [u8]) {
        b[0..2].copy_from_slice(&self.minor.to_le_bytes());
        b[2..4].copy_from_slice(&self.major.to_le_bytes());
    }
    /// 4.0, 5.0 and 6.0 are the versions a host answers (§5.1).
    pub fn is_supported(&self) -> bool {
        self.minor == 0 && (4..=6).contains(&self.major)
    }
    /// Size of a request message of this version.
    pub fn request_len(&self) -> usize {
        if self.major == 4 { 252 } else { 260 }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({}.{})", self.major, self.minor)
    }
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
