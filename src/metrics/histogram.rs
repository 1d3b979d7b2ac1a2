//! A latency histogram of atomic counters: `observe` adds to one bucket and the sum without a lock
//! (`prometheus-client`'s own histogram takes a mutex on every observation).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: from a local service's few milliseconds to the longest
/// timeout an invoke may ask for (60 s).
pub const BOUNDS: [f64; 13] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Observations per bucket (the last one past every bound) and their sum.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

/// A histogram as a scrape copied it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `(upper bound, observations in this bucket alone)`, the last bound infinite.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_secs: f64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let bucket = BOUNDS.iter().position(|bound| secs <= *bound).unwrap_or(BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The count is the buckets' total, so that a scrape during an observation stays consistent.
    pub fn snapshot(&self) -> Snapshot {
        let buckets: Vec<(f64, u64)> = BOUNDS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(&self.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        Snapshot { buckets, count, sum_secs: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_observation_lands_in_the_first_bucket_that_holds_it() {
        let h = Histogram::default();
        for ms in [1, 5, 6, 70_000] {
            h.observe(Duration::from_millis(ms));
        }
        let s = h.snapshot();
        assert_eq!((s.buckets[0], s.buckets[1]), ((0.005, 2), (0.01, 1)));
        assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert_eq!(s.count, 4);
        assert!((s.sum_secs - 70.012).abs() < 1e-9, "{}", s.sum_secs);
    }
}
