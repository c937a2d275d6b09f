//! The HTTP endpoints. Registry reads run on tokio's blocking pool, one at
//! a time on the read-only connection, never on the KMS path; what they
//! answer is the host model's views, the same as the edge host's.
use std::prelude::rust_2024::{String, ToString, Vec};
use std::format;
use super::{HttpState, error};
use crate::api::{ClientQuery, EventQuery};
use crate::model::events;
use crate::catalog;
use crate::model::views::{self, RuntimeInfo, ViewError};
use crate::native::serve::host::now;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How long a read waits for SQLite to catch up with the journal before it
/// answers with what SQLite has.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs `f` with the read connection on the blocking pool, once SQLite
/// holds every activation answered before the call (read-your-writes: an
/// administrator who just activated a machine sees it).
async fn read<T: Serialize + Send + 'static>(
    state: &Arc<HttpState>,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, ViewError> + Send + 'static,
) -> Response {
    read_as(state, f, |v| Json(v).into_response()).await
}

/// [`read`], answering with `respond`.
async fn read_as<T: Send + 'static>(
    state: &Arc<HttpState>,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, ViewError> + Send + 'static,
    respond: impl FnOnce(T) -> Response,
) -> Response {
    if !state.host.writer.settled(SETTLE).await {
        tracing::debug!("registry read before the journal was applied");
    }
    let state = state.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let conn = state.reader.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    })
    .await;
    match joined {
        Ok(Ok(v)) => respond(v),
        Ok(Err(ViewError::Bad(m))) => error(StatusCode::BAD_REQUEST, m),
        Ok(Err(e @ ViewError::Store(_))) => {
            tracing::error!(error = %e, "registry read failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "registry read was cancelled"),
    }
}

pub async fn status(State(state): State<Arc<HttpState>>) -> Response {
    let (unix, _) = now();
    let rt = RuntimeInfo {
        name: "native",
        started_at: state.started_at,
        listen: state.admin.listen().iter().map(|a| a.to_string()).collect(),
        dns: state.dns.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|p| p.status()),
        ndr64: state.ndr64,
    };
    let s = state.clone();
    read(&state, move |c| views::status(c, &s.host.model, rt, unix)).await
}

pub async fn clients(State(state): State<Arc<HttpState>>, q: Result<Query<ClientQuery>, QueryRejection>) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    read(&state, move |c| views::clients(c, &q)).await
}

pub async fn events(State(state): State<Arc<HttpState>>, q: Result<Query<EventQuery>, QueryRejection>) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    read(&state, move |c| events::events(c, &q)).await
}

/// The same query as CSV, as a download.
pub async fn events_csv(State(state): State<Arc<HttpState>>, q: Result<Query<EventQuery>, QueryRejection>) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    read_as(&state, move |c| events::events_csv(c, &q), |csv| {
        (
            [
                (header::CONTENT_TYPE, events::CSV_CONTENT_TYPE),
                (header::CONTENT_DISPOSITION, events::CSV_DISPOSITION),
            ],
            csv,
        )
            .into_response()
    })
    .await
}

/// `GET /api/settings`: what `slmgr /dlv` shows of the settings.
pub async fn settings(State(state): State<Arc<HttpState>>) -> Response {
    Json(state.admin.view().await).into_response()
}

/// `PUT /api/settings`: one change (`crate::api::SettingChange`), stored
/// and applied; 400 with one line when refused.
pub async fn change_setting(
    State(state): State<Arc<HttpState>>,
    body: Result<Json<crate::api::SettingChange>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(c) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    match state.admin.apply(&c.setting, c.value.as_deref()).await {
        Ok(v) => Json(v).into_response(),
        Err(crate::native::serve::admin::AdminError::Refused(r)) => error(StatusCode::BAD_REQUEST, r.0),
        Err(crate::native::serve::admin::AdminError::Failed(m)) => {
            tracing::error!(error = %m, "setting change failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, m)
        }
    }
}

pub async fn activity(State(state): State<Arc<HttpState>>) -> Response {
    let (unix, _) = now();
    read(&state, move |c| views::activity(c, unix)).await
}

pub async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    state.host.update_gauges();
    let body = state.host.metrics.encode();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

#[derive(Debug, Deserialize)]
pub struct HealthQuery {
    /// `1`: a real activation through the core and the registry.
    deep: Option<String>,
}

/// 200 while the registry takes writes, 503 once it does not. With
/// `?deep=1`, 200 only after a real activation of the reserved
/// health-check client went through the core and into SQLite
/// ([`super::health`]); 503 names the step that failed.
pub async fn healthz(State(state): State<Arc<HttpState>>, q: Result<Query<HealthQuery>, QueryRejection>) -> Response {
    let deep = match q {
        Ok(Query(HealthQuery { deep: None })) => false,
        Ok(Query(HealthQuery { deep: Some(d) })) if d == "1" => true,
        Ok(Query(HealthQuery { deep: Some(d) })) if d == "0" => false,
        Ok(Query(HealthQuery { deep: Some(d) })) => return error(StatusCode::BAD_REQUEST, format!("deep must be 0 or 1, not {d:?}")),
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if deep {
        return match super::health::deep_check(&state).await {
            Ok(line) => (StatusCode::OK, format!("ok: {line}\n")).into_response(),
            Err(why) => {
                tracing::warn!(error = %why, "deep health check failed");
                (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response()
            }
        };
    }
    if state.host.writer.is_alive() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "registry closed\n").into_response()
    }
}

pub async fn no_such_api() -> Response {
    error(StatusCode::NOT_FOUND, "no such API endpoint")
}

/// `/api/products` entry: a catalogue SKU and how to install its key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub family: String,
    pub edition: String,
    pub application: String,
    pub kms_id: String,
    pub kms_name: String,
    /// The client count the product needs from the host.
    pub n_policy: u32,
    pub gvlk: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ProductQuery {
    /// Words that must all occur in the name, family or edition.
    q: Option<String>,
}

pub async fn products(q: Result<Query<ProductQuery>, QueryRejection>) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let list: Vec<Product> = catalog::search(q.q.as_deref().unwrap_or(""))
        .map(|s| {
            let k = s.kms_id();
            Product {
                id: s.id.to_string(),
                name: s.name.into(),
                family: s.family.into(),
                edition: s.edition.into(),
                application: catalog::application_by_key(s.app).name.into(),
                kms_id: s.kms.to_string(),
                kms_name: k.map_or("Unknown", |k| k.name).into(),
                n_policy: k.map_or(25, |k| k.n_policy),
                gvlk: s.gvlk.map(Into::into),
            }
        })
        .collect();
    Json(list).into_response()
}
