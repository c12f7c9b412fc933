//! Lanes: every action of every rule gets its own bounded queue and its own concurrency, so a
//! slow or hanging endpoint holds up only its own action.
//!
//! A lane admits at most `concurrency` runs of its action at once; further runs wait in its
//! queue, which holds at most `capacity`. A run that finds the queue full fails at once (into
//! the rule's error action, as any failure does), is counted, and is logged at most once per
//! interval per lane, so a dead endpoint costs a bounded amount of memory and log.
//!
//! Lanes are keyed by the rule's name and the action as written, so a reload that keeps an
//! action keeps its lane (and the runs already queued on it) instead of doubling its
//! concurrency.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use metrics::{counter, gauge};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many runs of one action may be in progress and waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LaneLimits {
    pub(crate) concurrency: usize,
    pub(crate) capacity: usize,
}

impl Default for LaneLimits {
    fn default() -> Self {
        LaneLimits { concurrency: 256, capacity: 10_000 }
    }
}

/// A lane logs its full queue, and its action's failures, at most this often.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Lets a log line through at most once per [`LOG_INTERVAL`], counting those held back, so a
/// failing endpoint at thousands of messages a second costs a line every ten seconds.
#[derive(Debug, Default)]
struct Throttle {
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    /// `Some(how many were held back since the last one)` when this one may be logged.
    fn admit(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, held_back) = &mut *state;
        if last.is_some_and(|at| at.elapsed() < LOG_INTERVAL) {
            *held_back += 1;
            return None;
        }
        *last = Some(Instant::now());
        Some(std::mem::take(held_back))
    }
}

/// One action's queue.
#[derive(Debug)]
pub(crate) struct Lane {
    /// `rule`, and the action's position and type, for logs and metrics: `2:http`, `error:republish`.
    pub(crate) rule: String,
    pub(crate) action: String,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    capacity: usize,
    refused: AtomicU64,
    full_log: Throttle,
    failure_log: Throttle,
    /// Registered once: a metric looked up by name and labels costs allocations each time.
    depth_gauge: metrics::Gauge,
    full_counter: metrics::Counter,
}

/// A place on a lane: held while the action runs.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// Why a run got no place on its lane.
#[derive(Debug)]
pub(crate) struct QueueFull {
    pub(crate) capacity: usize,
}

impl Lane {
    fn new(rule: &str, action: &str, limits: LaneLimits) -> Lane {
        Lane {
            rule: rule.to_owned(),
            action: action.to_owned(),
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            capacity: limits.capacity,
            refused: AtomicU64::new(0),
            full_log: Throttle::default(),
            failure_log: Throttle::default(),
            depth_gauge: gauge!(QUEUE_DEPTH, "rule" => rule.to_owned(), "action" => action.to_owned()),
            full_counter: counter!(QUEUE_FULL, "rule" => rule.to_owned(), "action" => action.to_owned()),
        }
    }

    /// A place now, if one is free.
    pub(crate) fn try_slot(&self) -> Option<Slot> {
        self.permits.clone().try_acquire_owned().ok().map(|permit| Slot { _permit: permit })
    }

    /// A place, waiting in the queue for it; `Err` at once when the queue is full.
    pub(crate) async fn slot(&self) -> Result<Slot, QueueFull> {
        if let Some(slot) = self.try_slot() {
            return Ok(slot);
        }
        let queued = self.waiting.fetch_add(1, Ordering::Relaxed);
        if queued >= self.capacity {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            self.refuse();
            return Err(QueueFull { capacity: self.capacity });
        }
        self.depth_changed();
        let permit = self.permits.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        self.depth_changed();
        // The semaphore is never closed, so waiting ends with a permit.
        permit.map(|permit| Slot { _permit: permit }).map_err(|_| QueueFull { capacity: self.capacity })
    }

    /// Runs waiting for a place.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    fn depth_changed(&self) {
        self.depth_gauge.set(self.waiting() as f64);
    }

    fn refuse(&self) {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        self.full_counter.increment(1);
        if self.full_log.admit().is_some() {
            tracing::warn!(
                rule = %self.rule,
                action = %self.action,
                capacity = self.capacity,
                refused_so_far = refused,
                "the action's queue is full: its runs fail into the error action until it drains"
            );
        }
    }
}

impl Lane {
    /// Logs a failure of this lane's action (every one is counted in the metrics and reported
    /// to the error action): the first at once, then at most one line per interval.
    pub(crate) fn log_failure(&self, resource: &str, error: &str) {
        if let Some(held_back) = self.failure_log.admit() {
            tracing::warn!(
                rule = %self.rule,
                action = %self.action,
                resource,
                error,
                more_since_last_line = held_back,
                "action failed"
            );
        }
    }
}

/// `iotrules_action_queue_depth{rule,action}`: runs waiting for a place.
pub(crate) const QUEUE_DEPTH: &str = "iotrules_action_queue_depth";
/// `iotrules_action_queue_full_total{rule,action}`: runs refused because the queue was full.
pub(crate) const QUEUE_FULL: &str = "iotrules_action_queue_full_total";

/// Every lane in use, found again by key across reloads.
#[derive(Debug, Default)]
pub(crate) struct Lanes {
    limits: LaneLimits,
    lanes: Mutex<HashMap<String, Weak<Lane>>>,
}

impl Lanes {
    pub(crate) fn new(limits: LaneLimits) -> Lanes {
        Lanes { limits, lanes: Mutex::default() }
    }

    /// The lane of `action` (position and type, as shown) of `rule`, written as `spec`: the
    /// existing one when the same action of the same rule still has one.
    pub(crate) fn lane(&self, rule: &str, action: &str, spec: &str) -> Arc<Lane> {
        let key = format!("{rule}\u{0}{action}\u{0}{spec}");
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lane) = lanes.get(&key).and_then(Weak::upgrade) {
            return lane;
        }
        // Forget lanes nobody uses any more, so reloads do not accumulate them.
        lanes.retain(|_, lane| lane.strong_count() > 0);
        let lane = Arc::new(Lane::new(rule, action, self.limits));
        lanes.insert(key, Arc::downgrade(&lane));
        lane
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lane_admits_its_concurrency_queues_its_capacity_and_refuses_the_rest() {
        let lanes = Lanes::new(LaneLimits { concurrency: 2, capacity: 1 });
        let lane = lanes.lane("r", "0:http", "{}");
        let first = lane.slot().await.unwrap();
        let _second = lane.slot().await.unwrap();
        assert!(lane.try_slot().is_none());
        let waiting = {
            let lane = lane.clone();
            tokio::spawn(async move { lane.slot().await.map(|_| ()) })
        };
        while lane.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(lane.slot().await, Err(QueueFull { capacity: 1 })), "the queue holds one");
        drop(first);
        waiting.await.unwrap().unwrap();
        assert_eq!(lane.waiting(), 0);
    }

    #[test]
    fn the_same_action_keeps_its_lane_across_reloads() {
        let lanes = Lanes::new(LaneLimits::default());
        let lane = lanes.lane("r", "0:http", "{\"url\":\"a\"}");
        assert!(Arc::ptr_eq(&lane, &lanes.lane("r", "0:http", "{\"url\":\"a\"}")));
        assert!(!Arc::ptr_eq(&lane, &lanes.lane("r", "0:http", "{\"url\":\"b\"}")));
        assert!(!Arc::ptr_eq(&lane, &lanes.lane("s", "0:http", "{\"url\":\"a\"}")));
    }
}
