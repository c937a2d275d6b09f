//! Hostile and broken input: every truncation and single-byte corruption of
//! every recorded conversation, oversized and fragmented PDUs, wrong
//! interfaces and opnums. The host must never panic and must always give
//! the protocol's defined answer.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod support;
use support::vectors::{Vector, hex, vector, vectors};
use kmsedge::epid::Epid;
use kmsedge::host::{CloseReason, Config, Connection, Decision, Event, Grant};
use kmsedge::kms::ResponseRandom;
use kmsedge::wire::{Packet, PacketType};

fn grant() -> Decision {
    Decision::Grant(Grant {
        epid: Epid::parse("03612-00206-560-123456-03-1033-17763.0000-3652023").unwrap(),
        hwid: [1, 2, 3, 4, 5, 6, 7, 8],
        current_count: 50,
        activation_interval: 120,
        renewal_interval: 10_080,
    })
}

/// Feeds `input` and drives the connection to quiescence, answering every
/// activation. Returns the PDUs sent and whether the host closed.
fn drive(input: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let mut conn = Connection::new(Config::default(), 0x1234_5678);
    let mut sent = Vec::new();
    let mut rest = input;
    let mut out = [0u8; 512];
    loop {
        let took = conn.receive(0, rest);
        rest = &rest[took..];
        match conn.poll(&mut out) {
            Event::NeedData if rest.is_empty() => return (sent, false),
            Event::NeedData => {}
            Event::Transmit { len, close, .. } => {
                sent.push(out[..len].to_vec());
                if close {
                    return (sent, true);
                }
            }
            Event::Activation(_) => {
                let len = conn.answer(&grant(), &ResponseRandom::default(), &mut out);
                assert!(len > 0);
                sent.push(out[..len].to_vec());
            }
            Event::Close(_) => return (sent, true),
        }
    }
}

/// Every PDU a host emits is well formed and of a reply type.
fn assert_valid_reply(pdu: &[u8]) {
    let p = Packet::new_checked(pdu).expect("reply frames itself");
    p.check_header().expect("reply header");
    assert_eq!(p.frag_len() as usize, pdu.len());
    assert!(matches!(
        p.ptype(),
        PacketType::BindAck | PacketType::BindNak | PacketType::AlterContextResp | PacketType::Response | PacketType::Fault
    ));
}

fn client_stream(v: &Vector) -> Vec<u8> {
    v.pdus.iter().filter(|p| p.c2s).flat_map(|p| p.bytes.iter().copied()).collect()
}

#[test]
fn every_truncation_answers_the_complete_prefix() {
    for v in vectors() {
        let stream = client_stream(&v);
        let (full, closed) = drive(&stream);
        assert!(!closed);
        let ends: Vec<usize> = v.pdus.iter().filter(|p| p.c2s).scan(0, |at, p| {
            *at += p.bytes.len();
            Some(*at)
        }).collect();
        for cut in 0..stream.len() {
            let (sent, closed) = drive(&stream[..cut]);
            assert!(!closed, "{} cut at {cut}", v.name);
            let complete = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(sent.len(), complete, "{} cut at {cut}", v.name);
            // Replies to the complete PDUs are the same as without the cut
            // (V4 has no randomness; V5/V6 used fixed zero randomness here).
            assert_eq!(&sent[..], &full[..complete], "{} cut at {cut}", v.name);
        }
    }
}

#[test]
fn every_single_byte_corruption_gets_a_defined_answer() {
    let mut outcomes = [0usize; 3];
    for v in vectors() {
        let stream = client_stream(&v);
        for at in 0..stream.len() {
            for flip in [0xFFu8, 0x01, 0x80] {
                let mut bad = stream.clone();
                bad[at] ^= flip;
                let (sent, closed) = drive(&bad);
                sent.iter().for_each(|p| assert_valid_reply(p));
                outcomes[if closed { 0 } else if sent.iter().any(|p| p[2] == 3 || p[2] == 13) { 1 } else { 2 }] += 1;
            }
        }
    }
    // Corruptions must exercise all three outcomes: close, fault/nak, served.
    assert!(outcomes.iter().all(|&n| n > 0), "{outcomes:?}");
}

fn bind_pdu() -> Vec<u8> {
    // vlmcs's bind from kms-protocol.md §9.6 (NDR32, NDR64, BTFN; call 2).
    hex("05000B1310000000A000000002000000D016D0160000000003000000000001007521C8514E845047B0D8EC255555BC0601000000045D888AEB1CC9119FE808002B10486002000000010001007521C8514E845047B0D8EC255555BC060100000033057171BABE37498319B5DBEF9CCC3601000000020001007521C8514E845047B0D8EC255555BC06010000002C1CB76C12984045030000000000000001000000")
}

fn request_pdu(ctx: u16, opnum: u16, call_id: u32, flags: u8, stub: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 24];
    p.extend_from_slice(stub);
    kmsedge::wire::call::emit_request_header(&mut p[16..], stub.len() as u32, ctx, opnum);
    kmsedge::wire::Header { ptype: PacketType::Request, flags, frag_len: p.len() as u16, call_id }.emit(&mut p);
    p
}

/// A valid NDR64 stub for the V6 request of §9.5 (ctx 1 after the bind).
fn v6_stub() -> Vec<u8> {
    let v = vector("v6_win10_enterprise_ndr64");
    let req = v.pdus.iter().filter(|p| p.ptype == 0).nth(1).unwrap();
    req.bytes[24..].to_vec()
}

fn status_of(fault: &[u8]) -> u32 {
    assert_eq!(fault[2], 3, "expected a fault PDU");
    u32::from_le_bytes(fault[24..28].try_into().unwrap())
}

#[test]
fn wrong_interface_is_rejected_and_its_context_faults() {
    let mut bind = bind_pdu();
    bind[0x20] ^= 0xFF; // abstract syntax of context 0
    let (sent, _) = drive(&[bind.clone(), request_pdu(0, 0, 3, 3, &[0; 8])].concat());
    // ctx 0: provider rejection, abstract syntax not supported (2/1).
    assert_eq!(&sent[0][0x24..0x28], &[2, 0, 1, 0]);
    assert_eq!(status_of(&sent[1]), 0x1C01_0003);
}

#[test]
fn opnum_other_than_zero_faults() {
    let (sent, closed) = drive(&[bind_pdu(), request_pdu(1, 1, 3, 3, &v6_stub())].concat());
    assert!(!closed);
    assert_eq!(status_of(&sent[1]), 0x1C01_0002);
    assert_eq!(u32::from_le_bytes(sent[1][12..16].try_into().unwrap()), 3, "call id echoed");
}

#[test]
fn request_before_bind_faults_with_unknown_interface() {
    let (sent, closed) = drive(&request_pdu(0, 0, 9, 3, &v6_stub()));
    assert!(!closed);
    assert_eq!(status_of(&sent[0]), 0x1C01_0003);
}

#[test]
fn fragmented_request_is_reassembled() {
    let stub = v6_stub();
    let (whole, _) = drive(&[bind_pdu(), request_pdu(1, 0, 3, 3, &stub)].concat());
    let (a, b) = stub.split_at(100);
    let (frags, closed) =
        drive(&[bind_pdu(), request_pdu(1, 0, 3, 1, a), request_pdu(1, 0, 3, 2, b)].concat());
    assert!(!closed);
    assert_eq!(frags, whole);
    assert_eq!(frags[1][2], 2, "a response");
}

#[test]
fn oversized_and_stray_fragments_fault() {
    // Middle fragment without a first one.
    let (sent, closed) = drive(&[bind_pdu(), request_pdu(1, 0, 3, 0, &[0; 64])].concat());
    assert!(!closed);
    assert_eq!(status_of(&sent[1]), 0x1C01_000B);
    // Fragments adding up to more than the reassembly bound.
    let mut input = bind_pdu();
    input.extend(request_pdu(1, 0, 3, 1, &[0; 600]));
    input.extend(request_pdu(1, 0, 3, 0, &[0; 600]));
    let (sent, closed) = drive(&input);
    assert!(!closed);
    assert_eq!(status_of(&sent[1]), 0x1C01_000B);
}

#[test]
fn oversized_frag_length_is_refused_and_closed() {
    let mut bind = bind_pdu();
    bind[8..10].copy_from_slice(&5000u16.to_le_bytes());
    let (sent, closed) = drive(&bind);
    assert!(closed);
    assert_eq!(sent[0][2], 13, "bind_nak");
    assert_eq!(u16::from_le_bytes([sent[0][16], sent[0][17]]), 2, "local limit exceeded");

    let mut req = request_pdu(1, 0, 3, 3, &v6_stub());
    req[8..10].copy_from_slice(&4097u16.to_le_bytes());
    let (sent, closed) = drive(&[bind_pdu(), req].concat());
    assert!(closed);
    assert_eq!(status_of(&sent[1]), 0x1C01_000B);
}

#[test]
fn short_or_garbled_stub_gets_invalid_data() {
    for stub in [&[0u8; 3][..], &[4, 1, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0][..]] {
        let (sent, closed) = drive(&[bind_pdu(), request_pdu(1, 0, 3, 3, stub)].concat());
        assert!(!closed);
        assert_eq!(sent[1][2], 2, "a normal response, not a fault");
        assert_eq!(&sent[1][sent[1].len() - 4..], &0x8007_000Du32.to_le_bytes());
    }
}

#[test]
fn foreign_pdus_and_garbage_close_the_connection() {
    // A bind_ack sent by a client, then an auth3: neither is served.
    let mut pdu = bind_pdu();
    pdu[2] = 12;
    assert_eq!(drive(&pdu), (vec![], true));
    let mut c = Connection::new(Config::default(), 1);
    c.receive(0, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = [0u8; 512];
    assert!(matches!(c.poll(&mut out), Event::Close(CloseReason::UnexpectedPdu(_)) | Event::Close(CloseReason::Protocol)));
    assert!(c.is_closed());
    // frag_length below the header size cannot frame anything.
    let mut pdu = bind_pdu();
    pdu[8..10].copy_from_slice(&8u16.to_le_bytes());
    let (sent, closed) = drive(&pdu);
    assert!(closed);
    assert_eq!(sent[0][2], 13);
}

#[test]
fn small_output_buffer_is_refused_not_overrun() {
    let mut c = Connection::new(Config::default(), 1);
    c.receive(0, &bind_pdu());
    let mut tiny = [0u8; 64];
    assert_eq!(c.poll(&mut tiny), Event::Close(CloseReason::BufferTooSmall));
}
