//! `iotrules serve`: the device endpoint (see `docs/device-endpoint.md`). It reads the
//! registry, binds the device ports, and then runs the rules as `iotrules run` does, on the
//! endpoint's broker.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::ServeArgs;
use crate::commands::run::{credentials, version};
use crate::commands::run::{run_with, state_dir};
use crate::endpoint::authorization::Authorizer;
use crate::endpoint::tls::{self, Peers};
use crate::endpoint::{DeviceEndpoint, SharedRegistry, start_gateway};
use crate::gateway::{Front, Gateway};
use crate::mqtt::endpoint::{Connection, Endpoint};
use crate::registry;
use crate::shadow::store::Store;

pub(crate) fn run(args: &ServeArgs) -> ExitCode {
    let format = args.run.format;
    crate::logging::init(format);
    let usage_error = |message: &str| format.usage_error(message);
    if args.run.broker.is_some() {
        return usage_error("`serve` runs its own broker; --broker is for `iotrules run`");
    }
    if args.run.port != 1883 {
        return usage_error(
            "devices connect to `serve` over TLS: give --tls-port (--port is `iotrules run`'s embedded broker)",
        );
    }
    let loaded = match registry::load(&args.registry) {
        Ok(loaded) => loaded,
        Err(message) => return usage_error(&message),
    };
    if loaded.has_errors() {
        const NOTHING_RUNS: &str =
            "the registry has errors; nothing runs until they are fixed (`iotrules check --registry`)";
        if format.is_json() {
            return format.invalid(NOTHING_RUNS, loaded.error_reports());
        }
        for report in loaded.error_reports() {
            eprint!("{}", crate::report::render(report));
        }
        return format.error(1, NOTHING_RUNS, None);
    }
    let things = loaded.registry.things.len();
    let certificates = loaded.registry.certificates.len();
    let shared = SharedRegistry::new(loaded.registry);
    let beside = args.registry.parent().map(|parent| parent.join("server"));
    let (certificate, key) = match (&args.server_cert, &args.server_key, beside) {
        (Some(certificate), Some(key), _) => (certificate.clone(), key.clone()),
        (_, _, Some(server)) if server.join("server.pem").is_file() => {
            (server.join("server.pem"), server.join("server.key"))
        }
        _ => {
            return usage_error(
                "the endpoint needs a certificate: give --server-cert and --server-key (or keep server/server.pem beside the registry, as `iotrules fleet` does)",
            );
        }
    };
    let tls = match tls::server_config(&certificate, &key, shared.clone()) {
        Ok(config) => Arc::new(config),
        Err(message) => return usage_error(&message),
    };
    let bind = |port: u16| {
        std::net::TcpListener::bind((args.bind, port)).map_err(|error| {
            format!(
                "cannot listen for devices on {}:{port}: {error} (choose another port with --tls-port or --wss-port)",
                args.bind
            )
        })
    };
    let mqtts = match bind(args.tls_port) {
        Ok(listener) => listener,
        Err(message) => return usage_error(&message),
    };
    let wss = match args.wss_port.map(bind).transpose() {
        Ok(listener) => listener,
        Err(message) => return usage_error(&message),
    };
    if let Some(upstream) = &args.upstream {
        return gateway(args, upstream, shared, tls, (mqtts, wss), things, certificates);
    }
    let store_path = match (&args.shadow_store, state_dir(&args.run)) {
        (Some(path), _) => path.clone(),
        (None, Ok(dir)) => dir.join("shadows.redb").to_string_lossy().into_owned(),
        (None, Err(message)) => return usage_error(&message),
    };
    let shadow_store = match Store::open(&store_path) {
        Ok(store) => Arc::new(store),
        Err(message) => return format.error(1, &message, None),
    };
    let peers = Arc::new(Peers::default());
    let authorizer = Arc::new(Authorizer::new(shared.clone(), Arc::clone(&peers), &args.region, &args.account));
    let tls_address = mqtts.local_addr().map_or_else(|_| format!("{}:{}", args.bind, args.tls_port), |a| a.to_string());
    let mut banner =
        format!("device endpoint: MQTT over TLS on {tls_address}, {things} things, {certificates} certificates\n");
    if let Some(wss) = wss.as_ref().and_then(|listener| listener.local_addr().ok()) {
        banner
            .push_str(&format!("  MQTT over WebSocket over TLS on {wss} (client certificates, subprotocol `mqtt`)\n"));
    }
    banner.push_str(&format!("  shadows stored in {store_path}"));
    crate::logging::console(&banner);
    let device = DeviceEndpoint {
        registry_dir: args.registry.clone(),
        registry: shared,
        authorizer,
        peers,
        tls,
        mqtts,
        wss,
        internal: format!("iotrules-{}", uuid::Uuid::new_v4().simple()),
        shadow_store,
        mqtt311_refusal: args.mqtt311_refusal,
        shadow_requests_per_second: args.shadow_requests_per_second,
    };
    run_with(&args.run, Some(device))
}

/// `serve --upstream`: the gateway in front of the user's broker, and the rules on that broker.
fn gateway(
    args: &ServeArgs,
    upstream: &str,
    shared: SharedRegistry,
    tls: Arc<rustls::ServerConfig>,
    (mqtts, wss): (std::net::TcpListener, Option<std::net::TcpListener>),
    things: usize,
    certificates: usize,
) -> ExitCode {
    let format = args.run.format;
    let usage_error = |message: &str| format.usage_error(message);
    // The gateway reaches the broker with the TLS settings the rules use (--ca-file, --cert,
    // --key); each device's own CONNECT, with its credentials, goes through unchanged.
    let connection = match Endpoint::parse(upstream).and_then(|endpoint| {
        Connection::new(endpoint, version(&args.run.connection), credentials(&args.run.connection)?)
    }) {
        Ok(connection) => connection,
        Err(message) => return usage_error(&format!("--upstream: {message}")),
    };
    let endpoint = &connection.endpoint;
    let upstream_tls = match connection.tls() {
        Some(config) => match rustls::pki_types::ServerName::try_from(endpoint.host.clone()) {
            Ok(name) => Some((config, name)),
            Err(error) => return usage_error(&format!("--upstream: `{}` is not a host name: {error}", endpoint.host)),
        },
        None => None,
    };
    let peers = Arc::new(Peers::default());
    let authorizer = Arc::new(Authorizer::new(shared.clone(), Arc::clone(&peers), &args.region, &args.account));
    let tls_address = mqtts.local_addr().map_or_else(|_| format!("{}:{}", args.bind, args.tls_port), |a| a.to_string());
    let gateway = Arc::new(Gateway {
        upstream: format!("{}:{}", endpoint.host, endpoint.port),
        upstream_tls,
        authorizer,
        peers,
        mqtt311_refusal: args.mqtt311_refusal,
    });
    let wss_address = wss.as_ref().and_then(|listener| listener.local_addr().ok());
    let listeners = std::iter::once((mqtts, Front::Mqtts)).chain(wss.map(|wss| (wss, Front::Wss))).collect();
    if let Err(message) = start_gateway(listeners, tls, gateway, args.registry.clone(), shared) {
        return format.error(1, &message, None);
    }
    let mut banner = format!(
        "device gateway: MQTT over TLS on {tls_address} to {upstream}, {things} things, {certificates} certificates"
    );
    if let Some(wss) = wss_address {
        banner.push_str(&format!(
            "\n  MQTT over WebSocket over TLS on {wss}, path /mqtt (client certificates, subprotocol `mqtt`)"
        ));
    }
    crate::logging::console(&banner);
    let mut run = args.run.clone();
    run.broker = Some(upstream.to_owned());
    run.identity_from_gateway = true;
    run_with(&run, None)
}
