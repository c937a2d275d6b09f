//! After tests/edge.rs and a restart of `wrangler dev` on the same local
//! persistence directory (scripts/test-edge.sh does both): the registry's
//! count and the host identity survived, and counting carries on from them.
mod support;

use support::edge::*;

#[tokio::test(flavor = "multi_thread")]
async fn registry_count_and_identity_survive_a_restart() {
    let edge = Edge::from_env();
    let path = edge.state_dir.join("phase1.json");
    let saved: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run tests/edge.rs first)", path.display())),
    )
    .unwrap();
    let kms_id = saved["kms_id"].as_str().unwrap().to_owned();
    let sku = saved["sku"].as_str().unwrap().to_owned();
    let genuine = saved["genuine"].as_u64().unwrap();
    assert!(genuine >= 6, "phase 1 counted its clients: {saved}");

    let status = edge.status().await;
    assert_eq!(counts_of(&status, &kms_id), (genuine, saved["clients"].as_u64().unwrap()), "count after restart");
    assert_eq!(serde_json::to_value(&status.identity.epids).unwrap(), saved["epids"], "ePIDs after restart");
    assert_eq!(status.identity.hwid, saved["hwid"].as_str().unwrap(), "HwId after restart");

    // A client seen before the restart does not count again; a new one does.
    let seen = saved["seen_cmid"].as_str().unwrap().to_owned();
    let new = random_guid();
    let (tcp, sku2) = (edge.tcp.clone(), sku.clone());
    let r = tokio::task::spawn_blocking(move || activate(&tcp, &["--sku", &sku2, "--cmid", &seen])).await.unwrap();
    assert_activated(&r, 1);
    assert_eq!(r.requests[0].epid.as_deref(), Some(&*epid_for(&status, &r.product.sku)));
    assert_eq!(counts_of(&edge.status().await, &kms_id).0, genuine);
    let (paris, secret) = edge.branches[0].clone();
    let bridge = Bridge::start(&edge, &["--token-id", &paris, "--token-secret", &secret], &[]);
    let addr = bridge.addr.clone();
    let r = tokio::task::spawn_blocking(move || activate(&addr, &["--sku", &sku, "--cmid", &new])).await.unwrap();
    assert_activated(&r, 1);
    assert_eq!(counts_of(&edge.status().await, &kms_id).0, genuine + 1);
}
