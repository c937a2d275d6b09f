//! Starting and stopping the whole host: registry, identity, listeners,
//! HTTP, and the order they go down in so that nothing acknowledged is lost.
use std::prelude::rust_2024::Vec;
use super::admin::{AcceptEnv, Admin, AdminParts};
use super::admission::Admission;
use super::host::{Host, now};
use super::http::{self, DnsSlot, HttpState};
use super::listener;
use super::metrics::{CommitMetrics, Metrics};
use super::session::SessionConfig;
use super::settings::Settings;
use super::store::writer::{Writer, WriterThread};
use super::store::{self, DataDir};
use crate::host::Config;
use crate::model::HostModel;
use crate::model::admin::{self, Priority, Stored};
use crate::model::counts::Counts;
use crate::model::identity::Identity;
use crate::registry::CMID_EXPIRY_SECS;
use crate::time::Date;
use anyhow::anyhow;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running host.
pub struct Server {
    /// Bound KMS addresses (with the real port when 0 was asked for).
    pub kms_addrs: Vec<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    pub host: Arc<Host>,
    pub admin: Arc<Admin>,
    stop: watch::Sender<bool>,
    http_task: Option<JoinHandle<()>>,
    pruner: JoinHandle<()>,
    dns: Arc<DnsSlot>,
    admission: Arc<Admission>,
    writer_thread: WriterThread,
    checkpointer: store::checkpoint::Checkpointer,
    grace: Duration,
    _data: DataDir,
}

impl Server {
    /// Opens the registry, binds every address and starts serving. Fails
    /// (with nothing left running) if any step fails.
    pub async fn start(s: Settings) -> anyhow::Result<Server> {
        Server::start_with(s, Vec::new()).await
    }

    /// [`Server::start`] serving KMS on `inherited` listeners (socket
    /// activation, [`listener::inherited`]) instead of binding `listen`,
    /// when there are any.
    pub async fn start_with(s: Settings, inherited: Vec<std::net::TcpListener>) -> anyhow::Result<Server> {
        let data = DataDir::open(&s.data_dir)?;
        let mut conn = store::open_writer(&data.db, s.sync)?;
        let (unix, _) = now();
        // Settings changed at runtime override the start-up ones
        // (model::admin).
        let stored = Stored::load(&conn).map_err(|e| anyhow!("{e} ({})", data.db.display()))?;
        let startup = admin::Admin {
            port: Some(s.listen.first().map_or(0, |a| a.port())),
            dns_publishing: s.dns.is_some(),
            priority: Priority::Normal,
            activation_interval: s.policy.activation_interval,
            renewal_interval: s.policy.renewal_interval,
            host_keys: s.host_keys.clone(),
            changed: Vec::new(),
        };
        let mut settings = stored.over(startup);
        if !settings.changed.is_empty() {
            // Said once at start, so an edited flag or TOML value that a
            // runtime change overrides is not a mystery.
            tracing::info!(settings = %settings.changed.join(", "), "settings changed at runtime override the start-up configuration");
        }
        let mut policy = s.policy.clone();
        policy.activation_interval = settings.activation_interval;
        policy.renewal_interval = settings.renewal_interval;
        let listen: Vec<SocketAddr> = match stored.port {
            Some(p) => s.listen.iter().map(|a| SocketAddr::new(a.ip(), p)).collect(),
            None => s.listen.clone(),
        };
        let identity = Identity::load_or_create(&conn, Date::from_unix(unix), s.ndr64, &settings.host_keys, &mut rand::rng())
            .map_err(|e| anyhow!("{e} ({})", data.db.display()))?
            .with(&s.identity);
        if identity.ndr64_mismatch(s.ndr64) {
            tracing::warn!(
                host_build = identity.host_build,
                "the ePIDs claim a host build that never negotiated NDR64, but NDR64 is on; set rpc.ndr64 = false or choose ePIDs of build 9200 or later"
            );
        }
        // Whatever was answered but not yet in SQLite when the host last
        // stopped (kill -9, power cut with sync = full) goes in first, so
        // that the counts below include it.
        let recovered = store::journal::recover(&data.path, &mut conn)?;
        if recovered.replayed > 0 || !recovered.torn.is_empty() {
            tracing::info!(%recovered, "registry journal recovered");
        }
        let since = unix - CMID_EXPIRY_SECS;
        let (counts, bad) = Counts::rebuild(&conn, since).map_err(|e| anyhow!("registry {}: {e}", data.db.display()))?;
        if bad > 0 {
            tracing::warn!(rows = bad, "registry rows with unreadable ids were not counted");
        }

        // Bind before starting anything, so a taken port leaves nothing behind.
        let mut kms = Vec::new();
        let activated = !inherited.is_empty();
        if activated {
            tracing::info!(sockets = inherited.len(), "KMS sockets from socket activation; the listen setting is not used");
        }
        for l in inherited {
            let l = listener::adopt(l)?;
            let bound = l.local_addr().map_err(|e| anyhow!("socket activation: {e}"))?;
            kms.push((l, bound));
        }
        for addr in listen.iter().filter(|_| !activated) {
            let l = listener::bind(*addr)?;
            let bound = l.local_addr().map_err(|e| anyhow!("cannot listen on {addr}: {e}"))?;
            kms.push((l, bound));
        }
        let http_listener = match s.http {
            Some(addr) => {
                let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow!("HTTP: cannot listen on {addr}: {e}"))?;
                let bound = l.local_addr().map_err(|e| anyhow!("HTTP: cannot listen on {addr}: {e}"))?;
                Some((l, bound))
            }
            None => None,
        };
        let reader = match &http_listener {
            Some(_) => Some(store::open_reader(&data.db)?),
            None => None,
        };

        let checkpointer = store::checkpoint::Checkpointer::spawn(&data.db)?;
        let metrics = Metrics::new();
        let journal = store::journal::Journal::open(&data.path, recovered.next_seq, s.sync)
            .map_err(|e| anyhow!("registry journal in {}: {e}", data.path.display()))?;
        let (writer, writer_thread) = Writer::spawn_keeping(conn, journal, recovered.next_seq - 1, CommitMetrics(metrics.clone()), s.event_days)
            .map_err(|e| anyhow!("cannot start the registry writer: {e}"))?;
        tracing::info!(
            data = %data.path.display(),
            counted_rows = counts.tracked_rows(),
            epid_windows = %identity.windows_epid(),
            "registry open"
        );
        for i in settings.host_keys.iter() {
            // The key by its last five characters only, as `slmgr /dlv` shows it.
            tracing::info!(key = %format_args!("…{}", i.key.partial()), csvlk = i.slot.get().csvlk_name, epid = %identity.epid(i.slot), "host key installed");
        }
        let model = HostModel::new(policy, identity, counts, unix);
        let host = Arc::new(Host { model, writer, metrics });
        let admission = Admission::new(s.limits.allow.clone(), s.limits.max_connections, s.limits.max_per_address, s.limits.rate);
        let (stop, stopped) = watch::channel(false);

        let env = AcceptEnv {
            host: host.clone(),
            admission: admission.clone(),
            session: SessionConfig {
                rpc: Config { port: 0, ndr64: s.ndr64, btfn: s.btfn, max_pdu: s.limits.max_pdu, limits: s.limits.connection.core() },
                shutdown_grace: s.limits.shutdown_grace,
            },
            shutdown: stopped.clone(),
        };
        let listeners: Vec<_> = kms.into_iter().map(|(l, bound)| env.spawn(l, bound)).collect();
        let kms_addrs: Vec<SocketAddr> = listeners.iter().map(|a| a.addr).collect();
        if settings.port == Some(0) {
            settings.port = Some(kms_addrs[0].port());
        }

        // Advertise only once the port is known and served.
        // Each publishing attempt goes into the event history.
        let publisher = if settings.dns_publishing {
            let events = host.writer.clone();
            crate::native::dns::Publisher::start_recording(s.dns.clone(), kms_addrs[0].port(), move |e| events.note_dns(e))
        } else {
            crate::native::dns::Publisher::off()
        };
        let dns = Arc::new(Mutex::new(Some(publisher)));
        let nice = super::priority::Nice::default();
        if settings.priority == Priority::Low {
            nice.set(Priority::Low);
        }
        let admin = Arc::new(Admin::new(AdminParts {
            env,
            conn: store::open_writer(&data.db, s.sync)?,
            settings,
            listeners,
            dns: dns.clone(),
            dns_settings: s.dns.clone(),
            ndr64: s.ndr64,
            overrides: s.identity.clone(),
            nice,
        }));
        super::firewall::advise(&kms_addrs, &s.limits.allow);

        let mut http_addr = None;
        let http_task = match (http_listener, reader) {
            (Some((l, bound)), Some(reader)) => {
                if !bound.ip().is_loopback() && s.admin_token.is_none() {
                    tracing::warn!(addr = %bound, "HTTP is reachable beyond loopback but no admin token is set: the API answers loopback clients only");
                }
                let state = Arc::new(HttpState {
                    host: host.clone(),
                    reader: Mutex::new(reader),
                    token: s.admin_token.clone(),
                    started_at: unix,
                    admin: admin.clone(),
                    ndr64: s.ndr64,
                    dns: dns.clone(),
                });
                let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
                let mut rx = stopped.clone();
                tracing::info!(addr = %bound, "HTTP listening");
                http_addr = Some(bound);
                Some(tokio::spawn(async move {
                    let stop = async move {
                        let _ = rx.wait_for(|s| *s).await;
                    };
                    if let Err(e) = axum::serve(l, app).with_graceful_shutdown(stop).await {
                        tracing::error!(error = %e, "HTTP server failed");
                    }
                }))
            }
            _ => None,
        };

        let pruner = {
            let host = host.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    host.prune();
                }
            })
        };

        Ok(Server {
            kms_addrs,
            http_addr,
            host,
            admin,
            stop,
            http_task,
            pruner,
            dns,
            admission,
            writer_thread,
            checkpointer,
            grace: s.limits.shutdown_grace,
            _data: data,
        })
    }

    /// Graceful stop: no new connections; idle ones close; requests in
    /// flight are answered (within the grace period); everything committed
    /// is checkpointed into the database file, which is then closed.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.admin.stop_accepting().await;
        let open = self.admission.open();
        if open > 0 {
            tracing::info!(connections = open, "waiting for connections to finish");
        }
        // Withdraw the SRV record while connections finish.
        let publisher = self.dns.lock().unwrap_or_else(|p| p.into_inner()).take();
        let withdraw = async {
            if let Some(p) = publisher {
                p.shutdown().await;
            }
        };
        let (drained, ()) = tokio::join!(self.admission.drained(self.grace + Duration::from_millis(500)), withdraw);
        if !drained {
            tracing::warn!(connections = self.admission.open(), "connections still open after the grace period");
        }
        if let Some(t) = self.http_task {
            let _ = tokio::time::timeout(self.grace, t).await;
        }
        self.pruner.abort();
        let checkpointer = self.checkpointer;
        let _ = tokio::task::spawn_blocking(move || checkpointer.stop()).await;
        self.host.writer.stop().await;
        let thread = self.writer_thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|_| anyhow!("registry writer did not finish"))??;
        tracing::info!("stopped; registry closed");
        Ok(())
    }
}
