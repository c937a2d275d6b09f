//! The organisation's own host key (`--host-key`), as `slmgr /ipk`
//! installs one on a Windows host: activations are answered with an ePID
//! of the key's group and serial, kept across restarts; the key is never
//! logged or shown whole; a key that is no host key stops the start.
use crate::client::{Client, random_cmid, request, sku};
use crate::support::serve::{Serve, get_json, run_to_exit};
use kmsedge::catalog::SKUS;
use kmsedge::kms::Version;
use kmsedge::pkey::{ProductKey, encode};
use std::path::Path;

const WIN10: &str = "Windows 10/11 Enterprise";

/// A valid 2009-format key of this group and serial (as tests/key_cli.rs
/// makes them): a CSVLK no one owns.
fn made(group: u32, serial: u32) -> String {
    let k = ProductKey { group, serial, security: 0x0bad_cafe_f00d, upgrade: false, extra: false };
    encode(&k).unwrap().as_str().to_string()
}

fn windows_epid(host: &Serve) -> String {
    let mut c = Client::ndr64(host.kms).unwrap();
    c.request(&request(sku(WIN10), Version::V6, random_cmid(), "HOSTKEY")).unwrap().epid().to_owned()
}

/// Everything the host wrote that someone could read: its log, its
/// status, and the dashboard's other views.
fn shown(host: &Serve) -> String {
    let status = get_json(&host.url("/api/status"), None).to_string();
    let clients = get_json(&host.url("/api/clients"), None).to_string();
    format!("{}\n{status}\n{clients}", host.log_text())
}

fn start(data: &Path, key: &str) -> Serve {
    Serve::start(data, &["--host-key", key])
}

#[test]
fn an_installed_key_answers_with_its_group_and_serial_and_is_never_shown_whole() {
    let tmp = tempfile::tempdir().unwrap();
    // A Windows Server 2022 CSVLK, key id in its second block.
    let key = made(4573, 1_234_567);
    let (secret_part, last5) = (&key[..23], &key[24..]);

    let host = start(tmp.path(), &key);
    let epid = windows_epid(&host);
    let parts: Vec<&str> = epid.split('-').collect();
    assert_eq!(parts[1], "04573", "{epid}");
    assert_eq!(format!("{}{}", parts[2], parts[3]), "001234567", "the serial is the key id: {epid}");
    assert_eq!(parts[4], "03", "{epid}");

    let status = get_json(&host.url("/api/status"), None);
    let held = status["identity"]["epids"].as_array().unwrap();
    let windows: Vec<_> = held.iter().filter(|e| e["csvlk_name"].as_str().unwrap().starts_with("Windows")).collect();
    assert_eq!(windows.len(), 1, "one Windows key: {held:?}");
    assert_eq!(windows[0]["slot"], "WinServer2022");
    assert_eq!(windows[0]["epid"], epid.as_str());
    assert_eq!(windows[0]["origin"], format!("installed key …{last5}"));
    // The same build as the generated Office ePIDs: one host.
    let build = status["identity"]["host_build"].as_u64().unwrap();
    assert!(epid.contains(&format!("-{build}.0000-")), "{epid} vs {build}");
    // The log says the key is installed, by its last five characters.
    let installed = host.events("host key installed");
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0]["fields"]["key"], format!("…{last5}"), "{:?}", installed[0]);
    let text = shown(&host);
    assert!(!text.contains(secret_part) && !text.contains(&key.replace('-', "")[..20]), "the key is shown whole");
    assert!(host.stop().success());

    // Restarted with the same key: the same ePID.
    let host = start(tmp.path(), &key);
    assert_eq!(windows_epid(&host), epid);
    let (ok, log) = host.stop_with_log();
    assert!(ok.success());
    assert!(!log.contains(secret_part));

    // Another key replaces it; no key brings the generated Server 2025 ePID back.
    let host = start(tmp.path(), &made(4573, 1_234_568));
    let other = windows_epid(&host);
    assert!(other.contains("-04573-001-234568-"), "{other}");
    assert!(host.stop().success());
    let host = Serve::start(tmp.path(), &[]);
    let generated = windows_epid(&host);
    assert!(generated.split('-').nth(1) == Some("04919"), "{generated}");
    assert!(host.stop().success());
}

#[test]
fn a_key_that_is_no_host_key_stops_the_start_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().to_str().unwrap();
    let gvlk = SKUS.iter().find(|s| s.name == WIN10).unwrap().gvlk.unwrap();
    let not_listed = made(206, 1_000);
    let cases = [
        (gvlk.to_string(), "a KMS client key (GVLK) of Windows 10/11 Enterprise, not a KMS host key (CSVLK)"),
        (not_listed, "which no CSVLK in the catalogue has"),
    ];
    for (key, why) in cases {
        let (code, stderr) = run_to_exit(&["serve", "--listen", "127.0.0.1:0", "--http", "off", "--data", data, "--host-key", &key]);
        assert_eq!(code, Some(1), "{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {stderr}");
        assert!(lines[0].starts_with(&format!("kmsedge: --host-key …{}: ", &key[24..])), "{}", lines[0]);
        assert!(lines[0].contains(why), "{}", lines[0]);
        assert!(!stderr.contains(&key[..23]), "{stderr}");
    }
    // Nothing was created: the host did not start.
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none(), "the data directory stays empty");
}

/// A Windows 10 KMS host key (a client CSVLK) is a real host key: installed,
/// it is the host's one Windows key, answers Windows 10/11 with its own group
/// and serial, and — as on a Windows 10 KMS host — activates no server.
#[test]
fn a_windows_client_host_key_activates_clients_only() {
    let tmp = tempfile::tempdir().unwrap();
    let key = made(206, 260_000_042);
    let host = start(tmp.path(), &key);
    let epid = windows_epid(&host);
    assert!(epid.contains("-00206-260-000042-03-"), "{epid}");
    let mut c = Client::ndr64(host.kms).unwrap();
    let server = sku("Windows Server 2022 Datacenter");
    let got = c.request(&request(server, Version::V6, random_cmid(), "SRV-1")).unwrap();
    assert_eq!(got, crate::client::Outcome::Refused(kmsedge::hresult::HResult::KMS_ID_MISMATCH));
    let status = get_json(&host.url("/api/status"), None);
    let slots: Vec<&str> = status["identity"]["epids"].as_array().unwrap().iter().map(|e| e["slot"].as_str().unwrap()).collect();
    assert!(slots.contains(&"Win10_2019") && !slots.contains(&"WinServer2025"), "{slots:?}");
    assert!(host.stop().success());
}
