//! Who may open a KMS connection, and who makes room when the host is
//! full: the allow-list of address ranges, the cap per client address
//! (decided at accept, before a byte is read, so a flood costs one accept
//! and one close each), the total cap, which sheds rather than refuses
//! (the rule is the shared [`crate::model::admission::victim`]; this
//! module keeps the registry of live connections it ranks), and the
//! per-address token bucket of activations.
use std::prelude::rust_2024::Vec;
use super::metrics::Denied;
use crate::model::admission::{Candidate, select};
use crate::model::rate::{KeyLimits, Limiter, Refused};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub struct Admission {
    allow: Vec<IpNet>,
    max_per_address: usize,
    max_connections: usize,
    /// Connections shed but not yet closed may exceed the cap by this
    /// much; beyond it newcomers are refused (memory stays bounded even if
    /// shed tasks are slow to run).
    shed_slack: usize,
    /// Connections shed at once when the cap is reached: 1/64 of it, so a
    /// flood of newcomers costs one ranking of the live connections per
    /// batch, not per newcomer.
    shed_batch: usize,
    /// The clock of every connection's times.
    epoch: Instant,
    live: Mutex<Live>,
    denials: Mutex<DenialLog>,
    /// `None`: activations are not rate limited.
    rate: Option<Mutex<Limiter<IpAddr>>>,
    /// Woken when a shed connection has closed (room again).
    shed_closed: Notify,
}

/// The registry of live connections the shedding rule ranks.
#[derive(Default)]
struct Live {
    conns: HashMap<u64, Arc<Conn>>,
    per_address: HashMap<IpAddr, u32>,
    next_id: u64,
    /// Shed, not yet closed: each still holds a socket.
    shedding: usize,
    /// The candidates of the last ranking (kept to reuse its memory).
    ranked: Vec<Candidate<u64>>,
}

/// One live connection, as the session reports it and the rule reads it.
pub struct Conn {
    id: u64,
    ip: IpAddr,
    /// Milliseconds on the admission's clock.
    accepted_ms: u64,
    last_pdu_ms: AtomicU64,
    requests: AtomicU32,
    in_flight: AtomicBool,
    shed: AtomicBool,
    close: Notify,
}

impl Conn {
    /// A whole PDU arrived (the core answered it, or it is a request).
    pub fn pdu(&self, now_ms: u64) {
        self.last_pdu_ms.store(now_ms, Relaxed);
    }

    /// A whole request is being decided and answered: not to be shed.
    pub fn request_in_hand(&self, now_ms: u64) {
        self.in_flight.store(true, Relaxed);
        self.pdu(now_ms);
    }

    /// The request in hand was decided; it stays in hand until sent.
    pub fn answered(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    /// Nothing is in hand any more (the session reads again).
    pub fn waiting(&self) {
        self.in_flight.store(false, Relaxed);
    }

    /// Whether it was shed to make room.
    pub fn is_shed(&self) -> bool {
        self.shed.load(Relaxed)
    }

    /// Resolves once it is shed (at once if it already was).
    pub async fn shed(&self) {
        if !self.is_shed() {
            self.close.notified().await;
        }
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }
}

/// Held by a connection for its lifetime; returns its slot when dropped.
pub struct Ticket {
    admission: Arc<Admission>,
    pub conn: Arc<Conn>,
}

impl Ticket {
    pub fn admission(&self) -> &Admission {
        &self.admission
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut live = self.admission.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.conns.remove(&self.conn.id).is_some() {
            live.release(self.conn.ip);
        } else {
            // Shed: its slot was taken off when it was chosen.
            live.shedding = live.shedding.saturating_sub(1);
            self.admission.shed_closed.notify_waiters();
        }
    }
}

impl Live {
    fn release(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_address.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&ip);
            }
        }
    }

    /// Sheds the `batch` connections the shared rule picks (one ranking
    /// for a batch of newcomers); false if none may be.
    fn shed(&mut self, now_ms: u64, batch: usize) -> bool {
        let mut ranked = std::mem::take(&mut self.ranked);
        ranked.clear();
        ranked.extend(self.conns.values().map(|c| Candidate {
            id: c.id,
            requests: c.requests.load(Relaxed),
            in_flight: c.in_flight.load(Relaxed),
            idle_ms: now_ms.saturating_sub(c.last_pdu_ms.load(Relaxed).max(c.accepted_ms)),
            source_connections: self.per_address.get(&c.ip).copied().unwrap_or(0),
        }));
        let n = select(&mut ranked, batch);
        for v in &ranked[..n] {
            if let Some(c) = self.conns.remove(&v.id) {
                self.release(c.ip);
                self.shedding += 1;
                c.shed.store(true, Relaxed);
                // Stored as a permit if its task is not waiting right now.
                c.close.notify_one();
            }
        }
        self.ranked = ranked;
        n > 0
    }
}

/// IPv4 clients of a dual-stack socket appear as `::ffff:a.b.c.d`; ranges,
/// limits and logs use the plain IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Activations per minute and burst of one address; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl Admission {
    pub fn new(allow: Vec<IpNet>, max_connections: usize, max_per_address: usize, rate: Option<RateLimit>) -> Arc<Admission> {
        let rate = rate.map(|r| {
            // The connection cap of a key is the admission's business here.
            Mutex::new(Limiter::new(KeyLimits { max_connections: u32::MAX, activations_per_minute: r.per_minute, burst: r.burst }))
        });
        Arc::new(Admission {
            allow,
            max_per_address,
            max_connections,
            shed_slack: max_connections / 16 + 2,
            shed_batch: (max_connections / 64).max(1),
            epoch: Instant::now(),
            live: Mutex::new(Live::default()),
            denials: Mutex::new(DenialLog::default()),
            rate,
            shed_closed: Notify::new(),
        })
    }

    /// Whether connections shed but not yet closed fill the slack above the
    /// cap: a newcomer now would be refused.
    fn crowded(&self) -> bool {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.conns.len() + live.shedding >= self.max_connections + self.shed_slack
    }

    /// Waits (at most `limit`) while shed connections have not closed yet,
    /// so the accept loop leaves newcomers in the kernel's queue — a short
    /// delay — rather than take and refuse them while the host is busiest.
    pub async fn room(&self, limit: Duration) {
        let end = tokio::time::Instant::now() + limit;
        loop {
            let closed = self.shed_closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if !self.crowded() || tokio::time::timeout_at(end, closed).await.is_err() {
                return;
            }
        }
    }

    pub fn allowed(&self, ip: IpAddr) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip))
    }

    /// Milliseconds on the clock of [`Conn`]'s times.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A ticket for a connection from `ip` — when the host is full, after
    /// shedding the connection the shared rule picks (true in the second
    /// field) — or why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<(Ticket, bool), Denied> {
        let ip = canonical(ip);
        if !self.allowed(ip) {
            return Err(Denied::NotAllowed);
        }
        let now_ms = self.now_ms();
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.per_address.get(&ip).is_some_and(|&n| n as usize >= self.max_per_address) {
            return Err(Denied::TooManyFromAddress);
        }
        let mut shed = false;
        if live.conns.len() >= self.max_connections {
            if live.conns.len() + live.shedding >= self.max_connections + self.shed_slack || !live.shed(now_ms, self.shed_batch) {
                return Err(Denied::TooMany);
            }
            shed = true;
        }
        let id = live.next_id;
        live.next_id += 1;
        let conn = Arc::new(Conn {
            id,
            ip,
            accepted_ms: now_ms,
            last_pdu_ms: AtomicU64::new(now_ms),
            requests: AtomicU32::new(0),
            in_flight: AtomicBool::new(false),
            shed: AtomicBool::new(false),
            close: Notify::new(),
        });
        live.conns.insert(id, conn.clone());
        *live.per_address.entry(ip).or_insert(0) += 1;
        Ok((Ticket { admission: self.clone(), conn }, shed))
    }

    /// Connections open now (those shed but not yet closed included).
    pub fn open(&self) -> usize {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.conns.len() + live.shedding
    }

    /// Resolves when every ticket has been returned (or `timeout` passed);
    /// true when all connections closed.
    pub async fn drained(&self, timeout: Duration) -> bool {
        let end = tokio::time::Instant::now() + timeout;
        while self.open() > 0 {
            if tokio::time::Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// One activation from `ip`: `Err` when its address is over its rate.
    pub fn activation(&self, ip: IpAddr) -> Result<(), Refused> {
        match &self.rate {
            None => Ok(()),
            // No lease: a native connection's shedding is the accept loop's.
            Some(l) => l.lock().unwrap_or_else(|p| p.into_inner()).activation(&ip, None, self.now_ms()).map(|_| ()),
        }
    }

    /// Whether this denial should be logged: once per address and reason
    /// per minute, so a scan or a flood leaves a trace, not a flood of logs.
    pub fn should_log(&self, ip: IpAddr, why: &'static str) -> bool {
        self.denials.lock().unwrap_or_else(|p| p.into_inner()).should_log(canonical(ip), why, Instant::now())
    }
}

const LOG_EVERY: Duration = Duration::from_secs(60);
/// Entries kept before old ones are swept (bounds memory under a scan).
const LOG_SWEEP_AT: usize = 4096;

#[derive(Default)]
struct DenialLog {
    last: HashMap<(IpAddr, &'static str), Instant>,
}

impl DenialLog {
    fn should_log(&mut self, ip: IpAddr, why: &'static str, now: Instant) -> bool {
        if self.last.len() >= LOG_SWEEP_AT {
            self.last.retain(|_, t| now.duration_since(*t) < LOG_EVERY);
        }
        let key = (ip, why);
        match self.last.get(&key) {
            Some(t) if now.duration_since(*t) < LOG_EVERY => false,
            _ => {
                self.last.insert(key, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn allow_list_matches_ranges_and_mapped_ipv4() {
        let a = Admission::new(vec!["10.0.0.0/8".parse().unwrap(), "2001:db8::/32".parse().unwrap()], 10, 10, None);
        assert!(a.admit(ip("10.1.2.3")).is_ok());
        assert!(a.admit(ip("::ffff:10.9.9.9")).is_ok(), "dual-stack form of an allowed IPv4 address");
        assert!(a.admit(ip("2001:db8::1")).is_ok());
        assert_eq!(a.admit(ip("127.0.0.1")).err(), Some(Denied::NotAllowed));
        assert_eq!(a.admit(ip("::1")).err(), Some(Denied::NotAllowed));
        let open = Admission::new(vec![], 10, 10, None);
        assert!(open.admit(ip("198.51.100.1")).is_ok());
    }

    #[test]
    fn limits_per_address_and_returns_slots() {
        let a = Admission::new(vec![], 3, 2, None);
        let (t1, _) = a.admit(ip("192.0.2.1")).unwrap();
        let _t2 = a.admit(ip("::ffff:192.0.2.1")).unwrap();
        assert_eq!(a.admit(ip("192.0.2.1")).err(), Some(Denied::TooManyFromAddress));
        let _t3 = a.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(a.open(), 3);
        drop(t1);
        assert_eq!(a.open(), 2);
        assert!(a.admit(ip("192.0.2.1")).is_ok(), "slot returned");
    }

    #[test]
    fn a_full_host_sheds_the_idle_one_never_one_in_flight() {
        let a = Admission::new(vec![], 3, 3, None);
        let (hostile, _) = a.admit(ip("192.0.2.66")).unwrap();
        let (asked, _) = a.admit(ip("192.0.2.1")).unwrap();
        let (busy, _) = a.admit(ip("192.0.2.2")).unwrap();
        asked.conn.request_in_hand(a.now_ms());
        asked.conn.answered();
        asked.conn.waiting();
        busy.conn.request_in_hand(a.now_ms());
        let (fresh, shed) = a.admit(ip("192.0.2.3")).unwrap();
        assert!(shed);
        assert!(hostile.conn.is_shed(), "given nothing: shed first");
        assert!(!asked.conn.is_shed() && !busy.conn.is_shed() && !fresh.conn.is_shed());
        assert_eq!(a.open(), 4, "the shed one holds its socket until it closes");
        drop(hostile);
        assert_eq!(a.open(), 3);
        // Next: the one that asked (idle, not in flight), then the fresh
        // one; the one in flight never.
        let (_n1, _) = a.admit(ip("192.0.2.4")).unwrap();
        assert!(fresh.conn.is_shed() ^ asked.conn.is_shed(), "one of the two idle ones");
        assert!(fresh.conn.is_shed(), "given nothing, before the one that asked");
        drop(fresh);
        let (_n2, _) = a.admit(ip("192.0.2.5")).unwrap();
        assert!(_n1.conn.is_shed(), "given nothing");
        assert!(!asked.conn.is_shed() && !busy.conn.is_shed());
    }

    #[test]
    fn newcomers_are_refused_when_everyone_is_answering_or_shed_ones_linger() {
        let a = Admission::new(vec![], 2, 2, None);
        let (t1, _) = a.admit(ip("192.0.2.1")).unwrap();
        let (t2, _) = a.admit(ip("192.0.2.2")).unwrap();
        t1.conn.request_in_hand(0);
        t2.conn.request_in_hand(0);
        assert_eq!(a.admit(ip("192.0.2.3")).err(), Some(Denied::TooMany), "no one may be shed");
        t2.conn.answered();
        t2.conn.waiting();
        let mut kept = Vec::new();
        // Slack of 2 over a cap of 2: two shed-but-open, then refusals.
        for i in 0..2 {
            let (t, shed) = a.admit(ip(&format!("192.0.2.{}", 10 + i))).unwrap();
            assert!(shed);
            kept.push(t);
        }
        assert_eq!(a.admit(ip("192.0.2.20")).err(), Some(Denied::TooMany), "bounded while the shed ones linger");
        assert_eq!(a.open(), 4);
    }

    #[tokio::test]
    async fn room_waits_for_shed_connections_to_close() {
        let a = Admission::new(vec![], 2, 2, None);
        let (t1, _) = a.admit(ip("192.0.2.1")).unwrap();
        let (t2, _) = a.admit(ip("192.0.2.2")).unwrap();
        // A few milliseconds apart, so the older one is shed (equal idle
        // times have no order).
        let tick = || std::thread::sleep(Duration::from_millis(3));
        tick();
        let (_t3, shed) = a.admit(ip("192.0.2.3")).unwrap();
        tick();
        let (_t4, _) = a.admit(ip("192.0.2.4")).unwrap();
        assert!(shed && t1.conn.is_shed() && t2.conn.is_shed());
        assert!(a.crowded(), "two shed, still open: the slack is full");
        let started = tokio::time::Instant::now();
        a.room(Duration::from_millis(50)).await;
        assert!(started.elapsed() >= Duration::from_millis(50), "waited to the limit");
        let waiter = {
            let a = a.clone();
            tokio::spawn(async move { a.room(Duration::from_secs(10)).await })
        };
        tokio::task::yield_now().await;
        drop(t1);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert!(!a.crowded());
    }

    #[tokio::test]
    async fn a_shed_connection_is_woken() {
        let a = Admission::new(vec![], 1, 1, None);
        let (t, _) = a.admit(ip("192.0.2.1")).unwrap();
        let conn = t.conn.clone();
        let waiter = tokio::spawn(async move { conn.shed().await });
        tokio::task::yield_now().await;
        let _n = a.admit(ip("192.0.2.2")).unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        // Shed before it waited: resolves at once.
        t.conn.shed().await;
    }

    #[test]
    fn activations_are_rate_limited_per_address() {
        let a = Admission::new(vec![], 10, 10, Some(RateLimit { per_minute: 60, burst: 2 }));
        assert!(a.activation(ip("192.0.2.1")).is_ok());
        assert!(a.activation(ip("192.0.2.1")).is_ok());
        assert_eq!(a.activation(ip("192.0.2.1")), Err(Refused { log: true }));
        assert_eq!(a.activation(ip("192.0.2.1")), Err(Refused { log: false }), "logged once a minute");
        assert!(a.activation(ip("192.0.2.2")).is_ok(), "another address");
        let off = Admission::new(vec![], 10, 10, None);
        for _ in 0..1000 {
            assert!(off.activation(ip("192.0.2.1")).is_ok());
        }
    }

    #[tokio::test]
    async fn drained_waits_for_the_last_ticket() {
        let a = Admission::new(vec![], 4, 4, None);
        let t = a.admit(ip("192.0.2.1")).unwrap();
        assert!(!a.drained(Duration::from_millis(20)).await);
        drop(t);
        assert!(a.drained(Duration::from_millis(20)).await);
    }

    #[test]
    fn denials_are_logged_once_per_address_and_minute() {
        let mut log = DenialLog::default();
        let t = Instant::now();
        assert!(log.should_log(ip("192.0.2.1"), "not_allowed", t));
        assert!(!log.should_log(ip("192.0.2.1"), "not_allowed", t + Duration::from_secs(59)));
        assert!(log.should_log(ip("192.0.2.1"), "max_connections", t), "another reason");
        assert!(log.should_log(ip("192.0.2.2"), "not_allowed", t), "another address");
        assert!(log.should_log(ip("192.0.2.1"), "not_allowed", t + Duration::from_secs(61)));
        for i in 0..5000u32 {
            log.should_log(IpAddr::from(i.to_be_bytes()), "not_allowed", t);
        }
        log.should_log(ip("192.0.2.9"), "not_allowed", t + Duration::from_secs(120));
        assert!(log.last.len() < LOG_SWEEP_AT + 10, "old entries swept");
    }
}
