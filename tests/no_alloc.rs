//! The core never allocates: 10 000 activations (V4, V5, V6; NDR32 and
//! NDR64) through the host engine, the policy, and the client's sealing and
//! verification, with a counting global allocator watching this thread.
//! Kept alone in its own test binary so nothing else runs on the thread.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use kmsedge::client::{Options, RequestBuilder, Session};
use kmsedge::epid::Epid;
use kmsedge::host::{Config, Connection, Event, policy};
use kmsedge::kms::{self, Expect, ResponseRandom, Version};
use kmsedge::time::FileTime;
use kmsedge::wire::ndr::ResponseStub;
use kmsedge::Guid;
use support::alloc::{Counting, allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn ten_thousand_activations_allocate_nothing() {
    let sku = kmsedge::catalog::SKUS.iter().find(|s| s.name.contains("Enterprise")).unwrap();
    let epid = Epid::parse("03612-00206-560-123456-03-1033-17763.0000-3652023").unwrap();
    let now = FileTime::from_unix(1_717_200_000);
    let pol = policy::Policy::default();
    // Boxed so the large connection state does not sit on the test stack.
    let mut host = Box::new(Connection::new(Config::default(), 7));
    let (mut a, mut b) = ([0u8; 512], [0u8; 512]);
    let mut msg = [0u8; 260];
    // The counter does see this thread's allocations.
    let probe = allocations();
    drop(std::hint::black_box(vec![0u8; 64]));
    assert!(allocations() > probe);

    let before = allocations();
    let mut granted = 0u32;
    for use_ndr64 in [false, true] {
        let mut client = Session::new(Options { use_ndr64, ..Options::default() }, 1);
        let n = client.bind(&mut a);
        host.receive(0, &a[..n]);
        let Event::Transmit { len, .. } = host.poll(&mut b) else { panic!() };
        client.on_bind_ack(&b[..len]).unwrap();
        if client.needs_alter_context() {
            let n = client.alter_context(&mut a);
            host.receive(0, &a[..n]);
            let Event::Transmit { len, .. } = host.poll(&mut b) else { panic!() };
            client.on_alter_context_resp(&b[..len]).unwrap();
        }
        for i in 0..5_000u32 {
            let major = 4 + (i % 3) as u16;
            let iv = [i as u8; 16];
            let repr = RequestBuilder::for_sku(sku)
                .version(Version { major, minor: 0 })
                .cmid(Guid::from_u128(i as u128 + 1))
                .time(now)
                .workstation("BENCH-PC.example.test")
                .build();
            let m = kms::seal_request(&repr, &iv, &mut msg);
            let n = client.request(&msg[..m], &mut a).unwrap();
            host.receive(0, &a[..n]);
            let Event::Activation(act) = host.poll(&mut b) else { panic!() };
            let decision = policy::decide(&act.request, now, &pol, i, epid, [7; 8]);
            let random = ResponseRandom { salt: [i as u8; 16], iv: [!(i as u8); 16] };
            let len = host.answer(&decision, &random, &mut b);
            let ResponseStub::Message(resp) = client.on_response(&b[..len]).unwrap() else { panic!() };
            let ok = kmsedge::client::check_response(resp, &Expect::for_request(&repr, &iv), repr.n_policy).unwrap();
            granted += (ok.repr.current_count >= repr.n_policy) as u32;
        }
    }
    let during = allocations() - before;
    assert_eq!(granted, 10_000);
    assert_eq!(during, 0, "the core allocated {during} times over 10 000 activations");
}

/// Product keys (`kmsedge::pkey`) too: decoding, classifying against the
/// catalogue, the host-key check and the masked and descriptive texts, over
/// every catalogue GVLK, its mistyped twin and a made CSVLK. The counter is
/// per thread, so this test's thread counts only its own allocations.
#[test]
fn product_keys_allocate_nothing() {
    use kmsedge::pkey::{self, Classification, ProductKey};
    use std::fmt::Write as _;

    /// A `fmt::Write` into a fixed buffer.
    struct Stack([u8; 512], usize);
    impl std::fmt::Write for Stack {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.1 + s.len();
            self.0.get_mut(self.1..end).ok_or(std::fmt::Error)?.copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }

    // Inputs are prepared (and allocated) before counting starts.
    let mut keys: Vec<String> = kmsedge::catalog::SKUS.iter().filter_map(|s| s.gvlk).map(str::to_string).collect();
    keys.extend(keys.clone().iter().map(|k| format!("{}X{}", &k[..7], &k[8..])));
    let slot = &kmsedge::catalog::EPID_SLOTS[0];
    let made = ProductKey { group: slot.group_id, serial: slot.key_blocks[0].first, security: 99, upgrade: false, extra: false };
    let probe = allocations();
    drop(std::hint::black_box(vec![0u8; 64]));
    assert!(allocations() > probe);

    let before = allocations();
    let (mut valid, mut hosts) = (0usize, 0usize);
    let mut out = Stack([0; 512], 0);
    let csvlk = pkey::encode(&made).unwrap();
    for k in keys.iter().map(String::as_str).chain([csvlk.as_str()]) {
        out.1 = 0;
        match pkey::classify(k) {
            Classification::Pkey2009 { text, identity, .. } => {
                valid += 1;
                write!(out, "{} {identity}", text.masked()).unwrap();
            }
            Classification::Pre2009 { text, .. } => write!(out, "{}", text.masked()).unwrap(),
            Classification::Invalid(e) => write!(out, "{e}").unwrap(),
        }
        write!(out, "{:?}", pkey::suspect_groups(k)).unwrap();
        match pkey::host_key(k) {
            Ok(h) => {
                hosts += 1;
                write!(out, "{h} {}", h.partial()).unwrap();
            }
            Err(e) => write!(out, "{e}").unwrap(),
        }
        std::hint::black_box(&out.0[..out.1]);
    }
    let during = allocations() - before;
    assert!(valid > 200 && hosts == 1, "valid {valid}, host keys {hosts}");
    assert_eq!(during, 0, "product keys allocated {during} times");
}

/// The product search (the page runs it in wasm) and its suggestions, over
/// names of every kind: the catalogue's, Microsoft's, Polish, a typo.
#[test]
fn product_search_allocates_nothing() {
    let queries = ["Windows 11 Pro", "Visio Professional 2019", "Dostęp do LTSC 2021", "Windwos 11 Pro", "", "zzz"];
    let before = allocations();
    let mut found = 0;
    for q in queries {
        found += kmsedge::catalog::find(q).map(|h| usize::from(h.exact())).sum::<usize>();
        found += kmsedge::catalog::closest(q, 5).count();
    }
    let during = allocations() - before;
    assert!(found > 3, "{found}");
    assert_eq!(during, 0, "the search allocated {during} times");
}
