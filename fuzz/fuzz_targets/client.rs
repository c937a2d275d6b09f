//! Arbitrary bytes as replies to our client and as KMS responses to the
//! verifier: errors are values, never panics.
#![no_main]

use kmsedge::client::{Options, Session};
use kmsedge::kms::{self, Expect, Version};
use kmsedge::time::FileTime;
use kmsedge::Guid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = Session::new(Options::default(), 2);
    let mut out = [0u8; 512];
    s.bind(&mut out);
    let _ = s.on_bind_ack(data);
    let _ = s.on_alter_context_resp(data);
    let _ = s.request(&[0u8; 260], &mut out);
    let _ = s.on_response(data);
    for major in 4..=6 {
        let expect = Expect { version: Version { major, minor: 0 }, iv: [1; 16], cmid: Guid::ZERO, request_time: FileTime(0) };
        if let Ok(o) = kms::open_response(data, &expect) {
            let _ = o.verify();
        }
    }
    let _ = kms::open_request(data);
});
