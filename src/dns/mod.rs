//! The KMS SRV record's names and limits (kms-protocol.md §8.9), shared by
//! the host that publishes the record ([`crate::native::dns`]) and the
//! tools that print or look it up ([`crate::tools::dns`]). It lives outside
//! both so that neither has to import the other.
pub mod names;

/// The owner name of the KMS SRV record, relative to the domain.
pub const SRV_LABEL: &str = "_vlmcs._tcp";

/// The TTL Microsoft's own KMS hosts give the record.
pub const DEFAULT_TTL: u32 = 3600;
/// One week; SRV records for a host that moves should not live longer.
pub const MAX_TTL: u32 = 604_800;
