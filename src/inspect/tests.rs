use std::string::ToString;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;
use crate::wire::ndr::Syntax;

#[test]
fn stub_layout_guesses() {
    // NDR32 request: size, conformance.
    let mut s = [0u8; 24];
    s[0] = 4;
    s[4] = 4;
    assert_eq!(guess_request_syntax(&s), Syntax::Ndr32);
    // NDR64 request: size, 4 zero bytes, 8-byte conformance.
    let mut s = [0u8; 24];
    s[0] = 4;
    s[8] = 4;
    assert_eq!(guess_request_syntax(&s), Syntax::Ndr64);
    // Responses: NDR32 referent at 4; NDR64 zeros there; refusals by length.
    let mut r = [0u8; 24];
    r[0] = 4;
    r[6] = 2;
    assert_eq!(guess_response_syntax(&r), Syntax::Ndr32);
    let mut r = [0u8; 24];
    r[0] = 4;
    r[10] = 2;
    assert_eq!(guess_response_syntax(&r), Syntax::Ndr64);
    assert_eq!(guess_response_syntax(&[0u8; 12]), Syntax::Ndr32);
    assert_eq!(guess_response_syntax(&[0u8; 20]), Syntax::Ndr64);
}

#[test]
fn empty_and_unknown_input() {
    let mut it = decode(&[]);
    assert_eq!(it.next().unwrap().unwrap_err().kind, ErrorKind::Empty);
    assert!(it.next().is_none());
    let e = decode(&[0x12, 0x34, 0x56]).next().unwrap().unwrap_err();
    assert_eq!(e.offset, 0);
    assert!(e.to_string().contains("found 12 34 56"), "{e}");
}

#[test]
fn context_tables_update_in_place() {
    let mut t: ContextTable = [None; MAX_CONTEXTS];
    table_put(&mut t, 1, Syntax::Ndr64);
    table_put(&mut t, 0, Syntax::Ndr32);
    table_put(&mut t, 1, Syntax::Ndr32);
    assert_eq!(table_get(&t, 1), Some(Syntax::Ndr32));
    assert_eq!(table_get(&t, 0), Some(Syntax::Ndr32));
    assert_eq!(table_get(&t, 2), None);
    assert_eq!(t.iter().flatten().count(), 2);
}
