//! What one branch may take of the tunnel, against a live `wrangler dev`
//! whose `[vars]` set small caps (scripts/test-edge.sh, its third phase:
//! `KMSEDGE_EDGE_BRANCH_MAX_CONNECTIONS`, `KMSEDGE_EDGE_BRANCH_RATE`).
//! One branch flooding the tunnel — holding connections or sending
//! activations too fast — pays for it itself, and the other branch is
//! served: at its connection cap a branch's connection that has given
//! least is shed for the newcomer (answered if it asks, then closed with
//! 1013), and only when as many shed ones are still closing as the bound
//! allows is a newcomer refused with 429.
mod support;

use kmsedge::client::{Options, RequestBuilder, Session, check_response};
use kmsedge::kms::{Expect, seal_request};
use kmsedge::wire::ndr::ResponseStub;
use std::time::{Duration, Instant};
use support::edge::*;
use tokio_tungstenite::tungstenite::Message;

const WIN10: &str = "58e2134f-8e11-4d17-9cb2-91069c151148";

fn var(name: &str) -> u32 {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/test-edge.sh")).parse().expect("a number")
}

/// The next whole PDU from the Worker; `None` if it closed (or said
/// nothing for 10 s) first.
async fn pdu(ws: &mut Ws) -> Option<Vec<u8>> {
    let mut reply = Vec::new();
    while kmsedge::wire::rpc::peek_frag_len(&reply).is_none_or(|l| reply.len() < l) {
        match tokio::time::timeout(Duration::from_secs(10), futures_util::StreamExt::next(ws)).await {
            Ok(Some(Ok(Message::Binary(b)))) => reply.extend_from_slice(&b),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            _ => return None,
        }
    }
    Some(reply)
}

/// A client of a branch through one tunnel connection, bound.
struct Client {
    ws: Ws,
    session: Session,
    /// Its bind, sent again to keep the connection from its idle timeout
    /// without an activation (the registry never sees it).
    bind: Vec<u8>,
}

impl Client {
    /// Connects and binds: `Err` with the HTTP status if the upgrade is refused.
    async fn open(edge: &Edge, headers: &[(&str, &str)]) -> Result<Client, u16> {
        let ws = ws_connect(edge, headers).await?;
        let mut session = Session::new(Options::default(), 2);
        let mut out = [0u8; 512];
        let n = session.bind(&mut out);
        let mut c = Client { ws, session, bind: out[..n].to_vec() };
        ws_send(&mut c.ws, Message::Binary(c.bind.clone().into())).await;
        let ack = pdu(&mut c.ws).await.expect("a bind_ack through the tunnel");
        c.session.on_bind_ack(&ack).expect("a valid bind_ack");
        Ok(c)
    }

    /// The bind again: its answer restarts the core's idle timer.
    async fn keep_alive(&mut self) {
        ws_send(&mut self.ws, Message::Binary(self.bind.clone().into())).await;
        assert!(pdu(&mut self.ws).await.is_some(), "a keep-alive bind is answered");
    }

    /// One activation: whether it was answered with a valid response.
    async fn activates(&mut self, sku: &kmsedge::catalog::Sku) -> bool {
        let cmid = kmsedge::Guid::parse(&random_guid()).unwrap();
        let repr = RequestBuilder::for_sku(sku).cmid(cmid).time(kmsedge::tools::common::now()).workstation("shed-test").build();
        let iv = [7u8; 16];
        let mut msg = [0u8; 512];
        let m = seal_request(&repr, &iv, &mut msg);
        let mut out = [0u8; 1024];
        let n = self.session.request(&msg[..m], &mut out).expect("a request PDU");
        ws_send(&mut self.ws, Message::Binary(out[..n].to_vec().into())).await;
        let Some(reply) = pdu(&mut self.ws).await else { return false };
        match self.session.on_response(&reply) {
            Ok(ResponseStub::Message(m)) => check_response(m, &Expect::for_request(&repr, &iv), 0).is_ok(),
            _ => false,
        }
    }

    /// How the Worker ends this connection (waits for it, bounded).
    async fn ending(&mut self) -> WsEnd {
        ws_until_closed(&mut self.ws).await.1
    }
}

/// Opens a connection of a branch, retrying 429 for up to 15 s.
async fn open_within(edge: &Edge, headers: &[(&str, &str)]) -> Option<Client> {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        match Client::open(edge, headers).await {
            Ok(c) => return Some(c),
            Err(429) if Instant::now() < end => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(_) => return None,
        }
    }
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

    let sku10 = sku(WIN10, "Enterprise");
    let win10 = kmsedge::catalog::SKUS.iter().find(|s| s.id.to_string() == sku10).unwrap();
    assert_eq!(max, 3, "this scenario is written for a cap of 3 (shed bound 3/16 + 2 = 2)");

    // Connections: paris holds its most, bound only (so it has given the
    // registry nothing); a little apart, so their ages differ.
    let mut held = Vec::new();
    for i in 0..max {
        held.push(Client::open(&edge, &ph).await.unwrap_or_else(|s| panic!("paris connection {i}: HTTP {s}")));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut c3 = Client::open(&edge, &ph).await.expect("at the cap a newcomer is admitted, not refused");
    let [mut c0, mut c1, mut c2]: [Client; 3] = held.try_into().ok().unwrap();
    // Binds restart the idle timer of the core (3 s here) without telling
    // the registry anything: the scenario is not raced by idle timeouts.
    for c in [&mut c0, &mut c1, &mut c2] {
        c.keep_alive().await;
    }
    let mut used = 0u64; // paris's activations in this part
    assert!(c3.activates(win10).await, "the newcomer activates");
    used += 1;
    // The oldest was shed: its request in hand is answered all the same,
    // then the Worker closes it, saying why.
    assert!(c0.activates(win10).await, "a shed connection's request is still answered");
    used += 1;
    assert_eq!(c0.ending().await, WsEnd::Closed(1013), "the shed connection (the oldest) is closed after its answer");
    for c in [&mut c2, &mut c3] {
        c.keep_alive().await;
    }
    assert!(c1.activates(win10).await);
    used += 1;
    let mut l = Client::open(&edge, &lh).await.expect("lyon is not affected by paris's connections");
    assert!(l.activates(win10).await, "lyon is served");

    // Shedding is bounded: c2 (silent, the others have asked) goes for
    // c4, then c4 (silent) for c5; with 3/16 + 2 = 2 shed and not yet
    // closed, c6 is refused before any upgrade.
    for c in [&mut c1, &mut c2, &mut c3] {
        c.keep_alive().await;
    }
    let mut c4 = Client::open(&edge, &ph).await.expect("c4 is admitted");
    for c in [&mut c1, &mut c2, &mut c3] {
        c.keep_alive().await;
    }
    let c5 = Client::open(&edge, &ph).await.expect("c5 is admitted");
    assert_eq!(Client::open(&edge, &ph).await.err(), Some(429), "shed and not yet closed reached the bound");
    let mut l2 = Client::open(&edge, &lh).await.expect("lyon is served while paris is refused");
    assert!(l2.activates(win10).await);
    // Which were shed: c2 (answered, then closed with 1013), not c1.
    assert!(c2.activates(win10).await);
    used += 1;
    assert_eq!(c2.ending().await, WsEnd::Closed(1013), "c2, silent and oldest, was shed");
    assert!(c1.activates(win10).await);
    used += 1;
    // Silent, c4 is closed by the idle timeout like any silent connection;
    // c1 was never shed: it too ends at its idle timeout, not with 1013.
    assert_eq!(c4.ending().await, WsEnd::Closed(1000), "a shed silent connection ends at its idle timeout");
    assert_eq!(c1.ending().await, WsEnd::Closed(1000), "c1 has asked: it was kept");
    drop((c3, c5, l, l2));
    // Closed connections free their places (the Worker reports each close).
    assert!(open_within(&edge, &ph).await.is_some(), "paris gets a connection again once its others closed");
    let again = Client::open(&edge, &lh).await.expect("lyon throughout");
    drop(again);
    // Let paris's bucket refill what this part took before it is flooded.
    tokio::time::sleep(Duration::from_millis(used * 60_000 / u64::from(rate) + 3_000)).await;

    // Activations: paris at more than its rate is cut off (no answer past
    // its minute's worth); lyon, at the same time, activates everything.
    let before = edge.status().await.counters.total;
    let paris_bridge = Bridge::start(&edge, &["--token-id", &paris, "--token-secret", &paris_secret], &[]);
    let lyon_bridge = Bridge::start(&edge, &["--token-id", &lyon, "--token-secret", &lyon_secret], &[]);
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
