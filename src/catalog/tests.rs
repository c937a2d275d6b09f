#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;
use serde_json::Value;
use std::string::ToString;
use std::vec::Vec;

const JSON: &str = include_str!("../../data/products.json");

fn json() -> Value {
    serde_json::from_str(JSON).unwrap()
}

fn g(s: &str) -> Guid {
    Guid::parse(s).unwrap()
}

fn date(v: &Value) -> Date {
    Date::parse_iso(v.as_str().unwrap()).unwrap()
}

fn app_key(v: &Value) -> AppKey {
    AppKey::from_json_key(v.as_str().unwrap()).unwrap()
}

fn slot_named(v: &Value) -> SlotId {
    slot_by_name(v.as_str().unwrap()).unwrap()
}

#[test]
fn table_counts() {
    assert_eq!(APPLICATIONS.len(), 3);
    assert_eq!(EPID_SLOTS.len(), 10);
    assert_eq!(KMS_IDS.len(), 38);
    assert_eq!(SKUS.len(), 262);
    assert_eq!(SKUS.iter().filter(|s| s.gvlk.is_some()).count(), 257);
    assert_eq!(HOST_BUILDS.len(), 25);
    assert_eq!(KMS_ID_INDEX.len(), KMS_IDS.len());
    assert_eq!(SKU_INDEX.len(), SKUS.len());
}

#[test]
fn tables_match_the_json() {
    let j = json();
    for a in j["applications"].as_array().unwrap() {
        let app = application(&g(a["id"].as_str().unwrap())).unwrap();
        assert_eq!(app.key, app_key(&a["key"]));
        assert_eq!(app.name, a["name"]);
        assert_eq!(
            u64::from(app.min_active_clients),
            a["min_active_clients"].as_u64().unwrap()
        );
        assert_eq!(app.default_slot, slot_named(&a["default_slot"]));
    }
    let slots = j["epid_slots"].as_array().unwrap();
    for (i, s) in slots.iter().enumerate() {
        let e = slot(SlotId(i as u8));
        assert_eq!(e.name, s["slot"]);
        assert_eq!(e.csvlk, g(s["csvlk"].as_str().unwrap()));
        assert_eq!(e.csvlk_name, s["csvlk_name"]);
        assert_eq!(u64::from(e.group_id), s["group_id"].as_u64().unwrap());
        assert_eq!(u64::from(e.key_id_min), s["key_id_min"].as_u64().unwrap());
        assert_eq!(u64::from(e.key_id_max), s["key_id_max"].as_u64().unwrap());
        assert_eq!(e.release, date(&s["release"]));
        assert_eq!(
            u64::from(e.min_host_build),
            s["min_host_build"].as_u64().unwrap()
        );
    }
    let kms = j["kms_ids"].as_array().unwrap();
    for (i, k) in kms.iter().enumerate() {
        let e = kms_id(&g(k["id"].as_str().unwrap())).unwrap();
        assert!(core::ptr::eq(e, &KMS_IDS[i]), "catalogue order kept");
        assert_eq!(e.name, k["name"]);
        assert_eq!(e.app, app_key(&k["app"]));
        assert_eq!(u64::from(e.n_policy), k["n_policy"].as_u64().unwrap());
        assert_eq!(u64::from(e.protocol), k["protocol"].as_u64().unwrap());
        assert_eq!(e.retail, k["retail"].as_bool().unwrap());
        assert_eq!(e.preview, k["preview"].as_bool().unwrap());
        assert_eq!(e.slot, slot_named(&k["slot"]));
        assert_eq!(
            e.synthetic,
            k.get("synthetic").and_then(Value::as_bool).unwrap_or(false)
        );
        let s = slot(e.slot);
        assert_eq!(
            k["epid"],
            serde_json::json!([s.group_id, s.key_id_min, s.key_id_max])
        );
    }
    for (i, s) in j["skus"].as_array().unwrap().iter().enumerate() {
        let e = sku(&g(s["id"].as_str().unwrap())).unwrap();
        assert!(core::ptr::eq(e, &SKUS[i]));
        assert_eq!(e.name, s["name"]);
        assert_eq!(e.family, s["family"]);
        assert_eq!(e.edition, s["edition"]);
        assert_eq!(e.app, app_key(&s["app"]));
        assert_eq!(e.kms, g(s["kms"].as_str().unwrap()));
        assert_eq!(e.gvlk, s["gvlk"].as_str());
        assert_eq!(e.kms_id().unwrap().app, e.app);
    }
    let mut builds: Vec<&Value> = j["host_builds"].as_array().unwrap().iter().collect();
    builds.sort_by_key(|b| b["build"].as_u64());
    for (b, e) in builds.iter().zip(HOST_BUILDS) {
        assert_eq!(u64::from(e.build), b["build"].as_u64().unwrap());
        assert_eq!(u64::from(e.platform_id), b["platform_id"].as_u64().unwrap());
        assert_eq!(e.name, b["name"]);
        assert_eq!(e.release, date(&b["release"]));
        assert_eq!(e.use_for_epid, b["use_for_epid"].as_bool().unwrap());
        assert_eq!(e.may_be_server, b["may_be_server"].as_bool().unwrap());
        assert_eq!(e.ndr64, b["ndr64"].as_bool().unwrap());
        assert_eq!(host_build(e.build), Some(e));
    }
    assert_eq!(host_build(17763).unwrap().platform_id, 3612);
    assert_eq!(host_build(1234), None);
}

#[test]
fn indexes_are_sorted_and_complete() {
    assert!(KMS_ID_INDEX.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(SKU_INDEX.windows(2).all(|w| w[0].0 < w[1].0));
    for k in KMS_IDS {
        assert!(core::ptr::eq(kms_id(&k.id).unwrap(), k));
    }
    for s in SKUS {
        assert!(core::ptr::eq(sku(&s.id).unwrap(), s));
        assert!(kms_id(&s.kms).is_some(), "{} has a dangling KMS id", s.name);
    }
    assert_eq!(kms_id(&Guid::ZERO), None);
    assert_eq!(sku(&Guid::ZERO), None);
    assert_eq!(kms_id(&g("ffffffff-ffff-ffff-ffff-ffffffffffff")), None);
    assert_eq!(sku(&g("73111121-5638-40f6-bc11-f1d7b0d64301")), None);
}

#[test]
fn applications() {
    for k in AppKey::ALL {
        assert_eq!(application_by_key(k).key, k);
        assert_eq!(k.application().key, k);
        assert_eq!(AppKey::from_json_key(k.json_key()), Some(k));
    }
    let win = application(&g("55c92734-d682-4d71-983e-d6ec3f16059f")).unwrap();
    assert_eq!(
        (win.key, win.min_active_clients, slot(win.default_slot).name),
        (AppKey::Windows, 50, "Windows")
    );
    let o14 = application(&g("59a52881-a989-479d-af46-f275c6370663")).unwrap();
    assert_eq!(
        (o14.key, o14.min_active_clients, slot(o14.default_slot).name),
        (AppKey::Office2010, 10, "Office2010")
    );
    let o15 = application(&g("0ff1ce15-a989-479d-af46-f275c6370663")).unwrap();
    assert_eq!(
        (o15.key, o15.min_active_clients, slot(o15.default_slot).name),
        (AppKey::Office2013, 10, "Office2019")
    );
    assert_eq!(application(&Guid::ZERO), None);
    assert_eq!(AppKey::from_json_key("O15"), Some(AppKey::Office2013));
    assert_eq!(AppKey::from_json_key("o16"), None);
}

#[test]
fn windows_enterprise_lookup() {
    let s = sku(&g("73111121-5638-40f6-bc11-f1d7b0d64300")).unwrap();
    assert_eq!(s.name, "Windows 10/11 Enterprise");
    assert_eq!((s.family, s.edition), ("Windows 10/11", "Enterprise"));
    assert_eq!(s.app, AppKey::Windows);
    assert_eq!(s.kms, g("58e2134f-8e11-4d17-9cb2-91069c151148"));
    assert_eq!(s.gvlk, Some("NPPR9-FWDCX-D2C8J-H872K-2YT43"));
    let k = s.kms_id().unwrap();
    assert_eq!(k.name, "Windows 10/11 2015 (Volume)");
    assert_eq!(
        (k.n_policy, k.protocol, k.retail, k.preview, k.synthetic),
        (25, 6, false, false, false)
    );
    assert_eq!(slot(k.slot).name, "Windows");
    let skus: Vec<_> = skus_for_kms(&k.id).collect();
    assert!(skus.iter().any(|x| core::ptr::eq(*x, s)));
    assert!(skus.iter().all(|x| x.kms == k.id));
    let expected = json()["skus"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kms"] == "58e2134f-8e11-4d17-9cb2-91069c151148")
        .count();
    assert_eq!(skus.len(), expected);
    assert_eq!(skus_for_kms(&Guid::ZERO).count(), 0);
}

#[test]
fn external_and_synthetic_ids() {
    // The ids real Server 2025 / Office LTSC 2024 clients send (src "x") carry the SKUs;
    // py-kms's invented ones are kept, flagged synthetic, and carry none.
    let ws2025 = kms_id(&g("907f1f65-adcd-4a2e-95bc-4bf500bc6e58")).unwrap();
    assert!(!ws2025.synthetic);
    assert_eq!(slot(ws2025.slot).name, "WinServer2025");
    assert_eq!(skus_for_kms(&ws2025.id).count(), 4);
    let o2024 = kms_id(&g("a8973cb5-bf03-0a4c-9cef-703099645ab3")).unwrap();
    assert_eq!(
        (o2024.app, slot(o2024.slot).name),
        (AppKey::Office2013, "Office2024")
    );
    assert!(skus_for_kms(&o2024.id).count() > 0);
    for fake in [
        "4b83307d-7788-50ff-8d1f-1861915bdb9d",
        "1b4db7eb-4057-5ddf-91e0-36dec72071f5",
    ] {
        let k = kms_id(&g(fake)).unwrap();
        assert!(k.synthetic);
        assert_eq!(skus_for_kms(&k.id).count(), 0);
    }
    assert_eq!(KMS_IDS.iter().filter(|k| k.synthetic).count(), 2);
}

#[test]
fn slot_selection() {
    let win_app = g("55c92734-d682-4d71-983e-d6ec3f16059f");
    let o14_app = g("59a52881-a989-479d-af46-f275c6370663");
    let o15_app = g("0ff1ce15-a989-479d-af46-f275c6370663");
    let name = |k: &str, a: &Guid| slot(slot_for(&g(k), a)).name;
    // Known counted ids: their own slot, whatever the application id says.
    assert_eq!(
        name("617d9eb1-ef36-4f82-86e0-a65ae07b96c6", &o15_app),
        "Office2019"
    );
    assert_eq!(
        name("85b5f61b-320b-4be3-814a-b76b2bfafc82", &o15_app),
        "Office2016"
    );
    assert_eq!(
        name("e85af946-2e25-47b7-83e1-bebcebeac611", &o14_app),
        "Office2010"
    );
    assert_eq!(
        name("58e2134f-8e11-4d17-9cb2-91069c151148", &win_app),
        "Windows"
    );
    assert_eq!(
        name("7ba0bf23-d0f5-4072-91d9-d55af5a481b6", &win_app),
        "WinChinaGov"
    );
    assert_eq!(
        name("b74263e4-0f92-46c6-bcf8-c11d5efe2959", &win_app),
        "WinServer2022"
    );
    assert_eq!(
        name("907f1f65-adcd-4a2e-95bc-4bf500bc6e58", &win_app),
        "WinServer2025"
    );
    assert_eq!(
        name("b74263e4-0f92-46c6-bcf8-c11d5efe2959", &Guid::ZERO),
        "WinServer2022"
    );
    assert_eq!(
        name("aa4c7968-b9da-4680-92b6-acb25e2f866c", &o15_app),
        "Windows"
    ); // Office 2013 pre-release
    // Unknown counted id: the application's default slot, else Windows.
    let unknown = "01234567-89ab-cdef-0123-456789abcdef";
    assert_eq!(name(unknown, &win_app), "Windows");
    assert_eq!(name(unknown, &o14_app), "Office2010");
    assert_eq!(name(unknown, &o15_app), "Office2019");
    assert_eq!(name(unknown, &Guid::ZERO), "Windows");
    assert_eq!(name(unknown, &g(unknown)), "Windows");

    assert_eq!(
        slot_by_name("Office2019").map(|s| slot(s).name),
        Some("Office2019")
    );
    assert_eq!(
        slot_by_name("winserver2025").map(|s| slot(s).group_id),
        Some(4918)
    );
    assert_eq!(slot_by_name("Office2030"), None);
    assert_eq!(slot_by_name(""), None);
    for (i, s) in EPID_SLOTS.iter().enumerate() {
        assert_eq!(slot_by_name(s.name), Some(SlotId(i as u8)));
        assert_eq!(SlotId(i as u8).get(), s);
        assert!(s.key_id_min <= s.key_id_max && s.key_id_max <= 999_999_999);
    }
}

fn ids(q: &str) -> Vec<Guid> {
    search(q).map(|s| s.id).collect()
}

#[test]
fn search_finds_the_obvious_skus() {
    // Windows 11 Pro lives in "Windows 10/11 Pro"; every hit has "11" and "pro".
    let r = ids("windows 11 pro");
    assert!(r.contains(&g("2de67392-b7a7-462a-b1ca-108dd189f588"))); // Windows 10/11 Pro
    assert!(r.contains(&g("a80b5abf-76ad-428b-b05d-a47d2dffeebf"))); // … Pro N
    assert!(r.contains(&g("82bbc092-bc50-4e16-8e18-b74fc486aec3"))); // … Pro Workstation
    assert!(!r.contains(&g("ca7df2e3-5ea0-47b8-9ac1-b1be4d8edd69"))); // Windows 11 SE
    assert!(!r.contains(&g("73111121-5638-40f6-bc11-f1d7b0d64300"))); // Enterprise
    for s in search("windows 11 pro") {
        let n = s.name.to_ascii_lowercase();
        assert!(
            n.contains("11") && n.contains("pro") && n.contains("windows"),
            "{}",
            s.name
        );
    }
    // Word order and case do not matter.
    assert_eq!(ids("PRO 11 Windows"), r);

    let r = ids("ltsc 2021");
    assert!(r.contains(&g("fbdb3e18-a8ef-4fb3-9183-dffd60bd0984"))); // Office LTSC Professional Plus 2021
    assert!(r.contains(&g("32d2fab3-e4a8-42c2-923b-4bf4fd13e6ee"))); // Windows 10 Enterprise LTSC 2019/2021
    assert!(r.contains(&g("59eb965c-9150-42b7-a0ec-22151b9897c5"))); // Windows 10/11 IoT Enterprise LTSC 2021-2024
    assert!(!r.contains(&g("8d368fc1-9470-4be2-8d66-90e836cbb051"))); // Office LTSC Professional Plus 2024
    assert_eq!(
        search("ltsc 2021")
            .filter(|s| s.family == "Office LTSC 2021")
            .count(),
        16
    );

    let mut r = ids("visio 2019");
    r.sort();
    let mut want = [
        g("5b5cf08f-b81a-431d-b080-3450d8620565"), // Office Visio Pro 2019
        g("e06d7df3-aad0-419d-8dfb-0ac37e2bdf39"), // Office Visio Standard 2019
        g("500f6619-ef93-4b75-bcb4-82819998a3ca"), // Office Visio Pro 2019 Preview
    ];
    want.sort();
    assert_eq!(r, want);

    let mut r = ids("server 2025 datacenter");
    r.sort();
    let mut want = [
        g("c052f164-cdf6-409a-a0cb-853ba0f0f55a"),
        g("c2e946d1-cfa2-4523-8c87-30bc696ee584"),
    ];
    want.sort();
    assert_eq!(r, want);
    assert_eq!(search("Datacenter   SERVER\t2025").count(), 2);

    let r = ids("10/11 MULTI-SESSION");
    assert_eq!(r, [g("ec868e65-fadf-4759-b23e-93fe37f2cc29")]);
    assert_eq!(search("enterprise g windows 10/11").count(), 2); // Enterprise G, Enterprise G N
    // Nothing matches nonsense; an empty query matches everything.
    assert_eq!(search("zzz").count(), 0);
    assert_eq!(search("visio 2019 zzz").count(), 0);
    assert_eq!(search("").count(), SKUS.len());
    assert_eq!(search("   ").count(), SKUS.len());
}

/// The compact name tables (the browser decoder's) say what the full
/// tables say, for every id, and nothing for others.
#[test]
fn compact_name_tables_agree() {
    assert_eq!(SKU_NAME_IDS.len(), SKUS.len());
    for s in SKUS {
        let n = sku_names(&s.id).unwrap();
        assert_eq!((n.to_string(), n.family, n.edition), (s.name.to_string(), s.family, s.edition));
    }
    assert_eq!(KMS_NAME_IDS.len(), KMS_IDS.len());
    for k in KMS_IDS {
        assert_eq!(kms_id_name(&k.id), Some(k.name));
    }
    for id in [Guid::ZERO, g("ffffffff-ffff-ffff-ffff-ffffffffffff"), APPLICATIONS[0].id] {
        assert_eq!(sku_names(&id), None);
        assert_eq!(kms_id_name(&id), None);
    }
}
