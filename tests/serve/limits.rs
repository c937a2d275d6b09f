//! The host under abuse and load: many connections at once, a trickling
//! client, garbage, an allow-list, per-address and total caps, oversized
//! PDUs, and a graceful stop in the middle of a request.
use crate::client::{Client, connect, random_cmid, read_pdu, request, sku};
use crate::support::serve::{Serve, get, get_json};
use kmsedge::client::{Options, Session};
use kmsedge::kms::Version;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const WIN10: &str = "Windows 10/11 Enterprise";

/// Whether the host has closed `s`: EOF or reset within `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 512];
    let end = Instant::now() + wait;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
        if Instant::now() > end {
            return false;
        }
    }
}

fn bind_pdu() -> Vec<u8> {
    let mut out = [0u8; 512];
    let n = Session::new(Options::default(), 2).bind(&mut out);
    out[..n].to_vec()
}

fn metric(host: &Serve, line_start: &str) -> f64 {
    let (_, text) = get(&host.url("/metrics"), None);
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn two_hundred_concurrent_connections() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &[]);
    let n = 200;
    let barrier = Arc::new(Barrier::new(n + 1));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, addr) = (barrier.clone(), host.kms);
            std::thread::spawn(move || {
                let mut c = Client::ndr64(addr).unwrap();
                barrier.wait(); // all 200 bound and open
                barrier.wait(); // counted by the test
                for _ in 0..3 {
                    let v = [Version::V4, Version::V5, Version::V6][i % 3];
                    c.request(&request(sku(WIN10), v, random_cmid(), &format!("C{i}"))).unwrap().granted();
                }
            })
        })
        .collect();
    barrier.wait();
    assert_eq!(metric(&host, "kmsedge_connections_open "), 200.0);
    barrier.wait();
    for t in threads {
        t.join().unwrap();
    }
    let status = get_json(&host.url("/api/status"), None);
    assert_eq!(status["counters"]["total"], 600);
    assert_eq!(status["counters"]["failed"], 0);
}

#[test]
fn a_trickling_client_is_dropped_at_the_timeout_while_others_are_served() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--idle-timeout", "2"]);
    let bind = bind_pdu();
    let mut slow = connect(host.kms).unwrap();
    let started = Instant::now();
    let trickle = std::thread::spawn(move || {
        // One byte a second: each byte is progress on the wire, none
        // completes a PDU.
        for b in bind {
            if slow.write_all(&[b]).is_err() {
                break;
            }
            if closed_within(&mut slow, Duration::from_secs(1)) {
                return Some(started.elapsed());
            }
        }
        None
    });
    // Meanwhile a normal client is served, on one connection and on new ones.
    let mut served = 0;
    let mut c = Client::ndr64(host.kms).unwrap();
    while !trickle.is_finished() && started.elapsed() < Duration::from_secs(8) {
        c.request(&request(sku(WIN10), Version::V6, random_cmid(), "FAST")).unwrap().granted();
        Client::ndr32(host.kms).unwrap().request(&request(sku(WIN10), Version::V4, random_cmid(), "FAST")).unwrap().granted();
        served += 2;
        std::thread::sleep(Duration::from_millis(100));
    }
    let dropped_after = trickle.join().unwrap().expect("the trickling client was closed");
    assert!(dropped_after >= Duration::from_millis(1800), "not before the timeout: {dropped_after:?}");
    assert!(dropped_after <= Duration::from_millis(5000), "at the timeout (probed once a second): {dropped_after:?}");
    assert!(served >= 20, "others were served meanwhile ({served})");
    assert_eq!(metric(&host, "kmsedge_connections_closed_total{reason=\"idle_timeout\"}"), 1.0);
}

#[test]
fn garbage_on_one_connection_does_not_disturb_others() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &[]);
    let mut good = Client::ndr64(host.kms).unwrap();
    good.request(&request(sku(WIN10), Version::V6, random_cmid(), "GOOD")).unwrap().granted();

    let garbage: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        &[0xFF; 64],
        // A bind header claiming a 4 KiB fragment, then nothing.
        &[5, 0, 11, 3, 0x10, 0, 0, 0, 0x00, 0x10, 0, 0, 1, 0, 0, 0],
        // A request on a context never bound.
        &[5, 0, 0, 3, 0x10, 0, 0, 0, 24, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ];
    for (i, g) in garbage.iter().enumerate() {
        let mut s = connect(host.kms).unwrap();
        s.write_all(g).unwrap();
        if i == 3 {
            // A defined answer (fault: unknown interface), connection kept.
            let pdu = read_pdu(&mut s).unwrap();
            assert_eq!(pdu[2], 3, "fault PDU");
            assert_eq!(u32::from_le_bytes(pdu[24..28].try_into().unwrap()), 0x1C01_0003);
        } else if i == 2 {
            // Waits for the rest of the fragment: alive, not answered.
            assert!(!closed_within(&mut s, Duration::from_millis(200)));
        } else {
            // Unframeable: closed (after a bind_nak where one is possible).
            assert!(closed_within(&mut s, Duration::from_secs(5)), "garbage {i} closes its connection");
        }
        good.request(&request(sku(WIN10), Version::V5, random_cmid(), "GOOD")).unwrap().granted();
    }
    let mut fresh = Client::ndr32(host.kms).unwrap();
    fresh.request(&request(sku(WIN10), Version::V4, random_cmid(), "FRESH")).unwrap().granted();
    assert_eq!(get_json(&host.url("/api/status"), None)["counters"]["total"], 6);
}

#[test]
fn oversized_pdus_get_a_bind_nak_and_a_close() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--max-pdu", "512"]);
    let mut s = connect(host.kms).unwrap();
    let mut big = bind_pdu();
    big[8..10].copy_from_slice(&600u16.to_le_bytes());
    big.resize(600, 0);
    s.write_all(&big).unwrap();
    let nak = read_pdu(&mut s).unwrap();
    assert_eq!(nak[2], 13, "bind_nak");
    assert_eq!(u16::from_le_bytes([nak[16], nak[17]]), 2, "reason: local limit exceeded");
    assert!(closed_within(&mut s, Duration::from_secs(5)));
    // Normal PDUs are fine under the limit.
    Client::ndr64(host.kms).unwrap().request(&request(sku(WIN10), Version::V6, random_cmid(), "OK")).unwrap().granted();
}

#[test]
fn allow_list_closes_others_at_accept_and_logs_once() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--allow", "10.0.0.0/8", "--allow", "192.168.0.0/16"]);
    for _ in 0..5 {
        let mut s = connect(host.kms).unwrap();
        let _ = s.write_all(&bind_pdu());
        assert!(closed_within(&mut s, Duration::from_secs(5)), "127.0.0.1 is not allowed");
    }
    assert_eq!(metric(&host, "kmsedge_connections_total{outcome=\"not_allowed\"}"), 5.0);
    let logged = host.events("connection refused at accept (logged once a minute per address)");
    assert_eq!(logged.len(), 1, "{}", host.log_text());
    assert_eq!(logged[0]["fields"]["client"], "127.0.0.1");
    assert_eq!(logged[0]["fields"]["reason"], "not_allowed");
    assert_eq!(get_json(&host.url("/api/status"), None)["counters"]["total"], 0);

    let dir2 = tempfile::tempdir().unwrap();
    let host = Serve::start(dir2.path(), &["--allow", "127.0.0.0/8"]);
    Client::ndr64(host.kms).unwrap().request(&request(sku(WIN10), Version::V6, random_cmid(), "LOCAL")).unwrap().granted();
}

#[test]
fn per_address_and_total_connection_caps() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--max-per-address", "2"]);
    let a = Client::ndr64(host.kms).unwrap();
    let _b = Client::ndr64(host.kms).unwrap();
    let mut third = connect(host.kms).unwrap();
    let _ = third.write_all(&bind_pdu());
    assert!(closed_within(&mut third, Duration::from_secs(5)), "third connection from 127.0.0.1");
    drop(a);
    // The slot comes back once the host has seen the close.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut c = loop {
        match Client::ndr64(host.kms) {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("{e}"),
        }
    };
    c.request(&request(sku(WIN10), Version::V6, random_cmid(), "CAP")).unwrap().granted();
    // At least the third connection; retries before the host saw the close count too.
    assert!(metric(&host, "kmsedge_connections_total{outcome=\"max_per_address\"}") >= 1.0);

    let dir2 = tempfile::tempdir().unwrap();
    let host = Serve::start(dir2.path(), &["--max-connections", "3"]);
    let held: Vec<Client> = (0..3).map(|_| Client::ndr64(host.kms).unwrap()).collect();
    // Full of idle connections: a newcomer is served, one idle one makes
    // room (the shedding order is tested in tests/serve/admission.rs).
    let mut fourth = Client::ndr64(host.kms).unwrap();
    fourth.request(&request(sku(WIN10), Version::V6, random_cmid(), "FOURTH")).unwrap().granted();
    assert_eq!(metric(&host, "kmsedge_connections_total{outcome=\"accepted_after_shedding\"}"), 1.0);
    assert_eq!(metric(&host, "kmsedge_connections_total{outcome=\"max_connections\"}"), 0.0);
    drop(held);
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--shutdown-grace", "5"]);
    let mut busy = Client::ndr64(host.kms).unwrap();
    let _idle = Client::ndr64(host.kms).unwrap();
    // Half a request PDU, then the signal, then the other half.
    let req = request(sku(WIN10), Version::V6, random_cmid(), "IN-FLIGHT");
    let mut sealed = [0u8; 260];
    let m = kmsedge::kms::seal_request(&req, &[7; 16], &mut sealed);
    // The request PDU by hand, on the NDR64 context (1) `busy` negotiated,
    // so that it can be sent in two halves.
    let mut pdu = [0u8; 512];
    let stub_at = 24;
    let msg_at = stub_at + kmsedge::wire::Syntax::Ndr64.request_prefix_len();
    pdu[msg_at..msg_at + m].copy_from_slice(&sealed[..m]);
    let stub = kmsedge::wire::Syntax::Ndr64.encode_request(&mut pdu[stub_at..], m);
    kmsedge::wire::call::emit_request_header(&mut pdu[16..], stub as u32, 1, 0);
    let len = 24 + stub;
    kmsedge::wire::Header { ptype: kmsedge::wire::PacketType::Request, flags: 3, frag_len: len as u16, call_id: 9 }.emit(&mut pdu);
    busy.stream.write_all(&pdu[..len / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    host.sigterm();
    std::thread::sleep(Duration::from_millis(300));
    busy.stream.write_all(&pdu[len / 2..len]).unwrap();
    let reply = read_pdu(&mut busy.stream).expect("the request in flight is answered");
    assert_eq!(reply[2], 2, "response PDU");
    assert_eq!(u32::from_le_bytes(reply[12..16].try_into().unwrap()), 9);
    assert!(closed_within(&mut busy.stream, Duration::from_secs(5)), "then closed");
    let data = host.data.clone();
    let events = host.log_events();
    let status = host.wait();
    assert!(status.success(), "exit status {status}");
    assert!(events.iter().any(|e| e["fields"]["message"] == "shutting down (a second signal stops at once)"));
    // The registry is complete on its own: WAL folded in, the answer stored.
    assert!(!data.join("registry.sqlite3-wal").exists() || std::fs::metadata(data.join("registry.sqlite3-wal")).unwrap().len() == 0);
    let conn = rusqlite::Connection::open(data.join("registry.sqlite3")).unwrap();
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM clients WHERE workstation = 'IN-FLIGHT'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
}

/// Memory with 1 000 idle connections (printed for the closing note,
/// bounded here so a regression shows).
#[test]
fn a_thousand_idle_connections_stay_small() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--max-per-address", "2000"]);
    let rss = |field: &str| -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", host.pid())).unwrap();
        let line = s.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let before = rss("VmRSS:");
    let mut conns = Vec::new();
    for _ in 0..1000 {
        let mut s = connect(host.kms).unwrap();
        s.write_all(&bind_pdu()).unwrap();
        read_pdu(&mut s).unwrap();
        conns.push(s);
    }
    assert_eq!(metric(&host, "kmsedge_connections_open "), 1000.0);
    let (now, peak) = (rss("VmRSS:"), rss("VmHWM:"));
    eprintln!("RSS: {before} KiB at start, {now} KiB with 1000 idle connections (peak {peak} KiB)");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
    drop(conns);
}
