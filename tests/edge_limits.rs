//! What one branch may take of the tunnel, against a live `wrangler dev`
//! whose `[vars]` set small caps (scripts/test-edge.sh, its third phase:
//! `KMSEDGE_EDGE_BRANCH_MAX_CONNECTIONS`, `KMSEDGE_EDGE_BRANCH_RATE`).
//! One branch flooding the tunnel — holding connections or sending
//! activations too fast — is refused, and the other branch is served.
mod support;

use std::time::Duration;
use support::edge::*;

const WIN10: &str = "58e2134f-8e11-4d17-9cb2-91069c151148";

fn var(name: &str) -> u32 {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/test-edge.sh")).parse().expect("a number")
}

/// A bind through an open tunnel is answered (the branch is served).
async fn served(ws: &mut Ws) -> bool {
    let mut session = kmsedge::client::Session::new(kmsedge::client::Options::default(), 2);
    let mut out = [0u8; 512];
    let n = session.bind(&mut out);
    ws_send(ws, tokio_tungstenite::tungstenite::Message::Binary(out[..n].to_vec().into())).await;
    let mut reply = Vec::new();
    while kmsedge::wire::rpc::peek_frag_len(&reply).is_none_or(|l| reply.len() < l) {
        match tokio::time::timeout(Duration::from_secs(10), futures_util::StreamExt::next(ws)).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(b)))) => reply.extend_from_slice(&b),
            _ => return false,
        }
    }
    session.on_bind_ack(&reply).is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_branch_flooding_the_tunnel_leaves_the_others_served() {
    let edge = Edge::from_env();
    let max = var("KMSEDGE_EDGE_BRANCH_MAX_CONNECTIONS") as usize;
    let rate = var("KMSEDGE_EDGE_BRANCH_RATE");
    let (paris, paris_secret) = edge.branches[0].clone();
    let (lyon, lyon_secret) = edge.branches[1].clone();
    let ph = [("Cf-Access-Client-Id", paris.as_str()), ("Cf-Access-Client-Secret", paris_secret.as_str())];
    let lh = [("Cf-Access-Client-Id", lyon.as_str()), ("Cf-Access-Client-Secret", lyon_secret.as_str())];

    // Connections: paris holds its most; one more is refused before any
    // upgrade, with 429; lyon still gets in and is answered.
    let mut held = Vec::new();
    for i in 0..max {
        let mut ws = ws_connect(&edge, &ph).await.unwrap_or_else(|s| panic!("paris connection {i}: HTTP {s}"));
        assert!(served(&mut ws).await, "paris connection {i} is served");
        held.push(ws);
    }
    assert_eq!(ws_connect(&edge, &ph).await.err(), Some(429), "connection {} of paris", max + 1);
    let mut l = ws_connect(&edge, &lh).await.expect("lyon is not affected by paris's connections");
    assert!(served(&mut l).await);
    drop(l);
    // Closed connections free their places (the Worker reports each close).
    for mut ws in held.drain(..) {
        ws_send(&mut ws, tokio_tungstenite::tungstenite::Message::Close(None)).await;
    }
    let end = std::time::Instant::now() + Duration::from_secs(15);
    let again = loop {
        match ws_connect(&edge, &ph).await {
            Ok(ws) => break Some(ws),
            Err(429) if std::time::Instant::now() < end => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(_) => break None,
        }
    };
    assert!(again.is_some(), "paris gets a connection again once its others closed");
    drop(again);

    // Activations: paris at more than its rate is cut off (no answer past
    // its minute's worth); lyon, at the same time, activates everything.
    let before = edge.status().await.counters.total;
    let paris_bridge = Bridge::start(&edge, &["--token-id", &paris, "--token-secret", &paris_secret], &[]);
    let lyon_bridge = Bridge::start(&edge, &["--token-id", &lyon, "--token-secret", &lyon_secret], &[]);
    let sku10 = sku(WIN10, "Enterprise");
    let (pa, la, s1, s2) = (paris_bridge.addr.clone(), lyon_bridge.addr.clone(), sku10.clone(), sku10);
    let n = rate + 5;
    let flood = tokio::task::spawn_blocking(move || activate(&pa, &["--sku", &s1, "-n", &n.to_string()]));
    let calm = tokio::task::spawn_blocking(move || activate(&la, &["--sku", &s2, "-n", "5"]));
    let (flood, calm) = (flood.await.unwrap(), calm.await.unwrap());
    assert!(!flood.ok, "paris above its rate must not be answered throughout: {flood:?}");
    // A minute's worth at once; the refill during the run adds at most one.
    assert!((rate..=rate + 1).contains(&flood.activated), "paris activated {} of {n} at {rate}/min", flood.activated);
    assert_activated(&calm, 5);
    // What was refused was not recorded.
    let status = edge.status().await;
    assert_eq!(status.counters.total - before, u64::from(flood.activated) + 5, "{:?}", status.counters);
}
