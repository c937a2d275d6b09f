//! The hostile half of `scripts/soak.sh`: holds N connections to a KMS host
//! from many loopback source addresses, each misbehaving in one of five
//! ways, and opens a new one whenever the host closes one, until the time
//! is up. Loopback only, bounded in connections, opens and time.
//!
//! ```text
//! cargo run --release --example hostile -- 127.0.0.1:1688 [CONNECTIONS] [ADDRESSES] [SECONDS] [RECONNECT_MS]
//! ```
//! Sources are 127.0.1.1, 127.0.1.2, … (Linux routes all of 127/8 to lo).
//! Prints one line of figures at the end: opened, refused, closed by the
//! host, held at the end and at most.
use kmsedge::client::{Options, Session};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, sleep, timeout};

/// Opens per connection slot at most (the bound on churn).
const MAX_OPENS_PER_SLOT: u64 = 50;

#[derive(Default)]
struct Figures {
    opened: AtomicU64,
    refused: AtomicU64,
    closed_by_host: AtomicU64,
    held: AtomicI64,
    peak: AtomicI64,
}

impl Figures {
    fn hold(&self) {
        let n = self.held.fetch_add(1, Relaxed) + 1;
        self.peak.fetch_max(n, Relaxed);
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// A bind, one byte every two seconds.
    SlowBind,
    /// Connects and sends nothing.
    Silent,
    /// Random bytes, then silence.
    Garbage,
    /// A PDU header claiming 65 535 bytes, then silence.
    HugeFragment,
    /// A whole bind, then nothing more.
    BoundIdle,
}

const KINDS: [Kind; 5] = [Kind::SlowBind, Kind::Silent, Kind::Garbage, Kind::HugeFragment, Kind::BoundIdle];

fn bind_pdu() -> Vec<u8> {
    let mut out = [0u8; 512];
    let n = Session::new(Options::default(), 2).bind(&mut out);
    out[..n].to_vec()
}

/// Whether the host closed `s` within `wait` (EOF, reset).
async fn host_closed(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let end = Instant::now() + wait;
    loop {
        match timeout(end.saturating_duration_since(Instant::now()), s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {} // a bind_ack or a fault: keep holding
        }
    }
}

/// One misbehaving connection until the host closes it or `end` comes.
async fn misbehave(mut s: TcpStream, kind: Kind, end: Instant, seed: u64) {
    let bind = bind_pdu();
    let left = || end.saturating_duration_since(Instant::now());
    match kind {
        Kind::SlowBind => {
            for b in bind.iter().cycle() {
                if s.write_all(&[*b]).await.is_err() || host_closed(&mut s, Duration::from_secs(2).min(left())).await {
                    return;
                }
                if left().is_zero() {
                    return;
                }
            }
        }
        Kind::Silent => {}
        Kind::Garbage => {
            let mut x = seed | 1;
            let junk: Vec<u8> = (0..200)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = s.write_all(&junk).await;
        }
        Kind::HugeFragment => {
            let mut h = bind.clone();
            h[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
            let _ = s.write_all(&h[..16]).await;
        }
        Kind::BoundIdle => {
            let _ = s.write_all(&bind).await;
        }
    }
    host_closed(&mut s, left()).await;
}

/// One connection slot: connect from `src`, misbehave, and again when the
/// host closes it, until `end`.
async fn slot(target: SocketAddr, src: Ipv4Addr, kind: Kind, end: Instant, seed: u64, reconnect: Duration, f: Arc<Figures>) {
    for i in 0..MAX_OPENS_PER_SLOT {
        if Instant::now() >= end {
            return;
        }
        let socket = match TcpSocket::new_v4() {
            Ok(s) => s,
            Err(_) => return,
        };
        if socket.bind(SocketAddr::new(src.into(), 0)).is_err() {
            f.refused.fetch_add(1, Relaxed);
            sleep(Duration::from_millis(200)).await;
            continue;
        }
        let s = match timeout(Duration::from_secs(5), socket.connect(target)).await {
            Ok(Ok(s)) => s,
            _ => {
                f.refused.fetch_add(1, Relaxed);
                sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        f.opened.fetch_add(1, Relaxed);
        f.hold();
        misbehave(s, kind, end, seed.wrapping_add(i)).await;
        f.held.fetch_sub(1, Relaxed);
        if Instant::now() < end {
            f.closed_by_host.fetch_add(1, Relaxed);
            // A new connection in its place.
            sleep(reconnect).await;
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: hostile HOST:PORT [CONNECTIONS] [ADDRESSES] [SECONDS] [RECONNECT_MS]";
    let target: SocketAddr = args.first().and_then(|t| t.parse().ok()).expect(usage);
    let num = |i: usize, default: u32| args.get(i).map_or(default, |v| v.parse().expect(usage));
    let (connections, addresses, seconds) = (num(1, 10_000), num(2, 250), num(3, 60));
    let reconnect = Duration::from_millis(u64::from(num(4, 1_000)));
    assert!(target.ip().is_loopback(), "loopback targets only");
    assert!((1..=20_000).contains(&connections) && (1..=254).contains(&addresses) && seconds <= 600, "{usage}");
    let f = Arc::new(Figures::default());
    let end = Instant::now() + Duration::from_secs(u64::from(seconds));
    let mut tasks = Vec::new();
    for i in 0..connections {
        let src = Ipv4Addr::new(127, 0, 1, (1 + i % addresses) as u8);
        let kind = KINDS[(i / addresses) as usize % KINDS.len()];
        tasks.push(tokio::spawn(slot(target, src, kind, end, u64::from(i), reconnect, f.clone())));
        if i % 500 == 499 {
            // Ramp up over a few seconds rather than one SYN burst.
            sleep(Duration::from_millis(100)).await;
        }
    }
    let reporter = {
        let f = f.clone();
        tokio::spawn(async move {
            loop {
                sleep(Duration::from_secs(5)).await;
                eprintln!("hostile: held {} (peak {}), opened {}", f.held.load(Relaxed), f.peak.load(Relaxed), f.opened.load(Relaxed));
            }
        })
    };
    for t in tasks {
        let _ = t.await;
    }
    reporter.abort();
    println!(
        "hostile: {connections} connections from {addresses} addresses for {seconds} s, reconnecting after {} ms: opened {}, refused {}, closed by the host {}, held at most {}",
        reconnect.as_millis(),
        f.opened.load(Relaxed),
        f.refused.load(Relaxed),
        f.closed_by_host.load(Relaxed),
        f.peak.load(Relaxed)
    );
}
