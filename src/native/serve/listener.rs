//! KMS listening sockets and their accept loops.
//!
//! Sockets are made with socket2 so that `[::]` is explicitly dual-stack
//! (IPv6 and IPv4, whatever the system's `bindv6only`) and so that a
//! restarted host can bind its port again at once (SO_REUSEADDR).
use super::admission::{Admission, canonical};
use super::host::Host;
use super::session::{self, SessionConfig};
use anyhow::anyhow;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::vec::Vec;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The kernel's queue of handshakes not yet accepted. A connection flood
/// fills it while the accept loop waits for shed connections to close, and
/// a SYN that finds it full is dropped: with 1 024, a 50 ms reconnect flood
/// (`scripts/soak.sh 10000 250 60 50`) lost 5 of 5 704 valid activations to
/// dropped SYNs. Linux clamps it to `net.core.somaxconn` (4 096 by default
/// since 5.4), so asking for more costs nothing where it is lower.
const BACKLOG: i32 = 4096;

/// Binds `addr`: dual-stack for an unspecified IPv6 address.
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let fail = |e: std::io::Error| anyhow!("cannot listen on {addr}: {e}");
    let socket = socket_for(addr).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(BACKLOG).map_err(fail)?;
    TcpListener::from_std(socket.into()).map_err(fail)
}

/// The KMS listening sockets systemd passed (socket activation by
/// `kmsedge.socket`: `LISTEN_FDS`, `LISTEN_PID`, descriptors from 3), read
/// with the `listenfd` crate. Call it before any thread starts: it removes
/// the variables so that nothing the host starts inherits them. Empty when
/// the host was not socket-activated.
pub fn inherited() -> anyhow::Result<Vec<std::net::TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    let mut out = Vec::new();
    for i in 0..fds.len() {
        let l = fds
            .take_tcp_listener(i)
            .map_err(|e| anyhow!("socket activation: descriptor {} is not a listening TCP socket: {e}", i + 3))?;
        out.extend(l);
    }
    Ok(out)
}

/// An inherited listener, made non-blocking for tokio.
pub fn adopt(l: std::net::TcpListener) -> anyhow::Result<TcpListener> {
    let fail = |e: std::io::Error| anyhow!("socket activation: cannot use the passed socket: {e}");
    l.set_nonblocking(true).map_err(fail)?;
    TcpListener::from_std(l).map_err(fail)
}

/// The unbound socket for `addr`, with its options set.
fn socket_for(addr: SocketAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // [::] takes IPv4 too; a specific IPv6 address only itself.
        socket.set_only_v6(!addr.ip().is_unspecified())?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Accepts until `stop` (this listener closes: the port changed) or
/// `shutdown` (the host stops) turns true; each admitted connection gets
/// its own task, which only `shutdown` drains, so closing a listener never
/// drops a connection it accepted.
pub async fn accept_loop(
    listener: TcpListener,
    host: Arc<Host>,
    admission: Arc<Admission>,
    cfg: Arc<SessionConfig>,
    mut stop: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) {
    let mut host_stops = shutdown.clone();
    loop {
        // While shed connections are still closing, newcomers wait in the
        // kernel's queue rather than be taken and refused.
        tokio::select! {
            () = admission.room(Duration::from_secs(1)) => {}
            _ = host_stops.wait_for(|stop| *stop) => break,
            _ = stop.wait_for(|stop| *stop) => break,
        }
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = host_stops.wait_for(|stop| *stop) => break,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        match accepted {
            Ok((stream, peer)) => match admission.admit(peer.ip()) {
                Ok((ticket, shed)) => {
                    host.metrics.accepted(shed);
                    let (host, cfg, rx) = (host.clone(), cfg.clone(), shutdown.clone());
                    tokio::spawn(session::run(stream, peer, host, cfg, rx, ticket));
                }
                Err(why) => {
                    host.metrics.denied(why);
                    if admission.should_log(peer.ip(), why.label()) {
                        tracing::warn!(client = %canonical(peer.ip()), reason = why.label(), "connection refused at accept (logged once a minute per address)");
                    }
                    drop(stream);
                }
            },
            Err(e) => {
                // Out of file descriptors and the like: back off instead of
                // spinning; connections in progress carry on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;

    /// Checked on the unbound socket: these tests never listen beyond loopback.
    #[test]
    fn unspecified_ipv6_is_dual_stack() {
        let any = socket_for("[::]:1688".parse().unwrap()).unwrap();
        assert!(!any.only_v6().unwrap(), "[::] also takes IPv4 clients");
        let one = socket_for("[::1]:1688".parse().unwrap()).unwrap();
        assert!(one.only_v6().unwrap());
        assert!(socket_for("127.0.0.1:1688".parse().unwrap()).unwrap().reuse_address().unwrap());
    }

    #[tokio::test]
    async fn a_restarted_host_rebinds_its_port_at_once() {
        let l = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let c = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (s, peer) = l.accept().await.unwrap();
        assert_eq!(canonical(peer.ip()), "127.0.0.1".parse::<std::net::IpAddr>().unwrap());
        // The server side closes first, leaving TIME_WAIT behind.
        drop(s);
        drop(c);
        drop(l);
        bind(addr).unwrap();
    }

    #[test]
    fn bind_errors_name_the_address() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let held = bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = held.local_addr().unwrap();
            // A specific IPv4 address taken by a listening socket: even with
            // SO_REUSEADDR, Linux refuses a second listener.
            let e = bind(addr).unwrap_err().to_string();
            assert!(e.starts_with(&format!("cannot listen on {addr}: ")), "{e}");
        });
    }
}
