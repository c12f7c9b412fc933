//! The TLS front of the device endpoint: devices connect here with a client certificate, as
//! to AWS IoT Core's port 8883, and each connection is forwarded to the broker's loopback
//! listener.
//!
//! iotrules terminates TLS itself (rustls), so it holds the whole client certificate: its DER
//! bytes, hence the certificate id, and every field the certificate policy variables read. A
//! certificate is trusted because the registry holds it ACTIVE, whoever signed it, as AWS
//! trusts a registered certificate; the handshake still proves the device holds its key. The
//! broker learns who a forwarded connection is from [`Peers`], keyed by the address the
//! forwarding socket has on the loopback side, which only this process can hold while the
//! connection is open: a local process that connects to the broker directly has no entry and
//! is refused.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

use super::SharedRegistry;
use crate::registry::Status;
use crate::registry::certificate::certificate_id;

/// How long a device has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A forwarded connection: the device's address and its certificate.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) device: SocketAddr,
    pub(crate) certificate_id: String,
    closing: Arc<Closing>,
}

/// A request to close a forwarded connection.
#[derive(Debug, Default)]
pub(crate) struct Closing {
    /// Set before the broker can answer the packet that made the request, so the forwarder,
    /// which looks at it before passing on anything the broker sends, never lets that answer
    /// (a CONNACK, a SUBACK) reach the device.
    requested: AtomicBool,
    /// Wakes a forwarder that is waiting on both sides.
    wake: Notify,
}

/// The forwarded connections, by the loopback address of the forwarding socket (what the
/// broker sees as the client's address).
#[derive(Debug, Default)]
pub(crate) struct Peers {
    by_address: Mutex<std::collections::HashMap<SocketAddr, Peer>>,
}

impl Peers {
    pub(crate) fn get(&self, forwarded_from: &SocketAddr) -> Option<Peer> {
        self.by_address.lock().unwrap_or_else(PoisonError::into_inner).get(forwarded_from).cloned()
    }

    fn insert(&self, forwarded_from: SocketAddr, peer: Peer) {
        self.by_address.lock().unwrap_or_else(PoisonError::into_inner).insert(forwarded_from, peer);
    }

    pub(crate) fn remove(&self, forwarded_from: &SocketAddr) {
        self.by_address.lock().unwrap_or_else(PoisonError::into_inner).remove(forwarded_from);
    }

    /// Records a connection that `key` names (the gateway uses the device's own address),
    /// and returns how a close of it is requested.
    pub(crate) fn register(&self, key: SocketAddr, device: SocketAddr, certificate_id: String) -> Arc<Closing> {
        let closing = Arc::new(Closing::default());
        self.insert(key, Peer { device, certificate_id, closing: Arc::clone(&closing) });
        closing
    }

    /// Closes the device's connection: nothing the broker sends from now on reaches it.
    /// `false` when no such connection is open.
    pub(crate) fn close(&self, forwarded_from: &SocketAddr) -> bool {
        let Some(peer) = self.get(forwarded_from) else { return false };
        peer.closing.requested.store(true, Ordering::SeqCst);
        peer.closing.wake.notify_one();
        true
    }

    #[cfg(test)]
    pub(crate) fn insert_for_test(&self, forwarded_from: SocketAddr, device: SocketAddr, certificate_id: &str) {
        self.insert(
            forwarded_from,
            Peer { device, certificate_id: certificate_id.to_owned(), closing: Arc::default() },
        );
    }

    #[cfg(test)]
    pub(crate) fn is_closing(&self, forwarded_from: &SocketAddr) -> bool {
        self.get(forwarded_from).is_some_and(|peer| peer.closing.requested.load(Ordering::SeqCst))
    }
}

/// Accepts client certificates the registry holds ACTIVE.
#[derive(Debug)]
struct RegisteredCertificates {
    registry: SharedRegistry,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for RegisteredCertificates {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let id = certificate_id(end_entity);
        let status = self.registry.current().certificates.get(&id).map(|certificate| certificate.status);
        match status {
            Some(Status::Active) => Ok(ClientCertVerified::assertion()),
            Some(Status::Revoked) => Err(rustls::Error::InvalidCertificate(CertificateError::Revoked)),
            Some(_) => Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)),
            None => Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS configuration of the front: the endpoint's certificate chain and key, and client
/// certificates checked against the registry.
pub(crate) fn server_config(
    certificate: &Path,
    key: &Path,
    registry: SharedRegistry,
) -> Result<rustls::ServerConfig, String> {
    let chain = CertificateDer::pem_file_iter(certificate)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| format!("cannot read certificates from `{}`: {error}", certificate.display()))?;
    if chain.is_empty() {
        return Err(format!("`{}` holds no PEM certificate", certificate.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("cannot read a private key from `{}`: {error}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = RegisteredCertificates { registry, algorithms: provider.signature_verification_algorithms };
    rustls::ServerConfig::builder_with_provider(Arc::<CryptoProvider>::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS: {error}"))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(chain, key)
        .map_err(|error| format!("TLS: the endpoint certificate and key do not go together: {error}"))
}

/// Accepts devices on `listener` and forwards each to the broker at `broker`, for ever.
pub(crate) async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    broker: SocketAddr,
    peers: Arc<Peers>,
) {
    let acceptor = TlsAcceptor::from(config);
    accept_each(listener, |socket, device| {
        let acceptor = acceptor.clone();
        let peers = Arc::clone(&peers);
        tokio::spawn(async move {
            if let Err(reason) = forward(socket, device, acceptor, broker, &peers).await {
                tracing::debug!(%device, %reason, "device connection closed");
            }
        });
    })
    .await;
}

/// Accepts connections on `listener` for ever, handing each to `on_device`.
pub(crate) async fn accept_each(listener: TcpListener, mut on_device: impl FnMut(TcpStream, SocketAddr)) {
    loop {
        match listener.accept().await {
            Ok((socket, device)) => on_device(socket, device),
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(%error, "cannot accept a device connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The device's TLS stream once the handshake proved it holds a registered ACTIVE
/// certificate, and that certificate's id.
pub(crate) type Device = (tokio_rustls::server::TlsStream<TcpStream>, String);

/// Runs the TLS handshake of a device connection, within [`HANDSHAKE_TIMEOUT`].
pub(crate) async fn handshake(socket: TcpStream, device: SocketAddr, acceptor: &TlsAcceptor) -> Result<Device, String> {
    let _ = socket.set_nodelay(true);
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket))
        .await
        .map_err(|_| "the TLS handshake timed out".to_owned())?
        .map_err(|error| {
            // A refused certificate is the normal way an unregistered device is turned away.
            tracing::info!(%device, %error, "TLS handshake refused");
            format!("TLS handshake: {error}")
        })?;
    let Some(certificate) = tls.get_ref().1.peer_certificates().and_then(|chain| chain.first()) else {
        return Err("no client certificate".to_owned());
    };
    let id = certificate_id(certificate);
    Ok((tls, id))
}

async fn forward(
    socket: TcpStream,
    device: SocketAddr,
    acceptor: TlsAcceptor,
    broker: SocketAddr,
    peers: &Peers,
) -> Result<(), String> {
    let (tls, certificate_id) = handshake(socket, device, &acceptor).await?;
    let upstream =
        TcpStream::connect(broker).await.map_err(|error| format!("cannot reach the broker at {broker}: {error}"))?;
    let _ = upstream.set_nodelay(true);
    let forwarded_from = upstream.local_addr().map_err(|error| error.to_string())?;
    let closing = Arc::new(Closing::default());
    peers.insert(forwarded_from, Peer { device, certificate_id, closing: Arc::clone(&closing) });
    let relayed = relay(tls, upstream, &closing).await;
    peers.remove(&forwarded_from);
    relayed
}

impl Closing {
    /// Whether a close was requested.
    pub(crate) fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Returns once a close is requested.
    pub(crate) async fn requested(&self) {
        self.wake.notified().await;
    }
}

/// Reads from the broker, and ends (as at end of file) as soon as a close is requested: the
/// request is looked at after each read, before the bytes are handed on.
struct UntilClosing<'a, R> {
    inner: &'a mut R,
    closing: &'a Closing,
}

impl<R: AsyncRead + Unpin> AsyncRead for UntilClosing<'_, R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buffer.filled().len();
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut *this.inner).poll_read(context, buffer);
        if polled.is_ready() && this.closing.requested.load(Ordering::SeqCst) {
            buffer.set_filled(before);
            return std::task::Poll::Ready(Ok(()));
        }
        polled
    }
}

/// Relays bytes both ways until either side closes or a close is requested. Bytes from the
/// broker are passed on only while no close is requested, checked after each read.
async fn relay(
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    mut upstream: TcpStream,
    closing: &Closing,
) -> Result<(), String> {
    let (mut device_read, mut device_write) = tokio::io::split(tls);
    let (mut broker_read, mut broker_write) = upstream.split();
    let upward = async {
        tokio::io::copy(&mut device_read, &mut broker_write).await.map_err(|error| error.to_string())?;
        broker_write.shutdown().await.map_err(|error| error.to_string())
    };
    let downward = async {
        let mut guarded = UntilClosing { inner: &mut broker_read, closing };
        tokio::io::copy(&mut guarded, &mut device_write).await.map_err(|error| error.to_string())?;
        device_write.shutdown().await.map_err(|error| error.to_string())
    };
    tokio::select! {
        biased;
        () = closing.wake.notified() => Ok(()),
        relayed = upward => relayed,
        relayed = downward => relayed,
    }
}
