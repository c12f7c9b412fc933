//! The connection rules listen on: a persistent session subscribed with QoS 1 to every
//! rule's topic filter, whose messages are acknowledged only when their actions are done.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::mqtt::backoff::Backoff;
use crate::mqtt::link::{self, Ack, BrokerTerms, Client, Event, EventLoop, Message, Options};
use crate::serve::acks::AckWindow;

/// One message as it came off the connection, numbered in arrival order.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) sequence: u64,
    pub(crate) message: Message,
    /// When it arrived, in milliseconds since the epoch: `timestamp()` for its rules.
    pub(crate) arrived_ms: i64,
}

/// A message whose actions are done, waiting for its turn to be acknowledged.
#[derive(Debug)]
struct Done {
    /// `None` for QoS 0, which has nothing to acknowledge.
    ack: Option<Ack>,
    /// Returned to the in-flight window once the acknowledgement is on its way.
    _permit: OwnedSemaphorePermit,
}

/// The current connection's client and the messages waiting to be acknowledged on it.
#[derive(Debug)]
struct Session {
    client: Client,
    window: AckWindow<Done>,
    closing: bool,
}

/// The connection rules listen on. Cheap to clone.
///
/// Every connection gets a new client: an acknowledgement queued for the old connection and
/// sent on the new one could acknowledge a different message, since brokers such as rumqttd
/// number redelivered messages afresh.
#[derive(Clone, Debug)]
pub(crate) struct Consumer {
    session: Arc<Mutex<Session>>,
    options: Options,
    capacity: usize,
}

impl Consumer {
    /// `options` must ask for a persistent session and manual acknowledgements; `capacity`
    /// must exceed the in-flight window, so that acknowledging never waits.
    pub(crate) fn new(options: Options, capacity: usize) -> (Consumer, EventLoop) {
        let (client, eventloop) = link::client(options.clone(), capacity);
        let session = Session { client, window: AckWindow::default(), closing: false };
        (Consumer { session: Arc::new(Mutex::new(session)), options, capacity }, eventloop)
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        // Every change to a session is one call that cannot panic half-way.
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that `received`'s actions are done and acknowledges every message now ready.
    pub(crate) fn done(&self, received: &Received, permit: OwnedSemaphorePermit) {
        let ack = (received.message.qos > 0).then(|| received.message.ack.clone());
        let mut session = self.session();
        // Acknowledged while holding the lock: two completions must not reorder their PUBACKs.
        for ready in session.window.complete(received.sequence, Done { ack, _permit: permit }) {
            if let Some(ack) = ready.ack
                && let Err(error) = session.client.try_ack(&ack)
            {
                // The broker sends the message again on the next connection.
                tracing::warn!(%error, "cannot acknowledge");
            }
        }
    }

    /// Subscribes to `added` and unsubscribes from `removed` on the current connection.
    fn change_subscriptions(&self, added: Vec<String>, removed: Vec<String>) {
        let session = self.session();
        if let Err(error) = session.client.try_subscribe(added) {
            tracing::warn!(%error, "cannot subscribe to the new rules' topics");
        }
        for filter in removed {
            if let Err(error) = session.client.try_unsubscribe(filter.clone()) {
                tracing::warn!(%error, filter, "cannot unsubscribe");
            }
        }
    }

    /// Ends the connection once the acknowledgements queued so far are written.
    pub(crate) fn disconnect(&self) {
        let mut session = self.session();
        session.closing = true;
        session.client.try_disconnect();
    }

    /// A new client for a new connection; nothing received before message `first` will be
    /// acknowledged. `None` once disconnecting.
    fn reconnect(&self, first: u64) -> Option<(Client, EventLoop)> {
        let mut session = self.session();
        if session.closing {
            return None;
        }
        let (client, eventloop) = link::client(self.options.clone(), self.capacity);
        session.client = client.clone();
        session.window.restart(first);
        Some((client, eventloop))
    }
}

/// The topic filters to be subscribed, kept current by the rule set's reloads.
#[derive(Clone, Debug, Default)]
pub(crate) struct Subscriptions {
    filters: Arc<Mutex<Vec<String>>>,
}

impl Subscriptions {
    pub(crate) fn with(filters: Vec<String>) -> Subscriptions {
        Subscriptions { filters: Arc::new(Mutex::new(filters)) }
    }

    pub(crate) fn current(&self) -> Vec<String> {
        self.filters.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces the filters and changes the live subscriptions to match; linear in the
    /// number of filters, since a reload may bring thousands.
    pub(crate) fn replace(&self, consumer: &Consumer, filters: Vec<String>) {
        let mut current = self.filters.lock().unwrap_or_else(PoisonError::into_inner);
        let (old, new): (HashSet<&String>, HashSet<&String>) = (current.iter().collect(), filters.iter().collect());
        let added = filters.iter().filter(|filter| !old.contains(filter)).cloned().collect();
        let removed = current.iter().filter(|filter| !new.contains(filter)).cloned().collect();
        consumer.change_subscriptions(added, removed);
        *current = filters;
    }
}

/// Runs the connection: (re)connects with backoff, subscribes on every new connection, and
/// hands each message to `inbound` in arrival order. Ends when the consumer disconnects, or
/// with the error when no retry can connect (an untrusted certificate, refused credentials).
pub(crate) async fn receive(
    consumer: Consumer,
    mut eventloop: EventLoop,
    subscriptions: Subscriptions,
    inbound: mpsc::Sender<Received>,
    asked: Asked,
) -> Result<(), String> {
    let mut backoff = Backoff::default();
    let mut sequence = 0;
    let mut client = consumer.session().client.clone();
    let mut connected_before = false;
    loop {
        let error = loop {
            match eventloop.poll().await {
                Ok(Event::Connected { session_present, terms }) => {
                    backoff.reset();
                    tracing::info!(session_present, "connected to the broker");
                    for warning in session_warnings(asked, terms, connected_before, session_present) {
                        tracing::warn!("{warning}");
                    }
                    connected_before = true;
                    // Subscribing again is harmless when the session survived, and needed when
                    // the broker lost it (a restart without persistence).
                    if let Err(error) = client.try_subscribe(subscriptions.current()) {
                        tracing::error!(%error, "cannot subscribe");
                    }
                }
                Ok(Event::Message(message)) => {
                    let received = Received { sequence, message: *message, arrived_ms: now_ms() };
                    sequence += 1;
                    // A closed channel means iotrules is stopping: the message stays
                    // unacknowledged and the broker delivers it again to the next session.
                    let _ = inbound.send(received).await;
                }
                Ok(Event::SubscriptionRefused(codes)) => tracing::error!(codes, "the broker refused a subscription"),
                Ok(Event::Disconnecting) => return Ok(()),
                Ok(_) => {}
                Err(error) => break error,
            }
        };
        if let Some(help) = error.permanent {
            return Err(format!("cannot connect to the broker: {error}\n  help: {help}"));
        }
        let Some((new_client, new_eventloop)) = consumer.reconnect(sequence) else { return Ok(()) };
        let delay = backoff.next_delay();
        tracing::warn!(%error, retry_in = ?delay, "connection to the broker lost");
        tokio::time::sleep(delay).await;
        (client, eventloop) = (new_client, new_eventloop);
    }
}

/// What iotrules asked of the broker for the rules' session.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Asked {
    /// Seconds the session should outlive a disconnect; `u32::MAX` for as long as possible.
    pub(crate) session_expiry: u32,
    pub(crate) share_group: bool,
}

/// Why the broker's answer to a CONNECT puts "no message is lost" at risk, if it does.
pub(crate) fn session_warnings(
    asked: Asked,
    terms: BrokerTerms,
    reconnected: bool,
    session_present: bool,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if reconnected && !session_present {
        warnings.push(
            "the broker did not keep iotrules' session while it was disconnected: messages published meanwhile are lost (the broker restarted without persistence, or the session expired)"
                .to_owned(),
        );
    }
    if terms.max_qos == Some(0) {
        warnings.push("the broker takes only QoS 0: it can drop messages before iotrules acknowledges them".to_owned());
    }
    if let Some(granted) = terms.session_expiry
        && granted < asked.session_expiry
    {
        warnings.push(format!(
            "the broker keeps iotrules' session only {granted} s after a disconnect (asked for {}): messages published during a longer outage are lost",
            if asked.session_expiry == u32::MAX { "as long as possible".to_owned() } else { format!("{} s", asked.session_expiry) }
        ));
    }
    if asked.share_group && terms.shared_subscriptions == Some(false) {
        warnings
            .push("the broker does not support shared subscriptions: --share-group cannot split the stream".to_owned());
    }
    warnings
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{Asked, session_warnings};
    use crate::mqtt::link::BrokerTerms;

    #[test]
    fn what_the_broker_grants_is_checked() {
        let asked = Asked { session_expiry: u32::MAX, share_group: true };
        assert!(session_warnings(asked, BrokerTerms::default(), false, false).is_empty(), "a first session is new");
        assert!(session_warnings(asked, BrokerTerms::default(), true, true).is_empty());
        let lost = session_warnings(asked, BrokerTerms::default(), true, false);
        assert!(lost[0].contains("did not keep iotrules' session"), "{lost:?}");
        let terms = BrokerTerms { session_expiry: Some(60), max_qos: Some(0), shared_subscriptions: Some(false) };
        let warnings = session_warnings(asked, terms, false, false);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[1].contains("only 60 s") && warnings[1].contains("as long as possible"), "{warnings:?}");
        let asked = Asked { session_expiry: 30, share_group: false };
        assert!(
            session_warnings(asked, BrokerTerms { session_expiry: Some(30), ..BrokerTerms::default() }, false, false)
                .is_empty()
        );
    }
}
