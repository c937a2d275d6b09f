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
    assert_eq!(EPID_SLOTS.len(), 14);
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
    }
    let slots = j["epid_slots"].as_array().unwrap();
    for (i, s) in slots.iter().enumerate() {
        let e = slot(SlotId(i as u8));
        assert_eq!(e.name, s["slot"]);
        assert_eq!(e.csvlk, g(s["csvlk"].as_str().unwrap()));
        assert_eq!(e.csvlk_name, s["csvlk_name"]);
        assert_eq!(u64::from(e.group_id), s["group_id"].as_u64().unwrap());
        assert_eq!(e.app, app_key(&s["app"]));
        let blocks: Vec<[u64; 2]> = e.key_blocks.iter().map(|b| [b.first.into(), b.last.into()]).collect();
        assert_eq!(serde_json::json!(blocks), s["key_blocks"]);
        assert_eq!(e.held, s["held"].as_bool().unwrap());
        let covers: Vec<Guid> = s["covers"].as_array().unwrap().iter().map(|c| g(c.as_str().unwrap())).collect();
        assert_eq!(e.covers, &covers[..]);
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
        assert_eq!(
            e.synthetic,
            k.get("synthetic").and_then(Value::as_bool).unwrap_or(false)
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
    assert_eq!((win.key, win.min_active_clients), (AppKey::Windows, 50));
    let o14 = application(&g("59a52881-a989-479d-af46-f275c6370663")).unwrap();
    assert_eq!((o14.key, o14.min_active_clients), (AppKey::Office2010, 10));
    let o15 = application(&g("0ff1ce15-a989-479d-af46-f275c6370663")).unwrap();
    assert_eq!((o15.key, o15.min_active_clients), (AppKey::Office2013, 10));
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
    assert_eq!(slot(slot_for(&k.id, &Guid::ZERO)).name, "WinServer2025");
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
    assert_eq!(slot(slot_for(&ws2025.id, &Guid::ZERO)).name, "WinServer2025");
    assert_eq!(skus_for_kms(&ws2025.id).count(), 4);
    let o2024 = kms_id(&g("a8973cb5-bf03-0a4c-9cef-703099645ab3")).unwrap();
    assert_eq!(
        (o2024.app, slot(slot_for(&o2024.id, &Guid::ZERO)).name),
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
    // Known counted ids: the held key covering them, whatever the application id says.
    assert_eq!(name("617d9eb1-ef36-4f82-86e0-a65ae07b96c6", &o15_app), "Office2019");
    assert_eq!(name("85b5f61b-320b-4be3-814a-b76b2bfafc82", &o15_app), "Office2016");
    assert_eq!(name("e6a6f1bf-9d40-40c3-aa9f-c77ba21578c0", &o15_app), "Office2013");
    assert_eq!(name("86d50b16-4808-41af-b83b-b338274318b2", &o15_app), "Office2021");
    assert_eq!(name("a8973cb5-bf03-0a4c-9cef-703099645ab3", &o15_app), "Office2024");
    assert_eq!(name("e85af946-2e25-47b7-83e1-bebcebeac611", &o14_app), "Office2010");
    // One Windows key answers every Windows id: clients, servers, LTSC.
    for id in [
        "58e2134f-8e11-4d17-9cb2-91069c151148",
        "b74263e4-0f92-46c6-bcf8-c11d5efe2959",
        "907f1f65-adcd-4a2e-95bc-4bf500bc6e58",
        "212a64dc-43b1-4d3d-a30c-2fc69d2095c6",
        "e85ee727-69c4-4528-99d2-216b0f065e38",
    ] {
        assert_eq!(name(id, &win_app), "WinServer2025", "{id}");
        assert_eq!(name(id, &Guid::ZERO), "WinServer2025", "{id}");
    }
    // Ids no held key covers (retail, preview, China Government): the key of
    // their application, for scopes that serve them.
    assert_eq!(name("7ba0bf23-d0f5-4072-91d9-d55af5a481b6", &win_app), "WinServer2025");
    assert_eq!(name("aa4c7968-b9da-4680-92b6-acb25e2f866c", &o15_app), "Office2024"); // Office 2013 pre-release
    // Unknown counted id: the newest held key of the request's application, else Windows.
    let unknown = "01234567-89ab-cdef-0123-456789abcdef";
    assert_eq!(name(unknown, &win_app), "WinServer2025");
    assert_eq!(name(unknown, &o14_app), "Office2010");
    assert_eq!(name(unknown, &o15_app), "Office2024");
    assert_eq!(name(unknown, &Guid::ZERO), "WinServer2025");
    assert_eq!(name(unknown, &g(unknown)), "WinServer2025");

    assert_eq!(slot_by_name("Office2019").map(|s| slot(s).name), Some("Office2019"));
    assert_eq!(slot_by_name("winserver2025").map(|s| slot(s).group_id), Some(4919));
    assert_eq!(slot_by_name("Office2030"), None);
    assert_eq!(slot_by_name(""), None);
    for (i, s) in EPID_SLOTS.iter().enumerate() {
        assert_eq!(slot_by_name(s.name), Some(SlotId(i as u8)));
        assert_eq!(SlotId(i as u8).get(), s);
        assert!(s.key_blocks.windows(2).all(|w| w[0].last < w[1].first));
        assert!(s.key_blocks.iter().all(|b| b.first <= b.last && b.last <= 999_999_999));
        assert!(s.covers.iter().all(|c| kms_id(c).is_some_and(|k| k.app == s.app)), "{}", s.name);
    }
}

fn held_names() -> Vec<&'static str> {
    HELD_BY_DEFAULT.iter().map(|s| slot(*s).name).collect()
}

#[test]
fn a_host_holds_one_windows_key_and_one_key_per_office_generation() {
    assert_eq!(
        held_names(),
        ["Office2010", "Office2013", "Office2016", "Office2019", "Office2021", "Office2024", "WinServer2025"]
    );
    // Every id a held key covers is covered by exactly one.
    for k in KMS_IDS {
        let n = HELD_BY_DEFAULT.iter().filter(|s| slot(**s).covers(&k.id)).count();
        assert!(n <= 1, "{}", k.name);
        // Retail and preview ids: no CSVLK at all covers them.
        if k.retail || k.preview {
            assert!(EPID_SLOTS.iter().all(|s| !s.covers(&k.id)), "{}", k.name);
        }
    }
    // What no held key covers: retail, preview, and China Government.
    let uncovered: Vec<&str> = KMS_IDS.iter().filter(|k| covering(HELD_BY_DEFAULT, &k.id).is_none()).map(|k| k.name).collect();
    assert_eq!(uncovered.len(), 7, "{uncovered:?}");
    assert!(uncovered.contains(&"Windows 10/11 China Government"));
    // An Office key covers its own generation only.
    for s in EPID_SLOTS.iter().filter(|s| s.app != AppKey::Windows) {
        assert!(s.covers.iter().all(|c| !kms_id(c).unwrap().synthetic) || s.name == "Office2024");
        assert!(s.covers.len() <= 2, "{}", s.name);
    }
    // The Server 2025 key covers everything the Server 2022 key does, which
    // covers everything the Server 2019 key does (newer activates older).
    let (s19, s22, s25) = (slot_named(&"Windows".into()), slot_named(&"WinServer2022".into()), slot_named(&"WinServer2025".into()));
    assert!(slot(s19).covers.iter().all(|c| slot(s22).covers(c)));
    assert!(slot(s22).covers.iter().all(|c| slot(s25).covers(c)));
    let ws2025 = g("907f1f65-adcd-4a2e-95bc-4bf500bc6e58");
    let ws2022 = g("b74263e4-0f92-46c6-bcf8-c11d5efe2959");
    assert!(!slot(s22).covers(&ws2025) && !slot(s19).covers(&ws2022));
}

#[test]
fn installing_a_key_replaces_the_key_of_its_kind() {
    let by = |n: &str| slot_by_name(n).unwrap();
    // Any Windows CSVLK replaces the Windows key; an Office key only its generation's.
    assert!(replaces(by("WinServer2022"), by("WinServer2025")));
    assert!(replaces(by("WinChinaGov"), by("WinServer2025")));
    assert!(!replaces(by("WinServer2022"), by("Office2024")));
    assert!(replaces(by("Office2021"), by("Office2021")));
    assert!(!replaces(by("Office2021"), by("Office2024")));
    assert!(!replaces(by("Office2010"), by("Office2013")));
    // A key is named by its group id and serial: group 206 is shared, the block decides.
    assert_eq!(csvlk_for(206, 600_000_000), Some(by("Office2024")));
    assert_eq!(csvlk_for(206, 680_000_000), Some(by("Office2019")));
    assert_eq!(csvlk_for(206, 560_000_000), Some(by("Windows")));
    assert_eq!(csvlk_for(4919, 20_000), Some(by("WinServer2025")));
    assert_eq!(csvlk_for(4573, 25_000), None, "the Server 2022 hole");
    assert_eq!(csvlk_for(4918, 10), None, "the Azure-only CSVLK is no host key here");
    assert_eq!(csvlk_for(206, 1), None);
    assert_eq!(csvlk_for(206, 256_000_000), Some(by("Win10_2019")));
    assert_eq!(csvlk_for(206, 545_999_999), Some(by("Win10_2016")));
    assert_eq!(csvlk_for(206, 404_999_999), Some(by("Win10_2015")));
    assert_eq!(csvlk_for(206, 491_000_000), Some(by("WinServer2016")));
    assert!(replaces(by("Win10_2019"), by("WinServer2025")), "a client CSVLK is the host's one Windows key");
}

/// The Windows client CSVLKs and the Server 2016 CSVLK (Microsoft's
/// pkeyconfig key blocks; what each activates from Microsoft's "KMS
/// activation planning" table): a client CSVLK activates clients only.
#[test]
fn client_csvlks_activate_clients_only() {
    let by = |n: &str| slot(slot_by_name(n).unwrap());
    let blocks = |s: &EpidSlot| s.key_blocks.iter().map(|b| (b.first, b.last)).collect::<Vec<_>>();
    let facts = [
        ("Win10_2015", "0724cb7d-3437-4cb7-93cb-830375d0079d", (390_000_000, 404_999_999)),
        ("Win10_2016", "30a42c86-b7a0-4a34-8c90-ff177cb2acb7", (531_000_000, 545_999_999)),
        ("Win10_2019", "90da7373-1c51-430b-bf26-c97e9c5cdc31", (256_000_000, 265_999_999)),
        ("WinServer2016", "d6992aac-29e7-452a-bf10-bbfb8ccabe59", (491_000_000, 530_999_999)),
    ];
    for (name, csvlk, block) in facts {
        let s = by(name);
        assert_eq!((s.csvlk, s.group_id, blocks(s)), (g(csvlk), 206, Vec::from([block])), "{name}");
        assert!(!s.held, "{name} is installed by an organisation, never held by default");
        assert_eq!(s.app, AppKey::Windows);
    }
    let windows_10 = g("58e2134f-8e11-4d17-9cb2-91069c151148");
    let ltsb_2016 = g("969fe3c0-a3ec-491a-9f25-423605deb365");
    let ltsc_2019 = g("11b15659-e603-4cf1-9c1f-f0ec01b81888");
    for name in ["Win10_2015", "Win10_2016", "Win10_2019"] {
        let s = by(name);
        assert!(s.covers(&windows_10), "{name} activates Windows 10/11");
        // No server, of any release: every Windows id with N = 5 is a server's.
        for k in KMS_IDS.iter().filter(|k| k.app == AppKey::Windows && k.n_policy == 5) {
            assert!(!s.covers(&k.id), "{name} covers the server id {}", k.name);
        }
    }
    assert!(!by("Win10_2015").covers(&ltsb_2016) && by("Win10_2016").covers(&ltsb_2016));
    assert!(!by("Win10_2016").covers(&ltsc_2019) && by("Win10_2019").covers(&ltsc_2019));
    // The Server 2016 CSVLK activates Server 2016 and older, not 2019.
    let ws2016 = by("WinServer2016");
    assert!(ws2016.covers(&g("6e9fc069-257d-4bc4-b4a7-750514d32743")) && ws2016.covers(&ltsb_2016));
    assert!(!ws2016.covers(&g("8449b1fb-f0ea-497a-99ab-66ca96e9a0f5")) && !ws2016.covers(&ltsc_2019));
}

/// Each fact corrected from Microsoft's pkeyconfig (data/README.md, "Corrected facts").
#[test]
fn corrected_facts() {
    let by = |n: &str| slot(slot_by_name(n).unwrap());
    let blocks = |s: &EpidSlot| s.key_blocks.iter().map(|b| (b.first, b.last)).collect::<Vec<_>>();
    let ws2025 = by("WinServer2025");
    assert_eq!((ws2025.csvlk, ws2025.group_id), (g("84e331f6-4279-48c4-ab10-b75139181351"), 4919));
    assert_eq!(blocks(ws2025), [(0, 19_999), (20_000, 20_019_999)]);
    assert!(!ws2025.has_key_id(20_020_000));
    assert_eq!(ws2025.min_host_build, 17763);
    let o2024 = by("Office2024");
    assert_eq!((o2024.csvlk, o2024.group_id), (g("f3d89bbf-c0ec-47ce-a8fa-e5a5f97e447f"), 206));
    assert_eq!(blocks(o2024), [(591_000_000, 610_999_999)]);
    assert!(!o2024.has_key_id(666_000_000), "not Office 2019's range");
    let ws2022 = by("WinServer2022");
    assert_eq!((ws2022.csvlk, ws2022.group_id), (g("661f7658-7035-4b4c-9f35-010682943ec2"), 4573));
    assert_eq!(blocks(ws2022), [(0, 19_999), (30_000, 20_029_999)]);
    assert!(ws2022.has_key_id(19_999) && ws2022.has_key_id(30_000));
    assert!((20_000..30_000).step_by(997).all(|k| !ws2022.has_key_id(k)), "the hole");
    assert_eq!(host_build(26100).unwrap().release, Date { year: 2024, month: 10, day: 1 });
    // The Server 2025 key covers exactly the 22 ids of its licence, plus two
    // that real clients send (py-kms's Server 2025 id and ServerRdsh).
    assert_eq!(ws2025.covers.len(), 24);
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

fn first(q: &str) -> &'static str {
    find(q).next().map_or("(none)", |h| h.sku.name)
}

/// Names people use find their product first: Microsoft's official names
/// (`data/names.tsv`), short forms and Polish words (`data/name-words.tsv`).
/// The whole Polish article is `tests/article.rs`.
#[test]
fn search_ranks_the_names_people_use_first() {
    let h = find("Visio Professional 2019").next().unwrap();
    assert_eq!((h.sku.name, h.exact(), h.via.map(|a| a.kind)), ("Office Visio Pro 2019", true, Some(NameKind::Official)));
    assert_eq!(first("win 11 pro"), "Windows 10/11 Pro");
    assert_eq!(first("WINDOWS 11 EDUKACJA"), "Windows 10/11 Education");
    assert_eq!(first("Server 2022 DC"), "Windows Server 2022 Datacenter");
    assert_eq!(first("office 2019 proplus"), "Office Professional Plus 2019");
    assert_eq!(first("Windows 10 Enterprise LTSB 2019 N"), "Windows 10 Enterprise LTSC 2019/2021 N");
    assert_eq!(first("Perspektywy LTSC 2021"), "Office Outlook LTSC 2021");
    // A released product before its preview of the same rank.
    assert_eq!(first("Visio Pro 2021"), "Office Visio LTSC Pro 2021");
    assert!(find("office 2024").all(|h| h.sku.family == "Office LTSC 2024"));
    assert_eq!(find("office 2024").count(), SKUS.iter().filter(|s| s.family == "Office LTSC 2024").count());
    // A product without a KMS client edition leads to the volume product, with why.
    let h = find("Access Runtime 2019").next().unwrap();
    assert_eq!(h.sku.name, "Office Access 2019");
    assert!(h.via.unwrap().note.unwrap().contains("not KMS client keys"));
    // Every alias finds its own SKU exactly.
    for a in aliases() {
        assert!(find(a.name).any(|h| h.exact() && h.sku == a.sku()), "{}", a.name);
    }
}

#[test]
fn closest_products_for_a_query_that_matches_nothing() {
    assert_eq!(find("Windwos 11 Pro").count(), 0);
    let c: Vec<&str> = closest("Windwos 11 Pro", 3).map(|h| h.sku.name).collect();
    assert_eq!(c[0], "Windows 10/11 Pro");
    assert!(c.len() == 3 && c.iter().all(|n| n.starts_with("Windows 10/11 Pro")), "{c:?}");
    assert_eq!(closest("Vizio Profesional 2019", 1).next().unwrap().sku.name, "Office Visio Pro 2019");
    assert_eq!(closest("zzz qqq", 5).count(), 0);
    assert_eq!(closest("", 5).count(), 0);
}
