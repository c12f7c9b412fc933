//! `iotrules serve --upstream`: the device endpoint in front of the user's own broker. Devices
//! connect here with their certificates (the TLS front of `endpoint/tls.rs`), over MQTT or
//! MQTT over WebSocket (`websocket.rs`); each session is
//! authorized packet by packet as on the embedded broker (`endpoint/authorization.rs`) and
//! forwarded to the upstream broker over an MQTT 5 connection of its own, with the device's
//! client id, so sessions, QoS, retained messages and routing stay the broker's.
//! The gateway keeps no state beyond a connection's, so instances scale behind any TCP load
//! balancer.
//!
//! - `v4.rs`: MQTT 3.1.1 devices, their packets translated to MQTT 5 upstream (`translate.rs`);
//!   `v5.rs`: MQTT 5 devices (reason codes, topic aliases). Both pass the device's identity to
//!   the rules as reserved user properties.
//!
//! What the gateway does with each packet, in both versions:
//! - CONNECT: decided before the upstream is dialled; refused → CONNACK 5 over MQTT 3.1.1 (or
//!   closed, with `--mqtt311-refusal close`), 0x87 over MQTT 5. A QoS 2 will is refused, as AWS
//!   refuses QoS 2.
//! - PUBLISH from the device: `iot:Publish` (and `iot:RetainPublish`); refused → MQTT 3.1.1:
//!   the connection is closed, as AWS does; MQTT 5: PUBACK 0x87 (QoS 1) or dropped (QoS 0).
//!   Never forwarded. QoS 2 → closed.
//! - SUBSCRIBE: each filter decided; only the allowed ones are forwarded (QoS 2 asked → 1, the
//!   most AWS grants) and the broker's SUBACK is merged with failures for the refused ones, in
//!   their places; nothing allowed → answered here.
//! - PUBLISH to the device: `iot:Receive`, and a retained message only to a subscription to
//!   exactly its topic (AWS's rule); one the device may not have is acknowledged to the broker
//!   on its behalf and dropped.
//! - Everything else passes through.

mod translate;
mod v4;
mod v5;
mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::cli::Mqtt311Refusal;
use crate::endpoint::authorization::Authorizer;
use crate::endpoint::tls::{self, Closing, Peers};

/// The largest packet either side may send: AWS's 128 KB message and its headers.
const MAX_PACKET: usize = 128 * 1024 + 4 * 1024;

/// How long a device has to send its CONNECT, and the broker its CONNACK.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What every device session of one gateway shares.
pub(crate) struct Gateway {
    /// The upstream broker, `host:port`.
    pub(crate) upstream: String,
    /// For an `mqtts://` upstream: the TLS settings and the name its certificate must carry.
    pub(crate) upstream_tls: Option<(Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
    pub(crate) authorizer: Arc<Authorizer>,
    pub(crate) peers: Arc<Peers>,
    pub(crate) mqtt311_refusal: Mqtt311Refusal,
}

/// How devices speak MQTT on a listener of the gateway; both over TLS with client
/// certificates.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Front {
    /// MQTT over TLS, as AWS's port 8883.
    Mqtts,
    /// MQTT over WebSocket over TLS, as AWS's `wss://<endpoint>/mqtt`.
    Wss,
}

/// Accepts devices on `listener`, for ever.
pub(crate) async fn serve(
    listener: TcpListener,
    front: Front,
    config: Arc<rustls::ServerConfig>,
    gateway: Arc<Gateway>,
) {
    let acceptor = TlsAcceptor::from(config);
    tls::accept_each(listener, |socket, device| {
        let (acceptor, gateway) = (acceptor.clone(), Arc::clone(&gateway));
        tokio::spawn(async move {
            let relayed = match tls::handshake(socket, device, &acceptor).await {
                Ok((stream, certificate_id)) => match front {
                    Front::Mqtts => gateway.relay(Box::new(stream), device, certificate_id).await,
                    Front::Wss => {
                        let upgraded = tokio::time::timeout(CONNECT_TIMEOUT, websocket::accept(stream, MAX_PACKET));
                        match upgraded.await {
                            Ok(Ok(stream)) => gateway.relay(Box::new(stream), device, certificate_id).await,
                            Ok(Err(reason)) => Err(reason),
                            Err(_) => Err("no WebSocket handshake in time".to_owned()),
                        }
                    }
                },
                Err(reason) => Err(reason),
            };
            if let Err(reason) = relayed {
                tracing::debug!(%device, %reason, "device connection closed");
            }
        });
    })
    .await;
}

/// An MQTT version's packets, read and written by rumqttc's codec.
trait Codec {
    type Packet;
    /// The next packet at the start of `buffer`, taken out of it; `None` when it is not all
    /// there yet.
    fn read(buffer: &mut BytesMut) -> Result<Option<Self::Packet>, String>;
    fn write(packet: &Self::Packet, out: &mut BytesMut) -> Result<(), String>;
}

/// The next whole packet of `reader`, kept in `buffer` between calls; `None` at the end of the
/// stream. Cancel-safe: what was read stays in `buffer`.
async fn next_packet<C: Codec, R: AsyncRead + Unpin>(
    reader: &mut R,
    buffer: &mut BytesMut,
) -> Result<Option<C::Packet>, String> {
    loop {
        if let Some(packet) = C::read(buffer)? {
            return Ok(Some(packet));
        }
        if reader.read_buf(buffer).await.map_err(|error| error.to_string())? == 0 {
            return Ok(None);
        }
    }
}

async fn send<C: Codec, W: AsyncWrite + Unpin>(writer: &mut W, packet: &C::Packet) -> Result<(), String> {
    let mut bytes = BytesMut::new();
    C::write(packet, &mut bytes)?;
    writer.write_all(&bytes).await.map_err(|error| error.to_string())?;
    writer.flush().await.map_err(|error| error.to_string())
}

/// A byte stream both ways.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A device's connection: TLS, or a WebSocket over TLS read as bytes.
type DeviceStream = Box<dyn Io>;

/// The connection to the upstream broker: plain TCP, or TLS over it.
type Upstream = Box<dyn Io>;

/// A session's packet handling, per MQTT version of the device and of its upstream connection.
trait Handler {
    type Device: Codec;
    type Upstream: Codec;
    /// A packet from the device; `false` closes the connection.
    async fn device_sent(&mut self, packet: <Self::Device as Codec>::Packet) -> Result<bool, String>;
    /// A packet from the upstream broker; `false` closes the connection.
    async fn upstream_sent(&mut self, packet: <Self::Upstream as Codec>::Packet) -> Result<bool, String>;
    /// Both write sides, to close them.
    fn writers(&mut self) -> (&mut WriteHalf<DeviceStream>, &mut WriteHalf<Upstream>);
}

/// The SUBACK codes the device gets: the broker's for the filters that were forwarded,
/// `refused` for the others, in the order the device asked.
fn merged_codes<T: Copy>(places: &[Option<usize>], forwarded: &[T], refused: T) -> Vec<T> {
    places.iter().map(|place| place.and_then(|index| forwarded.get(index).copied()).unwrap_or(refused)).collect()
}

/// Sends the device's CONNECT upstream and passes the broker's CONNACK to the device, as
/// `answer` gives it in the device's version (`None`: not a CONNACK).
async fn connect_upstream<Device: Codec, Up: Codec>(
    connect: &Up::Packet,
    answer: impl Fn(&Up::Packet) -> Option<Device::Packet>,
    device_write: &mut WriteHalf<DeviceStream>,
    upstream_write: &mut WriteHalf<Upstream>,
    upstream_read: &mut ReadHalf<Upstream>,
    from_upstream: &mut BytesMut,
) -> Result<(), String> {
    send::<Up, _>(upstream_write, connect).await?;
    let answered = tokio::time::timeout(CONNECT_TIMEOUT, next_packet::<Up, _>(upstream_read, from_upstream));
    match answered.await {
        Ok(Ok(Some(connack))) => match answer(&connack) {
            Some(connack) => send::<Device, _>(device_write, &connack).await,
            None => Err("the upstream broker did not answer the CONNECT".to_owned()),
        },
        Ok(Ok(None)) => Err("the upstream broker did not answer the CONNECT".to_owned()),
        Ok(Err(error)) => Err(format!("the upstream broker: {error}")),
        Err(_) => Err("the upstream broker did not answer the CONNECT in time".to_owned()),
    }
}

/// Passes packets both ways through `handler` until either side ends or a close is requested.
async fn pump<H: Handler>(
    handler: &mut H,
    closing: &Closing,
    (device_read, from_device): (&mut ReadHalf<DeviceStream>, &mut BytesMut),
    (upstream_read, from_upstream): (&mut ReadHalf<Upstream>, &mut BytesMut),
) -> Result<(), String> {
    loop {
        let go_on = tokio::select! {
            biased;
            () = closing.requested() => false,
            packet = next_packet::<H::Device, _>(device_read, from_device) => match packet {
                Ok(Some(packet)) => handler.device_sent(packet).await?,
                Ok(None) => false,
                Err(error) => return Err(format!("the device: {error}")),
            },
            packet = next_packet::<H::Upstream, _>(upstream_read, from_upstream) => match packet {
                Ok(Some(packet)) => handler.upstream_sent(packet).await?,
                Ok(None) => false,
                Err(error) => return Err(format!("the upstream broker: {error}")),
            },
        };
        if !go_on || closing.is_requested() {
            let (device_write, upstream_write) = handler.writers();
            let _ = device_write.shutdown().await;
            let _ = upstream_write.shutdown().await;
            return Ok(());
        }
    }
}

/// The protocol level a CONNECT at the start of `buffer` names (4: MQTT 3.1.1, 5: MQTT 5),
/// once enough of it is there.
fn protocol_level(buffer: &[u8]) -> Result<Option<u8>, String> {
    let Some(&first) = buffer.first() else { return Ok(None) };
    if first >> 4 != 1 {
        return Err("the first packet is not a CONNECT".to_owned());
    }
    // The remaining length takes one to four bytes, each but the last with its top bit set.
    let mut index = 1;
    loop {
        let Some(&byte) = buffer.get(index) else { return Ok(None) };
        index += 1;
        if byte & 0x80 == 0 {
            break;
        }
        if index > 4 {
            return Err("a malformed CONNECT".to_owned());
        }
    }
    let (Some(&high), Some(&low)) = (buffer.get(index), buffer.get(index + 1)) else { return Ok(None) };
    let name = usize::from(u16::from_be_bytes([high, low]));
    if name > 6 {
        return Err("not an MQTT CONNECT".to_owned());
    }
    Ok(buffer.get(index + 2 + name).copied())
}

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
        let (mut device_read, device_write) = tokio::io::split(stream);
        let mut from_device = BytesMut::new();
        let level = tokio::time::timeout(CONNECT_TIMEOUT, async {
            loop {
                if let Some(level) = protocol_level(&from_device)? {
                    return Ok(level);
                }
                if from_device.len() > MAX_PACKET
                    || device_read.read_buf(&mut from_device).await.map_err(|error| error.to_string())? == 0
                {
                    return Err("no CONNECT".to_owned());
                }
            }
        })
        .await
        .map_err(|_| "no CONNECT in time".to_owned())??;
        let session = Session { gateway: self, device, closing, device_read, device_write, from_device };
        match level {
            5 => v5::run(session).await,
            _ => v4::run(session).await,
        }
    }

    /// Dials the upstream broker for one device.
    async fn dial(&self) -> Result<Upstream, String> {
        let upstream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.upstream))
            .await
            .map_err(|_| format!("the upstream broker {} did not answer in time", self.upstream))?
            .map_err(|error| format!("cannot reach the upstream broker {}: {error}", self.upstream))?;
        let _ = upstream.set_nodelay(true);
        let Some((config, name)) = &self.upstream_tls else { return Ok(Box::new(upstream)) };
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
        let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name.clone(), upstream))
            .await
            .map_err(|_| format!("the TLS handshake with {} timed out", self.upstream))?
            .map_err(|error| format!("TLS with the upstream broker {}: {error}", self.upstream))?;
        Ok(Box::new(tls))
    }
}

/// A device connection whose CONNECT is at the start of `from_device`.
struct Session<'g> {
    gateway: &'g Gateway,
    device: SocketAddr,
    closing: &'g Closing,
    device_read: ReadHalf<DeviceStream>,
    device_write: WriteHalf<DeviceStream>,
    from_device: BytesMut,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_filters_keep_their_places_in_the_suback() {
        // Asked: a (forwarded first), b (refused), c (forwarded second), d (refused).
        let places = [Some(0), None, Some(1), None];
        assert_eq!(merged_codes(&places, &[1, 0], 0x80), [1, 0x80, 0, 0x80]);
        // A broker answering fewer codes than it was asked: the missing ones are failures.
        assert_eq!(merged_codes(&places, &[1], 0x80), [1, 0x80, 0x80, 0x80]);
    }

    #[test]
    fn the_protocol_level_is_read_from_the_connect() {
        // CONNECT, remaining length 16, "MQTT", level 4 / 5.
        let v4 = [0x10, 16, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60];
        assert_eq!(protocol_level(&v4), Ok(Some(4)));
        let v5 = [0x10, 17, 0, 4, b'M', b'Q', b'T', b'T', 5];
        assert_eq!(protocol_level(&v5), Ok(Some(5)));
        // Not all there yet.
        assert_eq!(protocol_level(&v5[..5]), Ok(None));
        assert_eq!(protocol_level(&[]), Ok(None));
        // A two-byte remaining length.
        assert_eq!(protocol_level(&[0x10, 0x80, 0x01, 0, 4, b'M', b'Q', b'T', b'T', 4]), Ok(Some(4)));
        assert!(protocol_level(&[0x30, 2, 0, 0]).is_err());
        assert!(protocol_level(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
        assert!(protocol_level(&[0x10, 20, 0x7f, 0xff]).is_err());
    }
}
