//! An in-process KMS host for the client tests, built from the sans-IO core
//! (`host::Connection` + `policy::decide`), so the client tools are tested
//! over real loopback sockets without depending on `kmsedge serve`.
//!
//! All the fake host asks of the core is in [`open`] and [`exchange`]: when
//! the core's API changes, those two change and nothing else.
use kmsedge::epid::Epid;
use kmsedge::host::{Config, Connection, Event, MAX_REPLY, Policy, policy};
use kmsedge::kms::ResponseRandom;
use std::net::SocketAddr;
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

// ------------------------------------------------------ the core, sans IO

/// A new core connection for one accepted socket.
fn open(cfg: &HostConfig) -> Box<Connection> {
    // Boxed: the connection state is large for an async task's stack.
    Box::new(Connection::new(cfg.config, rand::random::<u32>()))
}

/// Feeds the bytes of one read to the core and runs it until it needs more,
/// deciding each activation by `cfg.policy` → (bytes to send, close after
/// sending them).
fn exchange(conn: &mut Connection, cfg: &HostConfig, data: &[u8], answered: &AtomicU64) -> (Vec<u8>, bool) {
    let epid = Epid::parse(EPID).unwrap();
    let mut send = Vec::new();
    let mut out = [0u8; MAX_REPLY];
    let mut off = 0;
    while off < data.len() {
        off += conn.receive(&data[off..]);
        loop {
            match conn.poll(&mut out) {
                Event::NeedData => break,
                Event::Transmit { len, close } => {
                    send.extend_from_slice(&out[..len]);
                    if close {
                        return (send, true);
                    }
                }
                Event::Activation(a) => {
                    let now = kmsedge::native::activate::now();
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
                    send.extend_from_slice(&out[..len]);
                }
                Event::Close(_) => return (send, true),
            }
        }
    }
    (send, false)
}

// ------------------------------------------------------------------ the IO

/// One connection: bytes in, replies out, until either side closes.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut sock: S, cfg: HostConfig, answered: Arc<AtomicU64>) {
    let mut conn = open(&cfg);
    let mut buf = [0u8; 4096];
    loop {
        let n = match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if cfg.behaviour == Behaviour::Silent {
            continue;
        }
        let (send, close) = exchange(&mut conn, &cfg, &buf[..n], &answered);
        if (!send.is_empty() && sock.write_all(&send).await.is_err()) || close {
            return;
        }
    }
}
