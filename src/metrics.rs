//! What this instance counts as it works, for Prometheus: invokes and proxy calls by service and
//! status class with their latency, token refreshes by outcome, webhook and email deliveries by outcome, and (in
//! `cache`) cache hits and misses. The counters
//! are atomics that the request path bumps without allocating; a scrape copies them, adds what it
//! reads at that moment (connections by status, the database pools, see `exposition`) and has
//! `prometheus-client` write the text format.

mod exposition;
mod histogram;

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use exposition::{CONTENT_TYPE, Scraped, render};
use histogram::Histogram;

/// The status classes of an invoke's answer; `error`: no answer from the service (refused,
/// unreachable, timed out, no token to be had).
pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];

/// How a token refresh ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// New tokens.
    Success,
    /// The provider rejected the grant: the connection needs reconnecting.
    Rejected,
    /// The provider refused the service's client credentials.
    ClientRefused,
    /// A passing failure (unreachable, timed out, a 5xx); tried again later.
    Failed,
    /// The provider throttled token requests (a 429): the service paused, nothing failed.
    RateLimited,
}

impl RefreshOutcome {
    pub const ALL: [RefreshOutcome; 5] = [
        RefreshOutcome::Success,
        RefreshOutcome::Rejected,
        RefreshOutcome::ClientRefused,
        RefreshOutcome::Failed,
        RefreshOutcome::RateLimited,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RefreshOutcome::Success => "success",
            RefreshOutcome::Rejected => "rejected",
            RefreshOutcome::ClientRefused => "client_refused",
            RefreshOutcome::Failed => "failed",
            RefreshOutcome::RateLimited => "rate_limited",
        }
    }
}

/// How one attempt to deliver a webhook or an email ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver took it (a 2xx, or the mail server accepted it).
    Delivered,
    /// It failed and is tried again later.
    Retrying,
    /// It failed for the last time (retries spent, or the endpoint is disabled).
    Failed,
}

impl DeliveryOutcome {
    pub const ALL: [DeliveryOutcome; 3] =
        [DeliveryOutcome::Delivered, DeliveryOutcome::Retrying, DeliveryOutcome::Failed];

    pub fn label(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retrying => "retrying",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// One service's invokes: a count per status class and the latency of all of them.
#[derive(Default)]
struct ServiceSeries {
    by_class: [AtomicU64; STATUS_CLASSES.len()],
    latency: Histogram,
}

/// Calls through connections by service link name. A service is added at its first call and stays
/// until the process ends (counters never go back); looked up by `&str`, so a call allocates
/// nothing here.
#[derive(Default)]
struct Calls(RwLock<HashMap<String, ServiceSeries>>);

impl Calls {
    fn record(&self, service: &str, status: Option<u16>, elapsed: Duration) {
        let record = |series: &ServiceSeries| {
            series.by_class[class_of(status)].fetch_add(1, Ordering::Relaxed);
            series.latency.observe(elapsed);
        };
        {
            let known = self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(series) = known.get(service) {
                return record(series);
            }
        }
        let mut all = self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        record(all.entry(service.to_owned()).or_default());
    }
}

/// This instance's counters (one per `AppState`).
#[derive(Default)]
pub struct Metrics {
    invokes: Calls,
    proxied: Calls,
    refreshes: [AtomicU64; RefreshOutcome::ALL.len()],
    deliveries: [AtomicU64; DeliveryOutcome::ALL.len()],
}

/// The index in `STATUS_CLASSES` of an HTTP status, or of no answer.
fn class_of(status: Option<u16>) -> usize {
    match status {
        Some(s @ 100..=599) => usize::from(s / 100 - 1),
        _ => STATUS_CLASSES.len() - 1,
    }
}

impl Metrics {
    /// Counts an invoke through `service` that the service answered with `status` (`None`: no
    /// answer) after `elapsed`.
    pub fn invoked(&self, service: &str, status: Option<u16>, elapsed: Duration) {
        self.invokes.record(service, status, elapsed);
    }

    /// Counts a proxy call through `service` that the service answered with `status` (`None`: no
    /// answer) after `elapsed` (until the answer's head: its body streams on).
    pub fn proxied(&self, service: &str, status: Option<u16>, elapsed: Duration) {
        self.proxied.record(service, status, elapsed);
    }

    /// Counts a token refresh that ended with `outcome`.
    pub fn refreshed(&self, outcome: RefreshOutcome) {
        self.refreshes[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a delivery attempt that ended with `outcome`.
    pub fn delivered(&self, outcome: DeliveryOutcome) {
        self.deliveries[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_falls_in_its_class_and_no_answer_in_error() {
        let classes: Vec<&str> =
            [Some(101), Some(200), Some(399), Some(404), Some(599), Some(600), None, Some(0)]
                .into_iter()
                .map(|s| STATUS_CLASSES[class_of(s)])
                .collect();
        assert_eq!(classes, ["1xx", "2xx", "3xx", "4xx", "5xx", "error", "error", "error"]);
    }
}
