//! Checking what administrators type: domain names, host names and DNS
//! server addresses. Every error is one line that names the value and
//! what is wrong with it.
use std::prelude::rust_2024::String;
use std::format;
use hickory_proto::rr::Name;
use std::net::{IpAddr, SocketAddr};

/// The DNS port.
pub const DNS_PORT: u16 = 53;

/// A checked domain name: lower case, without the final dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    /// Parses an RFC 1123 name: labels of letters, digits and inner
    /// hyphens, 1–63 characters each, 253 in all; a final dot is allowed.
    /// `what` names the value in errors ("domain", "--dns-zone", …).
    pub fn parse(what: &str, text: &str) -> Result<DomainName, String> {
        let t = text.trim();
        let bare = t.strip_suffix('.').unwrap_or(t);
        if bare.is_empty() {
            return Err(format!("{what} is empty; expected a DNS name such as corp.example.com"));
        }
        if bare.parse::<IpAddr>().is_ok() || bare.starts_with('[') {
            return Err(format!("{what} {text:?} is an IP address; expected a DNS name"));
        }
        if bare.len() > 253 {
            return Err(format!("{what} {text:?} is longer than 253 characters"));
        }
        for label in bare.split('.') {
            let chars_ok = label.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
            if label.is_empty() || label.len() > 63 || !chars_ok || label.starts_with('-') || label.ends_with('-') {
                return Err(format!(
                    "{what} {text:?} is not a valid DNS name: label {label:?}; expected 1-63 letters, digits or inner hyphens per label"
                ));
            }
        }
        Ok(DomainName(bare.to_ascii_lowercase()))
    }

    /// Without the final dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The fully qualified name, with the final dot.
    pub fn fqdn(&self) -> String {
        format!("{}.", self.0)
    }

    /// As a hickory name (fully qualified).
    pub fn to_name(&self) -> Name {
        let mut n = Name::from_ascii(self.fqdn()).expect("checked name");
        n.set_fqdn(true);
        n
    }

    /// Whether `self` is `zone` or a name below it.
    pub fn is_within(&self, zone: &DomainName) -> bool {
        self.0 == zone.0 || self.0.ends_with(&format!(".{}", zone.0))
    }

    /// `_vlmcs._tcp.<self>`.
    pub fn srv_owner(&self) -> Name {
        let mut n = Name::from_ascii(format!("{}.{}.", super::SRV_LABEL, self.0)).expect("checked name");
        n.set_fqdn(true);
        n
    }
}

impl std::fmt::Display for DomainName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SRV target: a host name, fully qualified. A name without a dot is
/// taken as a host inside `domain` (as the page's DNS helper does).
pub fn host_fqdn(what: &str, text: &str, domain: Option<&DomainName>) -> Result<DomainName, String> {
    let t = text.trim().trim_start_matches('[').trim_end_matches(']');
    if t.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "{what} {text:?} is an address; an SRV record needs the host's DNS name (with an A/AAAA record for the address)"
        ));
    }
    let host = DomainName::parse(what, text)?;
    match domain {
        Some(d) if !host.0.contains('.') => DomainName::parse(what, &format!("{}.{}", host.0, d.0)),
        _ => Ok(host),
    }
}

/// A DNS server: `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address
/// (port 53 by default). Names are refused: the server is what resolves them.
pub fn server_addr(what: &str, text: &str) -> Result<SocketAddr, String> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DNS_PORT));
    }
    match t.parse::<SocketAddr>() {
        Ok(a) if a.port() == 0 => Err(format!("{what} {text:?}: port 0 is not a DNS server port")),
        Ok(a) => Ok(a),
        Err(_) => Err(format!(
            "{what} {text:?} is not an IP address with an optional port (e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names() {
        assert_eq!(DomainName::parse("d", "Corp.Example.COM.").unwrap().as_str(), "corp.example.com");
        assert_eq!(DomainName::parse("d", "kms.test").unwrap().fqdn(), "kms.test.");
        for bad in ["", ".", "a..b", "-a.b", "a-.b", "a_b.c", "a b", "1.2.3.4", "[::1]", &"x".repeat(64)] {
            let e = DomainName::parse("--domain", bad).unwrap_err();
            assert!(e.starts_with("--domain"), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
        let long = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(63)].join(".");
        assert!(DomainName::parse("d", &long).unwrap_err().contains("253"));
        let z = DomainName::parse("z", "kms.test").unwrap();
        assert!(DomainName::parse("h", "a.kms.test").unwrap().is_within(&z));
        assert!(z.is_within(&z));
        assert!(!DomainName::parse("h", "akms.test").unwrap().is_within(&z));
        assert_eq!(z.srv_owner().to_ascii(), "_vlmcs._tcp.kms.test.");
    }

    #[test]
    fn hosts_and_servers() {
        let d = DomainName::parse("d", "example.com").unwrap();
        assert_eq!(host_fqdn("h", "kms1", Some(&d)).unwrap().as_str(), "kms1.example.com");
        assert_eq!(host_fqdn("h", "kms1.other.org.", Some(&d)).unwrap().as_str(), "kms1.other.org");
        assert!(host_fqdn("--host", "192.0.2.1", Some(&d)).unwrap_err().contains("address"));
        assert!(host_fqdn("--host", "[::1]", None).unwrap_err().contains("address"));
        assert_eq!(server_addr("s", "127.0.0.1").unwrap(), "127.0.0.1:53".parse().unwrap());
        assert_eq!(server_addr("s", "127.0.0.1:15353").unwrap(), "127.0.0.1:15353".parse().unwrap());
        assert_eq!(server_addr("s", "::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(server_addr("s", "[::1]:5353").unwrap(), "[::1]:5353".parse().unwrap());
        for bad in ["", "ns1.example.com", "127.0.0.1:0", "127.0.0.1:x", "1.2.3"] {
            assert!(server_addr("--server", bad).unwrap_err().starts_with("--server"), "{bad}");
        }
    }
}
