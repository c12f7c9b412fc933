//! How long to wait before reconnecting: doubling from 100 ms to 10 s, with jitter so that
//! many instances do not reconnect in step after a broker restart.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(100);
const LAST: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(LAST);
        // Up to a quarter less, never more than the cap.
        delay.mul_f64(1.0 - fastrand::f64() / 4.0)
    }

    pub(crate) fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::{Backoff, FIRST, LAST};

    #[test]
    fn doubles_up_to_the_cap() {
        let mut backoff = Backoff::default();
        let delays: Vec<_> = (0..12).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] <= FIRST && delays[0] >= FIRST.mul_f64(0.75));
        assert!(delays[3] >= FIRST.mul_f64(8.0 * 0.75));
        assert!(delays.iter().all(|delay| *delay <= LAST));
        assert!(delays[11] >= LAST.mul_f64(0.75));
        backoff.reset();
        assert!(backoff.next_delay() <= FIRST);
    }
}
