//! The host publishes its own SRV record (and optionally its A/AAAA
//! records) by RFC 2136 dynamic update, as a genuine KMS host does, and
//! takes it back on a clean stop.
//!
//! One background task per host ([`Publisher`]):
//! * each round asks the server for the current `_vlmcs._tcp` RRset, then
//!   sends one UPDATE that deletes this host's stale SRV records (same
//!   target, other port/priority/weight — left by an earlier run with
//!   other settings; other hosts' records are never touched), adds the
//!   record, and replaces the A/AAAA RRsets of the host when addresses are
//!   configured. The UPDATE is atomic on the server.
//! * then it waits TTL/2 and does it again (a record deleted or scavenged
//!   elsewhere comes back before caches miss it);
//! * a failure is logged once per distinct cause (warn), retried after 1,
//!   2, 4, … up to 300 s, and never stops or slows the KMS service;
//! * on [`Publisher::shutdown`] it deletes exactly the records it added.
//!
//! Messages are built with hickory-proto's [`Message`] / [`UpdateMessage`],
//! signed with hickory's [`TSigner`] (`Message::finalize`) and sent with
//! hickory-net's [`Client`] over UDP. Signing before handing the message to
//! the client (instead of giving the client the signer) keeps the server's
//! unsigned error reply readable, so that a wrong key is reported as
//! "BADSIG", not as an unverifiable reply.
use std::prelude::rust_2024::{String, ToString, Vec};
use std::format;
use super::config::PublishSettings;
use super::gss::GssCredentials;
use crate::dns::names::DomainName;
use crate::dns::SRV_LABEL;
use crate::api::DnsInfo;
use crate::model::events::{self, DnsEvent};
use futures_util::StreamExt;
use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_net::{DnsHandle, NetError};
use hickory_proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Message, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigner};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// First retry delay after a failure; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Longest [`Publisher::shutdown`] waits for the removal.
/// (Two removal attempts of at most `timeout` + 1 s each fit in it with
/// the default 5 s timeout.)
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(15);

/// Why one UPDATE (or the query before it) did not succeed, as the
/// administrator needs to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateError {
    Timeout { server: SocketAddr, after: Duration },
    Network { server: SocketAddr, detail: String },
    Refused { zone: String },
    NotAuth { zone: String },
    Tsig { key: String, error: TsigError },
    NotZone { zone: String },
    Rcode { code: ResponseCode },
    UnsignedReply,
    BadReplySignature(String),
    Sign(String),
    /// No Kerberos credentials or context: wrong, expired or revoked keys
    /// in the keytab, no KDC, unknown principal.
    Gss(String),
    /// The TKEY negotiation of a GSS-TSIG key failed.
    Tkey(String),
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateError::Timeout { server, after } => {
                write!(f, "no answer from the DNS server {server} within {} s", after.as_secs())
            }
            UpdateError::Network { server, detail } => write!(f, "cannot reach the DNS server {server}: {detail}"),
            UpdateError::Refused { zone } => write!(
                f,
                "the DNS server refused the update of zone {zone} (REFUSED): it does not accept updates from this host or without a valid key (see allow-update / update-policy)"
            ),
            UpdateError::NotAuth { zone } => write!(
                f,
                "the DNS server is not authoritative for zone {zone} or did not accept the request's authentication (NOTAUTH)"
            ),
            UpdateError::Tsig { key, error: TsigError::BadSig } => write!(
                f,
                "the DNS server rejected the TSIG signature of key {key} (NOTAUTH, BADSIG): the secret in the key file does not match the server's"
            ),
            UpdateError::Tsig { key, error: TsigError::BadKey } => {
                write!(f, "the DNS server does not know the TSIG key {key} or its algorithm (NOTAUTH, BADKEY)")
            }
            UpdateError::Tsig { key, error: TsigError::BadTime } => write!(
                f,
                "the DNS server rejected the time of the TSIG signature of key {key} (BADTIME): this host's clock differs from the server's by more than 300 s"
            ),
            UpdateError::Tsig { key, error } => write!(f, "the DNS server rejected the TSIG signature of key {key} ({error:?})"),
            UpdateError::NotZone { zone } => write!(f, "the record is not inside zone {zone} as the server knows it (NOTZONE)"),
            UpdateError::Rcode { code } => write!(f, "the DNS server answered {code}"),
            UpdateError::UnsignedReply => f.write_str("the DNS server's reply to a signed update is not signed"),
            UpdateError::BadReplySignature(e) => write!(f, "the signature of the DNS server's reply does not verify: {e}"),
            UpdateError::Sign(e) => write!(f, "cannot sign the update: {e}"),
            UpdateError::Gss(e) => write!(f, "GSS-TSIG: {e}"),
            UpdateError::Tkey(e) => write!(f, "GSS-TSIG key negotiation (TKEY): {e}"),
        }
    }
}

impl std::error::Error for UpdateError {}

/// `HRESULT_FROM_WIN32`.
const fn from_win32(code: u32) -> u32 {
    0x8007_0000 | code
}

impl UpdateError {
    /// The failure as the HRESULT a Windows host's event 12293 carries:
    /// the Win32 DNS error of the answer's RCODE or TSIG error
    /// (`DNS_ERROR_RCODE_*` = 9000 + RCODE, winerror.h), `ERROR_TIMEOUT`
    /// (1460) for no answer, else `E_FAIL`.
    pub fn hresult(&self) -> u32 {
        const DNS_ERROR_RESPONSE_CODES_BASE: u32 = 9000;
        let rcode = |c: u16| from_win32(DNS_ERROR_RESPONSE_CODES_BASE + u32::from(c));
        match self {
            UpdateError::Timeout { .. } => from_win32(1460),
            UpdateError::Refused { .. } => rcode(5),
            UpdateError::NotAuth { .. } => rcode(9),
            UpdateError::NotZone { .. } => rcode(10),
            UpdateError::Tsig { error: TsigError::BadSig, .. } => rcode(16),
            UpdateError::Tsig { error: TsigError::BadKey, .. } => rcode(17),
            UpdateError::Tsig { error: TsigError::BadTime, .. } => rcode(18),
            UpdateError::Rcode { code } => rcode(u16::from(*code)),
            _ => 0x8000_4005,
        }
    }
}

/// Called with each publishing attempt (the host's event history).
pub type Recorder = Arc<dyn Fn(DnsEvent) + Send + Sync>;

/// Everything one round needs, computed once.
struct Plan {
    server: SocketAddr,
    zone: DomainName,
    zone_name: Name,
    owner: Name,
    host: Name,
    srv: SRV,
    ttl: u32,
    addresses: Vec<IpAddr>,
    signer: Option<TSigner>,
    key_name: Option<String>,
    gss: Option<GssCredentials>,
    timeout: Duration,
    refresh: Duration,
    record_text: String,
}

impl Plan {
    fn new(s: &PublishSettings, kms_port: u16) -> Result<Plan, String> {
        let port = s.port.unwrap_or(kms_port);
        if port == 0 {
            return Err("the SRV port is 0; set --dns-port / dns.port".into());
        }
        let host = s.host.to_name();
        let signer = s.tsig.as_ref().map(|k| k.signer()).transpose()?;
        Ok(Plan {
            server: s.server,
            zone_name: s.zone.to_name(),
            owner: s.zone.srv_owner(),
            srv: SRV::new(s.priority, s.weight, port, host.clone()),
            host,
            ttl: s.ttl,
            addresses: s.addresses.clone(),
            signer,
            key_name: s.tsig.as_ref().map(|k| k.name.clone()),
            gss: s.gss.clone(),
            timeout: s.timeout,
            refresh: s.refresh(),
            record_text: format!(
                "{SRV_LABEL}.{}. {} IN SRV {} {} {port} {}.",
                s.zone, s.ttl, s.priority, s.weight, s.host
            ),
            zone: s.zone.clone(),
        })
    }

    fn srv_record(&self) -> Record {
        Record::from_rdata(self.owner.clone(), self.ttl, RData::SRV(self.srv.clone()))
    }

    fn address_records(&self) -> Vec<Record> {
        self.addresses
            .iter()
            .map(|ip| {
                let data = match ip {
                    IpAddr::V4(v4) => RData::A(A(*v4)),
                    IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
                };
                Record::from_rdata(self.host.clone(), self.ttl, data)
            })
            .collect()
    }

    /// How long a stop or a switch-off waits for a GSS-TSIG round in
    /// flight; within [`SHUTDOWN_LIMIT`], leaving time for the removal.
    fn round_limit(&self) -> Duration {
        (self.timeout * 4 + Duration::from_secs(1)).min(Duration::from_secs(7))
    }

    /// How updates are signed, for the log.
    fn signing(&self) -> String {
        match (&self.key_name, &self.gss) {
            (_, Some(g)) => format!("GSS-TSIG as {}", g.principal),
            (Some(k), None) => format!("TSIG key {k}"),
            (None, None) => "none (unsigned updates)".into(),
        }
    }

    /// An UPDATE for the zone, with no records yet.
    fn update_message(&self) -> Message {
        let mut zone = Query::new();
        zone.set_name(self.zone_name.clone()).set_query_class(DNSClass::IN).set_query_type(RecordType::SOA);
        let mut m = Message::query();
        m.metadata.op_code = OpCode::Update;
        m.metadata.recursion_desired = false;
        m.add_zone(zone);
        m
    }

    /// The publishing UPDATE, given the SRV records now at the owner name.
    fn publish_message(&self, current: &[SRV]) -> Message {
        let mut m = self.update_message();
        for old in current {
            if old.target == self.srv.target && *old != self.srv {
                m.add_update(deletion(Record::from_rdata(self.owner.clone(), 0, RData::SRV(old.clone()))));
            }
        }
        m.add_update(self.srv_record());
        for (rtype, want) in [(RecordType::A, true), (RecordType::AAAA, false)] {
            let of_type: Vec<Record> = self.address_records().into_iter().filter(|r| (r.record_type() == RecordType::A) == want).collect();
            if of_type.is_empty() {
                continue;
            }
            // Delete the whole RRset of this type at the host name (class
            // ANY, empty RDATA), then add the configured addresses.
            let mut del = Record::update0(self.host.clone(), 0, rtype).into_record_of_rdata();
            del.dns_class = DNSClass::ANY;
            m.add_update(del);
            for r in of_type {
                m.add_update(r);
            }
        }
        m
    }

    /// The removing UPDATE: exactly the records this host added.
    fn removal_message(&self) -> Message {
        let mut m = self.update_message();
        m.add_update(deletion(self.srv_record()));
        for r in self.address_records() {
            m.add_update(deletion(r));
        }
        m
    }
}

/// RFC 2136 §2.5.4: delete an RR from an RRset (class NONE, TTL 0).
fn deletion(mut r: Record) -> Record {
    r.dns_class = DNSClass::NONE;
    r.ttl = 0;
    r
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// One UDP client to the server, for one round.
struct Conn {
    client: Client<TokioRuntimeProvider>,
    background: JoinHandle<()>,
}

impl Conn {
    fn open(plan: &Plan) -> Conn {
        let stream = UdpClientStream::builder(plan.server, TokioRuntimeProvider::default())
            .with_timeout(Some(plan.timeout))
            .build();
        let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
        let background = tokio::spawn(async move {
            let _ = bg.await;
        });
        Conn { client, background }
    }

    fn net_error(plan: &Plan, e: NetError) -> UpdateError {
        match e {
            NetError::Timeout => UpdateError::Timeout { server: plan.server, after: plan.timeout },
            other => UpdateError::Network { server: plan.server, detail: other.to_string() },
        }
    }

    /// The SRV records at the owner name, as the server has them. A server
    /// that will not answer queries (allow-query) gives an empty list: the
    /// update still adds the record, only stale ones stay.
    async fn current_srv(&mut self, plan: &Plan) -> Result<Vec<SRV>, UpdateError> {
        let ask = self.client.query(plan.owner.clone(), DNSClass::IN, RecordType::SRV);
        let resp = match tokio::time::timeout(plan.timeout + Duration::from_secs(1), ask).await {
            Err(_) => return Err(UpdateError::Timeout { server: plan.server, after: plan.timeout }),
            Ok(Err(e)) => return Err(Conn::net_error(plan, e)),
            Ok(Ok(r)) => r,
        };
        Ok(resp
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(s) => Some(s.clone()),
                _ => None,
            })
            .collect())
    }

    /// Signs (if there is a key), sends, and judges the reply.
    async fn update(&mut self, plan: &Plan, mut msg: Message) -> Result<(), UpdateError> {
        let mut verifier = None;
        if let Some(signer) = &plan.signer {
            verifier = msg.finalize(signer, unix_now()).map_err(|e| UpdateError::Sign(e.to_string()))?;
        }
        let mut options = DnsRequestOptions::default();
        options.use_edns = false;
        options.recursion_desired = false;
        let mut replies = self.client.send(DnsRequest::new(msg, options));
        let reply = match tokio::time::timeout(plan.timeout + Duration::from_secs(1), replies.next()).await {
            Err(_) | Ok(None) => return Err(UpdateError::Timeout { server: plan.server, after: plan.timeout }),
            Ok(Some(Err(e))) => return Err(Conn::net_error(plan, e)),
            Ok(Some(Ok(r))) => r,
        };
        judge(plan, reply, verifier)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.background.abort();
    }
}

/// Reads the reply to an UPDATE: the TSIG error first (a rejected
/// signature comes back unsigned with NOTAUTH), then the RCODE, then, for
/// a signed request, the reply's own signature.
fn judge(plan: &Plan, reply: DnsResponse, verifier: Option<hickory_proto::rr::TSigVerifier>) -> Result<(), UpdateError> {
    let key = plan.key_name.clone().unwrap_or_default();
    if let Some(error) = reply.signature().and_then(|sig| sig.data.error) {
        return Err(UpdateError::Tsig { key, error });
    }
    let zone = plan.zone.to_string();
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::Refused => return Err(UpdateError::Refused { zone }),
        ResponseCode::NotAuth => return Err(UpdateError::NotAuth { zone }),
        ResponseCode::NotZone => return Err(UpdateError::NotZone { zone }),
        code => return Err(UpdateError::Rcode { code }),
    }
    if let Some(mut v) = verifier {
        if reply.signature().is_none() {
            return Err(UpdateError::UnsignedReply);
        }
        v.verify(reply.as_buffer()).map_err(|e| UpdateError::BadReplySignature(e.to_string()))?;
    }
    Ok(())
}

/// One publishing round: query, then UPDATE.
async fn publish_once(plan: &Plan) -> Result<(), UpdateError> {
    let mut conn = Conn::open(plan);
    let current = conn.current_srv(plan).await?;
    let msg = plan.publish_message(&current);
    send_update(plan, &mut conn, msg).await
}

async fn remove_once(plan: &Plan) -> Result<(), UpdateError> {
    let mut conn = Conn::open(plan);
    send_update(plan, &mut conn, plan.removal_message()).await
}

/// Sends an UPDATE the configured way: HMAC TSIG or none over UDP, or a
/// GSS-TSIG round over TCP on a blocking thread (Kerberos blocks).
async fn send_update(plan: &Plan, conn: &mut Conn, msg: Message) -> Result<(), UpdateError> {
    let Some(creds) = plan.gss.clone() else {
        return conn.update(plan, msg).await;
    };
    gss_update(plan, creds, msg).await
}

#[cfg(feature = "ad-dns")]
async fn gss_update(plan: &Plan, creds: GssCredentials, msg: Message) -> Result<(), UpdateError> {
    let (server, timeout, zone) = (plan.server, plan.timeout, plan.zone_name.clone());
    tokio::task::spawn_blocking(move || super::gss::round(server, timeout, &zone, &creds, msg))
        .await
        .unwrap_or_else(|e| Err(UpdateError::Gss(format!("the GSS-TSIG round failed: {e}"))))
}

#[cfg(not(feature = "ad-dns"))]
async fn gss_update(_: &Plan, _: GssCredentials, _: Message) -> Result<(), UpdateError> {
    // Settings refuse a keytab in such a build; kept total for the type.
    Err(UpdateError::Gss("this kmsedge was built without GSS-TSIG (feature ad-dns)".into()))
}

/// The publishing state, shared with whoever reports it (`/api/status`).
#[derive(Clone)]
pub struct DnsStatus(Arc<Mutex<DnsInfo>>);

impl DnsStatus {
    pub fn get(&self) -> DnsInfo {
        self.0.lock().unwrap().clone()
    }
}

impl fmt::Debug for DnsStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// The SRV publishing of a running host. Without settings (publishing off)
/// it does nothing and sends nothing.
pub struct Publisher {
    info: Arc<Mutex<DnsInfo>>,
    stop: Option<watch::Sender<bool>>,
    enabled: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

/// Turns publishing off and on while the host runs (`slmgr /cdns`,
/// `/sdns`): off removes the record at once and nothing is published
/// until it is turned on again. Cheap to clone; a host with no DNS
/// settings has nothing to turn on.
#[derive(Clone)]
pub struct PublishControl {
    enabled: Option<watch::Sender<bool>>,
}

impl PublishControl {
    /// `false` if this host has no publishing configured (then nothing
    /// changes).
    pub fn set_publishing(&self, on: bool) -> bool {
        match &self.enabled {
            Some(tx) => {
                tx.send_replace(on);
                true
            }
            None => false,
        }
    }

    /// Whether publishing is on (configured and not turned off).
    pub fn is_publishing(&self) -> bool {
        self.enabled.as_ref().is_some_and(|tx| *tx.borrow())
    }
}

impl Publisher {
    /// Publishing off: nothing is ever sent.
    pub fn off() -> Publisher {
        Publisher {
            info: Arc::new(Mutex::new(DnsInfo { publishing: false, state: "off".into(), record: None })),
            stop: None,
            enabled: None,
            task: None,
        }
    }

    /// Starts publishing in the background (needs a tokio runtime).
    /// `kms_port`: the port the host listens on, used when the settings
    /// name none. A plan that cannot be made (a port of 0, an unusable key)
    /// is logged and reported in the status; KMS service is not affected.
    pub fn start(settings: Option<PublishSettings>, kms_port: u16) -> Publisher {
        Publisher::start_recording(settings, kms_port, |_| {})
    }

    /// [`Publisher::start`], handing each publishing attempt (success or
    /// failure, refreshes included) to `record`.
    pub fn start_recording(
        settings: Option<PublishSettings>,
        kms_port: u16,
        record: impl Fn(DnsEvent) + Send + Sync + 'static,
    ) -> Publisher {
        let Some(settings) = settings else {
            tracing::debug!("DNS SRV publishing off");
            return Publisher::off();
        };
        let plan = match Plan::new(&settings, kms_port) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(cause = %e, "DNS SRV publishing not started");
                let p = Publisher::off();
                *p.info.lock().unwrap() = DnsInfo { publishing: true, state: format!("failed: {e}"), record: None };
                return p;
            }
        };
        tracing::info!(
            record = %plan.record_text,
            server = %plan.server,
            zone = %plan.zone,
            signed_with = %plan.signing(),
            refresh_secs = plan.refresh.as_secs(),
            "DNS SRV publishing on"
        );
        let info = Arc::new(Mutex::new(DnsInfo {
            publishing: true,
            state: "publishing".into(),
            record: Some(plan.record_text.clone()),
        }));
        let (stop, stopped) = watch::channel(false);
        let (enabled, enabled_rx) = watch::channel(true);
        let task = tokio::spawn(run(plan, info.clone(), stopped, enabled_rx, Arc::new(record)));
        Publisher { info, stop: Some(stop), enabled: Some(enabled), task: Some(task) }
    }

    /// The handle that turns publishing off and on at run time.
    pub fn control(&self) -> PublishControl {
        PublishControl { enabled: self.enabled.clone() }
    }

    /// For `/api/status`.
    pub fn status(&self) -> DnsInfo {
        self.info.lock().unwrap().clone()
    }

    /// A cheap handle on the status, for the HTTP API's state.
    pub fn status_handle(&self) -> DnsStatus {
        DnsStatus(self.info.clone())
    }

    /// Stops refreshing and removes the published records (bounded by
    /// [`SHUTDOWN_LIMIT`]). Never fails: a record that cannot be removed is
    /// logged.
    pub async fn shutdown(mut self) {
        let Some(task) = self.task.take() else { return };
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        let abort = task.abort_handle();
        if tokio::time::timeout(SHUTDOWN_LIMIT, task).await.is_err() {
            abort.abort();
            tracing::warn!(limit_secs = SHUTDOWN_LIMIT.as_secs(), "DNS SRV record removal did not finish in time");
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // Dropped without shutdown (e.g. a failed start): stop refreshing;
        // the record stays, as after a crash.
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

fn set(info: &Mutex<DnsInfo>, state: String) {
    info.lock().unwrap().state = state;
}

/// The publishing loop; ends on `stopped`, removing the records. While
/// `enabled` is false the records are removed and nothing is sent.
async fn run(plan: Plan, info: Arc<Mutex<DnsInfo>>, mut stopped: watch::Receiver<bool>, mut enabled: watch::Receiver<bool>, record: Recorder) {
    let mut backoff = FIRST_BACKOFF;
    let mut logged_cause: Option<String> = None;
    let mut published = false;
    // Whether the server may hold our record: published once, or the last
    // answer was lost (a timeout leaves the outcome unknown).
    let mut maybe_there = false;
    let mut failures: u32 = 0;
    loop {
        if !*enabled.borrow_and_update() {
            if maybe_there {
                remove(&plan, &info).await;
            }
            maybe_there = false;
            published = false;
            logged_cause = None;
            failures = 0;
            backoff = FIRST_BACKOFF;
            tracing::info!(record = %plan.record_text, "DNS SRV publishing turned off");
            {
                let mut i = info.lock().unwrap();
                i.publishing = false;
                i.state = "off (turned off while running)".into();
            }
            tokio::select! {
                _ = enabled.wait_for(|on| *on) => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            tracing::info!(record = %plan.record_text, "DNS SRV publishing turned on");
            let mut i = info.lock().unwrap();
            i.publishing = true;
            i.state = "publishing".into();
            continue;
        }
        // A stop or a switch-off ends a round in flight. An HMAC round's
        // UPDATE, if sent, is on the wire before the removal; a GSS-TSIG
        // round runs on a blocking thread that dropping does not stop, so
        // it is let finish (bounded) for the removal to come after it.
        let round = publish_once(&plan);
        tokio::pin!(round);
        let outcome = tokio::select! {
            r = &mut round => Some(r),
            _ = stopped.wait_for(|s| *s) => None,
            _ = enabled.wait_for(|on| !*on) => None,
        };
        let Some(outcome) = outcome else {
            if plan.gss.is_some() {
                let _ = tokio::time::timeout(plan.round_limit(), &mut round).await;
            }
            maybe_there = true;
            if *stopped.borrow() {
                break;
            }
            continue;
        };
        let (hresult, message) = match &outcome {
            Ok(()) => (0, "published".into()),
            Err(e) => (e.hresult(), e.to_string()),
        };
        record(DnsEvent {
            time: unix_now() as i64,
            name: plan.record_text.clone(),
            server: plan.server.to_string(),
            hresult,
            message,
        });
        let wait = match outcome {
            Ok(()) => {
                if !published || logged_cause.is_some() {
                    tracing::info!(event_id = events::DNS_PUBLISHED, record = %plan.record_text, server = %plan.server, "DNS SRV record published");
                } else {
                    tracing::info!(record = %plan.record_text, "DNS SRV record refreshed");
                }
                published = true;
                maybe_there = true;
                logged_cause = None;
                failures = 0;
                backoff = FIRST_BACKOFF;
                set(&info, "published".into());
                plan.refresh
            }
            Err(e) => {
                let cause = e.to_string();
                failures = failures.saturating_add(1);
                if matches!(e, UpdateError::Timeout { .. }) {
                    maybe_there = true;
                }
                let wait = backoff;
                if logged_cause.as_deref() != Some(cause.as_str()) {
                    tracing::warn!(
                        event_id = events::DNS_FAILED, cause = %cause, retry_in_secs = wait.as_secs(),
                        "DNS SRV update failed; KMS service continues, retrying with back-off"
                    );
                    logged_cause = Some(cause.clone());
                } else {
                    tracing::debug!(cause = %cause, attempts = failures, retry_in_secs = wait.as_secs(), "DNS SRV update failed again");
                }
                set(&info, format!("failed ({failures} attempt{}): {cause}; retrying in {} s", if failures == 1 { "" } else { "s" }, wait.as_secs()));
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.wait_for(|s| *s) => break,
            _ = enabled.wait_for(|on| !*on) => {}
        }
    }
    if !maybe_there {
        set(&info, "stopped (nothing was published)".into());
        return;
    }
    remove(&plan, &info).await;
}

/// Deletes the records this host added; two tries, since a lost UDP reply
/// should not leave the record behind.
async fn remove(plan: &Plan, info: &Mutex<DnsInfo>) {
    let mut last = None;
    for attempt in 0..2 {
        match remove_once(plan).await {
            Ok(()) => {
                tracing::info!(record = %plan.record_text, server = %plan.server, "DNS SRV record removed");
                set(info, "removed".into());
                return;
            }
            Err(e) => {
                last = Some(e);
                if attempt == 0 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
    }
    let cause = last.map(|e| e.to_string()).unwrap_or_default();
    tracing::warn!(cause = %cause, record = %plan.record_text, "DNS SRV record not removed");
    set(info, format!("not removed: {cause}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::dns::config::PublishArgs;

    fn plan(addresses: &[&str]) -> Plan {
        let a = PublishArgs {
            dns_publish: Some("true".into()),
            dns_server: Some("127.0.0.1:15353".into()),
            dns_zone: Some("kms.test".into()),
            dns_host: Some("host1".into()),
            dns_priority: Some("5".into()),
            dns_weight: Some("10".into()),
            dns_ttl: Some("60".into()),
            dns_addresses: addresses.iter().map(|s| s.to_string()).collect(),
            ..PublishArgs::default()
        };
        let s = PublishSettings::resolve(&a, None, "f").unwrap().unwrap();
        Plan::new(&s, 11688).unwrap()
    }

    #[test]
    fn publish_message_replaces_only_this_hosts_records() {
        let p = plan(&["127.0.0.1", "::1"]);
        assert_eq!(p.record_text, "_vlmcs._tcp.kms.test. 60 IN SRV 5 10 11688 host1.kms.test.");
        let host = Name::from_ascii("host1.kms.test.").unwrap();
        let other = Name::from_ascii("other.kms.test.").unwrap();
        let stale = SRV::new(0, 0, 1688, host.clone());
        let foreign = SRV::new(0, 0, 1688, other);
        let m = p.publish_message(&[stale.clone(), foreign, p.srv.clone()]);
        assert_eq!(m.metadata.op_code, OpCode::Update);
        assert_eq!(m.zones()[0].name().to_ascii(), "kms.test.");
        assert_eq!(m.zones()[0].query_type(), RecordType::SOA);
        let u = m.updates();
        // delete stale (NONE), add ours (IN), delete A RRset (ANY), add A, delete AAAA RRset, add AAAA
        assert_eq!(u.len(), 6, "{u:?}");
        assert_eq!((u[0].dns_class, u[0].ttl, &u[0].data), (DNSClass::NONE, 0, &RData::SRV(stale)));
        assert_eq!((u[1].dns_class, u[1].ttl, &u[1].data), (DNSClass::IN, 60, &RData::SRV(p.srv.clone())));
        assert_eq!(u[1].name.to_ascii(), "_vlmcs._tcp.kms.test.");
        assert_eq!((u[2].dns_class, u[2].record_type()), (DNSClass::ANY, RecordType::A));
        assert_eq!(u[3].data, RData::A(A("127.0.0.1".parse().unwrap())));
        assert_eq!((u[4].dns_class, u[4].record_type()), (DNSClass::ANY, RecordType::AAAA));
        assert_eq!(u[5].data, RData::AAAA(AAAA("::1".parse().unwrap())));
        assert!(u[2..].iter().all(|r| r.name == host));
    }

    #[test]
    fn removal_deletes_exactly_what_was_added() {
        let p = plan(&["127.0.0.1"]);
        let m = p.removal_message();
        let u = m.updates();
        assert_eq!(u.len(), 2);
        assert!(u.iter().all(|r| r.dns_class == DNSClass::NONE && r.ttl == 0));
        assert_eq!(u[0].data, RData::SRV(p.srv.clone()));
        assert_eq!(u[1].data, RData::A(A("127.0.0.1".parse().unwrap())));
        // Without addresses: only the SRV record.
        assert_eq!(plan(&[]).removal_message().updates().len(), 1);
    }

    #[test]
    fn causes_read_as_sentences() {
        let e = UpdateError::Tsig { key: "kmsedge".into(), error: TsigError::BadSig };
        assert!(e.to_string().contains("(NOTAUTH, BADSIG)"));
        let e = UpdateError::Refused { zone: "kms.test".into() };
        assert!(e.to_string().contains("REFUSED") && e.to_string().contains("kms.test"));
        let e = UpdateError::Timeout { server: "127.0.0.1:53".parse().unwrap(), after: Duration::from_secs(5) };
        assert_eq!(e.to_string(), "no answer from the DNS server 127.0.0.1:53 within 5 s");
    }

    #[tokio::test]
    async fn off_sends_nothing_and_says_so() {
        let p = Publisher::start(None, 1688);
        assert_eq!(p.status(), DnsInfo { publishing: false, state: "off".into(), record: None });
        assert_eq!(p.status_handle().get(), p.status());
        // Nothing configured, so nothing to turn on.
        assert!(!p.control().set_publishing(true));
        assert!(!p.control().is_publishing());
        assert_eq!(p.status().state, "off");
        p.shutdown().await;
    }
}
