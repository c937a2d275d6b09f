//! `kmsedge bridge`: the branch end of the edge tunnel. A TCP listener on a
//! branch LAN device (router, NAS, small server — never the PC being
//! activated: Windows refuses a KMS host on its own machine) that carries
//! each accepted connection over its own WebSocket to the edge Worker, as
//! binary messages, exactly like `cloudflared access tcp`.
//!
//! Failures are reported as what they mean: a 401/403 is "credential
//! refused" and is never retried (retrying a wrong secret cannot help);
//! network errors and 5xx are retried a bounded number of times with
//! exponential backoff. The credential is checked once at start so a typo
//! fails the command instead of every client, later.
use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use std::borrow::ToOwned;
use std::boxed::Box;
use std::format;
use std::net::{IpAddr, SocketAddr};
use std::println;
use std::string::String;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Request, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to accept KMS clients on. Use a LAN device, not the PC being
    /// activated (Windows refuses a KMS host on its own machine).
    #[arg(long, default_value = "0.0.0.0:1688")]
    pub listen: SocketAddr,
    /// The edge tunnel, e.g. wss://kms.example.org/ (ws:// only to loopback).
    #[arg(long)]
    pub url: String,
    /// Branch id (sent as Cf-Access-Client-Id, like cloudflared's service token id).
    #[arg(long, env = "KMSEDGE_TOKEN_ID", requires = "token_secret", conflicts_with = "token")]
    pub token_id: Option<String>,
    /// Branch secret (sent as Cf-Access-Client-Secret). Prefer the environment variable.
    #[arg(long, env = "KMSEDGE_TOKEN_SECRET", requires = "token_id", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// Branch secret alone, sent as Authorization: Bearer.
    #[arg(long, env = "KMSEDGE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Further attempts to open a tunnel after a network error or 5xx (0 = none).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
    /// Seconds allowed to open one tunnel (TCP, TLS and upgrade).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub connect_timeout: u64,
    /// Close a connection after this many seconds without traffic either way.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,
    /// Clients carried at once; more are refused until one ends.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub max_connections: u32,
    /// Do not check the credential at start.
    #[arg(long)]
    pub no_check: bool,
}

/// Largest WebSocket message accepted from the edge: its replies are KMS
/// PDUs of a few hundred bytes.
const MAX_MESSAGE: usize = 64 * 1024;
/// Backoff before the first retry; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why a tunnel could not be opened.
#[derive(Debug)]
pub enum TunnelError {
    /// 401/403: the Worker refused the branch credential.
    CredentialRefused { status: u16, message: String },
    /// Any other HTTP answer instead of an upgrade.
    Http { status: u16, message: String },
    Timeout(Duration),
    /// Network, TLS or WebSocket protocol failure.
    Transport(tungstenite::Error),
}

impl core::fmt::Display for TunnelError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TunnelError::CredentialRefused { status, message } => write!(
                f,
                "credential refused (HTTP {status}{}): check --token-id/--token-secret or --token against the Worker's BRANCH_TOKENS",
                if message.is_empty() { String::new() } else { format!(": {message}") }
            ),
            TunnelError::Http { status, message } => {
                write!(f, "the tunnel answered HTTP {status} instead of a WebSocket upgrade")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            TunnelError::Timeout(d) => write!(f, "no tunnel within {} s", d.as_secs()),
            TunnelError::Transport(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TunnelError {}

impl TunnelError {
    /// Worth another attempt: the network or the edge may recover.
    pub fn is_transient(&self) -> bool {
        match self {
            TunnelError::CredentialRefused { .. } => false,
            TunnelError::Http { status, .. } => *status >= 500 || *status == 429,
            TunnelError::Timeout(_) | TunnelError::Transport(_) => true,
        }
    }
}

/// How a branch authenticates.
#[derive(Debug, Clone)]
pub enum Credential {
    /// cloudflared-style service token.
    ServiceToken { id: String, secret: String },
    Bearer(String),
}

/// Everything needed to open tunnels.
#[derive(Debug, Clone)]
pub struct Tunnel {
    pub url: String,
    pub credential: Credential,
    pub connect_timeout: Duration,
    pub retries: u32,
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// `wss://` anywhere; `ws://` only to a loopback host, because it would
/// send the branch secret in clear.
pub fn check_url(url: &str) -> anyhow::Result<()> {
    let req = url.into_client_request().with_context(|| format!("--url {url:?} is not a WebSocket URL"))?;
    let uri = req.uri();
    let host = uri.host().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    match uri.scheme_str() {
        Some("wss") => Ok(()),
        Some("ws") => {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false);
            if loopback {
                Ok(())
            } else {
                bail!("--url {url:?}: ws:// would send the branch secret in clear; use wss://")
            }
        }
        _ => bail!("--url {url:?}: expected wss://HOST/PATH"),
    }
}

impl Tunnel {
    pub fn from_args(args: &Args) -> anyhow::Result<Tunnel> {
        check_url(&args.url)?;
        let credential = match (&args.token_id, &args.token_secret, &args.token) {
            (Some(id), Some(secret), None) => Credential::ServiceToken { id: id.clone(), secret: secret.clone() },
            (None, None, Some(t)) => Credential::Bearer(t.clone()),
            _ => bail!("give a branch credential: --token-id ID --token-secret SECRET, or --token SECRET"),
        };
        Ok(Tunnel {
            url: args.url.clone(),
            credential,
            connect_timeout: Duration::from_secs(args.connect_timeout),
            retries: args.retries,
        })
    }

    fn request(&self) -> Result<Request<()>, TunnelError> {
        let mut req = self.url.as_str().into_client_request().map_err(TunnelError::Transport)?;
        let h = req.headers_mut();
        let value = |s: &str| {
            HeaderValue::from_str(s)
                .map_err(|_| TunnelError::Transport(tungstenite::Error::Url(tungstenite::error::UrlError::UnableToConnect(
                    "credential contains characters not allowed in a header".to_owned(),
                ))))
        };
        match &self.credential {
            Credential::ServiceToken { id, secret } => {
                h.insert("Cf-Access-Client-Id", value(id)?);
                h.insert("Cf-Access-Client-Secret", value(secret)?);
            }
            Credential::Bearer(t) => {
                h.insert("Authorization", value(&format!("Bearer {t}"))?);
            }
        }
        h.insert("User-Agent", HeaderValue::from_static(concat!("kmsedge-bridge/", env!("CARGO_PKG_VERSION"))));
        Ok(req)
    }

    /// One attempt.
    pub async fn open_once(&self) -> Result<Ws, TunnelError> {
        let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
        let fut = tokio_tungstenite::connect_async_tls_with_config(self.request()?, Some(config), true, None);
        match tokio::time::timeout(self.connect_timeout, fut).await {
            Err(_) => Err(TunnelError::Timeout(self.connect_timeout)),
            Ok(Ok((ws, _))) => Ok(ws),
            Ok(Err(tungstenite::Error::Http(resp))) => {
                let status = resp.status();
                let message = resp
                    .body()
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).trim().to_owned())
                    .unwrap_or_default();
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    Err(TunnelError::CredentialRefused { status: status.as_u16(), message })
                } else {
                    Err(TunnelError::Http { status: status.as_u16(), message })
                }
            }
            Ok(Err(e)) => Err(TunnelError::Transport(e)),
        }
    }

    /// Up to `1 + retries` attempts, retrying only transient failures.
    pub async fn open(&self) -> Result<Ws, TunnelError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            match self.open_once().await {
                Ok(ws) => return Ok(ws),
                Err(e) if e.is_transient() && attempt < self.retries => {
                    attempt += 1;
                    tracing::debug!("tunnel attempt {attempt} failed ({e}); retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(serve(args))
}

/// Checks the credential, then accepts and carries connections until killed.
pub async fn serve(args: Args) -> anyhow::Result<()> {
    // rustls needs a process-wide crypto provider; ring is the one compiled in.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tunnel = Arc::new(Tunnel::from_args(&args)?);
    if !args.no_check {
        match tunnel.open().await {
            Ok(mut ws) => {
                let _ = ws.close(None).await;
            }
            Err(e) if e.is_transient() => {
                tracing::warn!("tunnel {} not reachable now ({e}); each client will retry", tunnel.url);
            }
            Err(e) => return Err(e).with_context(|| format!("tunnel {}", tunnel.url)),
        }
    }
    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    // One line on stdout, so scripts (and the tests) learn a port chosen with :0.
    println!("kmsedge bridge: listening on {local} -> {}", tunnel.url);
    tracing::info!("carrying KMS clients from {local} to {}", tunnel.url);
    let slots = Arc::new(Semaphore::new(args.max_connections as usize));
    let idle = Duration::from_secs(args.idle_timeout);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!("{peer}: refused, {} connections already carried", args.max_connections);
            continue;
        };
        let tunnel = tunnel.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match carry(tcp, &tunnel, idle).await {
                Ok(()) => tracing::debug!("{peer}: done"),
                Err(e) => tracing::warn!("{peer}: {e:#}"),
            }
        });
    }
}

/// Pipes one client through its own tunnel until either side closes or the
/// connection idles out.
pub async fn carry(mut tcp: TcpStream, tunnel: &Tunnel, idle: Duration) -> anyhow::Result<()> {
    let _ = tcp.set_nodelay(true);
    let ws = match tunnel.open().await {
        Ok(ws) => ws,
        Err(e) => {
            let _ = tcp.shutdown().await;
            return Err(e).context("tunnel");
        }
    };
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut rd, mut wr) = tcp.split();
    let mut buf = Box::new([0u8; 16 * 1024]);
    loop {
        tokio::select! {
            r = rd.read(&mut buf[..]) => match r {
                Ok(0) => {
                    let _ = ws_tx.send(Message::Close(None)).await;
                    return Ok(());
                }
                Ok(n) => ws_tx.send(Message::Binary(buf[..n].to_vec().into())).await.context("tunnel send")?,
                Err(e) => {
                    let _ = ws_tx.send(Message::Close(None)).await;
                    return Err(e).context("client read");
                }
            },
            m = ws_rx.next() => match m {
                Some(Ok(Message::Binary(b))) => wr.write_all(&b).await.context("client write")?,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => bail!("edge sent a text message on a binary tunnel"),
                Some(Ok(Message::Close(frame))) => {
                    let _ = wr.shutdown().await;
                    if let Some(f) = frame.filter(|f| u16::from(f.code) != 1000) {
                        bail!("edge closed the tunnel: {} {}", u16::from(f.code), f.reason);
                    }
                    return Ok(());
                }
                Some(Err(e)) => return Err(e).context("tunnel receive"),
                None => {
                    let _ = wr.shutdown().await;
                    return Ok(());
                }
            },
            _ = tokio::time::sleep(idle) => {
                let _ = ws_tx.send(Message::Close(None)).await;
                bail!("idle for {} s", idle.as_secs());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn urls_that_would_leak_the_secret_are_refused() {
        assert!(check_url("wss://kms.example.org/").is_ok());
        assert!(check_url("ws://127.0.0.1:8787/").is_ok());
        assert!(check_url("ws://[::1]:8787/t").is_ok());
        assert!(check_url("ws://localhost/").is_ok());
        assert!(check_url("ws://kms.example.org/").is_err());
        assert!(check_url("ws://10.0.0.1/").is_err());
        assert!(check_url("https://kms.example.org/").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn only_network_failures_are_retried() {
        let refused = TunnelError::CredentialRefused { status: 401, message: "credential refused".into() };
        assert!(!refused.is_transient());
        assert!(refused.to_string().starts_with("credential refused (HTTP 401"));
        assert!(!TunnelError::Http { status: 404, message: String::new() }.is_transient());
        assert!(TunnelError::Http { status: 503, message: String::new() }.is_transient());
        assert!(TunnelError::Timeout(Duration::from_secs(1)).is_transient());
    }
}
