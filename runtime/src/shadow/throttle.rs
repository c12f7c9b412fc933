//! AWS's request rate for the Device Shadow service: 20 requests a second per thing (all its
//! shadows together); past it a request is rejected with 429. Pure: the caller gives the time.
//!
//! A token bucket per thing, holding at most one second of requests and refilled continuously,
//! so a burst of 20 passes and the long-run rate is 20 a second. AWS does not say how it
//! measures the rate; this is the usual reading of "requests per second", and the rate is a
//! setting ([`super::service::Limits::requests_per_second`]).

use std::collections::HashMap;

/// Things whose buckets are kept before idle (full) ones are dropped.
const KEPT: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Throttle {
    per_second: f64,
    buckets: HashMap<String, Bucket>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was last brought up to date, seconds.
    at: f64,
}

impl Throttle {
    /// A throttle allowing `per_second` requests a second per thing; 0 allows everything.
    pub(crate) fn new(per_second: u32) -> Self {
        Throttle { per_second: f64::from(per_second), buckets: HashMap::new() }
    }

    /// Whether a request for `thing` at `now` (seconds) is within the rate; it counts when it is.
    pub(crate) fn admit(&mut self, thing: &str, now: f64) -> bool {
        if self.per_second <= 0.0 {
            return true;
        }
        if self.buckets.len() >= KEPT && !self.buckets.contains_key(thing) {
            let per_second = self.per_second;
            self.buckets.retain(|_, bucket| bucket.refilled(now, per_second).tokens < per_second);
        }
        let per_second = self.per_second;
        let bucket = self
            .buckets
            .entry(thing.to_owned())
            .or_insert(Bucket { tokens: per_second, at: now })
            .refill(now, per_second);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Bucket {
    fn refilled(self, now: f64, per_second: f64) -> Bucket {
        // A clock that went backwards refills nothing.
        let elapsed = (now - self.at).max(0.0);
        Bucket { tokens: (self.tokens + elapsed * per_second).min(per_second), at: now.max(self.at) }
    }

    fn refill(&mut self, now: f64, per_second: f64) -> &mut Bucket {
        *self = self.refilled(now, per_second);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_a_second_per_thing() {
        let mut throttle = Throttle::new(20);
        let admitted = (0..30).filter(|_| throttle.admit("boiler", 100.0)).count();
        assert_eq!(admitted, 20);
        // Another thing has its own bucket.
        assert!(throttle.admit("pump", 100.0));
        // Half a second later, ten more.
        let admitted = (0..30).filter(|_| throttle.admit("boiler", 100.5)).count();
        assert_eq!(admitted, 10);
        // A steady 20 a second always passes.
        let mut throttle = Throttle::new(20);
        assert!((0..200).all(|step| throttle.admit("boiler", 200.0 + f64::from(step) * 0.05)));
        // A clock going back refills nothing, and never panics.
        let mut throttle = Throttle::new(1);
        assert!(throttle.admit("boiler", 50.0));
        assert!(!throttle.admit("boiler", 10.0));
        assert!(Throttle::new(0).admit("boiler", 0.0));
    }

    #[test]
    fn idle_things_are_forgotten() {
        let mut throttle = Throttle::new(20);
        for thing in 0..KEPT {
            assert!(throttle.admit(&format!("thing-{thing}"), 0.0));
        }
        assert!(throttle.admit("busy", 0.0));
        assert!(throttle.admit("newcomer", 5.0));
        assert!(throttle.buckets.len() <= 3, "{}", throttle.buckets.len());
    }
}
