//! Activations over TCP: every protocol version, NDR32 and NDR64, several
//! requests per connection, for a Windows client, a Windows Server and an
//! Office product; the answers carry the stored identity and are recorded.
use crate::client::{Client, Outcome, random_cmid, request, sku};
use crate::support::bin::run;
use crate::support::serve::{Serve, get_json};
use kmsedge::catalog;
use kmsedge::kms::Version;
use kmsedge::wire::Syntax;

fn slot_epid(status: &serde_json::Value, slot: &str) -> String {
    status["identity"]["epids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["slot"] == slot)
        .unwrap_or_else(|| panic!("slot {slot}"))["epid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn v4_v5_v6_over_ndr32_and_ndr64_for_windows_server_and_office() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &[]);
    let status = get_json(&host.url("/api/status"), None);
    let hwid = status["identity"]["hwid"].as_str().unwrap().to_owned();

    let products = ["Windows 10/11 Enterprise", "Windows Server 2022 Datacenter", "Office LTSC Professional Plus 2021"];
    let mut served = 0;
    for name in products {
        let s = sku(name);
        let slot = catalog::slot(catalog::slot_for(&s.kms, &catalog::application_by_key(s.app).id));
        let want_epid = slot_epid(&status, slot.name);
        for version in [Version::V4, Version::V5, Version::V6] {
            for ndr64 in [false, true] {
                let mut c = if ndr64 { Client::ndr64(host.kms) } else { Client::ndr32(host.kms) }.unwrap();
                assert_eq!(c.syntax(), Some(if ndr64 { Syntax::Ndr64 } else { Syntax::Ndr32 }));
                let cmid = random_cmid();
                for i in 0..3 {
                    let req = request(s, version, cmid, &format!("PC-{i}"));
                    let out = c.request(&req).unwrap_or_else(|e| panic!("{name} {version} ndr64={ndr64}: {e}"));
                    let Outcome::Granted { epid, hwid: h, count, activation_interval, renewal_interval } = out else {
                        panic!("{name} {version}: {out:?}")
                    };
                    assert_eq!(epid, want_epid, "{name}: the stored ePID of slot {}", slot.name);
                    if version == Version::V6 {
                        let h = h.expect("V6 carries the HwId");
                        assert_eq!(kmsedge::epid::format_hwid(&h).to_string(), hwid);
                    }
                    assert!(count >= 2 * req.n_policy, "default policy: every client activates ({count})");
                    assert_eq!((activation_interval, renewal_interval), (120, 10_080));
                    served += 1;
                }
            }
        }
    }
    assert_eq!(served, 3 * 3 * 2 * 3);

    // Every request was recorded: 18 machines × 3 requests.
    let page = get_json(&host.url("/api/clients?limit=1000"), None);
    assert_eq!(page["total"], 18);
    assert!(page["clients"].as_array().unwrap().iter().all(|c| c["requests"] == 3 && c["last_hresult"] == "0x00000000"));
    let status = get_json(&host.url("/api/status"), None);
    assert_eq!(status["counters"]["total"], 54);
    assert_eq!(status["counters"]["failed"], 0);
    assert_eq!(status["counters"]["by_license_status"]["OOB grace"], 54);
    // Two groups: Windows (client + server together) and Office 2013+.
    let counts = status["counts"].as_array().unwrap();
    let win = counts.iter().find(|c| c["kms_id"] == sku(products[0]).kms.to_string()).unwrap();
    assert_eq!(win["genuine"], 6);
    assert_eq!(win["group_genuine"], 12);
    assert_eq!(win["threshold"], 25);
    assert_eq!(win["reported"], 50);
    let log = host.events("activated");
    assert_eq!(log.len(), 54, "one log line per activation");
    assert_eq!(log[0]["fields"]["client"], "127.0.0.1");
    assert_eq!(log[0]["fields"]["product"], catalog::kms_id(&sku(products[0]).kms).unwrap().name);
}

#[test]
fn several_listeners_ipv4_and_ipv6() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--listen", "[::1]:0"]);
    assert_eq!(host.kms_all.len(), 2);
    for addr in &host.kms_all {
        let mut c = Client::ndr64(*addr).unwrap();
        let req = request(sku("Windows 10/11 Enterprise"), Version::V6, random_cmid(), "TWO-LISTENERS");
        c.request(&req).unwrap().granted();
    }
    let page = get_json(&host.url("/api/clients"), None);
    let mut remotes: Vec<&str> = page["clients"].as_array().unwrap().iter().map(|c| c["remote"].as_str().unwrap()).collect();
    remotes.sort();
    assert_eq!(remotes, ["127.0.0.1", "::1"]);
    let status = get_json(&host.url("/api/status"), None);
    assert_eq!(status["listen"].as_array().unwrap().len(), 2);
}

/// The `kmsedge activate` command itself against `kmsedge serve`: every
/// version on both transfer syntaxes for a Windows client, a Windows Server
/// and an Office product, two requests per connection, each verified by the
/// client and carrying the host's stored identity; and a refusal that makes
/// the command fail with the host's HRESULT.
#[test]
fn the_activate_command_against_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &[]);
    let status = get_json(&host.url("/api/status"), None);
    let hwid = status["identity"]["hwid"].as_str().unwrap().to_owned();
    let target = host.kms.to_string();
    let mut runs = 0;
    for name in ["Windows 10/11 Enterprise", "Windows Server 2022 Datacenter", "Office LTSC Professional Plus 2021"] {
        let s = sku(name);
        let slot = catalog::slot(catalog::slot_for(&s.kms, &catalog::application_by_key(s.app).id));
        let want_epid = slot_epid(&status, slot.name);
        for protocol in ["4", "5", "6"] {
            for ndr64 in [false, true] {
                let mut args = vec!["activate", &target, "--product", name, "--protocol", protocol, "--requests", "2", "--json"];
                if ndr64 {
                    args.push("--ndr64");
                }
                let out = run(&args);
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(out.status.success(), "{args:?}: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
                let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                assert_eq!(report["ok"], true);
                assert_eq!(report["activated"], 2);
                for r in report["requests"].as_array().unwrap() {
                    assert_eq!(r["hresult"], "0x00000000", "{r}");
                    assert_eq!(r["protocol"], format!("{protocol}.0"));
                    assert_eq!(r["syntax"].as_str().unwrap().to_ascii_lowercase(), if ndr64 { "ndr64" } else { "ndr32" });
                    assert_eq!(r["epid"].as_str().unwrap(), want_epid, "{name} V{protocol}");
                    if protocol == "6" {
                        assert_eq!(r["hwid"].as_str().unwrap(), hwid);
                    }
                    assert!(r["count"].as_u64().unwrap() >= r["n_policy"].as_u64().unwrap());
                }
                runs += 1;
            }
        }
    }
    assert_eq!(runs, 18);
    // Every request came from a fresh machine id, and each was recorded.
    let clients = get_json(&host.url("/api/clients?limit=1"), None);
    assert_eq!(clients["total"], 36);

    // A client whose clock is five hours off is refused by the host's
    // default ±4 h check, and the command says so and fails.
    let out = run(&["activate", &target, "--product", "Windows 10/11 Enterprise", "--time", "now-5h"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("0xC004F06C"), "{stderr}");
}
