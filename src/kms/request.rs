//! The 236-byte base request (§5.2): what a client tells the host about
//! itself. Identical in all versions; V4 appends a MAC, V5/V6 encrypt it.
use super::{Version, put_u32, u32_at};
use crate::{Guid, time::FileTime};
use core::fmt;

mod field {
    use core::ops::Range;
    pub const VERSION: Range<usize> = 0..4;
    pub const VM_INFO: usize = 4;
    pub const LICENSE_STATUS: usize = 8;
    pub const BINDING_EXPIRATION: usize = 12;
    pub const APPLICATION: Range<usize> = 16..32;
    pub const SKU: Range<usize> = 32..48;
    pub const KMS_ID: Range<usize> = 48..64;
    pub const CMID: Range<usize> = 64..80;
    pub const N_POLICY: usize = 80;
    pub const REQUEST_TIME: Range<usize> = 84..92;
    pub const PREVIOUS_CMID: Range<usize> = 92..108;
    pub const WORKSTATION: Range<usize> = 108..236;
}

pub const BASE_REQUEST_LEN: usize = 236;

/// The workstation name as sent: 64 UTF-16 code units, NUL-terminated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Workstation {
    units: [u16; 64],
}

impl Default for Workstation {
    fn default() -> Self {
        Workstation { units: [0; 64] }
    }
}

impl Workstation {
    /// Encodes `name`, truncated to the 63 code units that fit before the NUL.
    pub fn new(name: &str) -> Workstation {
        let mut w = Workstation::default();
        for (slot, u) in w.units[..63].iter_mut().zip(name.encode_utf16()) {
            *slot = u;
        }
        w
    }
    pub fn parse(b: &[u8]) -> Workstation {
        let mut w = Workstation::default();
        for (u, c) in w.units.iter_mut().zip(b.chunks_exact(2)) {
            *u = u16::from_le_bytes([c[0], c[1]]);
        }
        w
    }
    pub fn emit(&self, b: &mut [u8]) {
        for (u, c) in self.units.iter().zip(b.chunks_exact_mut(2)) {
            c.copy_from_slice(&u.to_le_bytes());
        }
    }
    /// Code units up to the first NUL.
    pub fn units(&self) -> &[u16] {
        let n = self.units.iter().position(|&u| u == 0).unwrap_or(64);
        &self.units[..n]
    }
    pub fn chars(&self) -> impl Iterator<Item = char> + '_ {
        char::decode_utf16(self.units().iter().copied()).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
    }
    /// UTF-8 into `buf` (192 bytes always suffice: 64 units × 3 bytes).
    pub fn to_str<'b>(&self, buf: &'b mut [u8; 192]) -> &'b str {
        let mut n = 0;
        for c in self.chars() {
            n += c.encode_utf8(&mut buf[n..]).len();
        }
        core::str::from_utf8(&buf[..n]).unwrap_or("")
    }
}

impl fmt::Display for Workstation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for c in self.chars() {
            f.write_char(c)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Workstation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// The decoded base request: everything a host may decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRepr {
    pub version: Version,
    /// Non-zero when the client runs in a virtual machine.
    pub vm_info: u32,
    /// 0 unlicensed, 1 licensed, 2 OOB grace, 3 OOT grace, 4 non-genuine grace, 5 notification, 6 extended grace.
    pub license_status: u32,
    /// Minutes left in the current licence state (0 = unlimited).
    pub binding_expiration: u32,
    pub application: Guid,
    pub sku: Guid,
    pub kms_id: Guid,
    pub cmid: Guid,
    /// The client's required minimum count (25 Windows clients, 5 servers and Office).
    pub n_policy: u32,
    pub request_time: FileTime,
    pub previous_cmid: Guid,
    pub workstation: Workstation,
}

impl RequestRepr {
    /// `b` must hold at least [`BASE_REQUEST_LEN`] bytes (callers check).
    pub fn parse(b: &[u8]) -> RequestRepr {
        let mut t = [0u8; 8];
        t.copy_from_slice(&b[field::REQUEST_TIME]);
        RequestRepr {
            version: Version::parse(&b[field::VERSION]),
            vm_info: u32_at(b, field::VM_INFO),
            license_status: u32_at(b, field::LICENSE_STATUS),
            binding_expiration: u32_at(b, field::BINDING_EXPIRATION),
            application: Guid::from_wire(&b[field::APPLICATION]),
            sku: Guid::from_wire(&b[field::SKU]),
            kms_id: Guid::from_wire(&b[field::KMS_ID]),
            cmid: Guid::from_wire(&b[field::CMID]),
            n_policy: u32_at(b, field::N_POLICY),
            request_time: FileTime(u64::from_le_bytes(t)),
            previous_cmid: Guid::from_wire(&b[field::PREVIOUS_CMID]),
            workstation: Workstation::parse(&b[field::WORKSTATION]),
        }
    }

    pub fn emit(&self, b: &mut [u8]) {
        self.version.emit(&mut b[field::VERSION]);
        put_u32(b, field::VM_INFO, self.vm_info);
        put_u32(b, field::LICENSE_STATUS, self.license_status);
        put_u32(b, field::BINDING_EXPIRATION, self.binding_expiration);
        b[field::APPLICATION].copy_from_slice(&self.application.0);
        b[field::SKU].copy_from_slice(&self.sku.0);
        b[field::KMS_ID].copy_from_slice(&self.kms_id.0);
        b[field::CMID].copy_from_slice(&self.cmid.0);
        put_u32(b, field::N_POLICY, self.n_policy);
        b[field::REQUEST_TIME].copy_from_slice(&self.request_time.0.to_le_bytes());
        b[field::PREVIOUS_CMID].copy_from_slice(&self.previous_cmid.0);
        self.workstation.emit(&mut b[field::WORKSTATION]);
    }

    pub fn is_vm(&self) -> bool {
        self.vm_info != 0
    }
}

/// The name of a licence status value as Windows tools show it.
pub fn license_status_name(v: u32) -> &'static str {
    match v {
        0 => "Unlicensed",
        1 => "Licensed",
        2 => "OOB grace",
        3 => "OOT grace",
        4 => "Non-genuine grace",
        5 => "Notification",
        6 => "Extended grace",
        _ => "Unknown",
    }
}
