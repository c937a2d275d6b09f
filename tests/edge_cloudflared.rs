//! Stock `cloudflared access tcp` — the binary Cloudflare ships, as
//! scripts/setup.sh installs it — in front of the edge host, the way a
//! branch office reaches it: cloudflared listens on loopback TCP and
//! carries each connection as binary WebSocket frames to `https://HOST`
//! with the branch's service token (`Cf-Access-Client-Id` /
//! `Cf-Access-Client-Secret`).
//!
//! cloudflared always speaks TLS to its hostname, so scripts/test-edge.sh
//! runs this phase with `wrangler dev --local-protocol https` and a
//! certificate it makes for 127.0.0.1, and passes:
//!
//! * `KMSEDGE_CLOUDFLARED`: the cloudflared binary;
//! * `KMSEDGE_EDGE_URL`: `https://127.0.0.1:PORT` (the Worker's HTTPS listener);
//! * `KMSEDGE_EDGE_CA`: the PEM certificate of the CA that signed the
//!   Worker's certificate (cloudflared trusts it through `SSL_CERT_FILE`;
//!   the registry queries here through rustls);
//!
//! besides the `KMSEDGE_EDGE_*` variables of `support::edge`. Offline,
//! cloudflared needs nothing else: with a service token and a Worker that
//! answers 401 (not an Access login redirect) it never contacts Cloudflare.
//! Missing variables fail the tests; nothing is skipped.
mod support;

use kmsedge::api::ClientPage;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::edge::*;

const WIN7: &str = "7fde5219-fbfa-484a-82c9-34d1ad53e856";
const WIN8: &str = "3c40b358-5948-45af-923b-53d21fcc7e79";
const WIN10: &str = "58e2134f-8e11-4d17-9cb2-91069c151148";

/// Longest cloudflared may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/test-edge.sh (after scripts/setup.sh)"))
}

/// The server under test over HTTPS, and the cloudflared to reach it with.
struct Setup {
    edge: Edge,
    cloudflared: PathBuf,
    /// `127.0.0.1:PORT` of the Worker's HTTPS listener (cloudflared's `--hostname`).
    host: String,
    ca: PathBuf,
}

impl Setup {
    fn from_env() -> Setup {
        let edge = Edge::from_env();
        let cloudflared = PathBuf::from(var("KMSEDGE_CLOUDFLARED"));
        assert!(cloudflared.is_file(), "no cloudflared at {}: run scripts/setup.sh", cloudflared.display());
        let url = var("KMSEDGE_EDGE_URL");
        let host = url.strip_prefix("https://").unwrap_or_else(|| panic!("KMSEDGE_EDGE_URL is not https: {url}"));
        let ca = PathBuf::from(var("KMSEDGE_EDGE_CA"));
        assert!(ca.is_file(), "no CA certificate at {}", ca.display());
        Setup { edge, cloudflared, host: host.trim_end_matches('/').to_owned(), ca }
    }

    /// (id, secret) of the branch named `id` in BRANCH_TOKENS.
    fn branch(&self, id: &str) -> (String, String) {
        self.edge.branches.iter().find(|(b, _)| b == id).cloned().unwrap_or_else(|| panic!("no branch {id:?} in KMSEDGE_EDGE_BRANCH_TOKENS"))
    }

    /// `/api/clients?q=WORKSTATION` over HTTPS with the admin token.
    fn clients(&self, workstation: &str) -> ClientPage {
        let auth = format!("Bearer {}", self.edge.admin_token);
        let (status, body) = https_get(&self.host, &self.ca, &format!("/api/clients?q={workstation}"), &[("Authorization", &auth)]);
        assert_eq!(status, 200, "/api/clients: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/api/clients: not a client page ({e}): {body}"))
    }
}

/// A GET over TLS (trusting `ca` alone) to the loopback Worker; → (status, body).
fn https_get(host: &str, ca: &Path, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(ca).expect("the CA certificate is PEM")).expect("a usable CA certificate");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let name = ServerName::try_from(name.to_owned()).expect("a server name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    sock.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    sock.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").as_bytes())
        .unwrap_or_else(|e| panic!("https://{host}{path}: {e}"));
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A peer that closes without close_notify, after a complete answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => panic!("https://{host}{path}: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("https://{host}{path}: no HTTP head in {text:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("status line: {head}"));
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    (status, if chunked { dechunk(body) } else { body.to_owned() })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A running `cloudflared access tcp` on a free loopback port, killed on
/// drop. Its output (it logs to stderr) is collected.
struct Cloudflared {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
    _home: tempfile::TempDir,
}

impl Cloudflared {
    /// `cloudflared access tcp --hostname HOST --url 127.0.0.1:PORT` with
    /// `credential` (`--service-token-id ID --service-token-secret S`, or
    /// part of it); waits until it listens.
    fn start(setup: &Setup, credential: &[&str]) -> Cloudflared {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let home = tempfile::tempdir().unwrap();
        // A clean environment: no TUNNEL_* variable (cloudflared reads its
        // flags from them) or proxy setting leaks in; the test CA is the
        // only trust anchor.
        let mut child = Command::new(&setup.cloudflared)
            .env_clear()
            .env("HOME", home.path())
            .env("SSL_CERT_FILE", &setup.ca)
            .args(["access", "tcp", "--hostname", &setup.host, "--url", &addr, "--loglevel", "debug"])
            .args(credential)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", setup.cloudflared.display()));
        let log = Arc::new(Mutex::new(String::new()));
        for pipe in [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        }
        let mut c = Cloudflared { child, addr, log, _home: home };
        let end = Instant::now() + START_LIMIT;
        // It logs "Start Websocket listener" just before it binds; the
        // socket table says when it actually listens (a probe connection
        // would open a tunnel).
        while !(c.log().contains("Start Websocket listener") && listening(port)) {
            if let Some(status) = c.child.try_wait().unwrap() {
                panic!("cloudflared exited ({status}) before listening: {}", c.log());
            }
            assert!(Instant::now() < end, "cloudflared not listening on {} within {START_LIMIT:?}: {}", c.addr, c.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle` (bounded).
    fn wait_for_log(&self, needle: &str, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Cloudflared {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether 127.0.0.1:`port` is in LISTEN state (/proc/net/tcp).
fn listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == want && f[3] == "0A"
        })
}

/// A workstation name no other test uses.
fn workstation() -> String {
    format!("CFD-{}", &random_guid()[..8]).to_uppercase()
}

fn service_token<'a>(id: &'a str, secret: &'a str) -> [&'a str; 4] {
    ["--service-token-id", id, "--service-token-secret", secret]
}

/// V4, V5 and V6 activations through stock cloudflared with paris's
/// service token all succeed (V6 with several requests on one connection,
/// one on NDR64), and cloudflared reports no error.
#[test]
fn cloudflared_carries_v4_v5_v6_activations_with_a_service_token() {
    let setup = Setup::from_env();
    let (id, secret) = setup.branch("paris");
    let cf = Cloudflared::start(&setup, &service_token(&id, &secret));
    let ws = workstation();
    let cases = [(WIN7, "Professional", "4", 1, false), (WIN8, "Enterprise", "5", 1, true), (WIN10, "Enterprise", "6", 3, false)];
    for (kms, words, protocol, n, ndr64) in cases {
        let sku = sku(kms, words);
        let n_text = n.to_string();
        let mut args = vec!["--sku", &sku, "--protocol", protocol, "-n", &n_text, "--workstation", &ws];
        if ndr64 {
            args.push("--ndr64");
        }
        let r = activate(&cf.addr, &args);
        assert!(r.ok, "V{protocol} through cloudflared: {r:?}\ncloudflared: {}", cf.log());
        assert_activated(&r, n);
        for req in &r.requests {
            assert_eq!(req.response_protocol.as_deref(), Some(&*format!("{protocol}.0")), "{req:?}");
            assert_eq!(req.syntax, if ndr64 { "NDR64" } else { "NDR32" });
        }
    }
    let log = cf.log();
    assert!(!log.contains(" ERR "), "cloudflared reported an error: {log}");
    // Each connection went out as a WebSocket request with the token.
    assert!(log.contains("Cf-Access-Client-Id: paris"), "{log}");
}

/// A wrong secret (someone else's, or made up), a missing one, or no token
/// at all: the Worker refuses the upgrade (401 — checked with the very
/// request cloudflared sends), cloudflared drops the client, nothing is
/// activated and nothing recorded.
#[test]
fn cloudflared_with_a_wrong_or_missing_secret_never_activates() {
    let setup = Setup::from_env();
    let (paris, _) = setup.branch("paris");
    let (_, lyon_secret) = setup.branch("lyon");
    let made_up = "not-the-secret-0123456789";
    let cases: [(&str, Vec<&str>); 4] = [
        ("made-up secret", service_token(&paris, made_up).to_vec()),
        ("lyon's secret with paris's id", service_token(&paris, &lyon_secret).to_vec()),
        ("id without a secret", vec!["--service-token-id", &paris]),
        ("no token", vec![]),
    ];
    let sku = sku(WIN10, "Enterprise");
    for (what, credential) in cases {
        // The upgrade request cloudflared makes with this credential.
        let mut headers = vec![
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        let mut flags = credential.iter();
        while let (Some(flag), Some(value)) = (flags.next(), flags.next()) {
            headers.push((if *flag == "--service-token-id" { "Cf-Access-Client-Id" } else { "Cf-Access-Client-Secret" }, value));
        }
        let (status, body) = https_get(&setup.host, &setup.ca, "/", &headers);
        assert_eq!(status, 401, "{what}: {body}");

        let cf = Cloudflared::start(&setup, &credential);
        let ws = workstation();
        let r = activate(&cf.addr, &["--sku", &sku, "--workstation", &ws, "--timeout", "5"]);
        assert!(!r.ok && r.activated == 0, "{what}: activated through cloudflared: {r:?}");
        assert!(r.requests.iter().all(|q| !q.ok), "{what}: {r:?}");
        assert!(
            cf.wait_for_log("bad handshake", Duration::from_secs(10)),
            "{what}: cloudflared did not report the refused upgrade: {}",
            cf.log()
        );
        assert!(!cf.log().contains("x509"), "{what}: a TLS failure, not a refusal: {}", cf.log());
        let page = setup.clients(&ws);
        assert_eq!(page.total, 0, "{what}: a client was recorded: {page:?}");
    }
}

/// The registry records the branch whose service token cloudflared
/// presented: paris's token → `remote` "paris"; lyon's → "lyon".
#[test]
fn registry_records_the_branch_of_the_cloudflared_service_token() {
    let setup = Setup::from_env();
    for branch in ["paris", "lyon"] {
        let (id, secret) = setup.branch(branch);
        let cf = Cloudflared::start(&setup, &service_token(&id, &secret));
        let ws = workstation();
        let (sku6, sku4) = (sku(WIN10, "Education"), sku(WIN7, "Enterprise"));
        for (args, n) in [(vec!["--sku", &sku6, "-n", "2", "--workstation", &ws], 2), (vec!["--sku", &sku4, "--protocol", "4", "--workstation", &ws], 1)] {
            let r = activate(&cf.addr, &args);
            assert!(r.ok, "{branch}: {r:?}\ncloudflared: {}", cf.log());
            assert_activated(&r, n);
        }
        let page = setup.clients(&ws);
        assert_eq!(page.total, 3, "{page:?}");
        assert_eq!(page.clients.len(), 3, "{page:?}");
        for c in &page.clients {
            assert_eq!(c.remote, branch, "{c:?}");
            assert_eq!(c.workstation, ws, "{c:?}");
        }
    }
}
