//! An in-process KMS host for the client tests, built from the sans-IO core
//! and the hosts' shared driver loop (`policy::decide` in place of a
//! registry), so the client tools are tested over real loopback sockets
//! without depending on `kmsedge serve`.
use kmsedge::epid::Epid;
use kmsedge::driver::{self, Decider, Recv, SendError, Transport};
use kmsedge::host::{Activation, Config, Decision, Millis, Policy, policy};
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
    /// Answer each connection with an ePID of its own (a new key id), as
    /// an emulator that invents one per connection would (`kmsedge probe`).
    EpidPerConnection,
    /// Report the request's N policy as the count, however absurd.
    EchoN,
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

// ------------------------------------------- the shared driver, over tokio

/// One connection, run by the hosts' own loop (`kmsedge::driver::serve`):
/// bytes in, replies out, until either side closes.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(sock: S, cfg: HostConfig, answered: Arc<AtomicU64>) {
    let mut t = Sock { sock, cfg, opened: std::time::Instant::now() };
    let epid = if cfg.behaviour == Behaviour::EpidPerConnection {
        Epid::parse(&format!("03612-00206-556-{:06}-03-1033-17763.0000-2972018", rand::random::<u32>() % 1_000_000)).unwrap()
    } else {
        Epid::parse(EPID).unwrap()
    };
    let d = ByPolicy { cfg, epid, answered };
    let _ = driver::serve(&mut t, &d, cfg.config).await;
}

struct Sock<S> {
    sock: S,
    cfg: HostConfig,
    opened: std::time::Instant,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transport for Sock<S> {
    type Error = std::io::Error;
    fn now(&self) -> Millis {
        self.opened.elapsed().as_millis() as Millis
    }
    async fn recv(&mut self, buf: &mut [u8], _deadline: Option<Millis>) -> Recv<std::io::Error> {
        loop {
            match self.sock.read(buf).await {
                Err(e) => return Recv::Failed(e),
                Ok(0) => return Recv::Closed,
                // Reads, but the core never hears of it.
                Ok(_) if self.cfg.behaviour == Behaviour::Silent => continue,
                Ok(n) => return Recv::Data(n),
            }
        }
    }
    async fn send(&mut self, bytes: &[u8], _deadline: Option<Millis>) -> Result<(), SendError<std::io::Error>> {
        let mut bytes = bytes.to_vec();
        // A response PDU (type 2) to an activation: 8 bytes before the end
        // of the message (just before the 4-byte return value), the MAC for
        // V4, the last cipher block for V5/V6.
        if self.cfg.behaviour == Behaviour::Tamper && bytes[2] == 2 && bytes.len() > 100 {
            let n = bytes.len();
            bytes[n - 12] ^= 0x55;
        }
        self.sock.write_all(&bytes).await.map_err(SendError::Failed)
    }
    fn assoc_group(&mut self) -> u32 {
        rand::random()
    }
    fn response_random(&mut self) -> ResponseRandom {
        ResponseRandom { salt: rand::random(), iv: rand::random() }
    }
}

/// Decides each activation by `cfg.policy`, with a count of 0.
struct ByPolicy {
    cfg: HostConfig,
    epid: Epid,
    answered: Arc<AtomicU64>,
}

impl Decider for ByPolicy {
    type Error = ();
    async fn decide(&self, a: &Activation) -> Result<Decision, ()> {
        let now = kmsedge::tools::common::now();
        self.answered.fetch_add(1, Ordering::SeqCst);
        let mut d = policy::decide(&a.request, now, &self.cfg.policy, 0, self.epid, HWID);
        if let (Behaviour::EchoN, Decision::Grant(g)) = (self.cfg.behaviour, &mut d) {
            g.current_count = a.request.n_policy;
        }
        Ok(d)
    }
}
