//! What one `kmsedge activate` run found, as data: the `--json` output
//! (other tools and the tests parse it, so fields are only ever added) and
//! what the text rendering reads.
use crate::catalog;
use crate::client::ClientError;
use crate::epid::{self, Epid};
use crate::kms::{Checks, OpenedResponse, RequestRepr};
use crate::tools::kms_client::Reply;
use crate::HResult;
use serde::{Deserialize, Serialize};
use std::format;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

/// `--json` output. Other tools parse it; fields are only ever added.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// As given, normalised (`host:port`, `[v6]:port`).
    pub target: String,
    /// The socket address connected to.
    pub address: Option<String>,
    pub product: ProductRef,
    /// Present once the bind succeeded.
    pub rpc: Option<RpcReport>,
    pub requests: Vec<RequestReport>,
    /// Requests that were activated with every check passed.
    pub activated: u32,
    pub ok: bool,
    /// Why the command fails (one line), `None` when `ok`.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProductRef {
    pub name: String,
    pub sku: String,
    pub application: String,
    pub kms_id: String,
    pub kms_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RpcReport {
    pub offered_ndr64: bool,
    pub btfn: bool,
    pub multiplex: bool,
    /// An alter_context for NDR32 was needed after the bind.
    pub alter_context: bool,
    /// "NDR32" or "NDR64": what the requests were sent with.
    pub syntax: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestReport {
    /// 1-based.
    pub index: u32,
    pub call_id: Option<u32>,
    /// Version of the request, "4.0" / "5.0" / "6.0".
    pub protocol: String,
    /// Transfer syntax of the request, "NDR32" / "NDR64".
    pub syntax: String,
    pub cmid: String,
    pub previous_cmid: String,
    pub workstation: String,
    /// UTC, `YYYY-MM-DD HH:MM:SS`.
    pub request_time: String,
    pub request_time_unix: i64,
    pub n_policy: u32,
    pub license_status: u32,
    /// Minutes of grace left that the client reports (0 = forever).
    pub binding_expiration: u32,
    pub vm: bool,
    /// Activated, every check passed.
    pub ok: bool,
    /// The HRESULT a Windows client ends with, `0x%08X`: 0 when activated,
    /// the host's refusal, 0xC004F038 for a count below N, 0xC004F074 for
    /// any other failure.
    pub hresult: String,
    pub hresult_name: Option<String>,
    /// The RPC return value the host sent, when a reply arrived.
    pub host_hresult: Option<String>,
    pub error: Option<String>,
    /// Size of the KMS response message.
    pub response_size: Option<usize>,
    pub response_protocol: Option<String>,
    pub epid: Option<String>,
    pub epid_parts: Option<EpidReport>,
    /// V6 only: 16 hex digits.
    pub hwid: Option<String>,
    /// `CurrentCount`.
    pub count: Option<u32>,
    /// Minutes.
    pub activation_interval: Option<u32>,
    /// Minutes.
    pub renewal_interval: Option<u32>,
    pub checks: Option<CheckReport>,
    /// From sending the request to the judged reply.
    pub latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpidReport {
    pub platform_id: u32,
    pub group_id: u32,
    pub key_id: u32,
    pub channel: u8,
    pub lcid: u32,
    pub host_build: u32,
    pub host_build_name: Option<String>,
    /// The CSVLK the group id belongs to, where the catalogue knows it.
    pub csvlk: Option<String>,
    /// `YYYY-MM-DD`.
    pub activation_date: Option<String>,
}

/// Each client check; `None` where it does not apply to the version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckReport {
    pub version_echoed: bool,
    pub cmid_echoed: bool,
    pub time_echoed: bool,
    /// V4.
    pub mac: Option<bool>,
    /// V5: echoed request IV; V6: a different (random) IV.
    pub iv: Option<bool>,
    pub salt_hash: Option<bool>,
    pub xored_ivs: Option<bool>,
    pub hmac: Option<bool>,
    /// V6: the time slot (-1, 0, +1) the HMAC matched in.
    pub hmac_time_slot: Option<i8>,
    /// Count ≥ N policy.
    pub count: bool,
}

fn hex(hr: HResult) -> String {
    format!("0x{:08X}", hr.0)
}

fn epid_report(e: &Epid) -> Option<EpidReport> {
    let p = e.parts()?;
    Some(EpidReport {
        platform_id: p.platform_id,
        group_id: p.group_id,
        key_id: p.key_id,
        channel: p.channel,
        lcid: p.lcid,
        host_build: p.build,
        host_build_name: catalog::host_build(p.build).map(|b| b.name.to_string()),
        csvlk: catalog::csvlk_for(p.group_id, p.key_id).map(|s| catalog::slot(s).csvlk_name.to_string()),
        activation_date: p.activation_date().map(|d| d.to_string()),
    })
}

fn check_report(c: &Checks, count_ok: bool) -> CheckReport {
    CheckReport {
        version_echoed: c.version_echoed,
        cmid_echoed: c.cmid_echoed,
        time_echoed: c.time_echoed,
        mac: c.mac,
        iv: c.iv,
        salt_hash: c.salt_hash,
        xored_ivs: c.xored_ivs,
        hmac: c.hmac.map(|m| m.is_some()),
        hmac_time_slot: c.hmac.flatten(),
        count: count_ok,
    }
}

pub(super) fn request_report(index: u32, req: &RequestRepr, syntax: &str) -> RequestReport {
    let hr = HResult::BINDING_SERVICE_UNAVAILABLE;
    RequestReport {
        index,
        call_id: None,
        protocol: req.version.to_string(),
        syntax: syntax.to_string(),
        cmid: req.cmid.to_string(),
        previous_cmid: req.previous_cmid.to_string(),
        workstation: req.workstation.to_string(),
        request_time: req.request_time.to_string(),
        request_time_unix: req.request_time.to_unix(),
        n_policy: req.n_policy,
        license_status: req.license_status,
        binding_expiration: req.binding_expiration,
        vm: req.is_vm(),
        ok: false,
        hresult: hex(hr),
        hresult_name: hr.name().map(str::to_string),
        host_hresult: None,
        error: None,
        response_size: None,
        response_protocol: None,
        epid: None,
        epid_parts: None,
        hwid: None,
        count: None,
        activation_interval: None,
        renewal_interval: None,
        checks: None,
        latency_ms: None,
    }
}

pub(super) fn fill_reply(r: &mut RequestReport, reply: &Reply, latency: Duration) {
    let hr = reply.hresult();
    r.call_id = Some(reply.call_id);
    r.ok = reply.is_activated();
    r.hresult = hex(hr);
    r.hresult_name = hr.name().map(str::to_string);
    r.host_hresult = Some(hex(reply.host_hresult));
    r.error = reply.verdict.err().map(|e| e.to_string());
    r.latency_ms = Some(latency.as_secs_f64() * 1e3);
    if reply.message_len > 0 {
        r.response_size = Some(reply.message_len);
    }
    if let Some(o) = &reply.response {
        fill_response(r, o, !matches!(reply.verdict, Err(ClientError::Refused(HResult::NOT_ENOUGH_COUNT))));
    }
}

fn fill_response(r: &mut RequestReport, o: &OpenedResponse, count_ok: bool) {
    r.response_protocol = Some(o.repr.version.to_string());
    r.epid = Some(o.repr.epid.as_str().to_string());
    r.epid_parts = epid_report(&o.repr.epid);
    r.hwid = o.hwid.map(|h| epid::format_hwid(&h).to_string());
    r.count = Some(o.repr.current_count);
    r.activation_interval = Some(o.repr.activation_interval);
    r.renewal_interval = Some(o.repr.renewal_interval);
    r.checks = Some(check_report(&o.checks, count_ok));
}
