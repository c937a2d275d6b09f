//! Property tests: our client → our host engine → our verifier, over random
//! products, protocol versions, transfer syntaxes, bind options and field
//! values. Every activation must verify with every client check and echo
//! exactly what was sent; refusals must arrive as the HRESULT sent.
#![cfg(not(target_arch = "wasm32"))]

mod support;
use support::rng::TestRng;
use kmsedge::catalog::{self, SKUS};
use kmsedge::client::{ClientError, Options, RequestBuilder, Session};
use kmsedge::epid;
use kmsedge::host::{Config, Connection, Decision, Event, Grant};
use kmsedge::kms::{self, Expect, ResponseRandom, Version};
use kmsedge::time::{Date, FileTime};
use kmsedge::wire::ndr::ResponseStub;
use kmsedge::{Guid, HResult};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Case {
    sku: usize,
    major: u16,
    client: Options,
    host_ndr64: bool,
    host_btfn: bool,
    cmid: u128,
    previous: u128,
    time: u64,
    workstation: String,
    license_status: u32,
    vm: bool,
    n_policy: u32,
    iv: [u8; 16],
    random: ([u8; 16], [u8; 16]),
    count: u32,
    intervals: (u32, u32),
    seed: u64,
    refuse: Option<u32>,
    requests: usize,
    call_id: u32,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (0..SKUS.len(), 4u16..=6, any::<[bool; 6]>(), any::<u128>(), any::<u128>(), any::<u64>()),
        ("\\PC{0,70}", 0u32..7, any::<bool>(), 0u32..=1000, any::<[u8; 16]>(), any::<([u8; 16], [u8; 16])>()),
        (any::<u32>(), any::<(u32, u32)>(), any::<u64>(), prop::option::weighted(0.2, any::<u32>()), 1usize..4, any::<u32>()),
    )
        .prop_map(|((sku, major, b, cmid, previous, time), (workstation, license_status, vm, n_policy, iv, random), (count, intervals, seed, refuse, requests, call_id))| Case {
            sku,
            major,
            client: Options { offer_ndr64: b[0], use_ndr64: b[1], btfn: b[2], multiplex: b[3] },
            host_ndr64: b[4],
            host_btfn: b[5],
            cmid,
            previous,
            time,
            workstation,
            license_status,
            vm,
            n_policy,
            iv,
            random,
            count,
            intervals,
            seed,
            refuse: refuse.map(|r| r | 0x8000_0000),
            requests,
            call_id,
        })
}

fn run(c: &Case) -> Result<(), TestCaseError> {
    let sku = &SKUS[c.sku];
    let mut rng = TestRng(c.seed);
    let profile = epid::choose_profile(&mut rng, catalog::HELD_BY_DEFAULT, Date::parse_iso("2026-11-24").unwrap(), c.host_ndr64);
    let slot = catalog::slot(catalog::slot_for(&sku.kms, &catalog::application_by_key(sku.app).id));
    let host_epid = epid::generate(&mut rng, slot, &profile, Date::parse_iso("2026-11-24").unwrap());
    let hwid = epid::generate_hwid(&mut rng);

    let config = Config { port: 1688, ndr64: c.host_ndr64, btfn: c.host_btfn, max_pdu: 4096, ..Config::default() };
    let mut host = Connection::new(config, 0xC0FF_EE00);
    let mut client = Session::new(c.client, c.call_id);
    let (mut a, mut b) = ([0u8; 512], [0u8; 512]);

    let exchange = |host: &mut Connection, pdu: &[u8], out: &mut [u8]| -> Event {
        assert_eq!(host.receive(0, pdu), pdu.len());
        host.poll(out)
    };
    let n = client.bind(&mut a);
    let Event::Transmit { len, close: false, .. } = exchange(&mut host, &a[..n], &mut b) else { panic!("bind") };
    client.on_bind_ack(&b[..len]).map_err(|e| TestCaseError::fail(format!("bind_ack: {e}")))?;
    if client.needs_alter_context() {
        let n = client.alter_context(&mut a);
        let Event::Transmit { len, close: false, .. } = exchange(&mut host, &a[..n], &mut b) else { panic!("alter") };
        client.on_alter_context_resp(&b[..len]).map_err(|e| TestCaseError::fail(format!("alter: {e}")))?;
    }
    for i in 0..c.requests {
        let repr = RequestBuilder::for_sku(sku)
            .version(Version { major: c.major, minor: 0 })
            .cmid(Guid::from_u128(c.cmid.wrapping_add(i as u128)))
            .previous_cmid(Guid::from_u128(c.previous))
            .time(FileTime(c.time))
            .workstation(&c.workstation)
            .license_status(c.license_status)
            .vm(c.vm)
            .n_policy(c.n_policy)
            .build();
        let mut msg = [0u8; 260];
        let m = kms::seal_request(&repr, &c.iv, &mut msg);
        let n = client.request(&msg[..m], &mut a).map_err(|e| TestCaseError::fail(format!("request: {e}")))?;
        let Event::Activation(act) = exchange(&mut host, &a[..n], &mut b) else { panic!("no activation") };
        prop_assert_eq!(act.request, repr);
        prop_assert_eq!(act.version, repr.version);
        let decision = match c.refuse {
            Some(hr) => Decision::Refuse(HResult(hr)),
            None => Decision::Grant(Grant {
                epid: host_epid,
                hwid,
                current_count: c.count,
                activation_interval: c.intervals.0,
                renewal_interval: c.intervals.1,
            }),
        };
        let random = ResponseRandom { salt: c.random.0, iv: c.random.1 };
        let len = host.answer(&decision, &random, &mut b);
        let stub = client.on_response(&b[..len]).map_err(|e| TestCaseError::fail(format!("response: {e}")))?;
        match (stub, c.refuse) {
            (ResponseStub::Refused(hr), Some(want)) => prop_assert_eq!(hr.0, want),
            (ResponseStub::Message(resp), None) => {
                let expect = Expect::for_request(&repr, &c.iv);
                match kmsedge::client::check_response(resp, &expect, repr.n_policy) {
                    Ok(ok) => {
                        prop_assert!(c.count >= repr.n_policy);
                        prop_assert_eq!(ok.repr.epid, host_epid);
                        prop_assert_eq!(ok.repr.current_count, c.count);
                        prop_assert_eq!((ok.repr.activation_interval, ok.repr.renewal_interval), c.intervals);
                        prop_assert_eq!(ok.hwid, if c.major == 6 { Some(hwid) } else { None });
                    }
                    Err(ClientError::Refused(HResult::NOT_ENOUGH_COUNT)) => prop_assert!(c.count < repr.n_policy),
                    Err(e) => return Err(TestCaseError::fail(format!("verify: {e}"))),
                }
            }
            (other, refuse) => return Err(TestCaseError::fail(format!("{other:?} for refusal {refuse:?}"))),
        }
        prop_assert_eq!(host.poll(&mut b), Event::NeedData);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    #[test]
    fn client_host_verifier_round_trip(c in case()) {
        run(&c)?;
    }
}
