//! A scrape: the counters copied, what was read at that moment, and each family written by
//! `prometheus-client` in the Prometheus text format. The series are listed in the README.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::histogram::Snapshot;
use super::{DeliveryOutcome, Metrics, RefreshOutcome, STATUS_CLASSES};

/// The content type of what `render` writes.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// What a scrape reads besides the counters, at the moment of the scrape.
#[derive(Debug, Clone, Default)]
pub struct Scraped {
    /// Connections per status value.
    pub connections: Vec<(String, i64)>,
    /// Per pool (`write`, `read`): connections in use and idle.
    pub pools: Vec<(&'static str, u32, u32)>,
    /// Requests waiting for a pooled connection right now.
    pub waiting: u64,
    /// Per instance cache (`session`, `token`, `connection`): hits and misses so far; empty when
    /// this instance has no cache.
    pub cache: Vec<(&'static str, u64, u64)>,
}

/// One kind of call's series: per service, a count per status class and the latency.
type CallSeries = Vec<(String, [u64; STATUS_CLASSES.len()], Snapshot)>;

/// Everything one scrape writes.
#[derive(Debug)]
struct Exposition {
    invokes: CallSeries,
    proxied: CallSeries,
    refreshes: Vec<(&'static str, u64)>,
    deliveries: Vec<(&'static str, u64)>,
    scraped: Scraped,
}

/// The Prometheus text exposition of `metrics` and `scraped`.
pub fn render(metrics: &Metrics, scraped: Scraped) -> Result<String, std::fmt::Error> {
    let (invokes, proxied) = (copy(&metrics.invokes), copy(&metrics.proxied));
    let refreshes = RefreshOutcome::ALL
        .iter()
        .map(|o| (o.label(), metrics.refreshes[*o as usize].load(std::sync::atomic::Ordering::Relaxed)))
        .collect();
    let deliveries = DeliveryOutcome::ALL
        .iter()
        .map(|o| (o.label(), metrics.deliveries[*o as usize].load(std::sync::atomic::Ordering::Relaxed)))
        .collect();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition { invokes, proxied, refreshes, deliveries, scraped }));
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

/// The series of one kind of call, sorted by service.
fn copy(calls: &super::Calls) -> CallSeries {
    let mut series: CallSeries = {
        let all = calls.0.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        all.iter()
            .map(|(service, series)| {
                let by_class =
                    std::array::from_fn(|i| series.by_class[i].load(std::sync::atomic::Ordering::Relaxed));
                (service.clone(), by_class, series.latency.snapshot())
            })
            .collect()
    };
    series.sort_by(|a, b| a.0.cmp(&b.0));
    series
}

type Fmt = Result<(), std::fmt::Error>;

/// A count family by service and status class, and a latency histogram family by service.
fn calls(encoder: &mut DescriptorEncoder, names: [(&str, &str); 2], series: &CallSeries) -> Fmt {
    let mut family = encoder.encode_descriptor(names[0].0, names[0].1, None, MetricType::Counter)?;
    for (service, by_class, _) in series {
        for (class, n) in STATUS_CLASSES.iter().zip(by_class).filter(|(_, n)| **n > 0) {
            counter(&mut family, &[("service", service), ("status_class", class)], *n)?;
        }
    }
    let mut family = encoder.encode_descriptor(names[1].0, names[1].1, None, MetricType::Histogram)?;
    for (service, _, latency) in series {
        family.encode_family(&[("service", service.as_str())])?.encode_histogram::<NoLabelSet>(
            latency.sum_secs,
            latency.count,
            &latency.buckets,
            None,
        )?;
    }
    Ok(())
}

/// A counter of one label set.
fn counter(encoder: &mut prometheus_client::encoding::MetricEncoder, labels: &[(&str, &str)], n: u64) -> Fmt {
    ConstCounter::new(n).encode(encoder.encode_family(&labels)?)
}

/// A gauge of one label set.
fn gauge(encoder: &mut prometheus_client::encoding::MetricEncoder, labels: &[(&str, &str)], n: i64) -> Fmt {
    ConstGauge::new(n).encode(encoder.encode_family(&labels)?)
}

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Fmt {
        calls(
            &mut encoder,
            [
                (
                    "connections_invokes",
                    "Invokes by service link name and the status class of the service's answer (error: none)",
                ),
                (
                    "connections_invoke_duration_seconds",
                    "Time from an invoke's start to the service's answer (or the failure), by service",
                ),
            ],
            &self.invokes,
        )?;
        calls(
            &mut encoder,
            [
                (
                    "connections_proxy_calls",
                    "Proxy calls by service link name and the status class of the service's answer (error: none)",
                ),
                (
                    "connections_proxy_duration_seconds",
                    "Time from a proxy call's start to the head of the service's answer (or the failure), by \
                     service",
                ),
            ],
            &self.proxied,
        )?;
        let mut family = encoder.encode_descriptor(
            "connections_token_refreshes",
            "OAuth2 token refreshes by outcome",
            None,
            MetricType::Counter,
        )?;
        for (outcome, n) in &self.refreshes {
            counter(&mut family, &[("outcome", outcome)], *n)?;
        }
        let mut family = encoder.encode_descriptor(
            "connections_webhook_deliveries",
            "Webhook and email alert delivery attempts by outcome",
            None,
            MetricType::Counter,
        )?;
        for (outcome, n) in &self.deliveries {
            counter(&mut family, &[("outcome", outcome)], *n)?;
        }
        let mut family = encoder.encode_descriptor(
            "connections_connections",
            "Connections by status, read at the scrape",
            None,
            MetricType::Gauge,
        )?;
        for (status, n) in &self.scraped.connections {
            gauge(&mut family, &[("status", status)], *n)?;
        }
        let mut family = encoder.encode_descriptor(
            "connections_db_pool_connections",
            "Database connections per pool and state",
            None,
            MetricType::Gauge,
        )?;
        for (pool, in_use, idle) in &self.scraped.pools {
            gauge(&mut family, &[("pool", pool), ("state", "in_use")], i64::from(*in_use))?;
            gauge(&mut family, &[("pool", pool), ("state", "idle")], i64::from(*idle))?;
        }
        let family = encoder.encode_descriptor(
            "connections_db_pool_waiting",
            "Requests waiting for a database connection",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(self.scraped.waiting as i64).encode(family)?;
        let mut family = encoder.encode_descriptor(
            "connections_cache_lookups",
            "Look-ups in this instance's caches by cache and result",
            None,
            MetricType::Counter,
        )?;
        for (cache, hits, misses) in &self.scraped.cache {
            counter(&mut family, &[("cache", cache), ("result", "hit")], *hits)?;
            counter(&mut family, &[("cache", cache), ("result", "miss")], *misses)?;
        }
        Ok(())
    }
}
