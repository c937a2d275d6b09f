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

/// What tests/edge.rs's settings test changed with slmgr's verbs is still
/// in effect after the restart (over the Worker's `[vars]`): the stored
/// settings, and the intervals the next activation is answered with. Then
/// the defaults are set back for the dashboard test that follows.
#[tokio::test(flavor = "multi_thread")]
async fn settings_changed_at_runtime_survive_a_restart() {
    let edge = Edge::from_env();
    let path = edge.state_dir.join("settings.json");
    let saved: kmsedge::api::Settings = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run tests/edge.rs first)", path.display())),
    )
    .unwrap();
    let mut now: kmsedge::api::Settings = edge.api("/api/settings").await;
    // `changed` lists the settings in the order they were changed while
    // running, and in slmgr's order when read back at start: the same set.
    let mut saved = saved;
    saved.changed.sort();
    now.changed.sort();
    assert_eq!(now, saved, "settings after restart");
    assert_eq!((now.activation_interval, now.renewal_interval, now.priority.as_str(), now.dns_publishing), (60, 20_160, "low", false));

    let tcp = edge.tcp.clone();
    let sku = sku("58e2134f-8e11-4d17-9cb2-91069c151148", "Enterprise"); // Windows 10/11
    let r = tokio::task::spawn_blocking(move || activate(&tcp, &["--sku", &sku])).await.unwrap();
    assert_activated(&r, 1);
    assert_eq!((r.requests[0].activation_interval, r.requests[0].renewal_interval), (Some(60), Some(20_160)));

    for args in [["sai", "120"], ["sri", "10080"]] {
        let o = support::bin::run(&["host", &edge.http, "--token", &edge.admin_token, args[0], args[1]]);
        assert!(o.status.success(), "kmsedge host {args:?}: {}", support::bin::stderr(&o));
    }
    let o = support::bin::run(&["host", &edge.http, "--token", &edge.admin_token, "spri"]);
    assert!(o.status.success(), "kmsedge host spri: {}", support::bin::stderr(&o));
    let s: kmsedge::api::Settings = edge.api("/api/settings").await;
    assert_eq!((s.activation_interval, s.renewal_interval, s.priority.as_str()), (120, 10_080, "normal"));
}
