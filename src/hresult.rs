//! HRESULTs a KMS host returns (as the RPC return value with a NULL response
//! array) and that a client reports. kms-protocol.md §8.7.
use core::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HResult(pub u32);

impl HResult {
    pub const S_OK: HResult = HResult(0);
    /// Client-side: the returned count is below the client's N policy.
    pub const NOT_ENOUGH_COUNT: HResult = HResult(0xC004_F038);
    pub const BINDING_SERVICE_NOT_ENABLED: HResult = HResult(0xC004_F039);
    pub const KMS_NOT_ACTIVATED: HResult = HResult(0xC004_F041);
    /// The host does not serve this product (KMS counted id).
    pub const KMS_ID_MISMATCH: HResult = HResult(0xC004_F042);
    /// Request time outside the host's ±4 h window.
    pub const INVALID_TIMESTAMP: HResult = HResult(0xC004_F06C);
    pub const BINDING_SERVICE_UNAVAILABLE: HResult = HResult(0xC004_F074);
    pub const CMID_LIST_FULL: HResult = HResult(0xC004_D104);
    /// Malformed or unsupported request.
    pub const INVALID_DATA: HResult = HResult(0x8007_000D);
    pub const DNS_NAME_DOES_NOT_EXIST: HResult = HResult(0x8007_232B);

    pub fn is_success(self) -> bool {
        self.0 == 0
    }

    /// The symbolic name, where it is one a KMS client shows.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            HResult::S_OK => "S_OK",
            HResult::NOT_ENOUGH_COUNT => "SL_E_VL_NOT_ENOUGH_COUNT",
            HResult::BINDING_SERVICE_NOT_ENABLED => "SL_E_VL_BINDING_SERVICE_NOT_ENABLED",
            HResult::KMS_NOT_ACTIVATED => "SL_E_VL_KEY_MANAGEMENT_SERVICE_NOT_ACTIVATED",
            HResult::KMS_ID_MISMATCH => "SL_E_VL_KEY_MANAGEMENT_SERVICE_ID_MISMATCH",
            HResult::INVALID_TIMESTAMP => "SL_E_VL_INVALID_TIMESTAMP",
            HResult::BINDING_SERVICE_UNAVAILABLE => "SL_E_VL_BINDING_SERVICE_UNAVAILABLE",
            HResult::CMID_LIST_FULL => "CMID list full",
            HResult::INVALID_DATA => "ERROR_INVALID_DATA",
            HResult::DNS_NAME_DOES_NOT_EXIST => "DNS name does not exist",
            _ => return None,
        })
    }
}

impl fmt::Display for HResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "0x{:08X} ({n})", self.0),
            None => write!(f, "0x{:08X}", self.0),
        }
    }
}

impl fmt::Debug for HResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HResult(0x{:08X})", self.0)
    }
}
