//! The native host's side of runtime administration ([`crate::model::admin`]
//! holds the rules): the listeners it rebinds (`sprt`), the SRV publisher
//! it starts and stops (`sdns`, `cdns`), the process priority (`cpri`,
//! `spri`), and the registry connection a change is stored with.
//!
//! A change is checked, then whatever can fail is prepared (the new port
//! bound, the new identity made), then the setting and its event are
//! committed in one transaction, and only then applied: a refused change
//! leaves the host as it was.
use std::prelude::rust_2024::*;
use std::format;
use super::host::{Host, now};
use super::http::DnsSlot;
use super::listener;
use super::session::SessionConfig;
use crate::api;
use crate::model::admin::{self, Admin as Settings, Change, Refused, RuntimeNotes};
use crate::model::identity::{Identity, IdentityOverrides};
use crate::native::dns::{PublishSettings, Publisher};
use crate::time::Date;
use rusqlite::Connection;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One KMS listener's accept loop.
pub struct Accepting {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What a new accept loop needs.
pub struct AcceptEnv {
    pub host: Arc<Host>,
    pub admission: Arc<super::admission::Admission>,
    /// The session settings, but for the port (each listener's own).
    pub session: SessionConfig,
    /// The host's shutdown: sessions drain on it, whichever listener
    /// accepted them.
    pub shutdown: watch::Receiver<bool>,
}

impl AcceptEnv {
    /// Starts accepting on `l`, bound to `addr`.
    pub fn spawn(&self, l: tokio::net::TcpListener, addr: SocketAddr) -> Accepting {
        let mut session = self.session.clone();
        session.rpc.port = addr.port();
        let (stop, stopping) = watch::channel(false);
        let task = listener::accept_loop(l, self.host.clone(), self.admission.clone(), Arc::new(session), stopping, self.shutdown.clone());
        tracing::info!(addr = %addr, "KMS host listening");
        Accepting { addr, stop, task: tokio::spawn(task) }
    }
}

struct State {
    settings: Settings,
    listeners: Vec<Accepting>,
    /// The SRV record last published, shown while publishing is off.
    record: Option<String>,
    priority_note: Option<String>,
}

pub struct Admin {
    env: AcceptEnv,
    /// Writes settings and their events (SQLite serialises it with the
    /// registry writer; changes are rare).
    conn: Mutex<Connection>,
    state: tokio::sync::Mutex<State>,
    /// The bound KMS addresses, for `/api/status`.
    listen: Mutex<Vec<SocketAddr>>,
    dns: Arc<DnsSlot>,
    dns_settings: Option<PublishSettings>,
    ndr64: bool,
    overrides: IdentityOverrides,
    nice: super::priority::Nice,
}

/// A refused or failed change: 400 with its line, or 500.
pub enum AdminError {
    Refused(Refused),
    Failed(String),
}

impl From<Refused> for AdminError {
    fn from(r: Refused) -> Self {
        AdminError::Refused(r)
    }
}

pub struct AdminParts {
    pub env: AcceptEnv,
    pub conn: Connection,
    pub settings: Settings,
    pub listeners: Vec<Accepting>,
    pub dns: Arc<DnsSlot>,
    pub dns_settings: Option<PublishSettings>,
    pub ndr64: bool,
    pub overrides: IdentityOverrides,
    pub nice: super::priority::Nice,
}

impl Admin {
    pub fn new(p: AdminParts) -> Admin {
        let listen = p.listeners.iter().map(|a| a.addr).collect();
        let record = p.dns.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|d| d.status().record);
        let priority_note = p.nice.note();
        Admin {
            env: p.env,
            conn: Mutex::new(p.conn),
            state: tokio::sync::Mutex::new(State { settings: p.settings, listeners: p.listeners, record, priority_note }),
            listen: Mutex::new(listen),
            dns: p.dns,
            dns_settings: p.dns_settings,
            ndr64: p.ndr64,
            overrides: p.overrides,
            nice: p.nice,
        }
    }

    pub fn listen(&self) -> Vec<SocketAddr> {
        self.listen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub async fn view(&self) -> api::Settings {
        let st = self.state.lock().await;
        self.view_of(&st)
    }

    fn view_of(&self, st: &State) -> api::Settings {
        let live = self.dns.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|d| d.status().record);
        let mut notes = std::collections::BTreeMap::new();
        if let Some(n) = &st.priority_note {
            notes.insert(admin::names::PRIORITY.to_owned(), n.clone());
        }
        if self.dns_settings.is_none() {
            notes.insert(admin::names::DNS_PUBLISHING.to_owned(), "not configured at start ([dns] publish = true, or --dns-publish true and the --dns-* flags)".to_owned());
        }
        admin::view(&st.settings, RuntimeNotes { dns_record: live.or_else(|| st.record.clone()), notes })
    }

    /// Checks, stores and applies one change; the settings after it.
    pub async fn apply(&self, setting: &str, value: Option<&str>) -> Result<api::Settings, AdminError> {
        let change = admin::change(setting, value)?;
        let mut st = self.state.lock().await;
        if change == Change::DnsPublishing(true) && self.dns_settings.is_none() {
            return Err(Refused("cannot publish: the host was started without DNS publishing configured ([dns] publish = true with server, zone and host in kmsedge.toml, or --dns-publish true and the --dns-* flags)".into()).into());
        }
        let plan = admin::plan(&st.settings, &change)?;
        // What can fail, before anything is stored.
        let mut bound = Vec::new();
        if let Change::Port(p) = change {
            for a in &st.listeners {
                let addr = SocketAddr::new(a.addr.ip(), p);
                if a.addr == addr {
                    continue;
                }
                let l = listener::bind(addr).map_err(|e| Refused(e.to_string()))?;
                bound.push((l, addr));
            }
        }
        let (unix, _) = now();
        let identity = match change {
            Change::InstallKey(_) | Change::UninstallKey(_) => Some(self.identity_for(&plan.after, unix)?),
            _ => None,
        };
        {
            let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            let tx = conn.transaction().map_err(|e| AdminError::Failed(format!("registry: {e}")))?;
            plan.store(&*tx, unix).map_err(|e| AdminError::Failed(format!("registry: {e}")))?;
            tx.commit().map_err(|e| AdminError::Failed(format!("registry: {e}")))?;
        }
        tracing::info!(setting = plan.name, value = %plan.message, "setting changed");
        match change {
            Change::Port(_) if !bound.is_empty() => {
                // Accept on the new port first, then stop accepting on the
                // old one; connections already accepted carry on.
                let new: Vec<Accepting> = bound.into_iter().map(|(l, addr)| self.env.spawn(l, addr)).collect();
                let old = std::mem::replace(&mut st.listeners, new);
                *self.listen.lock().unwrap_or_else(|e| e.into_inner()) = st.listeners.iter().map(|a| a.addr).collect();
                for a in old {
                    let _ = a.stop.send(true);
                    let _ = a.task.await;
                    tracing::info!(addr = %a.addr, "KMS listener closed (port changed)");
                }
                if plan.after.dns_publishing {
                    self.restart_publisher(true, &mut st).await;
                }
            }
            Change::DnsPublishing(on) => self.restart_publisher(on, &mut st).await,
            Change::Priority(p) => st.priority_note = self.nice.set(p),
            Change::ActivationInterval(_) | Change::RenewalInterval(_) => {
                self.env.host.model.set_intervals(plan.after.activation_interval, plan.after.renewal_interval)
            }
            _ => {}
        }
        if let Some(i) = identity {
            self.env.host.model.set_identity(i);
        }
        st.settings = plan.after;
        Ok(self.view_of(&st))
    }

    /// The identity holding `after`'s keys: their ePIDs are made (and kept
    /// in the registry) as at a start with those keys.
    fn identity_for(&self, after: &Settings, unix: i64) -> Result<Identity, AdminError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let i = Identity::load_or_create(&*conn, Date::from_unix(unix), self.ndr64, &after.host_keys, &mut rand::rng())
            .map_err(|e| AdminError::Failed(e.to_string()))?;
        Ok(i.with(&self.overrides))
    }

    /// Withdraws the record (if published) and publishes again if `on`,
    /// on the port now listened on.
    async fn restart_publisher(&self, on: bool, st: &mut State) {
        let old = self.dns.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(p) = old {
            if let Some(r) = p.status().record {
                st.record = Some(r);
            }
            p.shutdown().await;
        }
        let port = st.listeners.first().map_or(0, |a| a.addr.port());
        let next = if on {
            let events = self.env.host.writer.clone();
            Publisher::start_recording(self.dns_settings.clone(), port, move |e| events.note_dns(e))
        } else {
            Publisher::off()
        };
        if let Some(r) = next.status().record {
            st.record = Some(r);
        }
        *self.dns.lock().unwrap_or_else(|e| e.into_inner()) = Some(next);
    }

    /// Stops every accept loop (at shutdown) and waits for them.
    pub async fn stop_accepting(&self) {
        let listeners = std::mem::take(&mut self.state.lock().await.listeners);
        for a in listeners {
            let _ = a.stop.send(true);
            let _ = a.task.await;
        }
    }
}
