//! `kmsedge serve` publishing its own SRV record through its `--dns-*`
//! flags, against the BIND 9 that scripts/test-dns.sh starts: published on
//! start (visible to a resolver, `dns check` activates through it), removed
//! on SIGTERM and by `kmsedge host … cdns` (again by `sdns`), nothing sent
//! with publishing off, and a wrong TSIG key
//! logged once with its cause while KMS keeps being served.
mod support;

use support::bin::run;
use support::dns::*;
use support::serve::Serve;
use std::time::Duration;

fn dns_flags<'a>(server: &'a str, zone: &'a str, key: &'a str) -> Vec<&'a str> {
    vec!["--dns-server", server, "--dns-zone", zone, "--dns-host", "kms", "--dns-tsig-key-file", key]
}

const FAILED: &str = "DNS SRV update failed; KMS service continues, retrying with back-off";

#[tokio::test]
async fn serve_publishes_on_start_and_removes_on_sigterm() {
    let z = zone("serve");
    let host = format!("kms.{z}.");
    let server = server().to_string();
    let key = key_file().display().to_string();
    let mut args = dns_flags(&server, &z, &key);
    args.extend(["--dns-publish", "true", "--dns-address", "127.0.0.1", "--dns-ttl", "300"]);
    let serve = Serve::start_temp(&args);
    let ev = serve.wait_event("DNS SRV record published", Duration::from_secs(15));
    let line = format!("_vlmcs._tcp.{z}. 300 IN SRV 0 0 {} {host}", serve.kms.port());
    assert_eq!(ev["fields"]["record"], line);
    // The port defaults to the one serve actually bound.
    assert_eq!(srv(&z).await, vec![(0, 0, serve.kms.port(), host.clone())]);
    assert_eq!(addresses(&host).await, vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
    let st = serve.status();
    assert_eq!(st["dns"]["publishing"], true);
    assert_eq!(st["dns"]["state"], "published");
    assert_eq!(st["dns"]["record"], line);

    let (ok, r, err) = dns_check(&z);
    assert!(ok, "{err}\n{r:#}");
    assert_eq!(r["answered_by"]["target"], host);
    assert_eq!(r["answered_by"]["address"], serve.kms.to_string());

    // slmgr /cdns on the running host: the record is removed and stays
    // removed; /sdns publishes it again (tests/serve/admin.rs has the rest
    // of the verbs).
    let http = serve.http.unwrap().to_string();
    let o = run(&["host", &http, "cdns"]);
    assert!(o.status.success(), "{}", support::bin::stderr(&o));
    assert!(srv(&z).await.is_empty(), "SRV still there after cdns");
    assert_eq!(serve.status()["dns"]["state"], "off");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(srv(&z).await.is_empty(), "re-published while off");
    let o = run(&["host", &http, "sdns"]);
    assert!(o.status.success(), "{}", support::bin::stderr(&o));
    assert!(eventually(Duration::from_secs(15), || async { !srv(&z).await.is_empty() }).await, "not re-published after sdns");

    let (status, log) = serve.stop_with_log();
    assert!(status.success(), "serve exited with {status}:\n{log}");
    assert!(log.contains("DNS SRV record removed"), "{log}");
    assert!(srv(&z).await.is_empty(), "SRV still there after SIGTERM");
    assert!(addresses(&host).await.is_empty());
}

#[tokio::test]
async fn serve_with_publishing_off_sends_nothing() {
    let z = zone("serveoff");
    let before = serial(&z).await;
    let server = server().to_string();
    let key = key_file().display().to_string();
    let mut args = dns_flags(&server, &z, &key);
    args.extend(["--dns-publish", "false"]);
    let serve = Serve::start_temp(&args);
    assert!(activates(serve.kms));
    let st = serve.status();
    assert_eq!(st["dns"]["publishing"], false);
    assert_eq!(st["dns"]["state"], "off");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, log) = serve.stop_with_log();
    assert!(status.success(), "{log}");
    assert!(!log.contains("DNS SRV"), "publishing is off but the log mentions it:\n{log}");
    assert_eq!(serial(&z).await, before, "the zone changed although publishing is off");
    assert!(srv(&z).await.is_empty());
}

#[tokio::test]
async fn serve_with_a_wrong_key_logs_the_cause_once_and_keeps_serving() {
    let z = zone("servebad");
    let before = serial(&z).await;
    let server = server().to_string();
    let key = wrong_key_file().display().to_string();
    let mut args = dns_flags(&server, &z, &key);
    args.extend(["--dns-publish", "true"]);
    let mut serve = Serve::start_temp(&args);
    let ev = serve.wait_event(FAILED, Duration::from_secs(15));
    assert_eq!(ev["level"], "WARN");
    let cause = ev["fields"]["cause"].as_str().unwrap();
    assert!(cause.contains("BADSIG") && cause.contains("kmsedge-test"), "{cause}");
    // Retried with back-off (1 s, 2 s, ...) but logged once.
    let retried = eventually(Duration::from_secs(20), || async {
        serve.status()["dns"]["state"].as_str().unwrap_or("").starts_with("failed (3 attempts)")
    })
    .await;
    assert!(retried, "state: {}", serve.status()["dns"]);
    assert_eq!(serve.events(FAILED).len(), 1, "{}", serve.log_text());
    // KMS is served all along.
    assert!(serve.is_running());
    assert!(activates(serve.kms));
    assert!(activates(serve.kms));
    assert!(srv(&z).await.is_empty());
    assert_eq!(serial(&z).await, before);
    let (status, log) = serve.stop_with_log();
    assert!(status.success(), "{log}");
}

#[test]
fn bad_dns_flags_stop_serve_with_one_line() {
    for (flags, want) in [
        (vec!["--dns-publish", "true"], "DNS publishing is on but no DNS server is set"),
        (vec!["--dns-publish", "maybe"], "--dns-publish: expected true or false"),
        (vec!["--dns-ttl", "3"], "--dns-ttl: expected a whole number from 10"),
        (vec!["--dns-zone", "bad zone"], "--dns-zone"),
        (vec!["--dns-tsig-key-file", "/nonexistent/k.key"], "TSIG key file /nonexistent/k.key"),
    ] {
        let data = tempfile::tempdir().unwrap();
        let d = data.path().display().to_string();
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--http", "off", "--data", &d];
        args.extend(flags.iter().copied());
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{flags:?} was accepted");
        assert!(err.contains(want), "{flags:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{flags:?}: {err}");
    }
}
