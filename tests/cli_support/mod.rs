//! An in-process KMS host for the CLI tests, built from the sans-IO core
//! (`host::Connection` + `policy::decide`), so the client tools are tested
//! over real loopback sockets without depending on `kmsedge serve`.
#![allow(dead_code)]
use kmsedge::epid::Epid;
use kmsedge::host::{Config, Connection, Event, MAX_REPLY, Policy, policy};
use kmsedge::kms::ResponseRandom;
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const EPID: &str = "03612-00206-556-123727-03-1033-17763.0000-2972018";
pub const HWID: [u8; 8] = [0x3A, 0x1C, 0x04, 0x96, 0x00, 0xB6, 0x00, 0x76];
pub const HWID_HEX: &str = "3A1C049600B60076";

/// How the host treats requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answer as `policy::decide` says.
    Normal,
    /// Answer, then flip a byte inside the KMS message (a client must refuse it).
    Tamper,
    /// Accept connections and read, but never answer.
    Silent,
}

#[derive(Clone, Copy)]
pub struct HostConfig {
    pub config: Config,
    pub policy: Policy<'static>,
    pub behaviour: Behaviour,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig { config: Config::default(), policy: Policy::default(), behaviour: Behaviour::Normal }
    }
}

/// A host on a loopback port, stopped when dropped.
pub struct TestHost {
    pub addr: SocketAddr,
    /// Activation requests answered (granted or refused).
    pub answered: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestHost {
    pub fn start(cfg: HostConfig) -> TestHost {
        TestHost::start_on("127.0.0.1:0", cfg)
    }

    pub fn start_on(bind: &str, cfg: HostConfig) -> TestHost {
        let std_listener = std::net::TcpListener::bind(bind).expect("bind loopback");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let answered = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let count = answered.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((sock, _)) = accepted else { continue };
                            sock.set_nodelay(true).ok();
                            tokio::spawn(serve(sock, cfg, count.clone()));
                        }
                    }
                }
            });
        });
        TestHost { addr, answered, stop: Some(stop), thread: Some(thread) }
    }

    /// `127.0.0.1:PORT` / `[::1]:PORT`, as the CLI takes it.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One connection: bytes in, `Connection` events out, decisions by policy.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut sock: S, cfg: HostConfig, answered: Arc<AtomicU64>) {
    let mut conn = Box::new(Connection::new(cfg.config, rand::random::<u32>()));
    let epid = Epid::parse(EPID).unwrap();
    let mut buf = [0u8; 4096];
    let mut out = [0u8; MAX_REPLY];
    loop {
        let n = match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if cfg.behaviour == Behaviour::Silent {
            continue;
        }
        let mut off = 0;
        while off < n {
            off += conn.receive(0, &buf[off..n]);
            loop {
                match conn.poll(&mut out) {
                    Event::NeedData => break,
                    Event::Transmit { len, close, .. } => {
                        if sock.write_all(&out[..len]).await.is_err() || close {
                            return;
                        }
                    }
                    Event::Activation(a) => {
                        let now = kmsedge::tools::common::now();
                        let decision = policy::decide(&a.request, now, &cfg.policy, 0, epid, HWID);
                        let random = ResponseRandom { salt: rand::random(), iv: rand::random() };
                        let len = conn.answer(&decision, &random, &mut out);
                        if cfg.behaviour == Behaviour::Tamper {
                            // 8 bytes before the end of the message (just before
                            // the 4-byte return value): the MAC for V4, the last
                            // cipher block for V5/V6.
                            out[len - 12] ^= 0x55;
                        }
                        answered.fetch_add(1, Ordering::SeqCst);
                        if sock.write_all(&out[..len]).await.is_err() {
                            return;
                        }
                    }
                    Event::Close(_) => return,
                }
            }
        }
    }
}

/// Runs the `kmsedge` binary.
pub fn kmsedge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kmsedge")).args(args).output().expect("run kmsedge")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 0 and JSON on stdout.
pub fn json_ok(args: &[&str]) -> serde_json::Value {
    let o = kmsedge(args);
    assert!(o.status.success(), "{args:?} failed: {}\n{}", stderr(&o), stdout(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: bad JSON {e}: {}", stdout(&o)))
}

/// Exit code 1 and exactly one line on stderr, `kmsedge: …`; returns it.
pub fn one_line_error(args: &[&str]) -> String {
    let o = kmsedge(args);
    assert_eq!(o.status.code(), Some(1), "{args:?} should fail: {}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: expected one line, got {err:?}");
    assert!(lines[0].starts_with("kmsedge: "), "{err}");
    lines[0].to_string()
}
