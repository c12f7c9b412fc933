//! `iotrules serve --upstream`: the device endpoint in front of the user's own broker. Devices
//! connect here with their certificates (the TLS front of `endpoint/tls.rs`); each session is
//! authorized packet by packet as on the embedded broker (`endpoint/authorization.rs`) and
//! forwarded to the upstream broker over a connection of its own, with the device's client
//! id, so sessions, QoS, retained messages and routing stay the broker's. The gateway keeps no
//! state beyond a connection's, so instances scale behind any TCP load balancer.
//!
//! MQTT 3.1.1 (the codec is rumqttc's). What the gateway does with each packet:
//! - CONNECT: decided before the upstream is dialled; refused → CONNACK 5 (or closed, with
//!   `--mqtt311-refusal close`). A QoS 2 will is refused, as AWS refuses QoS 2.
//! - PUBLISH from the device: `iot:Publish` (and `iot:RetainPublish`); refused → the
//!   connection is closed, as AWS does over MQTT 3.1.1; never forwarded. QoS 2 → closed.
//! - SUBSCRIBE: each filter decided; only the allowed ones are forwarded (QoS 2 asked → 1, the
//!   most AWS grants) and the broker's SUBACK is merged with 0x80 for the refused ones, in
//!   their places; nothing allowed → answered here.
//! - PUBLISH to the device: `iot:Receive`, and a retained message only to a subscription to
//!   exactly its topic (AWS's rule); one the device may not have is acknowledged to the broker
//!   on its behalf and dropped.
//! - Everything else passes through.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, SubAck, Subscribe, SubscribeReasonCode,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::cli::Mqtt311Refusal;
use crate::endpoint::authorization::{Action, Authorizer, ConnectFacts};
use crate::endpoint::tls::{self, Closing, Peers};

/// The largest packet either side may send: AWS's 128 KB message and its headers.
const MAX_PACKET: usize = 128 * 1024 + 4 * 1024;

/// How long a device has to send its CONNECT, and the broker its CONNACK.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What every device session of one gateway shares.
pub(crate) struct Gateway {
    /// The upstream broker, `host:port`.
    pub(crate) upstream: String,
    pub(crate) authorizer: Arc<Authorizer>,
    pub(crate) peers: Arc<Peers>,
    pub(crate) mqtt311_refusal: Mqtt311Refusal,
}

/// Accepts devices on `listener`, for ever.
pub(crate) async fn serve(listener: TcpListener, config: Arc<rustls::ServerConfig>, gateway: Arc<Gateway>) {
    let acceptor = TlsAcceptor::from(config);
    tls::accept_each(listener, |socket, device| {
        let (acceptor, gateway) = (acceptor.clone(), Arc::clone(&gateway));
        tokio::spawn(async move {
            let relayed = match tls::handshake(socket, device, &acceptor).await {
                Ok((stream, certificate_id)) => gateway.relay(stream, device, certificate_id).await,
                Err(reason) => Err(reason),
            };
            if let Err(reason) = relayed {
                tracing::debug!(%device, %reason, "device connection closed");
            }
        });
    })
    .await;
}

/// Why reading a packet stopped.
enum ReadError {
    Io(String),
    Codec(CodecError),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(error) => f.write_str(error),
            ReadError::Codec(error) => write!(f, "a malformed packet ({error:?})"),
        }
    }
}

/// The next whole packet of `reader`, kept in `buffer` between calls; `None` at the end of the
/// stream. Cancel-safe: what was read stays in `buffer`.
async fn next_packet<R: AsyncRead + Unpin>(reader: &mut R, buffer: &mut BytesMut) -> Result<Option<Packet>, ReadError> {
    loop {
        match Packet::read(buffer, MAX_PACKET) {
            Ok(packet) => return Ok(Some(packet)),
            Err(CodecError::InsufficientBytes(_)) => {}
            Err(error) => return Err(ReadError::Codec(error)),
        }
        let read = reader.read_buf(buffer).await.map_err(|error| ReadError::Io(error.to_string()))?;
        if read == 0 {
            return Ok(None);
        }
    }
}

async fn send<W: AsyncWrite + Unpin>(writer: &mut W, packet: &Packet) -> Result<(), String> {
    let mut bytes = BytesMut::with_capacity(packet.size() + 5);
    packet.write(&mut bytes, usize::MAX).map_err(|error| format!("cannot encode a packet: {error:?}"))?;
    writer.write_all(&bytes).await.map_err(|error| error.to_string())?;
    writer.flush().await.map_err(|error| error.to_string())
}

type DeviceStream = tokio_rustls::server::TlsStream<TcpStream>;

impl Gateway {
    /// One device's session, from its CONNECT to the end of either connection.
    async fn relay(&self, stream: DeviceStream, device: SocketAddr, certificate_id: String) -> Result<(), String> {
        // The device's own address names the connection to the authorizer, and to a reload
        // that closes it.
        let closing = self.peers.register(device, device, certificate_id);
        let result = self.session(stream, device, &closing).await;
        self.authorizer.disconnected(&device);
        self.peers.remove(&device);
        result
    }

    async fn session(&self, stream: DeviceStream, device: SocketAddr, closing: &Closing) -> Result<(), String> {
        let (mut device_read, mut device_write) = tokio::io::split(stream);
        let mut from_device = BytesMut::new();
        let first = tokio::time::timeout(CONNECT_TIMEOUT, next_packet(&mut device_read, &mut from_device)).await;
        let connect = match first {
            Ok(Ok(Some(Packet::Connect(connect)))) => connect,
            Ok(Err(ReadError::Codec(CodecError::InvalidProtocolLevel(level)))) => {
                let refused = Packet::ConnAck(ConnAck::new(ConnectReturnCode::RefusedProtocolVersion, false));
                let _ = send(&mut device_write, &refused).await;
                return Err(format!("MQTT protocol level {level}: the gateway speaks MQTT 3.1.1"));
            }
            Ok(Err(error)) => return Err(error.to_string()),
            Ok(Ok(_)) => return Err("the first packet is not a CONNECT".to_owned()),
            Err(_) => return Err("no CONNECT in time".to_owned()),
        };
        let facts = ConnectFacts {
            client_id: connect.client_id.clone(),
            persistent: !connect.clean_session,
            will: connect.last_will.as_ref().map(|will| (will.topic.clone(), will.retain)),
        };
        let exactly_once_will = connect.last_will.as_ref().is_some_and(|will| will.qos == QoS::ExactlyOnce);
        if exactly_once_will || !self.authorizer.connect(device, &facts).allowed {
            if self.mqtt311_refusal == Mqtt311Refusal::Answer {
                let refused = Packet::ConnAck(ConnAck::new(ConnectReturnCode::NotAuthorized, false));
                let _ = send(&mut device_write, &refused).await;
            }
            return Ok(());
        }
        let upstream = match TcpStream::connect(&self.upstream).await {
            Ok(upstream) => upstream,
            Err(error) => {
                let unavailable = Packet::ConnAck(ConnAck::new(ConnectReturnCode::ServiceUnavailable, false));
                let _ = send(&mut device_write, &unavailable).await;
                return Err(format!("cannot reach the upstream broker {}: {error}", self.upstream));
            }
        };
        let _ = upstream.set_nodelay(true);
        let (mut upstream_read, upstream_write) = tokio::io::split(upstream);
        let mut relay = Relay {
            gateway: self,
            device,
            device_write,
            upstream_write,
            subscribed: HashSet::new(),
            pending_subacks: HashMap::new(),
            dropped_exactly_once: HashSet::new(),
        };
        send(&mut relay.upstream_write, &Packet::Connect(connect)).await?;
        let mut from_upstream = BytesMut::new();
        let answered = tokio::time::timeout(CONNECT_TIMEOUT, next_packet(&mut upstream_read, &mut from_upstream)).await;
        match answered {
            Ok(Ok(Some(connack @ Packet::ConnAck(_)))) => send(&mut relay.device_write, &connack).await?,
            Ok(Ok(_)) => return Err("the upstream broker did not answer the CONNECT".to_owned()),
            Ok(Err(error)) => return Err(format!("the upstream broker: {error}")),
            Err(_) => return Err("the upstream broker did not answer the CONNECT in time".to_owned()),
        }
        loop {
            let go_on = tokio::select! {
                biased;
                () = closing.requested() => false,
                packet = next_packet(&mut device_read, &mut from_device) => match packet {
                    Ok(Some(packet)) => relay.device_sent(packet).await?,
                    Ok(None) => false,
                    Err(error) => return Err(format!("the device: {error}")),
                },
                packet = next_packet(&mut upstream_read, &mut from_upstream) => match packet {
                    Ok(Some(packet)) => relay.upstream_sent(packet).await?,
                    Ok(None) => false,
                    Err(error) => return Err(format!("the upstream broker: {error}")),
                },
            };
            if !go_on || closing.is_requested() {
                let _ = relay.device_write.shutdown().await;
                let _ = relay.upstream_write.shutdown().await;
                return Ok(());
            }
        }
    }
}

/// A live session's two write sides and what it must remember between packets.
struct Relay<'g> {
    gateway: &'g Gateway,
    device: SocketAddr,
    device_write: WriteHalf<DeviceStream>,
    upstream_write: WriteHalf<TcpStream>,
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

    /// Handles a packet from the device; `false` closes the connection.
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
                send(&mut self.upstream_write, &Packet::Publish(publish)).await?;
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
                    send(&mut self.device_write, &Packet::SubAck(refused)).await?;
                } else {
                    self.pending_subacks.insert(subscribe.pkid, places);
                    let allowed = Subscribe { pkid: subscribe.pkid, filters: forwarded };
                    send(&mut self.upstream_write, &Packet::Subscribe(allowed)).await?;
                }
            }
            Packet::Unsubscribe(unsubscribe) => {
                for filter in &unsubscribe.topics {
                    self.subscribed.remove(filter);
                }
                send(&mut self.upstream_write, &Packet::Unsubscribe(unsubscribe)).await?;
            }
            // A second CONNECT is a protocol violation.
            Packet::Connect(_) => return Ok(false),
            Packet::Disconnect => {
                send(&mut self.upstream_write, &Packet::Disconnect).await?;
                return Ok(false);
            }
            other => send(&mut self.upstream_write, &other).await?,
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
                    send(&mut self.device_write, &Packet::Publish(publish)).await?;
                } else {
                    match publish.qos {
                        QoS::AtMostOnce => {}
                        QoS::AtLeastOnce => {
                            send(&mut self.upstream_write, &Packet::PubAck(PubAck::new(publish.pkid))).await?;
                        }
                        QoS::ExactlyOnce => {
                            self.dropped_exactly_once.insert(publish.pkid);
                            send(&mut self.upstream_write, &Packet::PubRec(PubRec::new(publish.pkid))).await?;
                        }
                    }
                }
            }
            Packet::SubAck(suback) => {
                let merged = match self.pending_subacks.remove(&suback.pkid) {
                    Some(places) => {
                        let codes = places
                            .iter()
                            .map(|place| {
                                place
                                    .and_then(|index| suback.return_codes.get(index).copied())
                                    .unwrap_or(SubscribeReasonCode::Failure)
                            })
                            .collect();
                        SubAck::new(suback.pkid, codes)
                    }
                    None => suback,
                };
                send(&mut self.device_write, &Packet::SubAck(merged)).await?;
            }
            Packet::PubRel(pubrel) if self.dropped_exactly_once.remove(&pubrel.pkid) => {
                send(&mut self.upstream_write, &Packet::PubComp(PubComp::new(pubrel.pkid))).await?;
            }
            other => send(&mut self.device_write, &other).await?,
        }
        Ok(true)
    }
}
