//! Which connection to shed when a host is full, written once for both
//! hosts (the native accept loop over its live connections, the edge over
//! a branch's tunnel connections).
//!
//! A plain cap refuses the newcomer, so whoever holds the slots first keeps
//! them: measured on loopback (issue 15), 5 000 idle hostile connections
//! from 100 addresses made `kmsedge serve` turn away 22 % of valid clients
//! once its 4 096 slots were full. Shedding instead closes the connection
//! that costs most and has given least, so a valid client — which binds
//! and asks at once — always finds room, while a connection with a whole
//! request in hand is never dropped: its answer may already be in the
//! registry, and a client that is not answered counts as lost.
//!
//! The order, most sheddable first:
//! 1. no whole request yet before one that has asked (a bound-and-idle,
//!    silent or trickling connection has given nothing);
//! 2. idle longest, in whole seconds ([`IDLE_GRAIN_MS`]): idle since the
//!    last whole PDU, so bytes that never complete one buy no time;
//! 3. from the source holding the most connections, so one address (or
//!    branch) filling the host pays first;
//! 4. then the exact idle time.
//!
//! Pure and allocation-free: the runtime walks its own registry and hands
//! each live connection in as a [`Candidate`].

/// One live connection, as the rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<Id> {
    /// The runtime's handle, given back by [`victim`].
    pub id: Id,
    /// Whole requests answered on this connection.
    pub requests: u32,
    /// A whole request is being decided or answered: never shed.
    pub in_flight: bool,
    /// Milliseconds since its last whole PDU (since it was accepted if none).
    pub idle_ms: u64,
    /// Connections its source (address, branch) holds, itself included.
    pub source_connections: u32,
}

/// Idle times within the same second count as equal, so that the source's
/// share decides between connections opened in the same burst.
pub const IDLE_GRAIN_MS: u64 = 1_000;

impl<Id> Candidate<Id> {
    /// Larger is shed first.
    fn cost(&self) -> (bool, u64, u32, u64) {
        (self.requests == 0, self.idle_ms / IDLE_GRAIN_MS, self.source_connections, self.idle_ms)
    }
}

/// The connection to shed, or `None` when every one has a request in hand
/// (then the newcomer is refused instead).
pub fn victim<Id>(candidates: impl IntoIterator<Item = Candidate<Id>>) -> Option<Id> {
    candidates.into_iter().filter(|c| !c.in_flight).max_by_key(Candidate::cost).map(|c| c.id)
}

/// The `k` connections [`victim`] would pick one after the other, moved
/// to the front of `candidates` (in no particular order); returns how
/// many there are (fewer than `k` when the rest have a request in hand).
/// One O(n) pass for `k` sheds: a host under a flood of newcomers sheds in
/// batches rather than ranking every live connection for each one.
pub fn select<Id>(candidates: &mut [Candidate<Id>], k: usize) -> usize {
    let mut sheddable = 0;
    for i in 0..candidates.len() {
        if !candidates[i].in_flight {
            candidates.swap(i, sheddable);
            sheddable += 1;
        }
    }
    let k = k.min(sheddable);
    if k > 0 && k < sheddable {
        candidates[..sheddable].select_nth_unstable_by_key(k - 1, |c| core::cmp::Reverse(c.cost()));
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: u32, requests: u32, in_flight: bool, idle_ms: u64, source_connections: u32) -> Candidate<u32> {
        Candidate { id, requests, in_flight, idle_ms, source_connections }
    }

    #[test]
    fn a_connection_with_a_request_in_hand_is_never_shed() {
        assert_eq!(victim([c(1, 0, true, 90_000, 500)]), None);
        assert_eq!(victim([c(1, 0, true, 90_000, 500), c(2, 9, false, 0, 1)]), Some(2), "the only one not in flight");
        assert_eq!(victim(core::iter::empty::<Candidate<u32>>()), None);
    }

    #[test]
    fn order_is_given_nothing_then_idle_then_source_share() {
        // Given nothing beats everything else, even a longer idle.
        let asked = c(1, 3, false, 50_000, 40);
        let silent = c(2, 0, false, 10, 1);
        assert_eq!(victim([asked, silent]), Some(2));
        // Among those given nothing, the longest idle (by the second).
        let old = c(3, 0, false, 5_000, 1);
        let fresh = c(4, 0, false, 300, 40);
        assert_eq!(victim([fresh, old]), Some(3));
        // Within the same second, the source holding the most.
        let crowd = c(5, 0, false, 1_100, 40);
        let lone = c(6, 0, false, 1_900, 1);
        assert_eq!(victim([lone, crowd]), Some(5));
        assert_eq!(victim([crowd, lone]), Some(5), "whatever the order given");
        // Same second, same share: the exact idle time.
        let a = c(7, 0, false, 1_100, 4);
        let b = c(8, 0, false, 1_900, 4);
        assert_eq!(victim([a, b]), Some(8));
        // Among those that asked: idle longest first, then fewest given is
        // not a criterion of its own (the idle time is).
        assert_eq!(victim([c(9, 1, false, 2_000, 1), c(10, 5, false, 9_000, 1)]), Some(10));
    }

    #[test]
    fn select_takes_the_same_as_victim_one_after_the_other() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..200 {
            let n = (next() % 40) as usize;
            let all: std::vec::Vec<_> = (0..n as u32)
                .map(|id| c(id, (next() % 3) as u32, next() % 5 == 0, next() % 4_000, (next() % 6) as u32))
                .collect();
            let k = (next() % 12) as usize;
            let mut left = all.clone();
            let mut want = std::vec::Vec::new();
            while want.len() < k {
                let Some(v) = victim(left.iter().copied()) else { break };
                want.push(v);
                left.retain(|c| c.id != v);
            }
            let mut got = all.clone();
            let m = select(&mut got, k);
            let mut got: std::vec::Vec<u32> = got[..m].iter().map(|c| c.id).collect();
            got.sort();
            // Equal costs may pick different ids; compare their costs.
            let cost = |id: &u32| all.iter().find(|c| c.id == *id).unwrap().cost();
            let mut a: std::vec::Vec<_> = got.iter().map(cost).collect();
            let mut b: std::vec::Vec<_> = want.iter().map(cost).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "round {round}");
            assert!(got.iter().all(|id| !all.iter().find(|c| c.id == *id).unwrap().in_flight));
        }
    }

    #[test]
    fn a_fresh_valid_client_survives_a_full_house_of_idle_ones() {
        // A host full of bound-and-idle hostile connections, a valid
        // client just bound (idle ~0) and another mid-request.
        let mut all: [Candidate<u32>; 102] = [c(0, 0, false, 0, 0); 102];
        for (i, slot) in all.iter_mut().enumerate().take(100) {
            *slot = c(i as u32, 0, false, 2_000 + i as u64 * 10, 50);
        }
        all[100] = c(100, 0, false, 3, 2);
        all[101] = c(101, 0, true, 0, 2);
        assert_eq!(victim(all), Some(99), "the oldest idle hostile one");
        // Every hostile one shed in turn before the valid ones.
        let mut left: std::vec::Vec<_> = all.to_vec();
        let mut order = std::vec::Vec::new();
        while let Some(v) = victim(left.iter().copied()) {
            order.push(v);
            left.retain(|c| c.id != v);
        }
        assert_eq!(&order[..100], &(0..100).rev().collect::<std::vec::Vec<_>>()[..]);
        assert_eq!(order[100], 100, "the fresh valid one only once no hostile one is left");
        assert_eq!(left.len(), 1, "the one in flight stays");
    }
}
