//! The edge host: one Cloudflare Worker that is an organisation's KMS host
//! for all its branch offices (feature `edge`, built by worker-build).
//!
//! Two ways in, one engine:
//! * `connect()` ([`tcp`]): raw TCP, from `wrangler dev`'s `[[connect]]`
//!   listener locally or a service binding in production;
//! * `fetch()` with a WebSocket upgrade ([`tunnel`]): binary messages are
//!   the client's TCP stream — `cloudflared access tcp` or `kmsedge bridge`
//!   on a branch LAN device. A per-branch credential ([`auth`]) is checked
//!   before the upgrade.
//!
//! Both feed the shared [`crate::driver::serve`] loop through [`driver`]'s
//! transport, which runs the sans-IO host engine and asks the
//! organisation's [`registry`] Durable Object to decide each request.
//! `fetch()` also serves `/api/*` (admin token) from the registry and
//! everything else from the `www/` static assets.
pub mod auth;
pub mod config;
pub mod driver;
pub mod registry;
pub mod registry_client;
pub mod rng;
pub mod rpc;
pub mod seed;
pub mod tcp;
pub mod tunnel;

use config::EdgeConfig;
use driver::{EdgeEnding, is_host_failure};
use registry_client::RegistryClient;
use worker::{Context, Env, Request, Response, Result, WebSocketPair, event};

pub use registry::KmsRegistry;

/// Name of the secret holding branch credentials (see [`auth`]).
pub const BRANCH_TOKENS: &str = "BRANCH_TOKENS";
/// Name of the secret guarding `/api/*`.
pub const ADMIN_TOKEN: &str = "ADMIN_TOKEN";
/// Binding of the static assets (`[assets]` in `wrangler.toml`).
pub const ASSETS: &str = "ASSETS";
/// Added to the idle timeout for a shed tunnel connection's lease: the
/// time its isolate may take to notice the timeout and close it.
pub const SHED_SLACK_MS: u64 = 5_000;

fn config(env: &Env) -> core::result::Result<EdgeConfig, config::ConfigError> {
    EdgeConfig::from_env(|k| env.var(k).ok().map(|v| v.to_string()), |k| secret(env, k))
}

/// A secret's value; `None` when unset (`env.secret` errors then).
fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name).ok().map(|s| s.to_string())
}

fn log_ending(path: &str, remote: &str, ending: &EdgeEnding) {
    if is_host_failure(ending) {
        worker::console_error!("{path} connection ({remote}) failed: {ending:?}");
    }
}

#[event(connect)]
async fn connect(socket: worker::worker_sys::Socket, env: Env, _ctx: Context) -> Result<()> {
    let config = match config(&env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("{e}");
            let _ = socket.close();
            return Ok(());
        }
    };
    let registry = RegistryClient::new(&env, &config.organisation, tcp::REMOTE)?;
    let mut stream = match tcp::TcpStream::new(socket) {
        Ok(s) => s,
        Err(e) => {
            worker::console_error!("connect(): {e}");
            return Ok(());
        }
    };
    let ending = crate::driver::serve(&mut driver::Edge::new(&mut stream), &registry, config.host_config()).await;
    log_ending("tcp", tcp::REMOTE, &ending);
    stream.close().await;
    Ok(())
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    if path == "/api" || path.starts_with("/api/") {
        return api(req, &env, &path).await;
    }
    let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
    if upgrade.eq_ignore_ascii_case("websocket") {
        return open_tunnel(req, &env).await;
    }
    match env.assets(ASSETS) {
        Ok(assets) => assets.fetch_request(req).await,
        Err(_) => Response::error("not found", 404),
    }
}

fn unauthorized(message: &str) -> Result<Response> {
    let mut r = Response::error(message, 401)?;
    r.headers_mut().set("WWW-Authenticate", "Bearer realm=\"kmsedge\"")?;
    Ok(r)
}

/// `/api/*`: admin token, then the registry answers.
async fn api(req: Request, env: &Env, path: &str) -> Result<Response> {
    let presented = auth::bearer(req.headers().get("Authorization")?.as_deref()).map(str::to_owned);
    if !auth::admin_ok(secret(env, ADMIN_TOKEN).as_deref(), presented.as_deref()) {
        return unauthorized("admin token required: Authorization: Bearer <ADMIN_TOKEN>");
    }
    let mut req = req;
    let post = req.method() == worker::Method::Post && path == seed::PATH;
    // A setting change (model::admin): its JSON goes on to the registry.
    let put = req.method() == worker::Method::Put && path == "/api/settings";
    if req.method() != worker::Method::Get && !post && !put {
        return Response::error("method not allowed", 405);
    }
    let config = match config(env) {
        Ok(c) => c,
        Err(e) => return Response::error(e.to_string(), 500),
    };
    let url = req.url()?;
    let target = match url.query() {
        Some(q) => format!("https://registry{path}?{q}"),
        None => format!("https://registry{path}"),
    };
    let stub = registry_client::stub(env, &config.organisation)?;
    let mut resp = if put {
        let body = req.text().await?;
        let mut init = worker::RequestInit::new();
        init.with_method(worker::Method::Put).with_body(Some(body.into()));
        stub.fetch_with_request(Request::new_with_init(&target, &init)?).await?
    } else if post {
        let init = worker::RequestInit { method: worker::Method::Post, ..Default::default() };
        stub.fetch_with_request(Request::new_with_init(&target, &init)?).await?
    } else {
        stub.fetch_with_str(&target).await?
    };
    // A fetched response's headers are immutable: answer with a fresh one.
    let content_type = resp.headers().get("Content-Type")?.unwrap_or_else(|| "text/plain".to_owned());
    let status = resp.status_code();
    let mut out = Response::from_bytes(resp.bytes().await?)?.with_status(status);
    out.headers_mut().set("Content-Type", &content_type)?;
    out.headers_mut().set("Cache-Control", "no-store")?;
    Ok(out)
}

/// The tunnel: 401 unless a branch credential matches, else a WebSocket
/// whose messages are a KMS TCP stream.
async fn open_tunnel(req: Request, env: &Env) -> Result<Response> {
    let config = match config(env) {
        Ok(c) => c,
        Err(e) => return Response::error(e.to_string(), 500),
    };
    let h = req.headers();
    let (id, sec, authz) = (h.get("Cf-Access-Client-Id")?, h.get("Cf-Access-Client-Secret")?, h.get("Authorization")?);
    let branches = match auth::Branches::parse(secret(env, BRANCH_TOKENS).as_deref()) {
        Ok(b) => b,
        Err(e) => {
            worker::console_error!("{e}");
            return Response::error("tunnel misconfigured", 500);
        }
    };
    for (id, why) in &branches.rejected {
        worker::console_warn!("BRANCH_TOKENS: branch {id:?} ignored: {why}");
    }
    let branch = match auth::credential(id.as_deref(), sec.as_deref(), authz.as_deref()) {
        None => return unauthorized("credential required: Cf-Access-Client-Id/Cf-Access-Client-Secret or Authorization: Bearer"),
        Some(cred) => match branches.authenticate(&cred) {
            Some(b) => b.to_owned(),
            None => return unauthorized("credential refused"),
        },
    };
    let registry = RegistryClient::new(env, &config.organisation, &branch)?;
    // The branch's share of the tunnel, counted by the organisation's
    // registry across every isolate. The lease outlasts the connection's
    // lifetime limit, so a close that never arrives frees it all the same.
    let lease_ms = config.limits.max_lifetime.as_millis() as u64 + 60_000;
    // At its cap the branch sheds a connection for this one; the registry
    // cannot close it, but the core closes a connection silent for the idle
    // timeout, and one that activates is closed after its answer, so a shed
    // connection stops counting against the shed bound after this.
    let shed_ms = config.limits.idle_timeout.as_millis() as u64 + SHED_SLACK_MS;
    let lease = match registry.open_tunnel(lease_ms, shed_ms).await {
        Ok(Some(lease)) => lease,
        Ok(None) => {
            let mut r = Response::error(
                format!(
                    "branch {branch:?} holds its {} tunnel connections and as many shed ones as may be closing; try again later",
                    config.branch.max_connections
                ),
                429,
            )?;
            r.headers_mut().set("Retry-After", "30")?;
            return Ok(r);
        }
        Err(e) => {
            worker::console_error!("tunnel ({branch}): {e}");
            return Response::error("registry unavailable", 503);
        }
    };
    let pair = WebSocketPair::new()?;
    let server = pair.server;
    tunnel::WsStream::accept(&server)?;
    worker::wasm_bindgen_futures::spawn_local(async move {
        match tunnel::WsStream::listen(&server) {
            Ok(mut stream) => {
                let mut edge = driver::Edge::new(&mut stream).closing_when(registry.shed());
                let ending = crate::driver::serve(&mut edge, &registry, config.host_config()).await;
                log_ending("tunnel", &branch, &ending);
                stream.close(&ending, registry.shed().get());
            }
            Err(e) => worker::console_error!("tunnel: {e}"),
        }
        registry.close_tunnel(lease).await;
    });
    Response::from_websocket(pair.client)
}
