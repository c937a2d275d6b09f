//! What the host remembers: identity and counts across restarts, the
//! genuine count of distinct machines, and every answered activation after
//! a kill -9 in the middle of load.
use crate::client::{Client, Outcome, random_cmid, request, sku};
use crate::support::bin::command;
use crate::support::serve::{Serve, get, get_json};
use kmsedge::Guid;
use kmsedge::kms::Version;
use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

const WIN10: &str = "Windows 10/11 Enterprise";
const SERVER: &str = "Windows Server 2022 Datacenter";
const OFFICE: &str = "Office LTSC Professional Plus 2021";

fn activate(host: &Serve, product: &str, cmid: Guid) -> Outcome {
    let mut c = Client::ndr64(host.kms).unwrap();
    c.request(&request(sku(product), Version::V6, cmid, "PERSIST")).unwrap()
}

#[test]
fn genuine_count_grows_with_distinct_machines_and_survives_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--count-policy", "genuine"]);
    let first_status = get_json(&host.url("/api/status"), None);

    // Four Windows machines (client and server count together), one of them
    // three times, and one Office machine.
    let machines: Vec<Guid> = (0..4).map(|_| random_cmid()).collect();
    assert_eq!(activate(&host, WIN10, machines[0]).count(), 1);
    assert_eq!(activate(&host, WIN10, machines[0]).count(), 1, "the same machine again does not count twice");
    assert_eq!(activate(&host, SERVER, machines[1]).count(), 2);
    assert_eq!(activate(&host, WIN10, machines[2]).count(), 3);
    assert_eq!(activate(&host, WIN10, machines[0]).count(), 3);
    assert_eq!(activate(&host, OFFICE, machines[3]).count(), 1, "Office counts apart");
    // Below its N policy a client does not activate; the host says so only
    // through the count (a genuine host's behaviour).
    let status = get_json(&host.url("/api/status"), None);
    let win = status["counts"].as_array().unwrap().iter().find(|c| c["kms_id"] == sku(WIN10).kms.to_string()).unwrap();
    assert_eq!(win["genuine"], 2);
    assert_eq!(win["group_genuine"], 3);
    assert_eq!(win["reported"], 3);
    assert!(host.stop().success());

    let host = Serve::start(tmp.path(), &["--count-policy", "genuine"]);
    let again = get_json(&host.url("/api/status"), None);
    assert_eq!(again["identity"], first_status["identity"], "ePIDs and HwId are kept");
    assert_eq!(again["counts"], status["counts"], "counts are kept");
    assert_eq!(again["counters"]["total"], 6);
    // The next new machine continues the count from where it was.
    assert_eq!(activate(&host, SERVER, random_cmid()).count(), 4);
    assert_eq!(activate(&host, WIN10, machines[1]).count(), 4, "a known machine with another product");
    let epid = activate(&host, WIN10, random_cmid()).epid().to_owned();
    // One Windows key (the Server 2025 CSVLK) answers Windows 10/11.
    let keys = again["identity"]["epids"].as_array().unwrap();
    let windows: Vec<_> = keys.iter().filter(|e| e["csvlk_name"].as_str().unwrap().starts_with("Windows")).collect();
    assert_eq!(windows.len(), 1, "{keys:?}");
    assert_eq!(windows[0]["slot"], "WinServer2025");
    assert_eq!(epid, windows[0]["epid"].as_str().unwrap());
    assert!(host.stop().success());

    // Configured ePID and HwId win, without replacing the stored ones.
    let fixed = "03612-00206-556-123727-03-1033-17763.0000-2972018";
    let host = Serve::start(tmp.path(), &["--epid", &format!("Windows={fixed}"), "--hwid", "0011223344556677"]);
    let mut c = Client::ndr64(host.kms).unwrap();
    let out = c.request(&request(sku(WIN10), Version::V6, random_cmid(), "FIXED")).unwrap();
    let Outcome::Granted { epid, hwid, .. } = out else { panic!("{out:?}") };
    assert_eq!(epid, fixed);
    assert_eq!(hwid, Some([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]));
    assert!(host.stop().success());
    let host = Serve::start(tmp.path(), &[]);
    assert_eq!(get_json(&host.url("/api/status"), None)["identity"], first_status["identity"]);
}

/// `kmsedge bench` loads the host, which is killed with -9 in the middle;
/// after a restart, every activation bench got a verified answer for is in
/// the registry (each CMID has at least as many requests recorded as it got
/// answers: bench reuses a pool of CMIDs, so a lost record shows as a
/// count one short), for both durability settings.
#[test]
fn kill_9_during_bench_loses_no_answered_activation() {
    for sync in ["normal", "full"] {
        let tmp = tempfile::tempdir().unwrap();
        let host = Serve::start(tmp.path(), &["--sync", sync]);
        let answers = tmp.path().join("answers.txt");
        let kms = host.kms.to_string();
        let answers_arg = answers.to_str().unwrap();
        // Bounded by count and by time (8 s); 2 s per reply once the host is gone.
        let args = ["bench", &kms, "-c", "8", "-r", "10", "-n", "2000000", "-d", "8", "--timeout", "2", "--answers", answers_arg];
        let bench = command().args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (code, text) = get(&host.url("/metrics"), None);
            assert_eq!(code, 200);
            let granted: u64 = text
                .lines()
                .filter(|l| l.starts_with("kmsedge_requests_total{") && l.contains("result=\"granted\""))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .sum();
            if granted >= 3000 || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        host.kill9();
        let out = bench.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("activations failed"), "{sync}: bench saw the host die: {stderr}");
        let answered: Vec<(Guid, u64)> = std::fs::read_to_string(&answers)
            .unwrap()
            .lines()
            .map(|l| {
                let (cmid, n) = l.split_once(' ').unwrap();
                (Guid::parse(cmid).unwrap(), n.parse().unwrap())
            })
            .collect();
        let total: u64 = answered.iter().map(|(_, n)| n).sum();
        assert!(total >= 3000, "{sync}: bench ran ({total} answered)");

        let host = Serve::start(tmp.path(), &[]);
        let mut stored: HashMap<Guid, u64> = HashMap::new();
        let mut offset = 0;
        loop {
            let page = get_json(&host.url(&format!("/api/clients?limit=1000&offset={offset}")), None);
            for c in page["clients"].as_array().unwrap() {
                stored.insert(Guid::parse(c["cmid"].as_str().unwrap()).unwrap(), c["requests"].as_u64().unwrap());
            }
            offset += 1000;
            if offset >= page["total"].as_u64().unwrap() as usize {
                break;
            }
        }
        let short: Vec<_> = answered.iter().filter(|(cmid, n)| stored.get(cmid).copied().unwrap_or(0) < *n).collect();
        assert!(short.is_empty(), "{sync}: {} CMIDs have fewer requests recorded than answers, e.g. {:?} vs {:?}", short.len(), short.first(), short.first().and_then(|(c, _)| stored.get(c)));
        let recorded: u64 = stored.values().sum();
        assert!(recorded >= total, "{sync}: {recorded} recorded < {total} answered");
        // What was journaled but not yet answered may be there too, not more.
        assert!(recorded <= total + 8, "{sync}: {recorded} recorded, {total} answered");
    }
}
