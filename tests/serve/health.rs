//! The deep health check: `/healthz?deep=1` and `kmsedge activate --check`
//! each make a real activation of the reserved health-check client, which
//! the host answers but never counts, lists or records as an event; a
//! failure is one line naming the step.
use crate::client::{Client, random_cmid, request, sku};
use crate::support::bin::{one_line_error, run, stderr, stdout};
use crate::support::serve::{Serve, get, get_json};
use kmsedge::kms::Version;

#[test]
fn deep_checks_activate_without_counting_listing_or_events() {
    let host = Serve::start_temp(&["--count-policy", "genuine"]);
    let win = sku("Windows 10/11 Enterprise");
    let mut c = Client::ndr64(host.kms).unwrap();
    assert_eq!(c.request(&request(win, Version::V6, random_cmid(), "REAL-1")).unwrap().count(), 1);

    for _ in 0..3 {
        let (code, body) = get(&host.url("/healthz?deep=1"), None);
        assert_eq!(code, 200, "{body}");
        assert!(body.starts_with("ok: activated Windows 10/11 Enterprise (ePID 03612-"), "{body}");
        assert!(body.trim_end().ends_with("registry applied"), "{body}");
        let target = host.kms.to_string();
        let o = run(&["activate", "--check", &target]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        assert_eq!(out.lines().count(), 1, "one line: {out}");
        assert!(out.starts_with(&format!("ok: {target} activated Windows 10/11 Enterprise (ePID 03612-")), "{out}");
    }
    // Six health checks later, the next real machine is the second one.
    assert_eq!(c.request(&request(win, Version::V6, random_cmid(), "REAL-2")).unwrap().count(), 2);

    let clients = get_json(&host.url("/api/clients"), None);
    assert_eq!(clients["total"], 2, "{clients}");
    let events = get_json(&host.url("/api/events"), None);
    assert_eq!(events["total"], 2, "{events}");
    assert!(!events.to_string().contains("kmsedge-health-check"), "{events}");
    let status = get_json(&host.url("/api/status"), None);
    assert_eq!(status["counters"]["total"], 2, "{status}");
    // The plain check stays shallow; a bad value is refused.
    assert_eq!(get(&host.url("/healthz"), None), (200, "ok\n".to_string()));
    let (code, body) = get(&host.url("/healthz?deep=yes"), None);
    assert_eq!(code, 400, "{body}");
}

#[test]
fn failed_checks_say_what_failed() {
    // A host serving Office only refuses the health check's Windows product.
    let office = sku("Office LTSC Professional Plus 2021").kms.to_string();
    let host = Serve::start_temp(&["--kms-id", &office]);
    let (code, body) = get(&host.url("/healthz?deep=1"), None);
    assert_eq!(code, 503, "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.contains("refused the health-check activation: 0xC004F042"), "{body}");
    let target = host.kms.to_string();
    let e = one_line_error(&["activate", "--check", &target]);
    assert!(e.starts_with(&format!("kmsedge: health check failed: {target}: activation refused: 0xC004F042")), "{e}");
    // …but activates the product it does serve.
    let o = run(&["activate", "--check", &target, "--product", "Office LTSC Professional Plus 2021"]);
    assert!(o.status.success(), "{}", stderr(&o));
    drop(host);

    // Nothing listening.
    let e = one_line_error(&["activate", "--check", &target, "--timeout", "2"]);
    assert!(e.starts_with(&format!("kmsedge: health check failed: {target}: cannot connect")), "{e}");
    // Arguments that a health check fixes itself are refused.
    let o = run(&["activate", "--check", &target, "--cmid", "6b6d7365-6467-0065-6865-616c74680000"]);
    assert_eq!(o.status.code(), Some(2), "clap usage error: {}", stderr(&o));
}
