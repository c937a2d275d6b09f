//! Names for the numbers of DCE/RPC as KMS uses it, so every field the
//! decoder shows can be read without the spec at hand.
use crate::wire::bind::{nak_reason, reason, result};
use crate::wire::call::status;
use crate::wire::flags;
use crate::wire::syntax::{self, SyntaxId};

/// What a presentation syntax is, as far as KMS is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxKind {
    /// The `RequestActivation` interface (abstract syntax).
    KmsInterface,
    Ndr32,
    Ndr64,
    /// Bind-time feature negotiation, with the offered/acknowledged bits.
    Btfn { features: u64 },
    /// The all-zero syntax of rejected and BTFN results.
    Null,
    Unknown,
}

/// A syntax id with what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedSyntax {
    pub id: SyntaxId,
    pub kind: SyntaxKind,
}

impl NamedSyntax {
    pub fn of(id: SyntaxId) -> NamedSyntax {
        let kind = if let Some(features) = syntax::btfn_features(&id) {
            SyntaxKind::Btfn { features }
        } else if id.uuid == syntax::KMS_INTERFACE.uuid {
            SyntaxKind::KmsInterface
        } else if id.uuid == syntax::NDR32.uuid {
            SyntaxKind::Ndr32
        } else if id.uuid == syntax::NDR64.uuid {
            SyntaxKind::Ndr64
        } else if id == SyntaxId::NULL {
            SyntaxKind::Null
        } else {
            SyntaxKind::Unknown
        };
        NamedSyntax { id, kind }
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            SyntaxKind::KmsInterface => "KMS interface",
            SyntaxKind::Ndr32 => "NDR32",
            SyntaxKind::Ndr64 => "NDR64",
            SyntaxKind::Btfn { .. } => "BTFN",
            SyntaxKind::Null => "none",
            SyntaxKind::Unknown => "unknown syntax",
        }
    }

    /// Interface versions are `major | minor << 16` on the wire; transfer
    /// syntaxes use the plain number. Returns (major, minor).
    pub fn version(&self) -> (u16, u16) {
        (self.id.version as u16, (self.id.version >> 16) as u16)
    }

    /// The BTFN feature bits, if this is a BTFN item.
    pub fn btfn_features(&self) -> Option<u64> {
        match self.kind {
            SyntaxKind::Btfn { features } => Some(features),
            _ => None,
        }
    }
}

/// Names of the BTFN feature bits that are set (bits without a name are skipped).
pub fn btfn_feature_names(bits: u64) -> impl Iterator<Item = &'static str> {
    [(1u64, "security context multiplexing"), (2, "keep connection on orphan")]
        .into_iter()
        .filter(move |(b, _)| bits & b != 0)
        .map(|(_, n)| n)
}

/// Names of the set `pfc_flags` bits, in bit order.
pub fn flag_names(f: u8) -> impl Iterator<Item = &'static str> {
    [
        (flags::FIRST_FRAG, "first_frag"),
        (flags::LAST_FRAG, "last_frag"),
        (flags::PENDING_CANCEL, "pending_cancel"),
        (0x08, "reserved_08"),
        (flags::CONC_MPX, "conc_mpx"),
        (flags::DID_NOT_EXECUTE, "did_not_execute"),
        (flags::MAYBE, "maybe"),
        (flags::OBJECT_UUID, "object_uuid"),
    ]
    .into_iter()
    .filter(move |(b, _)| f & b != 0)
    .map(|(_, n)| n)
}

/// The name of a bind_ack result code (§3.6).
pub fn result_name(r: u16) -> &'static str {
    match r {
        result::ACCEPTANCE => "acceptance",
        result::USER_REJECTION => "user rejection",
        result::PROVIDER_REJECTION => "provider rejection",
        result::NEGOTIATE_ACK => "negotiate_ack",
        _ => "unknown result",
    }
}

/// The name of a provider-rejection reason (§3.6).
pub fn reason_name(r: u16) -> &'static str {
    match r {
        reason::NOT_SPECIFIED => "reason not specified",
        reason::ABSTRACT_SYNTAX_NOT_SUPPORTED => "abstract syntax not supported",
        reason::TRANSFER_SYNTAXES_NOT_SUPPORTED => "proposed transfer syntaxes not supported",
        reason::LOCAL_LIMIT_EXCEEDED => "local limit exceeded",
        _ => "unknown reason",
    }
}

/// The name of a bind_nak reason (§3.8).
pub fn nak_reason_name(r: u16) -> &'static str {
    match r {
        nak_reason::NOT_SPECIFIED => "reason not specified",
        1 => "temporary congestion",
        nak_reason::LOCAL_LIMIT_EXCEEDED => "local limit exceeded",
        3 => "called address unknown",
        nak_reason::PROTOCOL_VERSION_NOT_SUPPORTED => "protocol version not supported",
        5 => "default context not supported",
        6 => "user data not readable",
        7 => "no PSAP available",
        _ => "unknown reason",
    }
}

/// The name of a fault status (§3.10 and the common DCE/Windows ones).
pub fn fault_status_name(s: u32) -> &'static str {
    match s {
        status::OP_RANGE_ERROR => "nca_s_op_rng_error (operation number out of range)",
        status::UNKNOWN_INTERFACE => "nca_s_unk_if (unknown interface / context)",
        status::PROTOCOL_ERROR => "nca_s_proto_error (protocol error)",
        status::BAD_STUB_DATA => "RPC_X_BAD_STUB_DATA (stub data invalid)",
        0x1C01_0001 => "nca_s_comm_failure",
        0x1C01_0013 => "nca_s_fault_ndr",
        0x1C00_0001 => "nca_s_fault_int_div_by_zero",
        0x1C00_0011 => "nca_s_fault_remote_no_memory",
        0x0000_0005 => "ERROR_ACCESS_DENIED",
        0x0000_06D1 => "RPC_S_PROCNUM_OUT_OF_RANGE",
        0x0000_06E4 => "RPC_S_CALL_CANCELLED",
        0x0000_0721 => "RPC_S_SEC_PKG_ERROR",
        _ => "unknown status",
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use std::vec::Vec;

    #[test]
    fn syntaxes_are_recognised() {
        assert_eq!(NamedSyntax::of(syntax::NDR64).kind, SyntaxKind::Ndr64);
        assert_eq!(NamedSyntax::of(syntax::NDR32).name(), "NDR32");
        assert_eq!(NamedSyntax::of(syntax::btfn(3)).btfn_features(), Some(3));
        assert_eq!(NamedSyntax::of(SyntaxId::NULL).kind, SyntaxKind::Null);
        let kms = NamedSyntax::of(syntax::KMS_INTERFACE);
        assert_eq!((kms.kind, kms.version()), (SyntaxKind::KmsInterface, (1, 0)));
        let other = SyntaxId { uuid: crate::Guid::from_u128(1), version: 0x0002_0001 };
        assert_eq!((NamedSyntax::of(other).kind, NamedSyntax::of(other).version()), (SyntaxKind::Unknown, (1, 2)));
    }

    #[test]
    fn flags_and_bits() {
        assert_eq!(flag_names(0x13).collect::<Vec<_>>(), ["first_frag", "last_frag", "conc_mpx"]);
        assert_eq!(flag_names(0x23).collect::<Vec<_>>(), ["first_frag", "last_frag", "did_not_execute"]);
        assert_eq!(btfn_feature_names(3).count(), 2);
        assert_eq!(btfn_feature_names(2).collect::<Vec<_>>(), ["keep connection on orphan"]);
        assert!(fault_status_name(0x1C01_0003).starts_with("nca_s_unk_if"));
        assert_eq!(reason_name(2), "proposed transfer syntaxes not supported");
    }
}
