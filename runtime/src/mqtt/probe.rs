//! The broker's own account of dropped messages, where it gives one.
//!
//! "No message is lost" holds only if the broker keeps every message for iotrules' session
//! while iotrules is away or behind. Mosquitto does not by default (it queues at most
//! `max_queued_messages`, 1,000, per client and drops the rest), and a client cannot read a
//! broker's settings, but Mosquitto publishes in `$SYS` how many messages its limits dropped.
//! This connection watches that count and says so when it grows: at start-up when the
//! broker has already dropped messages, and whenever it drops more.

use std::time::Duration;

use crate::mqtt::backoff::Backoff;
use crate::mqtt::endpoint::Connection;
use crate::mqtt::link::{self, Event};

const VERSION: &str = "$SYS/broker/version";
const DROPPED: &str = "$SYS/broker/publish/messages/dropped";

/// What the probe has seen so far.
#[derive(Debug, Default)]
pub(crate) struct DropWatch {
    broker: Option<String>,
    dropped: Option<u64>,
}

impl DropWatch {
    /// Takes one `$SYS` message; returns a warning when it shows messages dropped.
    pub(crate) fn observe(&mut self, topic: &str, payload: &[u8]) -> Option<String> {
        let text = String::from_utf8_lossy(payload);
        match topic {
            VERSION => {
                self.broker = Some(text.trim().escape_debug().to_string());
                None
            }
            DROPPED => {
                let count = text.trim().parse::<u64>().ok()?;
                let before = self.dropped.replace(count);
                let broker = self.broker.as_deref().unwrap_or("the broker");
                match before {
                    None if count > 0 => Some(format!(
                        "{broker} has dropped {count} messages since it started (its queue limits, for all clients): for no message to be lost, set `max_queued_messages 0` and `persistence true` in its configuration"
                    )),
                    Some(before) if count > before => Some(format!(
                        "{broker} dropped {} more messages (its queue limits, for all clients; {count} since it started): messages for iotrules may be among them; set `max_queued_messages 0`",
                        count - before
                    )),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Watches the broker's `$SYS` drop count until the process ends. Brokers that publish no
/// such count (or refuse `$SYS` subscriptions) leave it silent.
pub(crate) async fn watch(connection: Connection, client_id: String) {
    let mut watch = DropWatch::default();
    let mut backoff = Backoff::default();
    loop {
        let (client, mut eventloop) = link::client(connection.options(&client_id, true), 16);
        loop {
            match eventloop.poll().await {
                Ok(Event::Connected { .. }) => {
                    backoff.reset();
                    if client.try_subscribe_qos0(vec![VERSION.to_owned(), DROPPED.to_owned()]).is_err() {
                        return;
                    }
                }
                Ok(Event::Message(message)) => {
                    if let Some(warning) = watch.observe(&message.topic, &message.payload) {
                        tracing::warn!("{warning}");
                    }
                }
                Ok(Event::SubscriptionRefused(_)) => {
                    tracing::debug!("the broker refuses $SYS subscriptions: its drops cannot be watched");
                    return;
                }
                Ok(_) => {}
                Err(error) if error.permanent.is_some() => return,
                Err(_) => break,
            }
        }
        tokio::time::sleep(backoff.next_delay().max(Duration::from_secs(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::{DROPPED, DropWatch, VERSION};

    #[test]
    fn growing_drop_counts_are_reported() {
        let mut watch = DropWatch::default();
        assert_eq!(watch.observe(VERSION, b"mosquitto version 2.0.11"), None);
        assert_eq!(watch.observe(DROPPED, b"0"), None, "nothing dropped yet");
        assert_eq!(watch.observe(DROPPED, b"0"), None);
        let warning = watch.observe(DROPPED, b"1980").unwrap();
        assert!(warning.starts_with("mosquitto version 2.0.11 dropped 1980 more messages"), "{warning}");
        assert_eq!(watch.observe(DROPPED, b"1980"), None);
        assert_eq!(watch.observe("$SYS/broker/uptime", b"5 seconds"), None);

        let mut late = DropWatch::default();
        let warning = late.observe(DROPPED, b"7").unwrap();
        assert!(
            warning.contains("has dropped 7 messages since it started") && warning.contains("max_queued_messages 0")
        );
        assert_eq!(late.observe(DROPPED, b"not a number"), None);
    }
}
