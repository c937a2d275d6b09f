//! The conversation decoder (`kmsedge::inspect`) against every recorded
//! vlmcs/py-kms ↔ vlmcsd conversation, against damaged input, and through
//! captures built around the recordings (`kmsedge::capture`, `report`).
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod support;

use support::capture as cap;
use support::vectors::{Vector, vector, vectors};
use kmsedge::inspect::{
    self, Direction, ErrorKind, Item, ItemKind, KmsResponse, Outcome, RequestIntegrity, ResponseBody, SyntaxKind,
    SyntaxSource, Verdict,
};
use kmsedge::wire::Syntax;
use serde_json::Value;

fn stream(v: &Vector) -> Vec<u8> {
    v.pdus.iter().flat_map(|p| p.bytes.iter().copied()).collect()
}

fn items(bytes: &[u8]) -> Vec<Item<'_>> {
    inspect::decode(bytes).map(|r| r.unwrap_or_else(|e| panic!("{e}"))).collect()
}

/// vlmcs prints "guid (name)"; the id is what must agree.
fn id_of(s: &Value) -> String {
    s.as_str().unwrap().split(' ').next().unwrap().to_string()
}

fn response_of<'a>(item: &Item<'a>) -> Option<KmsResponse> {
    match item.kind {
        ItemKind::Response(r) => match r.kms.unwrap() {
            ResponseBody::Message(m) => Some(m),
            ResponseBody::Refused(_) => None,
        },
        _ => None,
    }
}

#[test]
fn every_vector_decodes_pdu_by_pdu() {
    let mut requests = 0;
    let mut responses = 0;
    for v in vectors() {
        let bytes = stream(&v);
        let items = items(&bytes);
        assert_eq!(items.len(), v.pdus.len(), "{}", v.name);
        let mut offset = 0;
        let syntaxes: Vec<Syntax> = v.json["transfer_syntaxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| if s == "ndr64" { Syntax::Ndr64 } else { Syntax::Ndr32 })
            .collect();
        let mut req_i = 0;
        let mut resp_i = 0;
        for (item, pdu) in items.iter().zip(&v.pdus) {
            let h = item.header.unwrap();
            assert_eq!(u8::from(h.ptype), pdu.ptype, "{}", v.name);
            assert_eq!(item.offset, offset);
            assert_eq!(item.bytes, &pdu.bytes[..]);
            assert_eq!(item.direction() == Direction::ClientToServer, pdu.c2s, "{}", v.name);
            offset += pdu.bytes.len();
            match item.kind {
                ItemKind::BindAck(a) => {
                    let expect_addr = if a.alter { String::new() } else { v.port().to_string() };
                    assert_eq!(a.secondary_addr(), expect_addr.as_bytes(), "{}", v.name);
                    for r in a.results() {
                        let offered = r.offer.unwrap().transfer.kind;
                        match offered {
                            SyntaxKind::Btfn { features } => {
                                assert_eq!(features, 3);
                                assert_eq!(r.btfn_ack(), Some(3), "{}", v.name);
                            }
                            SyntaxKind::Ndr32 if a.results().any(|x| x.syntax.kind == SyntaxKind::Ndr64) => {
                                assert!(!r.accepted());
                                assert_eq!(r.reason_name(), Some("proposed transfer syntaxes not supported"));
                            }
                            SyntaxKind::Ndr32 | SyntaxKind::Ndr64 => {
                                assert!(r.accepted(), "{}", v.name);
                                assert_eq!(r.syntax.kind, offered);
                            }
                            other => panic!("{}: offered {other:?}", v.name),
                        }
                    }
                }
                ItemKind::Request(r) => {
                    assert_eq!(r.syntax, syntaxes[req_i], "{}: request {req_i}", v.name);
                    assert_eq!(r.syntax_source, SyntaxSource::Negotiated);
                    assert_eq!(r.opnum, 0);
                    let k = r.kms.unwrap();
                    assert_eq!(k.version.to_string(), v.json["kms_protocol"].as_str().unwrap(), "{}", v.name);
                    assert_eq!(k.is_supported(), !v.name.starts_with("err_"));
                    assert!(k.integrity.is_valid(), "{}", v.name);
                    let q = k.repr.unwrap();
                    assert_eq!(q.cmid.to_string(), "3b5a8e4f-1d2c-4e6f-9a7b-0c1d2e3f4a5b");
                    assert_eq!(q.request_time, kmsedge::time::FileTime::from_unix(v.clock_unix()));
                    if v.name.starts_with("pykms_client_win7") {
                        assert_eq!(k.trailing, 4, "py-kms pads V4 requests");
                    }
                    // Against what vlmcs itself printed about the request.
                    if let Some(d) = v.json["client_decoded"]["requests"].as_array() {
                        let d = &d[req_i];
                        assert_eq!(q.version.to_string(), d["Protocol version"].as_str().unwrap());
                        assert_eq!(q.is_vm(), d["Client is a virtual machine"] == "Yes");
                        let status = format!(
                            "{} ({})",
                            q.license_status,
                            kmsedge::kms::request::license_status_name(q.license_status)
                        );
                        assert_eq!(status, d["Licensing status"].as_str().unwrap(), "{}", v.name);
                        assert_eq!(format!("{} minutes", q.binding_expiration), d["Remaining time (0 = forever)"]);
                        assert_eq!(q.application.to_string(), id_of(&d["Application ID"]));
                        assert_eq!(q.sku.to_string(), id_of(&d["SKU ID (aka Activation ID)"]));
                        assert_eq!(q.kms_id.to_string(), id_of(&d["KMS ID (aka KMS counted ID)"]));
                        assert_eq!(q.cmid.to_string(), d["Client machine ID"]);
                        assert_eq!(q.previous_cmid.to_string(), d["Previous client machine ID"]);
                        assert_eq!(q.request_time.to_string(), d["Client request timestamp (UTC)"]);
                        assert_eq!(q.workstation.to_string(), d["Workstation name"]);
                        assert_eq!(q.n_policy.to_string(), d["N count policy (minimum clients)"]);
                    }
                    // Names from the catalogue for every supported product.
                    if k.is_supported() {
                        assert!(k.application().is_some() && k.sku().is_some() && k.kms_id().is_some(), "{}", v.name);
                    }
                    req_i += 1;
                    requests += 1;
                }
                ItemKind::Response(r) => {
                    assert_eq!(r.syntax_source, SyntaxSource::FromRequest);
                    if v.hresult() != 0 {
                        match r.kms.unwrap() {
                            ResponseBody::Refused(hr) => {
                                assert_eq!(hr.0, v.hresult());
                                assert_eq!(hr.name(), Some("ERROR_INVALID_DATA"));
                            }
                            other => panic!("{}: {other:?}", v.name),
                        }
                        continue;
                    }
                    let m = response_of(item).unwrap();
                    assert_eq!(m.verdict(), Verdict::Verified, "{}", v.name);
                    assert!(m.checks().all(|c| c.outcome == Outcome::Pass));
                    assert_eq!(m.count_sufficient(), Some(true));
                    let e = v.expect();
                    let repr = m.opened.repr;
                    assert_eq!(repr.epid.as_str(), e["epid"].as_str().unwrap());
                    assert!(repr.epid.parts().is_some());
                    assert_eq!(u64::from(repr.current_count), e["active_clients"].as_u64().unwrap());
                    assert_eq!(u64::from(repr.activation_interval), e["activation_interval"].as_u64().unwrap());
                    assert_eq!(u64::from(repr.renewal_interval), e["renewal_interval"].as_u64().unwrap());
                    let hwid = m.opened.hwid.map(|h| kmsedge::epid::format_hwid(&h).to_string());
                    assert_eq!(hwid.as_deref(), e["hwid"].as_str(), "{}", v.name);
                    let checks: Vec<&str> = m.checks().map(|c| c.id).collect();
                    match repr.version.major {
                        4 => assert_eq!(checks, ["version", "cmid", "request_time", "mac"]),
                        5 => assert_eq!(checks, ["version", "cmid", "request_time", "iv", "salt_hash"]),
                        _ => {
                            assert_eq!(checks, ["version", "cmid", "request_time", "iv", "salt_hash", "xored_ivs", "hmac"]);
                            assert_eq!(m.hmac_slot(), Some(0));
                        }
                    }
                    if let Some(d) = v.json["client_decoded"]["responses"].as_array() {
                        let d = &d[resp_i];
                        assert_eq!(repr.epid.as_str(), d["KMS host extended PID"]);
                        assert_eq!(repr.current_count.to_string(), d["KMS host current active clients"]);
                        assert_eq!(repr.request_time.to_string(), d["Client request timestamp (UTC)"]);
                    }
                    resp_i += 1;
                    responses += 1;
                }
                _ => {}
            }
        }
    }
    assert_eq!((requests, responses), (20, 18));
}

#[test]
fn a_response_alone_verifies_what_it_can() {
    for v in vectors().into_iter().filter(|v| v.hresult() == 0) {
        let pdu = &v.pdus.iter().find(|p| p.ptype == 2).unwrap().bytes;
        let items = items(pdu);
        let ItemKind::Response(r) = items[0].kind else { panic!() };
        assert_eq!(r.syntax_source, SyntaxSource::Guessed);
        let m = response_of(&items[0]).unwrap();
        assert_eq!(m.verdict(), Verdict::Incomplete, "{}", v.name);
        for c in m.checks() {
            // The MAC and HMAC need only the response; the rest need the request.
            let standalone = matches!(c.id, "mac" | "hmac");
            assert_eq!(c.outcome, if standalone { Outcome::Pass } else { Outcome::Unknown }, "{}: {}", v.name, c.id);
        }
        assert_eq!(m.count_sufficient(), None);
    }
}

/// The KMS message inside a request or response PDU of a vector.
fn message_of(pdu: &[u8], ptype: u8) -> &[u8] {
    let item = items(pdu).remove(0);
    match (ptype, item.kind) {
        (0, ItemKind::Request(r)) => {
            let k = r.kms.unwrap();
            &pdu[k.offset..k.offset + k.len]
        }
        (2, _) => {
            let m = response_of(&item).unwrap();
            &pdu[m.offset..m.offset + m.len]
        }
        _ => panic!(),
    }
}

#[test]
fn bare_messages() {
    for v in vectors().into_iter().filter(|v| v.hresult() == 0) {
        let req = message_of(&v.pdus.iter().find(|p| p.ptype == 0).unwrap().bytes, 0).to_vec();
        let resp = message_of(&v.pdus.iter().find(|p| p.ptype == 2).unwrap().bytes, 2).to_vec();
        // Request alone.
        let it = items(&req);
        assert!(matches!(it[..], [Item { kind: ItemKind::KmsRequest(_), header: None, .. }]), "{}", v.name);
        // Request followed by its response: fully verified.
        let both: Vec<u8> = req.iter().chain(&resp).copied().collect();
        let it = items(&both);
        assert_eq!(it.len(), 2);
        let ItemKind::KmsResponse(m) = it[1].kind else { panic!("{}", v.name) };
        assert_eq!((it[1].offset, m.verdict()), (req.len(), Verdict::Verified), "{}", v.name);
        assert_eq!(it[1].type_name(), "kms_response");
        // Response alone.
        let it = items(&resp);
        let ItemKind::KmsResponse(m) = it[0].kind else { panic!("{}", v.name) };
        assert_eq!(m.verdict(), Verdict::Incomplete);
    }
}

#[test]
fn tampering_is_reported_not_hidden() {
    for v in vectors().into_iter().filter(|v| v.hresult() == 0) {
        let mut bytes = stream(&v);
        let items_ok = items(&bytes);
        let (req, resp) = {
            let r = items_ok.iter().find(|i| matches!(i.kind, ItemKind::Request(_))).unwrap();
            let ItemKind::Request(q) = r.kind else { unreachable!() };
            let m = items_ok.iter().find_map(response_of).unwrap();
            (q.kms.unwrap(), m)
        };
        // Flip the last byte of the request message (inside the V4 MAC or
        // the V5/V6 ciphertext's last block) and one byte of the response.
        bytes[req.offset + req.len - 1] ^= 0x01;
        bytes[resp.offset + resp.len - 1] ^= 0x01;
        let it: Vec<_> = inspect::decode(&bytes).collect();
        let q = it.iter().find_map(|i| match i.as_ref().unwrap().kind {
            ItemKind::Request(r) => Some(r.kms.unwrap()),
            _ => None,
        });
        match req.version.major {
            4 => assert_eq!(q.unwrap().integrity, RequestIntegrity::Mac(false), "{}", v.name),
            _ => assert_eq!(q.unwrap().integrity, RequestIntegrity::Padding(false), "{}", v.name),
        }
        // The response: V4 MAC fails; V5/V6 no longer decrypt to valid padding.
        let r = it.iter().find_map(|i| match i.as_ref().unwrap().kind {
            ItemKind::Response(r) => Some(r.kms),
            _ => None,
        });
        match (req.version.major, r.unwrap()) {
            (4, Ok(ResponseBody::Message(m))) => assert_eq!(m.verdict(), Verdict::Failed("mac")),
            (_, Err(e)) => {
                assert_eq!(e.offset, resp.offset + 20, "{}", v.name);
                assert!(e.to_string().contains("padding"), "{e}");
            }
            (_, other) => panic!("{}: {other:?}", v.name),
        }
    }
}

#[test]
fn every_truncation_names_its_offset() {
    let v = vector("v6_win10_enterprise_ndr64");
    let bytes = stream(&v);
    let ends: Vec<usize> = v.pdus.iter().scan(0, |at, p| {
        *at += p.bytes.len();
        Some(*at)
    }).collect();
    for cut in 1..bytes.len() {
        let results: Vec<_> = inspect::decode(&bytes[..cut]).collect();
        let whole = ends.iter().filter(|&&e| e <= cut).count();
        if ends.contains(&cut) {
            assert!(results.iter().all(|r| r.is_ok()), "cut {cut}");
            continue;
        }
        // Every complete PDU decodes, then one error at the cut.
        assert_eq!(results.len(), whole + 1, "cut {cut}");
        let e = results.last().unwrap().as_ref().unwrap_err();
        assert_eq!(e.offset, cut, "cut {cut}: {e}");
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("at byte {cut}: ")) && msg.contains("expected"), "{msg}");
    }
}

#[test]
fn malformed_pdus() {
    let v = vector("v5_win8_enterprise_ndr32");
    let bytes = stream(&v);
    let first = v.pdus[0].bytes.len();
    let second = first + v.pdus[1].bytes.len();
    let err_at = |b: &[u8]| -> inspect::Error {
        inspect::decode(b).find_map(|r| r.err()).expect("an error")
    };
    // RPC version of the second PDU.
    let mut b = bytes.clone();
    b[first] = 4;
    let e = err_at(&b);
    assert_eq!((e.offset, e.kind), (first, ErrorKind::RpcVersion { major: 4, minor: 0 }));
    assert!(e.to_string().contains("expected 5.0"));
    // Big-endian data representation.
    let mut b = bytes.clone();
    b[first + 4] = 0x00;
    assert_eq!(err_at(&b).offset, first + 4);
    // frag_length below the header size.
    let mut b = bytes.clone();
    b[first + 8] = 8;
    b[first + 9] = 0;
    assert_eq!(err_at(&b).kind, ErrorKind::FragLength(8));
    // A bind context with no transfer syntax: reported, and decoding goes on.
    let mut b = bytes.clone();
    b[16 + 12 + 2] = 0;
    let all: Vec<_> = inspect::decode(&b).collect();
    assert!(matches!(all[0], Err(inspect::Error { kind: ErrorKind::Malformed(_), .. })), "{:?}", all[0]);
    assert!(all[1..].iter().all(|r| r.is_ok()), "the next PDUs still decode");
    // Request stub claims more bytes than it has (size = conformance = 999).
    let mut b = bytes.clone();
    let stub = second + 24;
    b[stub..stub + 4].copy_from_slice(&999u32.to_le_bytes());
    b[stub + 4..stub + 8].copy_from_slice(&999u32.to_le_bytes());
    let req = inspect::decode(&b).find_map(|r| match r.unwrap().kind {
        ItemKind::Request(q) => Some(q),
        _ => None,
    });
    let e = req.unwrap().kms.unwrap_err();
    assert_eq!(e.offset, stub + 268, "{e}");
    assert!(e.to_string().contains("expected 1007 bytes"), "{e}");
    // Fragmented request.
    let mut b = bytes.clone();
    b[second + 3] = 0x01;
    let req = inspect::decode(&b).find_map(|r| match r.unwrap().kind {
        ItemKind::Request(q) => Some(q),
        _ => None,
    });
    assert_eq!(req.unwrap().kms.unwrap_err().kind, ErrorKind::Fragmented { flags: 0x01 });
    // Junk that is neither RPC nor KMS.
    let e = err_at(b"GET / HTTP/1.1\r\n");
    assert_eq!(e.offset, 0);
    assert!(e.to_string().contains("expected a DCE/RPC header"), "{e}");
}

#[test]
fn faults_and_refusals_by_name() {
    // A fault PDU as a host sends it for an unknown context (§3.10).
    let mut f = vec![5, 0, 3, 0x23, 0x10, 0, 0, 0, 32, 0, 0, 0, 7, 0, 0, 0];
    f.extend_from_slice(&32u32.to_le_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(&0x1C01_0003u32.to_le_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    let it = items(&f);
    let ItemKind::Fault(x) = it[0].kind else { panic!() };
    assert_eq!((x.status, x.alloc_hint), (0x1C01_0003, 32));
    assert!(x.status_name().starts_with("nca_s_unk_if"));
    assert_eq!(it[0].header.unwrap().call_id, 7);
}

#[test]
fn hex_forms_all_give_the_same_bytes() {
    let v = vector("v4_win7_professional_ndr32");
    let bytes = stream(&v);
    let plain: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    let spaced: String = bytes.iter().map(|b| format!("{b:02x} ")).collect();
    let c_array: String = bytes.iter().map(|b| format!("0x{b:02x}, ")).collect();
    let xxd: String = bytes
        .chunks(16)
        .enumerate()
        .map(|(i, c)| {
            let hex: Vec<String> = c.chunks(2).map(|p| p.iter().map(|b| format!("{b:02x}")).collect()).collect();
            let ascii: String = c.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
            format!("{:08x}: {:<40} {ascii}\n", i * 16, hex.join(" "))
        })
        .collect();
    for text in [plain, spaced, c_array, xxd] {
        let mut out = vec![0u8; inspect::hex::max_len(&text)];
        let n = inspect::parse_hex(&text, &mut out).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&out[..n], &bytes[..]);
    }
}

#[cfg(feature = "capture")]
mod captures {
    use super::*;
    use kmsedge::capture::{self, Format};
    use kmsedge::report;

    fn frames(v: &Vector, sport: u16) -> Vec<Vec<u8>> {
        cap::conversation_frames(&v.directed(), 49_700, sport)
    }

    #[test]
    fn pcap_and_pcapng_give_the_recorded_conversation() {
        for v in vectors() {
            let frames = frames(&v, 1688);
            for (file, format) in [(cap::pcap(&frames), Format::Pcap), (cap::pcapng(&frames), Format::PcapNg)] {
                let c = capture::read(&file).unwrap_or_else(|e| panic!("{}: {e}", v.name));
                assert_eq!((c.format, c.packets), (format, frames.len()));
                assert_eq!(c.conversations.len(), 1, "{}", v.name);
                let conv = &c.conversations[0];
                assert_eq!(conv.client.to_string(), "10.0.0.2:49700");
                assert_eq!(conv.server.to_string(), "10.0.0.1:1688");
                assert_eq!(conv.stream, stream(&v), "{}: {format:?}", v.name);
                assert_eq!(conv.chunks.len(), v.pdus.len());
                assert!(conv.notes.is_empty(), "{:?}", conv.notes);
                // Same report as the bytes themselves, plus packet numbers.
                let from_file = report::from_capture(&file);
                let from_bytes = report::from_bytes("binary", &stream(&v));
                assert!(from_file.ok(), "{:?}", from_file.errors);
                let strip = |r: &report::Report| -> Value {
                    let mut j: Value = serde_json::from_str(&r.to_json()).unwrap();
                    let items = j["conversations"][0]["items"].as_array_mut().unwrap();
                    for i in items.iter_mut() {
                        assert!(i["frame"].is_u64() || r.root.get("source").unwrap().as_str() == Some("binary"));
                        i["frame"] = Value::Null;
                    }
                    j["conversations"][0]["items"].clone()
                };
                assert_eq!(strip(&from_file), strip(&from_bytes), "{}", v.name);
            }
        }
    }

    #[test]
    fn a_host_on_another_port_is_found_by_its_bind() {
        let v = vector("v6_win10_enterprise_ndr64");
        let c = capture::read(&cap::pcap(&frames(&v, 11688))).unwrap();
        assert_eq!(c.conversations.len(), 1);
        assert_eq!(c.conversations[0].server.port(), 11688);
        assert_eq!(c.conversations[0].stream, stream(&v));
    }

    #[test]
    fn ipv6_and_unrelated_traffic() {
        let v = vector("v4_win7_professional_ndr32");
        let (c6, s6) = ([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let mut frames = vec![cap::frame4([10, 0, 0, 9], [10, 0, 0, 1], 5555, 80, 1, cap::ACK, b"GET / HTTP/1.1\r\n\r\n")];
        let mut seq = [100u32, 900u32];
        for p in &v.pdus {
            let s = &mut seq[usize::from(!p.c2s)];
            frames.push(if p.c2s {
                cap::frame6(c6, s6, 50_000, 1688, *s, cap::ACK, &p.bytes)
            } else {
                cap::frame6(s6, c6, 1688, 50_000, *s, cap::ACK, &p.bytes)
            });
            *s += p.bytes.len() as u32;
        }
        let c = capture::read(&cap::pcapng(&frames)).unwrap();
        assert_eq!(c.conversations.len(), 1, "the HTTP flow is not KMS");
        assert_eq!(c.conversations[0].client.to_string(), "[2001:db8::2]:50000");
        assert_eq!(c.conversations[0].stream, stream(&v));
    }

    #[test]
    fn holes_and_bad_files_are_explained() {
        let v = vector("v5_win8_enterprise_ndr32");
        let mut frames = frames(&v, 1688);
        // Drop the server's first data segment: its stream has a hole.
        let lost = frames.iter().position(|f| f[34..36] == 1688u16.to_be_bytes() && f.len() > 54).unwrap();
        frames.remove(lost);
        let c = capture::read(&cap::pcap(&frames)).unwrap();
        let notes = &c.conversations[0].notes;
        assert!(notes.iter().any(|n| n.contains("bytes missing at stream offset 0")), "{notes:?}");
        // Not a capture at all, a truncated header, no KMS traffic.
        let e = capture::read(b"hello world").unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.to_string().contains("expected the magic number of pcap"), "{e}");
        let r = report::from_capture(&cap::pcap(&[])[..10]);
        assert!(!r.ok() && r.errors[0].contains("pcap file header"), "{:?}", r.errors);
        let http = cap::pcap(&[cap::frame4([10, 0, 0, 9], [10, 0, 0, 1], 5555, 80, 1, cap::ACK, b"GET /")]);
        let r = report::from_capture(&http);
        assert!(r.errors[0].contains("no KMS conversation in the capture's 1 packets"), "{:?}", r.errors);
        // A file cut inside a packet record: the packets before it decode.
        let full = cap::pcap(&super::captures::frames(&v, 1688));
        let c = capture::read(&full[..full.len() - 10]).unwrap();
        assert!(c.notes[0].contains("the file ends inside the packet record"), "{:?}", c.notes);
    }

    #[test]
    fn json_and_text_reports() {
        let v = vector("v6_win10_enterprise_ndr64");
        let hex: String = stream(&v).iter().map(|b| format!("{b:02x}")).collect();
        let r = report::from_hex(&hex);
        let j: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["ok"], true);
        let items = j["conversations"][0]["items"].as_array().unwrap();
        assert_eq!(items.len(), 8);
        let req = &items[4]["request"]["kms"];
        assert_eq!(req["sku"]["name"], "Windows 10/11 Enterprise");
        assert_eq!(req["license_status"]["name"], "OOB grace");
        assert_eq!(req["request_time"], "2024-06-01 00:00:00 UTC");
        assert_eq!(req["request_time_filetime"], "133616736000000000");
        let resp = &items[5]["response"]["kms"];
        assert_eq!(resp["verdict"], "verified");
        assert_eq!(resp["hwid"], "0123456789ABCDEF");
        assert_eq!(resp["epid_parts"]["host_build"], 20348);
        assert_eq!(resp["epid_parts"]["activation_date"], "2024-05-31");
        assert_eq!(items[1]["bind_ack"]["results"][1]["syntax"]["name"], "NDR64");
        let text = r.to_text();
        assert!(text.contains("#1  s2c  bind_ack  @160, 108 bytes"), "{text}");
        assert!(text.contains("context 0 (NDR32 v2): provider rejection, proposed transfer syntaxes not supported"));
        assert!(text.contains("verdict: verified"));
        assert!(text.contains("pass: HMAC keyed from the request time"));
        // Bad hex: one error, with its position.
        let r = report::from_hex("05 00 zz");
        assert_eq!(r.errors.len(), 1);
        assert!(r.errors[0].contains("line 1 column 7"), "{:?}", r.errors);
        assert_eq!(r.root.get("error").unwrap().get("offset"), Some(&report::Node::Int(6)));
    }
}
