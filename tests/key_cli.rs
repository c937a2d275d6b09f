//! `kmsedge key KEY…` end to end: the binary on a GVLK, a key with a bad
//! checksum, an older-format catalogue key, a valid key of no KMS group and
//! a CSVLK; its lines, its exit status, and that no key is printed whole.
#![cfg(feature = "native")]
mod support;

use kmsedge::catalog::{EPID_SLOTS, SKUS, Sku};
use kmsedge::pkey::{ProductKey, encode};
use support::bin::{one_line_error, run, stderr, stdout};

fn enterprise() -> &'static Sku {
    SKUS.iter().find(|s| s.name == "Windows 10/11 Enterprise").unwrap()
}

/// The GVLK with its 7th key character changed: the checksum no longer
/// holds (not true of every one-character change: the checksum has 10 bits).
fn typo(k: &str) -> String {
    let c = if &k[7..8] == "X" { "Y" } else { "X" };
    format!("{}{c}{}", &k[..7], &k[8..])
}

fn made(group: u32, serial: u32) -> String {
    let k = ProductKey { group, serial, security: 0xabcdef, upgrade: false, extra: false };
    encode(&k).unwrap().as_str().to_string()
}

fn masked(k: &str) -> String {
    format!("*****-*****-*****-*****-{}", &k[24..])
}

/// The lines of key `n`'s block.
fn block(out: &str, n: usize) -> Vec<String> {
    let start = format!("key {n}  ");
    out.lines()
        .skip_while(|l| !l.starts_with(&start))
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with("  "))
        .map(|(_, l)| l.to_string())
        .collect()
}

#[test]
fn a_gvlk_shows_its_fields_and_product() {
    let sku = enterprise();
    let k = sku.gvlk.unwrap();
    let o = run(&["key", &k.to_ascii_lowercase()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        block(&out, 1),
        [
            format!("key 1  {}", masked(k)),
            "  valid     yes (2009 format, checksum correct)".to_string(),
            format!("  group id  {}", sku.gvlk_group.unwrap()),
            "  serial    3".to_string(),
            "  upgrade   no".to_string(),
            format!("  what      the GVLK (KMS client setup key) of {}", sku.name),
            "  commands  slmgr /ipk <this key>".to_string(),
            "            slmgr /skms kms.example.com:1688".to_string(),
            "            slmgr /ato".to_string(),
            "            slmgr /dlv".to_string(),
        ]
    );
    assert!(!out.contains(k) && !out.contains(&k[..11]), "{out}");
}

#[test]
fn a_bad_checksum_fails_with_exit_status_1() {
    let k = typo(enterprise().gvlk.unwrap());
    let line = one_line_error(&["key", &k]);
    assert_eq!(line, "kmsedge: 1 of 1 key is invalid");
    let out = stdout(&run(&["key", &k]));
    let b = block(&out, 1);
    assert_eq!(b[0], format!("key 1  {}", masked(&k)));
    assert!(b[1].starts_with("  valid     no: invalid checksum"), "{out}");
    // typo() changes the 7th character: group 2 is named (rarely another too).
    assert!(b[2].starts_with("  typo in   group") && b[2].contains('2'), "{out}");
    assert_eq!(b.len(), 3, "{out}");
}

#[test]
fn an_older_format_catalogue_key_is_matched_by_the_catalogue_only() {
    let sku = SKUS.iter().find(|s| s.gvlk.is_some_and(|k| !k.contains('N'))).unwrap();
    let k = sku.gvlk.unwrap();
    let o = run(&["key", k]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        block(&stdout(&o), 1)[..4],
        [
            format!("key 1  {}", masked(k)),
            "  valid     not checked: an older-format key (no N), matched against the catalogue only".to_string(),
            format!("  what      the GVLK (KMS client setup key) of {}", sku.name),
            format!("  commands  {}", if sku.app == kmsedge::catalog::AppKey::Windows { "slmgr /ipk <this key>" } else { "cscript ospp.vbs /inpkey:<this key>" }),
        ]
    );
}

#[test]
fn a_valid_key_of_no_kms_group_will_not_activate() {
    let group = 7;
    assert!(SKUS.iter().all(|s| s.gvlk_group != Some(group)) && EPID_SLOTS.iter().all(|s| s.group_id != group));
    let k = made(group, 4242);
    let o = run(&["key", &k]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let b = block(&stdout(&o), 1);
    assert_eq!(b[2..5], ["  group id  7", "  serial    4242", "  upgrade   no"]);
    assert_eq!(
        b[5],
        "  what      a product key, but not a KMS client key: it will not activate against a KMS host"
    );
}

#[test]
fn a_csvlk_is_named_and_several_keys_report_each() {
    let slot = EPID_SLOTS.iter().find(|s| EPID_SLOTS.iter().filter(|o| o.group_id == s.group_id).count() == 1).unwrap();
    let csvlk = made(slot.group_id, slot.key_blocks[0].first);
    let bad = typo(enterprise().gvlk.unwrap());
    let o = run(&["key", &csvlk, enterprise().gvlk.unwrap(), &bad, "not-a-key"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim_end(), "kmsedge: 2 of 4 keys are invalid");
    let out = stdout(&o);
    assert_eq!(block(&out, 1)[5], format!("  what      a KMS host key (CSVLK), install it on the host, never on a client: {}", slot.csvlk_name));
    assert!(!out.contains(&csvlk[..11]), "{out}");
    assert_eq!(block(&out, 4), ["key 4  (not a product key)", "  valid     no: character 2 ('o') is not one of BCDFGHJKMNPQRTVWXY2346789"].map(String::from));
}

#[test]
fn help_documents_the_exit_status_and_no_key_is_a_usage_error() {
    let o = run(&["key", "--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("Exit status: 0 if every key is valid"), "{}", stdout(&o));
    assert_eq!(run(&["key"]).status.code(), Some(2));
}
