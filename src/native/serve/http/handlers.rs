//! The HTTP endpoints. Registry reads run on tokio's blocking pool, one at
//! a time on the read-only connection, never on the KMS path.
use std::prelude::rust_2024::{String, ToString, Vec};
use std::format;
use std::vec;
use super::{HttpState, error};
use crate::api::{self, ClientQuery, PolicyInfo, SlotEpid, Status};
use crate::catalog::{self, EPID_SLOTS};
use crate::epid::format_hwid;
use crate::host::policy::CountPolicy;
use crate::native::serve::host::now;
use crate::native::serve::settings::ScopeSetting;
use crate::native::serve::store::query::{self, QueryError};
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
async fn read<T: Send + 'static>(
    state: &Arc<HttpState>,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, QueryError> + Send + 'static,
) -> Result<T, Response> {
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
        Ok(Ok(v)) => Ok(v),
        Ok(Err(QueryError::Bad(m))) => Err(error(StatusCode::BAD_REQUEST, m)),
        Ok(Err(QueryError::Db(e))) => {
            tracing::error!(error = %e, "registry read failed");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, format!("registry read failed: {e}")))
        }
        Err(_) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "registry read was cancelled")),
    }
}

pub async fn status(State(state): State<Arc<HttpState>>) -> Response {
    let (unix, _) = now();
    let count = state.host.policy.count;
    let data = read(&state, move |c| Ok((query::counters(c)?, query::counts(c, unix, count)?))).await;
    let (counters, counts) = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let host = &state.host;
    let id = &host.identity;
    let p = &host.policy;
    let (count_mode, fixed_count) = match p.count {
        CountPolicy::Sufficient => ("sufficient", None),
        CountPolicy::Genuine => ("genuine", None),
        CountPolicy::Fixed(n) => ("fixed", Some(n)),
    };
    let (scope, scope_ids) = match &p.scope {
        ScopeSetting::All => ("all", vec![]),
        ScopeSetting::Known => ("known", vec![]),
        ScopeSetting::Genuine => ("genuine", vec![]),
        ScopeSetting::List(ids) => ("list", ids.iter().map(|g| g.to_string()).collect()),
    };
    Json(Status {
        runtime: "native".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        started_at: state.started_at,
        uptime_secs: unix - state.started_at,
        listen: state.listen.iter().map(|a| a.to_string()).collect(),
        identity: api::Identity {
            epids: EPID_SLOTS
                .iter()
                .zip(&id.epids)
                .map(|(s, e)| SlotEpid { slot: s.name.into(), csvlk_name: s.csvlk_name.into(), epid: e.to_string() })
                .collect(),
            hwid: format_hwid(&id.hwid).to_string(),
            host_build: id.host_build,
            lcid: id.lcid,
        },
        policy: PolicyInfo {
            count_mode: count_mode.into(),
            fixed_count,
            scope: scope.into(),
            scope_ids,
            max_time_skew_secs: p.max_time_skew,
            activation_interval: p.activation_interval,
            renewal_interval: p.renewal_interval,
            ndr64: state.ndr64,
        },
        counters,
        counts,
        dns: state.dns.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|p| p.status()),
    })
    .into_response()
}

pub async fn clients(State(state): State<Arc<HttpState>>, q: Result<Query<ClientQuery>, QueryRejection>) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    match read(&state, move |c| query::clients(c, &q)).await {
        Ok(page) => Json(page).into_response(),
        Err(r) => r,
    }
}

pub async fn activity(State(state): State<Arc<HttpState>>) -> Response {
    let (unix, _) = now();
    match read(&state, move |c| Ok(query::activity(c, unix)?)).await {
        Ok(a) => Json(a).into_response(),
        Err(r) => r,
    }
}

pub async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    state.host.update_gauges();
    let body = state.host.metrics.encode();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

/// 200 while the registry takes writes, 503 once it does not.
pub async fn healthz(State(state): State<Arc<HttpState>>) -> Response {
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
