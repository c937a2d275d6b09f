//! `kmsedge probe` against the Worker under `wrangler dev` (run by
//! scripts/test-edge.sh, which announces the test's connect port as
//! `KMS_PORT`, as a deployment announces the port its branches dial): what a
//! careful observer checks over several connections finds nothing, the same
//! as against `kmsedge serve` (tests/probe.rs). The Worker holds the
//! organisation's own Windows host key here (the `HOST_KEYS` secret, set by
//! the script and named in `KMSEDGE_EDGE_HOST_KEY`): its ePID carries that
//! key's group and serial, and the key is never shown whole.
mod support;

use serde_json::Value;
use support::bin::run;
use support::edge::Edge;

#[test]
fn the_worker_shows_no_finding() {
    let edge = Edge::from_env();
    let out = run(&["probe", "--json", "--timeout", "10", &edge.tcp]);
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}\nstderr: {}", String::from_utf8_lossy(&out.stderr)));
    let found: Vec<String> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| format!("{}: {}", c["check"], c["detail"]))
        .collect();
    assert!(found.is_empty(), "{found:#?}\n{report:#}");
    assert_eq!(out.status.code(), Some(0));
    // Every row was measured against the Worker, not skipped.
    let rows = report["checks"].as_array().unwrap();
    assert!(rows.len() >= 20, "{report:#}");
    let port = edge.tcp.rsplit(':').next().unwrap();
    let secondary = rows.iter().find(|c| c["check"] == "secondary address = port").unwrap();
    assert!(secondary["detail"].as_str().unwrap().contains(port), "{secondary}");
}

/// `GET path` over this phase's HTTPS listener with the admin token, by
/// curl trusting the test CA (KMSEDGE_EDGE_URL, KMSEDGE_EDGE_CA).
fn api_get(edge: &Edge, path: &str) -> String {
    let url = std::env::var("KMSEDGE_EDGE_URL").expect("KMSEDGE_EDGE_URL (https)");
    let ca = std::env::var("KMSEDGE_EDGE_CA").expect("KMSEDGE_EDGE_CA");
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "30", "--cacert", &ca, "-H", &format!("Authorization: Bearer {}", edge.admin_token)])
        .arg(format!("{url}{path}"))
        .output()
        .expect("run curl");
    assert!(out.status.success(), "{path}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_installed_host_key_answers_windows_and_is_never_shown_whole() {
    let edge = Edge::from_env();
    let key = std::env::var("KMSEDGE_EDGE_HOST_KEY").expect("KMSEDGE_EDGE_HOST_KEY (scripts/test-edge.sh sets it)");
    let k = kmsedge::pkey::host_key(&key).expect("the script's key is a CSVLK");
    // A Windows client is answered with it.
    let report = support::edge::activate(&edge.tcp, &["--product", "Windows 10/11 Enterprise"]);
    support::edge::assert_activated(&report, 1);
    let status: kmsedge::api::Status = serde_json::from_str(&api_get(&edge, "/api/status")).unwrap();
    let installed: Vec<_> = status.identity.epids.iter().filter(|e| e.origin.starts_with("installed key")).collect();
    assert_eq!(installed.len(), 1, "{:#?}", status.identity.epids);
    let w = installed[0];
    assert_eq!(w.origin, format!("installed key …{}", &key[key.len() - 5..]));
    let parts = kmsedge::epid::Epid::parse(&w.epid).unwrap().parts().unwrap();
    assert_eq!((parts.group_id, parts.key_id), (k.group(), k.serial()), "{}", w.epid);
    // Never whole in any API answer.
    let compact: String = key.chars().filter(|c| *c != '-').collect();
    for path in ["/api/status", "/api/clients", "/api/events"] {
        let body = api_get(&edge, path);
        assert!(body.len() > 2, "{path}: {body}");
        assert!(!body.contains(&key) && !body.contains(&compact), "{path} shows the whole key");
    }
}
