//! Publishing a batch of messages and waiting until the broker has every one: `iotrules
//! publish` and `iotrules run --publish`.

use std::time::Duration;

use bytes::Bytes;
use iotrules_compiler::eval::MqttProperties;

use crate::mqtt::endpoint::Connection;
use crate::mqtt::link::{self, Event};

/// Tries to connect for this long before giving up.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// Publishes `messages` `repeat` times, in order; returns how many the broker took. `taken`
/// is called with the index of each message in that order once the broker has it: its PUBACK
/// at QoS 1, which a broker sends in the order of the PUBLISHes (with the reason an MQTT 5
/// broker refused it, if it did), or written to the socket at QoS 0.
pub(crate) async fn send_all(
    connection: &Connection,
    client_id: &str,
    messages: Vec<(String, Vec<u8>)>,
    qos: u8,
    repeat: u64,
    mut taken: impl FnMut(u64, Option<String>),
) -> Result<u64, String> {
    let total = messages.len() as u64 * repeat;
    let mut options = connection.options(client_id, true);
    options.window(100);
    let (client, mut eventloop) = link::client(options, 256);
    let producer = client.clone();
    let produce = tokio::spawn(async move {
        let messages: Vec<(String, Bytes)> =
            messages.into_iter().map(|(topic, payload)| (topic, Bytes::from(payload))).collect();
        let none = MqttProperties::default();
        for _ in 0..repeat {
            for (topic, payload) in &messages {
                if producer.publish(topic.clone(), qos, payload.clone(), &none).await.is_err() {
                    return;
                }
            }
        }
    });
    let mut done = 0;
    let mut connected = false;
    let started = tokio::time::Instant::now();
    while done < total {
        match eventloop.poll().await {
            Ok(Event::Connected { .. }) => connected = true,
            Ok(Event::Written(0)) if qos == 0 => {
                taken(done, None);
                done += 1;
            }
            Ok(Event::Acknowledged { refused, .. }) => {
                taken(done, refused);
                done += 1;
            }
            Ok(_) => {}
            Err(error) if error.permanent.is_none() && !connected && started.elapsed() < CONNECT_PATIENCE => {
                tracing::debug!(%error, "broker not reachable yet");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => {
                produce.abort();
                let help = error.permanent.map(|help| format!("; {help}")).unwrap_or_default();
                return Err(format!("{error}{help} (after {done} of {total} messages)"));
            }
        }
    }
    client.disconnect().await;
    // Let the DISCONNECT go out so the broker does not log a lost connection.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(event) = eventloop.poll().await {
            if matches!(event, Event::Disconnecting) {
                break;
            }
        }
    })
    .await;
    Ok(done)
}
