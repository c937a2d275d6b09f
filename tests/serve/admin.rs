//! Runtime administration of the native host with `kmsedge host TARGET
//! VERB` (slmgr's verbs): each verb changes the running host, refuses bad
//! input in one line without changing anything, is an event in the
//! history, and survives a restart of the binary; `sprt` rebinds without
//! dropping a connection already open.
use crate::client::{Client, Outcome, random_cmid, request, sku};
use crate::support::bin::{run, stderr, stdout};
use crate::support::serve::{Serve, get_json};
use kmsedge::api::Settings;
use kmsedge::kms::Version;
use kmsedge::pkey::{ProductKey, encode};
use std::net::{SocketAddr, TcpListener};

const TOKEN: &str = "admin-test-token-0123456789";
const WIN10: &str = "Windows 10/11 Enterprise";

/// `kmsedge host` against `host` → (success, stdout, stderr).
fn verb(host: &Serve, args: &[&str]) -> (bool, String, String) {
    let target = host.http.unwrap().to_string();
    let mut all = vec!["host", target.as_str(), "--token", TOKEN];
    all.extend_from_slice(args);
    let o = run(&all);
    (o.status.success(), stdout(&o), stderr(&o))
}

fn ok(host: &Serve, args: &[&str]) -> String {
    let (good, out, err) = verb(host, args);
    assert!(good, "kmsedge host {args:?} failed: {err}");
    out
}

/// The refusal line; the command must fail with exactly one line.
fn refused(host: &Serve, args: &[&str]) -> String {
    let (good, _, err) = verb(host, args);
    assert!(!good, "kmsedge host {args:?} should be refused");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

fn settings(host: &Serve) -> Settings {
    serde_json::from_value(get_json(&host.url("/api/settings"), Some(TOKEN))).unwrap()
}

fn activate(c: &mut Client) -> (u32, u32, String) {
    match c.request(&request(sku(WIN10), Version::V6, random_cmid(), "ADMIN")).unwrap() {
        Outcome::Granted { activation_interval, renewal_interval, epid, .. } => (activation_interval, renewal_interval, epid),
        other => panic!("not granted: {other:?}"),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn made(group: u32, serial: u32) -> String {
    let k = ProductKey { group, serial, security: 0x0bad_cafe_f00d, upgrade: false, extra: false };
    encode(&k).unwrap().as_str().to_string()
}

fn setting_events(host: &Serve) -> Vec<(String, String)> {
    let page = get_json(&host.url("/api/events?kind=setting"), Some(TOKEN));
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e["message"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn every_verb_changes_the_running_host_and_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--admin-token", TOKEN]);

    // dlv, as slmgr /dlv lays it out.
    let dlv = ok(&host, &["dlv"]);
    for line in [
        "Key Management Service is enabled on this machine",
        &format!("Listening on Port: {}", host.kms.port()),
        "KMS priority: Normal",
        "Activation Interval: 120 minutes",
        "Renewal Interval: 10080 minutes",
        "Total requests received: 0",
    ] {
        assert!(dlv.contains(line), "{line:?} in\n{dlv}");
    }

    // sai / sri: the next answer carries them.
    let mut c = Client::ndr64(host.kms).unwrap();
    assert_eq!(activate(&mut c).0, 120);
    assert!(ok(&host, &["sai", "60"]).contains("60 minutes"));
    assert!(ok(&host, &["sri", "20160"]).contains("20160 minutes"));
    let (ai, ri, _) = activate(&mut c);
    assert_eq!((ai, ri), (60, 20_160));
    // Bad input: one line, nothing changed.
    assert!(refused(&host, &["sai", "14"]).contains("minutes from 15 to 43200"));
    assert!(refused(&host, &["sri", "43201"]).contains("minutes from 15 to 43200"));
    assert!(refused(&host, &["sprt", "0"]).contains("a TCP port from 1 to 65535"));
    assert!(refused(&host, &["ipk", "not-a-key"]).contains("host key"));
    assert!(refused(&host, &["upk"]).contains("no host key is installed"));
    assert!(refused(&host, &["sdns"]).contains("started without DNS publishing configured"));
    assert_eq!(settings(&host).activation_interval, 60);

    // cpri / spri.
    assert!(ok(&host, &["cpri"]).contains("Low"));
    assert_eq!(settings(&host).priority, "low");

    // ipk: the key answers with its group and serial; upk names it.
    let key = made(4573, 1_234_567);
    let last5 = &key[24..];
    assert!(ok(&host, &["ipk", &key]).contains(last5));
    let epid = activate(&mut c).2;
    assert_eq!(epid.split('-').nth(1), Some("04573"), "{epid}");
    assert!(refused(&host, &["upk", "ZZZZZ"]).contains("no installed host key ends in ZZZZZ"));
    let s = settings(&host);
    assert_eq!(s.host_keys.len(), 1);
    assert_eq!(s.host_keys[0].partial, last5);
    assert!(ok(&host, &["dlv"]).contains(&format!("Partial Product Key: {last5}")));

    // sprt: the open connection keeps working; new ones go to the new port.
    let port = free_port();
    let old = host.kms;
    assert!(ok(&host, &["sprt", &port.to_string()]).contains(&port.to_string()));
    activate(&mut c);
    let new: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    activate(&mut Client::ndr64(new).unwrap());
    assert!(std::net::TcpStream::connect(old).is_err(), "the old port no longer accepts");
    assert_eq!(settings(&host).port, Some(port));
    let status = get_json(&host.url("/api/status"), Some(TOKEN));
    assert_eq!(status["listen"][0], new.to_string());

    // Each change is an event, the key by its last five characters only.
    let events = setting_events(&host);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    for n in ["activation_interval", "renewal_interval", "priority", "host_keys", "port"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert!(!events.iter().any(|(_, m)| m.contains(&key[..23])), "the key is never shown whole: {events:?}");
    assert!(!host.log_text().contains(&key[..23]));

    // Restart on the same registry: every change is still in effect, over
    // the start-up flags (which say port 0, intervals 120 / 10080).
    drop(c);
    host.stop();
    let host = Serve::start(tmp.path(), &["--admin-token", TOKEN]);
    assert_eq!(host.kms.port(), port, "the stored port is listened on");
    let s = settings(&host);
    assert_eq!((s.activation_interval, s.renewal_interval, s.priority.as_str()), (60, 20_160, "low"));
    assert_eq!(s.host_keys.len(), 1);
    let mut c = Client::ndr64(host.kms).unwrap();
    let (ai, ri, epid2) = activate(&mut c);
    assert_eq!((ai, ri), (60, 20_160));
    assert_eq!(epid2, epid, "the installed key's ePID is kept");
    assert!(s.changed.contains(&"port".to_string()));

    // upk and spri after the restart, persisted too.
    assert!(ok(&host, &["upk", last5]).contains("none (the keys held by default)"));
    ok(&host, &["spri"]);
    let epid3 = activate(&mut c).2;
    assert_ne!(epid3.split('-').nth(1), Some("04573"), "the default key answers again: {epid3}");
    drop(c);
    host.stop();
    let host = Serve::start(tmp.path(), &["--admin-token", TOKEN]);
    let s = settings(&host);
    assert!(s.host_keys.is_empty());
    assert_eq!(s.priority, "normal");
}

#[test]
fn the_admin_api_needs_the_token_and_a_taken_port_changes_nothing() {
    let host = Serve::start_temp(&["--admin-token", TOKEN]);
    let target = host.http.unwrap().to_string();
    let o = run(&["host", &target, "--token", "wrong-token-wrong-token", "sai", "60"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("wrong admin token"), "{}", stderr(&o));
    assert_eq!(settings(&host).activation_interval, 120);

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    assert!(refused(&host, &["sprt", &port]).contains("cannot listen on"));
    assert_eq!(settings(&host).port, Some(host.kms.port()));
    activate(&mut Client::ndr64(host.kms).unwrap());
    assert!(setting_events(&host).is_empty(), "a refused change is no event");
}

#[test]
fn loopback_only_gets_firewall_guidance() {
    let host = Serve::start_temp(&["--allow", "10.1.0.0/16"]);
    let port = host.kms.port();
    let rules: Vec<String> = host.events("firewall rule").iter().map(|e| e["fields"]["rule"].as_str().unwrap().to_owned()).collect();
    assert_eq!(rules.len(), 3, "{rules:?}");
    assert_eq!(rules[0], format!("nft 'add rule inet filter input ip saddr {{ 10.1.0.0/16 }} tcp dport {port} accept'"));
    assert_eq!(rules[1], format!("ufw allow from 10.1.0.0/16 to any port {port} proto tcp"));
    assert!(rules[2].contains("-Profile Domain,Private") && rules[2].contains("-RemoteAddress 10.1.0.0/16"), "{}", rules[2]);
}
