//! SRV publishing into Active Directory DNS with GSS-TSIG (RFC 3645),
//! against the Samba AD domain controller that scripts/test-dns-ad.sh
//! provisions (internal DNS, secure updates only) in a network namespace:
//! `kmsedge serve --dns-keytab` publishes its record as the machine
//! account, refreshes it and removes it on SIGTERM; stale credentials give
//! one clear error while KMS is served; publishing turned off while
//! running removes the record and never brings it back.
//!
//! Every test has its own SRV target in the one zone, so they never see
//! each other's records.
mod support;

use kmsedge::native::dns::{PublishArgs, PublishSettings, Publisher};
use support::ad;
use support::dns::{activates, eventually};
use support::serve::Serve;
use std::time::Duration;

const FAILED: &str = "DNS SRV update failed; KMS service continues, retrying with back-off";

fn target(label: &str) -> String {
    format!("{label}.{}.", ad::zone())
}

fn serve_args<'a>(server: &'a str, zone: &'a str, host: &'a str, keytab: &'a str, principal: &'a str) -> Vec<&'a str> {
    vec![
        "--dns-publish", "true", "--dns-server", server, "--dns-zone", zone, "--dns-host", host,
        "--dns-keytab", keytab, "--dns-principal", principal,
    ]
}

#[tokio::test]
async fn serve_publishes_refreshes_and_removes_its_record_with_gss_tsig() {
    let (server, zone, keytab, principal) = (ad::server().to_string(), ad::zone(), ad::keytab(), ad::principal());
    let mut args = serve_args(&server, &zone, "kmsad1", &keytab, &principal);
    // TTL 10 s: refreshed every 5 s.
    args.extend(["--dns-ttl", "10"]);
    let serve = Serve::start_temp(&args);
    let ev = serve.wait_event("DNS SRV record published", Duration::from_secs(20));
    let line = format!("_vlmcs._tcp.{zone}. 10 IN SRV 0 0 {} {}", serve.kms.port(), target("kmsad1"));
    assert_eq!(ev["fields"]["record"], line);
    let on = &serve.events("DNS SRV publishing on")[0];
    assert_eq!(on["fields"]["signed_with"], format!("GSS-TSIG as {principal}"));
    // Visible to any client of the domain's DNS.
    assert_eq!(ad::srv_of(&target("kmsad1")).await, vec![(0, 0, serve.kms.port())]);
    assert_eq!(serve.status()["dns"]["state"], "published");

    // Refreshed: a whole new GSS-TSIG round every TTL/2, still there.
    serve.wait_event("DNS SRV record refreshed", Duration::from_secs(15));
    assert_eq!(ad::srv_of(&target("kmsad1")).await, vec![(0, 0, serve.kms.port())]);
    assert!(activates(serve.kms));
    assert!(serve.events(FAILED).is_empty(), "{}", serve.log_text());

    let (status, log) = serve.stop_with_log();
    assert!(status.success(), "serve exited with {status}:\n{log}");
    assert!(log.contains("DNS SRV record removed"), "{log}");
    assert!(ad::srv_of(&target("kmsad1")).await.is_empty(), "SRV still there after SIGTERM");
}

#[tokio::test]
async fn stale_credentials_are_one_clear_error_and_kms_keeps_answering() {
    let (server, zone, keytab, principal) = (ad::server().to_string(), ad::zone(), ad::stale_keytab(), ad::stale_principal());
    let args = serve_args(&server, &zone, "kmsad2", &keytab, &principal);
    let serve = Serve::start_temp(&args);
    let ev = serve.wait_event(FAILED, Duration::from_secs(20));
    assert_eq!(ev["level"], "WARN");
    let cause = ev["fields"]["cause"].as_str().unwrap();
    assert!(!cause.contains('\n'), "{cause}");
    assert!(cause.starts_with("GSS-TSIG: cannot get Kerberos credentials"), "{cause}");
    assert!(cause.contains(&principal) && cause.contains(&keytab), "{cause}");
    // Retried with back-off (1 s, 2 s, ...) but logged once.
    let retried = eventually(Duration::from_secs(20), || async {
        serve.status()["dns"]["state"].as_str().unwrap_or("").starts_with("failed (3 attempts)")
    })
    .await;
    assert!(retried, "state: {}", serve.status()["dns"]);
    assert_eq!(serve.events(FAILED).len(), 1, "{}", serve.log_text());
    assert!(activates(serve.kms));
    assert!(ad::srv_of(&target("kmsad2")).await.is_empty());
    let (status, log) = serve.stop_with_log();
    assert!(status.success(), "{log}");
}

/// In-process, as the admin API drives it: the test process got the
/// keytab's environment from the script (serve sets it from its flags).
#[tokio::test]
async fn publishing_turned_off_removes_the_record_and_never_republishes() {
    let a = PublishArgs {
        dns_publish: Some("true".into()),
        dns_server: Some(ad::server().to_string()),
        dns_zone: Some(ad::zone()),
        dns_host: Some("kmsad3".into()),
        dns_ttl: Some("10".into()),
        dns_keytab: Some(ad::keytab().into()),
        dns_principal: Some(ad::principal()),
        ..PublishArgs::default()
    };
    let s = PublishSettings::resolve(&a, None, "test").unwrap().expect("publishing on");
    let p = Publisher::start(Some(s), 11688);
    let control = p.control();
    assert!(control.is_publishing());
    let published = eventually(Duration::from_secs(20), || async { p.status().state == "published" }).await;
    assert!(published, "{:?}", p.status());
    assert_eq!(ad::srv_of(&target("kmsad3")).await, vec![(0, 0, 11688)]);

    assert!(control.set_publishing(false));
    let off = eventually(Duration::from_secs(20), || async { p.status().state.starts_with("off") }).await;
    assert!(off, "{:?}", p.status());
    assert!(!p.status().publishing && !control.is_publishing());
    assert!(ad::srv_of(&target("kmsad3")).await.is_empty(), "record still there after turning publishing off");
    // Longer than a refresh (5 s): nothing comes back.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(ad::srv_of(&target("kmsad3")).await.is_empty(), "record published again while off");
    assert!(p.status().state.starts_with("off"), "{:?}", p.status());

    // Turned on again, it publishes again; a clean stop removes it.
    control.set_publishing(true);
    let back = eventually(Duration::from_secs(20), || async { p.status().state == "published" }).await;
    assert!(back, "{:?}", p.status());
    assert_eq!(ad::srv_of(&target("kmsad3")).await, vec![(0, 0, 11688)]);
    p.shutdown().await;
    assert!(ad::srv_of(&target("kmsad3")).await.is_empty());
}
