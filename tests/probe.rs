//! `kmsedge probe` end to end: against `kmsedge serve` on loopback it must
//! find nothing; against a deliberately misbehaving in-process host
//! (tests/support/fake_host.rs) it must name what gives that host away.
mod support;

use kmsedge::host::CountPolicy;
use serde_json::Value;
use support::bin::run;
use support::fake_host::{Behaviour, HostConfig, TestHost};
use support::serve::Serve;

/// `kmsedge probe --json TARGET` → (exit status, report).
fn probe(target: &str) -> (Option<i32>, Value) {
    let out = run(&["probe", "--json", "--timeout", "5", target]);
    let text = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}\nstderr: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

/// The row named `check`: (ok, detail).
fn row(report: &Value, check: &str) -> (bool, String) {
    let r = report["checks"].as_array().unwrap().iter().find(|c| c["check"] == check);
    let r = r.unwrap_or_else(|| panic!("no check {check:?} in {report:#}"));
    (r["ok"].as_bool().unwrap(), r["detail"].as_str().unwrap().to_string())
}

fn findings(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| format!("{}: {}", c["check"], c["detail"]))
        .collect()
}

#[test]
fn kmsedge_serve_shows_no_finding() {
    let serve = Serve::start_temp(&[]);
    let (code, report) = probe(&serve.kms.to_string());
    // A genuine host's answers: nothing to find.
    let found = findings(&report);
    assert!(found.is_empty(), "{found:?}\n{report:#}");
    assert_eq!(code, Some(0));
    assert_eq!(report["findings"], 0);
    assert!(report["connections"].as_u64().unwrap() <= 12);
    // The rows that need a conversation were really measured.
    assert!(row(&report, "fault on unbound context").1.contains("0x1C010003"));
    assert!(row(&report, "version 6.1 refused").1.contains("8007000D"));
    assert!(row(&report, "secondary address = port").1.contains(&serve.kms.port().to_string()));
}

#[test]
fn an_epid_changing_per_connection_is_a_finding() {
    let host = TestHost::start(HostConfig { behaviour: Behaviour::EpidPerConnection, ..HostConfig::default() });
    let (code, report) = probe(&host.target());
    assert_eq!(code, Some(1), "{report:#}");
    let (ok, detail) = row(&report, "ePID stable");
    assert!(!ok, "{detail}");
    assert!(detail.contains(" / "), "both ePIDs named: {detail}");
    // The same host with one ePID passes that row: the check measures the ePID.
    let steady = TestHost::start(HostConfig::default());
    let (_, report) = probe(&steady.target());
    assert!(row(&report, "ePID stable").0, "{report:#}");
}

#[test]
fn an_echoed_absurd_n_is_a_finding() {
    let host = TestHost::start(HostConfig { behaviour: Behaviour::EchoN, ..HostConfig::default() });
    let (code, report) = probe(&host.target());
    assert_eq!(code, Some(1));
    let (ok, detail) = row(&report, "absurd N not echoed");
    assert!(!ok && detail.contains("N=1000: count 1000"), "{detail}");
    // 25 for a Windows client is within 2N; the row itself still passes.
    assert!(row(&report, "count <= 2N").0, "{report:#}");
    // A host reporting a steady 20 passes the row: the check reads the count.
    let mut cfg = HostConfig::default();
    cfg.policy.count = CountPolicy::Fixed(20);
    let steady = TestHost::start(cfg);
    let (_, report) = probe(&steady.target());
    let (ok, detail) = row(&report, "absurd N not echoed");
    assert!(ok && detail.contains("N=1000: count 20"), "{detail}");
}

#[test]
fn the_fake_hosts_epid_fields_are_read() {
    // The fake host answers every product with a Windows Server 2019 ePID
    // (group 206, key id 556…): an Office or Server 2025 product gets a
    // finding for its group or key id, as an observer would see.
    let host = TestHost::start(HostConfig::default());
    let (_, report) = probe(&host.target());
    let (ok, detail) = row(&report, "ePID key id");
    assert!(!ok && detail.contains("Office"), "{detail}");
    assert!(row(&report, "ePID day of year").0);
    assert!(row(&report, "ePID channel").0);
}

#[test]
fn usage_and_connection_errors_exit_2() {
    for args in [&["probe", "nohost:"][..], &["probe", "--timeout", "0", "127.0.0.1"][..]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = run(&["probe", "--timeout", "2", &free.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}
