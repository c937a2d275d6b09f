//! The base response (§6.1): the host's ePID, the echoed client fields, the
//! count and the two intervals. V4 appends a MAC; V5/V6 add salts (and V6 a
//! HwId and an HMAC) and encrypt.
use super::{Version, put_u32, u32_at};
use crate::{Guid, epid::Epid, time::FileTime};

/// Clients reject a PIDSize above 128 bytes (63 characters + NUL).
pub const MAX_PID_BYTES: usize = 128;

/// Length of the base response for an ePID of `chars` ASCII characters.
pub const fn base_len(chars: usize) -> usize {
    44 + 2 * (chars + 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseRepr {
    pub version: Version,
    pub epid: Epid,
    pub cmid: Guid,
    pub request_time: FileTime,
    pub current_count: u32,
    /// Minutes until a not-yet-activated client retries.
    pub activation_interval: u32,
    /// Minutes until an activated client renews.
    pub renewal_interval: u32,
}

/// Why the fixed part of a response does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidError {
    /// PIDSize odd, zero, larger than 128, or beyond the message.
    Size(u32),
    /// The last code unit is not NUL.
    NotTerminated,
    /// A NUL before the end.
    EmbeddedNul,
}

impl ResponseRepr {
    pub fn buffer_len(&self) -> usize {
        base_len(self.epid.as_str().len())
    }

    pub fn emit(&self, b: &mut [u8]) -> usize {
        self.version.emit(&mut b[0..4]);
        let chars = self.epid.as_str().as_bytes();
        let p = 2 * (chars.len() + 1);
        put_u32(b, 4, p as u32);
        for (i, &c) in chars.iter().enumerate() {
            b[8 + 2 * i] = c;
            b[9 + 2 * i] = 0;
        }
        b[8 + p - 2] = 0;
        b[8 + p - 1] = 0;
        let at = 8 + p;
        b[at..at + 16].copy_from_slice(&self.cmid.0);
        b[at + 16..at + 24].copy_from_slice(&self.request_time.0.to_le_bytes());
        put_u32(b, at + 24, self.current_count);
        put_u32(b, at + 28, self.activation_interval);
        put_u32(b, at + 32, self.renewal_interval);
        at + 36
    }

    /// Parses a base response at the start of `b`; returns it and its length.
    /// Non-ASCII ePID characters (no genuine host sends them) read as `?`.
    pub fn parse(b: &[u8]) -> Result<(ResponseRepr, usize), PidError> {
        if b.len() < 8 {
            return Err(PidError::Size(0));
        }
        let p = u32_at(b, 4);
        let pu = p as usize;
        if p == 0 || p % 2 != 0 || pu > MAX_PID_BYTES || b.len() < 44 + pu {
            return Err(PidError::Size(p));
        }
        let units = b[8..8 + pu].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
        let mut ascii = [0u8; 64];
        let n = pu / 2 - 1;
        for (i, u) in units.enumerate() {
            if i == n {
                if u != 0 {
                    return Err(PidError::NotTerminated);
                }
            } else if u == 0 {
                return Err(PidError::EmbeddedNul);
            } else {
                ascii[i] = if (0x20..0x7F).contains(&u) { u as u8 } else { b'?' };
            }
        }
        let epid = Epid::parse(core::str::from_utf8(&ascii[..n]).unwrap_or("?"))
            .map_err(|_| PidError::Size(p))?;
        let at = 8 + pu;
        let mut t = [0u8; 8];
        t.copy_from_slice(&b[at + 16..at + 24]);
        Ok((
            ResponseRepr {
                version: Version::parse(b),
                epid,
                cmid: Guid::from_wire(&b[at..at + 16]),
                request_time: FileTime(u64::from_le_bytes(t)),
                current_count: u32_at(b, at + 24),
                activation_interval: u32_at(b, at + 28),
                renewal_interval: u32_at(b, at + 32),
            },
            at + 36,
        ))
    }
}
