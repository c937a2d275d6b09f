//! The presentation syntaxes a KMS association talks about (kms-protocol.md §3.5).
use crate::Guid;

/// An interface or transfer syntax: UUID plus version. For interfaces the
/// version is `major | minor << 16` as it lies on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyntaxId {
    pub uuid: Guid,
    pub version: u32,
}

impl SyntaxId {
    pub const LEN: usize = 20;
    pub const NULL: SyntaxId = SyntaxId { uuid: Guid::ZERO, version: 0 };

    pub fn parse(b: &[u8]) -> SyntaxId {
        SyntaxId { uuid: Guid::from_wire(&b[..16]), version: super::u32_at(b, 16) }
    }
    pub fn emit(&self, b: &mut [u8]) {
        b[..16].copy_from_slice(&self.uuid.0);
        super::put_u32(b, 16, self.version);
    }
}

/// `51c82175-844e-4750-b0d8-ec255555bc06` v1.0: the KMS `RequestActivation` interface.
pub const KMS_INTERFACE: SyntaxId =
    SyntaxId { uuid: Guid::from_u128(0x51c82175_844e_4750_b0d8_ec255555bc06), version: 1 };
/// NDR transfer syntax, version 2.
pub const NDR32: SyntaxId =
    SyntaxId { uuid: Guid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860), version: 2 };
/// NDR64 transfer syntax, version 1.
pub const NDR64: SyntaxId =
    SyntaxId { uuid: Guid::from_u128(0x71710533_beba_4937_8319_b5dbef9ccc36), version: 1 };

/// Bind-time feature negotiation is recognised by the first 8 wire bytes of
/// its "transfer syntax"; the last 8 are a little-endian feature bitmask.
pub const BTFN_PREFIX: [u8; 8] = [0x2C, 0x1C, 0xB7, 0x6C, 0x12, 0x98, 0x40, 0x45];

/// The BTFN item a client offers with the given feature bits.
pub fn btfn(features: u64) -> SyntaxId {
    let mut g = [0u8; 16];
    g[..8].copy_from_slice(&BTFN_PREFIX);
    g[8..].copy_from_slice(&features.to_le_bytes());
    SyntaxId { uuid: Guid(g), version: 1 }
}

/// The feature bitmask if `s` is a BTFN item.
pub fn btfn_features(s: &SyntaxId) -> Option<u64> {
    if s.uuid.0[..8] == BTFN_PREFIX {
        let mut f = [0u8; 8];
        f.copy_from_slice(&s.uuid.0[8..]);
        Some(u64::from_le_bytes(f))
    } else {
        None
    }
}
