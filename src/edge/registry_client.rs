//! The Worker's side of the registry: a [`Decider`] that sends each
//! activation to the organisation's Durable Object and turns its reply into
//! a [`Decision`].
use crate::driver::Decider;
use super::registry::BINDING;
use super::rpc::{DECIDE_PATH, DecideReply, DecideRequest};
use crate::host::{Activation, Decision};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Method, Request, RequestInit, Stub};

pub struct RegistryClient {
    stub: Stub,
    /// Recorded as each client's `remote`: branch id or `tcp`.
    remote: String,
}

/// The organisation's registry Durable Object.
pub fn stub(env: &Env, organisation: &str) -> worker::Result<Stub> {
    env.durable_object(BINDING)?.id_from_name(organisation)?.get_stub()
}

impl RegistryClient {
    pub fn new(env: &Env, organisation: &str, remote: &str) -> worker::Result<RegistryClient> {
        Ok(RegistryClient { stub: stub(env, organisation)?, remote: remote.to_owned() })
    }
}

impl Decider for RegistryClient {
    type Error = String;

    async fn decide(&self, a: &Activation) -> Result<Decision, String> {
        let msg = DecideRequest::new(&self.remote, a.version, &a.request);
        let body = serde_json::to_string(&msg).map_err(|e| e.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
        let req = Request::new_with_init(&format!("https://registry{DECIDE_PATH}"), &init).map_err(|e| e.to_string())?;
        let mut resp = self.stub.fetch_with_request(req).await.map_err(|e| e.to_string())?;
        if resp.status_code() != 200 {
            let text = resp.text().await.unwrap_or_default();
            return Err(format!("registry answered {}: {text}", resp.status_code()));
        }
        let reply: DecideReply = resp.json().await.map_err(|e| e.to_string())?;
        reply.to_decision().ok_or_else(|| "registry returned an unusable ePID or HwId".to_owned())
    }
}
