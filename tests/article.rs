//! The Polish article users read (`tests/fixtures/article/seed-tables.tsv`,
//! its 183 product/key rows verbatim) against the binary: every row's name
//! finds, first, the product it means (`kmsedge products NAME`), and
//! `kmsedge key` classifies every row's key.
//!
//! The truth is `tests/fixtures/article/expected.tsv` (`row, sku, kind,
//! note`), written from facts, not from the code's output: the SKU a row
//! means (the README of the shared data gives the translation's garbled
//! words; retail and subscription rows mean the volume product of the same
//! name), and whether the row's key is that SKU's GVLK in
//! `data/products.json` (`gvlk`; where the note says "the GVLK of X" the
//! article prints another product's GVLK: rows 22 and 24, its one-row
//! shift, and the C2R/Mondo R twins), or one of the 68 valid keys that are
//! not KMS client keys (`not-kms`).
#![cfg(feature = "native")]
mod support;

use kmsedge::Guid;
use kmsedge::catalog::{self, SKUS};
use serde_json::Value;
use support::bin::{run, stderr, stdout};

const SEED: &str = include_str!("fixtures/article/seed-tables.tsv");
const EXPECTED: &str = include_str!("fixtures/article/expected.tsv");

struct Row {
    row: usize,
    name: &'static str,
    key: &'static str,
    sku: &'static catalog::Sku,
    kind: &'static str,
    note: &'static str,
}

fn rows() -> Vec<Row> {
    let mut seed = SEED.lines();
    assert_eq!(seed.next(), Some("row\tsection\tproduct\tkey"));
    let mut expected = EXPECTED.lines();
    assert_eq!(expected.next(), Some("row\tsku\tkind\tnote"));
    let rows: Vec<Row> = seed
        .zip(expected)
        .map(|(s, e)| {
            let s: Vec<&str> = s.split('\t').collect();
            let e: Vec<&str> = e.split('\t').collect();
            assert_eq!(s[0], e[0], "the two files' rows must line up");
            let sku = catalog::sku(&Guid::parse(e[1]).unwrap()).unwrap_or_else(|| panic!("row {}: unknown SKU", e[0]));
            Row { row: s[0].parse().unwrap(), name: s[2], key: s[3], sku, kind: e[2], note: e.get(3).copied().unwrap_or("") }
        })
        .collect();
    assert_eq!(rows.len(), 183);
    rows
}

#[test]
fn every_row_name_finds_its_product_first() {
    let mut wrong = Vec::new();
    for r in rows() {
        let o = run(&["products", "--json", r.name]);
        assert!(o.status.success(), "row {} {:?}: {}", r.row, r.name, stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let first = &v["families"][0]["products"][0];
        if first["sku"] != r.sku.id.to_string() {
            wrong.push(format!("row {} {:?}: first is {}, want {}", r.row, r.name, first["name"], r.sku.name));
        }
        // A product with no KMS client edition says so next to the volume product.
        if r.note.contains("has no KMS client edition") && !first["not_kms"].is_string() {
            wrong.push(format!("row {} {:?}: no note that its keys are not KMS keys", r.row, r.name));
        }
    }
    assert!(wrong.is_empty(), "{} of 183 rows:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn every_row_key_is_classified() {
    let rows = rows();
    let keys: Vec<&str> = rows.iter().map(|r| r.key).collect();
    let mut args = vec!["key"];
    args.extend(&keys);
    let o = run(&args);
    let out = stdout(&o);
    let blocks: Vec<Vec<&str>> = out.split("\n\n").map(|b| b.lines().collect()).collect();
    assert_eq!(blocks.len(), 183, "{out}");
    let mut wrong = Vec::new();
    for (r, b) in rows.iter().zip(&blocks) {
        let what = b.iter().find_map(|l| l.strip_prefix("  what      ")).unwrap_or("(none)");
        let ok = match r.kind {
            "gvlk" => {
                // Whose GVLK it is: the row's product, or the one the note names.
                let of = r.note.split_once("the GVLK of ").map_or(r.sku.name, |(_, rest)| rest.split(" (").next().unwrap());
                assert!(SKUS.iter().any(|s| s.name == of && s.gvlk == Some(r.key)), "row {}: expected.tsv is wrong", r.row);
                what == format!("the GVLK (KMS client setup key) of {of}")
            }
            "not-kms" => {
                assert!(SKUS.iter().all(|s| s.gvlk != Some(r.key)), "row {}: expected.tsv is wrong", r.row);
                b[1] == "  valid     yes (2009 format, checksum correct)"
                    && what == "a product key, but not a KMS client key: it will not activate against a KMS host"
            }
            "csvlk" => what.starts_with("a KMS host key (CSVLK), install it on the host, never on a client"),
            "invalid" => b[1].starts_with("  valid     no"),
            k => panic!("row {}: unknown kind {k:?}", r.row),
        };
        if !ok {
            wrong.push(format!("row {} ({}): {:?}", r.row, r.kind, b));
        }
        assert!(!out.contains(r.key), "row {}: a key printed whole", r.row);
    }
    assert!(wrong.is_empty(), "{} of 183 keys:\n{}", wrong.len(), wrong.join("\n"));
    // Every key of the article is valid: the status says so.
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(rows.iter().filter(|r| r.kind == "not-kms").count(), 68);
}
