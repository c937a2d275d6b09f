//! The decoder core (`kmsedge::inspect`) never allocates: every recorded
//! conversation is hex-parsed into a fixed buffer and decoded, and every
//! item's contexts, results and checks are walked, under a counting global
//! allocator watching this thread. Its own test binary, so nothing else
//! runs on the thread.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use kmsedge::inspect::{self, ItemKind, ResponseBody};
use support::alloc::{Counting, allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn decoding_allocates_nothing() {
    // Inputs are prepared (and allocated) before counting starts.
    let texts: Vec<String> = support::vectors::vectors()
        .iter()
        .map(|v| v.pdus.iter().map(|p| p.bytes.iter().map(|b| format!("{b:02x} ")).collect::<String>()).collect())
        .collect();
    let mut buf = [0u8; 4096];
    let probe = allocations();
    drop(std::hint::black_box(vec![0u8; 64]));
    assert!(allocations() > probe, "the counter sees this thread");

    let before = allocations();
    let (mut items, mut checks, mut ctx) = (0usize, 0usize, 0usize);
    for _ in 0..50 {
        for t in &texts {
            let n = inspect::parse_hex(t, &mut buf).unwrap();
            for item in inspect::decode(&buf[..n]) {
                let item = item.unwrap();
                items += 1;
                match item.kind {
                    ItemKind::Bind(b) => ctx += b.contexts().map(|c| c.transfer_syntaxes().count()).sum::<usize>(),
                    ItemKind::BindAck(a) => ctx += a.results().filter(|r| r.reason_name().is_some()).count(),
                    ItemKind::Request(r) => {
                        let k = r.kms.unwrap();
                        ctx += usize::from(k.sku().is_some()) + usize::from(k.repr.unwrap().workstation.chars().count() > 0);
                    }
                    ItemKind::Response(r) => {
                        if let Ok(ResponseBody::Message(m)) = r.kms {
                            checks += m.checks().count();
                            let _ = std::hint::black_box((m.verdict(), m.opened.repr.epid.parts()));
                        }
                    }
                    _ => {}
                }
            }
        }
        // Errors are values too.
        let _ = std::hint::black_box(inspect::decode(&buf[..7]).last());
        let _ = std::hint::black_box(inspect::parse_hex("05 0g", &mut buf).unwrap_err());
    }
    let after = allocations();
    assert_eq!(after - before, 0, "the decoder allocated");
    assert!(items > 0 && checks > 0 && ctx > 0);
}
