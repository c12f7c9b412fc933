//! MQTT 3.1.1 sessions through the gateway (see `gateway.rs` for what each packet gets).

use std::collections::{HashMap, HashSet};

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, SubAck, Subscribe, SubscribeReasonCode,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use tokio::io::WriteHalf;

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
    let connack = |packet: &Packet| matches!(packet, Packet::ConnAck(_));
    connect_upstream::<V4>(
        &Packet::Connect(connect),
        connack,
        &mut session.device_write,
        &mut upstream_write,
        &mut upstream_read,
        &mut from_upstream,
    )
    .await?;
    let Session { device, closing, mut device_read, device_write, mut from_device, .. } = session;
    let mut relay = Relay {
        session: (gateway, device),
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
    session: (&'g super::Gateway, std::net::SocketAddr),
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
        let (gateway, device) = self.session;
        gateway.authorizer.check(&device, action, name)
    }
}

impl Handler for Relay<'_> {
    type C = V4;

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
                send::<V4, _>(&mut self.upstream_write, &Packet::Publish(publish)).await?;
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
                    } else if self.session.0.mqtt311_refusal == Mqtt311Refusal::Close {
                        return Ok(false);
                    } else {
                        places.push(None);
                    }
                }
                if forwarded.is_empty() {
                    let refused = SubAck::new(subscribe.pkid, vec![SubscribeReasonCode::Failure; places.len()]);
                    send::<V4, _>(&mut self.device_write, &Packet::SubAck(refused)).await?;
                } else {
                    self.pending_subacks.insert(subscribe.pkid, places);
                    let allowed = Subscribe { pkid: subscribe.pkid, filters: forwarded };
                    send::<V4, _>(&mut self.upstream_write, &Packet::Subscribe(allowed)).await?;
                }
            }
            Packet::Unsubscribe(unsubscribe) => {
                for filter in &unsubscribe.topics {
                    self.subscribed.remove(filter);
                }
                send::<V4, _>(&mut self.upstream_write, &Packet::Unsubscribe(unsubscribe)).await?;
            }
            // A second CONNECT is a protocol violation.
            Packet::Connect(_) => return Ok(false),
            Packet::Disconnect => {
                send::<V4, _>(&mut self.upstream_write, &Packet::Disconnect).await?;
                return Ok(false);
            }
            other => send::<V4, _>(&mut self.upstream_write, &other).await?,
        }
        Ok(true)
    }

    /// Handles a packet from the upstream broker; `false` closes the connection.
    async fn upstream_sent(&mut self, packet: Packet) -> Result<bool, String> {
        match packet {
            Packet::Publish(publish) => {
                // Over MQTT 3.1.1 a broker sets RETAIN only on a retained message it delivers
                // because of a new subscription.
                let receivable = self.allowed(Action::Receive, &publish.topic)
                    && (!publish.retain || self.subscribed.contains(&publish.topic));
                if receivable {
                    send::<V4, _>(&mut self.device_write, &Packet::Publish(publish)).await?;
                } else {
                    match publish.qos {
                        QoS::AtMostOnce => {}
                        QoS::AtLeastOnce => {
                            send::<V4, _>(&mut self.upstream_write, &Packet::PubAck(PubAck::new(publish.pkid))).await?;
                        }
                        QoS::ExactlyOnce => {
                            self.dropped_exactly_once.insert(publish.pkid);
                            send::<V4, _>(&mut self.upstream_write, &Packet::PubRec(PubRec::new(publish.pkid))).await?;
                        }
                    }
                }
            }
            Packet::SubAck(suback) => {
                let merged = match self.pending_subacks.remove(&suback.pkid) {
                    Some(places) => {
                        let codes = merged_codes(&places, &suback.return_codes, SubscribeReasonCode::Failure);
                        SubAck::new(suback.pkid, codes)
                    }
                    None => suback,
                };
                send::<V4, _>(&mut self.device_write, &Packet::SubAck(merged)).await?;
            }
            Packet::PubRel(pubrel) if self.dropped_exactly_once.remove(&pubrel.pkid) => {
                send::<V4, _>(&mut self.upstream_write, &Packet::PubComp(PubComp::new(pubrel.pkid))).await?;
            }
            other => send::<V4, _>(&mut self.device_write, &other).await?,
        }
        Ok(true)
    }
}
