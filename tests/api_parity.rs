//! The two hosts answer alike: the same activations go into a native
//! `kmsedge serve` (started here on free loopback ports, with the policy of
//! the Worker's wrangler.toml `[vars]`) and into the edge host under a live
//! `wrangler dev` (started by scripts/test-edge.sh on a fresh persistence
//! directory, described by its KMSEDGE_EDGE_* variables), then every
//! `/api/*` answer of one is compared field by field with the other's.
//!
//! Runtime-only fields are left out of the exact comparison: `runtime`,
//! `started_at`, `uptime_secs`, `listen` and `dns` of the status; the host
//! identity (random per host: only its slots, CSVLK names and number of
//! ePIDs are compared); `remote` of a client row (an IP natively, `tcp` at
//! the edge); `first_seen`/`last_seen` (compared within a few seconds); of
//! an event, its `remote` (likewise) and `time` (within a few seconds); the
//! CSV of the events by its header and number of lines; the
//! activity buckets (their lengths and the sums of ok and failed). A 400
//! answer is compared by its status alone (the texts are the frameworks').
//!
//! Each activation step starts on a fresh wall-clock second and goes to both
//! hosts at once, so both record the steps in the same strictly increasing
//! order of seconds and the default `last_seen` order is the same on both.
mod support;

use kmsedge::catalog::{self, AppKey};
use kmsedge::client::{Options, RequestBuilder};
use kmsedge::kms::{RequestRepr, Version};
use kmsedge::tools::kms_client::{self, ClientOptions, Reply, Target};
use kmsedge::{Guid, HResult};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::edge::{Edge, http_get, sku};
use support::serve::Serve;

const NATIVE_TOKEN: &str = "api-parity-native-admin-token-0123456789";

const WIN7: &str = "7fde5219-fbfa-484a-82c9-34d1ad53e856";
const WIN8: &str = "3c40b358-5948-45af-923b-53d21fcc7e79";
const WIN10: &str = "58e2134f-8e11-4d17-9cb2-91069c151148";
const SERVER2022: &str = "b74263e4-0f92-46c6-bcf8-c11d5efe2959";
const OFFICE2010: &str = "e85af946-2e25-47b7-83e1-bebcebeac611";
const OFFICE2013: &str = "e6a6f1bf-9d40-40c3-aa9f-c77ba21578c0";
const OFFICE2019: &str = "617d9eb1-ef36-4f82-86e0-a65ae07b96c6";
const OFFICE2021: &str = "86d50b16-4808-41af-b83b-b338274318b2";
/// KMS counted ids and SKUs the catalogue does not know.
const UNKNOWN_WIN_KMS: &str = "0badc0de-5eed-4a11-8b0b-0000000000a1";
const UNKNOWN_WIN_SKU: &str = "0badc0de-5eed-4a11-8b0b-0000000000b1";
const UNKNOWN_OFFICE_KMS: &str = "0ff1cebe-5eed-4a11-8b0b-0000000000a2";
const UNKNOWN_OFFICE_SKU: &str = "0ff1cebe-5eed-4a11-8b0b-0000000000b2";

/// Fixed CMIDs, in no particular order of their text.
const C1: &str = "c1d2e3f4-0a1b-4c2d-8e3f-5a6b7c8d9e01";
const C2: &str = "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f902";
const C3: &str = "e3a1b2c3-d4e5-46f7-a8b9-c0d1e2f3a403";
const C4: &str = "04f5e6d7-c8b9-4a0b-9c1d-2e3f4a5b6c04";
const C5: &str = "a5b6c7d8-e9f0-4a1b-8c2d-3e4f5a6b7c05";
const C6: &str = "56789abc-def0-4123-9456-789abcdef006";
const C7: &str = "f7e6d5c4-b3a2-4190-8f7e-6d5c4b3a2907";
const C8: &str = "3a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c08";
const C9: &str = "b9c0d1e2-f3a4-45b6-97c8-d9e0f1a2b309";
const C10: &str = "1a0b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c10";
const C11: &str = "d1e2f3a4-b5c6-47d8-99e0-f1a2b3c4d511";
const C12: &str = "6c12d3e4-f5a6-47b8-a9c0-d1e2f3a4b512";
const C13: &str = "8d13e4f5-a6b7-48c9-8ad1-e2f3a4b5c613";
const C14: &str = "9e14f5a6-b7c8-49da-9be2-f3a4b5c6d714";

const HOUR: i64 = 3600;

/// One activation, sent alike to both hosts.
struct Step {
    what: &'static str,
    req: RequestRepr,
    /// Seconds the client's clock is off (the time is set when the step runs).
    skew: i64,
    ndr64: bool,
    expect: HResult,
}

fn guid(s: &str) -> Guid {
    Guid::parse(s).unwrap()
}

/// A request for a catalogue SKU (of `kms_id`, whose name contains `words`).
fn catalogue(kms_id: &str, words: &str) -> RequestBuilder {
    let id = sku(kms_id, words);
    RequestBuilder::for_sku(catalog::sku(&guid(&id)).unwrap())
}

/// A request for an unknown counted id under a known application.
fn unknown(app: AppKey, kms_id: &str, sku_id: &str, n_policy: u32) -> RequestBuilder {
    RequestBuilder::new(catalog::application_by_key(app).id, guid(sku_id), guid(kms_id), n_policy, 6)
}

fn v(major: u16) -> Version {
    Version { major, minor: 0 }
}

/// The activations: Windows and Office SKUs on V4, V5 and V6, unknown ids
/// under the Windows and the Office application, repeated CMIDs (same
/// product again, renamed machine, another product, granted then refused
/// and refused then granted), and refusals (clock 5 h off, N policy too large).
fn steps() -> Vec<Step> {
    let ok = HResult::S_OK;
    let skew = HResult::INVALID_TIMESTAMP;
    let mut s = Vec::new();
    let mut add = |what, b: RequestBuilder, cmid: &str, ws: &str, skew_secs: i64, ndr64: bool, expect: HResult| {
        let req = b.cmid(guid(cmid)).workstation(ws).build();
        s.push(Step { what, req, skew: skew_secs, ndr64, expect });
    };
    add("Win10 Enterprise V6", catalogue(WIN10, "Enterprise").license_status(2), C1, "LAB-PC-01", 0, true, ok);
    add("Server 2022 Standard V6", catalogue(SERVER2022, "Standard").license_status(1), C2, "BUILD_SRV_22", 0, false, ok);
    add("Win7 Professional V4", catalogue(WIN7, "Professional").license_status(2), C3, "lab-pc-07", 0, false, ok);
    add("Win8 Enterprise V5", catalogue(WIN8, "Enterprise").license_status(0), C4, "ACCT_LAPTOP", 0, true, ok);
    add("Office 2010 ProPlus V4", catalogue(OFFICE2010, "Professional Plus"), C5, "FIN-DESK-3", 0, false, ok);
    add("Office 2013 ProPlus V5", catalogue(OFFICE2013, "Professional Plus").license_status(5), C6, "FIN-DESK-3", 0, true, ok);
    add("Office 2021 ProPlus V6, CMID of C1", catalogue(OFFICE2021, "Professional Plus"), C1, "LAB-PC-01", 0, true, ok);
    add("Office 2019 Standard V6", catalogue(OFFICE2019, "Standard 2019").license_status(6), C7, "FIN_DESK_4", 0, false, ok);
    add("unknown id, Windows app V6", unknown(AppKey::Windows, UNKNOWN_WIN_KMS, UNKNOWN_WIN_SKU, 25), C8, "KIOSK-9", 0, false, ok);
    add(
        "unknown id, Office app V5",
        unknown(AppKey::Office2013, UNKNOWN_OFFICE_KMS, UNKNOWN_OFFICE_SKU, 5).version(v(5)),
        C9,
        "KIOSK_10",
        0,
        true,
        ok,
    );
    add("Win10 Education, clock +5 h", catalogue(WIN10, "Education"), C10, "SKEWED-PC", 5 * HOUR, false, skew);
    add("Server 2022 Datacenter, clock -5 h", catalogue(SERVER2022, "Datacenter"), C11, "SKEWED-SRV", -5 * HOUR, true, skew);
    add("Win10 Pro, N policy 1001", catalogue(WIN10, "Pro").n_policy(1001), C13, "N-TOO-BIG", 0, false, HResult::INVALID_DATA);
    add("Win10 Pro V5 (older protocol)", catalogue(WIN10, "Pro").version(v(5)), C12, "LAB-PC-12", 0, false, ok);
    add("Office 2021 ProPlus V6, non-ASCII name", catalogue(OFFICE2021, "Professional Plus"), C14, "BÜRO-PC-5", 0, false, ok);
    add("repeat C1 Win10", catalogue(WIN10, "Enterprise").license_status(1), C1, "LAB-PC-01", 0, false, ok);
    add("repeat C3 Win7, renamed", catalogue(WIN7, "Professional").license_status(1), C3, "LAB-PC-07B", 0, true, ok);
    add("repeat C2 Server 2022, clock +5 h", catalogue(SERVER2022, "Standard"), C2, "BUILD_SRV_22", 5 * HOUR, false, skew);
    add("repeat C10 Win10, clock right", catalogue(WIN10, "Education"), C10, "SKEWED-PC", 0, true, ok);
    add("repeat C9 unknown Office, V6", unknown(AppKey::Office2013, UNKNOWN_OFFICE_KMS, UNKNOWN_OFFICE_SKU, 5), C9, "KIOSK_10", 0, false, ok);
    add("repeat C1 Win10 again V4", catalogue(WIN10, "Enterprise").version(v(4)), C1, "LAB-PC-01", 0, false, ok);
    s
}

fn unix_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
}

/// Sleeps until just after the next wall-clock second begins.
async fn next_second() {
    let ms = unix_millis();
    tokio::time::sleep(Duration::from_millis((1000 - (ms % 1000)) as u64 + 20)).await;
}

async fn activate(addr: &str, req: &RequestRepr, ndr64: bool) -> Reply {
    let target = Target::parse(addr).unwrap();
    let options = ClientOptions { rpc: Options { use_ndr64: ndr64, ..Options::default() }, ..ClientOptions::default() };
    let mut replies = kms_client::activate(&target, std::slice::from_ref(req), &options)
        .await
        .unwrap_or_else(|e| panic!("activation at {addr}: {e}"));
    assert_eq!(replies.len(), 1);
    replies.pop().unwrap()
}

/// What of a reply must agree between the hosts. The ePID and HwId are each
/// host's own, and so is the size of the KMS response message: it carries the
/// ePID in UTF-16, whose length varies with the host build in it (4 or 5
/// digits), padded to the AES block in V5 and V6.
fn reply_facts(r: &Reply) -> Value {
    let resp = r.response.map(|o| {
        json!({
            "version": format!("{}.{}", o.repr.version.major, o.repr.version.minor),
            "cmid": o.repr.cmid.to_string(),
            "current_count": o.repr.current_count,
            "activation_interval": o.repr.activation_interval,
            "renewal_interval": o.repr.renewal_interval,
            "hwid": o.hwid.is_some(),
            "epid_length_matches_message": epid_fits(r.message_len, o.repr.version.major, o.repr.epid.as_str()),
        })
    });
    json!({
        "hresult": format!("0x{:08X}", r.hresult().0),
        "activated": r.is_activated(),
        "syntax": format!("{:?}", r.syntax),
        "has_message": r.message_len > 0,
        "response": resp,
    })
}

/// The response size follows from the ePID's length: V4 is 44 bytes of
/// fixed fields + the NUL-terminated UTF-16 ePID + the 16-byte CBC-MAC;
/// V5 and V6 are larger and padded, so only V4 is checked exactly.
fn epid_fits(message_len: usize, major: u16, epid: &str) -> bool {
    let epid_bytes = 2 * (epid.encode_utf16().count() + 1);
    match major {
        4 => message_len == 44 + epid_bytes + 16,
        _ => message_len > epid_bytes,
    }
}

// ------------------------------------------------------------ comparison

/// Walks both values; every leaf is one compared field.
fn diff(path: &str, n: &Value, e: &Value, fields: &mut usize, out: &mut Vec<String>) {
    match (n, e) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(&p, x, y, fields, out),
                    (x, y) => {
                        *fields += 1;
                        out.push(format!("{p}: native {} / edge {}", show(x), show(y)));
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!("{path}: native has {} entries, edge {}", a.len(), b.len()));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, fields, out);
            }
        }
        _ => {
            *fields += 1;
            if n != e {
                out.push(format!("{path}: native {n} / edge {e}"));
            }
        }
    }
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "(missing)".to_owned(), Value::to_string)
}

/// Checks the body is exactly the shared shape `T` (parsed and serialised
/// back, the very same JSON).
fn shape<T: DeserializeOwned + Serialize>(who: &str, path: &str, body: &str, out: &mut Vec<String>) -> Value {
    let raw: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{who} {path}: not JSON ({e}): {body}"));
    match serde_json::from_value::<T>(raw.clone()) {
        Ok(t) if serde_json::to_value(&t).unwrap() == raw => {}
        Ok(_) => out.push(format!("{who} {path}: extra or missing fields: {raw}")),
        Err(e) => out.push(format!("{who} {path}: not the shared shape ({e}): {raw}")),
    }
    raw
}

/// `/api/status` without its runtime-only fields; the identity reduced to
/// what both hosts share (slot and CSVLK names, number of ePIDs).
fn status_comparable(who: &str, mut s: Value, out: &mut Vec<String>) -> Value {
    let o = s.as_object_mut().unwrap();
    let runtime = o.remove("runtime");
    let want = if who == "native" { "native" } else { "edge" };
    if runtime.as_ref().and_then(Value::as_str) != Some(want) {
        out.push(format!("{who} /api/status: runtime {}", show(runtime.as_ref())));
    }
    for k in ["started_at", "uptime_secs", "listen", "dns"] {
        o.remove(k);
    }
    if let Some(id) = o.remove("identity") {
        let epids = id["epids"].as_array().cloned().unwrap_or_default();
        let slots: Vec<Value> = epids.iter().map(|e| json!({"slot": e["slot"], "csvlk_name": e["csvlk_name"]})).collect();
        let well_formed = epids.iter().all(|e| e["epid"].as_str().is_some_and(|t| kmsedge::epid::Epid::parse(t).is_ok()))
            && id["hwid"].as_str().is_some_and(|h| h.len() == 16 && h.bytes().all(|c| c.is_ascii_hexdigit()));
        if !well_formed {
            out.push(format!("{who} /api/status: identity not well formed: {id}"));
        }
        o.insert("identity".into(), json!({"epid_count": epids.len(), "slots": slots}));
    }
    s
}

/// `/api/clients` rows without `remote`, whose seen times are compared
/// apart within `TOLERANCE` seconds.
const TOLERANCE: i64 = 3;

fn clients_split(who: &str, mut page: Value, out: &mut Vec<String>) -> (Value, Vec<(i64, i64)>) {
    let mut seen = Vec::new();
    if let Some(rows) = page["clients"].as_array_mut() {
        for r in rows {
            let o = r.as_object_mut().unwrap();
            let remote = o.remove("remote");
            let ok = match who {
                "native" => remote.as_ref().and_then(Value::as_str).is_some_and(|t| t.parse::<std::net::IpAddr>().is_ok()),
                _ => remote.as_ref().and_then(Value::as_str) == Some(EDGE_REMOTE),
            };
            if !ok {
                out.push(format!("{who} client {}: remote {}", o["cmid"], show(remote.as_ref())));
            }
            let f = o.remove("first_seen").and_then(|v| v.as_i64()).unwrap_or(-1);
            let l = o.remove("last_seen").and_then(|v| v.as_i64()).unwrap_or(-1);
            seen.push((f, l));
        }
    }
    (page, seen)
}

/// What the edge records as `remote` for clients of its connect port.
const EDGE_REMOTE: &str = "tcp";

/// `/api/activity` reduced to bucket counts and the sums of ok and failed.
fn activity_comparable(a: &Value) -> Value {
    let sum = |k: &str, f: &str| a[k].as_array().map_or(0, |v| v.iter().map(|p| p[f].as_u64().unwrap_or(0)).sum::<u64>());
    let len = |k: &str| a[k].as_array().map_or(0, Vec::len);
    json!({
        "hourly_buckets": len("hourly"),
        "hourly_ok_sum": sum("hourly", "ok"),
        "hourly_failed_sum": sum("hourly", "failed"),
        "daily_buckets": len("daily"),
        "daily_ok_sum": sum("daily", "ok"),
        "daily_failed_sum": sum("daily", "failed"),
    })
}

// ------------------------------------------------------------ setup

/// `kmsedge serve` flags for the Worker's policy: the `[vars]` of the
/// repository's wrangler.toml, with the idle timeout and request limit
/// scripts/test-edge.sh gave the Worker.
fn native_flags(edge: &Edge) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/wrangler.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let toml: toml::Table = toml::from_str(&text).unwrap();
    let vars = toml["vars"].as_table().expect("[vars] in wrangler.toml");
    let var = |k: &str| vars.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let mut flags: Vec<String> = vec!["--admin-token".into(), NATIVE_TOKEN.into()];
    for (name, flag) in [
        ("KMS_COUNT", "--count-policy"),
        ("KMS_MAX_TIME_SKEW", "--max-time-skew"),
        ("KMS_ACTIVATION_INTERVAL", "--activation-interval"),
        ("KMS_RENEWAL_INTERVAL", "--renewal-interval"),
        ("KMS_NDR64", "--ndr64"),
        ("KMS_BTFN", "--btfn"),
        ("KMS_MAX_CONNECTION_SECS", "--max-connection-time"),
    ] {
        if let Some(v) = var(name) {
            flags.extend([flag.into(), v]);
        }
    }
    match var("KMS_SCOPE").as_deref() {
        None => {}
        Some(s @ ("all" | "known" | "genuine" | "covered")) => flags.extend(["--scope".into(), s.into()]),
        Some(list) => {
            flags.extend(["--scope".into(), "list".into()]);
            for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                flags.extend(["--kms-id".into(), id.into()]);
            }
        }
    }
    flags.extend(["--idle-timeout".into(), edge.idle_secs.to_string()]);
    flags.extend(["--max-requests".into(), edge.max_requests.to_string()]);
    flags
}

/// The `/api/clients` queries: good ones (200 on both, bodies compared)
/// and bad ones (400 on both).
fn client_queries() -> (Vec<String>, Vec<&'static str>) {
    let good = vec![
        String::new(),
        "limit=2&offset=1".into(),
        "sort=workstation&order=ASC".into(),
        "sort=product".into(),
        "sort=sku_name&order=asc".into(),
        "sort=requests&order=desc&limit=5".into(),
        "sort=first_seen&order=asc".into(),
        "q=lab-pc".into(),
        "q=professional%20plus".into(),
        "q=Server%202022".into(),
        "q=_".into(),
        format!("kms_id={}", WIN10.to_uppercase()),
        format!("kms_id={}", UNKNOWN_OFFICE_KMS.to_uppercase()),
        format!("kms_id={WIN10}&q=skewed&sort=workstation"),
        "offset=100".into(),
        "limit=1000".into(),
    ];
    let bad = vec!["limit=0", "limit=1001", "order=sideways", "sort=nope", "kms_id=nope", "limit=abc"];
    (good, bad)
}

/// `/api/events` rows without `remote` (checked as for clients) and
/// `time` (compared apart, within `TOLERANCE`).
fn events_split(who: &str, mut page: Value, out: &mut Vec<String>) -> (Value, Vec<i64>) {
    let mut times = Vec::new();
    if let Some(rows) = page["events"].as_array_mut() {
        for r in rows {
            let o = r.as_object_mut().unwrap();
            let remote = o.remove("remote");
            let ok = match who {
                "native" => remote.as_ref().and_then(Value::as_str).is_some_and(|t| t.parse::<std::net::IpAddr>().is_ok()),
                _ => remote.as_ref().and_then(Value::as_str) == Some(EDGE_REMOTE),
            };
            if !ok {
                out.push(format!("{who} event {}: remote {}", o["cmid"], show(remote.as_ref())));
            }
            times.push(o.remove("time").and_then(|v| v.as_i64()).unwrap_or(-1));
        }
    }
    (page, times)
}

/// The `/api/events` queries: good ones (200 on both, bodies compared) and
/// bad ones (400 on both).
fn event_queries() -> (Vec<String>, Vec<&'static str>) {
    let good = vec![
        String::new(),
        "limit=3&offset=2".into(),
        "kind=request".into(),
        "kind=dns".into(),
        "result=ok".into(),
        "result=error".into(),
        "result=0xC004F06C".into(),
        format!("cmid={}", C1.to_uppercase()),
        "workstation=LAB".into(),
        format!("product={WIN10}"),
        "product=professional%20plus".into(),
        "since=0&until=4000000000".into(),
    ];
    let bad = vec!["limit=0", "limit=1001", "kind=all", "result=maybe", "cmid=nope", "since=abc", "since=10&until=5"];
    (good, bad)
}

struct Row {
    what: String,
    native: u16,
    edge: u16,
    fields: usize,
    diffs: usize,
}

#[test]
fn native_and_edge_answer_every_api_query_alike() {
    let edge = Edge::from_env();
    let native = Serve::start_temp(&native_flags(&edge).iter().map(String::as_str).collect::<Vec<_>>());
    let native_http = native.http.expect("native HTTP").to_string();
    let native_kms = native.kms.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut diffs: Vec<String> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();

    // Both start empty: the edge on a fresh persistence directory.
    let before = rt.block_on(http_get(&edge.http, "/api/clients", Some(&edge.admin_token)));
    assert_eq!(before.status, 200, "{}", before.body);
    let before: Value = serde_json::from_str(&before.body).unwrap();
    assert_eq!(before["total"], 0, "the Worker's registry must start empty (fresh --persist-to): {before}");

    // ---- the same activations into both
    let steps = steps();
    let (mut fields, mut step_diffs) = (0, Vec::new());
    rt.block_on(async {
        for (i, step) in steps.iter().enumerate() {
            next_second().await;
            let mut req = step.req;
            req.request_time = kmsedge::tools::common::now().add_secs(step.skew);
            let (n, e) = tokio::join!(activate(&native_kms, &req, step.ndr64), activate(&edge.tcp, &req, step.ndr64));
            for (who, r) in [("native", &n), ("edge", &e)] {
                if r.hresult() != step.expect {
                    step_diffs.push(format!(
                        "step {i} ({}): {who} answered 0x{:08X}, expected 0x{:08X} ({:?})",
                        step.what,
                        r.hresult().0,
                        step.expect.0,
                        r.verdict
                    ));
                }
            }
            diff(&format!("step {i} ({})", step.what), &reply_facts(&n), &reply_facts(&e), &mut fields, &mut step_diffs);
        }
    });
    rows.push(Row { what: format!("{} activations (replies)", steps.len()), native: 0, edge: 0, fields, diffs: step_diffs.len() });
    diffs.extend(step_diffs);

    // ---- the API of both
    let get = |addr: &str, path: &str, token: &str| {
        let r = rt.block_on(http_get(addr, path, Some(token)));
        (r.status, r.body)
    };
    let both = |path: &str| (get(&native_http, path, NATIVE_TOKEN), get(&edge.http, path, &edge.admin_token));

    // status
    {
        let path = "/api/status";
        let ((ns, nb), (es, eb)) = both(path);
        let mut d = Vec::new();
        let mut fields = 0;
        if ns == 200 && es == 200 {
            let (n, e) = (shape::<kmsedge::api::Status>("native", path, &nb, &mut d), shape::<kmsedge::api::Status>("edge", path, &eb, &mut d));
            println!(
                "identity (each host's own, not compared): native host_build {} lcid {}, edge host_build {} lcid {}",
                n["identity"]["host_build"], n["identity"]["lcid"], e["identity"]["host_build"], e["identity"]["lcid"]
            );
            let n = status_comparable("native", n, &mut d);
            let e = status_comparable("edge", e, &mut d);
            if n["policy"]["scope"] != "covered" {
                d.push(format!("the policy must be the default scope \"covered\": {}", n["policy"]));
            }
            diff(path, &n, &e, &mut fields, &mut d);
        } else {
            d.push(format!("{path}: native {ns} / edge {es} (both must be 200): {nb} / {eb}"));
        }
        rows.push(Row { what: path.into(), native: ns, edge: es, fields, diffs: d.len() });
        diffs.extend(d);
    }

    // activity
    {
        let path = "/api/activity";
        let ((ns, nb), (es, eb)) = both(path);
        let mut d = Vec::new();
        let mut fields = 0;
        if ns == 200 && es == 200 {
            let n = activity_comparable(&shape::<kmsedge::api::Activity>("native", path, &nb, &mut d));
            let e = activity_comparable(&shape::<kmsedge::api::Activity>("edge", path, &eb, &mut d));
            let ok = steps.iter().filter(|s| s.expect == HResult::S_OK).count() as u64;
            if n["hourly_ok_sum"] != ok || n["hourly_failed_sum"] != steps.len() as u64 - ok {
                d.push(format!("{path}: native sums {n} do not add up to the {} steps ({ok} granted)", steps.len()));
            }
            diff(path, &n, &e, &mut fields, &mut d);
        } else {
            d.push(format!("{path}: native {ns} / edge {es} (both must be 200)"));
        }
        rows.push(Row { what: path.into(), native: ns, edge: es, fields, diffs: d.len() });
        diffs.extend(d);
    }

    // clients
    let (good, bad) = client_queries();
    for q in &good {
        let path = if q.is_empty() { "/api/clients".to_owned() } else { format!("/api/clients?{q}") };
        let ((ns, nb), (es, eb)) = both(&path);
        let mut d = Vec::new();
        let mut fields = 0;
        if ns == 200 && es == 200 {
            let (n, n_seen) = clients_split("native", shape::<kmsedge::api::ClientPage>("native", &path, &nb, &mut d), &mut d);
            let (e, e_seen) = clients_split("edge", shape::<kmsedge::api::ClientPage>("edge", &path, &eb, &mut d), &mut d);
            diff(&path, &n, &e, &mut fields, &mut d);
            for (i, (a, b)) in n_seen.iter().zip(&e_seen).enumerate() {
                fields += 2;
                if (a.0 - b.0).abs() > TOLERANCE || (a.1 - b.1).abs() > TOLERANCE {
                    d.push(format!("{path}.clients[{i}] first_seen/last_seen: native {a:?} / edge {b:?} (tolerance {TOLERANCE} s)"));
                }
            }
        } else {
            d.push(format!("{path}: native {ns} / edge {es} (both must be 200): {nb} / {eb}"));
        }
        rows.push(Row { what: path, native: ns, edge: es, fields, diffs: d.len() });
        diffs.extend(d);
    }
    for q in &bad {
        let path = format!("/api/clients?{q}");
        let ((ns, nb), (es, eb)) = both(&path);
        let mut d = Vec::new();
        if ns != 400 || es != 400 {
            d.push(format!("{path}: native {ns} {nb:?} / edge {es} {eb:?} (both must be 400)"));
        }
        rows.push(Row { what: path, native: ns, edge: es, fields: 1, diffs: d.len() });
        diffs.extend(d);
    }

    // events
    let (good, bad) = event_queries();
    for q in &good {
        let path = if q.is_empty() { "/api/events".to_owned() } else { format!("/api/events?{q}") };
        let ((ns, nb), (es, eb)) = both(&path);
        let mut d = Vec::new();
        let mut fields = 0;
        if ns == 200 && es == 200 {
            let (n, n_times) = events_split("native", shape::<kmsedge::api::EventPage>("native", &path, &nb, &mut d), &mut d);
            let (e, e_times) = events_split("edge", shape::<kmsedge::api::EventPage>("edge", &path, &eb, &mut d), &mut d);
            if q.is_empty() && n["total"] != steps.len() as u64 {
                d.push(format!("{path}: native total {} is not one event per step ({})", n["total"], steps.len()));
            }
            diff(&path, &n, &e, &mut fields, &mut d);
            for (i, (a, b)) in n_times.iter().zip(&e_times).enumerate() {
                fields += 1;
                if (a - b).abs() > TOLERANCE {
                    d.push(format!("{path}.events[{i}].time: native {a} / edge {b} (tolerance {TOLERANCE} s)"));
                }
            }
        } else {
            d.push(format!("{path}: native {ns} / edge {es} (both must be 200): {nb} / {eb}"));
        }
        rows.push(Row { what: path, native: ns, edge: es, fields, diffs: d.len() });
        diffs.extend(d);
    }
    for q in &bad {
        let path = format!("/api/events?{q}");
        let ((ns, nb), (es, eb)) = both(&path);
        let mut d = Vec::new();
        if ns != 400 || es != 400 {
            d.push(format!("{path}: native {ns} {nb:?} / edge {es} {eb:?} (both must be 400)"));
        }
        rows.push(Row { what: path, native: ns, edge: es, fields: 1, diffs: d.len() });
        diffs.extend(d);
    }
    {
        let path = "/api/events.csv?result=ok";
        let ((ns, nb), (es, eb)) = both(path);
        let mut d = Vec::new();
        let csv_shape = |b: &str| (b.split("\r\n").next().unwrap_or_default().to_owned(), b.matches("\r\n").count());
        if ns != 200 || es != 200 || csv_shape(&nb) != csv_shape(&eb) {
            d.push(format!("{path}: native {ns} {:?} / edge {es} {:?} (header and line count must match)", csv_shape(&nb), csv_shape(&eb)));
        }
        rows.push(Row { what: path.into(), native: ns, edge: es, fields: 2, diffs: d.len() });
        diffs.extend(d);
    }

    // ---- the table
    println!("\nnative kmsedge serve vs edge wrangler dev: /api/* compared field by field");
    println!("{:<78} {:>6} {:>5} {:>7} {:>6}", "what", "native", "edge", "fields", "diffs");
    for r in &rows {
        let status = |s: u16| if s == 0 { "-".to_owned() } else { s.to_string() };
        println!("{:<78} {:>6} {:>5} {:>7} {:>6}", r.what, status(r.native), status(r.edge), r.fields, r.diffs);
    }
    println!(
        "{} answers, {} fields compared, {} differences (runtime-only fields left out: runtime, started_at, uptime_secs, \
         listen, dns, identity values, remote; first/last_seen and event times within {TOLERANCE} s; activity as bucket lengths and sums)",
        rows.len(),
        rows.iter().map(|r| r.fields).sum::<usize>(),
        diffs.len()
    );
    let stopped = native.stop();
    assert!(diffs.is_empty(), "the hosts differ:\n  {}", diffs.join("\n  "));
    assert!(stopped.success(), "kmsedge serve stopped with {stopped}");
}
