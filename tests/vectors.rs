//! Replays every recorded vlmcs/py-kms ↔ vlmcsd conversation
//! (tests/fixtures/vectors) through our host engine and our client.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod support;
use support::vectors::{Vector, request_syntax, stub, vectors};
use kmsedge::crypto::{Block, KmsAes};
use kmsedge::epid::{Epid, parse_hwid};
use kmsedge::host::{Config, Connection, Decision, Event, Grant};
use kmsedge::kms::response::ResponseRepr;
use kmsedge::kms::{self, Expect, ResponseRandom, Version};
use kmsedge::wire::ndr::ResponseStub;
use kmsedge::wire::Packet;
use kmsedge::client::{Options, Session};

fn grant(v: &Vector) -> Grant {
    let e = v.expect();
    Grant {
        epid: Epid::parse(e["epid"].as_str().unwrap()).unwrap(),
        hwid: e["hwid"].as_str().and_then(parse_hwid).unwrap_or([0; 8]),
        current_count: e["active_clients"].as_u64().unwrap() as u32,
        activation_interval: e["activation_interval"].as_u64().unwrap() as u32,
        renewal_interval: e["renewal_interval"].as_u64().unwrap() as u32,
    }
}

/// Recovers the salt and response IV vlmcsd chose, so our host can be fed
/// the same "randomness" and compared byte for byte.
fn recorded_random(resp_msg: &[u8], req_iv_decrypted: &Block) -> ResponseRandom {
    let v = Version::parse(resp_msg);
    if v.major == 4 {
        return ResponseRandom::default();
    }
    let aes = if v.major == 5 { KmsAes::V5 } else { KmsAes::V6 };
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&resp_msg[4..20]);
    let mut body = resp_msg[20..].to_vec();
    aes.cbc_decrypt(&iv, &mut body);
    let (_, n) = ResponseRepr::parse(&body).unwrap();
    let salt = core::array::from_fn(|i| body[n + i] ^ req_iv_decrypted[i]);
    ResponseRandom { salt, iv }
}

#[test]
fn host_reproduces_every_recorded_reply() {
    for v in vectors() {
        let group = u32::from_le_bytes(v.pdus[1].bytes[20..24].try_into().unwrap());
        let config = Config { port: v.port(), ndr64: true, btfn: true, max_pdu: 4096, ..Config::default() };
        let mut conn = Connection::new(config, group);
        for pair in v.pdus.chunks(2) {
            let (c2s, s2c) = (&pair[0], &pair[1]);
            assert!(c2s.c2s && !s2c.c2s);
            assert_eq!(conn.receive(0, &c2s.bytes), c2s.bytes.len());
            let mut out = [0u8; 512];
            let len = match conn.poll(&mut out) {
                Event::Transmit { len, close: false, .. } => len,
                Event::Activation(a) => {
                    let syntax = request_syntax(&c2s.bytes);
                    assert_eq!(a.syntax, syntax, "{}", v.name);
                    let msg = syntax.decode_request(stub(&c2s.bytes)).unwrap();
                    let opened = kms::open_request(msg).unwrap();
                    assert_eq!(a.request, opened.repr);
                    let resp_msg = match syntax.decode_response(stub(&s2c.bytes)).unwrap() {
                        ResponseStub::Message(m) => m,
                        ResponseStub::Refused(hr) => panic!("{}: recorded refusal {hr}", v.name),
                    };
                    let random = recorded_random(resp_msg, &opened.iv.decrypted);
                    conn.answer(&Decision::Grant(grant(&v)), &random, &mut out)
                }
                other => panic!("{}: unexpected {other:?}", v.name),
            };
            let (ours, theirs) = (&out[..len], &s2c.bytes[..]);
            if s2c.ptype == 15 {
                // vlmcsd leaves two bytes of stale memory as padding after
                // the empty secondary address; everything else must match.
                assert_eq!(ours.len(), theirs.len(), "{}", v.name);
                assert_eq!(ours[..26], theirs[..26], "{}", v.name);
                assert_eq!(ours[28..], theirs[28..], "{}", v.name);
                assert_eq!(ours[26..28], [0, 0]);
            } else {
                assert_eq!(ours, theirs, "{}: reply to {} differs", v.name, c2s.ptype);
            }
            assert_eq!(conn.poll(&mut out), Event::NeedData);
        }
    }
}

#[test]
fn verifier_accepts_every_recorded_reply() {
    let mut checked = 0;
    for v in vectors().into_iter().filter(|v| v.hresult() == 0) {
        let e = v.expect();
        for pair in v.pdus.chunks(2).filter(|p| p[0].ptype == 0) {
            let syntax = request_syntax(&pair[0].bytes);
            let msg = syntax.decode_request(stub(&pair[0].bytes)).unwrap();
            let req = kms::open_request(msg).unwrap();
            let expect = Expect::for_request(&req.repr, &req.iv.iv);
            let ResponseStub::Message(resp) = syntax.decode_response(stub(&pair[1].bytes)).unwrap() else {
                panic!()
            };
            let opened = kmsedge::client::check_response(resp, &expect, req.repr.n_policy)
                .unwrap_or_else(|err| panic!("{}: {err}", v.name));
            assert_eq!(opened.repr.epid.as_str(), e["epid"].as_str().unwrap());
            assert_eq!(opened.repr.current_count as u64, e["active_clients"].as_u64().unwrap());
            assert_eq!(opened.repr.activation_interval as u64, e["activation_interval"].as_u64().unwrap());
            assert_eq!(opened.repr.renewal_interval as u64, e["renewal_interval"].as_u64().unwrap());
            if let Some(h) = e["hwid"].as_str() {
                assert_eq!(opened.hwid, parse_hwid(h), "{}", v.name);
            }
            if let Some(sizes) = e["kms_response_size"].as_array() {
                assert!(sizes.iter().any(|s| s.as_u64() == Some(resp.len() as u64)));
            }
            assert_eq!(opened.repr.version.to_string(), v.json["kms_protocol"].as_str().unwrap());
            checked += 1;
        }
    }
    assert_eq!(checked, 18);
}

#[test]
fn requests_carry_the_recorded_client_fields() {
    for v in vectors() {
        for pdu in v.pdus.iter().filter(|p| p.ptype == 0) {
            let syntax = request_syntax(&pdu.bytes);
            let msg = syntax.decode_request(stub(&pdu.bytes)).unwrap();
            match kms::open_request(msg) {
                Ok(req) => {
                    let r = &req.repr;
                    assert_eq!(r.cmid.to_string(), "3b5a8e4f-1d2c-4e6f-9a7b-0c1d2e3f4a5b", "{}", v.name);
                    assert_eq!(r.request_time, kmsedge::time::FileTime::from_unix(v.clock_unix()), "{}", v.name);
                    let ws = r.workstation.to_string();
                    assert!(ws.starts_with("DESKTOP-VECTOR1"), "{}: {ws}", v.name);
                    assert_eq!(r.version, req.version);
                }
                Err(e) => {
                    assert!(v.name.starts_with("err_"), "{}: {e}", v.name);
                    assert_eq!(e.hresult().0, v.hresult());
                }
            }
        }
    }
}

/// Our client, given vlmcs's choices, emits vlmcs's exact bytes and accepts
/// vlmcsd's replies.
#[test]
fn client_session_reproduces_vlmcs() {
    for v in vectors().into_iter().filter(|v| v.from_vlmcs() && v.hresult() == 0) {
        let bind = &v.pdus[0].bytes;
        let p = Packet::new_checked(&bind[..]).unwrap();
        let n_ctx = p.body()[8];
        let offers = |prefix: &[u8]| bind.windows(prefix.len()).any(|w| w == prefix);
        let options = Options {
            offer_ndr64: offers(&kmsedge::wire::syntax::NDR64.uuid.0),
            use_ndr64: false,
            btfn: offers(&kmsedge::wire::syntax::BTFN_PREFIX),
            multiplex: p.flags() & 0x10 != 0,
        };
        let mut s = Session::new(options, p.call_id());
        let mut out = [0u8; 512];
        let n = s.bind(&mut out);
        assert_eq!(&out[..n], &bind[..], "{}: bind ({n_ctx} contexts)", v.name);
        s.on_bind_ack(&v.pdus[1].bytes).unwrap();
        let mut i = 2;
        if s.needs_alter_context() {
            let n = s.alter_context(&mut out);
            assert_eq!(&out[..n], &v.pdus[i].bytes[..], "{}: alter_context", v.name);
            s.on_alter_context_resp(&v.pdus[i + 1].bytes).unwrap();
            i += 2;
        }
        for (k, pair) in v.pdus[i..].chunks(2).enumerate() {
            s.set_use_ndr64(k > 0);
            let syntax = request_syntax(&pair[0].bytes);
            let msg = syntax.decode_request(stub(&pair[0].bytes)).unwrap();
            let req = kms::open_request(msg).unwrap();
            let mut sealed = [0u8; 260];
            let m = kms::seal_request(&req.repr, &req.iv.iv, &mut sealed);
            assert_eq!(&sealed[..m], msg, "{}: sealed request", v.name);
            let n = s.request(&sealed[..m], &mut out).unwrap();
            assert_eq!(&out[..n], &pair[0].bytes[..], "{}: request {k}", v.name);
            match s.on_response(&pair[1].bytes).unwrap() {
                ResponseStub::Message(resp) => {
                    let expect = Expect::for_request(&req.repr, &req.iv.iv);
                    kmsedge::client::check_response(resp, &expect, req.repr.n_policy).unwrap();
                }
                ResponseStub::Refused(hr) => panic!("{hr}"),
            }
        }
    }
}
