//! `kmsedge dns check`: KMS host discovery as a Windows client does it —
//! SRV `_vlmcs._tcp.<domain>`, hosts tried lowest priority first and in
//! weighted random order among equals (RFC 2782, [`super::srv`]), each
//! target's A/AAAA resolved through the same DNS server — then one real,
//! fully verified activation against the first host that answers
//! ([`crate::tools::kms_client`]). Exit status 0 only if a host activated.
use std::vec;
use std::prelude::rust_2024::{String, ToString, Vec};
use std::format;
use crate::dns::names::{DomainName, server_addr};
use super::srv::{self, SrvTarget};
use crate::client::RequestBuilder;
use crate::tools::common::{self, now, random_workstation};
use crate::tools::kms_client::{ClientOptions, KmsConnection};
use crate::tools::products;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// Most SRV records tried; a larger RRset is cut (and said so).
pub const MAX_CANDIDATES: usize = 16;
pub const DEFAULT_PRODUCT: &str = "Windows 10/11 Pro";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The clients' DNS domain; `_vlmcs._tcp.<DOMAIN>` is looked up.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: String,
    /// Ask this DNS server, IP[:PORT] (default: the system's resolvers).
    /// Host names in the SRV records are resolved through it too.
    #[arg(long, value_name = "ADDR")]
    pub server: Option<String>,
    /// Product to activate (see `kmsedge products`).
    #[arg(long, short = 'l', value_name = "NAME", default_value = DEFAULT_PRODUCT)]
    pub product: String,
    /// Seconds to wait for each DNS answer, connection and reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub timeout: f64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--json` output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckReport {
    /// `_vlmcs._tcp.<domain>.`
    pub owner: String,
    /// The DNS server asked, or "system".
    pub dns_server: String,
    pub product: String,
    /// The SRV records as the server returned them.
    pub records: Vec<SrvTarget>,
    /// The order a client tries them in (this run's random draw).
    pub order: Vec<SrvTarget>,
    pub attempts: Vec<Attempt>,
    /// The host that activated.
    pub answered_by: Option<Answered>,
    pub ok: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    pub target: String,
    pub port: u16,
    /// What the target resolved to.
    pub addresses: Vec<String>,
    /// The address connected to.
    pub address: Option<String>,
    pub activated: bool,
    pub current_count: Option<u32>,
    pub epid: Option<String>,
    /// Why this host did not do (resolve, connect, refusal, failed check).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Answered {
    pub target: String,
    pub port: u16,
    pub address: String,
}

/// Everything checked before the network is touched.
pub struct Plan {
    pub domain: DomainName,
    pub server: Option<SocketAddr>,
    pub sku: &'static crate::catalog::Sku,
    pub timeout: Duration,
}

impl Plan {
    pub fn from_args(a: &Args) -> anyhow::Result<Plan> {
        let domain = DomainName::parse("--domain", &a.domain).map_err(anyhow::Error::msg)?;
        let server = a.server.as_deref().map(|s| server_addr("--server", s)).transpose().map_err(anyhow::Error::msg)?;
        let sku = products::select(Some(&a.product), None)?;
        let timeout = common::timeout(a.timeout, 300.0)?;
        Ok(Plan { domain, server, sku, timeout })
    }
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let plan = Plan::from_args(&a)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = rt.block_on(execute(&plan));
    if a.json {
        std::println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        std::print!("{}", render(&report));
    }
    match report.error {
        None => Ok(()),
        Some(e) => Err(anyhow::anyhow!(e)),
    }
}

fn resolver(plan: &Plan) -> anyhow::Result<TokioResolver> {
    let mut builder = match plan.server {
        Some(addr) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
            Resolver::builder_with_config(ResolverConfig::from_name_servers(vec![ns]), TokioRuntimeProvider::default())
        }
        None => Resolver::builder_tokio().map_err(|e| anyhow::anyhow!("cannot read the system's DNS configuration: {e}"))?,
    };
    let mut opts: ResolverOpts = builder.options_mut().clone();
    opts.timeout = plan.timeout;
    opts.attempts = 2;
    if plan.server.is_some() {
        // Everything through the server given, as asked; not /etc/hosts.
        opts.use_hosts_file = ResolveHosts::Never;
    }
    builder.with_options(opts).build().map_err(|e| anyhow::anyhow!("cannot start the DNS resolver: {e}"))
}

/// Runs the discovery and the activation; the report says how far it got.
pub async fn execute(plan: &Plan) -> CheckReport {
    let owner = format!("{}.{}", crate::dns::SRV_LABEL, plan.domain.fqdn());
    let mut report = CheckReport {
        owner: owner.clone(),
        dns_server: plan.server.map_or("system".into(), |s| s.to_string()),
        product: plan.sku.name.to_string(),
        records: Vec::new(),
        order: Vec::new(),
        attempts: Vec::new(),
        answered_by: None,
        ok: false,
        error: None,
    };
    let resolver = match resolver(plan) {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let via = format!("from {}", report.dns_server);
    let lookup = match resolver.srv_lookup(owner.as_str()).await {
        Ok(l) => l,
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
            report.error = Some(format!(
                "no SRV record {owner} {via}: publish it (kmsedge serve --dns-publish true) or create it (kmsedge dns record)"
            ));
            return report;
        }
        Err(e) => {
            report.error = Some(format!("SRV lookup of {owner} {via} failed: {e}"));
            return report;
        }
    };
    report.records = lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some(SrvTarget { priority: s.priority, weight: s.weight, port: s.port, target: s.target.to_ascii() }),
            _ => None,
        })
        .collect();
    if report.records.is_empty() {
        report.error = Some(format!("no SRV record {owner} {via}"));
        return report;
    }
    if report.records.len() == 1 && report.records[0].is_service_refusal() {
        report.error = Some(format!("{owner} says there is no KMS service in this domain (SRV target \".\")"));
        return report;
    }
    let usable: Vec<SrvTarget> = report.records.iter().filter(|r| !r.is_service_refusal() && r.port != 0).cloned().collect();
    let mut order = srv::order(&usable, &mut rand::rng());
    order.truncate(MAX_CANDIDATES);
    report.order = order.clone();

    let options = ClientOptions { timeout: plan.timeout, ..ClientOptions::default() };
    for cand in &order {
        let mut at = Attempt {
            target: cand.target.clone(),
            port: cand.port,
            addresses: Vec::new(),
            address: None,
            activated: false,
            current_count: None,
            epid: None,
            error: None,
        };
        let addrs: Vec<SocketAddr> = match resolver.lookup_ip(cand.target.as_str()).await {
            Ok(ips) => ips.iter().map(|ip| SocketAddr::new(ip, cand.port)).collect(),
            Err(e) => {
                at.error = Some(format!("cannot resolve {} {via}: {e}", cand.target));
                report.attempts.push(at);
                continue;
            }
        };
        at.addresses = addrs.iter().map(|a| a.to_string()).collect();
        if addrs.is_empty() {
            at.error = Some(format!("{} has no A/AAAA record {via}", cand.target));
            report.attempts.push(at);
            continue;
        }
        let mut conn = match KmsConnection::connect(&addrs, &options).await {
            Ok(c) => c,
            Err(e) => {
                at.error = Some(e.to_string());
                report.attempts.push(at);
                continue;
            }
        };
        let peer = conn.peer_addr().ok();
        at.address = peer.map(|a| a.to_string());
        let req = RequestBuilder::for_sku(plan.sku)
            .random_cmid(rand::random())
            .time(now())
            .workstation(&random_workstation())
            .build();
        match conn.activate(&req).await {
            Ok(reply) => {
                if let Some(r) = &reply.response {
                    at.current_count = Some(r.repr.current_count);
                    at.epid = Some(r.repr.epid.to_string());
                }
                match reply.verdict {
                    Ok(()) => at.activated = true,
                    Err(e) => at.error = Some(format!("not activated: {e} (HRESULT {})", reply.hresult())),
                }
            }
            Err(e) => at.error = Some(e.to_string()),
        }
        let activated = at.activated;
        report.attempts.push(at);
        if activated {
            report.answered_by = Some(Answered {
                target: cand.target.clone(),
                port: cand.port,
                address: peer.map_or_else(String::new, |a| a.to_string()),
            });
            report.ok = true;
            return report;
        }
    }
    let n = report.attempts.len();
    report.error = Some(match report.attempts.last().and_then(|a| a.error.clone()) {
        Some(last) => format!("none of the {n} KMS host(s) found through {owner} activated; last: {last}"),
        None => format!("none of the {n} KMS host(s) found through {owner} activated"),
    });
    report
}

/// The report for a person.
pub fn render(r: &CheckReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "SRV {} from {}: {} record(s)", r.owner, r.dns_server, r.records.len());
    if !r.order.is_empty() {
        let _ = writeln!(s, "Order to try (lowest priority first, weighted random among equals):");
        for (i, c) in r.order.iter().enumerate() {
            let _ = writeln!(s, "  {}. {}:{}  priority {} weight {}", i + 1, c.target, c.port, c.priority, c.weight);
        }
    }
    for a in &r.attempts {
        let addr = a.address.clone().unwrap_or_else(|| a.addresses.join(", "));
        match (&a.error, a.activated) {
            (None, true) => {
                let _ = writeln!(
                    s,
                    "{}:{} at {addr}: activated {} (count {}, ePID {})",
                    a.target,
                    a.port,
                    r.product,
                    a.current_count.map_or("?".into(), |c| c.to_string()),
                    a.epid.as_deref().unwrap_or("?")
                );
            }
            (e, _) => {
                let _ = writeln!(s, "{}:{} {addr}: failed: {}", a.target, a.port, e.as_deref().unwrap_or("not activated"));
            }
        }
    }
    match &r.answered_by {
        Some(h) => {
            let _ = writeln!(s, "Answered by {} ({})", h.target, h.address);
        }
        None => {
            let _ = writeln!(s, "No KMS host activated.");
        }
    }
    s
}
