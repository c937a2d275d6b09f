//! `kmsedge bench`: a load generator over real sockets.
//!
//! C workers each open a connection, bind, send R activation requests,
//! close, and start over, until TOTAL activations have been attempted or
//! the duration has passed — both are hard limits (the duration also cuts
//! off requests in flight). Every reply gets the full client verification;
//! the requests are sealed before the clock starts and reused from a pool,
//! so the timed path is: format the PDU, write, read, verify, record.
use crate::catalog::Sku;
use crate::client::{ClientError, RequestBuilder};
use crate::kms::Version;
use crate::tools::common::{self, RpcFlags, now, random_workstation};
use crate::tools::kms_client::{self, ClientOptions, KmsConnection, SealedRequest, Target};
use crate::tools::products;
use hdrhistogram::Histogram;
use anyhow::{anyhow, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::format;
use std::net::SocketAddr;
use std::string::{String, ToString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::vec::Vec;
use tokio::time::Instant;

pub const MAX_TOTAL: u64 = 10_000_000;
pub const MAX_CONNECTIONS: u32 = 10_000;
pub const MAX_DURATION_SECS: f64 = 600.0;
pub const DEFAULT_DURATION_SECS: f64 = 60.0;
/// Distinct prepared requests (and so CMIDs) per run.
pub const POOL_SIZE: u64 = 1024;
/// Used when neither `--product` nor `--sku` is given.
pub const DEFAULT_PRODUCT: &str = "Windows 10/11 Enterprise";

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").args(["product", "sku"])))]
pub struct Args {
    /// The KMS host: HOST, HOST:PORT, [IPv6] or [IPv6]:PORT (port 1688 by default).
    #[arg(value_name = "HOST[:PORT]")]
    pub target: String,
    /// Concurrent connections (workers).
    #[arg(short = 'c', long, value_name = "C", default_value_t = 1)]
    pub connections: u32,
    /// Activations to attempt in all (at most 10 000 000).
    #[arg(short = 'n', long, value_name = "TOTAL", default_value_t = 1000)]
    pub total: u64,
    /// Activations per connection before it is closed and reopened.
    #[arg(short = 'r', long, value_name = "R", default_value_t = 1)]
    pub per_connection: u64,
    /// Stop after this many seconds even if TOTAL is not reached (at most 600).
    #[arg(short = 'd', long, value_name = "SECONDS", default_value_t = DEFAULT_DURATION_SECS)]
    pub duration: f64,
    /// KMS protocol version (default: the product's).
    #[arg(long, value_name = "4|5|6", value_parser = clap::value_parser!(u16).range(4..=6))]
    pub protocol: Option<u16>,
    /// Product (exact name or unique search words; default "Windows 10/11 Enterprise").
    #[arg(long, short = 'l', value_name = "NAME")]
    pub product: Option<String>,
    /// Product by SKU id.
    #[arg(long, value_name = "ID")]
    pub sku: Option<String>,
    #[command(flatten)]
    pub rpc: RpcFlags,
    /// Runtime threads for the generator (1 keeps it off the host's cores).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,
    /// Seconds to wait for a connection or a reply before counting a timeout.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write every CMID that got a verified answer, with how many it got
    /// ("CMID COUNT" lines), to audit the host's registry afterwards.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = Plan::from_args(&args)?;
    let rt = if plan.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(plan.threads).enable_all().build()?
    };
    let report = rt.block_on(bench(&plan))?;
    if let Some(path) = &args.answers {
        let mut text = String::with_capacity(report.answered.len() * 40);
        for (cmid, n) in &report.answered {
            text.push_str(&format!("{cmid} {n}\n"));
        }
        std::fs::write(path, text).map_err(|e| anyhow!("--answers {}: {e}", path.display()))?;
    }
    if args.json {
        std::println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        std::print!("{}", render(&report));
    }
    if report.errors > 0 {
        let (kind, n) =
            report.errors_by_kind.iter().max_by_key(|(_, n)| **n).map(|(k, n)| (k.as_str(), *n)).unwrap_or(("?", 0));
        bail!("{} of {} activations failed (most: {n} × {kind})", report.errors, report.attempted);
    }
    Ok(())
}

/// A validated bench run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    pub sku: &'static Sku,
    pub base: RequestBuilder,
    pub connections: u32,
    pub total: u64,
    pub per_connection: u64,
    pub duration: Duration,
    pub threads: usize,
    pub client: ClientOptions,
}

impl Plan {
    pub fn from_args(a: &Args) -> anyhow::Result<Plan> {
        let target = Target::parse(&a.target)?;
        if a.total == 0 || a.total > MAX_TOTAL {
            bail!("-n {} is out of range: give 1 to {MAX_TOTAL} activations", a.total);
        }
        if a.connections == 0 || a.connections > MAX_CONNECTIONS {
            bail!("-c {} is out of range: give 1 to {MAX_CONNECTIONS} connections", a.connections);
        }
        if a.per_connection == 0 || a.per_connection > MAX_TOTAL {
            bail!("--per-connection {} is out of range: give 1 to {MAX_TOTAL}", a.per_connection);
        }
        if !(a.duration > 0.0 && a.duration <= MAX_DURATION_SECS) {
            bail!(
                "--duration {} is out of range: give more than 0 and at most {MAX_DURATION_SECS} seconds",
                a.duration
            );
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if a.threads == 0 || a.threads > cores.max(1) * 4 {
            bail!("--threads {} is out of range: give 1 to {}", a.threads, cores.max(1) * 4);
        }
        let client = common::client_options(&a.rpc, a.timeout)?;
        let sku = match (&a.product, &a.sku) {
            (None, None) => products::resolve(DEFAULT_PRODUCT)?,
            (p, s) => products::select(p.as_deref(), s.as_deref())?,
        };
        let mut base = RequestBuilder::for_sku(sku);
        if let Some(v) = a.protocol {
            base = base.version(Version { major: v, minor: 0 });
        }
        Ok(Plan {
            target,
            sku,
            base,
            connections: a.connections,
            total: a.total,
            per_connection: a.per_connection,
            duration: Duration::from_secs_f64(a.duration),
            threads: a.threads,
            client,
        })
    }
}

/// `--json` output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub target: String,
    pub product: String,
    pub protocol: String,
    /// Transfer syntax the requests used ("NDR32"/"NDR64").
    pub syntax: String,
    pub connections: u32,
    pub per_connection: u64,
    /// `-n`.
    pub requested: u64,
    pub duration_limit_s: f64,
    pub threads: usize,
    /// Activations made before the clock started (to check the target), not counted below.
    pub warmup: u64,
    /// Distinct prepared requests, i.e. distinct CMIDs sent.
    pub distinct_cmids: u64,
    /// Activations with every check passed.
    pub activations: u64,
    pub errors: u64,
    /// Cut off in flight by the duration limit (neither success nor error).
    pub unfinished: u64,
    /// activations + errors.
    pub attempted: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub connections_opened: u64,
    pub elapsed_s: f64,
    /// Successful activations per second.
    pub rate_per_s: f64,
    /// Per activation: request written to reply verified.
    pub latency_ms: Latency,
    /// Per connection: connect, bind and (if needed) alter_context.
    pub setup_ms: Latency,
    /// "count" or "duration".
    pub stopped_by: String,
    /// Verified answers per CMID (for `--answers`).
    #[serde(skip)]
    pub answered: Vec<(crate::Guid, u64)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        let ms = |ns: u64| ns as f64 / 1e6;
        Latency {
            count: h.len(),
            mean: h.mean() / 1e6,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// What workers record; a few shards, so neither memory nor lock traffic
/// grows with the number of connections.
struct Stats {
    activation: Histogram<u64>,
    setup: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
    unfinished: u64,
    connections: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            activation: latency_histogram(),
            setup: latency_histogram(),
            ok: 0,
            errors: BTreeMap::new(),
            unfinished: 0,
            connections: 0,
        }
    }
}

/// Nanoseconds from 1 ns to 10 minutes (longer than any bounded run) with
/// three significant digits.
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("valid histogram bounds")
}

impl Stats {
    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }
    fn merge(&mut self, o: &Stats) {
        self.activation.add(&o.activation).expect("same bounds");
        self.setup.add(&o.setup).expect("same bounds");
        self.ok += o.ok;
        self.unfinished += o.unfinished;
        self.connections += o.connections;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }
}

struct Shared {
    addrs: Vec<SocketAddr>,
    client: ClientOptions,
    pool: Vec<SealedRequest>,
    /// Verified answers per pool entry.
    answered: Vec<AtomicU64>,
    per_connection: u64,
    total: u64,
    claimed: AtomicU64,
    deadline: Instant,
    shards: Vec<Mutex<Stats>>,
}

impl Shared {
    /// Takes one activation from the budget: false once TOTAL is spent or
    /// the deadline has passed.
    fn claim(&self) -> bool {
        Instant::now() < self.deadline && self.claimed.fetch_add(1, Ordering::Relaxed) < self.total
    }
}

/// The error kinds of a reply that arrived but did not activate.
fn reply_error_kind(e: &ClientError) -> String {
    match e {
        ClientError::Refused(hr) => format!("refused {hr}"),
        ClientError::Fault(s) => format!("rpc fault 0x{s:08X}"),
        ClientError::Verify(v) => format!("check failed: {v}"),
        ClientError::Open(o) => format!("bad response: {o}"),
        other => format!("rpc: {other}"),
    }
}

async fn worker(sh: Arc<Shared>, id: usize) {
    let shard = &sh.shards[id % sh.shards.len()];
    // Guards are statement temporaries: never held across an await.
    let stats = || shard.lock().unwrap_or_else(|p| p.into_inner());
    let mut next = (id * 61) % sh.pool.len();
    'connections: while sh.claim() {
        let start = Instant::now();
        let mut conn = match KmsConnection::connect(&sh.addrs, &sh.client).await {
            Ok(c) => c,
            Err(kms_client::Error::Deadline { .. }) => {
                stats().unfinished += 1;
                break;
            }
            Err(e) => {
                // This activation could not even start; it counts as failed.
                stats().error(e.kind().to_string());
                continue;
            }
        };
        let setup = start.elapsed().as_nanos() as u64;
        {
            let mut s = stats();
            s.connections += 1;
            s.setup.saturating_record(setup);
        }
        for k in 0..sh.per_connection {
            if k > 0 && !sh.claim() {
                break 'connections;
            }
            let (req, this) = (&sh.pool[next], next);
            next = if next + 1 == sh.pool.len() { 0 } else { next + 1 };
            let t = Instant::now();
            match conn.activate_sealed(req).await {
                Ok(reply) => match reply.verdict {
                    Ok(()) => {
                        let ns = t.elapsed().as_nanos() as u64;
                        sh.answered[this].fetch_add(1, Ordering::Relaxed);
                        let mut s = stats();
                        s.ok += 1;
                        s.activation.saturating_record(ns);
                    }
                    Err(e) => stats().error(reply_error_kind(&e)),
                },
                Err(kms_client::Error::Deadline { .. }) => {
                    stats().unfinished += 1;
                    break 'connections;
                }
                Err(e) => {
                    stats().error(e.kind().to_string());
                    continue 'connections;
                }
            }
        }
    }
}

/// Runs the benchmark. Fails (before timing anything) when a first
/// activation against the target does not succeed, so a wrong port or a
/// refusing host is one clear error rather than a million counted ones.
pub async fn bench(plan: &Plan) -> anyhow::Result<Report> {
    let target = &plan.target;
    let addrs = target.resolve().await.map_err(|e| anyhow!("{target}: {e}"))?;
    let n_pool = plan.total.min(POOL_SIZE) as usize;
    let time = now();
    let pool: Vec<SealedRequest> = (0..n_pool)
        .map(|_| {
            let req = plan.base.random_cmid(rand::random()).time(time).workstation(&random_workstation()).build();
            SealedRequest::with_random_iv(&req)
        })
        .collect();

    let mut probe = KmsConnection::connect(&addrs, &plan.client).await.map_err(|e| anyhow!("{target}: {e}"))?;
    let syntax = probe.syntax();
    if plan.client.rpc.use_ndr64 && syntax != crate::wire::Syntax::Ndr64 {
        bail!("{target}: the host did not accept NDR64 (requested with --ndr64)");
    }
    let reply = probe.activate_sealed(&pool[0]).await.map_err(|e| anyhow!("{target}: first activation: {e}"))?;
    if let Err(e) = reply.verdict {
        bail!("{target}: first activation failed: {e}");
    }
    drop(probe);

    let start = Instant::now();
    let deadline = start + plan.duration;
    let shards = plan.connections.min(16).max(plan.threads as u32 * 2).min(plan.connections) as usize;
    let shared = Arc::new(Shared {
        addrs,
        client: ClientOptions { deadline: Some(deadline), ..plan.client },
        // The warm-up activation was answered too.
        answered: (0..n_pool).map(|i| AtomicU64::new(u64::from(i == 0))).collect(),
        pool,
        per_connection: plan.per_connection,
        total: plan.total,
        claimed: AtomicU64::new(0),
        deadline,
        shards: (0..shards.max(1)).map(|_| Mutex::new(Stats::default())).collect(),
    });
    let handles: Vec<_> = (0..plan.connections as usize).map(|id| tokio::spawn(worker(shared.clone(), id))).collect();
    for h in handles {
        h.await.map_err(|e| anyhow!("bench worker failed: {e}"))?;
    }
    let elapsed = start.elapsed();

    let mut all = Stats::default();
    for s in &shared.shards {
        all.merge(&s.lock().unwrap_or_else(|p| p.into_inner()));
    }
    let errors: u64 = all.errors.values().sum();
    let attempted = all.ok + errors;
    let stopped_by = if attempted + all.unfinished >= plan.total { "count" } else { "duration" };
    Ok(Report {
        target: target.to_string(),
        product: plan.sku.name.to_string(),
        protocol: plan.base.repr.version.to_string(),
        syntax: syntax.name().to_string(),
        connections: plan.connections,
        per_connection: plan.per_connection,
        requested: plan.total,
        duration_limit_s: plan.duration.as_secs_f64(),
        threads: plan.threads,
        warmup: 1,
        distinct_cmids: n_pool as u64,
        activations: all.ok,
        errors,
        unfinished: all.unfinished,
        attempted,
        errors_by_kind: all.errors,
        connections_opened: all.connections,
        elapsed_s: elapsed.as_secs_f64(),
        rate_per_s: if elapsed.is_zero() { 0.0 } else { all.ok as f64 / elapsed.as_secs_f64() },
        latency_ms: Latency::of(&all.activation),
        setup_ms: Latency::of(&all.setup),
        stopped_by: stopped_by.to_string(),
        answered: shared
            .pool
            .iter()
            .zip(&shared.answered)
            .map(|(r, n)| (r.repr.cmid, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect(),
    })
}

fn render(r: &Report) -> String {
    let mut s = String::new();
    let lat = |l: &Latency| {
        format!(
            "p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms  mean {:.3} ms",
            l.p50, l.p90, l.p99, l.max, l.mean
        )
    };
    let _ = writeln!(
        s,
        "kmsedge bench {}: {} (protocol {}, {}), {} connection{} x {} activation{} each, up to {} activations or {} s",
        r.target,
        r.product,
        r.protocol,
        r.syntax,
        r.connections,
        if r.connections == 1 { "" } else { "s" },
        r.per_connection,
        if r.per_connection == 1 { "" } else { "s" },
        r.requested,
        r.duration_limit_s
    );
    let _ = writeln!(
        s,
        "activations  {} ok, {} failed, {} cut off, in {:.3} s: {:.0} activations/s",
        r.activations, r.errors, r.unfinished, r.elapsed_s, r.rate_per_s
    );
    let _ = writeln!(s, "latency      {} (per activation)", lat(&r.latency_ms));
    let _ = writeln!(s, "setup        {} ({} connections: connect + bind)", lat(&r.setup_ms), r.connections_opened);
    if r.errors_by_kind.is_empty() {
        let _ = writeln!(s, "errors       none");
    } else {
        for (i, (k, n)) in r.errors_by_kind.iter().enumerate() {
            let _ = writeln!(s, "{:<12} {n} x {k}", if i == 0 { "errors" } else { "" });
        }
    }
    let _ = writeln!(s, "stopped by   {}", r.stopped_by);
    s
}
