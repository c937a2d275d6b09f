//! The deep health check's reserved client: `kmsedge activate --check` and
//! `/healthz?deep=1` activate as this machine, through the whole path a
//! real client takes (RPC, the KMS envelopes, the rules, the registry's
//! journal and SQLite), and the host model recognises it so that it is
//! never counted (a probe every few seconds must not raise the count
//! clients see) and never listed as a client or in the event history.
//!
//! It is recognised by its CMID alone: a Windows client's CMID is a random
//! version-4 UUID of the RFC 4122 variant, and this one is neither
//! (version nibble 0, variant bits 0b01), so no genuine client sends it.
use crate::Guid;

/// The health check's client machine id: "kmsedge" and "health" in ASCII.
pub const CMID: Guid = match Guid::parse("6b6d7365-6467-0065-6865-616c74680000") {
    Ok(g) => g,
    Err(_) => panic!("the health-check CMID is a valid GUID"),
};

/// The workstation name it sends, so that a capture shows what it is.
pub const WORKSTATION: &str = "kmsedge-health-check";

/// The product it activates by default: the volume edition every host's
/// Windows key covers under the default scope.
pub const PRODUCT: &str = "Windows 10/11 Enterprise";

/// The catalogue entry of [`PRODUCT`].
pub fn sku() -> Option<&'static crate::catalog::Sku> {
    crate::catalog::SKUS.iter().find(|s| s.name == PRODUCT)
}

/// Whether a request with this CMID is the health check.
pub fn is_health_check(cmid: &Guid) -> bool {
    *cmid == CMID
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserved_cmid_is_not_a_random_uuid() {
        let bytes = CMID.to_u128().to_be_bytes();
        // As text: version nibble 0 and not the RFC 4122 variant (0b10),
        // so no version-4 CMID a Windows client generates can equal it.
        assert_eq!(bytes[6] >> 4, 0, "version");
        assert_ne!(bytes[8] >> 6, 0b10, "variant");
        assert!(is_health_check(&CMID));
        assert!(!is_health_check(&Guid::from_u128(CMID.to_u128() ^ 1)));
        assert!(sku().is_some_and(|s| s.gvlk.is_some()), "the health-check product is a catalogue volume SKU");
    }
}
