//! The per-version envelopes (§5.3–5.4, §6.2–6.4): V4 MAC, V5 AES-CBC with
//! salt hash, V6 modified AES-CBC with salt hash, HwId and HMAC.
use super::request::{BASE_REQUEST_LEN, RequestRepr};
use super::response::{PidError, ResponseRepr};
use super::Version;
use crate::crypto::{self, Block, KmsAes};
use crate::HResult;
use core::fmt;

/// Largest response message: V6 with a 128-byte PID.
pub const MAX_RESPONSE_LEN: usize = 20 + ((44 + 128 + 88 + 1 + 15) & !15);

/// The request IV and its single-block decryption. The host gets the second
/// for free from the decryption shortcut (§5.4) and needs both again when it
/// seals the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestIv {
    pub iv: Block,
    pub decrypted: Block,
}

/// A request as the host reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedRequest {
    /// The version of the envelope (the inner copy is in `repr.version`).
    pub version: Version,
    pub repr: RequestRepr,
    /// V5/V6 only; zero for V4.
    pub iv: RequestIv,
}

/// Why a host cannot read a request. Every case is answered with
/// `0x8007000D` (ERROR_INVALID_DATA), as vlmcsd and genuine hosts do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    Truncated { needed: usize, have: usize },
    UnsupportedVersion(Version),
    /// V4: the MAC over the base request does not match.
    BadMac,
    /// V5/V6: the decrypted request is not 236 bytes of PKCS#7-padded data.
    BadPadding,
}

impl RequestError {
    pub fn hresult(&self) -> HResult {
        HResult::INVALID_DATA
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Truncated { needed, have } => write!(f, "KMS request truncated: need {needed} bytes, have {have}"),
            RequestError::UnsupportedVersion(v) => write!(f, "unsupported KMS protocol version {v}"),
            RequestError::BadMac => f.write_str("V4 request MAC does not match"),
            RequestError::BadPadding => f.write_str("decrypted request has invalid padding (wrong key or corrupted)"),
        }
    }
}

fn aes_for(v: Version) -> KmsAes {
    if v.major == 5 { KmsAes::V5 } else { KmsAes::V6 }
}

/// Host side: check and decrypt a request message.
pub fn open_request(msg: &[u8]) -> Result<OpenedRequest, RequestError> {
    if msg.len() < 4 {
        return Err(RequestError::Truncated { needed: 4, have: msg.len() });
    }
    let version = Version::parse(msg);
    if !version.is_supported() {
        return Err(RequestError::UnsupportedVersion(version));
    }
    let needed = version.request_len();
    if msg.len() < needed {
        return Err(RequestError::Truncated { needed, have: msg.len() });
    }
    if version.major == 4 {
        let (base, mac) = (&msg[..BASE_REQUEST_LEN], &msg[BASE_REQUEST_LEN..252]);
        if crypto::v4_mac(base) != mac {
            return Err(RequestError::BadMac);
        }
        return Ok(OpenedRequest { version, repr: RequestRepr::parse(base), iv: RequestIv::default() });
    }
    // Decrypting IV ‖ ciphertext with a zero chaining value yields D(IV) in
    // block 0 and the padded base request after it (§5.4).
    let mut buf = [0u8; 256];
    buf.copy_from_slice(&msg[4..260]);
    aes_for(version).cbc_decrypt(&[0; 16], &mut buf);
    if crypto::pkcs7_unpad(&buf[16..]) != Some(BASE_REQUEST_LEN) {
        return Err(RequestError::BadPadding);
    }
    let mut iv = RequestIv::default();
    iv.iv.copy_from_slice(&msg[4..20]);
    iv.decrypted.copy_from_slice(&buf[..16]);
    Ok(OpenedRequest { version, repr: RequestRepr::parse(&buf[16..]), iv })
}

/// The host's random choices for one response. V5 uses `salt`; V6 also `iv`
/// (which must differ from the request IV: [`seal_response`] ensures it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResponseRandom {
    pub salt: Block,
    pub iv: Block,
}

/// Host side: build the response message for `resp` into `out`
/// (at least [`MAX_RESPONSE_LEN`] bytes); returns its length.
pub fn seal_response(
    resp: &ResponseRepr,
    req_iv: &RequestIv,
    random: &ResponseRandom,
    hwid: &[u8; 8],
    out: &mut [u8],
) -> usize {
    let v = resp.version;
    if v.major == 4 {
        let n = resp.emit(out);
        let mac = crypto::v4_mac(&out[..n]);
        out[n..n + 16].copy_from_slice(&mac);
        return n + 16;
    }
    let aes = aes_for(v);
    v.emit(&mut out[0..4]);
    let body = &mut out[20..];
    let mut n = resp.emit(body);
    let salt_xored: Block = core::array::from_fn(|i| random.salt[i] ^ req_iv.decrypted[i]);
    body[n..n + 16].copy_from_slice(&salt_xored);
    body[n + 16..n + 48].copy_from_slice(&crypto::sha256(&random.salt));
    n += 48;
    let iv = if v.major == 5 {
        // V5 echoes the request IV (Windows checks it).
        req_iv.iv
    } else {
        body[n..n + 8].copy_from_slice(hwid);
        body[n + 8..n + 24].copy_from_slice(&req_iv.decrypted);
        n += 24;
        let mut iv = random.iv;
        if iv == req_iv.iv {
            // A response IV equal to the request IV marks an emulator.
            iv[0] ^= 1;
        }
        let mut first = iv;
        aes.decrypt_block(&mut first);
        let key = crypto::v6_hmac_key(resp.request_time.0, 0);
        let mac = crypto::v6_hmac(&key, &first, &body[..n]);
        body[n..n + 16].copy_from_slice(&mac);
        n += 16;
        iv
    };
    let padded = crypto::pkcs7_pad(body, n).expect("MAX_RESPONSE_LEN leaves room for padding");
    aes.cbc_encrypt(&iv, &mut body[..padded]);
    out[4..20].copy_from_slice(&iv);
    20 + padded
}

/// Client side: the request message for `repr` (V4: 252 bytes, V5/V6: 260)
/// into `out`. `iv` is ignored for V4.
pub fn seal_request(repr: &RequestRepr, iv: &Block, out: &mut [u8]) -> usize {
    let v = repr.version;
    if v.major == 4 {
        repr.emit(&mut out[..BASE_REQUEST_LEN]);
        let mac = crypto::v4_mac(&out[..BASE_REQUEST_LEN]);
        out[BASE_REQUEST_LEN..252].copy_from_slice(&mac);
        return 252;
    }
    v.emit(&mut out[0..4]);
    out[4..20].copy_from_slice(iv);
    repr.emit(&mut out[20..20 + BASE_REQUEST_LEN]);
    let padded = crypto::pkcs7_pad(&mut out[20..], BASE_REQUEST_LEN).expect("260-byte buffer");
    aes_for(v).cbc_encrypt(iv, &mut out[20..20 + padded]);
    20 + padded
}

/// What a client knows about the request it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub version: Version,
    pub iv: Block,
    pub cmid: crate::Guid,
    pub request_time: crate::time::FileTime,
}

impl Expect {
    pub fn for_request(repr: &RequestRepr, iv: &Block) -> Expect {
        Expect { version: repr.version, iv: *iv, cmid: repr.cmid, request_time: repr.request_time }
    }
}

/// Why a response could not even be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    Truncated { needed: usize, have: usize },
    UnsupportedVersion(Version),
    /// Ciphertext not a whole number of blocks, or bad PKCS#7 padding.
    BadPadding,
    Pid(PidError),
    /// The decrypted length does not match what the PIDSize implies.
    Length { expected: usize, have: usize },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Truncated { needed, have } => write!(f, "KMS response truncated: need {needed} bytes, have {have}"),
            OpenError::UnsupportedVersion(v) => write!(f, "unsupported KMS protocol version {v}"),
            OpenError::BadPadding => f.write_str("response does not decrypt to valid PKCS#7 padding"),
            OpenError::Pid(PidError::Size(p)) => write!(f, "invalid PIDSize {p}"),
            OpenError::Pid(PidError::NotTerminated) => f.write_str("ePID is not NUL-terminated"),
            OpenError::Pid(PidError::EmbeddedNul) => f.write_str("ePID contains an embedded NUL"),
            OpenError::Length { expected, have } => write!(f, "decrypted response is {have} bytes, PIDSize implies {expected}"),
        }
    }
}

/// The outcome of each check a real client makes (§6.6, §8.8). `None`
/// means the check does not apply to this version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checks {
    pub version_echoed: bool,
    pub cmid_echoed: bool,
    pub time_echoed: bool,
    /// V4: MAC over the base response.
    pub mac: Option<bool>,
    /// V5: response IV equals the request IV. V6: it differs (random).
    pub iv: Option<bool>,
    /// V5/V6: SHA-256 of the recovered salt matches.
    pub salt_hash: Option<bool>,
    /// V6: XoredIVs equals D6(request IV).
    pub xored_ivs: Option<bool>,
    /// V6: HMAC matched with time-slot offset 0, -1 or +1.
    pub hmac: Option<Option<i8>>,
}

/// The first failed check, for a client that must refuse the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    VersionMismatch,
    CmidMismatch,
    TimeMismatch,
    BadMac,
    IvNotEchoed,
    IvNotRandom,
    BadSaltHash,
    BadXoredIvs,
    BadHmac,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerifyError::VersionMismatch => "response version differs from the request",
            VerifyError::CmidMismatch => "client machine id not echoed",
            VerifyError::TimeMismatch => "request time not echoed",
            VerifyError::BadMac => "V4 MAC does not match",
            VerifyError::IvNotEchoed => "V5 response IV differs from the request IV",
            VerifyError::IvNotRandom => "V6 response IV equals the request IV (emulator)",
            VerifyError::BadSaltHash => "salt hash does not match",
            VerifyError::BadXoredIvs => "V6 XoredIVs is not D(request IV)",
            VerifyError::BadHmac => "V6 HMAC does not match",
        })
    }
}

/// A decoded response with the result of every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedResponse {
    pub repr: ResponseRepr,
    /// V6 only.
    pub hwid: Option<[u8; 8]>,
    /// V5/V6: the IV field of the response.
    pub response_iv: Option<Block>,
    pub checks: Checks,
}

impl OpenedResponse {
    /// `Ok` only if every applicable check passed.
    pub fn verify(&self) -> Result<(), VerifyError> {
        let c = &self.checks;
        let fail = |ok: Option<bool>, e| if ok == Some(false) { Err(e) } else { Ok(()) };
        fail(Some(c.version_echoed), VerifyError::VersionMismatch)?;
        fail(Some(c.cmid_echoed), VerifyError::CmidMismatch)?;
        fail(Some(c.time_echoed), VerifyError::TimeMismatch)?;
        fail(c.mac, VerifyError::BadMac)?;
        let iv_err = if self.repr.version.major == 5 { VerifyError::IvNotEchoed } else { VerifyError::IvNotRandom };
        fail(c.iv, iv_err)?;
        fail(c.salt_hash, VerifyError::BadSaltHash)?;
        fail(c.xored_ivs, VerifyError::BadXoredIvs)?;
        fail(c.hmac.map(|m| m.is_some()), VerifyError::BadHmac)
    }
}

/// Client/decoder side: decrypt and parse a response and run every check
/// against what the request said. Structural failures are an [`OpenError`];
/// check failures are recorded in [`Checks`] so a decoder can show them all.
pub fn open_response(msg: &[u8], expect: &Expect) -> Result<OpenedResponse, OpenError> {
    if msg.len() < 4 {
        return Err(OpenError::Truncated { needed: 4, have: msg.len() });
    }
    let version = Version::parse(msg);
    if !version.is_supported() {
        return Err(OpenError::UnsupportedVersion(version));
    }
    let mut checks = Checks { version_echoed: version == expect.version, ..Checks::default() };
    let echo = |repr: &ResponseRepr, checks: &mut Checks| {
        checks.cmid_echoed = repr.cmid == expect.cmid;
        checks.time_echoed = repr.request_time == expect.request_time;
    };
    if version.major == 4 {
        let (repr, n) = ResponseRepr::parse(msg).map_err(OpenError::Pid)?;
        if msg.len() < n + 16 {
            return Err(OpenError::Truncated { needed: n + 16, have: msg.len() });
        }
        echo(&repr, &mut checks);
        checks.mac = Some(crypto::v4_mac(&msg[..n]) == msg[n..n + 16]);
        return Ok(OpenedResponse { repr, hwid: None, response_iv: None, checks });
    }
    let aes = aes_for(version);
    let ct = &msg[20.min(msg.len())..];
    if msg.len() < 36 || ct.len() % 16 != 0 || ct.len() > MAX_RESPONSE_LEN - 20 {
        return if msg.len() < 36 {
            Err(OpenError::Truncated { needed: 36, have: msg.len() })
        } else {
            Err(OpenError::BadPadding)
        };
    }
    let mut resp_iv = [0u8; 16];
    resp_iv.copy_from_slice(&msg[4..20]);
    let mut buf = [0u8; MAX_RESPONSE_LEN];
    let body = &mut buf[..ct.len()];
    body.copy_from_slice(ct);
    aes.cbc_decrypt(&resp_iv, body);
    let plain_len = crypto::pkcs7_unpad(body).ok_or(OpenError::BadPadding)?;
    let body = &body[..plain_len];
    let (repr, n) = ResponseRepr::parse(body).map_err(OpenError::Pid)?;
    let extra = if version.major == 5 { 48 } else { 88 };
    if plain_len != n + extra {
        return Err(OpenError::Length { expected: n + extra, have: plain_len });
    }
    echo(&repr, &mut checks);
    let mut d_req_iv = expect.iv;
    aes.decrypt_block(&mut d_req_iv);
    let salt: Block = core::array::from_fn(|i| body[n + i] ^ d_req_iv[i]);
    checks.salt_hash = Some(crypto::sha256(&salt)[..] == body[n + 16..n + 48]);
    let mut hwid = None;
    if version.major == 5 {
        checks.iv = Some(resp_iv == expect.iv);
    } else {
        checks.iv = Some(resp_iv != expect.iv);
        let mut h = [0u8; 8];
        h.copy_from_slice(&body[n + 48..n + 56]);
        hwid = Some(h);
        checks.xored_ivs = Some(body[n + 56..n + 72] == d_req_iv);
        let mut first = resp_iv;
        aes.decrypt_block(&mut first);
        let mac = &body[n + 72..n + 88];
        checks.hmac = Some([0i8, -1, 1].into_iter().find(|&off| {
            let key = crypto::v6_hmac_key(repr.request_time.0, off);
            crypto::v6_hmac(&key, &first, &body[..n + 72])[..] == *mac
        }));
    }
    Ok(OpenedResponse { repr, hwid, response_iv: Some(resp_iv), checks })
}
