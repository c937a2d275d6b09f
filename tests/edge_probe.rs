//! `kmsedge probe` against the Worker under `wrangler dev` (run by
//! scripts/test-edge.sh, which announces the test's connect port as
//! `KMS_PORT`, as a deployment announces the port its branches dial): what a
//! careful observer checks over several connections finds nothing, the same
//! as against `kmsedge serve` (tests/probe.rs).
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
