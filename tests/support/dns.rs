//! Shared by the DNS tests: the BIND server that scripts/test-dns.sh started
//! (found through the environment), direct queries and TSIG-signed updates
//! with hickory (independent of the code under test), and `kmsedge dns
//! check` and `kmsedge activate` as real processes (`kmsedge serve` is
//! [`super::serve::Serve`]).
use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use kmsedge::native::dns::tsig::TsigKey;
use super::bin::run;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const PRODUCT: &str = "Windows 10/11 Pro";

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

/// `kmsedge dns check --json` against the test server → (exit ok, report, stderr).
pub fn dns_check(zone: &str) -> (bool, Value, String) {
    let server = server().to_string();
    let o = run(&["dns", "check", "--domain", zone, "--server", &server, "--product", PRODUCT, "--timeout", "3", "--json"]);
    let report: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("dns check output is not JSON ({e}): {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)));
    (o.status.success(), report, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// One verified activation against `addr` with `kmsedge activate`.
pub fn activates(addr: SocketAddr) -> bool {
    let o = run(&["activate", &addr.to_string(), "--product", PRODUCT, "--json"]);
    let ok = o.status.success();
    if ok {
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["ok"], true);
        assert_eq!(r["activated"], 1);
    }
    ok
}
