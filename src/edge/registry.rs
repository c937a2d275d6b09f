//! The organisation's client registry: one Durable Object with SQLite
//! storage (`idFromName(KMS_ORGANISATION)`), so every branch and both entry
//! paths add to one count, as clients of a single genuine KMS host would.
//!
//! It holds the shared [`HostModel`], built when the object wakes: the
//! identity loaded (or created) and the counts rebuilt from the stored rows
//! in one scan. An activation is then a keyed upsert and counter updates in
//! one synchronous transaction, and an in-memory count: constant cost,
//! whatever the number of clients. The Durable Object's single-threaded
//! execution keeps record-then-count atomic.
use super::config::EdgeConfig;
use super::rng::SystemRng;
use super::rpc::{
    DECIDE_PATH, DECISION_HEADER, DecideReply, DecideRequest, LEASE_HEADER, OVER_LIMIT, REMOTE_HEADER, REQUEST_HEADER, SHED,
    SHED_HEADER, TUNNEL_CLOSE_PATH, TUNNEL_OPEN_PATH, TunnelClose, TunnelLease, TunnelOpen,
};
use crate::model::rate::{Activated, Limiter, shed_bound};
use crate::model::counts::Counts;
use crate::model::events::{self, Retention};
use crate::model::identity::Identity;
use crate::model::record::ClientRecord;
use crate::model::sql::{Sql, Value};
use crate::model::views::{self, RuntimeInfo, ViewError};
use crate::api::SettingChange;
use crate::model::HostModel;
use crate::model::admin::{self, Admin, Change, Priority, Refused, RuntimeNotes, Stored};
use crate::registry::{self as sqlreg, CMID_EXPIRY_SECS};
use crate::time::{Date, FileTime};
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

/// Entry paths, for `/api/status`'s `listen`.
pub const LISTEN: [&str; 2] = ["tcp: connect() handler", "wss: tunnel (WebSocket upgrade on any path but /api/)"];

#[durable_object]
pub struct KmsRegistry {
    state: State,
    started_at: i64,
    /// Built on first use after the object wakes.
    model: RefCell<Option<Rc<HostModel>>>,
    /// What each branch holds open and may still activate (in memory: an
    /// evicted object starts every branch afresh).
    branches: RefCell<Option<Limiter>>,
    /// `[vars]` cannot change under a running instance (a new deployment
    /// starts new instances), so they are read once.
    config: core::result::Result<EdgeConfig, String>,
    /// The schema could not be applied; every request reports it.
    schema_error: Option<String>,
    /// `KMS_BENCH_SEED = "true"`: [`super::seed`]'s endpoint answers.
    bench_seed: bool,
    /// When expired events are next deleted.
    retention: RefCell<Retention>,
    /// The settings in effect (start-up `[vars]` under those changed at
    /// runtime), built with the model.
    admin: RefCell<Option<Admin>>,
}

impl DurableObject for KmsRegistry {
    fn new(state: State, env: Env) -> Self {
        // Idempotent (CREATE … IF NOT EXISTS), so it runs at every start.
        let schema_error = state.storage().sql().exec(sqlreg::SCHEMA, None).err().map(|e| e.to_string());
        if let Some(e) = &schema_error {
            worker::console_error!("registry schema: {e}");
        }
        let config = EdgeConfig::from_env(|k| env.var(k).ok().map(|v| v.to_string()), |k| env.secret(k).ok().map(|v| v.to_string()))
            .map_err(|e| e.to_string());
        let bench_seed = super::seed::enabled(env.var(super::seed::ENABLE_VAR).ok().map(|v| v.to_string()).as_deref());
        let days = config.as_ref().map_or(events::DEFAULT_DAYS, |c| c.event_days);
        KmsRegistry {
            state,
            started_at: unix_now(),
            model: RefCell::new(None),
            branches: RefCell::new(None),
            config,
            schema_error,
            bench_seed,
            retention: RefCell::new(Retention::days(days)),
            admin: RefCell::new(None),
        }
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
                let header = |name| req.headers().get(name).ok().flatten().unwrap_or_default();
                let Some(msg) = DecideRequest::from_headers(&header(REQUEST_HEADER), &header(REMOTE_HEADER)) else {
                    return Response::error("bad decide request: malformed kms-request or kms-remote header", 400);
                };
                // The tunnel connection's lease: what it gave is recorded
                // on it, and a shed one learns it here.
                let lease = header(LEASE_HEADER).parse::<u64>().ok();
                let mut activated = Activated { shed: false };
                if msg.remote != super::tcp::REMOTE {
                    match self.limit(config, |l, now| l.activation(&msg.remote, lease, now)) {
                        Ok(a) => activated = a,
                        Err(why) => {
                            if why.log {
                                worker::console_warn!(
                                    "branch {:?} is over its {} activations a minute: refusing its activations until it slows down",
                                    msg.remote,
                                    config.branch.activations_per_minute
                                );
                            }
                            return Response::error(format!("branch {:?} is over its activation rate", msg.remote), OVER_LIMIT);
                        }
                    }
                }
                // A shed connection's request in hand is decided and
                // answered like any other; only then does it close.
                match self.decide(config, &msg) {
                    Ok(reply) => {
                        let mut r = Response::empty()?;
                        r.headers_mut().set(DECISION_HEADER, &reply.header())?;
                        if activated.shed {
                            r.headers_mut().set(SHED_HEADER, SHED)?;
                        }
                        Ok(r)
                    }
                    Err(e) => Response::error(e.to_string(), 500),
                }
            }
            (Method::Post, TUNNEL_OPEN_PATH) => {
                let msg: TunnelOpen = match req.json().await {
                    Ok(m) => m,
                    Err(e) => return Response::error(format!("bad tunnel open: {e}"), 400),
                };
                match self.limit(config, |l, now| l.open(&msg.branch, now, now + msg.lease_ms, msg.shed_ms)) {
                    Ok(opened) => {
                        if opened.shed.is_some_and(|s| s.log) {
                            worker::console_warn!(
                                "branch {:?} holds its {} tunnel connections: shedding the one that has given least (idle longest) for each newcomer",
                                msg.branch,
                                config.branch.max_connections
                            );
                        }
                        Response::from_json(&TunnelLease { lease: opened.lease })
                    }
                    Err(why) => {
                        if why.log {
                            worker::console_warn!(
                                "branch {:?} holds its {} tunnel connections and {} shed ones still closing: refusing more",
                                msg.branch,
                                config.branch.max_connections,
                                shed_bound(config.branch.max_connections)
                            );
                        }
                        Response::error(format!("branch {:?} holds its most tunnel connections", msg.branch), OVER_LIMIT)
                    }
                }
            }
            (Method::Post, TUNNEL_CLOSE_PATH) => {
                let msg: TunnelClose = match req.json().await {
                    Ok(m) => m,
                    Err(e) => return Response::error(format!("bad tunnel close: {e}"), 400),
                };
                self.limit(config, |l, _| l.close(&msg.branch, msg.lease));
                Response::empty()
            }
            (Method::Get, "/api/status") => {
                let model = self.model(config)?;
                let rt = RuntimeInfo {
                    name: "edge",
                    started_at: self.started_at,
                    listen: LISTEN.iter().map(|s| (*s).to_owned()).collect(),
                    dns: None,
                    ndr64: config.ndr64,
                };
                view(views::status(&self.sql(), &model, rt, unix_now()))
            }
            (Method::Get, "/api/clients") => match req.query() {
                Ok(q) => view(views::clients(&self.sql(), &q)),
                Err(e) => Response::error(format!("bad query: {e}"), 400),
            },
            (Method::Get, "/api/activity") => view(views::activity(&self.sql(), unix_now())),
            (Method::Get, "/api/events") => match req.query() {
                Ok(q) => view(events::events(&self.sql(), &q)),
                Err(e) => Response::error(format!("bad query: {e}"), 400),
            },
            (Method::Get, "/api/events.csv") => match req.query() {
                Ok(q) => match events::events_csv(&self.sql(), &q) {
                    Ok(csv) => {
                        let mut r = Response::ok(csv)?;
                        r.headers_mut().set("Content-Type", events::CSV_CONTENT_TYPE)?;
                        r.headers_mut().set("Content-Disposition", events::CSV_DISPOSITION)?;
                        Ok(r)
                    }
                    Err(e) => view::<()>(Err(e)),
                },
                Err(e) => Response::error(format!("bad query: {e}"), 400),
            },
            (Method::Get, "/api/settings") => {
                self.model(config)?;
                let a = self.admin.borrow().clone();
                match a {
                    Some(a) => Response::from_json(&admin::view(&a, notes())),
                    None => Response::error("settings not loaded", 500),
                }
            }
            (Method::Put, "/api/settings") => {
                let c: SettingChange = match req.json().await {
                    Ok(c) => c,
                    Err(e) => return Response::error(format!("bad setting change: {e}"), 400),
                };
                match self.change(config, &c) {
                    Ok(Ok(v)) => Response::from_json(&v),
                    Ok(Err(refused)) => Response::error(refused.0, 400),
                    Err(e) => Response::error(e.to_string(), 500),
                }
            }
            (Method::Post, super::seed::PATH) => super::seed::handle(self.bench_seed, &req, &self.state.storage(), &self.model),
            (Method::Get, super::seed::USAGE_PATH) if self.bench_seed => Response::from_json(&usage()),
            _ => Response::error("not found", 404),
        }
    }
}

/// A view as JSON, or its error as 400 (the caller's) or 500.
fn view<T: serde::Serialize>(v: core::result::Result<T, ViewError>) -> Result<Response> {
    match v {
        Ok(v) => Response::from_json(&v),
        Err(ViewError::Bad(m)) => Response::error(m, 400),
        Err(e) => Response::error(e.to_string(), 500),
    }
}

pub fn unix_now() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

impl KmsRegistry {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// Runs `f` on the branch limiter (made on first use) at the current time.
    fn limit<T>(&self, config: &EdgeConfig, f: impl FnOnce(&mut Limiter, u64) -> T) -> T {
        let mut b = self.branches.borrow_mut();
        let l = b.get_or_insert_with(|| Limiter::new(config.branch));
        f(l, worker::Date::now().as_millis())
    }

    /// Records the request and decides: the rules once, the record (client
    /// row, counters, the hour's activity) in one SQLite transaction — so
    /// the registry never holds half a request, and one commit instead of
    /// one per statement — then the in-memory count.
    fn decide(&self, config: &EdgeConfig, msg: &DecideRequest) -> Result<DecideReply> {
        let (version, req) = msg.parse().ok_or_else(|| worker::Error::from("malformed request"))?;
        let model = self.model(config)?;
        let now = FileTime::from_unix_millis(worker::Date::now().as_millis() as i64);
        let unix = now.to_unix();
        let verdict = model.check(&req, now);
        let remote: String = msg.remote.chars().take(128).collect();
        let record = ClientRecord::new(&req, version, verdict, remote, unix);
        let prune = self.retention.borrow_mut().due(unix);
        let (sql, storage) = (self.sql(), self.state.storage());
        // The count the answer reports goes into the request's event, in
        // the same transaction as the client row.
        let (answer, ()) = model.conclude_recording(&req, verdict, unix, |answer| {
            let event = events::request_event(&record, answer);
            transaction_sync(&storage, move || {
                record.store(&sql)?;
                events::record(&sql, &event, prune)
            })
        })?;
        USAGE.with(|u| u.set(Usage { decides: u.get().decides + 1, ..u.get() }));
        Ok(DecideReply::from_decision(&answer.decision))
    }

    /// The host model, built on first use after the object wakes: the
    /// stored identity (generated and stored the first time) and the
    /// counts rebuilt from the rows of the last 30 days.
    fn model(&self, config: &EdgeConfig) -> Result<Rc<HostModel>> {
        if let Some(m) = self.model.borrow().as_ref() {
            return Ok(m.clone());
        }
        let sql = self.sql();
        let started = worker::Date::now().as_millis();
        let now = unix_now();
        // Settings changed at runtime override the `[vars]` and secrets.
        let stored = Stored::load(&sql).map_err(|e| worker::Error::from(e.to_string()))?;
        let settings = stored.over(Admin {
            port: None,
            dns_publishing: false,
            priority: Priority::Normal,
            activation_interval: config.policy.activation_interval,
            renewal_interval: config.policy.renewal_interval,
            host_keys: config.host_keys.clone(),
            changed: Vec::new(),
        });
        let mut policy = config.policy.clone();
        policy.activation_interval = settings.activation_interval;
        policy.renewal_interval = settings.renewal_interval;
        let identity = Identity::load_or_create(&sql, Date::from_unix(now), config.ndr64, &settings.host_keys, &mut SystemRng)
            .map_err(|e| worker::Error::from(e.to_string()))?;
        for i in settings.host_keys.iter() {
            // By its last five characters only, as `slmgr /dlv` shows a key.
            worker::console_log!("host key …{} installed: {} ePID {}", i.key.partial(), i.slot.get().csvlk_name, identity.epid(i.slot));
        }
        let (counts, bad) = Counts::rebuild(&sql, now - CMID_EXPIRY_SECS)?;
        if bad > 0 {
            worker::console_warn!("registry rows with unreadable ids were not counted: {bad}");
        }
        let rows = counts.tracked_rows();
        let model = Rc::new(HostModel::new(policy, identity, counts, now));
        *self.admin.borrow_mut() = Some(settings);
        worker::console_log!("registry woke: {rows} counted rows rebuilt in {} ms", worker::Date::now().as_millis() - started);
        *self.model.borrow_mut() = Some(model.clone());
        Ok(model)
    }
}

impl KmsRegistry {
    /// One administrator's change (`model::admin`): checked, stored with
    /// its event in one transaction, then applied to the model.
    fn change(&self, config: &EdgeConfig, c: &SettingChange) -> Result<core::result::Result<crate::api::Settings, Refused>> {
        let model = self.model(config)?;
        let current = match self.admin.borrow().clone() {
            Some(a) => a,
            None => return Err("settings not loaded".into()),
        };
        let change = match admin::change(&c.setting, c.value.as_deref()) {
            Ok(ch) => ch,
            Err(r) => return Ok(Err(r)),
        };
        let plan = match admin::plan(&current, &change) {
            Ok(p) => p,
            Err(r) => return Ok(Err(r)),
        };
        let now = unix_now();
        let identity = match change {
            Change::InstallKey(_) | Change::UninstallKey(_) => Some(
                Identity::load_or_create(&self.sql(), Date::from_unix(now), config.ndr64, &plan.after.host_keys, &mut SystemRng)
                    .map_err(|e| worker::Error::from(e.to_string()))?,
            ),
            _ => None,
        };
        let sql = self.sql();
        let stored = plan.clone();
        transaction_sync(&self.state.storage(), move || stored.store(&sql, now))?;
        worker::console_log!("setting {} changed: {}", plan.name, plan.message);
        model.set_intervals(plan.after.activation_interval, plan.after.renewal_interval);
        if let Some(i) = identity {
            model.set_identity(i);
        }
        let view = admin::view(&plan.after, notes());
        *self.admin.borrow_mut() = Some(plan.after);
        Ok(Ok(view))
    }
}

/// How the edge applies what it stores differently from a Windows host.
fn notes() -> RuntimeNotes {
    let mut notes = std::collections::BTreeMap::new();
    notes.insert(admin::names::PRIORITY.into(), "stored and shown only: a Worker has no process priority".into());
    notes.insert(
        admin::names::DNS_PUBLISHING.into(),
        "stored and shown only: the edge publishes no SRV record (branches reach it through their bridge)".into(),
    );
    notes.insert(admin::names::PORT.into(), "none of its own: clients reach the edge through Cloudflare (TCP) or a branch bridge".into());
    RuntimeNotes { dns_record: None, notes }
}

/// What the registry's statements cost since the object woke, as Cloudflare
/// bills SQLite storage: rows read and rows written (an index entry counts
/// as a row), read off each statement's cursor. The cost model in the
/// README comes from these figures (`GET /api/bench/usage`, see [`super::seed`]).
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Usage {
    pub decides: u64,
    pub rows_read: u64,
    pub rows_written: u64,
}

thread_local! {
    static USAGE: core::cell::Cell<Usage> = core::cell::Cell::new(Usage::default());
}

/// The storage usage since the object woke.
pub fn usage() -> Usage {
    USAGE.with(|u| u.get())
}

fn metered(cursor: &worker::SqlCursor) {
    USAGE.with(|u| {
        let mut v = u.get();
        v.rows_read += cursor.rows_read() as u64;
        v.rows_written += cursor.rows_written() as u64;
        u.set(v);
    });
}

/// The Durable Object's SQLite as the host model's store.
impl Sql for SqlStorage {
    type Error = worker::Error;

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let cursor = self.exec(sql, params.iter().map(to_storage).collect::<Vec<_>>())?;
        let rows: Vec<Vec<SqlStorageValue>> = cursor.raw().collect::<Result<_>>()?;
        metered(&cursor);
        Ok(rows.into_iter().map(|r| r.into_iter().map(from_storage).collect()).collect())
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<()> {
        let cursor = self.exec(sql, params.iter().map(to_storage).collect::<Vec<_>>())?;
        metered(&cursor);
        Ok(())
    }
}

fn to_storage(v: &Value) -> SqlStorageValue {
    match v {
        Value::Null => SqlStorageValue::Null,
        Value::Int(i) => (*i).into(),
        Value::Text(s) => s.as_str().into(),
    }
}

fn from_storage(v: SqlStorageValue) -> Value {
    match v {
        SqlStorageValue::Integer(i) => Value::Int(i),
        SqlStorageValue::Float(f) => Value::Int(f as i64),
        SqlStorageValue::Boolean(b) => Value::Int(i64::from(b)),
        SqlStorageValue::String(s) => Value::Text(s),
        _ => Value::Null,
    }
}

/// `storage.transactionSync(f)`, which workers-rs does not wrap: `f` runs
/// synchronously inside a transaction that commits if it returns `Ok` and
/// rolls back if it returns `Err` (thrown back to JavaScript).
pub(super) fn transaction_sync<T: 'static>(storage: &Storage, f: impl FnOnce() -> Result<T> + 'static) -> Result<T> {
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

