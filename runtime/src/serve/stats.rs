//! What `iotrules run` reports: Prometheus metrics, and a one-line summary on the console.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use metrics::{counter, histogram};

use crate::actions::ActionsReport;
use crate::report::count;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

const MESSAGES_IN: &str = "iotrules_messages_in_total";
const EVALUATION_FAILURES: &str = "iotrules_evaluation_failures_total";
const RULE_MATCHES: &str = "iotrules_rule_matches_total";
const ACTION_SUCCESSES: &str = "iotrules_action_successes_total";
const ACTION_FAILURES: &str = "iotrules_action_failures_total";
const EVALUATION_SECONDS: &str = "iotrules_evaluation_seconds";
const RELOADS: &str = "iotrules_reloads_total";
const ERROR_ACTIONS: &str = "iotrules_error_actions_total";

/// Evaluation takes from well under a microsecond to milliseconds for large payloads.
const EVALUATION_BUCKETS: &[f64] =
    &[250e-9, 500e-9, 1e-6, 2.5e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 1e-3, 10e-3];

/// Serves `/metrics` on `address`.
pub(crate) fn install_prometheus(address: SocketAddr) -> Result<(), String> {
    PrometheusBuilder::new()
        .with_http_listener(address)
        .set_buckets_for_metric(Matcher::Full(EVALUATION_SECONDS.to_owned()), EVALUATION_BUCKETS)
        .and_then(PrometheusBuilder::install)
        .map_err(|error| format!("cannot serve metrics on {address}: {error}"))
}

/// Totals since start, for the console summary; the same events go to the metrics.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    messages_in: AtomicU64,
    matched: AtomicU64,
    actions_ok: AtomicU64,
    actions_failed: AtomicU64,
    evaluation_failures: AtomicU64,
    evaluation_nanos: AtomicU64,
}

impl Stats {
    pub(crate) fn message_in(&self) {
        self.messages_in.fetch_add(1, Relaxed);
        counter!(MESSAGES_IN).increment(1);
    }

    pub(crate) fn evaluated(&self, took: Duration) {
        self.evaluation_nanos.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        histogram!(EVALUATION_SECONDS).record(took.as_secs_f64());
    }

    pub(crate) fn evaluation_failed(&self) {
        self.evaluation_failures.fetch_add(1, Relaxed);
        counter!(EVALUATION_FAILURES).increment(1);
    }

    pub(crate) fn matched(&self, rule: &str) {
        self.matched.fetch_add(1, Relaxed);
        counter!(RULE_MATCHES, "rule" => rule.to_owned()).increment(1);
    }

    pub(crate) fn actions_done(&self, rule: &str, report: &ActionsReport) {
        let (succeeded, failed) = (report.succeeded as u64, report.failures.len() as u64);
        match &report.error_action {
            Some(Ok(())) => counter!(ERROR_ACTIONS, "rule" => rule.to_owned(), "result" => "ok").increment(1),
            Some(Err(_)) => counter!(ERROR_ACTIONS, "rule" => rule.to_owned(), "result" => "failed").increment(1),
            None => {}
        }
        self.actions_ok.fetch_add(succeeded, Relaxed);
        self.actions_failed.fetch_add(failed, Relaxed);
        if succeeded > 0 {
            counter!(ACTION_SUCCESSES, "rule" => rule.to_owned()).increment(succeeded);
        }
        if failed > 0 {
            counter!(ACTION_FAILURES, "rule" => rule.to_owned()).increment(failed);
        }
    }

    pub(crate) fn reloaded(&self) {
        counter!(RELOADS, "result" => "ok").increment(1);
    }

    pub(crate) fn reload_failed(&self) {
        counter!(RELOADS, "result" => "refused").increment(1);
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            messages_in: self.messages_in.load(Relaxed),
            matched: self.matched.load(Relaxed),
            actions_ok: self.actions_ok.load(Relaxed),
            actions_failed: self.actions_failed.load(Relaxed),
            evaluation_failures: self.evaluation_failures.load(Relaxed),
            evaluation_nanos: self.evaluation_nanos.load(Relaxed),
        }
    }

    /// The totals, printed once when iotrules stops.
    pub(crate) fn print_summary(&self) {
        let now = self.snapshot();
        crate::logging::console(&format!(
            "iotrules: {}, {}, {} succeeded, {} failed, {} not evaluated",
            count(now.messages_in, "message", "messages"),
            count(now.matched, "rule match", "rule matches"),
            count(now.actions_ok, "action", "actions"),
            now.actions_failed,
            now.evaluation_failures
        ));
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Snapshot {
    messages_in: u64,
    matched: u64,
    actions_ok: u64,
    actions_failed: u64,
    evaluation_failures: u64,
    evaluation_nanos: u64,
}

/// Logs one line every `every` while messages flow.
pub(crate) async fn summarize(stats: Arc<Stats>, every: Duration) {
    let mut last = Snapshot::default();
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        let now = stats.snapshot();
        if now.messages_in == last.messages_in {
            continue;
        }
        let seconds = since.elapsed().as_secs_f64();
        let messages = now.messages_in - last.messages_in;
        let mean_ns = (now.evaluation_nanos - last.evaluation_nanos) / messages.max(1);
        tracing::info!(
            "{messages} messages ({:.0}/s), {} matches, {} actions ok, {} failed, evaluation {mean_ns} ns/message",
            messages as f64 / seconds,
            now.matched - last.matched,
            now.actions_ok - last.actions_ok,
            now.actions_failed - last.actions_failed,
        );
        last = now;
        since = Instant::now();
    }
}
