//! One activation on the host side — decode the request PDU, apply the
//! policy, seal and frame the response — for V4, V5 and V6.
//!
//! Natively this is a criterion benchmark (`cargo bench --bench activation`).
//! Built for wasm32 the same body runs under wasm-bindgen-test's bundled
//! criterion in node (`scripts/bench-wasm.sh`), so native and wasm figures
//! come from one definition.
#![cfg_attr(target_arch = "wasm32", no_main)]

use kmsedge::client::{Options, RequestBuilder, Session};
use kmsedge::epid::Epid;
use kmsedge::host::{Config, Connection, Event, policy};
use kmsedge::kms::{self, ResponseRandom, Version};
use kmsedge::time::FileTime;
use kmsedge::Guid;

#[cfg(not(target_arch = "wasm32"))]
use criterion::{Criterion, criterion_group, criterion_main};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::{Criterion, wasm_bindgen_bench};

/// A host connection that has been bound, and one request PDU for `major`.
fn setup(major: u16) -> (Box<Connection>, Vec<u8>) {
    let sku = kmsedge::catalog::SKUS.iter().find(|s| s.name.contains("Enterprise")).unwrap();
    let limits = kmsedge::host::Limits { max_requests: u32::MAX, ..Default::default() };
    let mut host = Box::new(Connection::new(Config { limits, ..Config::default() }, 7));
    let mut client = Session::new(Options { use_ndr64: true, ..Options::default() }, 1);
    let (mut a, mut b) = ([0u8; 512], [0u8; 512]);
    let n = client.bind(&mut a);
    host.receive(0, &a[..n]);
    let Event::Transmit { len, .. } = host.poll(&mut b) else { panic!("bind") };
    client.on_bind_ack(&b[..len]).unwrap();
    let repr = RequestBuilder::for_sku(sku)
        .version(Version { major, minor: 0 })
        .cmid(Guid::from_u128(0x1234))
        .time(FileTime::from_unix(1_717_200_000))
        .workstation("BENCH-PC.example.test")
        .build();
    let mut msg = [0u8; 260];
    let m = kms::seal_request(&repr, &[9; 16], &mut msg);
    let n = client.request(&msg[..m], &mut a).unwrap();
    (host, a[..n].to_vec())
}

fn activation(c: &mut Criterion) {
    let epid = Epid::parse("03612-00206-560-123456-03-1033-17763.0000-3652023").unwrap();
    let now = FileTime::from_unix(1_717_200_000);
    let pol = policy::Policy::default();
    let random = ResponseRandom { salt: [3; 16], iv: [5; 16] };
    for major in [4u16, 5, 6] {
        let (mut host, pdu) = setup(major);
        let mut out = [0u8; 512];
        c.bench_function(&format!("activation/v{major}"), |b| {
            b.iter(|| {
                host.receive(0, std::hint::black_box(&pdu));
                let Event::Activation(act) = host.poll(&mut out) else { panic!("no activation") };
                let decision = policy::decide(&act.request, now, &pol, 7, epid, [1; 8]);
                std::hint::black_box(host.answer(&decision, &random, &mut out))
            })
        });
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion_group!(benches, activation);
#[cfg(not(target_arch = "wasm32"))]
criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_bench]
fn activation_wasm(c: &mut Criterion) {
    activation(c);
}
