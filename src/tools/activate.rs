//! `kmsedge activate`: one real activation conversation, like `vlmcs -v`,
//! but strict — every client check of kms-protocol.md §8.8 is run on every
//! reply, and anything short of an activation (refusal, RPC fault, failed
//! check, count below the N policy, connection trouble) makes the command
//! exit non-zero. `--json` gives the same facts to scripts and tests.
use crate::catalog::{self, Sku};
use crate::client::{ClientError, RequestBuilder};
use crate::epid::{self, Epid};
use crate::kms::request::license_status_name;
use crate::kms::{Checks, OpenedResponse, RequestRepr, Version};
use crate::tools::common::{self, RpcFlags, check_workstation, now, random_workstation};
use crate::tools::kms_client::{ClientOptions, KmsConnection, Reply, SealedRequest, Target};
use crate::tools::products;
use crate::time::{Date, FileTime};
use crate::{Guid, HResult};
use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::format;
use std::string::{String, ToString};
use std::time::{Duration, Instant};
use std::vec::Vec;

/// Requests on one connection; vlmcs has no limit, but a tool that is
/// bounded is easier to trust in scripts.
pub const MAX_REQUESTS: u32 = 10_000;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["product", "sku"])))]
pub struct Args {
    /// The KMS host: HOST, HOST:PORT, [IPv6] or [IPv6]:PORT (port 1688 by default).
    #[arg(value_name = "HOST[:PORT]")]
    pub target: String,
    /// Product to activate: an exact name or words matching exactly one
    /// product (see `kmsedge products`).
    #[arg(long, short = 'l', value_name = "NAME")]
    pub product: Option<String>,
    /// Product to activate, by SKU id (activation id).
    #[arg(long, value_name = "ID")]
    pub sku: Option<String>,
    /// KMS protocol version (default: the one the product's clients use).
    #[arg(long, value_name = "4|5|6", value_parser = clap::value_parser!(u16).range(4..=6))]
    pub protocol: Option<u16>,
    #[command(flatten)]
    pub rpc: RpcFlags,
    /// Activation requests to send on the connection.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=MAX_REQUESTS as i64))]
    pub requests: u32,
    /// Client machine id for every request (default: a random version-4 UUID per request).
    #[arg(long, value_name = "GUID")]
    pub cmid: Option<String>,
    /// Previous client machine id (default: all zero).
    #[arg(long, value_name = "GUID")]
    pub previous_cmid: Option<String>,
    /// Workstation name (default: a random DESKTOP-XXXXXXX name per request).
    #[arg(long, value_name = "NAME")]
    pub workstation: Option<String>,
    /// Request time: now, now+2h, now-90m, @UNIX_SECONDS, YYYY-MM-DD or
    /// YYYY-MM-DDTHH:MM:SS (UTC). Default: now.
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
    /// N policy (minimum count) to send and to check the count against
    /// (default: the product's, 25 for Windows clients, else 5).
    #[arg(long, value_name = "N")]
    pub n_policy: Option<u32>,
    /// Set the "client is a virtual machine" flag.
    #[arg(long)]
    pub vm: bool,
    /// Seconds to wait for the connection and for each reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = Plan::from_args(&args)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = rt.block_on(execute(&plan, !args.json));
    if args.json {
        std::println!("{}", serde_json::to_string_pretty(&report)?);
    }
    match report.error {
        None => Ok(()),
        Some(e) => Err(anyhow!(e)),
    }
}

/// Everything decided before the network is touched; every bad argument
/// is reported here, as one line.
pub struct Plan {
    pub target: Target,
    pub sku: &'static Sku,
    /// Version, N policy, ids and licence fields; CMID, time and
    /// workstation are filled per request.
    pub base: RequestBuilder,
    pub requests: u32,
    pub cmid: Option<Guid>,
    pub workstation: Option<String>,
    pub time: TimeSpec,
    pub client: ClientOptions,
}

impl Plan {
    pub fn from_args(a: &Args) -> anyhow::Result<Plan> {
        let target = Target::parse(&a.target)?;
        let sku = products::select(a.product.as_deref(), a.sku.as_deref())?;
        let mut base = RequestBuilder::for_sku(sku).vm(a.vm);
        if let Some(v) = a.protocol {
            base = base.version(Version { major: v, minor: 0 });
        }
        if let Some(n) = a.n_policy {
            base = base.n_policy(n);
        }
        if let Some(p) = &a.previous_cmid {
            base = base.previous_cmid(parse_guid("--previous-cmid", p)?);
        }
        let cmid = a.cmid.as_deref().map(|c| parse_guid("--cmid", c)).transpose()?;
        if let Some(w) = &a.workstation {
            check_workstation(w)?;
        }
        let time = TimeSpec::parse(a.time.as_deref().unwrap_or("now"))?;
        let client = common::client_options(&a.rpc, a.timeout)?;
        Ok(Plan { target, sku, base, requests: a.requests, cmid, workstation: a.workstation.clone(), time, client })
    }

    /// The next request: a fresh CMID and workstation unless fixed, and
    /// the request time taken now.
    pub fn request(&self) -> RequestRepr {
        let b = match self.cmid {
            Some(c) => self.base.cmid(c),
            None => self.base.random_cmid(rand::random()),
        };
        let ws = self.workstation.clone().unwrap_or_else(random_workstation);
        b.time(self.time.resolve(now())).workstation(&ws).build()
    }
}

fn parse_guid(flag: &str, s: &str) -> anyhow::Result<Guid> {
    Guid::parse(s.trim()).map_err(|e| anyhow!("invalid {flag} {s:?}: {e}"))
}

/// `--time`: the clock itself, an offset from it, or a fixed instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// Now plus this many seconds (may be negative).
    Now(i64),
    At(FileTime),
}

impl TimeSpec {
    pub fn parse(s: &str) -> anyhow::Result<TimeSpec> {
        let bad = || {
            anyhow!("invalid --time {s:?}: use now, now+2h, now-90m, @UNIX_SECONDS, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS")
        };
        let t = s.trim();
        if let Some(rest) = t.strip_prefix("now") {
            if rest.is_empty() {
                return Ok(TimeSpec::Now(0));
            }
            let (sign, num) = match rest.as_bytes()[0] {
                b'+' => (1, &rest[1..]),
                b'-' => (-1, &rest[1..]),
                _ => return Err(bad()),
            };
            let (digits, unit) = match num.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
                Some((i, _)) => num.split_at(i),
                None => (num, "s"),
            };
            let mult = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return Err(bad()),
            };
            let n: i64 = digits.parse().map_err(|_| bad())?;
            let secs = n.checked_mul(mult).filter(|v| *v <= 100 * 365 * 86_400).ok_or_else(bad)?;
            return Ok(TimeSpec::Now(sign * secs));
        }
        if let Some(unix) = t.strip_prefix('@') {
            let secs: i64 = unix.parse().map_err(|_| bad())?;
            return Ok(TimeSpec::At(FileTime::from_unix(secs)));
        }
        let t = t.strip_suffix('Z').unwrap_or(t);
        let (date, time) = match t.split_once(['T', ' ']) {
            Some((d, tm)) => (d, Some(tm)),
            None => (t, None),
        };
        let date = Date::parse_iso(date).ok_or_else(bad)?;
        let mut secs = date.to_unix();
        if let Some(tm) = time {
            let f: Vec<&str> = tm.split(':').collect();
            let num = |i: usize, max: i64| -> anyhow::Result<i64> {
                let v: i64 = f.get(i).filter(|x| x.len() == 2).ok_or_else(bad)?.parse().map_err(|_| bad())?;
                if v > max { Err(bad()) } else { Ok(v) }
            };
            if f.len() < 2 || f.len() > 3 {
                return Err(bad());
            }
            secs += num(0, 23)? * 3600 + num(1, 59)? * 60 + if f.len() == 3 { num(2, 59)? } else { 0 };
        }
        Ok(TimeSpec::At(FileTime::from_unix(secs)))
    }

    pub fn resolve(self, now: FileTime) -> FileTime {
        match self {
            TimeSpec::Now(off) => now.add_secs(off),
            TimeSpec::At(t) => t,
        }
    }
}

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
        csvlk: catalog::EPID_SLOTS.iter().find(|s| s.group_id == p.group_id).map(|s| s.csvlk_name.to_string()),
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

fn request_report(index: u32, req: &RequestRepr, syntax: &str) -> RequestReport {
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

fn fill_reply(r: &mut RequestReport, reply: &Reply, latency: Duration) {
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

/// Runs the whole conversation; the report records how far it got.
pub async fn execute(plan: &Plan, text: bool) -> Report {
    let sku = plan.sku;
    let kms = sku.kms_id();
    let mut report = Report {
        target: plan.target.to_string(),
        address: None,
        product: ProductRef {
            name: sku.name.to_string(),
            sku: sku.id.to_string(),
            application: catalog::application_by_key(sku.app).name.to_string(),
            kms_id: sku.kms.to_string(),
            kms_name: kms.map_or("Unknown", |k| k.name).to_string(),
        },
        rpc: None,
        requests: Vec::new(),
        activated: 0,
        ok: false,
        error: None,
    };
    let target = &plan.target;
    let addrs = match target.resolve().await {
        Ok(a) => a,
        Err(e) => {
            report.error = Some(format!("{target}: {e}"));
            return report;
        }
    };
    if text {
        std::print!("Connecting to {target} ... ");
    }
    let mut conn = match KmsConnection::connect(&addrs, &plan.client).await {
        Ok(c) => c,
        Err(e) => {
            if text {
                std::println!("failed");
            }
            report.error = Some(format!("{target}: {e}"));
            return report;
        }
    };
    report.address = conn.peer_addr().ok().map(|a| a.to_string());
    let o = &plan.client.rpc;
    let rpc = RpcReport {
        offered_ndr64: o.offer_ndr64,
        btfn: o.btfn,
        multiplex: o.multiplex,
        alter_context: conn.used_alter_context(),
        syntax: conn.syntax().name().to_string(),
    };
    if text {
        std::println!("connected");
        std::println!("{}", render_rpc(&rpc));
    }
    report.rpc = Some(rpc);
    if o.use_ndr64 && conn.syntax() != crate::wire::Syntax::Ndr64 {
        report.error = Some(format!("{target}: the host did not accept NDR64 (requested with --ndr64)"));
        return report;
    }
    let n = plan.requests;
    for i in 1..=n {
        let req = plan.request();
        let sealed = SealedRequest::with_random_iv(&req);
        let mut r = request_report(i, &req, conn.syntax().name());
        let start = Instant::now();
        let outcome = conn.activate_sealed(&sealed).await;
        match &outcome {
            Ok(reply) => fill_reply(&mut r, reply, start.elapsed()),
            Err(e) => r.error = Some(e.to_string()),
        }
        if r.ok {
            report.activated += 1;
        }
        if text {
            std::print!("{}", render_request(&r, n, plan.sku));
        }
        report.requests.push(r);
        if let Err(e) = outcome {
            report.error = Some(format!("{target}: request {i} of {n}: {e}"));
            return report;
        }
    }
    let failed: Vec<&RequestReport> = report.requests.iter().filter(|r| !r.ok).collect();
    match failed.first() {
        None => {
            report.ok = true;
            if text {
                std::println!("{} of {n} activation{} succeeded.", n, if n == 1 { "" } else { "s" });
            }
        }
        Some(first) => {
            let why = first.error.as_deref().unwrap_or("failed");
            report.error = Some(if n == 1 {
                format!("{target}: {why}")
            } else {
                format!("{target}: {} of {n} activations failed; request {}: {why}", failed.len(), first.index)
            });
        }
    }
    report
}

fn render_rpc(r: &RpcReport) -> String {
    let mut offered = String::from("NDR32");
    if r.offered_ndr64 {
        offered.push_str(", NDR64");
    }
    if r.btfn {
        offered.push_str(", BTFN");
    }
    format!(
        "RPC bind: offered {offered}{}; requests use {}{}",
        if r.multiplex { " (multiplex)" } else { "" },
        r.syntax,
        if r.alter_context { " after alter_context" } else { "" }
    )
}

fn ok(b: bool) -> &'static str {
    if b { "ok" } else { "FAILED" }
}

/// The request and its response in the layout of `vlmcs -v`, plus the
/// ePID's parts and the result of every check.
fn render_request(r: &RequestReport, n: u32, sku: &Sku) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: &dyn core::fmt::Display| {
        let _ = writeln!(s, "{k:<32}: {v}");
    };
    let app = catalog::application_by_key(sku.app).name;
    let kms = sku.kms_id().map_or("Unknown", |k| k.name);
    let head = format!("Request {} of {n}", r.index);
    let mut out = format!("\n{head}\n{}\n\n", "=".repeat(head.len()));
    line("Protocol version", &r.protocol);
    line("Client is a virtual machine", &if r.vm { "Yes" } else { "No" });
    line("Licensing status", &format!("{} ({})", r.license_status, license_status_name(r.license_status)));
    line("Remaining time (0 = forever)", &format!("{} minutes", r.binding_expiration));
    line("Application ID", &format!("{} ({app})", catalog::application_by_key(sku.app).id));
    line("SKU ID (aka Activation ID)", &format!("{} ({})", sku.id, sku.name));
    line("KMS ID (aka KMS counted ID)", &format!("{} ({kms})", sku.kms));
    line("Client machine ID", &r.cmid);
    line("Previous client machine ID", &r.previous_cmid);
    line("Client request timestamp (UTC)", &r.request_time);
    line("Workstation name", &r.workstation);
    line("N count policy (minimum clients)", &r.n_policy);
    out.push_str(&s);
    s.clear();

    let head = match r.call_id {
        Some(c) => format!("Response {} of {n} (call id {c}, {})", r.index, r.syntax),
        None => format!("Response {} of {n}", r.index),
    };
    let _ = write!(out, "\n{head}\n{}\n\n", "=".repeat(head.len()));
    let mut line = |k: &str, v: &dyn core::fmt::Display| {
        let _ = writeln!(s, "{k:<32}: {v}");
    };
    if let Some(size) = r.response_size {
        line("Size of KMS response", &format!("{size} (0x{size:X})"));
    }
    if let Some(v) = &r.response_protocol {
        line("Protocol version", v);
    }
    if let Some(e) = &r.epid {
        line("KMS host extended PID", e);
        if let Some(p) = &r.epid_parts {
            line("  platform id", &format!("{:05}", p.platform_id));
            let csvlk = p.csvlk.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
            line("  group id", &format!("{:05}{csvlk}", p.group_id));
            line("  key id", &format!("{:03}-{:06}", p.key_id / 1_000_000, p.key_id % 1_000_000));
            line("  channel", &format!("{:02}", p.channel));
            line("  LCID", &p.lcid);
            let name = p.host_build_name.as_deref().map(|b| format!(" ({b})")).unwrap_or_default();
            line("  host build", &format!("{}{name}", p.host_build));
            if let Some(d) = &p.activation_date {
                line("  CSVLK activation date", d);
            }
        } else {
            line("  parts", &"not in the canonical form");
        }
    }
    if let Some(h) = &r.hwid {
        line("KMS host Hardware ID", h);
    }
    if let Some(c) = r.count {
        line("KMS host current active clients", &c);
    }
    if let Some(m) = r.renewal_interval {
        line("Renewal interval policy", &format!("{m} min ({})", human_minutes(m)));
    }
    if let Some(m) = r.activation_interval {
        line("Activation interval policy", &format!("{m} min ({})", human_minutes(m)));
    }
    if let Some(c) = &r.checks {
        let mut checks = format!(
            "version echoed {}, CMID echoed {}, time echoed {}",
            ok(c.version_echoed),
            ok(c.cmid_echoed),
            ok(c.time_echoed)
        );
        let mut opt = |name: &str, v: Option<bool>| {
            if let Some(v) = v {
                let _ = write!(checks, ", {name} {}", ok(v));
            }
        };
        opt("MAC", c.mac);
        opt(if r.protocol.starts_with('5') { "IV echoed" } else { "IV random" }, c.iv);
        opt("salt hash", c.salt_hash);
        opt("XoredIVs", c.xored_ivs);
        opt("HMAC", c.hmac);
        if let Some(slot) = c.hmac_time_slot {
            let _ = write!(checks, " (time slot {})", if slot == 0 { "0".to_string() } else { format!("{slot:+}") });
        }
        let _ = write!(checks, ", count >= {} {}", r.n_policy, ok(c.count));
        line("Client checks", &checks);
    }
    match (&r.error, r.ok) {
        (None, true) => line("Result", &format!("activated ({})", r.hresult)),
        (Some(e), _) => line("Result", &format!("FAILED: {e}")),
        (None, false) => line("Result", &"FAILED"),
    }
    if let Some(ms) = r.latency_ms {
        line("Round trip", &format!("{ms:.3} ms"));
    }
    out.push_str(&s);
    out
}

fn human_minutes(m: u32) -> String {
    match m {
        m if m % 1440 == 0 => format!("{} d", m / 1440),
        m if m % 60 == 0 => format!("{} h", m / 60),
        m => format!("{m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_specs() {
        let now = FileTime::from_unix(1_700_000_000);
        let at = |s: &str| TimeSpec::parse(s).unwrap().resolve(now).to_unix();
        assert_eq!(at("now"), 1_700_000_000);
        assert_eq!(at("now+2h"), 1_700_007_200);
        assert_eq!(at("now-90m"), 1_699_994_600);
        assert_eq!(at("now-30"), 1_699_999_970);
        assert_eq!(at("@86400"), 86_400);
        assert_eq!(at("1970-01-02"), 86_400);
        assert_eq!(at("1970-01-02T01:02:03Z"), 86_400 + 3723);
        assert_eq!(at("1970-01-02 01:02"), 86_400 + 3720);
        for bad in ["later", "now+", "now+5y", "now*3", "2024-13-01", "2024-01-01T25:00", "@x", "2024-01-01T1:2:3"] {
            let e = TimeSpec::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid --time"), "{bad}: {e}");
        }
    }

    #[test]
    fn random_cmids_are_version_4() {
        let plan = Plan::from_args(&Args {
            target: "127.0.0.1".into(),
            product: Some("Windows 10/11 Pro".into()),
            sku: None,
            protocol: None,
            rpc: RpcFlags::default(),
            requests: 1,
            cmid: None,
            previous_cmid: None,
            workstation: None,
            time: None,
            n_policy: None,
            vm: false,
            timeout: 10.0,
            json: false,
        })
        .unwrap();
        let (a, b) = (plan.request(), plan.request());
        assert_ne!(a.cmid, b.cmid);
        let s = a.cmid.to_string();
        assert_eq!(&s[14..15], "4", "{s}");
        assert!("89ab".contains(&s[19..20]), "{s}");
        assert_eq!(a.version, Version::V6);
        assert_eq!(a.n_policy, 25);
    }
}
