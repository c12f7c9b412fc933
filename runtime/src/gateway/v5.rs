//! MQTT 5 sessions through the gateway (see `gateway.rs` for what each packet gets). Beyond
//! MQTT 3.1.1:
//! - refusals carry reason code 0x87 (CONNACK, PUBACK, SUBACK) and the connection stays;
//! - topic aliases from the device are resolved here (to decide on the real topic) and the
//!   publish is forwarded with its full topic; the upstream connection allows the broker no
//!   aliases, so every delivery names its topic;
//! - each publish carries the device's identity to the rules on the upstream broker, as the
//!   reserved user properties of the embedded broker (`iotrules-client-id`,
//!   `iotrules-principal`, `iotrules-source-ip`): a device's own properties of these names are
//!   dropped, and they are removed from every delivery to a device.

use std::collections::{HashMap, HashSet};

use bytes::{Bytes, BytesMut};
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, ConnectReturnCode, Packet, PubAck, PubAckReason, PubComp, PubRec, Publish, PublishProperties, SubAck,
    Subscribe, SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::{Error as CodecError, QoS};
use tokio::io::WriteHalf;

use super::{
    Codec, DeviceStream, Gateway, Handler, MAX_PACKET, Session, Upstream, connect_upstream, merged_codes, next_packet,
    pump, send,
};
use crate::broker::IDENTITY_PROPERTIES;
use crate::endpoint::authorization::{Action, ConnectFacts};

pub(super) struct V5;

impl Codec for V5 {
    type Packet = Packet;

    fn read(buffer: &mut BytesMut) -> Result<Option<Packet>, String> {
        match Packet::read(buffer, u32::try_from(MAX_PACKET).ok()) {
            Ok(packet) => Ok(Some(packet)),
            Err(CodecError::InsufficientBytes(_)) => Ok(None),
            Err(error) => Err(format!("a malformed packet ({error:?})")),
        }
    }

    fn write(packet: &Packet, out: &mut BytesMut) -> Result<(), String> {
        packet.write(out, None).map(|_| ()).map_err(|error| format!("cannot encode a packet: {error:?}"))
    }
}

fn connack(code: ConnectReturnCode) -> Packet {
    Packet::ConnAck(ConnAck { session_present: false, code, properties: None })
}

fn text(bytes: &Bytes) -> Option<String> {
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

pub(super) async fn run(mut session: Session<'_>) -> Result<(), String> {
    let gateway = session.gateway;
    let (mut connect, will, login) =
        match next_packet::<V5, _>(&mut session.device_read, &mut session.from_device).await? {
            Some(Packet::Connect(connect, will, login)) => (connect, will, login),
            _ => return Err("the first packet is not a CONNECT".to_owned()),
        };
    let will_topic = match &will {
        Some(will) => Some((text(&will.topic).ok_or("a will topic that is not UTF-8")?, will.retain)),
        None => None,
    };
    let expiry = connect.properties.as_ref().and_then(|properties| properties.session_expiry_interval);
    let facts = ConnectFacts {
        client_id: connect.client_id.clone(),
        persistent: !connect.clean_start || expiry.is_some_and(|seconds| seconds > 0),
        will: will_topic,
    };
    let exactly_once_will = will.as_ref().is_some_and(|will| will.qos == QoS::ExactlyOnce);
    if exactly_once_will || !gateway.authorizer.connect(session.device, &facts).allowed {
        let _ = send::<V5, _>(&mut session.device_write, &connack(ConnectReturnCode::NotAuthorized)).await;
        return Ok(());
    }
    let upstream = match gateway.dial().await {
        Ok(upstream) => upstream,
        Err(reason) => {
            let _ = send::<V5, _>(&mut session.device_write, &connack(ConnectReturnCode::ServerUnavailable)).await;
            return Err(reason);
        }
    };
    // The broker may not send the gateway topic aliases: each delivery is decided on its topic.
    if let Some(properties) = connect.properties.as_mut() {
        properties.topic_alias_max = None;
    }
    let (mut upstream_read, mut upstream_write) = tokio::io::split(upstream);
    let mut from_upstream = BytesMut::new();
    let connack = |packet: &Packet| matches!(packet, Packet::ConnAck(_)).then(|| packet.clone());
    connect_upstream::<V5, V5>(
        &Packet::Connect(connect, will, login),
        connack,
        &mut session.device_write,
        &mut upstream_write,
        &mut upstream_read,
        &mut from_upstream,
    )
    .await?;
    let identity = gateway.authorizer.session(&session.device).map(|live| live.identity_properties());
    let Session { device, closing, mut device_read, device_write, mut from_device, .. } = session;
    let mut relay = Relay {
        gateway,
        device,
        identity: identity.unwrap_or_default(),
        device_write,
        upstream_write,
        aliases: HashMap::new(),
        subscribed: HashSet::new(),
        pending_subacks: HashMap::new(),
        dropped_exactly_once: HashSet::new(),
    };
    pump(&mut relay, closing, (&mut device_read, &mut from_device), (&mut upstream_read, &mut from_upstream)).await
}

/// A live session's two write sides and what it must remember between packets.
struct Relay<'g> {
    gateway: &'g Gateway,
    device: std::net::SocketAddr,
    /// The reserved user properties stamped on each of the device's publishes.
    identity: Vec<(String, String)>,
    device_write: WriteHalf<DeviceStream>,
    upstream_write: WriteHalf<Upstream>,
    /// The device's topic aliases.
    aliases: HashMap<u16, Bytes>,
    /// The filters the device subscribed to, for AWS's retained-message rule.
    subscribed: HashSet<String>,
    /// Per SUBSCRIBE packet id: for each filter the device asked for, its place in what was
    /// forwarded, or `None` when it was refused here.
    pending_subacks: HashMap<u16, Vec<Option<usize>>>,
    /// QoS 2 deliveries dropped here, whose PUBREL the gateway completes.
    dropped_exactly_once: HashSet<u16>,
}

/// Removes the reserved identity properties a publish carries.
fn without_identity(properties: &mut Option<PublishProperties>) {
    if let Some(properties) = properties.as_mut() {
        properties.user_properties.retain(|(name, _)| !IDENTITY_PROPERTIES.contains(&name.as_str()));
    }
}

impl Relay<'_> {
    fn allowed(&self, action: Action, name: &str) -> bool {
        self.gateway.authorizer.check(&self.device, action, name)
    }

    /// The full topic of a device's publish, its alias resolved (and remembered); `None` for
    /// an alias never set or a topic that is not UTF-8.
    fn resolve(&mut self, publish: &mut Publish) -> Option<String> {
        let alias = publish.properties.as_mut().and_then(|properties| properties.topic_alias.take());
        if let Some(alias) = alias {
            if publish.topic.is_empty() {
                publish.topic = self.aliases.get(&alias)?.clone();
            } else {
                self.aliases.insert(alias, publish.topic.clone());
            }
        }
        text(&publish.topic)
    }
}

impl Handler for Relay<'_> {
    type Device = V5;
    type Upstream = V5;

    fn writers(&mut self) -> (&mut WriteHalf<DeviceStream>, &mut WriteHalf<Upstream>) {
        (&mut self.device_write, &mut self.upstream_write)
    }

    async fn device_sent(&mut self, packet: Packet) -> Result<bool, String> {
        match packet {
            Packet::Publish(mut publish) => {
                let Some(topic) = self.resolve(&mut publish) else { return Ok(false) };
                // AWS supports QoS 0 and 1 only.
                if publish.qos == QoS::ExactlyOnce {
                    return Ok(false);
                }
                let allowed = !(publish.retain && topic.starts_with('$'))
                    && self.allowed(Action::Publish, &topic)
                    && (!publish.retain || self.allowed(Action::RetainPublish, &topic));
                if !allowed {
                    if publish.qos == QoS::AtLeastOnce {
                        let refused =
                            PubAck { pkid: publish.pkid, reason: PubAckReason::NotAuthorized, properties: None };
                        send::<V5, _>(&mut self.device_write, &Packet::PubAck(refused)).await?;
                    }
                    return Ok(true);
                }
                without_identity(&mut publish.properties);
                publish
                    .properties
                    .get_or_insert_with(PublishProperties::default)
                    .user_properties
                    .extend(self.identity.iter().cloned());
                send::<V5, _>(&mut self.upstream_write, &Packet::Publish(publish)).await?;
            }
            Packet::Subscribe(subscribe) => {
                let mut places = Vec::with_capacity(subscribe.filters.len());
                let mut forwarded = Vec::new();
                for mut filter in subscribe.filters {
                    if self.allowed(Action::Subscribe, &filter.path) {
                        if filter.qos == QoS::ExactlyOnce {
                            filter.qos = QoS::AtLeastOnce;
                        }
                        // RETAIN then marks only retained messages sent on subscribing.
                        filter.preserve_retain = false;
                        self.subscribed.insert(filter.path.clone());
                        places.push(Some(forwarded.len()));
                        forwarded.push(filter);
                    } else {
                        places.push(None);
                    }
                }
                if forwarded.is_empty() {
                    let codes = vec![SubscribeReasonCode::NotAuthorized; places.len()];
                    let refused = SubAck { pkid: subscribe.pkid, return_codes: codes, properties: None };
                    send::<V5, _>(&mut self.device_write, &Packet::SubAck(refused)).await?;
                } else {
                    self.pending_subacks.insert(subscribe.pkid, places);
                    let allowed =
                        Subscribe { pkid: subscribe.pkid, filters: forwarded, properties: subscribe.properties };
                    send::<V5, _>(&mut self.upstream_write, &Packet::Subscribe(allowed)).await?;
                }
            }
            Packet::Unsubscribe(unsubscribe) => {
                for filter in &unsubscribe.filters {
                    self.subscribed.remove(filter);
                }
                send::<V5, _>(&mut self.upstream_write, &Packet::Unsubscribe(unsubscribe)).await?;
            }
            // A second CONNECT is a protocol violation.
            Packet::Connect(..) => return Ok(false),
            disconnect @ Packet::Disconnect(_) => {
                send::<V5, _>(&mut self.upstream_write, &disconnect).await?;
                return Ok(false);
            }
            other => send::<V5, _>(&mut self.upstream_write, &other).await?,
        }
        Ok(true)
    }

    /// Handles a packet from the upstream broker; `false` closes the connection.
    async fn upstream_sent(&mut self, packet: Packet) -> Result<bool, String> {
        match packet {
            Packet::Publish(mut publish) => {
                let Some(topic) = text(&publish.topic) else { return Ok(false) };
                // Subscriptions are forwarded without retain-as-published, so RETAIN marks a
                // retained message sent because of a new subscription.
                let receivable =
                    self.allowed(Action::Receive, &topic) && (!publish.retain || self.subscribed.contains(&topic));
                if receivable {
                    without_identity(&mut publish.properties);
                    send::<V5, _>(&mut self.device_write, &Packet::Publish(publish)).await?;
                } else {
                    match publish.qos {
                        QoS::AtMostOnce => {}
                        QoS::AtLeastOnce => {
                            send::<V5, _>(&mut self.upstream_write, &Packet::PubAck(PubAck::new(publish.pkid, None)))
                                .await?;
                        }
                        QoS::ExactlyOnce => {
                            self.dropped_exactly_once.insert(publish.pkid);
                            send::<V5, _>(&mut self.upstream_write, &Packet::PubRec(PubRec::new(publish.pkid, None)))
                                .await?;
                        }
                    }
                }
            }
            Packet::SubAck(suback) => {
                let merged = match self.pending_subacks.remove(&suback.pkid) {
                    Some(places) => {
                        let codes = merged_codes(&places, &suback.return_codes, SubscribeReasonCode::NotAuthorized);
                        SubAck { pkid: suback.pkid, return_codes: codes, properties: suback.properties }
                    }
                    None => suback,
                };
                send::<V5, _>(&mut self.device_write, &Packet::SubAck(merged)).await?;
            }
            Packet::PubRel(pubrel) if self.dropped_exactly_once.remove(&pubrel.pkid) => {
                send::<V5, _>(&mut self.upstream_write, &Packet::PubComp(PubComp::new(pubrel.pkid, None))).await?;
            }
            other => send::<V5, _>(&mut self.device_write, &other).await?,
        }
        Ok(true)
    }
}
