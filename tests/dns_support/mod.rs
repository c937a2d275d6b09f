//! Shared by the DNS tests: the BIND server that scripts/test-dns.sh started
//! (found through the environment), direct queries and TSIG-signed updates
//! with hickory (independent of the code under test), and `kmsedge serve`,
//! `kmsedge dns check` and `kmsedge activate` as real processes.
#![allow(dead_code)]
use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use kmsedge::native::dns::tsig::TsigKey;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_kmsedge");
pub const PRODUCT: &str = "Windows 10/11 Pro";
/// Longest a test waits for a process to start or stop, or a record to change.
pub const LIMIT: Duration = Duration::from_secs(30);

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the DNS tests need the BIND 9 server that scripts/test-dns.sh starts; run that script")
    })
}

/// The BIND server: 127.0.0.1 and a high port.
pub fn server() -> SocketAddr {
    let s: SocketAddr = env("KMSEDGE_TEST_DNS_SERVER").parse().expect("KMSEDGE_TEST_DNS_SERVER is IP:PORT");
    assert!(s.ip().is_loopback(), "the test DNS server must be on loopback, got {s}");
    s
}

/// The key the server accepts updates with (BIND format, from tsig-keygen).
pub fn key_file() -> PathBuf {
    PathBuf::from(env("KMSEDGE_TEST_DNS_KEY"))
}

/// Same key name, another secret.
pub fn wrong_key_file() -> PathBuf {
    PathBuf::from(env("KMSEDGE_TEST_DNS_WRONG_KEY"))
}

/// A key name the server does not know.
pub fn unknown_key_file() -> PathBuf {
    PathBuf::from(env("KMSEDGE_TEST_DNS_UNKNOWN_KEY"))
}

/// The zone this test owns, e.g. `publish.kms.test` (no final dot).
pub fn zone(label: &str) -> String {
    format!("{label}.{}", env("KMSEDGE_TEST_DNS_SUFFIX"))
}

fn name(s: &str) -> Name {
    let mut n = Name::from_ascii(if s.ends_with('.') { s.to_string() } else { format!("{s}.") }).unwrap();
    n.set_fqdn(true);
    n
}

fn client(signed_with: Option<&Path>) -> Client<TokioRuntimeProvider> {
    let signer = signed_with.map(|p| TsigKey::load(p, None, None).unwrap().signer().unwrap());
    let stream = UdpClientStream::builder(server(), TokioRuntimeProvider::default())
        .with_timeout(Some(Duration::from_secs(5)))
        .with_signer(signer)
        .build();
    let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
    tokio::spawn(bg);
    client
}

/// An unsigned query straight to BIND → (RCODE, answers).
pub async fn query(owner: &str, rtype: RecordType) -> (ResponseCode, Vec<RData>) {
    let mut c = client(None);
    let r = c.query(name(owner), DNSClass::IN, rtype).await.unwrap_or_else(|e| panic!("query {owner} {rtype}: {e}"));
    (r.metadata.response_code, r.answers.iter().map(|r| r.data.clone()).collect())
}

/// The SRV records of `_vlmcs._tcp.<zone>` as (priority, weight, port, target), sorted.
pub async fn srv(zone: &str) -> Vec<(u16, u16, u16, String)> {
    let (code, answers) = query(&format!("_vlmcs._tcp.{zone}"), RecordType::SRV).await;
    assert!(matches!(code, ResponseCode::NoError | ResponseCode::NXDomain), "SRV query in {zone}: {code}");
    let mut v: Vec<_> = answers
        .into_iter()
        .filter_map(|d| match d {
            RData::SRV(s) => Some((s.priority, s.weight, s.port, s.target.to_ascii())),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// A and AAAA of `host`.
pub async fn addresses(host: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for t in [RecordType::A, RecordType::AAAA] {
        for d in query(host, t).await.1 {
            match d {
                RData::A(a) => out.push(IpAddr::V4(a.0)),
                RData::AAAA(a) => out.push(IpAddr::V6(a.0)),
                _ => {}
            }
        }
    }
    out
}

/// The zone's SOA serial: BIND increments it on every update that changes the zone.
pub async fn serial(zone: &str) -> u32 {
    let (code, answers) = query(zone, RecordType::SOA).await;
    assert_eq!(code, ResponseCode::NoError, "SOA of {zone}: is the zone in scripts/test-dns.sh?");
    match answers.first() {
        Some(RData::SOA(soa)) => soa.serial,
        other => panic!("SOA of {zone}: {other:?}"),
    }
}

/// Adds an SRV record with a signed update, as another host or an admin would.
pub async fn add_srv(zone: &str, priority: u16, weight: u16, port: u16, target: &str) {
    let rec = Record::from_rdata(name(&format!("_vlmcs._tcp.{zone}")), 60, RData::SRV(SRV::new(priority, weight, port, name(target))));
    let r = client(Some(&key_file())).append(rec, name(zone), false).await.expect("signed update");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "adding SRV {target} in {zone}");
}

/// Adds an A record with a signed update.
pub async fn add_a(zone: &str, host: &str, ip: std::net::Ipv4Addr) {
    let rec = Record::from_rdata(name(host), 60, RData::A(A(ip)));
    let r = client(Some(&key_file())).append(rec, name(zone), false).await.expect("signed update");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "adding A {host}");
}

/// Deletes the whole `_vlmcs._tcp` SRV RRset with a signed update.
pub async fn delete_srv(zone: &str) {
    let rec = Record::update0(name(&format!("_vlmcs._tcp.{zone}")), 0, RecordType::SRV).into_record_of_rdata();
    let r = client(Some(&key_file())).delete_rrset(rec, name(zone)).await.expect("signed update");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "deleting SRV in {zone}");
}

/// Polls `f` every 100 ms until it is true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    loop {
        if f().await {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A free TCP port on 127.0.0.1 with nothing listening (bound, then closed).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

// ------------------------------------------------------------ processes

/// `kmsedge serve` on 127.0.0.1 (ephemeral KMS and HTTP ports, its own data
/// directory, JSON logs read from stderr).
pub struct Serve {
    child: Option<Child>,
    pub kms: SocketAddr,
    pub http: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    _data: tempfile::TempDir,
}

impl Serve {
    pub fn start(extra: &[&str]) -> Serve {
        let data = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = [
            "serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-format", "json", "--log-level", "info", "--sync", "normal",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push("--data".into());
        args.push(data.path().display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(BIN)
            .args(&args)
            .env_remove("RUST_LOG")
            .env_remove("KMSEDGE_ADMIN_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kmsedge serve");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut s = Serve { child: Some(child), kms: "0.0.0.0:0".parse().unwrap(), http: "0.0.0.0:0".parse().unwrap(), logs, _data: data };
        let end = Instant::now() + LIMIT;
        loop {
            let kms = s.events("KMS host listening").first().and_then(|e| e["fields"]["addr"].as_str()?.parse().ok());
            let http = s.events("HTTP listening").first().and_then(|e| e["fields"]["addr"].as_str()?.parse().ok());
            if let (Some(k), Some(h)) = (kms, http) {
                s.kms = k;
                s.http = h;
                return s;
            }
            if let Some(st) = s.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("kmsedge serve exited with {st} before listening:\n{}", s.log_text());
            }
            assert!(Instant::now() < end, "kmsedge serve did not start:\n{}", s.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_events(&self) -> Vec<Value> {
        self.logs.lock().unwrap().iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    pub fn events(&self, message: &str) -> Vec<Value> {
        self.log_events().into_iter().filter(|e| e["fields"]["message"] == message).collect()
    }

    /// Waits up to `limit` for a log event with this message.
    pub fn wait_event(&self, message: &str, limit: Duration) -> Value {
        let end = Instant::now() + limit;
        loop {
            if let Some(e) = self.events(message).into_iter().next() {
                return e;
            }
            assert!(Instant::now() < end, "no {message:?} in the log within {limit:?}:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// GET /api/status (loopback needs no token).
    pub fn status(&self) -> Value {
        let url = format!("http://{}/api/status", self.http);
        let mut resp = ureq::get(&url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let body = resp.body_mut().read_to_string().unwrap();
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
    }

    /// SIGTERM (the graceful stop) and wait for the exit.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM failed");
        let end = Instant::now() + LIMIT;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (st, self.log_text());
            }
            if Instant::now() > end {
                let _ = child.kill();
                panic!("kmsedge serve did not exit after SIGTERM:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs the binary to completion (bounded by [`LIMIT`]).
pub fn kmsedge(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kmsedge");
    let end = Instant::now() + LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("kmsedge {args:?} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `kmsedge dns check --json` against the test server → (exit ok, report, stderr).
pub fn dns_check(zone: &str) -> (bool, Value, String) {
    let server = server().to_string();
    let o = kmsedge(&["dns", "check", "--domain", zone, "--server", &server, "--product", PRODUCT, "--timeout", "3", "--json"]);
    let report: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("dns check output is not JSON ({e}): {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)));
    (o.status.success(), report, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// One verified activation against `addr` with `kmsedge activate`.
pub fn activates(addr: SocketAddr) -> bool {
    let o = kmsedge(&["activate", &addr.to_string(), "--product", PRODUCT, "--json"]);
    let ok = o.status.success();
    if ok {
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["ok"], true);
        assert_eq!(r["activated"], 1);
    }
    ok
}
