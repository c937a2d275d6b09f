//! The Worker's side of the registry: a [`Decider`] that sends each
//! activation to the organisation's Durable Object and turns its reply into
//! a [`Decision`].
use crate::driver::Decider;
use super::registry::BINDING;
use super::rpc::{
    DECIDE_PATH, DECISION_HEADER, DecideReply, DecideRequest, LEASE_HEADER, OVER_LIMIT, REMOTE_HEADER, REQUEST_HEADER, SHED,
    SHED_HEADER, TUNNEL_CLOSE_PATH, TUNNEL_OPEN_PATH, TunnelClose, TunnelLease, TunnelOpen,
};
use core::cell::Cell;
use crate::host::{Activation, Decision};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Stub};

pub struct RegistryClient {
    stub: Stub,
    /// Recorded as each client's `remote`: branch id or `tcp`.
    remote: String,
    /// The tunnel connection's lease, sent with each activation (none on
    /// the TCP path).
    lease: Cell<Option<u64>>,
    /// The registry said this connection was shed: it closes once the
    /// answer in hand is sent ([`super::driver::Edge`] reads this).
    shed: Cell<bool>,
}

/// The organisation's registry Durable Object.
pub fn stub(env: &Env, organisation: &str) -> worker::Result<Stub> {
    env.durable_object(BINDING)?.id_from_name(organisation)?.get_stub()
}

impl RegistryClient {
    pub fn new(env: &Env, organisation: &str, remote: &str) -> worker::Result<RegistryClient> {
        Ok(RegistryClient { stub: stub(env, organisation)?, remote: remote.to_owned(), lease: Cell::new(None), shed: Cell::new(false) })
    }

    /// Set once the registry has said this connection was shed.
    pub fn shed(&self) -> &Cell<bool> {
        &self.shed
    }
}

/// Why the registry did not decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideError {
    /// The branch is over its activation rate: the connection ends
    /// unanswered and its client retries later. Logged by the registry,
    /// once a minute per branch.
    OverLimit,
    /// The registry failed.
    Failed(String),
}

impl core::fmt::Display for DecideError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecideError::OverLimit => f.write_str("branch over its activation rate"),
            DecideError::Failed(e) => f.write_str(e),
        }
    }
}

/// POSTs `body` as JSON to the registry at `path`.
async fn post<T: serde::Serialize>(stub: &Stub, path: &str, body: &T) -> worker::Result<worker::Response> {
    let body = serde_json::to_string(body).map_err(|e| worker::Error::from(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
    let req = Request::new_with_init(&format!("https://registry{path}"), &init)?;
    stub.fetch_with_request(req).await
}

impl RegistryClient {
    /// A tunnel connection of this branch opens, for at most `lease_ms`,
    /// and counts no more `shed_ms` after it is shed: `Ok(None)` when the
    /// branch holds its most and as many shed ones still closing. The
    /// lease goes with this client's activations from now on.
    pub async fn open_tunnel(&self, lease_ms: u64, shed_ms: u64) -> Result<Option<u64>, String> {
        let msg = TunnelOpen { branch: self.remote.clone(), lease_ms, shed_ms };
        let mut resp = post(&self.stub, TUNNEL_OPEN_PATH, &msg).await.map_err(|e| e.to_string())?;
        match resp.status_code() {
            200 => {
                let lease = resp.json::<TunnelLease>().await.map_err(|e| e.to_string())?.lease;
                self.lease.set(Some(lease));
                Ok(Some(lease))
            }
            OVER_LIMIT => Ok(None),
            s => Err(format!("registry answered {s}: {}", resp.text().await.unwrap_or_default())),
        }
    }

    /// The tunnel connection holding `lease` closed.
    pub async fn close_tunnel(&self, lease: u64) {
        let msg = TunnelClose { branch: self.remote.clone(), lease };
        if let Err(e) = post(&self.stub, TUNNEL_CLOSE_PATH, &msg).await {
            worker::console_error!("tunnel close of {}: {e}", self.remote);
        }
    }
}

impl Decider for RegistryClient {
    type Error = DecideError;

    async fn decide(&self, a: &Activation) -> Result<Decision, DecideError> {
        let failed = |e: String| DecideError::Failed(e);
        let (request, remote) = DecideRequest::new(&self.remote, a.version, &a.request).headers();
        let sent = async {
            let headers = Headers::new();
            headers.set(REQUEST_HEADER, &request)?;
            headers.set(REMOTE_HEADER, &remote)?;
            if let Some(lease) = self.lease.get() {
                headers.set(LEASE_HEADER, &lease.to_string())?;
            }
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_headers(headers);
            self.stub.fetch_with_request(Request::new_with_init(&format!("https://registry{DECIDE_PATH}"), &init)?).await
        };
        let mut resp = sent.await.map_err(|e| failed(e.to_string()))?;
        match resp.status_code() {
            200 => {}
            OVER_LIMIT => return Err(DecideError::OverLimit),
            s => return Err(failed(format!("registry answered {s}: {}", resp.text().await.unwrap_or_default()))),
        }
        if resp.headers().get(SHED_HEADER).ok().flatten().as_deref() == Some(SHED) {
            self.shed.set(true);
        }
        let header = resp.headers().get(DECISION_HEADER).ok().flatten().unwrap_or_default();
        let reply = DecideReply::parse_header(&header).ok_or_else(|| failed(format!("registry answered {header:?}")))?;
        reply.to_decision().ok_or_else(|| failed("registry returned an unusable ePID or HwId".to_owned()))
    }
}
