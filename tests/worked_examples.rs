//! The worked examples of kms-protocol.md §9.5 and §9.6, reproduced byte for
//! byte through the public API: client sealing, host opening and sealing,
//! client verification, and the RPC framing of the host connection.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod support;
use support::vectors::hex;
use kmsedge::epid::Epid;
use kmsedge::host::{Config, Connection, Decision, Event, Grant, Transmitted};
use kmsedge::kms::{self, Expect, RequestRepr, ResponseRandom, ResponseRepr, Version, Workstation};
use kmsedge::time::FileTime;
use kmsedge::{Guid, HResult};

/// kms-protocol.md §9.5 (160 bytes)
const V4_RESPONSE: &str = concat!(
    "0000040064000000300033003600310032002D00300030003200300036002D00",
    "3500360030002D003100320033003400350036002D00300033002D0031003000",
    "330033002D00310037003700360033002E0030003000300030002D0033003600",
    "35003200300032003300000078563412BC9AEF4D8123456789ABCDEF00C08976",
    "453CDA013200000078000000602700009AEA0327976013AF9EAE7342CE10A375",
);
/// kms-protocol.md §9.5 (260 bytes)
const V5_REQUEST: &str = concat!(
    "00000500000102030405060708090A0B0C0D0E0F953CCCDA1E87C124691CBB4B",
    "D7BBA5F70B4B401990AD011BF5E10BF002647E0BF21DF494408A478B8CF83492",
    "3FC59CF2B3752C518B624988206827B4F010D1B948A0D55B0ECEAF97B27BEA68",
    "D23FA06E2FAB15323AF062B200C2152429B97EE1FB520430CCC6DE53E685B7BA",
    "908D5733C3BB7183EF145EAC741381A1B2E32159720DA4E7E0A2278AC521CCA0",
    "A0FE1B9E336DCD5F39996805FC3FF15A28CBBB9215B4833792AAA3D7CE848F25",
    "49E3184EA1732324E4E341676D7F42681A569B35A2FDA0D22D2778693D6ADDCE",
    "7226612757AB6777728F84C0B948FDF0776BB5FEB9437C2103BF58D36D1F95A0",
    "268A0249",
);
/// kms-protocol.md §9.5 (228 bytes)
const V5_RESPONSE: &str = concat!(
    "00000500000102030405060708090A0B0C0D0E0FC006242CD7DCAD6D834E770C",
    "EBB1500E3A462D4042E66D500EE583794BE0B31A3A37317D15EB0BC8E1E20DD9",
    "A14514A3B269EA08906E835EE1C8CBC8627437E3126245128CD1D2E421CE41B5",
    "3811F1179BB7448B42F41CD5AEC318C310B7DB85E40D72F2A3F29E916F376C89",
    "5DDAC25FB70CF2CB744DCC03194DE95C2ED6424E273E90FE5A9016F171A502FB",
    "F7830559EDC122DED0AEF155477C640129347A2FDEFFBE113CBF0156758EBCCC",
    "B41DC567AD38A3403AB0595B837A0C113C0D777E4CD31B655A9E50F73895C5CA",
    "C58C6FEE",
);
/// kms-protocol.md §9.5 (260 bytes)
const V6_REQUEST: &str = concat!(
    "00000600000102030405060708090A0B0C0D0E0F0E9FD870B28B8285F736F82C",
    "6CD0E06B03FCFFED0B5B85DD300094CAC36BE165EE8F2EAA5553E2CB07D52165",
    "F412990E41CC3531119F72A7FB4DBE159F2EA556158969BE3B938A717361420E",
    "466CF7B74AC76265DEE585F1701263429C33F9562CA007815E2D226589C20463",
    "66A7273EF050AC292F830E3B273A689AAAA100D2E9FF945DBF0631379C329D09",
    "CDDB0FF34602095B42F786397AAC7DA1833A6901569AE6E361445D1884324368",
    "9A7C3B524019409AA5375CDB25A722A66B105CBF3AB55CE9645CD7324EDDC420",
    "EC10E79EA25370C909105E4C2F254F4AEC373AD0499C85437127D5BB79C09237",
    "36A94196",
);
/// kms-protocol.md §9.5 (260 bytes)
const V6_RESPONSE: &str = concat!(
    "00000600202122232425262728292A2B2C2D2E2F4800A40388B28C2070531B33",
    "06ED4AA3DED8CD373CA216716C016C3C5DE97E9A32CE2CD8EB7E14E8431C7DE6",
    "10D60157395916D3162A4CC619DB6130478719E1CD1AF455182E14C362C8F729",
    "EAFDAC6C849B68BC372A866991B87B78E7EC2DECC4B3A1461858BF69F88F3B6D",
    "5836BF6B9145EF1256193E288D392172244766B8742BBE11921E5D90B81D213B",
    "439E7045E1AC4D2A551185B120EA1DA33C8720934AC385A2606637D89BE60C76",
    "5019B31EF492204A7E8EDE8C348BB42BB4116E094F9FAF30F4B74B139125635A",
    "E31277AE1CFDFE51B0C9AF6C7A89F6AA874FCE5DB0367028DF729C490FB9823F",
    "05B09A37",
);

const EPID: &str = "03612-00206-560-123456-03-1033-17763.0000-3652023";
const HWID: [u8; 8] = [0x3A, 0x1C, 0x04, 0x96, 0x00, 0xB6, 0x00, 0x76];
const REQUEST_IV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const SALT: [u8; 16] = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F];
const RESPONSE_IV: [u8; 16] = [0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F];

fn request(major: u16) -> RequestRepr {
    RequestRepr {
        version: Version { major, minor: 0 },
        vm_info: 0,
        license_status: 2,
        binding_expiration: 43_200,
        application: Guid::parse("55c92734-d682-4d71-983e-d6ec3f16059f").unwrap(),
        sku: Guid::parse("2de67392-b7a7-462a-b1ca-108dd189f588").unwrap(),
        kms_id: Guid::parse("58e2134f-8e11-4d17-9cb2-91069c151148").unwrap(),
        cmid: Guid::parse("12345678-9abc-4def-8123-456789abcdef").unwrap(),
        n_policy: 25,
        request_time: FileTime(133_485_408_000_000_000),
        previous_cmid: Guid::ZERO,
        workstation: Workstation::new("WS01.example.com"),
    }
}

fn grant() -> Grant {
    Grant { epid: Epid::parse(EPID).unwrap(), hwid: HWID, current_count: 50, activation_interval: 120, renewal_interval: 10_080 }
}

fn response(major: u16) -> ResponseRepr {
    let r = request(major);
    ResponseRepr {
        version: r.version,
        epid: Epid::parse(EPID).unwrap(),
        cmid: r.cmid,
        request_time: r.request_time,
        current_count: 50,
        activation_interval: 120,
        renewal_interval: 10_080,
    }
}

const RANDOM: ResponseRandom = ResponseRandom { salt: SALT, iv: RESPONSE_IV };

/// Client seals, host opens and seals, client verifies: every byte as §9.5.
fn round_trip(major: u16, want_request: &[u8], want_response: &[u8]) {
    let repr = request(major);
    let mut req = [0u8; 260];
    let n = kms::seal_request(&repr, &REQUEST_IV, &mut req);
    assert_eq!(&req[..n], want_request, "V{major} request");

    let opened = kms::open_request(&req[..n]).unwrap();
    assert_eq!(opened.repr, repr);
    assert_eq!(opened.version, repr.version);

    let mut resp = [0u8; kms::MAX_RESPONSE_LEN];
    let m = kms::seal_response(&response(major), &opened.iv, &RANDOM, &HWID, &mut resp);
    assert_eq!(&resp[..m], want_response, "V{major} response");

    let checked = kmsedge::client::check_response(&resp[..m], &Expect::for_request(&repr, &REQUEST_IV), 25).unwrap();
    assert_eq!(checked.repr, response(major));
    assert_eq!(checked.hwid, if major == 6 { Some(HWID) } else { None });
}

#[test]
fn v4_worked_example() {
    let mut want = [0u8; 252];
    request(4).emit(&mut want);
    want[236..].copy_from_slice(&hex("2B92E010AE558754AD0D410E4B21BC44"));
    round_trip(4, &want, &hex(V4_RESPONSE));
}

#[test]
fn v5_worked_example() {
    let opened = kms::open_request(&hex(V5_REQUEST)).unwrap();
    assert_eq!(opened.iv.decrypted[..], hex("86BF207B6970EF43830E988FF1E6F329")[..]);
    round_trip(5, &hex(V5_REQUEST), &hex(V5_RESPONSE));
}

#[test]
fn v6_worked_example() {
    let opened = kms::open_request(&hex(V6_REQUEST)).unwrap();
    assert_eq!(opened.iv.decrypted[..], hex("7C49A81964119E65C24B99A098AFE453")[..]);
    round_trip(6, &hex(V6_REQUEST), &hex(V6_RESPONSE));
}

#[test]
fn tampered_responses_fail_the_right_check() {
    use kms::VerifyError;
    let expect = |major| Expect::for_request(&request(major), &REQUEST_IV);
    // V4: one flipped byte in the count breaks the MAC.
    let mut v4 = hex(V4_RESPONSE);
    v4[0x88] ^= 1;
    assert_eq!(kms::open_response(&v4, &expect(4)).unwrap().verify(), Err(VerifyError::BadMac));
    // V5 with a different request IV: the IV is not echoed.
    let mut e5 = expect(5);
    e5.iv[0] ^= 1;
    let v5 = kms::open_response(&hex(V5_RESPONSE), &e5).unwrap();
    assert_eq!(v5.checks.iv, Some(false));
    assert_eq!(v5.checks.salt_hash, Some(false));
    // V6 answered to another CMID fails the echo check first.
    let mut e6 = expect(6);
    e6.cmid = Guid::ZERO;
    assert_eq!(kms::open_response(&hex(V6_RESPONSE), &e6).unwrap().verify(), Err(VerifyError::CmidMismatch));
    // A V6 response whose last ciphertext block is damaged no longer unpads.
    let mut v6 = hex(V6_RESPONSE);
    let last = v6.len() - 1;
    v6[last] ^= 0x55;
    assert!(kms::open_response(&v6, &expect(6)).is_err());
}

/// §9.6: the vlmcs bind, the NDR64-preferring bind_ack, alter_context, the
/// V6 request on both contexts, a refusal and a fault.
#[test]
fn rpc_framing_example() {
    let bind = hex("05000B1310000000A000000002000000D016D0160000000003000000000001007521C8514E845047B0D8EC255555BC0601000000045D888AEB1CC9119FE808002B10486002000000010001007521C8514E845047B0D8EC255555BC060100000033057171BABE37498319B5DBEF9CCC3601000000020001007521C8514E845047B0D8EC255555BC06010000002C1CB76C12984045030000000000000001000000");
    let bind_ack = hex("05000C13100000006C00000002000000D016D016B3A201000500313638380000030000000200020000000000000000000000000000000000000000000000000033057171BABE37498319B5DBEF9CCC3601000000030003000000000000000000000000000000000000000000");
    let alter = hex("05000E13100000004800000002000000D016D0160000000001000000000001007521C8514E845047B0D8EC255555BC0601000000045D888AEB1CC9119FE808002B10486002000000");
    let alter_resp = hex("05000F03100000003800000002000000D016D016B3A20100000000000100000000000000045D888AEB1CC9119FE808002B10486002000000");
    let mut conn = Connection::new(Config::default(), 0x0001_A2B3);
    let mut out = [0u8; 512];
    let send = |conn: &mut Connection, pdu: &[u8], out: &mut [u8]| {
        assert_eq!(conn.receive(0, pdu), pdu.len());
        conn.poll(out)
    };
    assert_eq!(send(&mut conn, &bind, &mut out), Event::Transmit { len: 108, close: false, what: Transmitted::BindAck });
    assert_eq!(&out[..108], &bind_ack[..]);
    assert_eq!(send(&mut conn, &alter, &mut out), Event::Transmit { len: 56, close: false, what: Transmitted::AlterContextResp });
    assert_eq!(&out[..56], &alter_resp[..]);

    // The V6 request on NDR32 (ctx 0, call 3), then on NDR64 (ctx 1, call 4).
    let msg = hex(V6_REQUEST);
    for (ctx, pdu_len, resp_len) in [(0u16, 292usize, 300usize), (1, 300, 312)] {
        let mut pdu = vec![0u8; pdu_len];
        let prefix = if ctx == 0 { 8 } else { 16 };
        pdu[24 + prefix..].copy_from_slice(&msg);
        let syntax = if ctx == 0 { kmsedge::wire::Syntax::Ndr32 } else { kmsedge::wire::Syntax::Ndr64 };
        let stub = syntax.encode_request(&mut pdu[24..], msg.len());
        kmsedge::wire::call::emit_request_header(&mut pdu[16..], stub as u32, ctx, 0);
        let hdr = kmsedge::wire::Header { ptype: kmsedge::wire::PacketType::Request, flags: 3, frag_len: pdu_len as u16, call_id: 3 + ctx as u32 };
        hdr.emit(&mut pdu);
        if ctx == 0 {
            assert_eq!(&pdu[..0x24], &hex("050000031000000024010000030000000C010000000000000401000004010000000006 00")[..]);
        }
        let Event::Activation(a) = send(&mut conn, &pdu, &mut out) else { panic!("no activation") };
        assert_eq!(a.request, request(6));
        assert_eq!(a.syntax, syntax);
        let len = conn.answer(&Decision::Grant(grant()), &RANDOM, &mut out);
        assert_eq!(len, resp_len);
        let v6 = hex(V6_RESPONSE);
        if ctx == 0 {
            assert_eq!(&out[..0x24], &hex("05000203100000002C010000030000001401000000000000040100000000020004010000")[..]);
            assert_eq!(&out[0x24..0x24 + 260], &v6[..]);
            assert_eq!(&out[0x24 + 260..300], &[0, 0, 0, 0]);
        } else {
            assert_eq!(&out[0x10..0x30], &hex("2001000001000000040100000000000000000200000000000401000000000000")[..]);
            assert_eq!(&out[0x30..0x30 + 260], &v6[..]);
        }
        assert_eq!(conn.poll(&mut out), Event::NeedData);
    }

    // Refusal with 0xC004F06C on NDR32 (36 bytes) and NDR64 (44 bytes).
    for (ctx, want) in [
        (0u16, "050002031000000024000000030000000C0000000000000000000000000000006CF004C0"),
        (1, "05000203100000002C000000030000001400000000000000000000000000000000000000000000006CF004C0"),
    ] {
        let syntax = if ctx == 0 { kmsedge::wire::Syntax::Ndr32 } else { kmsedge::wire::Syntax::Ndr64 };
        let mut pdu = vec![0u8; 24 + syntax.request_prefix_len() + 260];
        pdu[24 + syntax.request_prefix_len()..].copy_from_slice(&msg);
        let stub = syntax.encode_request(&mut pdu[24..], 260);
        kmsedge::wire::call::emit_request_header(&mut pdu[16..], stub as u32, ctx, 0);
        let n = pdu.len() as u16;
        kmsedge::wire::Header { ptype: kmsedge::wire::PacketType::Request, flags: 3, frag_len: n, call_id: 3 }.emit(&mut pdu);
        assert!(matches!(send(&mut conn, &pdu, &mut out), Event::Activation(_)));
        let len = conn.answer(&Decision::Refuse(HResult::INVALID_TIMESTAMP), &RANDOM, &mut out);
        let mut want = hex(want);
        // The spec's NDR64 example shows context 0; we echo the request's.
        want[20] = ctx as u8;
        assert_eq!(&out[..len], &want[..], "refusal on ctx {ctx}");
    }

    // Fault for an unknown context id.
    let mut pdu = vec![0u8; 292];
    pdu[..24].copy_from_slice(&hex("050000031000000024010000030000000C01000007000000"));
    assert_eq!(send(&mut conn, &pdu, &mut out), Event::Transmit { len: 32, close: false, what: Transmitted::Fault });
    assert_eq!(&out[..32], &hex("0500032310000000200000000300000020000000000000000300011C00000000")[..]);
}
