//! Who may open a KMS connection: the allow-list of address ranges, the
//! cap on open connections, the cap per client address. Decided at accept,
//! before a byte is read, so a flood costs one accept and one close each.
use std::prelude::rust_2024::Vec;
use super::metrics::Denied;
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Admission {
    allow: Vec<IpNet>,
    max_per_address: usize,
    slots: Arc<Semaphore>,
    max_connections: usize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    denials: Mutex<DenialLog>,
}

/// Held by a connection for its lifetime; returns its slots when dropped.
pub struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut map = self.admission.per_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// IPv4 clients of a dual-stack socket appear as `::ffff:a.b.c.d`; ranges,
/// limits and logs use the plain IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl Admission {
    pub fn new(allow: Vec<IpNet>, max_connections: usize, max_per_address: usize) -> Arc<Admission> {
        Arc::new(Admission {
            allow,
            max_per_address,
            slots: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            per_address: Mutex::new(HashMap::new()),
            denials: Mutex::new(DenialLog::default()),
        })
    }

    pub fn allowed(&self, ip: IpAddr) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip))
    }

    /// A ticket for a connection from `ip`, or why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Denied> {
        let ip = canonical(ip);
        if !self.allowed(ip) {
            return Err(Denied::NotAllowed);
        }
        let permit = self.slots.clone().try_acquire_owned().map_err(|_| Denied::TooMany)?;
        let mut map = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.max_per_address {
            return Err(Denied::TooManyFromAddress);
        }
        *n += 1;
        Ok(Ticket { admission: self.clone(), ip, _permit: permit })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.max_connections - self.slots.available_permits()
    }

    /// Resolves when every ticket has been returned (or `timeout` passed);
    /// true when all connections closed.
    pub async fn drained(&self, timeout: Duration) -> bool {
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        matches!(tokio::time::timeout(timeout, self.slots.acquire_many(all)).await, Ok(Ok(_)))
    }

    /// Whether this denial should be logged: once per address and reason
    /// per minute, so a scan or a flood leaves a trace, not a flood of logs.
    pub fn should_log(&self, ip: IpAddr, why: Denied) -> bool {
        self.denials.lock().unwrap_or_else(|p| p.into_inner()).should_log(canonical(ip), why, Instant::now())
    }
}

const LOG_EVERY: Duration = Duration::from_secs(60);
/// Entries kept before old ones are swept (bounds memory under a scan).
const LOG_SWEEP_AT: usize = 4096;

#[derive(Default)]
struct DenialLog {
    last: HashMap<(IpAddr, u8), Instant>,
}

impl DenialLog {
    fn should_log(&mut self, ip: IpAddr, why: Denied, now: Instant) -> bool {
        if self.last.len() >= LOG_SWEEP_AT {
            self.last.retain(|_, t| now.duration_since(*t) < LOG_EVERY);
        }
        let key = (ip, why as u8);
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
        let a = Admission::new(vec!["10.0.0.0/8".parse().unwrap(), "2001:db8::/32".parse().unwrap()], 10, 10);
        assert!(a.admit(ip("10.1.2.3")).is_ok());
        assert!(a.admit(ip("::ffff:10.9.9.9")).is_ok(), "dual-stack form of an allowed IPv4 address");
        assert!(a.admit(ip("2001:db8::1")).is_ok());
        assert_eq!(a.admit(ip("127.0.0.1")).err(), Some(Denied::NotAllowed));
        assert_eq!(a.admit(ip("::1")).err(), Some(Denied::NotAllowed));
        let open = Admission::new(vec![], 10, 10);
        assert!(open.admit(ip("198.51.100.1")).is_ok());
    }

    #[test]
    fn limits_total_and_per_address_and_returns_slots() {
        let a = Admission::new(vec![], 3, 2);
        let t1 = a.admit(ip("192.0.2.1")).unwrap();
        let _t2 = a.admit(ip("::ffff:192.0.2.1")).unwrap();
        assert_eq!(a.admit(ip("192.0.2.1")).err(), Some(Denied::TooManyFromAddress));
        let _t3 = a.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(a.admit(ip("192.0.2.3")).err(), Some(Denied::TooMany));
        assert_eq!(a.open(), 3);
        drop(t1);
        assert_eq!(a.open(), 2);
        assert!(a.admit(ip("192.0.2.1")).is_ok(), "slot returned");
    }

    #[tokio::test]
    async fn drained_waits_for_the_last_ticket() {
        let a = Admission::new(vec![], 4, 4);
        let t = a.admit(ip("192.0.2.1")).unwrap();
        assert!(!a.drained(Duration::from_millis(20)).await);
        drop(t);
        assert!(a.drained(Duration::from_millis(20)).await);
    }

    #[test]
    fn denials_are_logged_once_per_address_and_minute() {
        let mut log = DenialLog::default();
        let t = Instant::now();
        assert!(log.should_log(ip("192.0.2.1"), Denied::NotAllowed, t));
        assert!(!log.should_log(ip("192.0.2.1"), Denied::NotAllowed, t + Duration::from_secs(59)));
        assert!(log.should_log(ip("192.0.2.1"), Denied::TooMany, t), "another reason");
        assert!(log.should_log(ip("192.0.2.2"), Denied::NotAllowed, t), "another address");
        assert!(log.should_log(ip("192.0.2.1"), Denied::NotAllowed, t + Duration::from_secs(61)));
        for i in 0..5000u32 {
            log.should_log(IpAddr::from(i.to_be_bytes()), Denied::NotAllowed, t);
        }
        log.should_log(ip("192.0.2.9"), Denied::NotAllowed, t + Duration::from_secs(120));
        assert!(log.last.len() < LOG_SWEEP_AT + 10, "old entries swept");
    }
}
