//! The event history end to end: every request leaves one event with the
//! fields a genuine host's event 12290 has (and the count it answered);
//! `/api/events` filters, pages and exports it as CSV behind the admin
//! token; expired events are deleted by the retention setting; each DNS
//! publishing attempt leaves a 12293 (failed) or 12294 (published) event.
use crate::client::{Client, Outcome, random_cmid, request, sku};
use crate::support::serve::{Serve, get, get_json, run_to_exit};
use kmsedge::api::{EventPage, EventRow};
use kmsedge::kms::Version;
use kmsedge::HResult;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const TOKEN: &str = "test-admin-token-events-0123";

fn page(host: &Serve, query: &str) -> EventPage {
    serde_json::from_value(get_json(&host.url(&format!("/api/events{query}")), Some(TOKEN))).unwrap()
}

#[test]
fn every_request_is_an_event_with_filters_paging_and_csv() {
    let win = sku("Windows 10/11 Enterprise");
    let office = sku("Office LTSC Professional Plus 2021");
    let host = Serve::start_temp(&["--admin-token", TOKEN, "--kms-id", &win.kms.to_string()]);
    let mut c = Client::ndr64(host.kms).unwrap();
    let (a, b, odd) = (random_cmid(), random_cmid(), random_cmid());
    c.request(&request(win, Version::V6, a, "WS-A")).unwrap().granted();
    c.request(&request(win, Version::V6, b, "WS-B")).unwrap().granted();
    c.request(&request(win, Version::V4, odd, "LAB, \"quoted\"")).unwrap().granted();
    let refused = c.request(&request(office, Version::V6, random_cmid(), "OFFICE-1")).unwrap();
    assert_eq!(refused, Outcome::Refused(HResult::KMS_ID_MISMATCH));
    let last = c.request(&request(win, Version::V5, a, "WS-A")).unwrap();
    last.granted();

    for path in ["/api/events", "/api/events.csv"] {
        assert_eq!(get(&host.url(path), None).0, 401, "{path} needs the admin token");
    }
    let all = page(&host, "");
    assert_eq!((all.total, all.offset, all.limit, all.events.len()), (5, 0, 100, 5));
    let ws: Vec<&str> = all.events.iter().map(|e| e.workstation.as_deref().unwrap()).collect();
    assert_eq!(ws, ["WS-A", "OFFICE-1", "LAB, \"quoted\"", "WS-B", "WS-A"], "newest first");
    let e: &EventRow = &all.events[0];
    assert_eq!((e.kind.as_str(), e.event_id, e.result.as_str()), ("request", 12290, "0x00000000"));
    assert_eq!(e.remote.as_deref(), Some("127.0.0.1"));
    assert_eq!(e.cmid, Some(a.to_string()));
    assert_eq!(e.kms_id, Some(win.kms.to_string()));
    assert_eq!(e.product.as_deref(), kmsedge::catalog::kms_id(&win.kms).map(|k| k.name));
    assert_eq!((e.sku.clone(), e.sku_name.as_deref()), (Some(win.id.to_string()), Some(win.name)));
    assert_eq!(e.protocol.as_deref(), Some("5.0"));
    assert_eq!(e.reported, Some(last.count()), "the count the answer reported");
    assert_eq!((e.name.as_ref(), e.server.as_ref(), e.message.as_ref()), (None, None, None));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - 60..=now).contains(&e.time), "{}", e.time);
    let r = &all.events[1];
    assert_eq!((r.result.as_str(), r.reported), ("0xC004F042", None), "a refusal, and no count");
    assert_eq!(all.events[2].protocol.as_deref(), Some("4.0"));

    let total = |q: &str| page(&host, q).total;
    assert_eq!(total("?result=error"), 1);
    assert_eq!(total("?result=ok"), 4);
    assert_eq!(total("?result=0xC004F042&kind=request"), 1);
    assert_eq!(total("?kind=dns"), 0);
    assert_eq!(total(&format!("?cmid={a}")), 2);
    assert_eq!(total("?workstation=ws-"), 3);
    assert_eq!(total(&format!("?product={}", office.kms)), 1);
    assert_eq!(total("?product=ltsc%20professional%20plus%202021"), 1);
    assert_eq!(total(&format!("?since={}", now + 3600)), 0);
    assert_eq!(total(&format!("?since={}&until={}", now - 3600, now + 3600)), 5);
    let p = page(&host, "?limit=2&offset=1");
    assert_eq!((p.total, p.offset, p.limit, p.events.len()), (5, 1, 2, 2));
    assert_eq!(p.events[0].workstation.as_deref(), Some("OFFICE-1"));

    let (code, csv) = get(&host.url("/api/events.csv?kind=request"), Some(TOKEN));
    assert_eq!(code, 200, "{csv}");
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines.len(), 7, "header, five records, final CRLF: {csv}");
    assert!(lines[0].starts_with("time,time_utc,kind,event_id,result,remote,workstation,cmid,"), "{}", lines[0]);
    assert!(lines[1].contains(&format!(",request,12290,0x00000000,127.0.0.1,WS-A,{a},")), "{}", lines[1]);
    assert!(lines[3].contains(",\"LAB, \"\"quoted\"\"\","), "RFC 4180 quoting: {}", lines[3]);
    let (_, filtered) = get(&host.url("/api/events.csv?result=error"), Some(TOKEN));
    assert_eq!(filtered.matches("\r\n").count(), 2, "the same filter: {filtered}");

    for bad in ["?limit=0", "?limit=1001", "?kind=all", "?result=maybe", "?cmid=PC-1", "?since=yesterday", "?since=10&until=5"] {
        for path in ["/api/events", "/api/events.csv"] {
            let (code, body) = get(&host.url(&format!("{path}{bad}")), Some(TOKEN));
            if path.ends_with("csv") && bad == "?limit=1001" {
                assert_eq!(code, 200, "a CSV may hold more than a page");
                continue;
            }
            assert_eq!(code, 400, "{path}{bad}: {body}");
            let err: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(!err["error"].as_str().unwrap().contains('\n'), "{body}");
        }
    }
    assert!(host.stop().success());
}

/// Events older than `--event-days` are deleted (by the first write after
/// the start, then at most once a minute); the rest stay.
#[test]
fn retention_deletes_what_is_older_than_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let win = sku("Windows 10/11 Enterprise");
    let host = Serve::start(tmp.path(), &["--admin-token", TOKEN]);
    Client::ndr64(host.kms).unwrap().request(&request(win, Version::V6, random_cmid(), "FIRST")).unwrap().granted();
    assert!(host.stop().success());
    // Backdate that event by two days and another by 23 hours.
    let db = rusqlite::Connection::open(tmp.path().join("registry.sqlite3")).unwrap();
    db.execute("UPDATE events SET time = time - 2 * 86400", []).unwrap();
    db.execute(
        "INSERT INTO events (time, event_id, hresult, workstation) SELECT time + 2 * 86400 - 23 * 3600, 12290, 0, 'RECENT' FROM events",
        [],
    )
    .unwrap();
    drop(db);

    let host = Serve::start(tmp.path(), &["--admin-token", TOKEN, "--event-days", "1"]);
    assert_eq!(page(&host, "").total, 2, "nothing is deleted before the next write");
    Client::ndr64(host.kms).unwrap().request(&request(win, Version::V6, random_cmid(), "SECOND")).unwrap().granted();
    let ws: Vec<String> = page(&host, "").events.into_iter().filter_map(|e| e.workstation).collect();
    assert_eq!(ws, ["SECOND", "RECENT"], "the two-day-old event is gone");
    assert!(host.stop().success());

    let (code, stderr) = run_to_exit(&["serve", "--data", tmp.path().to_str().unwrap(), "--http", "off", "--event-days", "0"]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--event-days") && stderr.contains("days from 1 to 3650"), "{stderr}");
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "[registry]\nevent_days = \"forever\"\n").unwrap();
    let (code, stderr) = run_to_exit(&["serve", "--data", tmp.path().to_str().unwrap(), "--http", "off", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("registry.event_days in") && stderr.contains("days from 1 to 3650"), "{stderr}");
}

/// A DNS server on loopback UDP that answers every message NOERROR,
/// echoing its ID, opcode and first question (or zone) section: enough for
/// the publisher's SRV query and its unsigned UPDATE to succeed.
fn fake_dns() -> std::net::SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let m = &buf[..n];
            if n < 12 {
                continue;
            }
            // The first name: labels up to the root (requests use no compression).
            let mut at = 12;
            while at < n && m[at] != 0 {
                at += 1 + m[at] as usize;
            }
            let end = (at + 5).min(n);
            let mut reply = Vec::from(&m[..2]);
            reply.push(0x80 | (m[2] & 0x78)); // QR, the request's opcode
            reply.push(0); // NOERROR
            reply.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
            reply.extend_from_slice(&m[12..end]);
            let _ = sock.send_to(&reply, peer);
        }
    });
    addr
}

fn wait_for_events(host: &Serve, query: &str, n: u64) -> EventPage {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let p = page(host, query);
        if p.total >= n {
            return p;
        }
        assert!(Instant::now() < end, "no {n} events for {query} within 15 s:\n{}", host.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn each_dns_publishing_attempt_is_an_event() {
    // Nobody listens on this port: the attempt fails.
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let common = ["--admin-token", TOKEN, "--dns-publish", "true", "--dns-zone", "kms.test", "--dns-host", "kms"];
    let mut args = common.to_vec();
    args.extend(["--dns-server", &closed]);
    let failing = Serve::start_temp(&args);
    let p = wait_for_events(&failing, "?kind=dns", 1);
    let e = &p.events[0];
    assert_eq!((e.kind.as_str(), e.event_id), ("dns", 12293));
    assert_ne!(e.result, "0x00000000");
    assert_eq!(e.server.as_deref(), Some(closed.as_str()));
    assert!(e.name.as_deref().unwrap().starts_with("_vlmcs._tcp.kms.test. "), "{e:?}");
    assert!(!e.message.as_deref().unwrap().is_empty());
    assert_eq!((e.workstation.as_ref(), e.cmid.as_ref()), (None, None));
    assert_eq!(page(&failing, "?kind=dns&result=ok").total, 0);
    assert!(failing.stop().success());

    let server = fake_dns().to_string();
    let mut args = common.to_vec();
    args.extend(["--dns-server", &server]);
    let publishing = Serve::start_temp(&args);
    let p = wait_for_events(&publishing, "?kind=dns&result=ok", 1);
    let e = &p.events[0];
    assert_eq!((e.event_id, e.result.as_str(), e.message.as_deref()), (12294, "0x00000000", Some("published")));
    assert_eq!(e.server.as_deref(), Some(server.as_str()));
    assert_eq!(page(&publishing, "?kind=request").total, 0, "requests and DNS attempts filter apart");
    assert!(publishing.stop().success());
}
