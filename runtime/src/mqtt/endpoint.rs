//! Where the broker is and how to reach it: `mqtt://host:port` or `mqtts://host:port`, with
//! the TLS settings `mqtts` needs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};

use crate::mqtt::link::{Options, Version};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A broker address as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: bool,
}

impl Endpoint {
    /// Reads `mqtt://host[:port]` (1883 by default) or `mqtts://host[:port]` (8883).
    pub(crate) fn parse(text: &str) -> Result<Endpoint, String> {
        let (tls, rest) = if let Some(rest) = text.strip_prefix("mqtt://") {
            (false, rest)
        } else if let Some(rest) = text.strip_prefix("mqtts://") {
            (true, rest)
        } else {
            return Err(format!("`{text}` is not a broker address: write mqtt://host:port or mqtts://host:port"));
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('@') {
            return Err(format!("`{text}`: give only a host and a port; credentials go in --username/--password"));
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match rest.rsplit_once(':') {
            // An IPv6 literal without a port, such as `[::1]`, has colons but ends in `]`.
            Some((host, port)) if !port.ends_with(']') => {
                let port = port.parse::<u16>().map_err(|_| format!("`{text}`: `{port}` is not a port number"))?;
                (host, port)
            }
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("`{text}` names no host"));
        }
        Ok(Endpoint { host: host.to_owned(), port, tls })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// How to authenticate to the broker.
#[derive(Clone, Debug, Default)]
pub(crate) struct Credentials {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    /// PEM file of the certificate authorities to trust instead of the public roots.
    pub(crate) ca_file: Option<PathBuf>,
    /// PEM client certificate and key for mutual TLS, as AWS IoT Core's endpoints take it.
    pub(crate) cert_file: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
}

/// The connection settings shared by every connection iotrules opens to one broker.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    pub(crate) endpoint: Endpoint,
    pub(crate) version: Version,
    pub(crate) credentials: Credentials,
    /// Built once: reading the PEM files again on every reconnection would hide a file that
    /// went missing until the broker restarts.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// MQTT 5: seconds a persistent session outlives a disconnect; `u32::MAX`, as long as the
    /// broker allows. A share group member that may never come back sets a bound, so the
    /// broker stops giving it a share of the stream.
    pub(crate) session_expiry: u32,
}

impl Connection {
    pub(crate) fn new(endpoint: Endpoint, version: Version, credentials: Credentials) -> Result<Connection, String> {
        let tls = if endpoint.tls { Some(Arc::new(tls_config(&credentials)?)) } else { None };
        if !endpoint.tls && (credentials.cert_file.is_some() || credentials.ca_file.is_some()) {
            return Err("--ca-file, --cert and --key need an mqtts:// broker".to_owned());
        }
        Ok(Connection { endpoint, version, credentials, tls, session_expiry: u32::MAX })
    }

    /// The TLS settings of an `mqtts://` connection.
    pub(crate) fn tls(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.tls.clone()
    }

    /// Options for one client of this connection. A session that is not clean lasts until
    /// the client comes back, however long it is away (MQTT 5 needs to be told).
    pub(crate) fn options(&self, client_id: &str, clean_session: bool) -> Options {
        let host = self.endpoint.host.clone();
        let port = self.endpoint.port;
        let transport = self.tls.as_ref().map(|config| Transport::Tls(TlsConfiguration::Rustls(config.clone())));
        let credentials = self
            .credentials
            .username
            .as_ref()
            .map(|username| (username.clone(), self.credentials.password.clone().unwrap_or_default()));
        match self.version {
            Version::V311 => {
                let mut options = MqttOptions::new(client_id, host, port);
                options.set_clean_session(clean_session);
                options.set_keep_alive(KEEP_ALIVE);
                options.set_max_packet_size(MAX_PACKET, MAX_PACKET);
                if let Some((username, password)) = credentials {
                    options.set_credentials(username, password);
                }
                if let Some(transport) = transport {
                    options.set_transport(transport);
                }
                Options::V311(Box::new(options))
            }
            Version::V5 => {
                let mut options = rumqttc::v5::MqttOptions::new(client_id, host, port);
                options.set_clean_start(clean_session);
                if !clean_session {
                    options.set_session_expiry_interval(Some(self.session_expiry));
                }
                options.set_keep_alive(KEEP_ALIVE);
                options.set_max_packet_size(u32::try_from(MAX_PACKET).ok());
                if let Some((username, password)) = credentials {
                    options.set_credentials(username, password);
                }
                if let Some(transport) = transport {
                    options.set_transport(transport);
                }
                Options::V5(Box::new(options))
            }
        }
    }
}

const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// AWS IoT Core accepts payloads up to 128 KB; the broker may carry more, and a rule refuses
/// what is too large with a logged error rather than the connection dropping.
const MAX_PACKET: usize = 16 * 1024 * 1024;

fn tls_config(credentials: &Credentials) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match &credentials.ca_file {
        Some(path) => {
            for certificate in read_certificates(path)? {
                roots.add(certificate).map_err(|error| format!("`{}`: {error}", path.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS: {error}"))?
        .with_root_certificates(roots);
    match (&credentials.cert_file, &credentials.key_file) {
        (Some(cert), Some(key)) => {
            let chain = read_certificates(cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|error| format!("cannot read a private key from `{}`: {error}", key.display()))?;
            builder.with_client_auth_cert(chain, key).map_err(|error| format!("TLS client certificate: {error}"))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err("--cert and --key go together".to_owned()),
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| format!("cannot read certificates from `{}`: {error}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("`{}` holds no PEM certificate", path.display()));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    fn parsed(text: &str) -> Result<(String, u16, bool), String> {
        Endpoint::parse(text).map(|endpoint| (endpoint.host, endpoint.port, endpoint.tls))
    }

    #[test]
    fn addresses() {
        assert_eq!(parsed("mqtt://localhost:1884"), Ok(("localhost".to_owned(), 1884, false)));
        assert_eq!(parsed("mqtt://broker"), Ok(("broker".to_owned(), 1883, false)));
        assert_eq!(
            parsed("mqtts://a.iot.us-east-1.amazonaws.com"),
            Ok(("a.iot.us-east-1.amazonaws.com".to_owned(), 8883, true))
        );
        assert_eq!(parsed("mqtt://[::1]:1990"), Ok(("::1".to_owned(), 1990, false)));
        assert_eq!(parsed("mqtt://[::1]"), Ok(("::1".to_owned(), 1883, false)));
        assert_eq!(Endpoint::parse("mqtt://[::1]:7").map(|e| e.to_string()), Ok("mqtt://[::1]:7".to_owned()));
    }

    #[test]
    fn refusals() {
        for text in
            ["localhost:1883", "http://x", "mqtt://", "mqtt://h:99999", "mqtt://h:x", "mqtt://u:p@h", "mqtt://h/t"]
        {
            assert!(Endpoint::parse(text).is_err(), "{text}");
        }
    }
}
