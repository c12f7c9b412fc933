//! One interface over rumqttc's MQTT 3.1.1 and MQTT 5 clients, so the rest of iotrules is
//! written once: what a connection reports ([`Event`]), a received [`Message`] with its
//! MQTT 5 properties, and the requests iotrules makes ([`Client`]).

use bytes::Bytes;
use iotrules_compiler::eval::MqttProperties;
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::v5::mqttbytes::v5 as packet5;
use rumqttc::{Outgoing, QoS};

/// The protocol version of iotrules' connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Version {
    #[default]
    V311,
    V5,
}

/// Options for one connection, in the shape its protocol's client takes.
#[derive(Clone, Debug)]
pub(crate) enum Options {
    V311(Box<rumqttc::MqttOptions>),
    V5(Box<rumqttc::v5::MqttOptions>),
}

impl Options {
    /// Messages are acknowledged by [`Client::try_ack`], not on arrival.
    pub(crate) fn manual_acks(&mut self) {
        match self {
            Options::V311(options) => {
                options.set_manual_acks(true);
            }
            Options::V5(options) => {
                options.set_manual_acks(true);
            }
        }
    }

    /// At most `window` messages unacknowledged in each direction. Over MQTT 5 the broker is
    /// told (Receive Maximum) and holds the rest back itself.
    pub(crate) fn window(&mut self, window: u16) {
        match self {
            Options::V311(options) => {
                options.set_inflight(window);
            }
            Options::V5(options) => {
                options.set_receive_maximum(Some(window));
                options.set_outgoing_inflight_upper_limit(window);
            }
        }
    }
}

/// What a connection reported.
#[derive(Debug)]
pub(crate) enum Event {
    Connected {
        session_present: bool,
        terms: BrokerTerms,
    },
    Message(Box<Message>),
    SubscriptionRefused(String),
    /// The broker acknowledged the QoS 1 publish with this packet id; over MQTT 5 it may
    /// refuse it (a PUBACK reason code of 0x80 or more), and says why.
    Acknowledged {
        pkid: u16,
        refused: Option<String>,
    },
    /// A publish went out with this packet id (0 for QoS 0).
    Written(u16),
    Disconnecting,
    Other,
}

/// What an MQTT 5 broker's CONNACK says about the session it grants; all `None` over 3.1.1,
/// which has no place for them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BrokerTerms {
    /// Seconds the broker keeps the session after a disconnect, when it grants less than asked.
    pub(crate) session_expiry: Option<u32>,
    /// The highest QoS the broker takes.
    pub(crate) max_qos: Option<u8>,
    /// Whether the broker supports `$share` subscriptions.
    pub(crate) shared_subscriptions: Option<bool>,
}

/// A message as received.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
    pub(crate) qos: u8,
    pub(crate) retain: bool,
    /// Over MQTT 5 only.
    pub(crate) properties: Option<MqttProperties>,
    pub(crate) ack: Ack,
}

/// What acknowledging a message takes: its packet with topic, payload and properties moved
/// out into the [`Message`], so keeping it until the actions are done copies nothing.
#[derive(Clone, Debug)]
pub(crate) enum Ack {
    V311(rumqttc::Publish),
    V5(Box<packet5::Publish>),
}

#[derive(Clone, Debug)]
pub(crate) enum Client {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

pub(crate) enum EventLoop {
    V311(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EventLoop::V311(_) => "EventLoop(MQTT 3.1.1)",
            EventLoop::V5(_) => "EventLoop(MQTT 5)",
        })
    }
}

/// A client and the loop that must be polled for it to make progress; `capacity` requests
/// can wait before a request blocks.
pub(crate) fn client(options: Options, capacity: usize) -> (Client, EventLoop) {
    match options {
        Options::V311(options) => {
            let (client, eventloop) = rumqttc::AsyncClient::new(*options, capacity);
            (Client::V311(client), EventLoop::V311(Box::new(eventloop)))
        }
        Options::V5(options) => {
            let (client, eventloop) = rumqttc::v5::AsyncClient::new(*options, capacity);
            (Client::V5(client), EventLoop::V5(Box::new(eventloop)))
        }
    }
}

/// A client whose small packets go out at once (TCP_NODELAY): for request and answer traffic,
/// such as the shadow service's, where Nagle's algorithm would hold each answer back for the
/// peer's delayed acknowledgement.
pub(crate) fn client_without_delay(options: Options, capacity: usize) -> (Client, EventLoop) {
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    match options {
        Options::V311(options) => {
            let (client, mut eventloop) = rumqttc::AsyncClient::new(*options, capacity);
            eventloop.set_network_options(network);
            (Client::V311(client), EventLoop::V311(Box::new(eventloop)))
        }
        Options::V5(mut options) => {
            options.set_network_options(network);
            let (client, eventloop) = rumqttc::v5::AsyncClient::new(*options, capacity);
            (Client::V5(client), EventLoop::V5(Box::new(eventloop)))
        }
    }
}

fn qos(level: u8) -> QoS {
    if level == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce }
}

fn qos5(level: u8) -> QoS5 {
    if level == 0 { QoS5::AtMostOnce } else { QoS5::AtLeastOnce }
}

impl Client {
    pub(crate) fn try_ack(&self, ack: &Ack) -> Result<(), String> {
        match (self, ack) {
            (Client::V311(client), Ack::V311(publish)) => client.try_ack(publish).map_err(|error| error.to_string()),
            (Client::V5(client), Ack::V5(publish)) => client.try_ack(publish).map_err(|error| error.to_string()),
            _ => Err("a message cannot be acknowledged on a connection of another MQTT version".to_owned()),
        }
    }

    /// Subscribes with QoS 1. Over MQTT 5 the broker is asked not to send retained messages:
    /// AWS's rules engine sees each publish once, when it happens.
    pub(crate) fn try_subscribe(&self, filters: Vec<String>) -> Result<(), String> {
        if filters.is_empty() {
            return Ok(());
        }
        match self {
            Client::V311(client) => client
                .try_subscribe_many(
                    filters.into_iter().map(|path| rumqttc::SubscribeFilter::new(path, QoS::AtLeastOnce)),
                )
                .map_err(|error| error.to_string()),
            Client::V5(client) => client
                .try_subscribe_many(filters.into_iter().map(|path| {
                    let mut filter = packet5::Filter::new(path, QoS5::AtLeastOnce);
                    filter.retain_forward_rule = packet5::RetainForwardRule::Never;
                    filter
                }))
                .map_err(|error| error.to_string()),
        }
    }

    /// Subscribes with QoS 0, for what may be missed (the broker's `$SYS` reports).
    pub(crate) fn try_subscribe_qos0(&self, filters: Vec<String>) -> Result<(), String> {
        match self {
            Client::V311(client) => client
                .try_subscribe_many(
                    filters.into_iter().map(|path| rumqttc::SubscribeFilter::new(path, QoS::AtMostOnce)),
                )
                .map_err(|error| error.to_string()),
            Client::V5(client) => client
                .try_subscribe_many(filters.into_iter().map(|path| packet5::Filter::new(path, QoS5::AtMostOnce)))
                .map_err(|error| error.to_string()),
        }
    }

    pub(crate) fn try_unsubscribe(&self, filter: String) -> Result<(), String> {
        match self {
            Client::V311(client) => client.try_unsubscribe(filter).map_err(|error| error.to_string()),
            Client::V5(client) => client.try_unsubscribe(filter).map_err(|error| error.to_string()),
        }
    }

    pub(crate) fn try_disconnect(&self) {
        let _ = match self {
            Client::V311(client) => client.try_disconnect().map_err(|error| error.to_string()),
            Client::V5(client) => client.try_disconnect().map_err(|error| error.to_string()),
        };
    }

    pub(crate) async fn disconnect(&self) {
        let _ = match self {
            Client::V311(client) => client.disconnect().await.map_err(|error| error.to_string()),
            Client::V5(client) => client.disconnect().await.map_err(|error| error.to_string()),
        };
    }

    /// Queues a publish; waits only while the request queue is full. `properties` go out
    /// over MQTT 5 and are dropped over 3.1.1, which has no place for them.
    pub(crate) async fn publish(
        &self,
        topic: String,
        level: u8,
        payload: Bytes,
        properties: &MqttProperties,
    ) -> Result<(), String> {
        match self {
            Client::V311(client) => {
                client.publish_bytes(topic, qos(level), false, payload).await.map_err(|error| error.to_string())
            }
            Client::V5(client) => client
                .publish_bytes_with_properties(topic, qos5(level), false, payload, to_v5(properties))
                .await
                .map_err(|error| error.to_string()),
        }
    }
}

/// Why a connection failed, and whether trying again can help.
#[derive(Debug)]
pub(crate) struct LinkError {
    pub(crate) message: String,
    /// `Some(what to do)` when no retry can succeed without a change on either side: the
    /// broker's certificate is not trusted, ours is refused, or the broker refuses the
    /// credentials.
    pub(crate) permanent: Option<&'static str>,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<rumqttc::ConnectionError> for LinkError {
    fn from(error: rumqttc::ConnectionError) -> Self {
        use rumqttc::ConnectReturnCode as C;
        let permanent = match &error {
            rumqttc::ConnectionError::Tls(tls) => tls_permanence(tls),
            rumqttc::ConnectionError::ConnectionRefused(C::BadUserNamePassword | C::NotAuthorized) => {
                Some(CREDENTIALS_HELP)
            }
            rumqttc::ConnectionError::ConnectionRefused(C::BadClientId | C::RefusedProtocolVersion) => {
                Some("the broker refuses this client id or protocol version: check --client-id and --mqtt-version")
            }
            _ => None,
        };
        LinkError { message: error.to_string(), permanent }
    }
}

impl From<rumqttc::v5::ConnectionError> for LinkError {
    fn from(error: rumqttc::v5::ConnectionError) -> Self {
        use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as C;
        let permanent = match &error {
            rumqttc::v5::ConnectionError::Tls(tls) => tls_permanence(tls),
            rumqttc::v5::ConnectionError::ConnectionRefused(
                C::BadUserNamePassword | C::NotAuthorized | C::Banned | C::BadAuthenticationMethod,
            ) => Some(CREDENTIALS_HELP),
            rumqttc::v5::ConnectionError::ConnectionRefused(
                C::ClientIdentifierNotValid
                | C::BadClientId
                | C::UnsupportedProtocolVersion
                | C::RefusedProtocolVersion,
            ) => Some("the broker refuses this client id or protocol version: check --client-id and --mqtt-version"),
            _ => None,
        };
        LinkError { message: error.to_string(), permanent }
    }
}

const CREDENTIALS_HELP: &str =
    "the broker refuses these credentials: check --username and the password, or the client certificate";

/// TLS failures no retry mends: a certificate that does not verify (on either side) and
/// TLS settings that cannot work. A reset or a timeout during the handshake is not one.
fn tls_permanence(error: &rumqttc::TlsError) -> Option<&'static str> {
    let rustls_error = match error {
        rumqttc::TlsError::TLS(error) => Some(error),
        rumqttc::TlsError::Io(io) => io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        rumqttc::TlsError::Addr(_) => return None,
        _ => return Some("the TLS settings cannot work: check --ca-file, --cert and --key"),
    };
    match rustls_error? {
        rustls::Error::InvalidCertificate(_) => Some(
            "the broker's certificate does not verify: give the CA that signed it with --ca-file, and connect by the name or address the certificate names",
        ),
        rustls::Error::AlertReceived(_) | rustls::Error::NoCertificatesPresented => Some(
            "the broker refused the TLS handshake: check the client certificate (--cert, --key) and that the broker trusts its CA",
        ),
        rustls::Error::PeerIncompatible(_) | rustls::Error::PeerMisbehaved(_) => {
            Some("the broker's TLS cannot work with iotrules' (TLS 1.2 or 1.3)")
        }
        _ => None,
    }
}

impl EventLoop {
    pub(crate) async fn poll(&mut self) -> Result<Event, LinkError> {
        match self {
            EventLoop::V311(eventloop) => {
                use rumqttc::{Event as E, Packet as P};
                Ok(match eventloop.poll().await? {
                    E::Incoming(P::ConnAck(connack)) => {
                        Event::Connected { session_present: connack.session_present, terms: BrokerTerms::default() }
                    }
                    E::Incoming(P::Publish(mut publish)) => Event::Message(Box::new(Message {
                        topic: std::mem::take(&mut publish.topic),
                        payload: std::mem::take(&mut publish.payload),
                        qos: publish.qos as u8,
                        retain: publish.retain,
                        properties: None,
                        ack: Ack::V311(publish),
                    })),
                    E::Incoming(P::SubAck(suback))
                        if suback
                            .return_codes
                            .iter()
                            .any(|code| matches!(code, rumqttc::SubscribeReasonCode::Failure)) =>
                    {
                        Event::SubscriptionRefused(format!("{:?}", suback.return_codes))
                    }
                    E::Incoming(P::PubAck(ack)) => Event::Acknowledged { pkid: ack.pkid, refused: None },
                    E::Outgoing(Outgoing::Publish(pkid)) => Event::Written(pkid),
                    E::Outgoing(Outgoing::Disconnect) => Event::Disconnecting,
                    _ => Event::Other,
                })
            }
            EventLoop::V5(eventloop) => {
                use rumqttc::v5::{Event as E, Incoming as P};
                Ok(match eventloop.poll().await? {
                    E::Incoming(P::ConnAck(connack)) => {
                        let properties = connack.properties.as_ref();
                        let terms = BrokerTerms {
                            session_expiry: properties.and_then(|properties| properties.session_expiry_interval),
                            max_qos: properties.and_then(|properties| properties.max_qos),
                            shared_subscriptions: properties
                                .and_then(|properties| properties.shared_subscription_available)
                                .map(|available| available != 0),
                        };
                        Event::Connected { session_present: connack.session_present, terms }
                    }
                    E::Incoming(P::Publish(mut publish)) => Event::Message(Box::new(Message {
                        topic: String::from_utf8_lossy(&std::mem::take(&mut publish.topic)).into_owned(),
                        payload: std::mem::take(&mut publish.payload),
                        qos: publish.qos as u8,
                        retain: publish.retain,
                        properties: Some(publish.properties.take().as_ref().map(from_v5).unwrap_or_default()),
                        ack: Ack::V5(Box::new(publish)),
                    })),
                    E::Incoming(P::SubAck(suback))
                        if suback
                            .return_codes
                            .iter()
                            .any(|code| !matches!(code, packet5::SubscribeReasonCode::Success(_))) =>
                    {
                        Event::SubscriptionRefused(format!("{:?}", suback.return_codes))
                    }
                    E::Incoming(P::PubAck(ack)) => Event::Acknowledged { pkid: ack.pkid, refused: refusal(&ack) },
                    E::Outgoing(Outgoing::Publish(pkid)) => Event::Written(pkid),
                    E::Outgoing(Outgoing::Disconnect) => Event::Disconnecting,
                    _ => Event::Other,
                })
            }
        }
    }
}

/// Why an MQTT 5 broker refused a publish, from its PUBACK; `None` when it took it.
fn refusal(ack: &packet5::PubAck) -> Option<String> {
    use packet5::PubAckReason as R;
    let reason = match ack.reason {
        R::Success | R::NoMatchingSubscribers => return None,
        R::UnspecifiedError => "unspecified error (0x80)",
        R::ImplementationSpecificError => "implementation specific error (0x83)",
        R::NotAuthorized => "not authorized (0x87)",
        R::TopicNameInvalid => "topic name invalid (0x90)",
        R::PacketIdentifierInUse => "packet identifier in use (0x91)",
        R::QuotaExceeded => "quota exceeded (0x97)",
        R::PayloadFormatInvalid => "payload format invalid (0x99)",
    };
    let detail = ack.properties.as_ref().and_then(|properties| properties.reason_string.as_deref());
    Some(match detail {
        Some(detail) => format!("the broker refused the message: {reason}: {}", detail.escape_debug()),
        None => format!("the broker refused the message: {reason}"),
    })
}

fn from_v5(properties: &packet5::PublishProperties) -> MqttProperties {
    MqttProperties {
        content_type: properties.content_type.clone(),
        payload_format_indicator: properties.payload_format_indicator,
        response_topic: properties.response_topic.clone(),
        correlation_data: properties.correlation_data.as_ref().map(|data| data.to_vec()),
        message_expiry_interval: properties.message_expiry_interval,
        user_properties: properties.user_properties.clone(),
    }
}

fn to_v5(properties: &MqttProperties) -> packet5::PublishProperties {
    packet5::PublishProperties {
        payload_format_indicator: properties.payload_format_indicator,
        message_expiry_interval: properties.message_expiry_interval,
        topic_alias: None,
        response_topic: properties.response_topic.clone(),
        correlation_data: properties.correlation_data.clone().map(Bytes::from),
        user_properties: properties.user_properties.clone(),
        subscription_identifiers: Vec::new(),
        content_type: properties.content_type.clone(),
    }
}

#[cfg(test)]
mod tests {
    use iotrules_compiler::eval::MqttProperties;

    use super::{from_v5, to_v5};

    #[test]
    fn properties_survive_the_round_trip() {
        let properties = MqttProperties {
            content_type: Some("application/json".to_owned()),
            payload_format_indicator: Some(1),
            response_topic: Some("replies/7".to_owned()),
            correlation_data: Some(b"\x00\x01".to_vec()),
            message_expiry_interval: Some(60),
            user_properties: vec![("site".to_owned(), "north".to_owned()), ("site".to_owned(), "south".to_owned())],
        };
        assert_eq!(from_v5(&to_v5(&properties)), properties);
    }
}
