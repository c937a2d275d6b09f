//! Per-key limits a host applies to its sources (a branch's tunnel at the
//! edge, a client address natively): how many connections one key may
//! hold open, and a token bucket of activations per minute. Kept in
//! memory: a host that restarts (or a Durable Object that is evicted)
//! starts every key afresh, which only ever errs towards serving.
//!
//! At its connection cap a key sheds rather than refuses, by the same rule
//! as the native host ([`crate::model::admission::victim`]): the lease that
//! has given least (no activation yet, idle longest) moves to the key's
//! shed list — it stops counting at once, and its holder is told at its
//! next [`Limiter::activation`] (answered all the same) to close after the
//! answer — and the newcomer gets a lease. Only when the shed-but-not-yet-
//! closed leases reach [`shed_bound`] is the newcomer refused, so a key
//! holds at most cap + cap/16 + 2 live connections.
//!
//! Each refusal (and each shedding) is worth one log line per key per
//! minute, not one per request: [`Limiter`] says when to write it. Memory stays bounded under
//! a scan of many keys: once [`SWEEP_AT`] keys are held, those with a full
//! bucket, no open connection and no recent refusal are forgotten, which
//! changes no answer (a forgotten key starts with a full bucket).
use std::borrow::{Borrow, ToOwned};
use core::hash::Hash;
use std::collections::HashMap;
use std::string::String;
use super::admission::{Candidate, victim};

/// How many open connections and activations per minute one key may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLimits {
    pub max_connections: u32,
    pub activations_per_minute: u32,
    /// Activations that may come at once (the bucket's size); refilled at
    /// `activations_per_minute`.
    pub burst: u32,
}

/// What a refused key should be told, and whether to log it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// First refusal of this key in this minute: write the log line.
    pub log: bool,
}

/// A lease was given, perhaps at the cost of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// To [`Limiter::close`] the connection with, and to name it in its
    /// [`Limiter::activation`]s.
    pub lease: u64,
    /// The key was at its cap: this lease was shed to make room.
    pub shed: Option<Shed>,
}

/// The lease shed for a newcomer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shed {
    pub lease: u64,
    /// First shedding of this key in this minute: write the log line.
    pub log: bool,
}

/// An activation admitted by the key's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activated {
    /// The connection's lease was shed: answer, then close the connection.
    pub shed: bool,
}

/// One open connection, and what it has given so far (the admission
/// rule's inputs).
#[derive(Debug, Clone, Copy)]
struct Lease {
    id: u64,
    /// When it counts no more, even if its close is never reported (a
    /// crashed isolate): connections cannot outlive the core's lifetime
    /// limit.
    until: u64,
    opened_ms: u64,
    /// The last activation answered on it, if any.
    last_ms: Option<u64>,
    activations: u32,
    /// How long a silent connection lives after its last whole PDU (the
    /// core's idle timeout, plus slack): bounds a shed lease's life.
    shed_ms: u64,
}

/// A shed lease, kept until its connection closes or `until`.
#[derive(Debug, Clone, Copy)]
struct ShedLease {
    id: u64,
    until: u64,
}

#[derive(Debug, Default)]
struct Key {
    open: std::vec::Vec<Lease>,
    /// Shed, not yet reported closed: they count against [`shed_bound`],
    /// not against the cap.
    shed: std::vec::Vec<ShedLease>,
    /// Tokens, in thousandths, so the refill is exact in integers.
    milli_tokens: u64,
    refilled_ms: u64,
    /// When each kind of refusal (or shedding) was last logged.
    logged_ms: [Option<u64>; 3],
}

impl Key {
    fn expire(&mut self, now_ms: u64) {
        self.open.retain(|l| l.until > now_ms);
        self.shed.retain(|l| l.until > now_ms);
    }
}

/// What is logged once a minute per key, each kind on its own.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Connections = 0,
    Activations = 1,
    Shedding = 2,
}

/// Shed connections not yet closed that a key may have at once: the
/// native host's bound (`--max-connections`/16 + 2), so memory stays
/// bounded while shed connections wind down.
pub fn shed_bound(max_connections: u32) -> usize {
    max_connections as usize / 16 + 2
}

/// Keys held before the idle ones are swept.
pub const SWEEP_AT: usize = 4096;

/// The limits of every key, at `now_ms` on the host's clock.
#[derive(Debug)]
pub struct Limiter<K = String> {
    limits: KeyLimits,
    keys: HashMap<K, Key>,
    next_lease: u64,
}

const MINUTE_MS: u64 = 60_000;

impl<K: Hash + Eq> Limiter<K> {
    pub fn new(limits: KeyLimits) -> Limiter<K> {
        Limiter { limits, keys: HashMap::new(), next_lease: 1 }
    }

    fn full(&self) -> u64 {
        u64::from(self.limits.burst) * 1000
    }

    fn key<Q>(&mut self, key: &Q, now_ms: u64) -> &mut Key
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if self.keys.len() >= SWEEP_AT && !self.keys.contains_key(key) {
            self.sweep(now_ms);
        }
        let full = self.full();
        self.keys
            .entry(key.to_owned())
            .or_insert_with(|| Key { milli_tokens: full, refilled_ms: now_ms, ..Key::default() })
    }

    /// Forgets the keys that hold nothing a fresh key would not: no open
    /// connection, a bucket full again, no refusal logged this minute.
    fn sweep(&mut self, now_ms: u64) {
        let (rate, full) = (u64::from(self.limits.activations_per_minute), self.full());
        self.keys.retain(|_, k| {
            k.expire(now_ms);
            let refilled = k.milli_tokens + now_ms.saturating_sub(k.refilled_ms) * rate / 60;
            let logged = k.logged_ms.iter().flatten().any(|&t| now_ms.saturating_sub(t) < MINUTE_MS);
            !k.open.is_empty() || !k.shed.is_empty() || refilled < full || logged
        });
    }

    /// Keys held now (for tests and metrics).
    pub fn keys(&self) -> usize {
        self.keys.len()
    }

    /// Whether to log `kind` for this key now (once a minute).
    fn log_now(k: &mut Key, kind: Kind, now_ms: u64) -> bool {
        let last = &mut k.logged_ms[kind as usize];
        let log = last.is_none_or(|t| now_ms.saturating_sub(t) >= MINUTE_MS);
        if log {
            *last = Some(now_ms);
        }
        log
    }

    fn refuse(k: &mut Key, kind: Kind, now_ms: u64) -> Refused {
        Refused { log: Self::log_now(k, kind, now_ms) }
    }

    /// A connection of `key` opens, to end by `until_ms` at the latest; if
    /// shed, it is gone `shed_ms` after its shedding (its idle timeout:
    /// a shed connection that stays silent is closed by then). At the cap
    /// the lease [`crate::model::admission::victim`] picks is shed for it;
    /// refused only when [`shed_bound`] shed leases are still open.
    pub fn open<Q>(&mut self, key: &Q, now_ms: u64, until_ms: u64, shed_ms: u64) -> Result<Opened, Refused>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let max = self.limits.max_connections;
        let id = self.next_lease;
        let k = self.key(key, now_ms);
        k.expire(now_ms);
        let mut shed = None;
        if k.open.len() >= max as usize {
            if k.shed.len() >= shed_bound(max) {
                return Err(Self::refuse(k, Kind::Connections, now_ms));
            }
            let source_connections = u32::try_from(k.open.len()).unwrap_or(u32::MAX);
            // Newest first: between equal costs the oldest is taken (`victim`
            // keeps the last of equals).
            let candidates = k.open.iter().rev().map(|l| Candidate {
                id: l.id,
                requests: l.activations,
                in_flight: false,
                idle_ms: now_ms.saturating_sub(l.last_ms.unwrap_or(l.opened_ms)),
                source_connections,
            });
            let Some(victim) = victim(candidates) else {
                return Err(Self::refuse(k, Kind::Connections, now_ms));
            };
            let at = k.open.iter().position(|l| l.id == victim).expect("a victim is one of the open leases");
            let gone = k.open.remove(at);
            k.shed.push(ShedLease { id: gone.id, until: now_ms.saturating_add(gone.shed_ms).min(gone.until) });
            shed = Some(Shed { lease: gone.id, log: Self::log_now(k, Kind::Shedding, now_ms) });
        }
        k.open.push(Lease { id, until: until_ms, opened_ms: now_ms, last_ms: None, activations: 0, shed_ms });
        self.next_lease += 1;
        Ok(Opened { lease: id, shed })
    }

    /// The connection of `key` holding `lease` closed (shed or not).
    pub fn close<Q>(&mut self, key: &Q, lease: u64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(k) = self.keys.get_mut(key) {
            k.open.retain(|l| l.id != lease);
            k.shed.retain(|l| l.id != lease);
        }
    }

    /// Connections `key` holds open at `now_ms`, shed ones not included.
    pub fn open_count<Q>(&self, key: &Q, now_ms: u64) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.keys.get(key).map_or(0, |k| k.open.iter().filter(|l| l.until > now_ms).count())
    }

    /// Shed connections of `key` not yet closed at `now_ms`.
    pub fn shed_count<Q>(&self, key: &Q, now_ms: u64) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.keys.get(key).map_or(0, |k| k.shed.iter().filter(|l| l.until > now_ms).count())
    }

    /// One activation of `key`, on the connection holding `lease` if it
    /// has one: takes a token, refilled at `activations_per_minute` per
    /// minute up to `burst`. Once admitted, it counts for its lease (it has
    /// given something, and is idle from now); a shed lease is reported so,
    /// and its activation is admitted all the same.
    pub fn activation<Q>(&mut self, key: &Q, lease: Option<u64>, now_ms: u64) -> Result<Activated, Refused>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let (rate, full) = (u64::from(self.limits.activations_per_minute), self.full());
        let k = self.key(key, now_ms);
        let elapsed = now_ms.saturating_sub(k.refilled_ms);
        // rate per minute = rate × 1000 milli-tokens per 60 000 ms. Only
        // the time that became whole milli-tokens is used up, so frequent
        // calls lose nothing to rounding.
        let added = elapsed * rate / 60;
        if k.milli_tokens + added >= full {
            k.milli_tokens = full;
            k.refilled_ms = now_ms;
        } else if let Some(used_ms) = (added * 60).checked_div(rate) {
            k.milli_tokens += added;
            k.refilled_ms += used_ms;
        }
        if k.milli_tokens < 1000 {
            return Err(Self::refuse(k, Kind::Activations, now_ms));
        }
        k.milli_tokens -= 1000;
        let Some(lease) = lease else { return Ok(Activated { shed: false }) };
        if let Some(l) = k.open.iter_mut().find(|l| l.id == lease) {
            l.activations = l.activations.saturating_add(1);
            l.last_ms = Some(now_ms);
            return Ok(Activated { shed: false });
        }
        Ok(Activated { shed: k.shed.iter().any(|l| l.id == lease) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: u64 = 1_000_000;
    /// The shed expiry the tests give (an idle timeout plus slack).
    const SHED: u64 = 5_000;

    fn limiter(max_connections: u32) -> Limiter {
        Limiter::new(KeyLimits { max_connections, activations_per_minute: 1_000, burst: 1_000 })
    }

    #[test]
    fn at_the_cap_the_newcomer_is_admitted_and_the_oldest_silent_one_shed() {
        let mut l = limiter(3);
        let a = l.open("paris", 0, LONG, SHED).unwrap();
        let b = l.open("paris", 1_000, LONG, SHED).unwrap();
        let c = l.open("paris", 2_000, LONG, SHED).unwrap();
        assert!(a.shed.is_none() && b.shed.is_none() && c.shed.is_none(), "below the cap nothing is shed");
        assert_ne!(a.lease, b.lease);
        let d = l.open("paris", 3_000, LONG, SHED).unwrap();
        assert_eq!(d.shed, Some(Shed { lease: a.lease, log: true }), "all silent: the one idle longest");
        assert_eq!(l.open_count("paris", 3_000), 3, "the shed one counts no more");
        assert_eq!(l.shed_count("paris", 3_000), 1);
        assert!(l.open("lyon", 3_000, LONG, SHED).unwrap().shed.is_none(), "another key is not affected");
        // Same order as admission::victim: within one second, the exact
        // idle time; on an exact tie, the oldest lease.
        let mut l = limiter(2);
        let x = l.open("paris", 10, LONG, SHED).unwrap().lease;
        l.open("paris", 10, LONG, SHED).unwrap();
        assert_eq!(l.open("paris", 10, LONG, SHED).unwrap().shed.map(|s| s.lease), Some(x), "a tie sheds the oldest");
    }

    #[test]
    fn a_lease_that_has_activated_is_kept_over_a_silent_one() {
        let mut l = limiter(2);
        let old = l.open("paris", 0, LONG, SHED).unwrap().lease;
        let young = l.open("paris", 5_000, LONG, SHED).unwrap().lease;
        // The old one asked (long ago), the young one never did.
        assert_eq!(l.activation("paris", Some(old), 6_000), Ok(Activated { shed: false }));
        let n = l.open("paris", 60_000, LONG, SHED).unwrap();
        assert_eq!(n.shed.map(|s| s.lease), Some(young), "given nothing goes before idle longest");
        // Among those that asked, the one idle longest since its last activation.
        l.activation("paris", Some(n.lease), 61_000).unwrap();
        l.activation("paris", Some(old), 62_000).unwrap();
        let m = l.open("paris", 63_000, LONG, SHED).unwrap();
        assert_eq!(m.shed.map(|s| s.lease), Some(n.lease));
    }

    #[test]
    fn shed_leases_stop_counting_and_end_at_their_expiry_or_close() {
        let mut l = limiter(1);
        let a = l.open("paris", 0, LONG, SHED).unwrap().lease;
        let b = l.open("paris", 100, LONG, SHED).unwrap();
        assert_eq!(b.shed.map(|s| s.lease), Some(a));
        assert_eq!((l.open_count("paris", 100), l.shed_count("paris", 100)), (1, 1));
        // Its expiry: shed at 100, for SHED.
        assert_eq!(l.shed_count("paris", 100 + SHED - 1), 1);
        assert_eq!(l.shed_count("paris", 100 + SHED), 0, "expired at its shed expiry");
        // A close removes a shed lease, and an open one.
        let c = l.open("paris", 200_000, LONG, SHED).unwrap();
        assert_eq!(c.shed.map(|s| s.lease), Some(b.lease));
        l.close("paris", b.lease);
        assert_eq!(l.shed_count("paris", 200_000), 0, "closed while shed");
        l.close("paris", c.lease);
        assert_eq!(l.open_count("paris", 200_000), 0);
        l.close("nobody", 7);
        // An open lease still ends at its own limit when its close never comes.
        l.open("paris", 300_000, 350_000, SHED).unwrap();
        assert_eq!(l.open_count("paris", 349_999), 1);
        assert_eq!(l.open_count("paris", 350_000), 0);
        // A shed lease never outlives its own limit either.
        let mut l = limiter(1);
        let short = l.open("paris", 0, 1_000, SHED).unwrap().lease;
        assert_eq!(l.open("paris", 10, LONG, SHED).unwrap().shed.map(|s| s.lease), Some(short));
        assert_eq!(l.shed_count("paris", 1_000), 0);
    }

    #[test]
    fn at_the_shed_bound_newcomers_are_refused_and_logged_once_a_minute() {
        let max = 3;
        let bound = shed_bound(max);
        assert_eq!(bound, 2, "3/16 + 2");
        let mut l = limiter(max);
        for i in 0..max {
            l.open("paris", u64::from(i), LONG, SHED).unwrap();
        }
        let mut logged = 0;
        for i in 0..bound as u64 {
            let o = l.open("paris", 10 + i, LONG, SHED).unwrap();
            logged += usize::from(o.shed.expect("shed at the cap").log);
        }
        assert_eq!(logged, 1, "shedding is logged once a minute per key");
        assert_eq!(l.open("paris", 20, LONG, SHED), Err(Refused { log: true }));
        assert_eq!(l.open("paris", 21, LONG, SHED), Err(Refused { log: false }), "one log line a minute");
        assert_eq!((l.open_count("paris", 21), l.shed_count("paris", 21)), (max as usize, bound));
        // Once the shed ones are gone (their expiry), shedding resumes.
        let o = l.open("paris", 10 + SHED, LONG, SHED).unwrap();
        assert_eq!(o.shed.map(|s| s.log), Some(false), "within the minute: not logged again");
        assert_eq!(l.open("paris", 70_000 + SHED, LONG, SHED).unwrap().shed.map(|s| s.log), Some(true), "a minute later");
    }

    #[test]
    fn an_activation_on_a_shed_lease_is_admitted_and_reported_shed() {
        let mut l = limiter(1);
        let a = l.open("paris", 0, LONG, SHED).unwrap().lease;
        let b = l.open("paris", 10, LONG, SHED).unwrap().lease;
        assert_eq!(l.activation("paris", Some(a), 20), Ok(Activated { shed: true }));
        assert_eq!(l.activation("paris", Some(b), 20), Ok(Activated { shed: false }));
        assert_eq!(l.activation("paris", None, 20), Ok(Activated { shed: false }), "no lease (the TCP path)");
        assert_eq!(l.activation("paris", Some(999), 20), Ok(Activated { shed: false }), "a lease long gone");
        l.close("paris", a);
        assert_eq!(l.activation("paris", Some(a), 30), Ok(Activated { shed: false }), "closed: no longer known");
    }

    #[test]
    fn per_address_use_without_a_connection_cap_is_unchanged() {
        // The native host's per-address bucket: no connection cap at all.
        let mut l: Limiter<u32> = Limiter::new(KeyLimits { max_connections: u32::MAX, activations_per_minute: 60, burst: 2 });
        for i in 0..1_000 {
            assert!(l.open(&1, i, LONG, SHED).unwrap().shed.is_none());
        }
        assert_eq!(l.open_count(&1, 1_000), 1_000);
        assert_eq!(l.activation(&1, None, 0), Ok(Activated { shed: false }));
        assert_eq!(l.activation(&1, None, 0), Ok(Activated { shed: false }));
        assert_eq!(l.activation(&1, None, 0), Err(Refused { log: true }));
    }

    #[test]
    fn activations_refill_at_the_rate() {
        let mut l = Limiter::new(KeyLimits { max_connections: 1, activations_per_minute: 6, burst: 6 });
        for _ in 0..6 {
            assert!(l.activation("paris", None, 0).is_ok());
        }
        assert_eq!(l.activation("paris", None, 0), Err(Refused { log: true }), "a minute's worth at once, no more; logged on its own");
        assert!(l.activation("lyon", None, 0).is_ok());
        assert!(l.activation("paris", None, 9_999).is_err(), "one per 10 s");
        assert!(l.activation("paris", None, 10_000).is_ok());
        assert!(l.activation("paris", None, 10_001).is_err());
        // A long pause refills a minute's worth, not more.
        for _ in 0..6 {
            assert!(l.activation("paris", None, 1_000_000).is_ok());
        }
        assert!(l.activation("paris", None, 1_000_000).is_err());
    }

    #[test]
    fn burst_is_separate_from_the_rate() {
        let mut l: Limiter<u32> = Limiter::new(KeyLimits { max_connections: 1, activations_per_minute: 60, burst: 3 });
        for _ in 0..3 {
            assert!(l.activation(&7, None, 0).is_ok());
        }
        assert_eq!(l.activation(&7, None, 0), Err(Refused { log: true }), "the burst spent");
        assert!(l.activation(&7, None, 1_000).is_ok(), "one a second");
        assert!(l.activation(&7, None, 1_500).is_err());
        // A long pause refills the burst only.
        for _ in 0..3 {
            assert!(l.activation(&7, None, 600_000).is_ok());
        }
        assert!(l.activation(&7, None, 600_000).is_err());
    }

    #[test]
    fn a_scan_of_many_keys_leaves_memory_bounded() {
        let mut l: Limiter<u32> = Limiter::new(KeyLimits { max_connections: 1, activations_per_minute: 60, burst: 2 });
        // A spent key, refused and logged at t = 0: kept while it matters.
        l.activation(&1, None, 0).unwrap();
        l.activation(&1, None, 0).unwrap();
        assert!(l.activation(&1, None, 0).is_err());
        for i in 0..3 * SWEEP_AT as u32 {
            // One activation each, a second apart: full again soon after.
            l.activation(&(i + 10), None, u64::from(i) * 1_000).unwrap();
        }
        assert!(l.keys() <= SWEEP_AT + 1, "swept: {}", l.keys());
        // A key swept and seen again starts afresh, as a restart would.
        assert!(l.activation(&10, None, 100_000_000).is_ok());
    }
}
