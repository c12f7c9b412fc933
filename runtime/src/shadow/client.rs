//! The shadow service as an MQTT client: it subscribes to every shadow request topic (through
//! `$share/<group>/...` when several instances serve one fleet), answers each request from the
//! store, and acknowledges a request only once what it changed is stored durably and its
//! answers are handed to the connection. The same client serves `iotrules serve`'s embedded
//! broker and a user's own broker.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use iotrules_compiler::eval::MqttProperties;

use super::service::{self, Limits};
use super::shard::Shard;
use super::store::Store;
use super::throttle::Throttle;
use super::topics::{self, REQUEST_FILTERS};
use crate::mqtt::backoff::Backoff;
use crate::mqtt::endpoint::Connection;
use crate::mqtt::link::{self, Event};

/// How the shadow service connects.
pub(crate) struct Settings {
    pub(crate) connection: Connection,
    pub(crate) client_id: String,
    /// Subscribe through `$share/<group>/`, so instances of one group split the requests.
    pub(crate) share_group: Option<String>,
    /// Answer only the requests of this shard's things; the others are acknowledged and left
    /// to the instances that own them.
    pub(crate) shard: Option<Shard>,
    pub(crate) store: Arc<Store>,
    pub(crate) limits: Limits,
}

/// The filters to subscribe to.
pub(crate) fn filters(share_group: Option<&str>) -> Vec<String> {
    REQUEST_FILTERS
        .iter()
        .map(|filter| match share_group {
            Some(group) => format!("$share/{group}/{filter}"),
            None => (*filter).to_owned(),
        })
        .collect()
}

pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// Serves shadow requests until the connection fails for good.
pub(crate) async fn run(settings: Settings) -> Result<(), String> {
    let mut options = settings.connection.options(&settings.client_id, false);
    options.manual_acks();
    options.window(64);
    let (client, mut events) = link::client_without_delay(options, 256);
    let filters = filters(settings.share_group.as_deref());
    let mut backoff = Backoff::default();
    let no_properties = MqttProperties::default();
    let mut throttle = Throttle::new(settings.limits.requests_per_second);
    loop {
        let event = match events.poll().await {
            Ok(event) => event,
            Err(error) => {
                if let Some(help) = error.permanent {
                    return Err(format!("the shadow service cannot connect: {error} ({help})"));
                }
                let delay = backoff.next_delay();
                tracing::warn!(%error, ?delay, "the shadow service lost its connection; reconnecting");
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        match event {
            Event::Connected { .. } => {
                backoff.reset();
                if let Err(error) = client.try_subscribe(filters.clone()) {
                    return Err(format!("the shadow service cannot subscribe: {error}"));
                }
            }
            Event::Message(message) => {
                let Some((id, operation)) = topics::parse(&message.topic) else {
                    let _ = client.try_ack(&message.ack);
                    continue;
                };
                if settings.shard.is_some_and(|shard| !shard.owns(&id.thing)) {
                    let _ = client.try_ack(&message.ack);
                    continue;
                }
                let now_exact =
                    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |elapsed| elapsed.as_secs_f64());
                if !throttle.admit(&id.thing, now_exact) {
                    let outcome = service::too_many_requests(&id, operation, &message.payload, now());
                    for (topic, payload) in outcome.publish {
                        if let Err(error) = client.publish(topic, 1, Bytes::from(payload), &no_properties).await {
                            tracing::warn!(%error, "cannot publish a shadow answer");
                        }
                    }
                    let _ = client.try_ack(&message.ack);
                    continue;
                }
                // The store is blocking IO (a file commit, or a Redis round trip).
                let (store, limits, payload) = (Arc::clone(&settings.store), settings.limits, message.payload.clone());
                let request = id.clone();
                let applied = tokio::task::spawn_blocking(move || {
                    store.apply(&request, |current| {
                        service::handle(&request, operation, &payload, current, now(), &limits)
                    })
                })
                .await
                .unwrap_or_else(|error| Err(error.to_string()));
                let outcome = match applied {
                    Ok(outcome) => outcome,
                    Err(error) => {
                        // Not acknowledged: the broker delivers the request again.
                        tracing::error!(%error, thing = id.thing, "cannot store a shadow; the request is not acknowledged");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                tracing::debug!(
                    thing = id.thing,
                    operation = operation.as_str(),
                    version = outcome.store.as_ref().map(|stored| stored.version),
                    "shadow request answered"
                );
                for (topic, payload) in outcome.publish {
                    if let Err(error) = client.publish(topic, 1, Bytes::from(payload), &no_properties).await {
                        tracing::warn!(%error, "cannot publish a shadow answer");
                    }
                }
                let _ = client.try_ack(&message.ack);
            }
            Event::SubscriptionRefused(filter) => {
                return Err(format!("the broker refused the shadow service's subscription to `{filter}`"));
            }
            _ => {}
        }
    }
}
