//! The embedded broker: rumqttd in the same process, so `iotrules run` works with nothing
//! installed.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// How much a subscriber may fall behind: rumqttd keeps each topic's messages in a ring of
/// segments, and a persistent session that is away for longer than the ring holds misses the
/// oldest messages. 8 × 16 MiB holds about a million 100-byte messages per topic.
const SEGMENT_BYTES: usize = 16 * 1024 * 1024;
const SEGMENTS: usize = 8;

/// Starts the broker on `address` and returns once it accepts connections.
pub(crate) fn start(address: SocketAddr) -> Result<(), String> {
    // rumqttd reports a port it cannot bind only in its own log and keeps running without a
    // listener; binding first turns that into an error the user sees.
    TcpListener::bind(address).map_err(|error| {
        format!("the embedded broker cannot listen on {address}: {error} (choose another with --port)")
    })?;
    let mut broker = Broker::new(config(address));
    thread::Builder::new()
        .name("embedded-broker".to_owned())
        .spawn(move || {
            if let Err(error) = broker.start() {
                tracing::error!(%error, "the embedded broker stopped");
            }
        })
        .map_err(|error| format!("cannot start the embedded broker: {error}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the embedded broker did not start listening on {address} within 10 s"));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn config(address: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        // AWS IoT Core's limit is 128 KB; the broker carries more so that iotrules, not the
        // broker, reports a payload that is too large.
        max_payload_size: 1024 * 1024,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server =
        ServerSettings { name: "v4".to_owned(), listen: address, tls: None, next_connection_delay_ms: 1, connections };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_000,
            max_outgoing_packet_count: 200,
            max_segment_size: SEGMENT_BYTES,
            max_segment_count: SEGMENTS,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Config::default()
    }
}
