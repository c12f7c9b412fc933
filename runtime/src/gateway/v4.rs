//! MQTT 3.1.1 sessions through the gateway (see `gateway.rs` for what each packet gets). The
//! device speaks MQTT 3.1.1; its connection to the upstream broker speaks MQTT 5
//! (`translate.rs`), so that each publish carries the device's identity to the rules as the
//! reserved user properties, as over MQTT 5.

use std::collections::{HashMap, HashSet};

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{ConnAck, ConnectReturnCode, Packet, SubAck, SubscribeReasonCode};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use rumqttc::v5::mqttbytes::QoS as UpQoS;
use rumqttc::v5::mqttbytes::v5;
use tokio::io::WriteHalf;

use super::translate;
use super::v5::V5;
use super::{
    Codec, DeviceStream, Handler, MAX_PACKET, Session, Upstream, connect_upstream, merged_codes, next_packet, pump,
    send,
};
use crate::cli::Mqtt311Refusal;
use crate::endpoint::authorization::{Action, ConnectFacts};

struct V4;

impl Codec for V4 {
    type Packet = Packet;

    fn read(buffer: &mut BytesMut) -> Result<Option<Packet>, String> {
        match Packet::read(buffer, MAX_PACKET) {
            Ok(packet) => Ok(Some(packet)),
            Err(CodecError::InsufficientBytes(_)) => Ok(None),
            Err(error) => Err(format!("a malformed packet ({error:?})")),
        }
    }

    fn write(packet: &Packet, out: &mut BytesMut) -> Result<(), String> {
        packet.write(out, usize::MAX).map(|_| ()).map_err(|error| format!("cannot encode a packet: {error:?}"))
    }
}

pub(super) async fn run(mut session: Session<'_>) -> Result<(), String> {
    let gateway = session.gateway;
    let connect = match next_packet::<V4, _>(&mut session.device_read, &mut session.from_device).await? {
        Some(Packet::Connect(connect)) => connect,
        _ => return Err("the first packet is not a CONNECT".to_owned()),
    };
    let facts = ConnectFacts {
        client_id: connect.client_id.clone(),
        persistent: !connect.clean_session,
        will: connect.last_will.as_ref().map(|will| (will.topic.clone(), will.retain)),
    };
    let exactly_once_will = connect.last_will.as_ref().is_some_and(|will| will.qos == QoS::ExactlyOnce);
    if exactly_once_will || !gateway.authorizer.connect(session.device, &facts).allowed {
        if gateway.mqtt311_refusal == Mqtt311Refusal::Answer {
            let refused = Packet::ConnAck(ConnAck::new(ConnectReturnCode::NotAuthorized, false));
            let _ = send::<V4, _>(&mut session.device_write, &refused).await;
        }
        return Ok(());
    }
    let upstream = match gateway.dial().await {
        Ok(upstream) => upstream,
        Err(reason) => {
            let unavailable = Packet::ConnAck(ConnAck::new(ConnectReturnCode::ServiceUnavailable, false));
            let _ = send::<V4, _>(&mut session.device_write, &unavailable).await;
            return Err(reason);
        }
    };
    let (mut upstream_read, mut upstream_write) = tokio::io::split(upstream);
    let mut from_upstream = BytesMut::new();
    let connack = |packet: &v5::Packet| match packet {
        v5::Packet::ConnAck(connack) => Some(Packet::ConnAck(translate::connack(connack))),
        _ => None,
    };
    connect_upstream::<V4, V5>(
        &translate::connect(connect),
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
        subscribed: HashSet::new(),
        pending_subacks: HashMap::new(),
        dropped_exactly_once: HashSet::new(),
    };
    pump(&mut relay, closing, (&mut device_read, &mut from_device), (&mut upstream_read, &mut from_upstream)).await
}

/// A live session's two write sides and what it must remember between packets.
struct Relay<'g> {
    gateway: &'g super::Gateway,
    device: std::net::SocketAddr,
    /// The reserved user properties stamped on each of the device's publishes.
    identity: Vec<(String, String)>,
    device_write: WriteHalf<DeviceStream>,
    upstream_write: WriteHalf<Upstream>,
    /// The filters the device subscribed to, for AWS's retained-message rule.
    subscribed: HashSet<String>,
    /// Per SUBSCRIBE packet id: for each filter the device asked for, its place in what was
    /// forwarded, or `None` when it was refused here.
    pending_subacks: HashMap<u16, Vec<Option<usize>>>,
    /// QoS 2 deliveries dropped here, whose PUBREL the gateway completes.
    dropped_exactly_once: HashSet<u16>,
}

impl Relay<'_> {
    fn allowed(&self, action: Action, name: &str) -> bool {
        self.gateway.authorizer.check(&self.device, action, name)
    }

    async fn up(&mut self, packet: v5::Packet) -> Result<(), String> {
        send::<V5, _>(&mut self.upstream_write, &packet).await
    }

    async fn down(&mut self, packet: Packet) -> Result<(), String> {
        send::<V4, _>(&mut self.device_write, &packet).await
    }
}

impl Handler for Relay<'_> {
    type Device = V4;
    type Upstream = V5;

    fn writers(&mut self) -> (&mut WriteHalf<DeviceStream>, &mut WriteHalf<Upstream>) {
        (&mut self.device_write, &mut self.upstream_write)
    }

    async fn device_sent(&mut self, packet: Packet) -> Result<bool, String> {
        match packet {
            Packet::Publish(publish) => {
                // AWS supports QoS 0 and 1 only, and keeps no retained message on a `$` topic.
                let allowed = publish.qos != QoS::ExactlyOnce
                    && !(publish.retain && publish.topic.starts_with('$'))
                    && self.allowed(Action::Publish, &publish.topic)
                    && (!publish.retain || self.allowed(Action::RetainPublish, &publish.topic));
                if !allowed {
                    return Ok(false);
                }
                let upstream = translate::publish_up(publish, &self.identity);
                self.up(v5::Packet::Publish(upstream)).await?;
            }
            Packet::Subscribe(subscribe) => {
                let mut places = Vec::with_capacity(subscribe.filters.len());
                let mut forwarded = Vec::new();
                for mut filter in subscribe.filters {
                    if self.allowed(Action::Subscribe, &filter.path) {
                        if filter.qos == QoS::ExactlyOnce {
                            filter.qos = QoS::AtLeastOnce;
                        }
                        self.subscribed.insert(filter.path.clone());
                        places.push(Some(forwarded.len()));
                        forwarded.push(filter);
                    } else if self.gateway.mqtt311_refusal == Mqtt311Refusal::Close {
                        return Ok(false);
                    } else {
                        places.push(None);
                    }
                }
                if forwarded.is_empty() {
                    let refused = SubAck::new(subscribe.pkid, vec![SubscribeReasonCode::Failure; places.len()]);
                    self.down(Packet::SubAck(refused)).await?;
                } else {
                    self.pending_subacks.insert(subscribe.pkid, places);
                    self.up(v5::Packet::Subscribe(translate::subscribe(subscribe.pkid, forwarded))).await?;
                }
            }
            Packet::Unsubscribe(unsubscribe) => {
                for filter in &unsubscribe.topics {
                    self.subscribed.remove(filter);
                }
                if let Some(upstream) = translate::other_up(Packet::Unsubscribe(unsubscribe)) {
                    self.up(upstream).await?;
                }
            }
            Packet::Disconnect => {
                if let Some(upstream) = translate::other_up(Packet::Disconnect) {
                    self.up(upstream).await?;
                }
                return Ok(false);
            }
            // A second CONNECT, or a packet only a server sends: a protocol violation.
            other => match translate::other_up(other) {
                Some(upstream) => self.up(upstream).await?,
                None => return Ok(false),
            },
        }
        Ok(true)
    }

    async fn upstream_sent(&mut self, packet: v5::Packet) -> Result<bool, String> {
        match packet {
            v5::Packet::Publish(publish) => {
                let Ok(topic) = std::str::from_utf8(&publish.topic).map(str::to_owned) else { return Ok(false) };
                // Subscriptions are forwarded without retain-as-published, so RETAIN marks a
                // retained message sent because of a new subscription.
                let receivable =
                    self.allowed(Action::Receive, &topic) && (!publish.retain || self.subscribed.contains(&topic));
                if receivable {
                    let Some(delivery) = translate::publish_down(publish) else { return Ok(false) };
                    self.down(Packet::Publish(delivery)).await?;
                } else {
                    match publish.qos {
                        UpQoS::AtMostOnce => {}
                        UpQoS::AtLeastOnce => self.up(v5::Packet::PubAck(v5::PubAck::new(publish.pkid, None))).await?,
                        UpQoS::ExactlyOnce => {
                            self.dropped_exactly_once.insert(publish.pkid);
                            self.up(v5::Packet::PubRec(v5::PubRec::new(publish.pkid, None))).await?;
                        }
                    }
                }
            }
            v5::Packet::SubAck(suback) => {
                let codes: Vec<SubscribeReasonCode> =
                    suback.return_codes.iter().map(|code| translate::suback_code(*code)).collect();
                let merged = match self.pending_subacks.remove(&suback.pkid) {
                    Some(places) => merged_codes(&places, &codes, SubscribeReasonCode::Failure),
                    None => codes,
                };
                self.down(Packet::SubAck(SubAck::new(suback.pkid, merged))).await?;
            }
            v5::Packet::PubRel(pubrel) if self.dropped_exactly_once.remove(&pubrel.pkid) => {
                self.up(v5::Packet::PubComp(v5::PubComp::new(pubrel.pkid, None))).await?;
            }
            // The broker ended the session (a takeover, a refusal): the device's connection ends.
            other => match translate::other_down(other) {
                Some(delivery) => self.down(delivery).await?,
                None => return Ok(false),
            },
        }
        Ok(true)
    }
}
