//! Every recorded vlmcs/py-kms ↔ vlmcsd conversation, replayed byte for
//! byte over TCP into `kmsedge serve` configured like the recording's host
//! (its ePID, HwId, count and intervals; the clock check off, since the
//! recordings are dated). V4 and refusal replies must equal the recording;
//! V5/V6 replies carry fresh random salts and IVs, so they must pass every
//! client check and carry the recorded fields instead.
use crate::client::{connect, read_pdu};
use crate::support::serve::{Serve, get, get_json};
use crate::support::vectors::{request_syntax, stub, vectors};
use kmsedge::catalog;
use kmsedge::kms::{self, Expect};
use kmsedge::wire::bind::BindAckPacket;
use kmsedge::wire::ndr::ResponseStub;
use kmsedge::wire::Packet;
use std::io::Write;

fn results(pdu: &[u8]) -> Vec<kmsedge::wire::bind::ContextResult> {
    let p = Packet::new_checked(pdu).unwrap();
    BindAckPacket::new_checked(p.body()).unwrap().results().collect()
}

#[test]
fn every_vector_replayed_over_tcp() {
    let mut granted = 0;
    for v in vectors() {
        let e = v.expect();
        let tmp = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = ["--max-time-skew", "off"].iter().map(|s| s.to_string()).collect();
        if v.hresult() == 0 {
            // The slot the recorded request maps to gets the recorded ePID.
            let first = v.pdus.iter().find(|p| p.ptype == 0).unwrap();
            let syntax = request_syntax(&first.bytes);
            let req = kms::open_request(syntax.decode_request(stub(&first.bytes)).unwrap()).unwrap().repr;
            let slot = catalog::slot(catalog::slot_for(&req.kms_id, &req.application));
            args.extend([
                "--epid".into(),
                format!("{}={}", slot.name, e["epid"].as_str().unwrap()),
                "--count-policy".into(),
                e["active_clients"].to_string(),
                "--activation-interval".into(),
                e["activation_interval"].to_string(),
                "--renewal-interval".into(),
                e["renewal_interval"].to_string(),
            ]);
            if let Some(h) = e["hwid"].as_str() {
                args.extend(["--hwid".into(), h.to_owned()]);
            }
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let host = Serve::start(tmp.path(), &argv);
        let mut s = connect(host.kms).unwrap();
        let mut answered = 0u64;
        for pair in v.pdus.chunks(2) {
            let (c2s, recorded) = (&pair[0], &pair[1]);
            s.write_all(&c2s.bytes).unwrap();
            let ours = read_pdu(&mut s).unwrap_or_else(|err| panic!("{}: no reply to ptype {}: {err}", v.name, c2s.ptype));
            assert_eq!(ours[2], recorded.ptype, "{}: reply type", v.name);
            assert_eq!(ours[12..16], recorded.bytes[12..16], "{}: call id echoed", v.name);
            match recorded.ptype {
                12 | 15 => assert_eq!(results(&ours), results(&recorded.bytes), "{}: context results", v.name),
                2 if v.hresult() != 0 || kms::Version::parse(syntax_msg(&c2s.bytes)).major == 4 => {
                    assert_eq!(ours, recorded.bytes, "{}: reply differs from the recording", v.name);
                    granted += usize::from(v.hresult() == 0);
                    answered += 1;
                }
                2 => {
                    let syntax = request_syntax(&c2s.bytes);
                    let opened = kms::open_request(syntax.decode_request(stub(&c2s.bytes)).unwrap()).unwrap();
                    let expect = Expect::for_request(&opened.repr, &opened.iv.iv);
                    let ResponseStub::Message(msg) = syntax.decode_response(stub(&ours)).unwrap() else {
                        panic!("{}: refused", v.name)
                    };
                    let resp = kmsedge::client::check_response(msg, &expect, opened.repr.n_policy)
                        .unwrap_or_else(|err| panic!("{}: {err}", v.name));
                    assert_eq!(resp.repr.epid.as_str(), e["epid"].as_str().unwrap(), "{}", v.name);
                    assert_eq!(u64::from(resp.repr.current_count), e["active_clients"].as_u64().unwrap());
                    if let Some(h) = e["hwid"].as_str() {
                        assert_eq!(resp.hwid, kmsedge::epid::parse_hwid(h), "{}", v.name);
                    }
                    if let Some(sizes) = e["kms_response_size"].as_array() {
                        assert!(sizes.iter().any(|n| n.as_u64() == Some(msg.len() as u64)), "{}", v.name);
                    }
                    granted += 1;
                    answered += 1;
                }
                other => panic!("{}: unexpected recorded reply type {other}", v.name),
            }
        }
        // The connection stays open for more, as a genuine host keeps it.
        s.set_read_timeout(Some(std::time::Duration::from_millis(100))).unwrap();
        let mut b = [0u8; 1];
        let still_open = matches!(std::io::Read::read(&mut s, &mut b), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut);
        assert!(still_open, "{}: host closed the connection", v.name);
        let status = get_json(&host.url("/api/status"), None);
        // Refusals of unreadable requests come from the RPC layer and never
        // reach the registry; every decoded request does.
        let recorded = if v.hresult() == 0 { answered } else { 0 };
        assert_eq!(status["counters"]["total"], recorded, "{}: requests in the registry", v.name);
        if v.hresult() != 0 {
            let (_, metrics) = get(&host.url("/metrics"), None);
            assert!(metrics.contains("kmsedge_requests_total{version=\"unreadable\",result=\"ERROR_INVALID_DATA\"} 1"), "{metrics}");
        }
        drop(s);
        assert!(host.stop().success());
    }
    assert_eq!(granted, 18, "the granted requests of all recordings");
}

/// The KMS message inside a request PDU.
fn syntax_msg(pdu: &[u8]) -> &[u8] {
    request_syntax(pdu).decode_request(stub(pdu)).unwrap()
}
