//! Acknowledging messages in the order they arrived while their actions finish in any order.
//!
//! MQTT requires a receiver to send PUBACKs in the order the PUBLISH packets came
//! (3.1.1 §4.6, 5.0 §4.6), and some brokers (rumqttd) drop a connection that does not. A
//! message is acknowledged once its own actions are done and every earlier message's are.

use std::collections::BTreeMap;

/// Completed messages waiting for the ones before them, numbered in arrival order.
#[derive(Debug)]
pub(crate) struct AckWindow<T> {
    /// The number of the oldest message not yet acknowledged.
    next: u64,
    done: BTreeMap<u64, T>,
}

impl<T> Default for AckWindow<T> {
    fn default() -> Self {
        AckWindow { next: 0, done: BTreeMap::new() }
    }
}

impl<T> AckWindow<T> {
    /// Records that message `sequence` is done; returns, in order, what can now be
    /// acknowledged. Messages from before the last [`AckWindow::restart`] are dropped: the
    /// broker sends them again on the new connection.
    pub(crate) fn complete(&mut self, sequence: u64, token: T) -> Vec<T> {
        if sequence < self.next {
            return Vec::new();
        }
        self.done.insert(sequence, token);
        let mut ready = Vec::new();
        while let Some(token) = self.done.remove(&self.next) {
            ready.push(token);
            self.next += 1;
        }
        ready
    }

    /// A new connection starts at message `first`; nothing received before it is
    /// acknowledged on it, since its packet ids belong to the old connection.
    pub(crate) fn restart(&mut self, first: u64) {
        self.done.clear();
        self.next = first;
    }
}

#[cfg(test)]
mod tests {
    use super::AckWindow;

    #[test]
    fn acknowledges_in_arrival_order() {
        let mut window = AckWindow::default();
        assert_eq!(window.complete(1, 'b'), Vec::<char>::new());
        assert_eq!(window.complete(2, 'c'), Vec::<char>::new());
        assert_eq!(window.done.len(), 2);
        assert_eq!(window.complete(0, 'a'), vec!['a', 'b', 'c']);
        assert_eq!(window.complete(3, 'd'), vec!['d']);
        assert!(window.done.is_empty());
    }

    #[test]
    fn a_new_connection_drops_the_old_ones() {
        let mut window = AckWindow::default();
        assert_eq!(window.complete(1, 'b'), Vec::<char>::new());
        window.restart(5);
        assert_eq!(window.complete(0, 'a'), Vec::<char>::new(), "sent again by the broker");
        assert_eq!(window.complete(4, 'x'), Vec::<char>::new());
        assert_eq!(window.complete(5, 'f'), vec!['f']);
    }
}
