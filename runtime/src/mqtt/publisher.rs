//! Publishing for the actions, on a connection of its own, and telling each publisher when
//! the broker has its message.
//!
//! The actions' connection is separate from the one rules listen on, so that a full inbound
//! window can never hold up a republish (the rule's event loop never waits for itself), and a
//! message is acknowledged upstream only once what it republished is acknowledged downstream.
//! Its session is persistent: after a broker restart that kept sessions, rumqttc sends again
//! what was not acknowledged (with a clean session it would drop it).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::actions::{Outgoing, Publisher};
use crate::mqtt::backoff::Backoff;
use crate::mqtt::link::{Client, Event, EventLoop};

/// A republish the broker has not acknowledged after this long fails, and the rule's error
/// action runs; the broker may still deliver it later.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);

type Done = oneshot::Sender<Result<(), String>>;

/// Publishes whose packet is not written yet (in request order) and QoS 1 publishes waiting
/// for their PUBACK (by packet id).
///
/// rumqttc tells a publish's packet id only when it writes the packet, and writes requests in
/// the order they were made, so the n-th written publish is the n-th request.
#[derive(Debug, Default)]
struct Pending {
    queued: VecDeque<Done>,
    awaiting_ack: HashMap<u16, Done>,
}

impl Pending {
    fn written(&mut self, pkid: u16) {
        if pkid != 0 && self.awaiting_ack.contains_key(&pkid) {
            // Written again after a reconnection: the same request, still waiting.
            return;
        }
        let Some(done) = self.queued.pop_front() else { return };
        if pkid == 0 {
            let _ = done.send(Ok(()));
        } else {
            self.awaiting_ack.insert(pkid, done);
        }
    }

    /// The broker started a new session: rumqttc drops what it had not delivered, so every
    /// waiting publisher learns now rather than at its timeout.
    fn session_lost(&mut self) {
        let lost = self.queued.drain(..).chain(self.awaiting_ack.drain().map(|(_, done)| done));
        for done in lost {
            let _ = done.send(Err("the broker lost the session before acknowledging".to_owned()));
        }
    }

    fn acknowledged(&mut self, pkid: u16, refused: Option<String>) {
        if let Some(done) = self.awaiting_ack.remove(&pkid) {
            let _ = done.send(refused.map_or(Ok(()), Err));
        }
    }
}

/// The [`Publisher`] the actions use.
#[derive(Clone, Debug)]
pub(crate) struct MqttPublisher {
    client: Client,
    pending: Arc<Mutex<Pending>>,
    /// Held from queuing a completion to handing rumqttc the request, so both orders agree.
    order: Arc<tokio::sync::Mutex<()>>,
}

impl MqttPublisher {
    /// The publisher and the loop that must run for its messages to go out.
    pub(crate) fn new(client: Client, eventloop: EventLoop) -> (MqttPublisher, impl Future<Output = ()>) {
        let pending = Arc::new(Mutex::new(Pending::default()));
        let publisher = MqttPublisher { client, pending: pending.clone(), order: Arc::default() };
        (publisher, drive(eventloop, pending))
    }

    /// Sends DISCONNECT once the requests made so far are written; the loop then ends.
    pub(crate) async fn disconnect(&self) {
        self.client.disconnect().await;
    }
}

impl Publisher for MqttPublisher {
    async fn publish(&self, message: Outgoing) -> Result<(), String> {
        let (done, written) = oneshot::channel();
        {
            let _order = self.order.lock().await;
            lock(&self.pending).queued.push_back(done);
            if let Err(error) =
                self.client.publish(message.topic, message.qos, message.payload, &message.properties).await
            {
                lock(&self.pending).queued.pop_back();
                return Err(format!("the MQTT client is closed: {error}"));
            }
        }
        match tokio::time::timeout(PUBLISH_TIMEOUT, written).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("the MQTT connection closed before the broker acknowledged".to_owned()),
            Err(_) => Err(format!("the broker did not acknowledge within {} s", PUBLISH_TIMEOUT.as_secs())),
        }
    }
}

fn lock(pending: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    // A panic elsewhere cannot leave `Pending` half-updated: every change is one call.
    pending.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn drive(mut eventloop: EventLoop, pending: Arc<Mutex<Pending>>) {
    let mut backoff = Backoff::default();
    let mut connected_before = false;
    loop {
        match eventloop.poll().await {
            Ok(Event::Written(pkid)) => lock(&pending).written(pkid),
            Ok(Event::Acknowledged { pkid, refused }) => lock(&pending).acknowledged(pkid, refused),
            Ok(Event::Connected { session_present, .. }) => {
                backoff.reset();
                if connected_before && !session_present {
                    tracing::warn!("the broker lost the actions' session: publishes in flight fail");
                    lock(&pending).session_lost();
                }
                connected_before = true;
            }
            Ok(Event::Disconnecting) => return,
            Ok(_) => {}
            Err(error) if error.permanent.is_some() => {
                // The rules' connection has the same settings and stops iotrules with the
                // reason; until then, a retry a second would only fill the log.
                tracing::error!(%error, help = error.permanent, "the actions' connection cannot be made");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => {
                let delay = backoff.next_delay();
                tracing::warn!(%error, retry_in = ?delay, "publishing connection lost");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::Pending;

    #[test]
    fn completions_follow_packet_ids() {
        let mut pending = Pending::default();
        let (first, mut first_rx) = oneshot::channel();
        let (second, mut second_rx) = oneshot::channel();
        let (third, mut third_rx) = oneshot::channel();
        pending.queued.extend([first, second, third]);
        pending.written(7);
        pending.written(0);
        assert!(first_rx.try_recv().is_err(), "QoS 1 waits for its PUBACK");
        assert_eq!(second_rx.try_recv().ok(), Some(Ok(())), "QoS 0 is done once written");
        pending.written(7); // retransmitted after a reconnection
        pending.written(8);
        assert!(third_rx.try_recv().is_err());
        pending.acknowledged(8, None);
        assert_eq!(third_rx.try_recv().ok(), Some(Ok(())));
        pending.acknowledged(7, Some("refused".to_owned()));
        assert_eq!(first_rx.try_recv().ok(), Some(Err("refused".to_owned())), "an MQTT 5 refusal fails the publish");
        pending.acknowledged(7, None); // a duplicate PUBACK is ignored
        assert!(pending.awaiting_ack.is_empty() && pending.queued.is_empty());

        let (waiting, mut waiting_rx) = oneshot::channel();
        let (queued, mut queued_rx) = oneshot::channel();
        pending.queued.extend([waiting, queued]);
        pending.written(9);
        pending.session_lost();
        assert!(matches!(waiting_rx.try_recv(), Ok(Err(_))));
        assert!(matches!(queued_rx.try_recv(), Ok(Err(_))));
    }
}
