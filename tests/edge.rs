//! The edge host end to end, against a live `wrangler dev` (started by
//! scripts/test-edge.sh, which passes its addresses in KMSEDGE_EDGE_*):
//! activations through the `connect()` TCP port and through the tunnel via
//! `kmsedge bridge`, credentials, the shared count, malformed input on both
//! paths, and the admin API. `tests/edge_restart.rs` continues after a
//! restart of `wrangler dev`.
mod support;

use kmsedge::api::{Activity, ClientPage};
use serde_json::json;
use std::time::Duration;
use support::bin::command;
use support::edge::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const WIN7: &str = "7fde5219-fbfa-484a-82c9-34d1ad53e856";
const WIN8: &str = "3c40b358-5948-45af-923b-53d21fcc7e79";
const WIN10: &str = "58e2134f-8e11-4d17-9cb2-91069c151148";
const OFFICE2010: &str = "e85af946-2e25-47b7-83e1-bebcebeac611";
const OFFICE2013: &str = "e6a6f1bf-9d40-40c3-aa9f-c77ba21578c0";
const OFFICE2021: &str = "86d50b16-4808-41af-b83b-b338274318b2";
/// Used by the count test alone (and by edge_restart.rs after it), so its
/// numbers move only when that test moves them.
pub const COUNTED: &str = "b74263e4-0f92-46c6-bcf8-c11d5efe2959"; // Windows Server 2022

fn branch(edge: &Edge, i: usize) -> (String, String) {
    edge.branches[i].clone()
}

/// Every protocol version and both transfer syntaxes through the connect
/// port, with the host identity the registry shows.
#[tokio::test(flavor = "multi_thread")]
async fn connect_port_activates_v4_v5_v6_on_ndr32_and_ndr64() {
    let edge = Edge::from_env();
    let cases = [
        (WIN7, "Professional", "4", false),
        (WIN7, "Enterprise", "4", true),
        (OFFICE2010, "Professional Plus", "4", false),
        (WIN8, "Enterprise", "5", false),
        (OFFICE2013, "Professional Plus", "5", true),
        (WIN10, "Enterprise", "6", false),
        (WIN10, "Education", "6", true),
        (OFFICE2021, "Professional Plus", "6", true),
    ];
    for (kms, words, protocol, ndr64) in cases {
        let sku = sku(kms, words);
        let mut args = vec!["--sku", &sku, "--protocol", protocol];
        if ndr64 {
            args.push("--ndr64");
        }
        let r = tokio::task::spawn_blocking({
            let (tcp, args) = (edge.tcp.clone(), args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            move || activate(&tcp, &args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .unwrap();
        assert_activated(&r, 1);
        let req = &r.requests[0];
        assert_eq!(req.response_protocol.as_deref(), Some(&*format!("{protocol}.0")), "{kms} V{protocol}");
        assert_eq!(req.syntax, if ndr64 { "NDR64" } else { "NDR32" }, "{kms} V{protocol}");
        assert_eq!(r.rpc.as_ref().unwrap().syntax, req.syntax);
        assert!(req.count.unwrap() >= req.n_policy, "sufficient count: {req:?}");
        assert_eq!((req.activation_interval, req.renewal_interval), (Some(120), Some(10_080)));
        // The answer carries the identity the registry keeps.
        let status = edge.status().await;
        assert_eq!(req.epid.as_deref(), Some(&*epid_for(&status, &r.product.sku)), "{kms}");
        if protocol == "6" {
            assert_eq!(req.hwid.as_deref(), Some(&*status.identity.hwid));
        }
    }
}

/// vlmcs-style: several requests on one connection, NDR32 and NDR64.
#[tokio::test(flavor = "multi_thread")]
async fn several_requests_on_one_connection() {
    let edge = Edge::from_env();
    let tcp = edge.tcp.clone();
    let sku = sku(WIN10, "Enterprise");
    let (a, b) = tokio::task::spawn_blocking(move || {
        (activate(&tcp, &["--sku", &sku, "-n", "6"]), activate(&tcp, &["--sku", &sku, "-n", "4", "--ndr64", "--protocol", "5"]))
    })
    .await
    .unwrap();
    for (r, n) in [(&a, 6), (&b, 4)] {
        assert_activated(r, n);
        let mut cmids: Vec<_> = r.requests.iter().map(|q| q.cmid.clone()).collect();
        cmids.dedup();
        assert_eq!(cmids.len(), n as usize, "distinct CMIDs, one connection");
        let ids: Vec<u32> = r.requests.iter().map(|q| q.call_id.unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[1] > w[0]), "call ids advance: {ids:?}");
    }
}

/// Both credential forms through `kmsedge bridge`; each client is recorded
/// with the branch it came through.
#[tokio::test(flavor = "multi_thread")]
async fn bridge_carries_activations_with_service_token_or_bearer() {
    let edge = Edge::from_env();
    let (paris, paris_secret) = branch(&edge, 0);
    let (lyon, lyon_secret) = branch(&edge, 1);
    let service = Bridge::start(&edge, &["--token-id", &paris, "--token-secret", &paris_secret], &[]);
    let bearer = Bridge::start(&edge, &["--token", &lyon_secret], &[]);
    for (bridge, who) in [(&service, &paris), (&bearer, &lyon)] {
        let ws = format!("EDGE-{}", &random_guid()[..8]).to_uppercase();
        let addr = bridge.addr.clone();
        let (sku6, sku4) = (sku(WIN10, "Enterprise"), sku(WIN7, "Professional"));
        let ws2 = ws.clone();
        let (r6, r4) = tokio::task::spawn_blocking(move || {
            (
                activate(&addr, &["--sku", &sku6, "-n", "2", "--workstation", &ws2]),
                activate(&addr, &["--sku", &sku4, "--protocol", "4", "--ndr64", "--workstation", &ws2]),
            )
        })
        .await
        .unwrap();
        assert_activated(&r6, 2);
        assert_activated(&r4, 1);
        let page: ClientPage = edge.api(&format!("/api/clients?q={ws}")).await;
        assert_eq!(page.total, 3, "{page:?}");
        assert!(page.clients.iter().all(|c| &c.remote == who && c.workstation == ws), "{page:?}");
    }
}

/// A wrong credential: the bridge refuses to start, saying why; started
/// without the check, it closes each client and logs the same reason.
#[tokio::test(flavor = "multi_thread")]
async fn bridge_with_a_bad_credential_is_refused_with_a_clear_message() {
    let edge = Edge::from_env();
    let (paris, _) = branch(&edge, 0);
    let (_, lyon_secret) = branch(&edge, 1);
    let wrong = "not-the-secret-0123456789";
    for cred in [
        vec!["--token-id", &paris, "--token-secret", wrong],
        vec!["--token-id", &paris, "--token-secret", &lyon_secret],
        vec!["--token", wrong],
    ] {
        let (ok, stderr) = tokio::task::spawn_blocking({
            let (edge, cred) = (edge.clone(), cred.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            move || bridge_must_exit(&edge, &cred.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .unwrap();
        assert!(!ok, "bridge with {cred:?} must fail");
        assert!(stderr.contains("credential refused (HTTP 401"), "{cred:?}: {stderr}");
        assert!(!stderr.contains(wrong), "the secret is not echoed: {stderr}");
    }
    let bridge = Bridge::start(&edge, &["--token", wrong], &["--no-check"]);
    let addr = bridge.addr.clone();
    let sku = sku(WIN10, "Enterprise");
    let r = tokio::task::spawn_blocking(move || activate(&addr, &["--sku", &sku, "--timeout", "5"])).await.unwrap();
    assert!(!r.ok && r.activated == 0, "{r:?}");
    assert!(bridge.wait_for_log("credential refused (HTTP 401", Duration::from_secs(10)), "{}", bridge.stderr());
}

/// 401 before any upgrade for a missing or wrong credential; the headers
/// `cloudflared access tcp --service-token-id/--service-token-secret` sends
/// open the tunnel on "/".
#[tokio::test(flavor = "multi_thread")]
async fn tunnel_answers_401_before_upgrade_unless_the_credential_matches() {
    let edge = Edge::from_env();
    let (paris, paris_secret) = branch(&edge, 0);
    let (_, lyon_secret) = branch(&edge, 1);
    let bearer_wrong = "Bearer wrong-secret-0123456789";
    for headers in [
        vec![],
        vec![("Cf-Access-Client-Id", paris.as_str()), ("Cf-Access-Client-Secret", "wrong-secret-0123456789")],
        vec![("Cf-Access-Client-Id", paris.as_str()), ("Cf-Access-Client-Secret", lyon_secret.as_str())],
        vec![("Cf-Access-Client-Id", "nobody"), ("Cf-Access-Client-Secret", paris_secret.as_str())],
        vec![("Authorization", bearer_wrong)],
        vec![("Authorization", "Basic cGFyaXM6c2VjcmV0")],
    ] {
        assert_eq!(ws_connect(&edge, &headers).await.err(), Some(401), "{headers:?}");
    }
    let plain = edge.get("/", None).await;
    assert_ne!(plain.status, 101);
    // A cloudflared-style upgrade works, and the stream answers a bind.
    let mut ws = ws_connect(&edge, &[("Cf-Access-Client-Id", &paris), ("Cf-Access-Client-Secret", &paris_secret)])
        .await
        .expect("upgrade with a service token");
    let mut session = kmsedge::client::Session::new(kmsedge::client::Options::default(), 2);
    let mut out = [0u8; 512];
    let n = session.bind(&mut out);
    ws_send(&mut ws, Message::Binary(out[..n].to_vec().into())).await;
    let mut reply = Vec::new();
    while kmsedge::wire::rpc::peek_frag_len(&reply).is_none_or(|l| reply.len() < l) {
        match tokio::time::timeout(Duration::from_secs(10), futures_util::StreamExt::next(&mut ws)).await.unwrap() {
            Some(Ok(Message::Binary(b))) => reply.extend_from_slice(&b),
            other => panic!("no bind_ack: {other:?}"),
        }
    }
    session.on_bind_ack(&reply).expect("bind_ack through the tunnel");
    ws_send(&mut ws, Message::Close(None)).await;
}

/// Distinct CMIDs from both entry paths add to one count; a repeated CMID
/// does not. Leaves what it saw for tests/edge_restart.rs.
#[tokio::test(flavor = "multi_thread")]
async fn count_grows_with_distinct_cmids_from_both_paths_together() {
    let edge = Edge::from_env();
    let (paris, paris_secret) = branch(&edge, 0);
    let before = counts_of(&edge.status().await, COUNTED);
    let bridge = Bridge::start(&edge, &["--token-id", &paris, "--token-secret", &paris_secret], &[]);
    let sku = sku(COUNTED, "Datacenter");
    let cmids: Vec<String> = (0..6).map(|_| random_guid()).collect();
    let plan: Vec<(String, String)> = cmids
        .iter()
        .enumerate()
        .map(|(i, c)| (if i < 3 { edge.tcp.clone() } else { bridge.addr.clone() }, c.clone()))
        // The first CMID again, through the tunnel: no growth.
        .chain([(bridge.addr.clone(), cmids[0].clone())])
        .collect();
    let mut counts = Vec::new();
    for (target, cmid) in plan {
        let sku = sku.clone();
        let r = tokio::task::spawn_blocking(move || activate(&target, &["--sku", &sku, "--cmid", &cmid])).await.unwrap();
        assert_activated(&r, 1);
        counts.push(counts_of(&edge.status().await, COUNTED).0);
    }
    let after = edge.status().await;
    let (genuine, clients) = counts_of(&after, COUNTED);
    assert_eq!(counts, (1..=6).map(|i| before.0 + i).chain([before.0 + 6]).collect::<Vec<_>>());
    assert_eq!((genuine, clients), (before.0 + 6, before.1 + 6));
    let entry = after.counts.iter().find(|c| c.kms_id == COUNTED).unwrap();
    assert!(entry.group_genuine >= genuine && entry.threshold == 5 && entry.reported >= 10, "{entry:?}");
    // Each client is tagged with the path it last came through.
    let page: ClientPage = edge.api(&format!("/api/clients?kms_id={COUNTED}&limit=1000")).await;
    let remote = |c: &str| page.clients.iter().find(|r| r.cmid == c).map(|r| r.remote.clone()).unwrap();
    assert_eq!(remote(&cmids[1]), "tcp");
    assert_eq!(remote(&cmids[4]), paris);
    assert_eq!(remote(&cmids[0]), paris);
    assert_eq!(page.clients.iter().find(|r| r.cmid == cmids[0]).unwrap().requests, 2);
    let saved = json!({
        "kms_id": COUNTED,
        "sku": sku,
        "genuine": genuine,
        "clients": clients,
        "seen_cmid": cmids[2],
        "epids": after.identity.epids,
        "hwid": after.identity.hwid,
    });
    std::fs::write(edge.state_dir.join("phase1.json"), serde_json::to_vec_pretty(&saved).unwrap()).unwrap();
}

/// Garbage, oversized input and early closes through both paths end only
/// that connection: the next client is served.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_input_through_either_path_leaves_the_worker_serving() {
    let edge = Edge::from_env();
    let (paris, paris_secret) = branch(&edge, 0);
    let auth = [("Cf-Access-Client-Id", paris.as_str()), ("Cf-Access-Client-Secret", paris_secret.as_str())];
    // A bind header announcing a 64 KiB fragment: bind_nak, then close.
    let mut huge = kmsedge::client::Session::new(kmsedge::client::Options::default(), 2);
    let mut bind = [0u8; 512];
    let n = huge.bind(&mut bind);
    let mut oversized = bind[..n].to_vec();
    oversized[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
    let garbage: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();

    // TCP: garbage, the oversized header, half a PDU then close, nothing then close.
    let mut s = TcpStream::connect(&edge.tcp).await.unwrap();
    s.write_all(&garbage).await.unwrap();
    let _ = tcp_until_closed(&mut s).await;
    let mut s = TcpStream::connect(&edge.tcp).await.unwrap();
    s.write_all(&oversized).await.unwrap();
    let reply = tcp_until_closed(&mut s).await;
    assert_eq!(reply.get(2), Some(&13), "bind_nak for a frag_length over the limit: {reply:?}");
    let mut s = TcpStream::connect(&edge.tcp).await.unwrap();
    s.write_all(&bind[..n / 2]).await.unwrap();
    s.shutdown().await.unwrap();
    assert!(tcp_until_closed(&mut s).await.is_empty());
    drop(TcpStream::connect(&edge.tcp).await.unwrap());

    // Tunnel: garbage, oversized header, a text message, a message over the
    // frame limit, an immediate close.
    let mut ws = ws_connect(&edge, &auth).await.unwrap();
    ws_send(&mut ws, Message::Binary(garbage.clone().into())).await;
    let (_, end) = ws_until_closed(&mut ws).await;
    assert!(matches!(end, WsEnd::Closed(1000) | WsEnd::Dropped), "{end:?}");
    let mut ws = ws_connect(&edge, &auth).await.unwrap();
    ws_send(&mut ws, Message::Binary(oversized.clone().into())).await;
    let (reply, _) = ws_until_closed(&mut ws).await;
    assert_eq!(reply.get(2), Some(&13), "bind_nak through the tunnel: {reply:?}");
    let mut ws = ws_connect(&edge, &auth).await.unwrap();
    ws_send(&mut ws, Message::Text("hello".into())).await;
    assert_eq!(ws_until_closed(&mut ws).await.1, WsEnd::Closed(1003));
    let mut ws = ws_connect(&edge, &auth).await.unwrap();
    ws_send(&mut ws, Message::Binary(vec![5u8; 100 * 1024].into())).await;
    assert_eq!(ws_until_closed(&mut ws).await.1, WsEnd::Closed(1009));
    let mut ws = ws_connect(&edge, &auth).await.unwrap();
    ws_send(&mut ws, Message::Close(None)).await;

    // Through the bridge: garbage, then a real client on the same bridge.
    let bridge = Bridge::start(&edge, &["--token-id", &paris, "--token-secret", &paris_secret], &[]);
    let mut s = TcpStream::connect(&bridge.addr).await.unwrap();
    s.write_all(&garbage).await.unwrap();
    let _ = tcp_until_closed(&mut s).await;

    let sku = sku(WIN10, "Enterprise");
    let (tcp, via_bridge) = (edge.tcp.clone(), bridge.addr.clone());
    let (a, b) = tokio::task::spawn_blocking(move || (activate(&tcp, &["--sku", &sku]), activate(&via_bridge, &["--sku", &sku])))
        .await
        .unwrap();
    assert_activated(&a, 1);
    assert_activated(&b, 1);
}

/// The admin API: 401 without the token, the shared JSON shapes with it.
#[tokio::test(flavor = "multi_thread")]
async fn api_needs_the_admin_token_and_speaks_the_shared_shapes() {
    let edge = Edge::from_env();
    for path in ["/api/status", "/api/clients", "/api/activity", "/api/nothing"] {
        for token in [None, Some("wrong-admin-token"), Some(edge.branches[0].1.as_str())] {
            let r = edge.get(path, token).await;
            assert_eq!(r.status, 401, "{path} with {token:?}");
            assert!(r.header("WWW-Authenticate").is_some_and(|v| v.starts_with("Bearer")), "{path}");
        }
    }
    let status = edge.status().await;
    assert_eq!(status.runtime, "edge");
    assert_eq!(status.policy.count_mode, "sufficient");
    assert_eq!(status.identity.epids.len(), kmsedge::catalog::HELD_BY_DEFAULT.len());
    assert!(status.identity.epids.iter().all(|e| kmsedge::epid::Epid::parse(&e.epid).unwrap().parts().is_some()));
    assert_eq!(status.identity.hwid.len(), 16);
    let page: ClientPage = edge.api("/api/clients?limit=2&sort=first_seen&order=asc").await;
    assert!(page.clients.len() <= 2 && page.limit == 2);
    let activity: Activity = edge.api("/api/activity").await;
    assert_eq!((activity.hourly.len(), activity.daily.len()), (48, 30));
    assert!(activity.hourly.iter().map(|p| p.ok).sum::<u64>() > 0 || status.counters.total == 0);
    for bad in ["/api/clients?sort=nonsense", "/api/clients?order=sideways", "/api/clients?kms_id=not-a-guid"] {
        assert_eq!(edge.get(bad, Some(&edge.admin_token)).await.status, 400, "{bad}");
    }
}

/// Connections are bounded: a silent one is closed after the idle timeout
/// (TCP and tunnel alike), and one connection carries at most
/// `KMS_MAX_REQUESTS` activations.
#[tokio::test(flavor = "multi_thread")]
async fn worker_closes_idle_and_overlong_connections() {
    let edge = Edge::from_env();
    let (paris, paris_secret) = branch(&edge, 0);
    let idle = Duration::from_secs(edge.idle_secs);
    let started = std::time::Instant::now();
    let mut s = TcpStream::connect(&edge.tcp).await.unwrap();
    assert!(tcp_until_closed(&mut s).await.is_empty());
    let waited = started.elapsed();
    assert!(waited >= idle - Duration::from_millis(200) && waited < idle + Duration::from_secs(5), "TCP idle close after {waited:?}");
    let started = std::time::Instant::now();
    let mut ws = ws_connect(&edge, &[("Cf-Access-Client-Id", &paris), ("Cf-Access-Client-Secret", &paris_secret)]).await.unwrap();
    let (_, end) = ws_until_closed(&mut ws).await;
    let waited = started.elapsed();
    assert_eq!(end, WsEnd::Closed(1000));
    assert!(waited >= idle - Duration::from_millis(200) && waited < idle + Duration::from_secs(5), "tunnel idle close after {waited:?}");

    let (tcp, sku, n) = (edge.tcp.clone(), sku(WIN10, "Enterprise"), edge.max_requests);
    let r = tokio::task::spawn_blocking(move || activate(&tcp, &["--sku", &sku, "-n", &(n + 1).to_string()])).await.unwrap();
    assert!(!r.ok, "request {} on one connection must not be answered", n + 1);
    assert_eq!(r.activated, n, "{:?}", r.error);
    assert!(r.requests[..n as usize].iter().all(|q| q.ok));
}

/// The bridge's own bounds: a tunnel it cannot reach is retried a bounded
/// number of times, with backoff, then the client is closed; a client that
/// goes silent is closed after `--idle-timeout`.
#[tokio::test(flavor = "multi_thread")]
async fn bridge_retries_a_dead_tunnel_boundedly_and_closes_idle_clients() {
    let edge = Edge::from_env();
    let (paris, paris_secret) = branch(&edge, 0);
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut child = command()
        .args(["bridge", "--listen", "127.0.0.1:0", "--url", &format!("ws://{dead}/"), "--token", &paris_secret])
        .args(["--retries", "2", "--connect-timeout", "2"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Unreachable at start is a warning, not an exit: the edge may come back.
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let addr = line.strip_prefix("kmsedge bridge: listening on ").and_then(|r| r.split_whitespace().next()).expect(&line).to_owned();
    let started = std::time::Instant::now();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    assert!(tcp_until_closed(&mut s).await.is_empty());
    let waited = started.elapsed();
    // 250 ms + 500 ms of backoff between three attempts; bounded well below 3 × connect timeout.
    assert!(waited >= Duration::from_millis(700) && waited < Duration::from_secs(6), "gave up after {waited:?}");
    // The bridge says why, after closing the client: read its log until then.
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = std::io::Read::read(&mut pipe, &mut buf) {
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while !stderr.lock().unwrap().contains("tunnel: IO error") && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let stderr = stderr.lock().unwrap().clone();
    assert!(stderr.contains("not reachable now"), "{stderr}");
    assert!(stderr.contains("tunnel: IO error"), "{stderr}");

    let bridge = Bridge::start(&edge, &["--token-id", &paris, "--token-secret", &paris_secret], &["--idle-timeout", "1"]);
    let started = std::time::Instant::now();
    let mut s = TcpStream::connect(&bridge.addr).await.unwrap();
    assert!(tcp_until_closed(&mut s).await.is_empty());
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(edge.idle_secs), "bridge idle close after {waited:?}");
    assert!(bridge.wait_for_log("idle for 1 s", Duration::from_secs(5)), "{}", bridge.stderr());
}

/// Everything that is neither tunnel nor API is the static page, served
/// without any credential.
#[tokio::test(flavor = "multi_thread")]
async fn static_assets_are_served_to_anyone() {
    let edge = Edge::from_env();
    let probe = std::fs::read_to_string(edge.assets_dir.join("kmsedge-edge-probe.txt")).unwrap();
    let r = edge.get("/kmsedge-edge-probe.txt", None).await;
    assert_eq!((r.status, r.body.as_str()), (200, probe.as_str()));
    assert_eq!(edge.get("/no-such-file.txt", None).await.status, 404);
    if let Ok(index) = std::fs::read_to_string(edge.assets_dir.join("index.html")) {
        let r = edge.get("/", None).await;
        assert_eq!(r.status, 200);
        assert!(r.header("Content-Type").is_some_and(|t| t.starts_with("text/html")), "{:?}", r.headers);
        assert_eq!(r.body, index);
    }
}

/// Throughput under `wrangler dev`, with `kmsedge bench`, through each
/// path. Run alone by scripts/test-edge.sh (`--exact perf_…`) so the
/// figures are not shared with other tests.
#[tokio::test(flavor = "multi_thread")]
async fn perf_connect_port_and_tunnel() {
    let edge = Edge::from_env();
    let (paris, paris_secret) = branch(&edge, 0);
    let bridge = Bridge::start(&edge, &["--token-id", &paris, "--token-secret", &paris_secret], &[]);
    let mut lines = Vec::new();
    for (path, target) in [("connect port", edge.tcp.clone()), ("tunnel via kmsedge bridge", bridge.addr.clone())] {
        for (c, r) in [("1", "1"), ("4", "1"), ("4", "50")] {
            let args = ["bench", &target, "-n", "400", "-c", c, "-r", r, "-d", "120", "--json"];
            let out = tokio::task::spawn_blocking({
                let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
                move || command().args(&args).output().unwrap()
            })
            .await
            .unwrap();
            let report: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("bench: {e}: {}", String::from_utf8_lossy(&out.stderr)));
            assert_eq!(report["errors"], 0, "{path}: {report}");
            assert_eq!(report["activations"], 400, "{path}: {report}");
            let line = format!(
                "{path}: {} activations/s (c={c}, {r} per connection; p50 {:.1} ms, p99 {:.1} ms)",
                report["rate_per_s"].as_f64().unwrap().round(),
                report["latency_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
                report["latency_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
            );
            println!("{line}");
            lines.push(line);
        }
    }
    std::fs::write(edge.state_dir.join("perf.txt"), lines.join("\n") + "\n").unwrap();
}

/// `kmsedge host` against this Worker → (success, stdout, stderr).
fn host_verb(edge: &Edge, token: Option<&str>, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["host", edge.http.as_str()];
    if let Some(t) = token {
        all.extend_from_slice(&["--token", t]);
    }
    all.extend_from_slice(args);
    let o = support::bin::run(&all);
    (o.status.success(), support::bin::stdout(&o), support::bin::stderr(&o))
}

fn host_ok(edge: &Edge, args: &[&str]) -> String {
    let (good, out, err) = host_verb(edge, Some(&edge.admin_token), args);
    assert!(good, "kmsedge host {args:?} failed: {err}");
    out
}

/// The refusal line; the command must fail with exactly one line.
fn host_refused(edge: &Edge, token: Option<&str>, args: &[&str]) -> String {
    let (good, _, err) = host_verb(edge, token, args);
    assert!(!good, "kmsedge host {args:?} should be refused");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

/// A valid 2009-format key of this group and serial (as tests/key_cli.rs
/// makes them): a CSVLK no one owns.
fn made_key(group: u32, serial: u32) -> String {
    let k = kmsedge::pkey::ProductKey { group, serial, security: 0x0bad_cafe_f00d, upgrade: false, extra: false };
    kmsedge::pkey::encode(&k).unwrap().as_str().to_string()
}

/// One Windows activation through the connect port → (activation interval,
/// renewal interval, ePID).
async fn windows_answer(edge: &Edge) -> (u32, u32, String) {
    let (tcp, sku) = (edge.tcp.clone(), sku(WIN10, "Enterprise"));
    let r = tokio::task::spawn_blocking(move || activate(&tcp, &["--sku", &sku])).await.unwrap();
    assert_activated(&r, 1);
    let q = &r.requests[0];
    (q.activation_interval.unwrap(), q.renewal_interval.unwrap(), q.epid.clone().unwrap())
}

/// slmgr's verbs against the Worker's Durable Object, through `kmsedge
/// host`: each one changes what the next activation is answered with (or
/// is stored and shown where a Worker has nothing to apply it to), bad
/// input is refused in one line and changes nothing, and the admin token
/// is required. Run alone (`--exact`, after the others): it changes the
/// intervals and the ePID every other test checks. It leaves sai 60, cpri
/// and cdns in place for tests/edge_restart.rs, and saves what it set in
/// settings.json.
#[tokio::test(flavor = "multi_thread")]
async fn settings_verbs_change_the_worker() {
    let edge = Edge::from_env();
    // The token: none or a wrong one is refused and changes nothing.
    assert_eq!(edge.get("/api/settings", None).await.status, 401);
    assert_eq!(edge.get("/api/settings", Some("wrong-token-wrong-token")).await.status, 401);
    host_refused(&edge, None, &["sai", "60"]);
    host_refused(&edge, Some("wrong-token-wrong-token"), &["sai", "60"]);
    let before: kmsedge::api::Settings = edge.api("/api/settings").await;
    assert_eq!((before.activation_interval, before.renewal_interval), (120, 10_080), "{before:?}");
    assert_eq!(before.port, None, "no KMS port of its own");

    // dlv, as slmgr /dlv lays it out, with the edge's notes.
    let dlv = host_ok(&edge, &["dlv"]);
    for line in [
        "Key Management Service is enabled on this machine",
        "KMS priority: Normal",
        "Activation Interval: 120 minutes",
        "Renewal Interval: 10080 minutes",
        "Note (priority): stored and shown only",
        "Total requests received: ",
    ] {
        assert!(dlv.contains(line), "{line:?} in\n{dlv}");
    }

    // sai / sri: the next answer carries them.
    let (ai, ri, default_epid) = windows_answer(&edge).await;
    assert_eq!((ai, ri), (120, 10_080));
    assert!(host_ok(&edge, &["sai", "60"]).contains("60 minutes"));
    assert!(host_ok(&edge, &["sri", "20160"]).contains("20160 minutes"));
    let (ai, ri, epid) = windows_answer(&edge).await;
    assert_eq!((ai, ri), (60, 20_160));
    assert_eq!(epid, default_epid, "the intervals leave the ePID alone");

    // Bad input: one line each, nothing changed.
    assert!(host_refused(&edge, Some(&edge.admin_token), &["sai", "14"]).contains("minutes from 15 to 43200"));
    assert!(host_refused(&edge, Some(&edge.admin_token), &["sri", "43201"]).contains("minutes from 15 to 43200"));
    assert!(host_refused(&edge, Some(&edge.admin_token), &["sprt", "1689"]).contains("no KMS port of its own"));
    assert!(host_refused(&edge, Some(&edge.admin_token), &["ipk", "not-a-key"]).contains("host key"));
    assert!(host_refused(&edge, Some(&edge.admin_token), &["upk"]).contains("no host key is installed"));
    let s: kmsedge::api::Settings = edge.api("/api/settings").await;
    assert_eq!((s.activation_interval, s.renewal_interval, s.port), (60, 20_160, None));
    assert!(s.host_keys.is_empty());

    // cdns / sdns / cpri / spri: stored and shown (a Worker has neither an
    // SRV record nor a process priority, and says so).
    assert!(host_ok(&edge, &["sdns"]).contains("enabled"));
    assert!(edge.api::<kmsedge::api::Settings>("/api/settings").await.dns_publishing);
    assert!(host_ok(&edge, &["cdns"]).contains("disabled"));
    assert!(host_ok(&edge, &["cpri"]).contains("Low"));
    let s: kmsedge::api::Settings = edge.api("/api/settings").await;
    assert!(!s.dns_publishing);
    assert_eq!(s.priority, "low");
    assert!(s.notes["priority"].contains("stored and shown only"), "{:?}", s.notes);
    assert!(host_ok(&edge, &["spri"]).contains("Normal"));
    assert_eq!(edge.api::<kmsedge::api::Settings>("/api/settings").await.priority, "normal");
    assert!(host_ok(&edge, &["cpri"]).contains("Low"));

    // ipk: Windows is answered with the key's group and serial; upk brings
    // the default ePID back.
    let key = made_key(4573, 1_234_567);
    let last5 = &key[24..];
    assert!(host_ok(&edge, &["ipk", &key]).contains(last5));
    let (_, _, epid) = windows_answer(&edge).await;
    assert_eq!(epid.split('-').nth(1), Some("04573"), "{epid}");
    assert_ne!(epid, default_epid);
    let s: kmsedge::api::Settings = edge.api("/api/settings").await;
    assert_eq!(s.host_keys.iter().map(|k| k.partial.as_str()).collect::<Vec<_>>(), [last5]);
    assert!(host_ok(&edge, &["dlv"]).contains(&format!("Partial Product Key: {last5}")));
    assert!(host_refused(&edge, Some(&edge.admin_token), &["upk", "ZZZZZ"]).contains("no installed host key ends in ZZZZZ"));
    assert!(host_ok(&edge, &["upk", last5]).contains("none (the keys held by default)"));
    let (_, _, epid) = windows_answer(&edge).await;
    assert_eq!(epid, default_epid, "the default key answers again");

    // Each change is a setting event; the key by its last five only.
    let events: serde_json::Value = edge.api("/api/events?kind=setting").await;
    let events = events["events"].as_array().unwrap();
    for n in ["activation_interval", "renewal_interval", "dns_publishing", "priority", "host_keys"] {
        assert!(events.iter().any(|e| e["name"] == n), "{n} in {events:?}");
    }
    assert!(!events.iter().any(|e| e["message"].as_str().unwrap_or("").contains(&key[..23])), "{events:?}");

    let s: kmsedge::api::Settings = edge.api("/api/settings").await;
    let mut changed = s.changed.clone();
    changed.sort();
    assert_eq!(changed, ["activation_interval", "dns_publishing", "host_keys", "priority", "renewal_interval"]);
    std::fs::write(edge.state_dir.join("settings.json"), serde_json::to_vec(&s).unwrap()).unwrap();
}
