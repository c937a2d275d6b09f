//! The organisation's client registry: one Durable Object with SQLite
//! storage (`idFromName(KMS_ORGANISATION)`), so every branch and both entry
//! paths add to one count, as clients of a single genuine KMS host would.
//!
//! It runs the same schema and the same statements as the native host
//! (`crate::registry`), keeps the host identity (ePID per slot, HwId, build,
//! LCID) generated once in the `host` table, and decides each activation.
//! A decision is synchronous SQL with no `await` in between, so the Durable
//! Object's single-threaded execution makes record-then-count atomic.
use super::config::EdgeConfig;
use super::rng::SystemRng;
use super::rpc::{DECIDE_PATH, DecideReply, DecideRequest};
use super::status;
use crate::catalog::{self, EPID_SLOTS};
use crate::epid::{self, Epid, HostProfile};
use crate::host::policy::{check_request, decide};
use crate::registry::{self as sqlreg, counters, keys};
use crate::time::{Date, FileTime};
use crate::HResult;
use crate::kms::{RequestRepr, Version};
use std::cell::RefCell;
use std::rc::Rc;
use worker::js_sys::{Function, Reflect};
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{
    DurableObject, Env, Method, Request, Response, Result, SqlStorage, SqlStorageValue, State, Storage,
    durable_object,
};

/// The binding name of the Durable Object namespace in `wrangler.toml`.
pub const BINDING: &str = "REGISTRY";

/// The host's identity, as stored in the `host` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Indexed like [`EPID_SLOTS`].
    pub epids: Vec<Epid>,
    pub hwid: [u8; 8],
    pub host_build: u32,
    pub lcid: u16,
}

#[durable_object]
pub struct KmsRegistry {
    state: State,
    started_at: i64,
    identity: RefCell<Option<Identity>>,
    /// `[vars]` cannot change under a running instance (a new deployment
    /// starts new instances), so they are read once.
    config: Result<EdgeConfig, String>,
    /// The schema could not be applied; every request reports it.
    schema_error: Option<String>,
}

impl DurableObject for KmsRegistry {
    fn new(state: State, env: Env) -> Self {
        // Idempotent (CREATE … IF NOT EXISTS), so it runs at every start.
        let schema_error = state.storage().sql().exec(sqlreg::SCHEMA, None).err().map(|e| e.to_string());
        if let Some(e) = &schema_error {
            worker::console_error!("registry schema: {e}");
        }
        let started_at = (worker::Date::now().as_millis() / 1000) as i64;
        let config = EdgeConfig::from_vars(|k| env.var(k).ok().map(|v| v.to_string())).map_err(|e| e.to_string());
        KmsRegistry { state, started_at, identity: RefCell::new(None), config, schema_error }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if let Some(e) = &self.schema_error {
            return Response::error(format!("registry schema failed: {e}"), 500);
        }
        let config = match &self.config {
            Ok(c) => c,
            Err(e) => return Response::error(e.clone(), 500),
        };
        let path = req.path();
        match (req.method(), path.as_str()) {
            (Method::Post, DECIDE_PATH) => {
                let msg: DecideRequest = match req.json().await {
                    Ok(m) => m,
                    Err(e) => return Response::error(format!("bad decide request: {e}"), 400),
                };
                match self.decide(config, &msg) {
                    Ok(reply) => Response::from_json(&reply),
                    Err(e) => Response::error(e.to_string(), 500),
                }
            }
            (Method::Get, "/api/status") => {
                let id = self.identity(config)?;
                let now = unix_now();
                Response::from_json(&status::status(&self.sql(), config, &id, self.started_at, now)?)
            }
            (Method::Get, "/api/clients") => {
                let q = match req.query() {
                    Ok(q) => q,
                    Err(e) => return Response::error(format!("bad query: {e}"), 400),
                };
                match status::clients(&self.sql(), &q)? {
                    Ok(page) => Response::from_json(&page),
                    Err(bad) => Response::error(bad, 400),
                }
            }
            (Method::Get, "/api/activity") => Response::from_json(&status::activity(&self.sql(), unix_now())?),
            _ => Response::error("not found", 404),
        }
    }
}

pub fn unix_now() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

impl KmsRegistry {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// Records the request, counts its group and decides — in one SQLite
    /// transaction, so the registry never holds half a request (a failed
    /// statement rolls back the client row and counters together), and one
    /// commit instead of one per statement.
    fn decide(&self, config: &EdgeConfig, msg: &DecideRequest) -> Result<DecideReply> {
        let (version, req) = msg.parse().ok_or_else(|| worker::Error::from("malformed request"))?;
        let identity = self.identity(config)?;
        let now = FileTime::from_unix_millis(worker::Date::now().as_millis() as i64);
        let remote: String = msg.remote.chars().take(128).collect();
        let (sql, config) = (self.sql(), config.clone());
        transaction_sync(&self.state.storage(), move || {
            record_and_decide(&sql, &config, &identity, &remote, version, &req, now)
        })
    }

    /// The stored identity, generated and stored on first use.
    fn identity(&self, config: &EdgeConfig) -> Result<Identity> {
        if let Some(id) = self.identity.borrow().as_ref() {
            return Ok(id.clone());
        }
        let id = load_or_create_identity(&self.sql(), config.ndr64, Date::from_unix(unix_now()))?;
        *self.identity.borrow_mut() = Some(id.clone());
        Ok(id)
    }
}

/// `storage.transactionSync(f)`, which workers-rs does not wrap: `f` runs
/// synchronously inside a transaction that commits if it returns `Ok` and
/// rolls back if it returns `Err` (thrown back to JavaScript).
fn transaction_sync<T: 'static>(storage: &Storage, f: impl FnOnce() -> Result<T> + 'static) -> Result<T> {
    let raw: &JsValue = storage.as_raw().as_ref();
    let func: Function = Reflect::get(raw, &JsValue::from_str("transactionSync"))?.dyn_into()?;
    let out: Rc<RefCell<Option<Result<T>>>> = Rc::default();
    let slot = out.clone();
    let callback = Closure::once_into_js(move || -> core::result::Result<(), JsValue> {
        let r = f();
        let thrown = r.as_ref().err().map(|e| JsValue::from_str(&e.to_string()));
        *slot.borrow_mut() = Some(r);
        thrown.map_or(Ok(()), Err)
    });
    let called = func.call1(raw, &callback);
    let result = out.borrow_mut().take();
    match result {
        Some(r) => r,
        None => Err(called.err().map(worker::Error::from).unwrap_or_else(|| "transactionSync did not run".into())),
    }
}

/// The body of a decision: upsert the client, bump the counters and the
/// hour's activity, count the group with the shared SQL, decide.
fn record_and_decide(
    sql: &SqlStorage,
    config: &EdgeConfig,
    identity: &Identity,
    remote: &str,
    version: Version,
    req: &RequestRepr,
    now: FileTime,
) -> Result<DecideReply> {
    let unix = now.to_unix();
    let policy = config.policy();
    let hr = check_request(req, now, &policy).err().unwrap_or(HResult::S_OK);
    let mut ws = [0u8; 192];
    sql.exec(
        sqlreg::UPSERT_CLIENT,
        vec![
            req.cmid.to_string().into(),
            req.kms_id.to_string().into(),
            req.application.to_string().into(),
            req.sku.to_string().into(),
            req.workstation.to_str(&mut ws).into(),
            remote.into(),
            i64::from(req.license_status).into(),
            format!("{}.{}", version.major, version.minor).into(),
            unix.into(),
            i64::from(hr.0).into(),
        ],
    )?;
    let failed = !hr.is_success();
    bump(sql, counters::TOTAL)?;
    if failed {
        bump(sql, counters::FAILED)?;
    }
    bump(sql, &format!("{}{}", counters::LICENSE_STATUS_PREFIX, req.license_status))?;
    sql.exec(sqlreg::BUMP_ACTIVITY, vec![(unix / 3600).into(), i64::from(!failed).into(), i64::from(failed).into()])?;
    let genuine = scalar(
        sql,
        sqlreg::GENUINE_COUNT,
        vec![req.application.to_string().into(), (unix - sqlreg::CMID_EXPIRY_SECS).into()],
    )?;
    let slot = catalog::slot_for(&req.kms_id, &req.application);
    let epid = identity.epids[usize::from(slot.0)];
    let genuine = u32::try_from(genuine).unwrap_or(u32::MAX);
    let d = decide(req, now, &policy, genuine, epid, identity.hwid);
    Ok(DecideReply::from_decision(&d))
}

fn bump(sql: &SqlStorage, name: &str) -> Result<()> {
    sql.exec(sqlreg::BUMP_COUNTER, vec![name.into()]).map(|_| ())
}

/// Rows as raw values.
pub fn rows(sql: &SqlStorage, query: &str, args: Vec<SqlStorageValue>) -> Result<Vec<Vec<SqlStorageValue>>> {
    sql.exec(query, args)?.raw().collect()
}

/// The single integer a query returns (0 if none).
pub fn scalar(sql: &SqlStorage, query: &str, args: Vec<SqlStorageValue>) -> Result<i64> {
    Ok(rows(sql, query, args)?.first().and_then(|r| r.first()).map(int).unwrap_or(0))
}

pub fn int(v: &SqlStorageValue) -> i64 {
    match v {
        SqlStorageValue::Integer(i) => *i,
        SqlStorageValue::Float(f) => *f as i64,
        SqlStorageValue::Boolean(b) => i64::from(*b),
        SqlStorageValue::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

pub fn text(v: &SqlStorageValue) -> String {
    match v {
        SqlStorageValue::String(s) => s.clone(),
        SqlStorageValue::Integer(i) => i.to_string(),
        SqlStorageValue::Float(f) => f.to_string(),
        SqlStorageValue::Boolean(b) => b.to_string(),
        _ => String::new(),
    }
}

fn host_value(sql: &SqlStorage, key: &str) -> Result<Option<String>> {
    Ok(rows(sql, sqlreg::GET_HOST, vec![key.into()])?.first().and_then(|r| r.first()).map(text))
}

/// Reads the identity, generating what is missing (first start, or a slot
/// added to the catalogue since). Insert-only writes, then a re-read: what
/// is stored is what the host answers with, always.
fn load_or_create_identity(sql: &SqlStorage, ndr64: bool, today: Date) -> Result<Identity> {
    let mut rng = SystemRng;
    let init = |k: &str, v: String| sql.exec(sqlreg::INIT_HOST, vec![k.into(), v.into()]).map(|_| ());
    let build = host_value(sql, keys::HOST_BUILD)?.and_then(|b| b.parse().ok()).and_then(catalog::host_build);
    let lcid = host_value(sql, keys::LCID)?.and_then(|l| l.parse::<u16>().ok());
    let profile = match (build, lcid) {
        (Some(build), Some(lcid)) => HostProfile { build, lcid },
        _ => {
            let p = epid::choose_profile(&mut rng, today, ndr64);
            init(keys::HOST_BUILD, p.build.build.to_string())?;
            init(keys::LCID, p.lcid.to_string())?;
            p
        }
    };
    if host_value(sql, keys::HWID)?.and_then(|h| epid::parse_hwid(&h)).is_none() {
        init(keys::HWID, epid::format_hwid(&epid::generate_hwid(&mut rng)).to_string())?;
    }
    for slot in EPID_SLOTS.iter() {
        let key = format!("{}{}", keys::EPID_PREFIX, slot.name);
        if host_value(sql, &key)?.and_then(|e| Epid::parse(&e).ok()).is_none() {
            init(&key, epid::generate(&mut rng, slot, &profile, today).as_str().to_owned())?;
        }
    }
    let bad = |what: &str| worker::Error::from(format!("registry host table: unusable {what}"));
    let mut epids = Vec::with_capacity(EPID_SLOTS.len());
    for slot in EPID_SLOTS.iter() {
        let key = format!("{}{}", keys::EPID_PREFIX, slot.name);
        epids.push(host_value(sql, &key)?.and_then(|e| Epid::parse(&e).ok()).ok_or_else(|| bad(&key))?);
    }
    Ok(Identity {
        epids,
        hwid: host_value(sql, keys::HWID)?.and_then(|h| epid::parse_hwid(&h)).ok_or_else(|| bad(keys::HWID))?,
        host_build: host_value(sql, keys::HOST_BUILD)?.and_then(|b| b.parse().ok()).ok_or_else(|| bad(keys::HOST_BUILD))?,
        lcid: host_value(sql, keys::LCID)?.and_then(|l| l.parse().ok()).ok_or_else(|| bad(keys::LCID))?,
    })
}
