//! The host's HTTP side (axum): the `www/` page, the JSON API the dashboard
//! reads (shapes in [`crate::api`], shared with the edge host), Prometheus
//! metrics and a health check.
//!
//! | path | access |
//! |---|---|
//! | `/`, page files, `/healthz`, `/api/products` | anyone who reaches the port |
//! | `/api/status`, `/api/clients`, `/api/activity`, `/api/events`, `/api/events.csv`, `/api/settings` (GET, PUT), `/metrics` | [`auth`]: the admin token, or loopback when none is set |
use std::prelude::rust_2024::String;
pub mod assets;
pub mod auth;
mod handlers;
mod health;

use super::host::Host;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::Connection;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// What the handlers share.
pub struct HttpState {
    pub host: Arc<Host>,
    /// Read-only registry connection; queries run on the blocking pool.
    pub reader: Mutex<Connection>,
    pub token: Option<String>,
    pub started_at: i64,
    /// Runtime administration (and the bound KMS addresses).
    pub admin: Arc<super::admin::Admin>,
    pub ndr64: bool,
    /// SRV publishing, for the status; taken out at shutdown.
    pub dns: Arc<DnsSlot>,
}

/// The running [`Publisher`](crate::native::dns::Publisher), shared by the
/// server (which shuts it down) and the status endpoint.
pub type DnsSlot = Mutex<Option<crate::native::dns::Publisher>>;

pub fn router(state: Arc<HttpState>) -> Router {
    let protected = Router::new()
        .route("/api/status", get(handlers::status))
        .route("/api/clients", get(handlers::clients))
        .route("/api/activity", get(handlers::activity))
        .route("/api/events", get(handlers::events))
        .route("/api/events.csv", get(handlers::events_csv))
        .route("/api/settings", get(handlers::settings).put(handlers::change_setting))
        .route("/metrics", get(handlers::metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .merge(protected)
        .route("/healthz", get(handlers::healthz))
        .route("/api/products", get(handlers::products))
        .route("/api/{*rest}", get(handlers::no_such_api))
        .fallback(get(assets::serve))
        .layer(middleware::from_fn(common_headers))
        .with_state(state)
}

async fn require_admin(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let authorization = req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes());
    match auth::check(peer.ip(), authorization, state.token.as_deref()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            let status = match refusal {
                auth::Refusal::NoTokenConfigured => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut r = error(status, refusal.message());
            if status == StatusCode::UNAUTHORIZED {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            }
            r
        }
    }
}

async fn common_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    r
}

/// `{"error": "..."}` with a status.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}
