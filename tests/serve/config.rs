//! Configuration errors stop the host before it binds anything, with one
//! line naming the problem and a non-zero exit; a good file is obeyed and
//! flags override it.
use crate::client::{Client, random_cmid, request, sku};
use crate::support::bin::run;
use crate::support::serve::{Serve, get_json, run_to_exit};
use kmsedge::kms::Version;

/// `kmsedge serve ARGS…` must fail: exit 1 and exactly one stderr line
/// containing `want`.
fn fails(args: &[&str], want: &str) {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let (code, stderr) = run_to_exit(&all);
    assert_eq!(code, Some(1), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line, got:\n{stderr}");
    assert!(lines[0].starts_with("kmsedge: "), "{}", lines[0]);
    assert!(lines[0].contains(want), "{args:?}: {:?} lacks {want:?}", lines[0]);
}

#[test]
fn config_errors_are_one_line_and_exit_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data = data.to_str().unwrap();
    let file = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };

    let unknown = file("unknown.toml", "[limits]\nidle_timeout = 5\nmax_conections = 10\n");
    fails(&["--data", data, "--config", &unknown], "line 3, column 1: unknown field `max_conections`");
    let bad_addr = file("addr.toml", "listen = [\"1688\"]\n");
    fails(&["--data", data, "--config", &bad_addr, "--listen", "::1688"], "--listen: \"::1688\" is not an IP address and port");
    fails(&["--data", data, "--http", "localhost:8080"], "--http: \"localhost:8080\" is not an IP address and port");
    // Without the flag, the file's value is the one named.
    let (_, stderr) = run_to_exit(&["serve", "--data", data, "--config", &bad_addr, "--http", "off"]);
    assert!(stderr.contains(&format!("listen in {bad_addr}: \"1688\"")), "{stderr}");
    fails(&["--data", data, "--config", "/nonexistent/kmsedge.toml"], "config file /nonexistent/kmsedge.toml: No such file");
    let syntax = file("syntax.toml", "[policy\ncount = 1\n");
    fails(&["--data", data, "--config", &syntax], "line 1");
    fails(&["--data", data, "--max-pdu", "99999"], "--max-pdu: expected 512 to 4096 bytes");
    fails(&["--data", data, "--count-policy", "lots"], "--count-policy: expected sufficient, genuine or a count");

    // Unusable data directories: a file in the way, and a path under one.
    let blocker = file("not-a-dir", "x");
    fails(&["--data", &blocker], &format!("data directory {blocker}"));
    fails(&["--data", &format!("{blocker}/sub")], &format!("data directory {blocker}/sub"));
    // Nothing was created by the failed starts.
    assert!(!std::path::Path::new(data).exists());

    // A port that is taken: named, nothing left running.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr) = run_to_exit(&["serve", "--data", data, "--listen", &addr, "--http", "off"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn the_file_is_obeyed_and_flags_override_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("kmsedge.toml");
    std::fs::write(
        &cfg,
        format!(
            "data = \"{}\"\nlisten = [\"127.0.0.1:0\"]\nhttp = \"127.0.0.1:0\"\n[policy]\ncount = 33\nrenewal_interval = 1440\n[log]\nformat = \"json\"\n",
            tmp.path().join("data").display()
        ),
    )
    .unwrap();
    let args = ["serve", "--config", cfg.to_str().unwrap(), "--renewal-interval", "720"].iter().map(|s| s.to_string()).collect();
    let host = Serve::start_with(args, &tmp.path().join("data"));
    let out = Client::ndr64(host.kms).unwrap().request(&request(sku("Windows 10/11 Enterprise"), Version::V6, random_cmid(), "CFG")).unwrap();
    let crate::client::Outcome::Granted { count, renewal_interval, activation_interval, .. } = out else { panic!("{out:?}") };
    assert_eq!(count, 33, "from the file");
    assert_eq!(renewal_interval, 720, "the flag wins");
    assert_eq!(activation_interval, 120, "the default");
    let status = get_json(&host.url("/api/status"), None);
    assert_eq!(status["policy"]["fixed_count"], 33);
    assert!(tmp.path().join("data/registry.sqlite3").exists());
}

#[test]
fn help_documents_every_option() {
    let out = run(&["serve", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--config", "--listen", "--http", "--admin-token", "--admin-token-file", "--data", "--sync", "--count-policy", "--scope",
        "--kms-id", "--max-time-skew", "--activation-interval", "--renewal-interval", "--ndr64", "--btfn", "--idle-timeout",
        "--max-pdu", "--max-connections", "--max-per-address", "--allow", "--shutdown-grace", "--hwid", "--epid",
        "--log-level", "--log-format",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    for key in ["[listen]", "[policy.count]", "[limits.idle_timeout]", "[identity.epids]", "[registry.sync]", "[log.format]"] {
        assert!(help.contains(key), "config key {key} missing from --help");
    }
    assert!(help.contains("slmgr /skms"), "how clients use the host");
}
