//! `kmsedge dns record` and the argument checks of `kmsedge dns check`:
//! the real binary, no DNS server needed (the BIND-backed tests are
//! tests/dns.rs and tests/dns_serve.rs, run by scripts/test-dns.sh).
mod support;

use std::time::{Duration, Instant};
use support::bin::run;

fn one_line_error(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "{args:?} succeeded");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    assert!(o.stdout.is_empty() || String::from_utf8_lossy(&o.stdout).trim().starts_with('{'));
    err
}

#[test]
fn record_prints_the_three_forms() {
    let o = run(&["dns", "record", "--domain", "Corp.Example.com", "--host", "kms1"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"_vlmcs._tcp.corp.example.com. 3600 IN SRV 0 0 1688 kms1.corp.example.com."), "{out}");
    assert!(lines.contains(
        &"Add-DnsServerResourceRecord -Srv -ZoneName \"corp.example.com\" -Name \"_vlmcs._tcp\" -DomainName \"kms1.corp.example.com\" -Priority 0 -Weight 0 -Port 1688 -TimeToLive 01:00:00"
    ), "{out}");
    assert!(lines.contains(&"dnscmd /recordadd corp.example.com _vlmcs._tcp 3600 SRV 0 0 1688 kms1.corp.example.com"), "{out}");
    assert!(lines.contains(&"kmsedge dns check --domain corp.example.com"), "{out}");
}

#[test]
fn record_takes_every_field_and_prints_json() {
    let o = run(&[
        "dns", "record", "--domain", "kms.test", "--host", "h.other.test.", "--port", "11688", "--priority", "10", "--weight", "60", "--ttl", "600", "--json",
    ]);
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["zone_line"], "_vlmcs._tcp.kms.test. 600 IN SRV 10 60 11688 h.other.test.");
    assert_eq!(j["dnscmd"], "dnscmd /recordadd kms.test _vlmcs._tcp 600 SRV 10 60 11688 h.other.test");
    assert!(j["powershell"].as_str().unwrap().ends_with("-Priority 10 -Weight 60 -Port 11688 -TimeToLive 00:10:00"));
    assert_eq!(j["owner"], "_vlmcs._tcp.kms.test.");
    assert_eq!(j["target"], "h.other.test.");
}

#[test]
fn bad_names_and_numbers_are_one_line_errors() {
    let e = one_line_error(&["dns", "record", "--domain", "bad domain", "--host", "kms"]);
    assert!(e.starts_with("kmsedge: --domain \"bad domain\" is not a valid DNS name"), "{e}");
    let e = one_line_error(&["dns", "record", "--domain", "example.com", "--host", "192.0.2.7"]);
    assert!(e.contains("--host \"192.0.2.7\" is an address"), "{e}");
    let e = one_line_error(&["dns", "record", "--domain", "example.com", "--host=-kms"]);
    assert!(e.contains("--host"), "{e}");
    let o = run(&["dns", "record", "--domain", "example.com", "--host", "kms", "--port", "0"]);
    assert!(!o.status.success());
    let o = run(&["dns", "record", "--domain", "example.com", "--host", "kms", "--ttl", "0"]);
    assert!(!o.status.success());

    let e = one_line_error(&["dns", "check", "--domain", "exa_mple.com"]);
    assert!(e.starts_with("kmsedge: --domain"), "{e}");
    let e = one_line_error(&["dns", "check", "--domain", "example.com", "--server", "dns.example.com"]);
    assert!(e.starts_with("kmsedge: --server \"dns.example.com\" is not an IP address"), "{e}");
    let e = one_line_error(&["dns", "check", "--domain", "example.com", "--server", "127.0.0.1", "--product", "no such product"]);
    assert!(e.contains("no product matches"), "{e}");
    let e = one_line_error(&["dns", "check", "--domain", "example.com", "--server", "127.0.0.1", "--timeout", "0"]);
    assert!(e.contains("--timeout 0 is out of range"), "{e}");
}

#[test]
fn check_against_a_silent_server_fails_in_bounded_time() {
    // A UDP socket that never answers, on loopback.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let t = Instant::now();
    let o = run(&["dns", "check", "--domain", "kms.test", "--server", &addr, "--timeout", "0.5", "--json"]);
    assert!(!o.status.success());
    assert!(t.elapsed() < Duration::from_secs(15), "took {:?}", t.elapsed());
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["ok"], false);
    assert_eq!(r["dns_server"], addr);
    let e = r["error"].as_str().unwrap();
    assert!(e.starts_with("SRV lookup of _vlmcs._tcp.kms.test. from "), "{e}");
}
