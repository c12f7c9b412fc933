//! The device endpoint of `iotrules serve`: devices connect with certificates as to AWS IoT
//! Core, are resolved in the registry, and every packet is authorized by their policies.
//!
//! - `tls.rs`: the TLS front; it holds each device's certificate and forwards the connection
//!   to the broker on loopback.
//! - `authorization.rs`: per-connection sessions and decisions (pure apart from logging).
//!
//! The registry is shared by both and replaced whole on reload ([`SharedRegistry`]).

pub(crate) mod authorization;
pub(crate) mod gate;
#[cfg(test)]
mod tests;
pub(crate) mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use crate::mqtt::endpoint::{Connection, Credentials, Endpoint};
use crate::mqtt::link::Version;
use crate::registry::{self, Registry};
use crate::shadow::client as shadows;
use crate::shadow::service::Limits;
use crate::shadow::store::Store;
use authorization::Authorizer;
use tls::Peers;

/// The registry in force, replaced whole when it is reloaded; readers keep the one they took.
#[derive(Clone, Debug, Default)]
pub(crate) struct SharedRegistry {
    current: Arc<RwLock<Arc<Registry>>>,
}

impl SharedRegistry {
    pub(crate) fn new(registry: Registry) -> Self {
        SharedRegistry { current: Arc::new(RwLock::new(Arc::new(registry))) }
    }

    pub(crate) fn current(&self) -> Arc<Registry> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn replace(&self, registry: Registry) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(registry);
    }
}

/// Everything `iotrules serve` runs beside the broker and the rules: the TLS fronts, the
/// shadow service and the registry's reloads.
pub(crate) struct DeviceEndpoint {
    pub(crate) registry_dir: PathBuf,
    pub(crate) registry: SharedRegistry,
    pub(crate) authorizer: Arc<Authorizer>,
    pub(crate) peers: Arc<Peers>,
    pub(crate) tls: Arc<rustls::ServerConfig>,
    /// MQTT over TLS, as AWS's port 8883.
    pub(crate) mqtts: std::net::TcpListener,
    /// MQTT over WebSocket over TLS, for browsers.
    pub(crate) wss: Option<std::net::TcpListener>,
    /// The username iotrules' own clients present to the gate.
    pub(crate) internal: String,
    pub(crate) shadow_store: Arc<Store>,
    /// What an MQTT 3.1.1 device is told when its CONNECT or a SUBSCRIBE filter is refused.
    pub(crate) mqtt311_refusal: crate::cli::Mqtt311Refusal,
    /// Shadow requests a second per thing; 0 for no limit.
    pub(crate) shadow_requests_per_second: u32,
}

/// How often the registry folder is looked at for changes.
const REGISTRY_POLL: Duration = Duration::from_secs(2);

impl DeviceEndpoint {
    /// The credentials of iotrules' own clients.
    pub(crate) fn internal_credentials(&self) -> Credentials {
        Credentials {
            username: Some(self.internal.clone()),
            password: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
        }
    }

    /// Starts the fronts, the shadow service and the registry watch on a thread of their own,
    /// against the broker listening on `tcp` (and `ws`).
    pub(crate) fn start(self, tcp: SocketAddr, ws: Option<SocketAddr>) -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("device-endpoint")
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start the device endpoint's runtime: {error}"))?;
        let connection = Connection::new(
            Endpoint { host: tcp.ip().to_string(), port: tcp.port(), tls: false },
            Version::V311,
            self.internal_credentials(),
        )?;
        std::thread::Builder::new()
            .name("device-endpoint".to_owned())
            .spawn(move || runtime.block_on(self.serve(connection, tcp, ws)))
            .map_err(|error| format!("cannot start the device endpoint: {error}"))?;
        Ok(())
    }

    async fn serve(self, connection: Connection, tcp: SocketAddr, ws: Option<SocketAddr>) {
        let fronts = [(Some(self.mqtts), Some(tcp)), (self.wss, ws)];
        for (listener, broker) in fronts {
            let (Some(listener), Some(broker)) = (listener, broker) else { continue };
            let _ = listener.set_nonblocking(true);
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    tokio::spawn(tls::serve(listener, Arc::clone(&self.tls), broker, Arc::clone(&self.peers)));
                }
                Err(error) => tracing::error!(%error, "cannot listen for devices"),
            }
        }
        let settings = shadows::Settings {
            connection,
            client_id: format!("{}-shadows", self.internal),
            share_group: None,
            shard: None,
            store: self.shadow_store,
            limits: Limits { requests_per_second: self.shadow_requests_per_second, ..Limits::default() },
        };
        tokio::spawn(async move {
            if let Err(message) = shadows::run(settings).await {
                tracing::error!(%message, "the shadow service stopped");
            }
        });
        watch_registry(self.registry_dir, self.registry, self.authorizer).await;
    }
}

/// Starts the gateway of `serve --upstream` on a thread of its own: devices on `listeners`,
/// forwarded to the upstream broker, and the registry watch.
pub(crate) fn start_gateway(
    listeners: Vec<(std::net::TcpListener, crate::gateway::Front)>,
    tls: Arc<rustls::ServerConfig>,
    gateway: Arc<crate::gateway::Gateway>,
    registry_dir: PathBuf,
    registry: SharedRegistry,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("device-gateway")
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the gateway's runtime: {error}"))?;
    std::thread::Builder::new()
        .name("device-gateway".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                for (listener, front) in listeners {
                    let _ = listener.set_nonblocking(true);
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            let (tls, gateway) = (Arc::clone(&tls), Arc::clone(&gateway));
                            tokio::spawn(crate::gateway::serve(listener, front, tls, gateway));
                        }
                        Err(error) => tracing::error!(%error, "cannot listen for devices"),
                    }
                }
                watch_registry(registry_dir, registry, Arc::clone(&gateway.authorizer)).await;
            });
        })
        .map_err(|error| format!("cannot start the gateway: {error}"))?;
    Ok(())
}

/// Reloads the registry when its files change: a registry with errors is reported and the one
/// in force kept; a good one replaces it and every live connection is decided anew.
async fn watch_registry(dir: PathBuf, shared: SharedRegistry, authorizer: Arc<Authorizer>) {
    let mut seen = fingerprint(&dir);
    loop {
        tokio::time::sleep(REGISTRY_POLL).await;
        let now = fingerprint(&dir);
        if now == seen {
            continue;
        }
        seen = now;
        match registry::load(&dir) {
            Ok(loaded) if !loaded.has_errors() => {
                shared.replace(loaded.registry);
                let closed = authorizer.reload();
                tracing::info!(connections_closed = closed.len(), "registry reloaded");
            }
            Ok(loaded) => {
                crate::logging::diagnostics(loaded.error_reports());
                tracing::error!("the registry has errors; the one in force is kept");
            }
            Err(message) => tracing::error!(%message, "cannot read the registry; the one in force is kept"),
        }
    }
}

/// What changes when a registry file changes: every file's path, size and modification time.
fn fingerprint(dir: &std::path::Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut found = Vec::new();
    for (folder, _) in registry::FOLDERS {
        let Ok(entries) = std::fs::read_dir(dir.join(folder)) else { continue };
        for entry in entries.flatten() {
            if let Ok(metadata) = entry.metadata() {
                found.push((entry.path(), metadata.len(), metadata.modified().ok()));
            }
        }
    }
    found.sort();
    found
}
