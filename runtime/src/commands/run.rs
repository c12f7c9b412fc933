//! `iotrules run`: compiled rules on a live MQTT stream.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use crate::actions::http::DEFAULT_HTTP_TIMEOUT;
use crate::cli::{BrokerConnectionArgs, MqttVersion, RunArgs};
use crate::commands::check::usage_error;
use crate::mqtt::embedded;
use crate::mqtt::endpoint::{Connection, Credentials, Endpoint};
use crate::mqtt::link::Version;
use crate::{samples, serve};

pub(crate) fn run(args: &RunArgs) -> ExitCode {
    crate::logging::init();
    let loaded = match serve::load(&args.rules, args.skip_unsupported_actions, args.basic_ingest) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            eprint!("{diagnostics}");
            eprintln!("error: the rule set has errors; nothing runs until they are fixed");
            return ExitCode::from(1);
        }
    };
    for name in &loaded.disabled {
        tracing::info!(rule = name, "disabled in its file: not running");
    }
    let endpoint = match &args.broker {
        Some(url) => match Endpoint::parse(url) {
            Ok(endpoint) => endpoint,
            Err(message) => return usage_error(&message),
        },
        None => {
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
            if let Err(message) = embedded::start(address) {
                eprintln!("error: {message}");
                return ExitCode::from(1);
            }
            announce_embedded(address, args);
            for filter in loaded.filters.iter().filter(|filter| filter.starts_with('$')) {
                tracing::warn!(
                    filter,
                    "the embedded broker does not let clients subscribe to $-topics: rules on this filter get no messages; run a broker such as Mosquitto and pass --broker"
                );
            }
            Endpoint { host: Ipv4Addr::LOCALHOST.to_string(), port: args.port, tls: false }
        }
    };
    let connection = match Connection::new(endpoint, version(&args.connection), credentials(&args.connection)) {
        Ok(connection) => connection,
        Err(message) => return usage_error(&message),
    };
    let demo = match &args.publish {
        Some(path) => match samples::load(path) {
            Ok(samples) => Some(samples),
            Err(message) => return usage_error(&message),
        },
        None => None,
    };
    let settings = serve::Settings {
        connection,
        client_id: args.client_id.clone(),
        share_group: args.share_group.clone(),
        in_flight: usize::from(args.in_flight),
        rules: args.rules.clone(),
        skip_unsupported: args.skip_unsupported_actions,
        basic_ingest: args.basic_ingest,
        metrics: args.metrics,
        stats_every: (args.stats_interval > 0).then(|| Duration::from_secs(args.stats_interval)),
        watch: !args.no_watch,
        dollar_topics: args.broker.is_some(),
        http_timeout: args.http_timeout_ms.map_or(DEFAULT_HTTP_TIMEOUT, Duration::from_millis),
        demo,
    };
    match serve::run(settings, loaded) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

pub(crate) fn version(args: &BrokerConnectionArgs) -> Version {
    match args.mqtt_version {
        MqttVersion::V311 => Version::V311,
        MqttVersion::V5 => Version::V5,
    }
}

pub(crate) fn credentials(args: &BrokerConnectionArgs) -> Credentials {
    Credentials {
        username: args.username.clone(),
        password: args.password.clone(),
        ca_file: args.ca_file.clone(),
        cert_file: args.cert.clone(),
        key_file: args.key.clone(),
    }
}

fn announce_embedded(address: SocketAddr, args: &RunArgs) {
    let port = address.port();
    let port_flag = if port == 1883 { String::new() } else { format!(" --broker mqtt://127.0.0.1:{port}") };
    eprintln!("embedded MQTT broker listening on mqtt://{address}");
    eprintln!(
        "  publish:   iotrules publish{port_flag} --topic sensors/boiler-7/telemetry --message '{{\"temperature\": 72, \"humidity\": 30}}'"
    );
    eprintln!(
        "  or:        mosquitto_pub -h 127.0.0.1 -p {port} -q 1 -t sensors/boiler-7/telemetry -m '{{\"temperature\": 72}}'"
    );
    eprintln!("  subscribe: mosquitto_sub -h 127.0.0.1 -p {port} -t '#' -v");
    if args.publish.is_none() {
        eprintln!("  (or start with --publish examples/messages/sample.jsonl to send the sample messages)");
    }
}
