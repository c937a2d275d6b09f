//! Per-key limits a host applies to its sources (a branch's tunnel at the
//! edge, a client address natively): how many connections one key may
//! hold open, and a token bucket of activations per minute. Kept in
//! memory: a host that restarts (or a Durable Object that is evicted)
//! starts every key afresh, which only ever errs towards serving.
//!
//! Each refusal is worth one log line per key per minute, not one per
//! request: [`Limiter`] says when to write it. Memory stays bounded under
//! a scan of many keys: once [`SWEEP_AT`] keys are held, those with a full
//! bucket, no open connection and no recent refusal are forgotten, which
//! changes no answer (a forgotten key starts with a full bucket).
use std::borrow::{Borrow, ToOwned};
use core::hash::Hash;
use std::collections::HashMap;
use std::string::String;

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

/// One open connection: its id and when it counts no more, even if its
/// close is never reported (a crashed isolate): connections cannot outlive
/// the core's lifetime limit.
type Lease = (u64, u64);

#[derive(Debug, Default)]
struct Key {
    open: std::vec::Vec<Lease>,
    /// Tokens, in thousandths, so the refill is exact in integers.
    milli_tokens: u64,
    refilled_ms: u64,
    /// When each kind of refusal was last logged: connections, activations.
    logged_ms: [Option<u64>; 2],
}

/// Which limit refused: each is logged once a minute on its own.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Connections = 0,
    Activations = 1,
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
            k.open.retain(|&(_, until)| until > now_ms);
            let refilled = k.milli_tokens + now_ms.saturating_sub(k.refilled_ms) * rate / 60;
            let logged = k.logged_ms.iter().flatten().any(|&t| now_ms.saturating_sub(t) < MINUTE_MS);
            !k.open.is_empty() || refilled < full || logged
        });
    }

    /// Keys held now (for tests and metrics).
    pub fn keys(&self) -> usize {
        self.keys.len()
    }

    fn refuse(k: &mut Key, kind: Kind, now_ms: u64) -> Refused {
        let last = &mut k.logged_ms[kind as usize];
        let log = last.is_none_or(|t| now_ms.saturating_sub(t) >= MINUTE_MS);
        if log {
            *last = Some(now_ms);
        }
        Refused { log }
    }

    /// A connection of `key` opens, to end by `until_ms` at the latest;
    /// refused when the key already holds the most. Returns the lease to
    /// [`Limiter::close`] it with.
    pub fn open<Q>(&mut self, key: &Q, now_ms: u64, until_ms: u64) -> Result<u64, Refused>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let max = self.limits.max_connections as usize;
        let id = self.next_lease;
        let k = self.key(key, now_ms);
        k.open.retain(|&(_, until)| until > now_ms);
        if k.open.len() >= max {
            return Err(Self::refuse(k, Kind::Connections, now_ms));
        }
        k.open.push((id, until_ms));
        self.next_lease += 1;
        Ok(id)
    }

    /// The connection of `key` holding `lease` closed.
    pub fn close<Q>(&mut self, key: &Q, lease: u64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(k) = self.keys.get_mut(key) {
            k.open.retain(|&(id, _)| id != lease);
        }
    }

    /// Connections `key` holds open at `now_ms`.
    pub fn open_count<Q>(&self, key: &Q, now_ms: u64) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.keys.get(key).map_or(0, |k| k.open.iter().filter(|&&(_, until)| until > now_ms).count())
    }

    /// One activation of `key`: takes a token, refilled at
    /// `activations_per_minute` per minute up to `burst`.
    pub fn activation<Q>(&mut self, key: &Q, now_ms: u64) -> Result<(), Refused>
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_per_key_and_freed_on_close_or_expiry() {
        let mut l = Limiter::new(KeyLimits { max_connections: 2, activations_per_minute: 10, burst: 10 });
        const LONG: u64 = 1_000_000;
        let a = l.open("paris", 0, LONG).unwrap();
        let b = l.open("paris", 0, 50_000).unwrap();
        assert_ne!(a, b);
        assert_eq!(l.open("paris", 1, LONG), Err(Refused { log: true }));
        assert_eq!(l.open("paris", 2, LONG), Err(Refused { log: false }), "one log line a minute");
        assert!(l.open("lyon", 2, LONG).is_ok(), "another key is not affected");
        l.close("paris", a);
        assert_eq!(l.open_count("paris", 3), 1);
        let c = l.open("paris", 3, LONG).unwrap();
        // b's close is never reported: it stops counting when its lease ends.
        assert_eq!(l.open("paris", 49_999, LONG), Err(Refused { log: false }));
        assert!(l.open("paris", 50_000, LONG).is_ok(), "b expired");
        assert_eq!(l.open("paris", 60_001, LONG), Err(Refused { log: true }), "a minute later, logged again");
        l.close("paris", c);
        l.close("nobody", 7);
    }

    #[test]
    fn activations_refill_at_the_rate() {
        let mut l = Limiter::new(KeyLimits { max_connections: 1, activations_per_minute: 6, burst: 6 });
        l.open("paris", 0, 1_000).unwrap();
        assert_eq!(l.open("paris", 0, 1_000), Err(Refused { log: true }));
        for _ in 0..6 {
            assert!(l.activation("paris", 0).is_ok());
        }
        assert_eq!(l.activation("paris", 0), Err(Refused { log: true }), "a minute's worth at once, no more; logged on its own");
        assert!(l.activation("lyon", 0).is_ok());
        assert!(l.activation("paris", 9_999).is_err(), "one per 10 s");
        assert!(l.activation("paris", 10_000).is_ok());
        assert!(l.activation("paris", 10_001).is_err());
        // A long pause refills a minute's worth, not more.
        for _ in 0..6 {
            assert!(l.activation("paris", 1_000_000).is_ok());
        }
        assert!(l.activation("paris", 1_000_000).is_err());
    }

    #[test]
    fn burst_is_separate_from_the_rate() {
        let mut l: Limiter<u32> = Limiter::new(KeyLimits { max_connections: 1, activations_per_minute: 60, burst: 3 });
        for _ in 0..3 {
            assert!(l.activation(&7, 0).is_ok());
        }
        assert_eq!(l.activation(&7, 0), Err(Refused { log: true }), "the burst spent");
        assert!(l.activation(&7, 1_000).is_ok(), "one a second");
        assert!(l.activation(&7, 1_500).is_err());
        // A long pause refills the burst only.
        for _ in 0..3 {
            assert!(l.activation(&7, 600_000).is_ok());
        }
        assert!(l.activation(&7, 600_000).is_err());
    }

    #[test]
    fn a_scan_of_many_keys_leaves_memory_bounded() {
        let mut l: Limiter<u32> = Limiter::new(KeyLimits { max_connections: 1, activations_per_minute: 60, burst: 2 });
        // A spent key, refused and logged at t = 0: kept while it matters.
        l.activation(&1, 0).unwrap();
        l.activation(&1, 0).unwrap();
        assert!(l.activation(&1, 0).is_err());
        for i in 0..3 * SWEEP_AT as u32 {
            // One activation each, a second apart: full again soon after.
            l.activation(&(i + 10), u64::from(i) * 1_000).unwrap();
        }
        assert!(l.keys() <= SWEEP_AT + 1, "swept: {}", l.keys());
        // A key swept and seen again starts afresh, as a restart would.
        assert!(l.activation(&10, 100_000_000).is_ok());
    }
}
