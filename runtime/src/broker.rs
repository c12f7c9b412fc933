//! The embedded MQTT broker (rmqtt, in the same process) behind a thin adapter: every CONNECT,
//! SUBSCRIBE filter, PUBLISH and delivery is put to a [`Gate`], and the adapter holds no policy
//! of its own.
//!
//! The broker runs on a thread of its own with its own multi-threaded tokio runtime; the rules
//! engine keeps its single-threaded one. Retained messages are kept in memory, `$share/<group>/`
//! subscriptions are served round robin, and `$` topics (`$aws/...`) can be published and
//! subscribed to (a filter starting with `#` or `+` does not match them, as MQTT requires).

mod hooks;
mod redelivery;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rmqtt::codec::types::QoS;
use rmqtt::context::ServerContext;
use rmqtt::net::{Builder, Listener};
use rmqtt::server::MqttServer;
use rmqtt::session::SessionState;
use rmqtt::types::{ClientId, CodecPublish, From, Id, Publish, TopicName};
use tokio::sync::{mpsc, oneshot};

/// MQTT protocol level of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// MQTT 3.1.1 (and the older 3.1, which the broker accepts and treats alike).
    V3_1_1,
    V5,
}

/// A connected (or connecting) client as the gate sees it.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub(crate) client_id: String,
    pub(crate) username: Option<String>,
    /// The peer address rmqtt sees (with the PROXY protocol on, the address the proxy header names).
    pub(crate) remote: SocketAddr,
    pub(crate) protocol: Protocol,
    pub(crate) clean_start: bool,
    /// MQTT 5 session expiry interval, seconds, when given (a CONNECT without the property
    /// means 0 in MQTT 5); `None` over MQTT 3.1.1, which has no such interval.
    pub(crate) session_expiry: Option<u32>,
    pub(crate) will: Option<Will>,
}

/// A client's last will, as its CONNECT declared it.
#[derive(Clone, Debug)]
pub(crate) struct Will {
    pub(crate) topic: String,
    pub(crate) retain: bool,
    pub(crate) qos: u8,
}

/// What a [`Gate`] decides for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    Deny,
}

/// Decides every packet; called from the broker's threads, so it must be cheap and never block.
pub(crate) trait Gate: Send + Sync + 'static {
    /// Deny: CONNACK "not authorized" (MQTT 3.1.1 code 5, MQTT 5 0x87). The client's last will
    /// is decided here too: rmqtt publishes a will without a publish check.
    fn connect(&self, client: &Client) -> Verdict;
    /// Deny: that filter's SUBACK code is a failure (MQTT 3.1.1 0x80, MQTT 5 0x87); the other
    /// filters of the same SUBSCRIBE are unaffected. `$share/<group>/` filters are given whole.
    fn subscribe(&self, client: &Client, filter: &str) -> Verdict;
    /// Deny: MQTT 5 QoS 1 gets PUBACK 0x87 and QoS 0 is dropped; over MQTT 3.1.1 the connection
    /// is closed, as AWS IoT Core does.
    fn publish(&self, client: &Client, topic: &str, retain: bool) -> Verdict;
    /// Checked on every delivery (live, retained, queued while the client was away). Deny: that
    /// delivery to that client is dropped, with no signal to anyone.
    fn receive(&self, client: &Client, topic: &str) -> Verdict;
    /// The client's connection ended (its session may live on).
    fn disconnected(&self, _client: &Client) {}

    /// Who the client is, stamped on each of its publishes as the user properties named in
    /// [`IDENTITY_PROPERTIES`] (so iotrules' own rules client sees `clientid()`,
    /// `principal()` and `sourceip()`); `None` stamps nothing.
    fn identity(&self, _client: &Client) -> Option<Vec<(String, String)>> {
        None
    }

    /// Whether deliveries to the client keep the identity properties; every other client gets
    /// them removed.
    fn sees_identity(&self, _client: &Client) -> bool {
        false
    }
}

/// The user properties that carry a publisher's identity to iotrules' own clients. They are
/// reserved: a device's own properties of these names are dropped, and no device receives
/// them.
pub(crate) const IDENTITY_PROPERTIES: [&str; 3] = [CLIENT_ID_PROPERTY, PRINCIPAL_PROPERTY, SOURCE_IP_PROPERTY];
pub(crate) const CLIENT_ID_PROPERTY: &str = "iotrules-client-id";
pub(crate) const PRINCIPAL_PROPERTY: &str = "iotrules-principal";
pub(crate) const SOURCE_IP_PROPERTY: &str = "iotrules-source-ip";

/// Lets everything through: the embedded default of `iotrules run` and `iotrules broker`.
#[derive(Debug)]
pub(crate) struct Open;

impl Gate for Open {
    fn connect(&self, _client: &Client) -> Verdict {
        Verdict::Allow
    }

    fn subscribe(&self, _client: &Client, _filter: &str) -> Verdict {
        Verdict::Allow
    }

    fn publish(&self, _client: &Client, _topic: &str, _retain: bool) -> Verdict {
        Verdict::Allow
    }

    fn receive(&self, _client: &Client, _topic: &str) -> Verdict {
        Verdict::Allow
    }
}

/// Where the broker listens, and the gate it asks.
pub(crate) struct Options {
    pub(crate) tcp: SocketAddr,
    pub(crate) ws: Option<SocketAddr>,
    /// Read a PROXY protocol header on the TCP listener (set when a TLS front forwards to it).
    pub(crate) proxy_protocol: bool,
    pub(crate) gate: Arc<dyn Gate>,
    /// AWS IoT Core's retained messages: delivered on subscribe only to a subscription to
    /// exactly their topic, never to a wildcard or shared one.
    pub(crate) exact_retained: bool,
}

impl fmt::Debug for Options {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Options")
            .field("tcp", &self.tcp)
            .field("ws", &self.ws)
            .field("proxy_protocol", &self.proxy_protocol)
            .finish_non_exhaustive()
    }
}

/// A running broker; dropping it stops the broker and closes its listeners.
#[derive(Debug)]
pub(crate) struct Handle {
    tcp: SocketAddr,
    ws: Option<SocketAddr>,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    stop: Option<oneshot::Sender<()>>,
}

/// A message the broker publishes as itself.
#[derive(Debug)]
struct Outgoing {
    topic: String,
    payload: Bytes,
    qos: QoS,
    retain: bool,
}

/// How many messages the broker keeps for one client whose session outlives its connection
/// (or that reads more slowly than others publish). Kept in memory; past it, new messages for
/// that client are dropped. About a million small messages covers a restart of `iotrules run`
/// under load.
const QUEUE_PER_CLIENT: usize = 1_000_000;

/// QoS 1 and 2 messages the broker sends a client before waiting for acknowledgements.
const IN_FLIGHT: NonZeroU16 = match NonZeroU16::new(100) {
    Some(count) => count,
    None => NonZeroU16::MIN,
};

/// AWS IoT Core's limit is 128 KB; the broker carries more so that iotrules, not the broker,
/// reports a payload that is too large.
const MAX_PACKET_BYTES: u32 = 1024 * 1024;

/// Starts the broker on its own thread with its own multi-threaded tokio runtime (the rules
/// engine keeps its single-threaded one) and returns once every listener accepts connections;
/// a port that cannot be bound is an error naming it and the flag to change it.
pub(crate) fn start(options: Options) -> Result<Handle, String> {
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
    let (stop, stop_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("embedded-broker".to_owned())
        .spawn(move || serve(options, &ready_tx, outgoing_rx, stop_rx))
        .map_err(|error| format!("cannot start the embedded broker's thread: {error}"))?;
    match ready_rx.recv() {
        Ok(Ok((tcp, ws))) => Ok(Handle { tcp, ws, outgoing, stop: Some(stop) }),
        Ok(Err(message)) => Err(message),
        Err(_) => Err("the embedded broker stopped while starting".to_owned()),
    }
}

impl Handle {
    /// Publishes into the broker as the broker itself (subscribers' `receive` gates still
    /// apply), e.g. shadow responses. Messages are published in the order of the calls.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "publishing as the broker is for services inside the endpoint, such as shadow responses; `run` and `broker` publish as MQTT clients"
        )
    )]
    pub(crate) fn publish(&self, topic: &str, payload: Bytes, qos: u8, retain: bool) -> Result<(), String> {
        let qos = match qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            2 => QoS::ExactlyOnce,
            other => return Err(format!("QoS {other} does not exist: MQTT has QoS 0, 1 and 2")),
        };
        if topic.is_empty() || topic.contains(['+', '#', '\0']) {
            return Err(format!(
                "`{}` cannot be published to: a topic name is not empty and has no wildcards (`+`, `#`)",
                topic.escape_debug()
            ));
        }
        self.outgoing
            .send(Outgoing { topic: topic.to_owned(), payload, qos, retain })
            .map_err(|_| "the embedded broker has stopped".to_owned())
    }

    /// The address the MQTT listener is bound to (its port chosen by the system when asked for 0).
    pub(crate) fn tcp_address(&self) -> SocketAddr {
        self.tcp
    }

    /// The address the MQTT over WebSocket listener is bound to, when there is one.
    pub(crate) fn ws_address(&self) -> Option<SocketAddr> {
        self.ws
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

type Ready = Result<(SocketAddr, Option<SocketAddr>), String>;

/// The broker's thread: builds the runtime, starts the broker, reports the bound addresses
/// (or what failed), then serves until the handle is dropped.
fn serve(
    options: Options,
    ready: &std::sync::mpsc::SyncSender<Ready>,
    outgoing: mpsc::UnboundedReceiver<Outgoing>,
    stop: oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread().thread_name("broker").enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = ready.send(Err(format!("cannot start the embedded broker's async runtime: {error}")));
            return;
        }
    };
    runtime.block_on(async move {
        let (server, scx, addresses) = match build(options).await {
            Ok(built) => built,
            Err(message) => {
                let _ = ready.send(Err(message));
                return;
            }
        };
        let _ = ready.send(Ok(addresses));
        tokio::spawn(publish_outgoing(scx, outgoing));
        tokio::select! {
            result = server.run() => {
                if let Err(error) = result {
                    tracing::error!(%error, "the embedded broker stopped");
                }
            }
            _ = stop => {}
        }
    });
    // Connection tasks never end by themselves: stop them without waiting.
    runtime.shutdown_background();
}

type Built = (MqttServer, ServerContext, (SocketAddr, Option<SocketAddr>));

async fn build(options: Options) -> Result<Built, String> {
    // Busy checks refuse connections while the machine's CPU is loaded; iotrules shares its
    // machine with the rules engine and clients, and a refused connection costs more.
    let scx = ServerContext::new()
        .busy_check_enable(false)
        // In memory, kept until replaced or deleted (no time to live), up to 1 MiB each.
        .plugins_config_map_add(
            "rmqtt-retainer",
            "storage.type = \"ram\"\nretained_message_ttl = \"0s\"\nmax_payload_size = \"1MB\"\n",
        )
        .plugins_config_map_add("rmqtt-shared-subscription", "strategy = \"round_robin\"\n")
        .build()
        .await;
    rmqtt_retainer::register(&scx, true, false)
        .await
        .map_err(|error| format!("cannot start the embedded broker's retained messages: {error}"))?;
    rmqtt_shared_subscription::register(&scx, true, false)
        .await
        .map_err(|error| format!("cannot start the embedded broker's shared subscriptions: {error}"))?;
    hooks::register(&scx, options.gate.clone(), options.exact_retained).await;

    let tcp = listener(options.tcp, "tcp", options.proxy_protocol, "--port")?
        .tcp()
        .map_err(|error| format!("cannot listen for MQTT on {}: {error}", options.tcp))?;
    let tcp_address = tcp.local_addr().unwrap_or(options.tcp);
    let mut server = MqttServer::new(scx.clone()).listener_by_id(tcp, 1);
    let mut ws_address = None;
    if let Some(address) = options.ws {
        let ws = listener(address, "ws", false, "--ws-port")?
            .ws()
            .map_err(|error| format!("cannot listen for MQTT over WebSocket on {address}: {error}"))?;
        ws_address = Some(ws.local_addr().unwrap_or(address));
        server = server.listener_by_id(ws, 2);
    }
    Ok((server.build(), scx, (tcp_address, ws_address)))
}

/// A bound listener with iotrules' settings; anonymous clients are not "allowed" so that the
/// authentication hook, hence the gate, runs for every CONNECT (rmqtt accepts an anonymous
/// client without running it otherwise).
fn listener(address: SocketAddr, name: &str, proxy_protocol: bool, flag: &str) -> Result<Listener, String> {
    Builder::new()
        .name(name)
        .laddr(address)
        // A restarted broker binds its port again at once, past connections in TIME_WAIT.
        .reuseaddr(Some(true))
        // Answers are small packets that a client waits for (a CONNACK, a PUBACK, a shadow
        // answer): sent at once, not held back by Nagle's algorithm for the peer's delayed ACK.
        .nodelay(true)
        .allow_anonymous(false)
        .proxy_protocol(proxy_protocol)
        .max_packet_size(MAX_PACKET_BYTES)
        .max_mqueue_len(QUEUE_PER_CLIENT)
        .max_inflight(IN_FLIGHT)
        // No expiry for messages waiting for a client (0 is none): a persistent session gets
        // everything published while it was away, however long it took to come back.
        .message_expiry_interval(Duration::ZERO)
        .bind()
        .map_err(|error| {
            format!("the embedded broker cannot listen on {address}: {error} (choose another port with {flag})")
        })
}

/// Publishes the handle's messages one at a time, in order, as the broker.
async fn publish_outgoing(scx: ServerContext, mut outgoing: mpsc::UnboundedReceiver<Outgoing>) {
    let broker = Id::new(scx.node.id(), 0, None, None, ClientId::from("iotrules"), None);
    while let Some(message) = outgoing.recv().await {
        let publish = Publish::from(CodecPublish {
            dup: false,
            retain: message.retain,
            qos: message.qos,
            topic: TopicName::from(message.topic),
            packet_id: None,
            payload: message.payload,
            properties: None,
        })
        .create_time(rmqtt::utils::timestamp_millis());
        if let Err(error) = SessionState::forwards(&scx, From::from_system(broker.clone()), publish, false, None).await
        {
            tracing::warn!(%error, "the embedded broker could not publish its own message");
        }
    }
}
