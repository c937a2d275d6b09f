#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;
use crate::catalog::{EPID_SLOTS, SKUS, SlotId, Sku};
use std::format;
use std::string::{String, ToString};

fn sku_named(name: &str) -> &'static Sku {
    SKUS.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no SKU {name:?}"))
}

fn gvlk_of(name: &str) -> &'static str {
    sku_named(name).gvlk.unwrap()
}

fn fields(group: u32, serial: u32) -> ProductKey {
    ProductKey { group, serial, security: 0x1234_5678_9abc, upgrade: false, extra: false }
}

fn text(k: &ProductKey) -> String {
    encode(k).unwrap().as_str().to_string()
}

/// `k` with its 7th key character changed. A 10-bit checksum misses one
/// change in 1024: changing the 6th character of the Enterprise GVLK from
/// F to C happens to keep it valid, so tests use this one, checked to fail.
fn typo(k: &str) -> String {
    let c = if &k[7..8] == "X" { "Y" } else { "X" };
    format!("{}{c}{}", &k[..7], &k[8..])
}

/// A group no catalogue GVLK or CSVLK has.
fn foreign_group() -> u32 {
    let g = 1;
    assert!(SKUS.iter().all(|s| s.gvlk_group != Some(g)) && EPID_SLOTS.iter().all(|s| s.group_id != g));
    g
}

#[test]
fn every_2009_format_gvlk_decodes_with_a_valid_checksum() {
    let mut n = 0;
    for s in SKUS.iter() {
        let Some(k) = s.gvlk.filter(|k| k.contains('N')) else { continue };
        let d = decode(k).unwrap_or_else(|e| panic!("{} ({}): {e}", s.name, KeyText::parse(k).unwrap().masked()));
        assert!(!d.upgrade && !d.extra, "{}", s.name);
        n += 1;
    }
    // Counted independently of build.rs, from the JSON text itself.
    let json: serde_json::Value = serde_json::from_str(include_str!("../../data/products.json")).unwrap();
    let in_json = json["skus"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["gvlk"].as_str().is_some_and(|k| k.contains('N')))
        .count();
    assert_eq!(n, in_json);
    assert!(n >= 209, "issue 13 counted 209 2009-format GVLKs; the catalogue now has {n}");
}

#[test]
fn the_recorded_gvlk_group_is_the_decoded_one_for_every_sku() {
    for s in SKUS.iter() {
        let decoded = s.gvlk.filter(|k| k.contains('N')).map(|k| decode(k).unwrap().group);
        assert_eq!(s.gvlk_group, decoded, "{}: gvlk_group in data/products.json", s.name);
    }
}

#[test]
fn known_gvlks_decode_to_their_published_groups() {
    // Windows 10 Enterprise GVLK: pkeyconfig configuration "Win 10 RTM
    // Enterprise Volume:GVLK" has RefGroupId 3290 (awuctl/licensing-stuff,
    // docs/details.md; its keycutter template example uses group 0xcda).
    let ent = decode(gvlk_of("Windows 10/11 Enterprise")).unwrap();
    assert_eq!(ent.group, 3290);
    assert_eq!(sku_named("Windows 10/11 Enterprise").gvlk_group, Some(3290));
    // A keycutter "template" key of that group (docs/product-keys.md).
    assert_eq!(decode("NBBBB-BBBBB-BBBBB-BBBJK-GJF8Q").unwrap().group, 3290);
    // Twin keys (docs/product-keys.md): the same fields but the spare bit.
    let a = decode("NJCF7-PW8QT-3324D-688JX-2YV66").unwrap();
    let b = decode("VKCF7-HV62C-944TY-YJ9NF-6Q83G").unwrap();
    assert_eq!((a.group, a.serial, a.security, a.upgrade, a.extra), (b.group, b.serial, b.security, b.upgrade, !b.extra));
    assert!(b.extra);
}

#[test]
fn case_and_dashes_do_not_matter() {
    let k = gvlk_of("Windows 10/11 Enterprise");
    let want = decode(k).unwrap();
    let bare: String = k.chars().filter(|&c| c != '-').collect();
    assert_eq!(decode(&bare).unwrap(), want);
    assert_eq!(decode(&k.to_ascii_lowercase()).unwrap(), want);
    assert_eq!(decode(&format!("  {k}\n")).unwrap(), want);
    assert_eq!(KeyText::parse(&bare.to_ascii_lowercase()).unwrap().as_str(), k);
}

#[test]
fn every_class_of_bad_input_is_named() {
    let k = gvlk_of("Windows 10/11 Enterprise"); // NPPR9-…, N at character 1
    let cases: [(String, Error); 10] = [
        (k[..28].to_string(), Error::Length { found: 24 }),
        (format!("{k}B"), Error::Length { found: 26 }),
        (String::new(), Error::Length { found: 0 }),
        (format!("{}O{}", &k[..2], &k[3..]), Error::Character { position: 3, character: 'O' }),
        (format!("{}é{}", &k[..6], &k[7..]), Error::Character { position: 6, character: 'é' }),
        (format!("{}-{}", &k[..3], &k[3..]), Error::MisplacedDash { position: 4 }),
        (format!("{}{}", &k[..23], &k[24..]), Error::IncompleteDashes),
        (format!("{}N{}", &k[..7], &k[8..]), Error::SecondN { position: 7 }),
        ("BBBBB-BBBBB-BBBBB-BBBBB-BBBBN".to_string(), Error::NLast),
        ("BBBBB-BBBBB-BBBBB-BBBBB-BBBBB".to_string(), Error::NoN),
    ];
    for (input, want) in cases {
        assert_eq!(decode(&input), Err(want), "{input:?}");
        assert!(!want.to_string().is_empty());
    }
    // One mistyped character: the checksum catches it (here).
    let typo = typo(k);
    assert_ne!(&typo, k);
    let Err(Error::Checksum { stored, computed }) = decode(&typo) else { panic!("{:?}", decode(&typo)) };
    assert_ne!(stored, computed);
    assert!(Error::Checksum { stored, computed }.to_string().contains("checksum"));
}

#[test]
fn errors_and_debug_never_show_the_whole_key() {
    let k = gvlk_of("Windows 10/11 Enterprise");
    let t = KeyText::parse(k).unwrap();
    assert_eq!(t.masked().to_string(), format!("*****-*****-*****-*****-{}", &k[24..]));
    assert!(!format!("{t:?}").contains(&k[..5]));
    let typo = typo(k);
    let e = host_key(&typo).unwrap_err().to_string();
    assert!(!e.contains(&k[..5]) && !e.contains(&k[24..]), "{e}");
}

#[test]
fn a_catalogue_gvlk_is_that_skus_gvlk() {
    let sku = sku_named("Windows 10/11 Enterprise");
    let Classification::Pkey2009 { key, identity, .. } = classify(sku.gvlk.unwrap()) else { panic!() };
    assert_eq!(identity, Identity::Gvlk(sku));
    assert_eq!(key.group, sku.gvlk_group.unwrap());
    assert!(identity.to_string().contains(sku.name));
    // Another key of the same group is a client key of the same product.
    let other = text(&fields(sku.gvlk_group.unwrap(), 123_456));
    let Classification::Pkey2009 { identity, .. } = classify(&other) else { panic!() };
    assert_eq!(identity, Identity::GvlkGroup(sku));
}

#[test]
fn a_key_of_a_csvlk_group_is_a_host_key_of_the_slot_holding_its_serial() {
    for (i, slot) in EPID_SLOTS.iter().enumerate() {
        let k = text(&fields(slot.group_id, slot.key_blocks[0].first));
        let Classification::Pkey2009 { identity: Identity::Csvlk { group, slot: Some(found) }, .. } = classify(&k)
        else {
            panic!("{}: {:?}", slot.name, classify(&k))
        };
        assert_eq!(group, slot.group_id);
        let f = found.get();
        assert!(f.group_id == slot.group_id && f.has_key_id(slot.key_blocks[0].first));
        if EPID_SLOTS.iter().filter(|s| s.group_id == slot.group_id).count() == 1 {
            assert_eq!(found, SlotId(i as u8));
        }
        let hk = host_key(&k).unwrap();
        assert_eq!((hk.group(), hk.serial(), hk.slot()), (slot.group_id, slot.key_blocks[0].first, Some(found)));
    }
}

#[test]
fn a_csvlk_group_key_outside_every_range_is_still_a_host_key() {
    // Group 206's catalogued ranges all start at 199 000 000 or above.
    let g = EPID_SLOTS.iter().find(|s| s.group_id == 206).unwrap().group_id;
    assert!(EPID_SLOTS.iter().all(|s| s.group_id != g || s.key_blocks.iter().all(|b| b.first > 5)));
    let k = text(&fields(g, 5));
    let Classification::Pkey2009 { identity, .. } = classify(&k) else { panic!() };
    assert_eq!(identity, Identity::Csvlk { group: g, slot: None });
    assert!(identity.to_string().contains("no catalogued key id range"));
    let hk = host_key(&k).unwrap();
    assert_eq!((hk.group(), hk.serial(), hk.slot()), (g, 5, None));
}

#[test]
fn a_valid_key_of_no_kms_group_is_not_a_kms_key() {
    let g = foreign_group();
    let k = text(&fields(g, 77));
    let Classification::Pkey2009 { key: d, identity, .. } = classify(&k) else { panic!() };
    assert_eq!((d.group, d.serial, identity), (g, 77, Identity::NotKms));
    assert_eq!(
        identity.to_string(),
        "a product key, but not a KMS client key: it will not activate against a KMS host"
    );
    assert_eq!(host_key(&k), Err(HostKeyError::NotCsvlk { group: g }));
}

#[test]
fn pre_2009_keys_are_matched_against_the_catalogue_only() {
    let sku = SKUS.iter().find(|s| s.gvlk.is_some_and(|k| !k.contains('N'))).unwrap();
    let Classification::Pre2009 { gvlk, .. } = classify(sku.gvlk.unwrap()) else { panic!() };
    assert_eq!(gvlk, Some(sku));
    assert_eq!(host_key(sku.gvlk.unwrap()), Err(HostKeyError::Gvlk(sku)));
    let unknown = "BBBBB-BBBBB-BBBBB-BBBBB-BBBBB";
    assert!(matches!(classify(unknown), Classification::Pre2009 { gvlk: None, .. }));
    assert_eq!(host_key(unknown), Err(HostKeyError::Pre2009));
}

#[test]
fn host_key_refuses_client_keys_and_bad_checksums_in_one_line() {
    let sku = sku_named("Windows 10/11 Enterprise");
    let gvlk = sku.gvlk.unwrap();
    let e = host_key(gvlk).unwrap_err();
    assert_eq!(e, HostKeyError::Gvlk(sku));
    assert!(e.to_string().contains("GVLK") && !e.to_string().contains('\n'));
    let typo = typo(gvlk);
    assert!(matches!(host_key(&typo), Err(HostKeyError::Invalid(Error::Checksum { .. }))));
    assert!(host_key(&typo).unwrap_err().to_string().contains("invalid checksum"));
}

#[test]
fn a_host_key_shows_only_its_last_five_characters() {
    let slot = &EPID_SLOTS[0];
    let k = text(&fields(slot.group_id, slot.key_blocks[0].first));
    let hk = host_key(&k).unwrap();
    assert_eq!(hk.partial(), &k[24..]);
    assert_eq!(hk.to_string(), format!("*****-*****-*****-*****-{}", &k[24..]));
    let dbg = format!("{hk:?}");
    assert!(dbg.contains(&k[24..]) && !dbg.contains(&k[..11]), "{dbg}");
    assert_eq!(hk.secret().as_str(), k);
}

#[test]
fn encode_refuses_fields_wider_than_their_bits() {
    assert!(encode(&fields(1 << 20, 0)).is_none());
    assert!(encode(&fields(0, 1 << 30)).is_none());
    assert!(encode(&ProductKey { security: 1 << 53, ..fields(0, 0) }).is_none());
    // All 114 bits set (and no extra) still fit 25 base-24 digits.
    let max = ProductKey { group: (1 << 20) - 1, serial: (1 << 30) - 1, security: (1 << 53) - 1, upgrade: true, extra: false };
    assert_eq!(decode(encode(&max).unwrap().as_str()), Ok(max));
}

#[cfg(not(target_arch = "wasm32"))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decode_inverts_encode(group in 0u32..1 << 20, serial in 0u32..1 << 30, security in 0u64..1 << 53, upgrade: bool, extra: bool) {
            let k = ProductKey { group, serial, security, upgrade, extra };
            match encode(&k) {
                Some(t) => {
                    prop_assert_eq!(decode(t.as_str()), Ok(k));
                    prop_assert_eq!(t.as_str().matches('N').count(), 1);
                }
                // Only the spare bit can push the value past 25 digits.
                None => prop_assert!(extra),
            }
        }

        #[test]
        fn any_input_gives_a_key_or_an_error_never_a_panic(s in "[-a-zA-Z0-9é ]{0,40}") {
            if let Ok(k) = decode(&s) {
                prop_assert_eq!(encode(&k).map(|t| t.as_str().to_string()), Some(KeyText::parse(&s).unwrap().as_str().to_string()));
            }
        }
    }
}
