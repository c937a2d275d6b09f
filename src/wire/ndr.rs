//! The NDR32 and NDR64 encodings of the one call, `RequestActivation`
//! (kms-protocol.md §4). The stub carries one conformant byte array each
//! way; the response adds a unique pointer and the HRESULT return value.
//!
//! Encoders work in place: the caller writes the KMS message at
//! `stub[prefix_len..]` first, then the encoder fills in the NDR bytes
//! around it, so the message is never copied.
use super::{put_u32, put_u64, u32_at, u64_at};
use crate::HResult;
use core::fmt;

/// The negotiated transfer syntax of a presentation context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Syntax {
    Ndr32,
    Ndr64,
}

/// Referent id of the response's unique pointer (everyone uses 0x20000).
pub const REFERENT_ID: u32 = 0x0002_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StubError {
    Truncated { needed: usize, have: usize },
    /// `requestSize`/`responseSize` and the array's conformance disagree.
    LengthMismatch { size: u64, conformance: u64 },
    /// A NULL response pointer with a non-zero size, or the reverse.
    Pointer,
    /// Alignment padding that is not zero.
    Padding,
    /// A message accompanied by a failure return value.
    ReturnValue(u32),
}

impl fmt::Display for StubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StubError::Truncated { needed, have } => write!(f, "stub truncated: need {needed} bytes, have {have}"),
            StubError::LengthMismatch { size, conformance } => {
                write!(f, "size {size} differs from array conformance {conformance}")
            }
            StubError::Pointer => f.write_str("response pointer and size disagree"),
            StubError::Padding => f.write_str("non-zero NDR padding"),
            StubError::ReturnValue(v) => write!(f, "response carries a message and return value 0x{v:08X}"),
        }
    }
}

fn need(have: usize, needed: usize) -> Result<(), StubError> {
    if have < needed { Err(StubError::Truncated { needed, have }) } else { Ok(()) }
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl Syntax {
    pub fn name(self) -> &'static str {
        match self {
            Syntax::Ndr32 => "NDR32",
            Syntax::Ndr64 => "NDR64",
        }
    }

    /// Bytes before the message in a request stub.
    pub const fn request_prefix_len(self) -> usize {
        match self {
            Syntax::Ndr32 => 8,
            Syntax::Ndr64 => 16,
        }
    }

    /// Bytes before the message in a successful response stub.
    pub const fn response_prefix_len(self) -> usize {
        match self {
            Syntax::Ndr32 => 12,
            Syntax::Ndr64 => 24,
        }
    }

    /// Length of a successful response stub carrying `m` message bytes.
    pub const fn response_len(self, m: usize) -> usize {
        self.response_prefix_len() + m + (4 - m % 4) % 4 + 4
    }

    /// The KMS request message inside a request stub. Trailing bytes beyond
    /// the declared size are tolerated (Wine and py-kms append some).
    pub fn decode_request(self, stub: &[u8]) -> Result<&[u8], StubError> {
        let pre = self.request_prefix_len();
        need(stub.len(), pre)?;
        let (size, conformance) = match self {
            Syntax::Ndr32 => (u32_at(stub, 0) as u64, u32_at(stub, 4) as u64),
            // bytes 4..8 are alignment padding for the 8-byte conformance
            Syntax::Ndr64 => (u32_at(stub, 0) as u64, u64_at(stub, 8)),
        };
        if size != conformance {
            return Err(StubError::LengthMismatch { size, conformance });
        }
        let end = pre as u64 + size;
        if end > stub.len() as u64 {
            return Err(StubError::Truncated { needed: end as usize, have: stub.len() });
        }
        Ok(&stub[pre..end as usize])
    }

    /// Fills the prefix of a request stub whose `n`-byte message already sits
    /// at `stub[request_prefix_len()..]`; returns the stub length.
    pub fn encode_request(self, stub: &mut [u8], n: usize) -> usize {
        put_u32(stub, 0, n as u32);
        match self {
            Syntax::Ndr32 => put_u32(stub, 4, n as u32),
            Syntax::Ndr64 => {
                put_u32(stub, 4, 0);
                put_u64(stub, 8, n as u64);
            }
        }
        self.request_prefix_len() + n
    }

    /// Fills prefix, padding and a zero return value around an `m`-byte
    /// message already at `stub[response_prefix_len()..]`. NDR puts the
    /// alignment padding *before* the return value (§4.1).
    pub fn encode_response(self, stub: &mut [u8], m: usize) -> usize {
        put_u32(stub, 0, m as u32);
        match self {
            Syntax::Ndr32 => {
                put_u32(stub, 4, REFERENT_ID);
                put_u32(stub, 8, m as u32);
            }
            Syntax::Ndr64 => {
                put_u32(stub, 4, 0);
                put_u64(stub, 8, REFERENT_ID as u64);
                put_u64(stub, 16, m as u64);
            }
        }
        let end = self.response_prefix_len() + m;
        let pad = pad4(m);
        stub[end..end + pad].fill(0);
        put_u32(stub, end + pad, 0);
        end + pad + 4
    }

    /// A refusal: size 0, NULL pointer, the HRESULT as return value.
    pub fn encode_refusal(self, stub: &mut [u8], hr: HResult) -> usize {
        let at = match self {
            Syntax::Ndr32 => 8,
            Syntax::Ndr64 => 16,
        };
        stub[..at].fill(0);
        put_u32(stub, at, hr.0);
        at + 4
    }

    pub const fn refusal_len(self) -> usize {
        match self {
            Syntax::Ndr32 => 12,
            Syntax::Ndr64 => 20,
        }
    }

    /// Client side: the message or the refusal in a response stub, with the
    /// checks vlmcs makes (equal lengths, zero padding, pointer consistency).
    pub fn decode_response(self, stub: &[u8]) -> Result<ResponseStub<'_>, StubError> {
        let (size, referent, conf_at) = match self {
            Syntax::Ndr32 => {
                need(stub.len(), 8)?;
                (u32_at(stub, 0) as u64, u32_at(stub, 4) as u64, 8)
            }
            Syntax::Ndr64 => {
                need(stub.len(), 16)?;
                if u32_at(stub, 4) != 0 {
                    return Err(StubError::Padding);
                }
                (u32_at(stub, 0) as u64, u64_at(stub, 8), 16)
            }
        };
        if referent == 0 {
            if size != 0 {
                return Err(StubError::Pointer);
            }
            need(stub.len(), conf_at + 4)?;
            return Ok(ResponseStub::Refused(HResult(u32_at(stub, conf_at))));
        }
        let pre = self.response_prefix_len();
        need(stub.len(), pre)?;
        let conformance = match self {
            Syntax::Ndr32 => u32_at(stub, 8) as u64,
            Syntax::Ndr64 => u64_at(stub, 16),
        };
        if conformance != size {
            return Err(StubError::LengthMismatch { size, conformance });
        }
        let m = size as usize;
        if size > stub.len() as u64 {
            return Err(StubError::Truncated { needed: pre + m + 4, have: stub.len() });
        }
        let pad = pad4(m);
        need(stub.len(), pre + m + pad + 4)?;
        if stub[pre + m..pre + m + pad].iter().any(|&b| b != 0) {
            return Err(StubError::Padding);
        }
        let rv = u32_at(stub, pre + m + pad);
        if rv != 0 {
            return Err(StubError::ReturnValue(rv));
        }
        Ok(ResponseStub::Message(&stub[pre..pre + m]))
    }
}

/// What a response stub carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseStub<'a> {
    Message(&'a [u8]),
    Refused(HResult),
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn request_stubs() {
        // §9.6: NDR32 260-byte message, and NDR64 with 4 pad bytes.
        let mut s = [0u8; 16 + 260];
        s[8] = 0xAA;
        assert_eq!(Syntax::Ndr32.encode_request(&mut s, 260), 268);
        assert_eq!(&s[..8], &[4, 1, 0, 0, 4, 1, 0, 0]);
        assert_eq!(Syntax::Ndr32.decode_request(&s[..268]).unwrap().len(), 260);
        assert_eq!(Syntax::Ndr32.decode_request(&s[..267]), Err(StubError::Truncated { needed: 268, have: 267 }));
        let mut s = [0u8; 16 + 260];
        assert_eq!(Syntax::Ndr64.encode_request(&mut s, 260), 276);
        assert_eq!(&s[..16], &[4, 1, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Syntax::Ndr64.decode_request(&s).unwrap().len(), 260);
        s[8] = 3;
        assert_eq!(Syntax::Ndr64.decode_request(&s), Err(StubError::LengthMismatch { size: 260, conformance: 259 }));
    }

    #[test]
    fn response_stubs_pad_before_return_value() {
        // P = 98 gives a 158-byte V4 response: 2 pad bytes before the HRESULT.
        let mut s = [0xEEu8; 200];
        let n = Syntax::Ndr32.encode_response(&mut s, 158);
        assert_eq!(n, 12 + 158 + 2 + 4);
        assert_eq!(&s[170..176], &[0, 0, 0, 0, 0, 0]);
        assert_eq!(Syntax::Ndr32.decode_response(&s[..n]).unwrap(), ResponseStub::Message(&[0xEE; 158][..]));
        s[170] = 1;
        assert_eq!(Syntax::Ndr32.decode_response(&s[..n]), Err(StubError::Padding));
        let mut s = [0u8; 300];
        let n = Syntax::Ndr64.encode_response(&mut s, 260);
        assert_eq!(n, 288);
        assert_eq!(&s[..24], &[4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn refusals() {
        // §9.6 refusal bodies.
        let mut s = [0xFFu8; 20];
        assert_eq!(Syntax::Ndr32.encode_refusal(&mut s, HResult::INVALID_TIMESTAMP), 12);
        assert_eq!(&s[..12], &[0, 0, 0, 0, 0, 0, 0, 0, 0x6C, 0xF0, 0x04, 0xC0]);
        assert_eq!(Syntax::Ndr32.decode_response(&s[..12]).unwrap(), ResponseStub::Refused(HResult::INVALID_TIMESTAMP));
        let mut s = [0xFFu8; 20];
        assert_eq!(Syntax::Ndr64.encode_refusal(&mut s, HResult::INVALID_TIMESTAMP), 20);
        assert_eq!(&s[16..20], &[0x6C, 0xF0, 0x04, 0xC0]);
        assert_eq!(Syntax::Ndr64.decode_response(&s).unwrap(), ResponseStub::Refused(HResult::INVALID_TIMESTAMP));
    }
}
