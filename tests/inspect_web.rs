//! The page's wasm API (`kmsedge::web`), run as WebAssembly in node by
//! `scripts/test-web.sh`, once per module with that module's features only
//! (`--features web-lookup`, then `--features web-decoder`), so each test
//! runs against the module the page loads. It also runs natively with
//! `cargo test --no-default-features --features web-lookup,web-decoder`.
#![cfg(feature = "web")]
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod support;

#[test]
fn version_is_the_crate_version() {
    assert_eq!(web::version(), env!("CARGO_PKG_VERSION"));
}

use kmsedge::web;
use serde_json::Value;

fn json(s: String) -> Value {
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[cfg(feature = "web-lookup")]
fn products(v: &Value) -> Vec<&Value> {
    v["families"].as_array().unwrap().iter().flat_map(|f| f["products"].as_array().unwrap()).collect()
}

#[cfg(feature = "web-lookup")]
#[test]
fn search_is_word_order_and_case_tolerant() {
    let a = json(web::search("windows 11 pro", "", 1688));
    let b = json(web::search("PRO 11 Windows", "", 1688));
    assert_eq!(a["families"], b["families"]);
    let names: Vec<&str> = products(&a).iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Windows 10/11 Pro"), "{names:?}");
    let pro = products(&a).into_iter().find(|p| p["name"] == "Windows 10/11 Pro").unwrap();
    assert_eq!(pro["gvlk"], "W269N-WFGWX-YVC9B-4J6C9-T83GX");
    assert_eq!(pro["commands"][1], "slmgr /skms kms.example.com:1688", "placeholder host while the field is empty");
    assert!(a["note"].as_str().unwrap().starts_with("Only GVLKs"));
    // Every result has a GVLK, and grouping follows the family.
    let all = json(web::search("", "", 1688));
    assert_eq!(all["count"], 257);
    for f in all["families"].as_array().unwrap() {
        for p in f["products"].as_array().unwrap() {
            assert_eq!(p["family"], f["family"]);
            assert!(p["gvlk"].is_string());
        }
    }
    for q in ["ltsc 2021", "visio 2019", "server 2025 datacenter"] {
        assert!(json(web::search(q, "", 1688))["count"].as_i64().unwrap() > 0, "{q}");
    }
    assert_eq!(json(web::search("no such product", "", 1688))["count"], 0);
}

#[cfg(feature = "web-lookup")]
#[test]
fn commands_use_the_host_and_port() {
    let v = json(web::search("visio 2019 pro", "kms1.corp.example", 1700));
    let p = products(&v)[0];
    assert_eq!(p["office"], true);
    let c: Vec<&str> = p["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(c[0].starts_with("cscript ospp.vbs /inpkey:"), "{c:?}");
    assert_eq!(c[1..], ["cscript ospp.vbs /sethst:kms1.corp.example", "cscript ospp.vbs /setprt:1700", "cscript ospp.vbs /act"]);
    let v = json(web::search("windows 11 enterprise", "[2001:db8::5]", 1688));
    assert_eq!(products(&v)[0]["commands"][1], "slmgr /skms [2001:db8::5]:1688");
    let v = json(web::search("windows", "bad host!", 1688));
    assert!(v["host_error"].as_str().unwrap().contains("not a valid DNS name"), "{v}");
    assert!(json(web::search("windows", "kms:1688", 1688))["host_error"].as_str().unwrap().contains("port field"));
}

#[cfg(feature = "web-lookup")]
#[test]
fn product_deep_link() {
    let p = json(web::product("73111121-5638-40f6-bc11-f1d7b0d64300", "kms", 1688));
    assert_eq!(p["name"], "Windows 10/11 Enterprise");
    assert_eq!(p["commands"][0], "slmgr /ipk NPPR9-FWDCX-D2C8J-H872K-2YT43");
    assert!(json(web::product("nope", "", 1688))["error"].as_str().unwrap().contains("not a product id"));
    assert!(json(web::product("00000000-0000-0000-0000-000000000001", "", 1688))["error"].as_str().unwrap().contains("no product"));
}

#[cfg(feature = "web-lookup")]
#[test]
fn dns_helper() {
    let d = json(web::dns_records("Corp.Example.com.", "kms1", 1688));
    assert_eq!(d["zone_line"], "_vlmcs._tcp.corp.example.com. IN SRV 0 0 1688 kms1.corp.example.com.");
    assert_eq!(
        d["powershell"],
        "Add-DnsServerResourceRecord -ZoneName \"corp.example.com\" -Srv -Name \"_vlmcs._tcp\" -DomainName \"kms1.corp.example.com\" -Priority 0 -Weight 0 -Port 1688"
    );
    assert_eq!(json(web::dns_records("corp.example.com", "kms.other.example", 1700))["zone_line"], "_vlmcs._tcp.corp.example.com. IN SRV 0 0 1700 kms.other.example.");
    assert!(json(web::dns_records("corp.example.com", "10.0.0.5", 1688))["error"].as_str().unwrap().contains("needs the host's DNS name"));
    assert!(json(web::dns_records("", "kms", 1688))["error"].as_str().unwrap().contains("domain is empty"));
    assert!(json(web::dns_records("bad_domain", "kms", 1688))["error"].as_str().unwrap().contains("label \"bad_domain\""));
    assert!(json(web::dns_records("corp.example.com", "kms", 0))["error"].as_str().unwrap().contains("port is 0"));
}

#[cfg(feature = "web-decoder")]
#[test]
fn decode_hex_every_vector() {
    for v in support::vectors::vectors() {
        let hex: Vec<String> = v.pdus.iter().map(|p| p.bytes.iter().map(|b| format!("{b:02X}")).collect()).collect();
        let r = json(web::decode_hex(&hex.join("\n")));
        assert_eq!(r["ok"], true, "{}", v.name);
        let items = r["conversations"][0]["items"].as_array().unwrap();
        assert_eq!(items.len(), v.pdus.len());
        for it in items.iter().filter(|i| i["type"] == "response") {
            let resp = &it["response"];
            if v.hresult() != 0 {
                assert_eq!(resp["refusal"]["hresult"], "0x8007000D");
            } else {
                assert_eq!(resp["kms"]["verdict"], "verified", "{}", v.name);
                assert_eq!(resp["kms"]["epid"], v.expect()["epid"]);
            }
        }
    }
}

#[cfg(feature = "web-decoder")]
#[test]
fn decode_file_reads_captures_and_reports_errors() {
    let v = support::vectors::vector("v6_office2021_proplus_ndr64");
    let frames = support::capture::conversation_frames(&v.directed(), 49_700, 1688);
    for file in [support::capture::pcap(&frames), support::capture::pcapng(&frames)] {
        let r = json(web::decode_file(&file));
        assert_eq!(r["ok"], true, "{r}");
        let c = &r["conversations"][0];
        assert_eq!(c["client"], "10.0.0.2:49700");
        let items = c["items"].as_array().unwrap();
        assert_eq!(items.len(), v.pdus.len());
        assert_eq!(items[4]["request"]["kms"]["sku"]["name"], "Office LTSC Professional Plus 2021");
        assert_eq!(items[7]["response"]["kms"]["verdict"], "verified");
    }
    let r = json(web::decode_hex("05 00 0b 03 10 00 00 00 a0 00"));
    assert_eq!(r["ok"], false);
    let e = &r["conversations"][0]["items"][0];
    assert_eq!(e["type"], "error");
    assert!(e["message"].as_str().unwrap().starts_with("at byte 10: input ends inside the DCE/RPC PDU header"), "{e}");
    let r = json(web::decode_hex("xyz"));
    assert_eq!(r["error"]["offset"], 0);
    let r = json(web::decode_file(b"\x0a\x0d\x0d\x0a\x01"));
    assert!(r["error"]["message"].as_str().unwrap().contains("pcapng section header"), "{r}");
    assert_eq!(web::version(), env!("CARGO_PKG_VERSION"));
}
