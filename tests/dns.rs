//! SRV publishing (RFC 2136 with TSIG) and discovery (`kmsedge dns check`)
//! against a real BIND 9, which scripts/test-dns.sh starts on 127.0.0.1 and
//! describes in the environment. Each test owns one zone of that server.
//! The KMS host is the real `kmsedge serve`; the publisher runs in the test
//! process through its public API ([`Publisher`]), exactly as serve drives
//! it, so its log lines and status can be inspected directly.
mod support;

use support::bin::run;
use support::dns::*;
use support::serve::Serve;
use kmsedge::native::dns::config::{PublishArgs, PublishSettings};
use kmsedge::native::dns::Publisher;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn settings(zone: &str, host: &str, key: Option<&Path>, extra: impl FnOnce(&mut PublishArgs)) -> PublishSettings {
    let mut a = PublishArgs {
        dns_publish: Some("true".into()),
        dns_server: Some(server().to_string()),
        dns_zone: Some(zone.into()),
        dns_host: Some(host.into()),
        dns_tsig_key_file: key.map(Path::to_path_buf),
        ..PublishArgs::default()
    };
    extra(&mut a);
    PublishSettings::resolve(&a, None, "test").unwrap().expect("publishing on")
}

async fn wait_state(p: &Publisher, want: &str, limit: Duration) {
    let ok = eventually(limit, || async { p.status().state.starts_with(want) }).await;
    assert!(ok, "publisher state {:?}, expected {want:?} within {limit:?}", p.status().state);
}

/// Log lines of the code under test, as JSON objects (current-thread
/// runtime: the subscriber set for this thread sees the publisher's task).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let me = self.clone();
        let sub = tracing_subscriber::fmt().json().with_max_level(tracing::Level::INFO).with_writer(move || me.clone()).finish();
        tracing::subscriber::set_default(sub)
    }
    fn events(&self, message: &str) -> Vec<serde_json::Value> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["fields"]["message"] == message)
            .collect()
    }
}

const FAILED: &str = "DNS SRV update failed; KMS service continues, retrying with back-off";

#[tokio::test]
async fn published_record_is_visible_check_activates_through_it_and_shutdown_removes_it() {
    let z = zone("publish");
    let host = format!("kms1.{z}");
    let kms = Serve::start_temp(&[]);
    let logs = Captured::default();
    let _g = logs.install();
    let s = settings(&z, "kms1", Some(&key_file()), |a| {
        a.dns_addresses = vec!["127.0.0.1".into()];
        a.dns_ttl = Some("120".into());
    });
    let before = serial(&z).await;
    let p = Publisher::start(Some(s), kms.kms.port());
    wait_state(&p, "published", Duration::from_secs(15)).await;
    let st = p.status();
    assert!(st.publishing);
    let line = format!("_vlmcs._tcp.{z}. 120 IN SRV 0 0 {} {host}.", kms.kms.port());
    assert_eq!(st.record.as_deref(), Some(line.as_str()));
    assert_eq!(logs.events("DNS SRV record published").len(), 1);

    // What any resolver now gets from the server.
    assert_eq!(srv(&z).await, vec![(0, 0, kms.kms.port(), format!("{host}."))]);
    assert_eq!(addresses(&host).await, vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
    assert!(serial(&z).await > before, "the update changed the zone");

    // A client finds the host through the record and activates.
    let (ok, r, err) = dns_check(&z);
    assert!(ok, "dns check failed: {err}\n{r:#}");
    assert_eq!(r["ok"], true);
    assert_eq!(r["answered_by"]["target"], format!("{host}."));
    assert_eq!(r["answered_by"]["address"], kms.kms.to_string());
    assert_eq!(r["order"].as_array().unwrap().len(), 1);
    assert_eq!(r["attempts"][0]["activated"], true);
    assert!(r["attempts"][0]["current_count"].as_u64().unwrap() >= 25, "{r:#}");

    // Clean stop: the record and the address are gone.
    p.shutdown().await;
    assert_eq!(logs.events("DNS SRV record removed").len(), 1);
    assert!(srv(&z).await.is_empty(), "SRV still there after shutdown");
    assert!(addresses(&host).await.is_empty(), "A record still there after shutdown");
    let (ok, r, err) = dns_check(&z);
    assert!(!ok && err.contains("no SRV record"), "{err}\n{r:#}");
    assert!(logs.events(FAILED).is_empty());
}

#[tokio::test]
async fn publishing_off_sends_nothing() {
    let z = zone("off");
    let before = serial(&z).await;
    // Every other setting given, publishing off: no settings come out, so
    // the publisher has nothing to send with.
    let a = PublishArgs {
        dns_publish: Some("false".into()),
        dns_server: Some(server().to_string()),
        dns_zone: Some(z.clone()),
        dns_host: Some("kms1".into()),
        dns_tsig_key_file: Some(key_file()),
        ..PublishArgs::default()
    };
    let resolved = PublishSettings::resolve(&a, None, "test").unwrap();
    assert!(resolved.is_none());
    let p = Publisher::start(resolved, 1688);
    assert_eq!(p.status().state, "off");
    assert!(!p.status().publishing);
    tokio::time::sleep(Duration::from_secs(2)).await;
    p.shutdown().await;
    assert_eq!(serial(&z).await, before, "the zone changed although publishing is off");
    assert!(srv(&z).await.is_empty());
}

#[tokio::test]
async fn a_wrong_key_is_reported_once_with_its_cause_and_retried_while_kms_serves() {
    let z = zone("badkey");
    let kms = Serve::start_temp(&[]);
    let logs = Captured::default();
    let _g = logs.install();
    let before = serial(&z).await;
    let p = Publisher::start(Some(settings(&z, "kms1", Some(&wrong_key_file()), |_| {})), kms.kms.port());
    // Back-off 1 s then 2 s: the third attempt fails about 3 s in.
    wait_state(&p, "failed (3 attempts)", Duration::from_secs(20)).await;
    let state = p.status().state;
    assert!(state.contains("BADSIG") && state.contains("retrying in 4 s"), "{state}");
    let warned = logs.events(FAILED);
    assert_eq!(warned.len(), 1, "one warning for one cause, not one per attempt: {warned:?}");
    assert_eq!(warned[0]["level"], "WARN");
    let cause = warned[0]["fields"]["cause"].as_str().unwrap();
    assert!(cause.contains("rejected the TSIG signature of key kmsedge-test") && cause.contains("BADSIG"), "{cause}");
    assert!(!cause.contains('\n'));
    // KMS service is not affected, and nothing reached the zone.
    assert!(activates(kms.kms));
    assert!(srv(&z).await.is_empty());
    assert_eq!(serial(&z).await, before);
    // Nothing was published, so the stop sends no removal.
    p.shutdown().await;
    assert!(logs.events("DNS SRV record removed").is_empty());
    assert!(logs.events("DNS SRV record not removed").is_empty());
}

#[tokio::test]
async fn unknown_keys_and_unsigned_updates_get_their_own_causes() {
    let z = zone("badkey");
    let p = Publisher::start(Some(settings(&z, "kms2", Some(&unknown_key_file()), |_| {})), 1688);
    wait_state(&p, "failed", Duration::from_secs(15)).await;
    let state = p.status().state;
    assert!(state.contains("does not know the TSIG key kmsedge-unknown") && state.contains("BADKEY"), "{state}");
    p.shutdown().await;

    let p = Publisher::start(Some(settings(&z, "kms3", None, |_| {})), 1688);
    wait_state(&p, "failed", Duration::from_secs(15)).await;
    let state = p.status().state;
    assert!(state.contains("refused the update of zone badkey.kms.test (REFUSED)"), "{state}");
    p.shutdown().await;

    // Nothing listening: a timeout, retried, and the stop still ends.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    let mut s = settings(&z, "kms4", Some(&key_file()), |_| {});
    s.server = dead_addr;
    s.timeout = Duration::from_millis(500);
    let p = Publisher::start(Some(s), 1688);
    wait_state(&p, "failed", Duration::from_secs(15)).await;
    assert!(p.status().state.contains(&format!("no answer from the DNS server {dead_addr}")), "{}", p.status().state);
    let t = std::time::Instant::now();
    p.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(5), "shutdown took {:?}", t.elapsed());
    assert!(srv(&z).await.is_empty());
}

#[tokio::test]
async fn refresh_brings_back_a_record_deleted_elsewhere() {
    let z = zone("refresh");
    let p = Publisher::start(Some(settings(&z, "kms1", Some(&key_file()), |a| a.dns_ttl = Some("10".into()))), 1688);
    wait_state(&p, "published", Duration::from_secs(15)).await;
    assert_eq!(srv(&z).await.len(), 1);
    delete_srv(&z).await;
    assert!(srv(&z).await.is_empty());
    // TTL 10 s: refreshed every 5 s.
    let back = eventually(Duration::from_secs(9), || async { srv(&z).await.len() == 1 }).await;
    assert!(back, "the record was not republished within the refresh interval");
    p.shutdown().await;
    assert!(srv(&z).await.is_empty());
}

#[tokio::test]
async fn stale_records_of_this_host_are_replaced_and_other_hosts_kept() {
    let z = zone("stale");
    let me = format!("kms1.{z}.");
    let other = format!("kms9.{z}.");
    // Left by an earlier run with other settings, and another host's record.
    add_srv(&z, 7, 7, 1111, &me).await;
    add_srv(&z, 0, 50, 1688, &other).await;
    let p = Publisher::start(Some(settings(&z, "kms1", Some(&key_file()), |a| a.dns_weight = Some("20".into()))), 11688);
    wait_state(&p, "published", Duration::from_secs(15)).await;
    assert_eq!(srv(&z).await, vec![(0, 20, 11688, me.clone()), (0, 50, 1688, other.clone())]);
    p.shutdown().await;
    assert_eq!(srv(&z).await, vec![(0, 50, 1688, other)]);
}

#[tokio::test]
async fn check_tries_lowest_priority_first_and_falls_over_like_a_client() {
    let z = zone("failover");
    let kms = Serve::start_temp(&[]);
    let dead = format!("dead.{z}.");
    let live = format!("live.{z}.");
    let closed = closed_port();
    add_a(&z, &dead, "127.0.0.1".parse().unwrap()).await;
    add_a(&z, &live, "127.0.0.1".parse().unwrap()).await;
    // The live host has the higher priority number, so it is tried second.
    add_srv(&z, 10, 0, kms.kms.port(), &live).await;
    add_srv(&z, 0, 0, closed, &dead).await;
    let (ok, r, err) = dns_check(&z);
    assert!(ok, "{err}\n{r:#}");
    let order: Vec<&str> = r["order"].as_array().unwrap().iter().map(|c| c["target"].as_str().unwrap()).collect();
    assert_eq!(order, [dead.as_str(), live.as_str()]);
    assert_eq!(r["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(r["attempts"][0]["activated"], false);
    assert!(r["attempts"][0]["error"].as_str().unwrap().contains(&format!("127.0.0.1:{closed}")), "{r:#}");
    assert_eq!(r["answered_by"]["target"], live);
    assert_eq!(r["answered_by"]["port"], kms.kms.port());
    // Text output names the host that answered.
    let server = server().to_string();
    let o = run(&["dns", "check", "--domain", &z, "--server", &server, "--timeout", "3"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(text.contains(&format!("Answered by {live} (127.0.0.1:{})", kms.kms.port())), "{text}");
    assert!(text.contains(&format!("1. {dead}:{closed}  priority 0 weight 0")), "{text}");
}

#[tokio::test]
async fn check_fails_when_no_host_activates_or_no_record_exists() {
    let z = zone("empty");
    let (ok, r, err) = dns_check(&z);
    assert!(!ok);
    assert_eq!(r["ok"], false);
    assert!(err.starts_with("kmsedge: no SRV record _vlmcs._tcp.empty.kms.test."), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Only a dead host.
    let dead = format!("dead.{z}.");
    add_a(&z, &dead, "127.0.0.1".parse().unwrap()).await;
    add_srv(&z, 0, 0, closed_port(), &dead).await;
    let (ok, r, err) = dns_check(&z);
    assert!(!ok, "{r:#}");
    assert!(r["answered_by"].is_null());
    assert!(err.contains("none of the 1 KMS host(s) found through _vlmcs._tcp.empty.kms.test. activated"), "{err}");
}
