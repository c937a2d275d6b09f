//! `/metrics`: what the host did since it started, in the Prometheus /
//! OpenMetrics text format (prometheus-client). The registry's counters
//! are the durable `slmgr /dlv` numbers; these are for monitoring.
use std::prelude::rust_2024::String;
use super::store::writer::CommitObserver;
use crate::HResult;
use crate::kms::Version;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

type Labels = [(&'static str, &'static str); 2];
type Label = [(&'static str, &'static str); 1];

pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    pub connections_open: Gauge,
    connections: Family<Label, Counter>,
    closed: Family<Label, Counter>,
    pub answer_seconds: Histogram,
    commit_seconds: Histogram,
    commit_batch: Histogram,
    commit_failures: Counter,
    apply_seconds: Histogram,
    apply_batch: Histogram,
    apply_failures: Counter,
    pub genuine: Family<Label, Gauge>,
    pub rows_in_memory: Gauge,
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    NotAllowed,
    TooMany,
    TooManyFromAddress,
}

impl Denied {
    pub fn label(self) -> &'static str {
        match self {
            Denied::NotAllowed => "not_allowed",
            Denied::TooMany => "max_connections",
            Denied::TooManyFromAddress => "max_per_address",
        }
    }
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("kmsedge");
        let requests = Family::<Labels, Counter>::default();
        registry.register("requests", "Activation requests by KMS protocol version and result", requests.clone());
        let connections_open = Gauge::default();
        registry.register("connections_open", "KMS connections open now", connections_open.clone());
        let connections = Family::<Label, Counter>::default();
        registry.register("connections", "KMS connections by outcome at accept", connections.clone());
        let closed = Family::<Label, Counter>::default();
        registry.register("connections_closed", "KMS connections closed, by reason", closed.clone());
        let answer_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register(
            "answer_seconds",
            "Time from a complete request to its answer, registry commit included",
            answer_seconds.clone(),
        );
        let commit_seconds = Histogram::new(exponential_buckets(0.000_02, 2.0, 16));
        registry.register(
            "registry_commit_seconds",
            "Duration of one registry commit (a journal write that answers wait for)",
            commit_seconds.clone(),
        );
        let commit_batch = Histogram::new(exponential_buckets(1.0, 2.0, 13));
        registry.register("registry_commit_requests", "Requests per registry commit", commit_batch.clone());
        let commit_failures = Counter::default();
        registry.register("registry_commit_failures", "Registry commits that failed", commit_failures.clone());
        let apply_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register(
            "registry_apply_seconds",
            "Duration of one SQLite transaction applying journaled requests",
            apply_seconds.clone(),
        );
        let apply_batch = Histogram::new(exponential_buckets(1.0, 2.0, 16));
        registry.register("registry_apply_requests", "Journaled requests per SQLite transaction", apply_batch.clone());
        let apply_failures = Counter::default();
        registry.register(
            "registry_apply_failures",
            "SQLite transactions that failed (their requests stay journaled and are retried)",
            apply_failures.clone(),
        );
        let genuine = Family::<Label, Gauge>::default();
        registry.register("genuine_count", "Distinct granted CMIDs in 30 days per application", genuine.clone());
        let rows_in_memory = Gauge::default();
        registry.register("counted_rows", "Granted (CMID, KMS id) rows held in memory for counting", rows_in_memory.clone());
        Arc::new(Metrics {
            registry,
            requests,
            connections_open,
            connections,
            closed,
            answer_seconds,
            commit_seconds,
            commit_batch,
            commit_failures,
            apply_seconds,
            apply_batch,
            apply_failures,
            genuine,
            rows_in_memory,
        })
    }

    pub fn request(&self, version: Version, hr: HResult) {
        let v = match version.major {
            4 => "4",
            5 => "5",
            6 => "6",
            _ => "other",
        };
        let result = if hr.is_success() { "granted" } else { hr.name().unwrap_or("other") };
        self.requests.get_or_create(&[("version", v), ("result", result)]).inc();
    }

    /// A request the core could not read (refused with ERROR_INVALID_DATA
    /// before it reached the host; not in the registry).
    pub fn unreadable_request(&self) {
        self.requests.get_or_create(&[("version", "unreadable"), ("result", "ERROR_INVALID_DATA")]).inc();
    }

    /// A connection admitted; `shed`: after shedding another to make room.
    pub fn accepted(&self, shed: bool) {
        let outcome = if shed { "accepted_after_shedding" } else { "accepted" };
        self.connections.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// An activation refused by its address's rate limit.
    pub fn rate_limited(&self) {
        self.requests.get_or_create(&[("version", "any"), ("result", "rate_limited")]).inc();
    }

    pub fn denied(&self, why: Denied) {
        self.connections.get_or_create(&[("outcome", why.label())]).inc();
    }

    pub fn closed(&self, reason: &'static str) {
        self.closed.get_or_create(&[("reason", reason)]).inc();
    }

    pub fn encode(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut s, &self.registry);
        s
    }
}

/// The registry writers report each commit and apply here.
#[derive(Clone)]
pub struct CommitMetrics(pub Arc<Metrics>);

impl CommitObserver for CommitMetrics {
    fn committed(&self, batch: usize, took: Duration, ok: bool) {
        self.0.commit_seconds.observe(took.as_secs_f64());
        self.0.commit_batch.observe(batch as f64);
        if !ok {
            self.0.commit_failures.inc();
        }
    }
    fn applied(&self, batch: usize, took: Duration, ok: bool) {
        self.0.apply_seconds.observe(took.as_secs_f64());
        self.0.apply_batch.observe(batch as f64);
        if !ok {
            self.0.apply_failures.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;

    #[test]
    fn text_format_names_every_family() {
        let m = Metrics::new();
        m.request(Version::V6, HResult::S_OK);
        m.request(Version::V6, HResult::S_OK);
        m.request(Version::V4, HResult::INVALID_TIMESTAMP);
        m.accepted(false);
        m.accepted(true);
        m.denied(Denied::NotAllowed);
        m.closed("idle_timeout");
        CommitMetrics(m.clone()).committed(3, Duration::from_micros(50), false);
        let t = m.encode();
        assert!(t.contains("kmsedge_requests_total{version=\"6\",result=\"granted\"} 2"), "{t}");
        assert!(t.contains("kmsedge_requests_total{version=\"4\",result=\"SL_E_VL_INVALID_TIMESTAMP\"} 1"), "{t}");
        assert!(t.contains("kmsedge_connections_total{outcome=\"not_allowed\"} 1"), "{t}");
        assert!(t.contains("kmsedge_connections_total{outcome=\"accepted_after_shedding\"} 1"), "{t}");
        assert!(t.contains("kmsedge_connections_closed_total{reason=\"idle_timeout\"} 1"), "{t}");
        assert!(t.contains("kmsedge_registry_commit_requests_count 1"), "{t}");
        assert!(t.contains("kmsedge_registry_commit_failures_total 1"), "{t}");
        assert!(t.ends_with("# EOF\n"));
    }
}
