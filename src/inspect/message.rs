//! The KMS messages inside the stubs, opened the way a decoder must: unlike
//! a host, it shows a request whose MAC is wrong (with the MAC marked
//! invalid), and unlike a client, it records every response check instead
//! of stopping at the first failure.
use super::error::Error;
use crate::catalog::{self, Application, KmsId, Sku};
use crate::crypto::{self, Block};
use crate::kms::request::{BASE_REQUEST_LEN, RequestRepr};
use crate::kms::{self, Expect, OpenedResponse, RequestError, Version};

/// How the integrity of a request could be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestIntegrity {
    /// V4: whether the MAC over the base request matches.
    Mac(bool),
    /// V5/V6: whether decryption gave 236 bytes with valid PKCS#7 padding
    /// (the only integrity a V5/V6 request has).
    Padding(bool),
}

impl RequestIntegrity {
    pub fn is_valid(&self) -> bool {
        matches!(self, RequestIntegrity::Mac(true) | RequestIntegrity::Padding(true))
    }
}

/// A decoded KMS request message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KmsRequest {
    /// Input offset and length of the message (without trailing stub bytes).
    pub offset: usize,
    pub len: usize,
    /// The version word of the envelope.
    pub version: Version,
    /// The fields; `None` when a V5/V6 request does not decrypt.
    pub repr: Option<RequestRepr>,
    /// V5/V6: the IV the client chose (the response is checked against it).
    pub iv: Option<Block>,
    pub integrity: RequestIntegrity,
    /// Bytes after the message inside the stub (py-kms adds 4 for V4).
    pub trailing: usize,
}

impl KmsRequest {
    /// Hosts answer 4.0, 5.0 and 6.0 only; others are decoded with the
    /// nearest cipher (V4 MAC, V5 or V6 key) for display and refused.
    pub fn is_supported(&self) -> bool {
        self.version.is_supported()
    }

    pub fn application(&self) -> Option<&'static Application> {
        catalog::application(&self.repr?.application)
    }
    pub fn sku(&self) -> Option<&'static Sku> {
        catalog::sku(&self.repr?.sku)
    }
    pub fn kms_id(&self) -> Option<&'static KmsId> {
        catalog::kms_id(&self.repr?.kms_id)
    }

    /// What a client would check its response against.
    pub fn facts(&self, item: usize) -> Option<RequestFacts> {
        let repr = self.repr?;
        let expect = Expect::for_request(&repr, &self.iv.unwrap_or_default());
        // The envelope version is the one the response must echo.
        let expect = Expect { version: self.version, ..expect };
        Some(RequestFacts { expect, n_policy: repr.n_policy, item })
    }
}

/// Opens a request message that starts at input offset `offset`. Only
/// truncation is an error: a bad MAC or bad padding is a finding, shown
/// in [`KmsRequest::integrity`].
pub fn decode_request(msg: &[u8], offset: usize) -> Result<KmsRequest, Error> {
    if msg.len() < 4 {
        return Err(Error::request(offset, RequestError::Truncated { needed: 4, have: msg.len() }));
    }
    let version = Version::parse(msg);
    let len = version.request_len();
    if msg.len() < len {
        return Err(Error::request(offset, RequestError::Truncated { needed: len, have: msg.len() }));
    }
    let trailing = msg.len() - len;
    let mut out = KmsRequest { offset, len, version, repr: None, iv: None, integrity: RequestIntegrity::Mac(false), trailing };
    if version.major == 4 {
        let base = &msg[..BASE_REQUEST_LEN];
        out.repr = Some(RequestRepr::parse(base));
        out.integrity = RequestIntegrity::Mac(crypto::v4_mac(base)[..] == msg[BASE_REQUEST_LEN..len]);
        return Ok(out);
    }
    // V5, V6 and unsupported versions (decrypted with the V5 key for 5.x,
    // else the V6 key): open a copy whose version word is the supported one.
    let mut copy = [0u8; 260];
    copy.copy_from_slice(&msg[..260]);
    let as_version = if version.major == 5 { Version::V5 } else { Version::V6 };
    as_version.emit(&mut copy[..4]);
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&msg[4..20]);
    out.iv = Some(iv);
    match kms::open_request(&copy) {
        Ok(opened) => {
            out.repr = Some(opened.repr);
            out.integrity = RequestIntegrity::Padding(true);
        }
        Err(_) => out.integrity = RequestIntegrity::Padding(false),
    }
    Ok(out)
}

/// What the conversation's request said, for checking its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFacts {
    pub expect: Expect,
    pub n_policy: u32,
    /// Index of the request's item in the conversation.
    pub item: usize,
}

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// Needs the request, which the input does not contain.
    Unknown,
}

impl Outcome {
    fn of(ok: bool) -> Outcome {
        if ok { Outcome::Pass } else { Outcome::Fail }
    }
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        }
    }
}

/// One of the checks a real client makes on a response (§6.6, §8.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Stable identifier (JSON key).
    pub id: &'static str,
    /// What is checked, in words.
    pub what: &'static str,
    pub outcome: Outcome,
}

/// A decoded KMS response message with its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KmsResponse {
    pub offset: usize,
    pub len: usize,
    pub opened: OpenedResponse,
    /// The request it answers, when the input contains it.
    pub request: Option<RequestFacts>,
}

/// The overall judgement on a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every check a client makes passed.
    Verified,
    /// At least one check failed (the first failing check's id).
    Failed(&'static str),
    /// The checks that need no request passed; the others could not be made.
    Incomplete,
}

impl KmsResponse {
    /// Every check that applies to this response's version, in the order a
    /// client makes them.
    pub fn checks(&self) -> impl Iterator<Item = Check> + '_ {
        let c = &self.opened.checks;
        let known = self.request.is_some();
        let echo = |ok: bool| if known { Outcome::of(ok) } else { Outcome::Unknown };
        let v = self.opened.repr.version.major;
        let mk = |id, what, outcome| Some(Check { id, what, outcome });
        let list: [Option<Check>; 8] = [
            mk("version", "response version equals the request's", echo(c.version_echoed)),
            mk("cmid", "client machine id echoed", echo(c.cmid_echoed)),
            mk("request_time", "request time echoed", echo(c.time_echoed)),
            c.mac.and_then(|ok| mk("mac", "V4 MAC over the response", Outcome::of(ok))),
            c.iv.and_then(|ok| {
                if v == 5 {
                    mk("iv", "response IV equals the request IV", echo(ok))
                } else {
                    mk("iv", "response IV differs from the request IV", echo(ok))
                }
            }),
            c.salt_hash.and_then(|ok| mk("salt_hash", "SHA-256 of the recovered salt matches", echo(ok))),
            c.xored_ivs.and_then(|ok| mk("xored_ivs", "XoredIVs equals the decrypted request IV", echo(ok))),
            c.hmac.and_then(|m| mk("hmac", "HMAC keyed from the request time", Outcome::of(m.is_some()))),
        ];
        list.into_iter().flatten()
    }

    pub fn verdict(&self) -> Verdict {
        let mut unknown = false;
        for c in self.checks() {
            match c.outcome {
                Outcome::Fail => return Verdict::Failed(c.id),
                Outcome::Unknown => unknown = true,
                Outcome::Pass => {}
            }
        }
        if unknown { Verdict::Incomplete } else { Verdict::Verified }
    }

    /// V6: the time-slot offset (-1, 0, +1) whose HMAC key matched.
    pub fn hmac_slot(&self) -> Option<i8> {
        self.opened.checks.hmac.flatten()
    }

    /// Whether the count reaches the request's N policy (below it, a client
    /// reports 0xC004F038 and stays unactivated). `None` without the request.
    pub fn count_sufficient(&self) -> Option<bool> {
        self.request.map(|r| self.opened.repr.current_count >= r.n_policy)
    }
}

/// Opens a response message at input offset `offset`, checking it against
/// `request` when known.
pub fn decode_response(msg: &[u8], offset: usize, request: Option<RequestFacts>) -> Result<KmsResponse, Error> {
    let expect = match request {
        Some(r) => r.expect,
        // Echo checks are reported as unknown; the placeholder only lets
        // the self-contained checks (V4 MAC, V6 HMAC) run.
        None => Expect {
            version: if msg.len() >= 4 { Version::parse(msg) } else { Version::V4 },
            iv: [0; 16],
            cmid: crate::Guid::ZERO,
            request_time: crate::time::FileTime(0),
        },
    };
    let opened = kms::open_response(msg, &expect).map_err(|e| Error::response(offset, e))?;
    Ok(KmsResponse { offset, len: msg.len(), opened, request })
}
