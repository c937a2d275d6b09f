//! `/healthz?deep=1`: one real activation of the reserved health-check
//! client ([`crate::host::health`]) through the core and the registry, in
//! process: the request is built and sealed as a client would
//! ([`crate::client`]), opened by the host's envelope code, decided by the
//! host model, written to the journal and then to SQLite like any request
//! (where it becomes the `host` row [`HEALTH_KEY`] instead of a client),
//! and the sealed response is checked as a Windows client checks it.
//! `kmsedge activate --check` does the same over TCP from the outside.
//!
//! Each failure is named by the step that failed, in one line.
use std::prelude::rust_2024::{String, ToString};
use std::format;
use super::HttpState;
use crate::native::serve::host::now;
use crate::native::serve::store::record::HEALTH_KEY;
use crate::client::{self, RequestBuilder};
use crate::host::{Activation, Decision, health};
use crate::kms::{self, Expect, ResponseRandom, ResponseRepr};
use crate::registry;
use crate::wire::Syntax;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

/// How long the check waits for SQLite to take the activation.
const APPLY_WITHIN: Duration = Duration::from_secs(5);

/// What passed, as one line (ePID and count answered).
pub async fn deep_check(state: &Arc<HttpState>) -> Result<String, String> {
    let host = &state.host;
    let sku = health::sku().ok_or("catalogue: the health-check product is missing")?;
    let (unix, filetime) = now();
    let req = RequestBuilder::for_sku(sku)
        .cmid(health::CMID)
        .workstation(health::WORKSTATION)
        // No minimum count: the check passes whatever the count policy.
        .n_policy(0)
        .time(filetime)
        .build();
    let iv: [u8; 16] = rand::random();
    let mut msg = [0u8; 512];
    let n = kms::seal_request(&req, &iv, &mut msg);
    let opened = kms::open_request(&msg[..n]).map_err(|e| format!("request envelope: {e}"))?;
    let activation = Activation { request: opened.repr, version: opened.version, syntax: Syntax::Ndr64, call_id: 0 };
    let answer = host.activate(&activation, IpAddr::V6(Ipv6Addr::LOCALHOST)).await.map_err(|e| e.to_string())?;
    let grant = match answer.decision {
        Decision::Grant(g) => g,
        Decision::Refuse(hr) => return Err(format!("the host refused the health-check activation: {hr}")),
    };
    let resp = ResponseRepr {
        version: activation.version,
        epid: grant.epid,
        cmid: req.cmid,
        request_time: req.request_time,
        current_count: grant.current_count,
        activation_interval: grant.activation_interval,
        renewal_interval: grant.renewal_interval,
    };
    let random = ResponseRandom { salt: rand::random(), iv: rand::random() };
    let mut out = [0u8; kms::MAX_RESPONSE_LEN];
    let m = kms::seal_response(&resp, &opened.iv, &random, &grant.hwid, &mut out);
    let checked = client::check_response(&out[..m], &Expect::for_request(&req, &iv), req.n_policy)
        .map_err(|e| format!("response check: {e}"))?;
    if !host.writer.settled(APPLY_WITHIN).await {
        return Err(format!("registry: SQLite has not applied the journal within {} s", APPLY_WITHIN.as_secs()));
    }
    let state = state.clone();
    let applied = tokio::task::spawn_blocking(move || -> Result<i64, String> {
        let conn = state.reader.lock().unwrap_or_else(|p| p.into_inner());
        let v: String = conn
            .query_row(registry::GET_HOST, [HEALTH_KEY], |r| r.get(0))
            .map_err(|e| format!("registry read: {e}"))?;
        v.parse().map_err(|_| format!("registry: {HEALTH_KEY} holds {v:?}"))
    })
    .await
    .map_err(|_| "registry read was cancelled".to_string())??;
    if applied < unix {
        return Err(format!("registry: SQLite holds a health check from {applied}, not this one ({unix})"));
    }
    Ok(format!("activated {} (ePID {}, count {}); registry applied", sku.name, checked.repr.epid.as_str(), checked.repr.current_count))
}
