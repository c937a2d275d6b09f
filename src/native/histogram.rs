//! A fixed-size log-linear latency histogram (the HdrHistogram layout with
//! 64 sub-buckets per power of two): recording is an index computation and
//! an increment, never an allocation, and the relative error of any
//! percentile is below 1/64 (1.6 %). `bench` keeps a few of these and
//! merges them at the end instead of storing every sample.

/// Values are nanoseconds; anything above 2^40 ns (18 minutes) is clamped.
const MAX_BITS: u32 = 40;
const SUB: u64 = 64;
const BUCKETS: usize = (2 * SUB) as usize + (MAX_BITS as usize - 7) * SUB as usize;

#[derive(Clone)]
pub struct Histogram {
    counts: std::boxed::Box<[u64]>,
    total: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl core::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Histogram(n={}, max={})", self.total, self.max)
    }
}

/// Values below 128 have their own bucket; above, each power of two
/// [2^k, 2^(k+1)) is split into 64 equal buckets.
fn index(v: u64) -> usize {
    if v < 2 * SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - 6;
    (2 * SUB + (shift as u64 - 1) * SUB + ((v >> shift) - SUB)) as usize
}

/// The largest value that falls into bucket `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < 2 * SUB {
        return i;
    }
    let shift = (i - 2 * SUB) / SUB + 1;
    let top = (i - 2 * SUB) % SUB + SUB;
    ((top + 1) << shift) - 1
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram { counts: std::vec![0; BUCKETS].into_boxed_slice(), total: 0, max: 0, sum: 0 }
    }

    pub fn record(&mut self, v: u64) {
        let v = v.min((1 << MAX_BITS) - 1);
        self.counts[index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
        self.sum += u128::from(v);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.sum as f64 / self.total as f64 }
    }

    /// The smallest recorded bucket bound with at least `q` (0..=1) of the
    /// values at or below it; 0 when empty. Never above the true maximum.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut prev = None;
        for i in 0..BUCKETS {
            let hi = upper(i);
            if let Some(p) = prev {
                assert_eq!(index(p + 1), i, "value {} after bucket {}", p + 1, i - 1);
            }
            assert_eq!(index(hi), i);
            prev = Some(hi);
        }
        assert_eq!(upper(BUCKETS - 1), (1 << MAX_BITS) - 1);
        for v in [128u64, 1000, 123_456, 9_999_999_999] {
            let i = index(v);
            let lo = if i == 0 { 0 } else { upper(i - 1) + 1 };
            assert!(lo <= v && v <= upper(i));
            assert!((upper(i) - lo) as f64 / v as f64 <= 1.0 / 64.0 + 1e-9, "{v}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.5), 0);
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let near = |a: u64, b: u64| (a as f64 - b as f64).abs() / b as f64 <= 1.0 / 64.0;
        assert!(near(h.quantile(0.5), 500_000), "{}", h.quantile(0.5));
        assert!(near(h.quantile(0.99), 990_000), "{}", h.quantile(0.99));
        assert_eq!(h.quantile(1.0), 1_000_000);
        assert_eq!(h.max(), 1_000_000);
        let mut g = Histogram::new();
        g.record(5_000_000);
        h.merge(&g);
        assert_eq!(h.count(), 1001);
        assert_eq!(h.quantile(1.0), 5_000_000);
        assert!((h.mean() - (500_500_000.0 + 5_000_000.0) / 1001.0).abs() < 1.0);
        h.record(u64::MAX);
        assert_eq!(h.max(), (1 << MAX_BITS) - 1);
    }
}
