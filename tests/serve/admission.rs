//! Admission under hostile load, at a small scale (caps set low): idle,
//! silent and trickling connections from other loopback addresses fill the
//! host, then valid clients still activate — every one — and the
//! connections shed to make room are the hostile ones, the address holding
//! the most first. And the per-address activation rate limit. The same at
//! full scale is `scripts/soak.sh` (not part of the test command).
use crate::client::{Client, IO_TIMEOUT, random_cmid, read_pdu, request, sku};
use crate::support::serve::{Serve, get};
use kmsedge::client::{Options, Session};
use kmsedge::kms::Version;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const WIN10: &str = "Windows 10/11 Enterprise";

/// A connection to `addr` from the loopback address `src` (any port).
fn connect_from(src: &str, addr: SocketAddr) -> TcpStream {
    let src: IpAddr = src.parse().unwrap();
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    s.bind(&SockAddr::from(SocketAddr::new(src, 0))).unwrap();
    s.connect_timeout(&SockAddr::from(addr), IO_TIMEOUT).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn bind_pdu() -> Vec<u8> {
    let mut out = [0u8; 512];
    let n = Session::new(Options::default(), 2).bind(&mut out);
    out[..n].to_vec()
}

/// Whether the host closed `s` (EOF or reset) — without waiting.
fn is_closed(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue, // a bind_ack sent earlier
            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    s.set_nonblocking(false).unwrap();
    closed
}

fn metric(host: &Serve, line_start: &str) -> f64 {
    let (_, text) = get(&host.url("/metrics"), None);
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hostile_connections_filling_the_host_are_shed_and_every_valid_client_activates() {
    const CAP: usize = 24;
    let host = Serve::start_temp(&["--max-connections", "24", "--max-per-address", "32", "--idle-timeout", "60"]);
    // 127.0.1.1 opens first: silent connections and ones trickling half a
    // bind (bytes that never complete a PDU buy no time). Then three more
    // addresses, bound and idle.
    let bind = bind_pdu();
    let mut crowd: Vec<TcpStream> = (0..12)
        .map(|i| {
            let mut s = connect_from("127.0.1.1", host.kms);
            if i % 2 == 0 {
                s.write_all(&bind[..bind.len() / 2]).unwrap();
            }
            s
        })
        .collect();
    wait_for("the crowd admitted", || metric(&host, "kmsedge_connections_open ") == 12.0);
    // Idle a whole second longer than the others, so that idle time ranks
    // them (within one second the share of the address would, as the
    // rule's unit tests show).
    std::thread::sleep(Duration::from_millis(1100));
    let mut others: Vec<TcpStream> = Vec::new();
    for a in 2..=4 {
        for _ in 0..4 {
            let mut s = connect_from(&format!("127.0.1.{a}"), host.kms);
            s.write_all(&bind).unwrap();
            read_pdu(&mut s).expect("bind_ack");
            others.push(s);
        }
    }
    wait_for("the host full", || metric(&host, "kmsedge_connections_open ") == CAP as f64);
    // A trickler keeps sending a byte now and then.
    for s in crowd.iter_mut().step_by(2) {
        let _ = s.write_all(&bind[bind.len() / 2..bind.len() / 2 + 1]);
    }

    // Valid clients from 127.0.0.1, each held open after its activation.
    let mut valid = Vec::new();
    let mut lost = 0;
    for i in 0..12 {
        match Client::ndr64(host.kms).and_then(|mut c| c.request(&request(sku(WIN10), Version::V6, random_cmid(), &format!("V{i}"))).map(|o| (c, o))) {
            Ok((c, o)) => {
                o.granted();
                valid.push(c);
            }
            Err(_) => lost += 1,
        }
    }
    assert_eq!(lost, 0, "valid activations lost");
    wait_for("12 sheds", || metric(&host, "kmsedge_connections_closed_total{reason=\"shed\"}") == 12.0);
    assert_eq!(metric(&host, "kmsedge_connections_total{outcome=\"accepted_after_shedding\"}"), 12.0);
    // The shed ones: all of the crowd, none of the others.
    let crowd_closed = crowd.iter_mut().map(is_closed).filter(|&c| c).count();
    let others_closed = others.iter_mut().map(is_closed).filter(|&c| c).count();
    assert_eq!((crowd_closed, others_closed), (12, 0), "the longest idle first");
    // No valid one was shed: each asks again on its own connection.
    for (i, c) in valid.iter_mut().enumerate() {
        c.request(&request(sku(WIN10), Version::V5, random_cmid(), &format!("W{i}"))).unwrap().granted();
    }
    // Full again (12 valid, 12 idle): the next newcomers shed the idle
    // hostile ones, never a valid client that has asked.
    for i in 0..12 {
        let mut c = Client::ndr32(host.kms).unwrap();
        c.request(&request(sku(WIN10), Version::V4, random_cmid(), &format!("X{i}"))).unwrap().granted();
        valid.push(c);
    }
    wait_for("24 sheds", || metric(&host, "kmsedge_connections_closed_total{reason=\"shed\"}") == 24.0);
    assert_eq!(others.iter_mut().map(is_closed).filter(|&c| c).count(), 12);
    for (i, c) in valid.iter_mut().enumerate() {
        c.request(&request(sku(WIN10), Version::V6, random_cmid(), &format!("Y{i}"))).unwrap().granted();
    }
    // One line per shed address and minute, not per connection.
    let lines = host.events("connection shed to make room: the host is at --max-connections (logged once a minute per address)");
    let mut addrs: Vec<String> = lines.iter().map(|e| e["fields"]["client"].as_str().unwrap().to_owned()).collect();
    addrs.sort();
    assert_eq!(addrs, ["127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4"]);
    // Full of valid clients that have asked: the longest idle one is shed
    // for a newcomer, which is served.
    let mut last = Client::ndr64(host.kms).unwrap();
    last.request(&request(sku(WIN10), Version::V6, random_cmid(), "LAST")).unwrap().granted();
    let status = crate::support::serve::get_json(&host.url("/api/status"), None);
    assert_eq!(status["counters"]["total"], 12 * 2 + 12 + 24 + 1);
    assert_eq!(status["counters"]["failed"], 0);
}

#[test]
fn an_address_over_its_rate_is_closed_unanswered_and_others_are_served() {
    let host = Serve::start_temp(&["--rate-limit", "60", "--rate-burst", "3"]);
    let over = || Client::over(connect_from("127.0.2.1", host.kms), Options::default()).unwrap();
    let mut c = over();
    for i in 0..3 {
        c.request(&request(sku(WIN10), Version::V6, random_cmid(), &format!("R{i}"))).unwrap().granted();
    }
    let e = c.request(&request(sku(WIN10), Version::V6, random_cmid(), "R3")).unwrap_err();
    assert!(!e.is_empty());
    let mut c = over();
    assert!(c.request(&request(sku(WIN10), Version::V6, random_cmid(), "R4")).is_err(), "still over, on a new connection");
    // Another address is not affected.
    let mut other = Client::over(connect_from("127.0.2.2", host.kms), Options::default()).unwrap();
    other.request(&request(sku(WIN10), Version::V6, random_cmid(), "OTHER")).unwrap().granted();
    assert_eq!(metric(&host, "kmsedge_requests_total{version=\"any\",result=\"rate_limited\"}"), 2.0);
    assert_eq!(metric(&host, "kmsedge_connections_closed_total{reason=\"rate_limited\"}"), 2.0);
    let lines = host.events("activation refused: the address is over --rate-limit; connection closed, the client retries later (logged once a minute per address)");
    assert_eq!(lines.len(), 1, "one line a minute per address");
    assert_eq!(lines[0]["fields"]["client"], "127.0.2.1");
    // Refused requests are not in the registry; one a second comes back.
    std::thread::sleep(Duration::from_millis(1100));
    over().request(&request(sku(WIN10), Version::V6, random_cmid(), "R5")).unwrap().granted();
    let status = crate::support::serve::get_json(&host.url("/api/status"), None);
    assert_eq!(status["counters"]["total"], 5);
}
