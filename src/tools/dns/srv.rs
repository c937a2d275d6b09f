//! The order in which a client tries the hosts of an SRV RRset (RFC 2782,
//! "Usage rules"; kms-protocol.md §8.9): every host of the lowest priority
//! first, and among hosts of equal priority a weighted random order, where
//! a host's chance to come next is proportional to its weight (weight-0
//! hosts get a small chance, as the RFC's algorithm gives them).
use std::prelude::rust_2024::{String, Vec};
use rand::{Rng, RngExt, seq::SliceRandom};
use serde::{Deserialize, Serialize};

/// One SRV record's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrvTarget {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// Fully qualified, with the final dot.
    pub target: String,
}

impl SrvTarget {
    /// RFC 2782: a target of "." means the service is decidedly not
    /// available in this domain.
    pub fn is_service_refusal(&self) -> bool {
        self.target == "." || self.target.is_empty()
    }
}

/// Orders `records` the way RFC 2782 tells a client to try them. Uses
/// `rng` only, so a seeded generator gives a repeatable order.
pub fn order<R: Rng + ?Sized>(records: &[SrvTarget], rng: &mut R) -> Vec<SrvTarget> {
    let mut by_priority: Vec<SrvTarget> = records.to_vec();
    by_priority.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    for group in by_priority.chunk_by(|a, b| a.priority == b.priority) {
        let mut left: Vec<SrvTarget> = group.to_vec();
        // "in any order, except that all those with weight 0 are placed at
        // the beginning": a random order first, so that equal weights
        // (all zero included) are tried in a uniformly random order.
        left.shuffle(rng);
        left.sort_by_key(|r| r.weight != 0);
        while !left.is_empty() {
            let total: u32 = left.iter().map(|r| u32::from(r.weight)).sum();
            let pick = rng.random_range(0..=total);
            let mut running = 0u32;
            let mut chosen = left.len() - 1;
            for (i, r) in left.iter().enumerate() {
                running += u32::from(r.weight);
                if running >= pick {
                    chosen = i;
                    break;
                }
            }
            out.push(left.remove(chosen));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::{format, vec};
    use rand::rngs::StdRng;

    fn t(priority: u16, weight: u16, name: &str) -> SrvTarget {
        SrvTarget { priority, weight, port: 1688, target: format!("{name}.kms.test.") }
    }

    fn names(v: &[SrvTarget]) -> Vec<&str> {
        v.iter().map(|r| r.target.split('.').next().unwrap()).collect()
    }

    #[test]
    fn lower_priority_always_comes_first_whatever_the_weights() {
        let recs = [t(20, 65535, "c"), t(0, 0, "a1"), t(10, 1, "b"), t(0, 0, "a2"), t(20, 0, "d")];
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..500 {
            let o = order(&recs, &mut rng);
            assert_eq!(o.len(), recs.len());
            let prios: Vec<u16> = o.iter().map(|r| r.priority).collect();
            assert_eq!(prios, [0, 0, 10, 20, 20]);
            let n = names(&o);
            assert!(n[..2].contains(&"a1") && n[..2].contains(&"a2"));
            assert_eq!(n[2], "b");
        }
    }

    #[test]
    fn empty_and_single() {
        let mut rng = StdRng::seed_from_u64(2);
        assert!(order(&[], &mut rng).is_empty());
        assert_eq!(order(&[t(5, 0, "x")], &mut rng), [t(5, 0, "x")]);
    }

    /// Counts how often each host is tried first over `draws` orders and
    /// checks every count against its RFC 2782 probability within 5
    /// standard deviations (a seeded RNG: deterministic, and a correct
    /// implementation passes for any seed with overwhelming probability).
    fn first_pick_rates(recs: &[SrvTarget], expected: &[f64], seed: u64) {
        const DRAWS: u32 = 60_000;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut counts = vec![0u32; recs.len()];
        for _ in 0..DRAWS {
            let first = &order(recs, &mut rng)[0];
            counts[recs.iter().position(|r| r == first).unwrap()] += 1;
        }
        for (i, &p) in expected.iter().enumerate() {
            let n = f64::from(DRAWS);
            let mean = n * p;
            let sd = (n * p * (1.0 - p)).sqrt().max(1.0);
            let got = f64::from(counts[i]);
            assert!((got - mean).abs() <= 5.0 * sd, "{}: {got} first picks, expected {mean:.0} ± {:.0} ({counts:?})", recs[i].target, 5.0 * sd);
        }
    }

    #[test]
    fn weights_share_the_first_pick_in_proportion() {
        // The pick is uniform over the 0..=100 (101 values); a host wins
        // its weight's worth of them, and the host that the shuffle put
        // first (each with chance 1/3) also wins the value 0.
        let recs = [t(0, 10, "a"), t(0, 30, "b"), t(0, 60, "c")];
        let p = |w: f64| (w + 1.0 / 3.0) / 101.0;
        first_pick_rates(&recs, &[p(10.0), p(30.0), p(60.0)], 7);
        // Another seed, other proportions: 0..=4.
        let recs = [t(3, 1, "a"), t(3, 1, "b"), t(3, 2, "c")];
        let p = |w: f64| (w + 1.0 / 3.0) / 5.0;
        first_pick_rates(&recs, &[p(1.0), p(1.0), p(2.0)], 8);
    }

    #[test]
    fn a_weight_zero_host_is_rarely_first_and_equal_zeros_are_uniform() {
        // The zero-weight host sits first and wins only a pick of 0.
        first_pick_rates(&[t(0, 0, "z"), t(0, 100, "w")], &[1.0 / 101.0, 100.0 / 101.0], 9);
        // All zero: the shuffle makes every order equally likely.
        first_pick_rates(&[t(0, 0, "a"), t(0, 0, "b"), t(0, 0, "c")], &[1.0 / 3.0; 3], 10);
    }

    #[test]
    fn heavier_hosts_come_earlier_over_the_whole_order() {
        // Second place: with weights 1 and 99 among three, the light host
        // is most often last.
        let recs = [t(0, 1, "light"), t(0, 99, "heavy"), t(0, 50, "mid")];
        let mut rng = StdRng::seed_from_u64(11);
        let mut light_last = 0;
        for _ in 0..10_000 {
            if names(&order(&recs, &mut rng))[2] == "light" {
                light_last += 1;
            }
        }
        assert!(light_last > 9_500, "light host last in {light_last} of 10000 orders");
    }

    #[test]
    fn service_refusal() {
        assert!(SrvTarget { priority: 0, weight: 0, port: 0, target: ".".into() }.is_service_refusal());
        assert!(!t(0, 0, "a").is_service_refusal());
    }
}
