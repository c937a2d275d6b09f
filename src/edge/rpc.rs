//! The messages between the Worker (which speaks KMS with a client) and the
//! registry Durable Object (which decides), over the Durable Object's
//! `fetch`: the Worker never sees the registry, the registry never sees a
//! socket, and both sides share these types so they cannot drift apart.
//!
//! A decision travels in headers of a body-less request and response
//! ([`DecideRequest::headers`], [`DecideReply::header`]), so neither side
//! reads a body stream: measured under `wrangler dev`, 10–20 % more
//! activations a second at 50 per connection than a JSON body each way
//! (scripts/bench-edge.sh, A/B twice in one run). The rare tunnel lease
//! messages stay JSON bodies.
use crate::epid::{self, Epid};
use crate::host::{Decision, Grant};
use crate::kms::{RequestRepr, Version, request::BASE_REQUEST_LEN};
use crate::HResult;
use serde::{Deserialize, Serialize};

/// Path of the decision endpoint on the Durable Object.
pub const DECIDE_PATH: &str = "/decide";
/// A branch opens a tunnel connection: [`TunnelOpen`] → [`TunnelLease`],
/// or 429 when the branch holds its most.
pub const TUNNEL_OPEN_PATH: &str = "/tunnel/open";
/// The connection holding a [`TunnelLease`] closed: [`TunnelClose`].
pub const TUNNEL_CLOSE_PATH: &str = "/tunnel/close";
/// The status the Durable Object answers when a branch is over a limit.
pub const OVER_LIMIT: u16 = 429;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TunnelOpen {
    pub branch: String,
    /// Milliseconds from now after which the connection no longer counts,
    /// even if its close is never reported (the core's lifetime limit
    /// has closed it by then).
    pub lease_ms: u64,
    /// Milliseconds from its shedding after which a shed connection no
    /// longer counts against the branch's shed bound: the core's idle
    /// timeout plus slack (a shed connection that stays silent is closed
    /// by then; one that activates closes after its answer).
    pub shed_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TunnelLease {
    pub lease: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TunnelClose {
    pub branch: String,
    pub lease: u64,
}

/// Header of the decide request: `<major>.<minor> <hex of the 236-byte
/// base request>`.
pub const REQUEST_HEADER: &str = "kms-request";
/// Header of the decide request: the remote (branch id or `tcp`) as hex of
/// its UTF-8, since a branch id may hold what a header value may not.
pub const REMOTE_HEADER: &str = "kms-remote";
/// Header of the decide request: the tunnel connection's lease (decimal),
/// so the registry knows which connection gave this activation and can
/// say whether it was shed. Absent on the TCP path, which is not a branch.
pub const LEASE_HEADER: &str = "kms-lease";
/// Header of the registry's answer: [`DecideReply::header`].
pub const DECISION_HEADER: &str = "kms-decision";
/// Header of the registry's answer, present (value [`SHED`]) when the
/// connection's lease was shed to admit another: the Worker answers this
/// activation, then closes the connection.
pub const SHED_HEADER: &str = "kms-shed";
pub const SHED: &str = "1";

/// One activation request to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecideRequest {
    /// Branch credential id (tunnel) or `tcp` (connect handler).
    pub remote: String,
    /// Envelope version, major and minor.
    pub version: [u16; 2],
    /// The 236-byte base request as hex.
    pub request: String,
}

/// The registry's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideReply {
    Grant { epid: String, hwid: String, current_count: u32, activation_interval: u32, renewal_interval: u32 },
    Refuse { hresult: u32 },
}

impl DecideRequest {
    pub fn new(remote: &str, version: Version, req: &RequestRepr) -> DecideRequest {
        let mut b = [0u8; BASE_REQUEST_LEN];
        req.emit(&mut b);
        DecideRequest { remote: remote.to_owned(), version: [version.major, version.minor], request: hex(&b) }
    }

    /// The values of [`REQUEST_HEADER`] and [`REMOTE_HEADER`].
    pub fn headers(&self) -> (String, String) {
        (format!("{}.{} {}", self.version[0], self.version[1], self.request), hex(self.remote.as_bytes()))
    }

    /// From the two headers' values; `None` if malformed.
    pub fn from_headers(request: &str, remote: &str) -> Option<DecideRequest> {
        let (version, request) = request.split_once(' ')?;
        let (major, minor) = version.split_once('.')?;
        Some(DecideRequest {
            remote: String::from_utf8(unhex(remote)?).ok()?,
            version: [major.parse().ok()?, minor.parse().ok()?],
            request: request.to_owned(),
        })
    }

    /// The request and its envelope version; `None` if malformed.
    pub fn parse(&self) -> Option<(Version, RequestRepr)> {
        let b = unhex(&self.request)?;
        (b.len() == BASE_REQUEST_LEN).then(|| {
            (Version { major: self.version[0], minor: self.version[1] }, RequestRepr::parse(&b))
        })
    }
}

impl DecideReply {
    pub fn from_decision(d: &Decision) -> DecideReply {
        match d {
            Decision::Refuse(hr) => DecideReply::Refuse { hresult: hr.0 },
            Decision::Grant(g) => DecideReply::Grant {
                epid: g.epid.as_str().to_owned(),
                hwid: epid::format_hwid(&g.hwid).to_string(),
                current_count: g.current_count,
                activation_interval: g.activation_interval,
                renewal_interval: g.renewal_interval,
            },
        }
    }

    /// The value of [`DECISION_HEADER`]: `grant <ePID> <HwId> <count>
    /// <activation interval> <renewal interval>` or `refuse <HRESULT>`
    /// (an ePID has no spaces).
    pub fn header(&self) -> String {
        match self {
            DecideReply::Refuse { hresult } => format!("refuse {hresult}"),
            DecideReply::Grant { epid, hwid, current_count, activation_interval, renewal_interval } => {
                format!("grant {epid} {hwid} {current_count} {activation_interval} {renewal_interval}")
            }
        }
    }

    /// From [`DECISION_HEADER`]'s value; `None` if malformed.
    pub fn parse_header(s: &str) -> Option<DecideReply> {
        let mut w = s.split(' ');
        let reply = match w.next()? {
            "refuse" => DecideReply::Refuse { hresult: w.next()?.parse().ok()? },
            "grant" => DecideReply::Grant {
                epid: w.next()?.to_owned(),
                hwid: w.next()?.to_owned(),
                current_count: w.next()?.parse().ok()?,
                activation_interval: w.next()?.parse().ok()?,
                renewal_interval: w.next()?.parse().ok()?,
            },
            _ => return None,
        };
        w.next().is_none().then_some(reply)
    }

    /// `None` if the ePID or HwId is unusable (a corrupted registry).
    pub fn to_decision(&self) -> Option<Decision> {
        Some(match self {
            DecideReply::Refuse { hresult } => Decision::Refuse(HResult(*hresult)),
            DecideReply::Grant { epid, hwid, current_count, activation_interval, renewal_interval } => {
                Decision::Grant(Grant {
                    epid: Epid::parse(epid).ok()?,
                    hwid: epid::parse_hwid(hwid)?,
                    current_count: *current_count,
                    activation_interval: *activation_interval,
                    renewal_interval: *renewal_interval,
                })
            }
        })
    }
}

pub fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(D[usize::from(x >> 4)] as char);
        s.push(D[usize::from(x & 15)] as char);
    }
    s
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.chunks(2).map(|p| Some(nib(p[0])? << 4 | nib(p[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::RequestBuilder;
    use crate::time::FileTime;

    #[test]
    fn request_and_decision_round_trip() {
        let sku = &crate::catalog::SKUS[0];
        let req = RequestBuilder::for_sku(sku).cmid(crate::Guid::from_u128(42)).time(FileTime(7)).workstation("pc-1").build();
        let m = DecideRequest::new("paryż \"1\"", Version::V6, &req);
        let (request, remote) = m.headers();
        assert!(request.is_ascii() && remote.is_ascii());
        let back = DecideRequest::from_headers(&request, &remote).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.parse(), Some((Version::V6, req)));
        for bad in ["", "6.0", "6 00", "x.0 00", "6.0 00"] {
            assert!(DecideRequest::from_headers(bad, "74").and_then(|m| m.parse()).is_none(), "{bad:?}");
        }
        assert_eq!(DecideRequest::from_headers(&request, "zz"), None);
        assert_eq!(DecideRequest { request: "zz".into(), ..m.clone() }.parse(), None);
        assert_eq!(DecideRequest { request: hex(&[0; 10]), ..m }.parse(), None);

        let g = Decision::Grant(Grant {
            epid: Epid::parse("06401-00206-271-392671-03-1033-9600.0000-2432017").unwrap(),
            hwid: [0x3A, 0x1C, 0x04, 0x96, 0x00, 0xB6, 0x00, 0x76],
            current_count: 50,
            activation_interval: 120,
            renewal_interval: 10080,
        });
        for d in [g, Decision::Refuse(HResult::KMS_ID_MISMATCH)] {
            let header = DecideReply::from_decision(&d).header();
            let back = DecideReply::parse_header(&header).unwrap();
            assert_eq!(back.to_decision(), Some(d));
        }
        for bad in ["", "grant", "refuse x", "refuse 1 2", "maybe 1", "grant a b 1 2"] {
            assert_eq!(DecideReply::parse_header(bad), None, "{bad:?}");
        }
        assert_eq!(unhex("0aFf"), Some(vec![10, 255]));
        assert_eq!(unhex("0"), None);
    }
}
