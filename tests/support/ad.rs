//! The Samba Active Directory domain controller of scripts/test-dns-ad.sh
//! (found through the environment): its DNS server, the zone, and the
//! keytabs of two machine accounts, one current and one whose password was
//! changed after its keytab was exported (stale credentials). Queries go
//! straight to the DC with hickory, independent of the code under test.
use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use std::net::SocketAddr;
use std::time::Duration;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the AD DNS tests need the Samba DC that scripts/test-dns-ad.sh starts; run that script")
    })
}

/// The DC's DNS server (loopback in the test's network namespace).
pub fn server() -> SocketAddr {
    env("KMSEDGE_TEST_AD_SERVER").parse().expect("KMSEDGE_TEST_AD_SERVER is IP:PORT")
}

/// The AD-integrated zone, e.g. `ad.kms.test` (no final dot).
pub fn zone() -> String {
    env("KMSEDGE_TEST_AD_ZONE")
}

/// The current keytab and principal of the host's machine account.
pub fn keytab() -> String {
    env("KMSEDGE_TEST_AD_KEYTAB")
}

pub fn principal() -> String {
    env("KMSEDGE_TEST_AD_PRINCIPAL")
}

/// A keytab whose account password has changed since it was exported.
pub fn stale_keytab() -> String {
    env("KMSEDGE_TEST_AD_STALE_KEYTAB")
}

pub fn stale_principal() -> String {
    env("KMSEDGE_TEST_AD_STALE_PRINCIPAL")
}

/// The SRV records at `_vlmcs._tcp.<zone>` pointing at `target` (FQDN with
/// the final dot), as (priority, weight, port).
pub async fn srv_of(target: &str) -> Vec<(u16, u16, u16)> {
    let stream = UdpClientStream::builder(server(), TokioRuntimeProvider::default())
        .with_timeout(Some(Duration::from_secs(5)))
        .build();
    let (mut client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
    tokio::spawn(bg);
    let owner = Name::from_ascii(format!("_vlmcs._tcp.{}.", zone())).unwrap();
    let r = client.query(owner, DNSClass::IN, RecordType::SRV).await.expect("SRV query to the DC");
    let code = r.metadata.response_code;
    assert!(matches!(code, ResponseCode::NoError | ResponseCode::NXDomain), "SRV query: {code}");
    let mut v: Vec<_> = r
        .answers
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::SRV(s) if s.target.to_ascii().eq_ignore_ascii_case(target) => Some((s.priority, s.weight, s.port)),
            _ => None,
        })
        .collect();
    v.sort();
    v
}
