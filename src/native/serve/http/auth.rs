//! Who may read the host's data over HTTP. With an admin token configured,
//! every protected request must carry `Authorization: Bearer <token>`,
//! wherever it comes from; without one, only loopback clients are served,
//! so nothing beyond the machine sees the registry without a token.
use std::net::IpAddr;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no token sent.
    Missing,
    /// 401: a token that is not the admin token.
    Wrong,
    /// 403: a client beyond loopback, and the host has no token to check.
    NoTokenConfigured,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Missing => "this endpoint needs the admin token: send Authorization: Bearer <token>",
            Refusal::Wrong => "wrong admin token",
            Refusal::NoTokenConfigured => {
                "this host answers its API only on loopback until an admin token is set (admin_token, --admin-token or KMSEDGE_ADMIN_TOKEN)"
            }
        }
    }
}

/// The decision for a request from `peer` carrying `authorization`.
pub fn check(peer: IpAddr, authorization: Option<&[u8]>, token: Option<&str>) -> Result<(), Refusal> {
    let Some(token) = token else {
        return if peer.to_canonical().is_loopback() { Ok(()) } else { Err(Refusal::NoTokenConfigured) };
    };
    let header = authorization.ok_or(Refusal::Missing)?;
    // "Bearer" is case-insensitive (RFC 6750 / RFC 9110 auth schemes).
    let given = match header.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => header[7..].trim_ascii(),
        _ => return Err(Refusal::Missing),
    };
    if bool::from(given.ct_eq(token.as_bytes())) { Ok(()) } else { Err(Refusal::Wrong) }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;

    const LOOP4: &str = "127.0.0.1";
    const LAN: &str = "192.168.1.20";
    const TOKEN: &str = "0123456789abcdef-secret";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_a_token_only_loopback_is_served() {
        assert_eq!(check(ip(LOOP4), None, None), Ok(()));
        assert_eq!(check(ip("::1"), None, None), Ok(()));
        assert_eq!(check(ip("::ffff:127.0.0.1"), None, None), Ok(()));
        assert_eq!(check(ip(LAN), None, None), Err(Refusal::NoTokenConfigured));
        assert_eq!(check(ip("::ffff:192.168.1.20"), Some(b"Bearer x"), None), Err(Refusal::NoTokenConfigured));
    }

    #[test]
    fn with_a_token_everyone_needs_it() {
        let t = Some(TOKEN);
        let good = format!("Bearer {TOKEN}");
        assert_eq!(check(ip(LAN), Some(good.as_bytes()), t), Ok(()));
        assert_eq!(check(ip(LOOP4), Some(format!("bearer  {TOKEN} ").as_bytes()), t), Ok(()));
        assert_eq!(check(ip(LOOP4), None, t), Err(Refusal::Missing));
        assert_eq!(check(ip(LAN), Some(b"Basic abc"), t), Err(Refusal::Missing));
        assert_eq!(check(ip(LAN), Some(b"Bearer"), t), Err(Refusal::Missing));
        assert_eq!(check(ip(LAN), Some(b"Bearer 0123456789abcdef-secreT"), t), Err(Refusal::Wrong));
        assert_eq!(check(ip(LAN), Some(format!("Bearer {TOKEN}x").as_bytes()), t), Err(Refusal::Wrong));
    }
}
