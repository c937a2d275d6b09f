//! `kmsedge activate`, `bench` and `products` end to end: the binary over
//! loopback TCP against an in-process host built from the core
//! (tests/support/fake_host.rs), plus the client library on its own.
mod support;

use support::bin::{json_ok, one_line_error, run, stderr, stdout};
use support::fake_host::{self, Behaviour, EPID, HWID_HEX, HostConfig, TestHost};
use kmsedge::HResult;
use kmsedge::client::{ClientError, Options, RequestBuilder};
use kmsedge::host::{Config, CountPolicy, Policy, Scope};
use kmsedge::tools::kms_client::{self, ClientOptions, KmsConnection, Target};
use kmsedge::tools::products;
use kmsedge::wire::Syntax;
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn host() -> TestHost {
    TestHost::start(HostConfig::default())
}

fn host_with(f: impl FnOnce(&mut HostConfig)) -> TestHost {
    let mut cfg = HostConfig::default();
    f(&mut cfg);
    TestHost::start(cfg)
}

// ---------------------------------------------------------------- activate

/// Windows client, Windows Server and Office products, protocol 4/5/6,
/// NDR32/NDR64, three requests on one connection each: every field of the
/// JSON report as the host set it.
#[test]
fn activate_every_protocol_and_syntax() {
    let h = host();
    let t = h.target();
    let mut expected_answers = 0;
    for (product, n_policy) in
        [("Windows 10/11 Pro", 25), ("Windows Server 2022 Datacenter", 5), ("Office LTSC Professional Plus 2021", 5)]
    {
        for v in ["4", "5", "6"] {
            for ndr64 in [false, true] {
                let mut args = vec!["activate", &t, "--product", product, "--protocol", v, "--requests", "3", "--json"];
                if ndr64 {
                    args.push("--ndr64");
                }
                let r = json_ok(&args);
                let what = format!("{product} v{v} ndr64={ndr64}");
                assert_eq!(r["ok"], true, "{what}");
                assert_eq!(r["activated"], 3, "{what}");
                assert_eq!(r["product"]["name"], product);
                let syntax = if ndr64 { "NDR64" } else { "NDR32" };
                assert_eq!(r["rpc"]["syntax"], syntax, "{what}");
                assert_eq!(r["address"], t.as_str());
                let reqs = r["requests"].as_array().unwrap();
                assert_eq!(reqs.len(), 3);
                let mut cmids = HashSet::new();
                for (i, q) in reqs.iter().enumerate() {
                    assert_eq!(q["ok"], true, "{what}: {q}");
                    assert_eq!(q["hresult"], "0x00000000");
                    assert_eq!(q["host_hresult"], "0x00000000");
                    assert_eq!(q["index"], i as u64 + 1);
                    assert_eq!(q["call_id"], i as u64 + 2, "call ids advance per request from 2");
                    assert_eq!(q["protocol"], format!("{v}.0"));
                    assert_eq!(q["response_protocol"], format!("{v}.0"));
                    assert_eq!(q["syntax"], syntax);
                    assert_eq!(q["epid"], EPID);
                    assert_eq!(q["epid_parts"]["host_build"], 17763);
                    assert_eq!(q["epid_parts"]["group_id"], 206);
                    assert_eq!(q["n_policy"], n_policy);
                    // The policy's "sufficient" count: twice the N policy.
                    assert_eq!(q["count"], 2 * n_policy);
                    assert_eq!(q["activation_interval"], 120);
                    assert_eq!(q["renewal_interval"], 10080);
                    let c = &q["checks"];
                    assert_eq!(
                        (
                            c["version_echoed"].clone(),
                            c["cmid_echoed"].clone(),
                            c["time_echoed"].clone(),
                            c["count"].clone()
                        ),
                        (Value::Bool(true), Value::Bool(true), Value::Bool(true), Value::Bool(true))
                    );
                    match v {
                        "4" => {
                            assert_eq!(q["hwid"], Value::Null);
                            assert_eq!(c["mac"], true);
                            assert_eq!(c["iv"], Value::Null);
                        }
                        "5" => {
                            assert_eq!(q["hwid"], Value::Null);
                            assert_eq!(
                                (c["iv"].clone(), c["salt_hash"].clone()),
                                (Value::Bool(true), Value::Bool(true))
                            );
                            assert_eq!(c["hmac"], Value::Null);
                        }
                        _ => {
                            assert_eq!(q["hwid"], HWID_HEX);
                            assert_eq!(c["hmac"], true);
                            assert_eq!(c["xored_ivs"], true);
                            assert_eq!(c["hmac_time_slot"], 0);
                        }
                    }
                    assert!(q["workstation"].as_str().unwrap().starts_with("DESKTOP-"));
                    cmids.insert(q["cmid"].as_str().unwrap().to_string());
                }
                assert_eq!(cmids.len(), 3, "a fresh CMID per request");
                expected_answers += 3;
            }
        }
    }
    assert_eq!(h.answered(), expected_answers);
}

/// Like vlmcs: offer NDR32+NDR64, and when the host takes only NDR64 send
/// an alter_context so the requests go out on NDR32. A host without NDR64
/// needs no alter_context; asking it for NDR64 is an error.
#[test]
fn activate_binding_variants() {
    let h = host();
    let t = h.target();
    let r = json_ok(&["activate", &t, "--product", "Windows 10/11 Pro", "--json"]);
    assert_eq!((r["rpc"]["alter_context"].clone(), r["rpc"]["syntax"].clone()), (Value::Bool(true), "NDR32".into()));
    let r =
        json_ok(&["activate", &t, "--product", "Windows 10/11 Pro", "--no-ndr64", "--no-btfn", "--no-mux", "--json"]);
    assert_eq!(r["rpc"]["alter_context"], false);
    assert_eq!((r["rpc"]["btfn"].clone(), r["rpc"]["multiplex"].clone()), (Value::Bool(false), Value::Bool(false)));

    let old = host_with(|c| c.config = Config { ndr64: false, ..Config::default() });
    let t = old.target();
    let r = json_ok(&["activate", &t, "--product", "Windows 7 Professional", "--json"]);
    assert_eq!(r["rpc"]["alter_context"], false);
    assert_eq!(r["requests"][0]["protocol"], "4.0", "Windows 7 clients speak V4");
    let e = one_line_error(&["activate", &t, "--product", "Windows 7 Professional", "--ndr64"]);
    assert!(e.contains("did not accept NDR64"), "{e}");
}

#[test]
fn activate_fixed_request_fields() {
    let h = host();
    let t = h.target();
    let cmid = "3b5a8e4f-1d2c-4e6f-9a7b-0c1d2e3f4a5b";
    let r = json_ok(&[
        "activate",
        &t,
        "--sku",
        "2de67392-b7a7-462a-b1ca-108dd189f588",
        "--cmid",
        cmid,
        "--workstation",
        "LAB-PC-01",
        "--time",
        "now-1h",
        "--n-policy",
        "7",
        "--vm",
        "-n",
        "2",
        "--json",
    ]);
    assert_eq!(r["product"]["name"], "Windows 10/11 Pro");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    for q in r["requests"].as_array().unwrap() {
        assert_eq!(q["cmid"], cmid);
        assert_eq!(q["workstation"], "LAB-PC-01");
        assert_eq!(q["n_policy"], 7);
        assert_eq!(q["count"], 14);
        assert_eq!(q["vm"], true);
        let skew = now - 3600 - q["request_time_unix"].as_i64().unwrap();
        assert!(skew.abs() <= 5, "request time one hour back, got skew {skew}");
    }
}

#[test]
fn activate_text_shows_request_response_and_checks() {
    let h = host();
    let o = run(&["activate", &h.target(), "--product", "Windows Server 2022 Datacenter", "--protocol", "6"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "Connecting to 127.0.0.1:",
        "Request 1 of 1",
        "SKU ID (aka Activation ID)      : ",
        "Windows Server 2022 Datacenter",
        "KMS host extended PID           : 03612-00206-556-123727-03-1033-17763.0000-2972018",
        "host build                    : 17763",
        "KMS host Hardware ID            : 3A1C049600B60076",
        "KMS host current active clients : 10",
        "Activation interval policy      : 120 min (2 h)",
        "HMAC ok (time slot 0)",
        "XoredIVs ok",
        "Result                          : activated (0x00000000)",
        "1 of 1 activation succeeded.",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
}

/// A refusal is a failure: non-zero exit, the HRESULT and its name.
#[test]
fn activate_refusals_exit_nonzero_with_the_hresult() {
    let h = host();
    let t = h.target();
    let e = one_line_error(&["activate", &t, "--product", "Windows 10/11 Pro", "--time", "now-5h"]);
    assert!(e.contains("0xC004F06C") && e.contains("SL_E_VL_INVALID_TIMESTAMP"), "{e}");
    let o = run(&["activate", &t, "--product", "Windows 10/11 Pro", "--time", "now+5h", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["ok"], false);
    assert_eq!(r["requests"][0]["hresult"], "0xC004F06C");
    assert_eq!(r["requests"][0]["hresult_name"], "SL_E_VL_INVALID_TIMESTAMP");
    assert_eq!(r["requests"][0]["epid"], Value::Null);

    let none = host_with(|c| c.policy = Policy { scope: Scope::List(&[]), ..Policy::default() });
    let e = one_line_error(&["activate", &none.target(), "--product", "Office LTSC Professional Plus 2021", "--ndr64"]);
    assert!(e.contains("0xC004F042") && e.contains("SL_E_VL_KEY_MANAGEMENT_SERVICE_ID_MISMATCH"), "{e}");

    // Several requests, all refused: the summary counts them.
    let e = one_line_error(&["activate", &none.target(), "--product", "Windows 10/11 Pro", "-n", "3"]);
    assert!(e.contains("3 of 3 activations failed"), "{e}");
}

/// The count check is the client's: below the N policy is 0xC004F038, and
/// the response is still shown.
#[test]
fn activate_count_below_n_policy_fails() {
    let h = host_with(|c| c.policy = Policy { count: CountPolicy::Fixed(3), ..Policy::default() });
    let o = run(&["activate", &h.target(), "--product", "Office Professional Plus 2019", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("0xC004F038 (SL_E_VL_NOT_ENOUGH_COUNT)"), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let q = &r["requests"][0];
    assert_eq!(q["hresult"], "0xC004F038");
    assert_eq!(q["host_hresult"], "0x00000000");
    assert_eq!(q["count"], 3);
    assert_eq!(q["epid"], EPID);
    assert_eq!(q["checks"]["count"], false);
    assert_eq!(q["checks"]["hmac"], true);
    // The same host satisfies a client that asks for less.
    json_ok(&["activate", &h.target(), "--product", "Office Professional Plus 2019", "--n-policy", "3", "--json"]);
}

/// A response altered in transit fails the client checks.
#[test]
fn activate_rejects_tampered_responses() {
    let h = host_with(|c| c.behaviour = Behaviour::Tamper);
    let t = h.target();
    let e = one_line_error(&["activate", &t, "--product", "Windows 7 Professional", "--protocol", "4"]);
    assert!(e.contains("V4 MAC does not match"), "{e}");
    for v in ["5", "6"] {
        let o = run(&["activate", &t, "--product", "Windows 10/11 Pro", "--protocol", v, "--json"]);
        assert_eq!(o.status.code(), Some(1), "v{v}");
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["requests"][0]["ok"], false);
        assert_eq!(r["requests"][0]["hresult"], "0xC004F074", "v{v}: {}", r["requests"][0]);
    }
}

#[test]
fn activate_times_out_on_a_silent_host() {
    let h = host_with(|c| c.behaviour = Behaviour::Silent);
    let start = Instant::now();
    let e = one_line_error(&["activate", &h.target(), "--product", "Windows 10/11 Pro", "--timeout", "0.5"]);
    assert!(e.contains("bind timed out after 0.5 s"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn activate_over_ipv6_loopback() {
    let h = TestHost::start_on("[::1]:0", HostConfig::default());
    let t = h.target();
    assert!(t.starts_with("[::1]:"));
    let r = json_ok(&["activate", &t, "--product", "Windows 10/11 Pro", "--ndr64", "--json"]);
    assert_eq!(r["target"], t.as_str());
    assert_eq!(r["activated"], 1);
}

#[test]
fn activate_bad_input_is_one_line() {
    let h = host();
    let t = h.target();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let cases: &[(&[&str], &str)] = &[
        (&["activate", "127.0.0.1:99999", "--product", "Windows 10/11 Pro"], "invalid KMS host \"127.0.0.1:99999\""),
        (&["activate", "[::1", "--product", "Windows 10/11 Pro"], "missing ']'"),
        (&["activate", "bad host", "--product", "Windows 10/11 Pro"], "not a valid host name"),
        (&["activate", &t, "--product", "no such product"], "no product matches \"no such product\""),
        (&["activate", &t, "--product", "windows pro"], "is ambiguous: "),
        (&["activate", &t, "--sku", "00000000-1111-2222-3333-444444444444"], "unknown SKU id"),
        (&["activate", &t, "--sku", "Windows"], "invalid --sku"),
        (&["activate", &t, "--product", "Windows 10/11 Pro", "--cmid", "x"], "invalid --cmid"),
        (&["activate", &t, "--product", "Windows 10/11 Pro", "--time", "yesterday"], "invalid --time"),
        (
            &["activate", &t, "--product", "Windows 10/11 Pro", "--workstation", &"W".repeat(64)],
            "invalid --workstation",
        ),
        (&["activate", &t, "--product", "Windows 10/11 Pro", "--timeout", "0"], "--timeout 0 is out of range"),
        (&["activate", &closed, "--product", "Windows 10/11 Pro"], "cannot connect to"),
    ];
    for (args, want) in cases {
        let e = one_line_error(args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
    assert_eq!(h.answered(), 0);
}

// ---------------------------------------------------------------- bench

#[test]
fn bench_counts_every_activation() {
    let h = host();
    let t = h.target();
    let r = json_ok(&["bench", &t, "-c", "4", "-n", "200", "--json"]);
    assert_eq!(r["activations"], 200);
    assert_eq!(r["errors"], 0);
    assert_eq!(r["attempted"], 200);
    assert_eq!(r["unfinished"], 0);
    assert_eq!(r["connections_opened"], 200, "one connection per activation by default");
    assert_eq!(r["stopped_by"], "count");
    assert_eq!(r["errors_by_kind"], serde_json::json!({}));
    assert_eq!(r["latency_ms"]["count"], 200);
    assert_eq!(r["setup_ms"]["count"], 200);
    let l = &r["latency_ms"];
    let (p50, p99, max) = (l["p50"].as_f64().unwrap(), l["p99"].as_f64().unwrap(), l["max"].as_f64().unwrap());
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{l}");
    assert!(r["rate_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(h.answered(), 200 + r["warmup"].as_u64().unwrap());

    let r = json_ok(&[
        "bench",
        &t,
        "-c",
        "3",
        "-n",
        "100",
        "--per-connection",
        "10",
        "--protocol",
        "5",
        "--ndr64",
        "--json",
    ]);
    assert_eq!((r["activations"].clone(), r["errors"].clone()), (100.into(), 0.into()));
    assert_eq!(r["protocol"], "5.0");
    assert_eq!(r["syntax"], "NDR64");
    // 100 activations, 10 per connection; each worker's last connection may
    // be cut short by the shared budget, so up to C - 1 more.
    let opened = r["connections_opened"].as_u64().unwrap();
    assert!((10..=12).contains(&opened), "{opened} connections");

    let o = run(&[
        "bench",
        &t,
        "-c",
        "2",
        "-n",
        "50",
        "--threads",
        "2",
        "--product",
        "Office LTSC Professional Plus 2021",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("50 ok, 0 failed") && out.contains("p99") && out.contains("errors       none"), "{out}");
}

#[test]
fn bench_stops_at_the_duration() {
    let h = host();
    let start = Instant::now();
    let r = json_ok(&["bench", &h.target(), "-c", "2", "-n", "10000000", "-r", "100", "--duration", "1", "--json"]);
    let took = start.elapsed();
    assert_eq!(r["stopped_by"], "duration");
    assert_eq!(r["errors"], 0);
    let done = r["activations"].as_u64().unwrap();
    assert!(done > 0 && done < 10_000_000);
    assert!(r["elapsed_s"].as_f64().unwrap() < 1.5, "{}", r["elapsed_s"]);
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn bench_reports_failures_and_refuses_unbounded_runs() {
    let h = host();
    let t = h.target();
    for (args, want) in [
        (vec!["bench", &t, "-n", "10000001"], "-n 10000001 is out of range: give 1 to 10000000"),
        (vec!["bench", &t, "--duration", "601"], "--duration 601 is out of range"),
        (vec!["bench", &t, "-c", "0"], "-c 0 is out of range"),
        (vec!["bench", &t, "-c", "10001"], "-c 10001 is out of range"),
        (vec!["bench", "host:0"], "invalid KMS host"),
        (vec!["bench", &t, "--product", "windows"], "is ambiguous"),
    ] {
        let e = one_line_error(&args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
    let refusing = host_with(|c| c.policy = Policy { scope: Scope::List(&[]), ..Policy::default() });
    let e = one_line_error(&["bench", &refusing.target(), "-n", "10"]);
    assert!(e.contains("first activation failed") && e.contains("0xC004F042"), "{e}");
    assert_eq!(refusing.answered(), 1, "nothing is sent after the failed first activation");
}

// ---------------------------------------------------------------- products

#[test]
fn products_shows_gvlk_and_commands() {
    let o = run(&["products", "windows 11 pro"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "Only GVLKs",
        "== Windows 10/11 (",
        "Windows 10/11 Pro\n",
        "2de67392-b7a7-462a-b1ca-108dd189f588",
        "W269N-WFGWX-YVC9B-4J6C9-T83GX",
        "slmgr /ipk W269N-WFGWX-YVC9B-4J6C9-T83GX",
        "slmgr /skms kms.example.com:1688",
        "slmgr /ato",
        "slmgr /dlv",
        "Windows 10/11 2015 (Volume)",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert!(!out.contains("Office"), "{out}");

    let o = run(&["products", "office", "2021", "--host", "kms.corp.example", "--port", "1700"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "== Office LTSC 2021 (",
        "Office LTSC Professional Plus 2021",
        "cscript ospp.vbs /inpkey:",
        "cscript ospp.vbs /sethst:kms.corp.example",
        "cscript ospp.vbs /setprt:1700",
        "cscript ospp.vbs /act",
        r"Office16",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert!(!out.contains("slmgr"), "{out}");
}

#[test]
fn products_json_and_errors() {
    let l = json_ok(&["products", "office 2021", "--json"]);
    let families = l["families"].as_array().unwrap();
    assert!(!families.is_empty());
    let mut n = 0;
    for f in families {
        for p in f["products"].as_array().unwrap() {
            n += 1;
            assert!(p["name"].as_str().unwrap().contains("2021"), "{p}");
            let gvlk = p["gvlk"].as_str().unwrap();
            assert_eq!(p["commands"][0], format!("cscript ospp.vbs /inpkey:{gvlk}"));
            assert_eq!(p["commands"][1], "cscript ospp.vbs /sethst:kms.example.com");
        }
    }
    assert_eq!(l["count"], n);
    let pro = l["families"][0]["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Office LTSC Professional Plus 2021");
    assert!(pro.is_some(), "{l}");

    let e = one_line_error(&["products", "zune", "2031"]);
    assert!(e.contains("no product matches \"zune 2031\""), "{e}");
    // A typo: the closest products are named, best first.
    let e = one_line_error(&["products", "Windwos", "11", "Pro"]);
    assert!(e.contains("no product matches \"Windwos 11 Pro\"; closest: \"Windows 10/11 Pro\", "), "{e}");
    let e = one_line_error(&["products", "pro", "--host", "two words"]);
    assert!(e.contains("invalid --host"), "{e}");
    let all = json_ok(&["products", "--json"]);
    assert_eq!(all["count"].as_u64().unwrap() as usize, kmsedge::catalog::SKUS.len());
}

// ---------------------------------------------------------------- library

/// The client library without the CLI: `kms_client::activate` over TCP.
#[test]
fn library_activate_over_tcp() {
    let h = host();
    let target = Target::parse(&h.target()).unwrap();
    let sku = products::resolve("Windows Server 2022 Standard").unwrap();
    let now = kmsedge::tools::common::now();
    let reqs: Vec<_> = (0..4u8)
        .map(|i| RequestBuilder::for_sku(sku).random_cmid([i; 16]).time(now).workstation("LIB").build())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let options = ClientOptions { rpc: Options { use_ndr64: true, ..Options::default() }, ..ClientOptions::default() };
    let replies = rt.block_on(kms_client::activate(&target, &reqs, &options)).unwrap();
    assert_eq!(replies.len(), 4);
    for (r, q) in replies.iter().zip(&reqs) {
        assert!(r.is_activated(), "{:?}", r.verdict);
        assert_eq!(r.syntax, Syntax::Ndr64);
        let resp = r.response.unwrap();
        assert_eq!(resp.repr.cmid, q.cmid);
        assert_eq!(resp.repr.epid.as_str(), EPID);
        assert_eq!(resp.repr.current_count, 10);
        assert_eq!(r.message_len, 260);
    }
    assert_eq!(replies.iter().map(|r| r.call_id).collect::<Vec<_>>(), [2, 3, 4, 5]);
}

/// `KmsConnection` runs over any byte stream (here an in-memory pipe to the
/// same host loop), which is what a tunnel or bridge needs; a refusal is a
/// judged reply, and the connection carries on after it.
#[test]
fn library_connection_over_any_stream() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, server) = tokio::io::duplex(4096);
        let cfg =
            HostConfig { policy: Policy { max_time_skew: Some(60), ..Policy::default() }, ..HostConfig::default() };
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        tokio::spawn(fake_host::serve(server, cfg, answered.clone()));
        let mut conn = KmsConnection::handshake(client, &ClientOptions::default()).await.unwrap();
        assert!(conn.used_alter_context());
        assert_eq!(conn.syntax(), Syntax::Ndr32);
        let sku = products::resolve("Windows 10/11 Enterprise").unwrap();
        let now = kmsedge::tools::common::now();
        let good = RequestBuilder::for_sku(sku).random_cmid([7; 16]).time(now).build();
        let stale = RequestBuilder::for_sku(sku).random_cmid([8; 16]).time(now.add_secs(-3600)).build();
        let r = conn.activate(&stale).await.unwrap();
        assert_eq!(r.verdict, Err(ClientError::Refused(HResult::INVALID_TIMESTAMP)));
        assert_eq!(r.hresult(), HResult::INVALID_TIMESTAMP);
        assert!(r.response.is_none());
        let r = conn.activate(&good).await.unwrap();
        assert!(r.is_activated(), "{:?}", r.verdict);
        assert_eq!(r.response.unwrap().hwid, Some(fake_host::HWID));
        assert_eq!(answered.load(std::sync::atomic::Ordering::SeqCst), 2);
    });
    let h = host_with(|c| c.behaviour = Behaviour::Silent);
    let target = Target::parse(&h.target()).unwrap();
    let options = ClientOptions { timeout: Duration::from_millis(200), ..ClientOptions::default() };
    let sku = products::resolve("Windows 10/11 Pro").unwrap();
    let req = RequestBuilder::for_sku(sku).random_cmid([1; 16]).build();
    let err = rt.block_on(kms_client::activate(&target, &[req], &options)).unwrap_err();
    assert_eq!(err.kind(), "timeout", "{err}");
}
