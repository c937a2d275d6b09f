//! Arbitrary bytes into the host engine, delivered in arbitrary chunk sizes,
//! activations answered. The engine must never panic, every reply must be a
//! well-formed PDU of a reply type no larger than MAX_REPLY, and once it
//! says close it must stay closed.
#![no_main]

use kmsedge::epid::Epid;
use kmsedge::host::{Config, Connection, Decision, Event, Grant, MAX_REPLY};
use kmsedge::kms::ResponseRandom;
use kmsedge::wire::{Packet, PacketType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else { return };
    let chunk = (split as usize % 64) + 1;
    let mut conn = Connection::new(Config { max_pdu: 1024, ..Config::default() }, 42);
    let epid = Epid::parse("03612-00206-560-123456-03-1033-17763.0000-3652023").unwrap();
    let grant = Decision::Grant(Grant { epid, hwid: [0; 8], current_count: 50, activation_interval: 120, renewal_interval: 10_080 });
    let mut out = [0u8; MAX_REPLY];
    for piece in data.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() || conn.buffered() > 0 {
            let took = conn.receive(0, rest);
            rest = &rest[took..];
            let reply = match conn.poll(&mut out) {
                Event::NeedData => break,
                Event::Close(_) => {
                    assert!(conn.is_closed());
                    return;
                }
                Event::Transmit { len, .. } => len,
                Event::Activation(_) => conn.answer(&grant, &ResponseRandom::default(), &mut out),
            };
            let p = Packet::new_checked(&out[..reply]).expect("reply frames");
            assert_eq!(p.frag_len() as usize, reply);
            assert!(matches!(
                p.ptype(),
                PacketType::BindAck | PacketType::BindNak | PacketType::AlterContextResp | PacketType::Response | PacketType::Fault
            ));
            if conn.is_closed() {
                return;
            }
        }
    }
});
