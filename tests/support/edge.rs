//! Shared by the edge test binaries (`tests/edge.rs`, `tests/edge_restart.rs`),
//! which scripts/test-edge.sh runs against a live `wrangler dev`. They are
//! not part of a plain `cargo test` (`test = false` in Cargo.toml) and fail
//! — never skip — when the variables describing that server are missing.
use super::bin::{command, run};
use futures_util::{SinkExt, StreamExt};
use kmsedge::api::Status;
use kmsedge::catalog;
use kmsedge::tools::activate::Report;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

/// The server under test, from the environment scripts/test-edge.sh sets.
#[derive(Debug, Clone)]
pub struct Edge {
    /// `127.0.0.1:PORT` of `wrangler dev`'s HTTP listener.
    pub http: String,
    /// `127.0.0.1:PORT` of the `[[connect]]` TCP listener.
    pub tcp: String,
    pub admin_token: String,
    /// (branch id, secret) pairs configured in BRANCH_TOKENS.
    pub branches: Vec<(String, String)>,
    /// Where phases leave facts for each other (and the perf figures).
    pub state_dir: PathBuf,
    /// The directory `[assets]` serves.
    pub assets_dir: PathBuf,
    /// `KMS_IDLE_TIMEOUT_SECS` and `KMS_MAX_REQUESTS` of the server.
    pub idle_secs: u64,
    pub max_requests: u32,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: these tests need a running `wrangler dev`; run scripts/test-edge.sh")
    })
}

impl Edge {
    pub fn from_env() -> Edge {
        let branches: Value = serde_json::from_str(&var("KMSEDGE_EDGE_BRANCH_TOKENS")).expect("KMSEDGE_EDGE_BRANCH_TOKENS is JSON");
        let mut branches: Vec<(String, String)> = branches
            .as_object()
            .expect("an object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string secret").to_owned()))
            .collect();
        branches.sort();
        assert!(branches.len() >= 2, "the tests need two branches in KMSEDGE_EDGE_BRANCH_TOKENS");
        let state_dir = PathBuf::from(var("KMSEDGE_EDGE_STATE_DIR"));
        std::fs::create_dir_all(&state_dir).unwrap();
        Edge {
            http: var("KMSEDGE_EDGE_HTTP"),
            tcp: var("KMSEDGE_EDGE_TCP"),
            admin_token: var("KMSEDGE_EDGE_ADMIN_TOKEN"),
            branches,
            state_dir,
            assets_dir: PathBuf::from(var("KMSEDGE_EDGE_ASSETS_DIR")),
            idle_secs: var("KMSEDGE_EDGE_IDLE_SECS").parse().expect("KMSEDGE_EDGE_IDLE_SECS"),
            max_requests: var("KMSEDGE_EDGE_MAX_REQUESTS").parse().expect("KMSEDGE_EDGE_MAX_REQUESTS"),
        }
    }

    /// `ws://127.0.0.1:PORT/` — the path cloudflared uses.
    pub fn tunnel_url(&self) -> String {
        format!("ws://{}/", self.http)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> HttpResponse {
        http_get(&self.http, path, token).await
    }

    /// A JSON API answer, checked to be exactly the shared shape: parsed into
    /// `T` and serialised back, it must give the very same JSON.
    pub async fn api<T: DeserializeOwned + serde::Serialize>(&self, path: &str) -> T {
        let r = self.get(path, Some(&self.admin_token)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let raw: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", r.body));
        let typed: T = serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{path}: not the shared shape ({e}): {raw}"));
        assert_eq!(serde_json::to_value(&typed).unwrap(), raw, "{path}: extra or missing fields");
        typed
    }

    pub async fn status(&self) -> Status {
        self.api("/api/status").await
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 GET (the loopback `wrangler dev` is all it talks to).
pub async fn http_get(addr: &str, path: &str, token: Option<&str>) -> HttpResponse {
    let mut s = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr)).await.expect("connect timeout").expect("connect");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw)).await.expect("HTTP response timeout").unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head");
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    HttpResponse { status, headers, body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `kmsedge activate TARGET ARGS… --json`: the report, whatever the exit code.
pub fn activate(target: &str, args: &[&str]) -> Report {
    // Not bounded by `bin::LIMIT`: the client's own `--timeout` ends it.
    let out = command().arg("activate").arg(target).args(args).arg("--json").output().expect("run kmsedge activate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("kmsedge activate {args:?}: no JSON report ({e}); stdout {stdout}; stderr {}", String::from_utf8_lossy(&out.stderr))
    });
    assert_eq!(out.status.success(), report.ok, "exit status agrees with the report: {report:?}");
    report
}

/// Asserts every request of the report was activated with every check passed.
pub fn assert_activated(report: &Report, n: u32) {
    assert!(report.ok, "not activated: {:?} {:?}", report.error, report.requests.iter().map(|r| &r.error).collect::<Vec<_>>());
    assert_eq!(report.activated, n, "{report:?}");
    assert_eq!(report.requests.len(), n as usize);
    for r in &report.requests {
        assert!(r.ok && r.hresult == "0x00000000", "{r:?}");
    }
}

/// A SKU id of the catalogue whose clients send `kms_id` and whose name contains `words`.
pub fn sku(kms_id: &str, words: &str) -> String {
    let k = kmsedge::Guid::parse(kms_id).unwrap();
    catalog::SKUS
        .iter()
        .find(|s| s.kms == k && s.name.contains(words))
        .unwrap_or_else(|| panic!("no SKU {words:?} for {kms_id}"))
        .id
        .to_string()
}

/// A running `kmsedge bridge`, killed on drop. Its stderr is collected.
pub struct Bridge {
    child: Child,
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Bridge {
    /// Starts a bridge to the tunnel and waits for its "listening on" line.
    pub fn start(edge: &Edge, credential: &[&str], extra: &[&str]) -> Bridge {
        let mut child = command()
            .args(["bridge", "--listen", "127.0.0.1:0", "--url", &edge.tunnel_url()])
            .args(credential)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kmsedge bridge");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let addr = line
            .strip_prefix("kmsedge bridge: listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("bridge did not start: {line:?}; stderr: {}", stderr.lock().unwrap())
            })
            .to_owned();
        Bridge { child, addr, stderr }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle` (bounded).
    pub fn wait_for_log(&self, needle: &str, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if self.stderr().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a bridge that must refuse to start; returns (exit success, stderr).
pub fn bridge_must_exit(edge: &Edge, credential: &[&str]) -> (bool, String) {
    let url = edge.tunnel_url();
    let out = run(&[&["bridge", "--listen", "127.0.0.1:0", "--url", &url], credential].concat());
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens the tunnel directly with the given headers; Err carries the HTTP
/// status when the Worker answered without upgrading.
pub async fn ws_connect(edge: &Edge, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    let mut req = edge.tunnel_url().into_client_request().unwrap();
    for (k, v) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        req.headers_mut().insert(name, HeaderValue::from_str(v).unwrap());
    }
    match tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(req)).await.expect("upgrade timeout") {
        Ok((ws, resp)) => {
            assert_eq!(resp.status(), 101);
            Ok(ws)
        }
        Err(tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("tunnel: {e}"),
    }
}

/// What the Worker did after the bytes it was sent.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEnd {
    /// A Close frame with this code.
    Closed(u16),
    /// The TCP connection ended without a Close frame.
    Dropped,
}

/// Reads until the Worker closes (bounded); returns binary bytes seen and how it ended.
pub async fn ws_until_closed(ws: &mut Ws) -> (Vec<u8>, WsEnd) {
    let mut got = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(end, ws.next()).await.expect("the Worker never closed the tunnel") {
            Some(Ok(Message::Binary(b))) => got.extend_from_slice(&b),
            Some(Ok(Message::Close(f))) => return (got, WsEnd::Closed(f.map(|f| u16::from(f.code)).unwrap_or(1005))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (got, WsEnd::Dropped),
        }
    }
}

pub async fn ws_send(ws: &mut Ws, m: Message) {
    ws.send(m).await.expect("send on tunnel");
}

/// Reads from a TCP connection until the peer closes (bounded); returns the bytes.
pub async fn tcp_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(end, s.read(&mut buf)).await.expect("the peer never closed the connection") {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Random CMID-style GUID text.
pub fn random_guid() -> String {
    kmsedge::Guid::from_u128(rand::random::<u128>() & !(0xF << 76) | (0x4 << 76)).to_string()
}

/// The genuine and clients counts of one KMS counted id in a status.
pub fn counts_of(status: &Status, kms_id: &str) -> (u64, u64) {
    status.counts.iter().find(|c| c.kms_id == kms_id).map(|c| (c.genuine, c.clients)).unwrap_or((0, 0))
}

/// The ePID the host shows for the slot serving clients of `sku`.
pub fn epid_for(status: &Status, sku: &str) -> String {
    let sku = catalog::sku(&kmsedge::Guid::parse(sku).unwrap()).expect("a catalogue SKU");
    let slot = catalog::slot_for(&sku.kms, &catalog::application_by_key(sku.app).id);
    let name = slot.get().name;
    status.identity.epids.iter().find(|e| e.slot == name).unwrap_or_else(|| panic!("slot {name} in status")).epid.clone()
}
