//! Refusals a host makes, with the HRESULTs clients show, and how they are
//! recorded: product scope (0xC004F042) and client clock skew (0xC004F06C).
use crate::client::{Client, Outcome, now, random_cmid, request, sku};
use crate::support::serve::{Serve, get_json};
use kmsedge::HResult;
use kmsedge::kms::Version;
use kmsedge::time::FileTime;

#[test]
fn product_scope_and_time_skew_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let win10 = sku("Windows 10/11 Enterprise");
    let office = sku("Office LTSC Professional Plus 2021");
    let served = win10.kms.to_string();
    let host = Serve::start(tmp.path(), &["--kms-id", &served, "--max-time-skew", "3600"]);
    let mut c = Client::ndr32(host.kms).unwrap();

    c.request(&request(win10, Version::V6, random_cmid(), "IN-SCOPE")).unwrap().granted();
    let refused = c.request(&request(office, Version::V6, random_cmid(), "OUT-OF-SCOPE")).unwrap();
    assert_eq!(refused, Outcome::Refused(HResult::KMS_ID_MISMATCH));

    // 61 minutes off either way is refused; 59 minutes is fine.
    let skewed = |secs: i64| {
        let mut r = request(win10, Version::V5, random_cmid(), "SKEWED");
        r.request_time = FileTime::from_unix(now().to_unix() + secs);
        r
    };
    assert_eq!(c.request(&skewed(61 * 60)).unwrap(), Outcome::Refused(HResult::INVALID_TIMESTAMP));
    assert_eq!(c.request(&skewed(-61 * 60)).unwrap(), Outcome::Refused(HResult::INVALID_TIMESTAMP));
    c.request(&skewed(59 * 60)).unwrap().granted();
    // The connection is still good after refusals.
    c.request(&request(win10, Version::V4, random_cmid(), "AFTER")).unwrap().granted();

    let status = get_json(&host.url("/api/status"), None);
    assert_eq!(status["policy"]["scope"], "list");
    assert_eq!(status["policy"]["scope_ids"][0], served.as_str());
    assert_eq!(status["counters"]["total"], 6);
    assert_eq!(status["counters"]["failed"], 3);
    let refused_rows = get_json(&host.url("/api/clients?q=SKEWED&sort=last_hresult&order=desc"), None);
    let results: Vec<&str> = refused_rows["clients"].as_array().unwrap().iter().map(|r| r["last_hresult"].as_str().unwrap()).collect();
    assert_eq!(results, ["0xC004F06C", "0xC004F06C", "0x00000000"]);
    let office_row = get_json(&host.url("/api/clients?q=OUT-OF-SCOPE"), None);
    assert_eq!(office_row["clients"][0]["last_hresult"], "0xC004F042");
    // Refused machines do not count.
    let win = status["counts"].as_array().unwrap().iter().find(|c| c["kms_id"] == served.as_str()).unwrap();
    assert_eq!((win["genuine"].as_u64(), win["clients"].as_u64()), (Some(3), Some(5)));
    assert_eq!(host.events("refused").len(), 3);
    assert!(host.stop().success());
}

#[test]
fn clock_check_is_on_by_default_and_can_be_turned_off() {
    let tmp = tempfile::tempdir().unwrap();
    let mut old = request(sku("Windows Server 2022 Datacenter"), Version::V6, random_cmid(), "OLD-CLOCK");
    old.request_time = FileTime::from_unix(now().to_unix() - 5 * 3600);
    let host = Serve::start(tmp.path(), &[]);
    let out = Client::ndr64(host.kms).unwrap().request(&old).unwrap();
    assert_eq!(out, Outcome::Refused(HResult::INVALID_TIMESTAMP), "±4 h by default");
    assert!(host.stop().success());
    let host = Serve::start(tmp.path(), &["--max-time-skew", "off"]);
    Client::ndr64(host.kms).unwrap().request(&old).unwrap().granted();
}
