//! `iotrules run`: compiled rules on a live MQTT stream.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use std::path::PathBuf;
use std::sync::Arc;

use crate::actions::http::DEFAULT_HTTP_TIMEOUT;
use crate::actions::lanes::{LaneLimits, Lanes};
use crate::actions::outbox::Outbox;
use crate::broker::{self, Open, Options};
use crate::cli::{BrokerConnectionArgs, Format, MqttVersion, RunArgs};
use crate::endpoint::DeviceEndpoint;
use crate::endpoint::gate::EndpointGate;
use crate::logging::escaped;
use crate::mqtt::endpoint::{Connection, Credentials, Endpoint};
use crate::mqtt::link::Version;
use crate::serve::Problems;
use crate::shadow::functions::LocalShadows;
use crate::{samples, serve};
use iotrules_compiler::eval::Services;

pub(crate) fn run(args: &RunArgs) -> ExitCode {
    crate::logging::init(args.format);
    run_with(args, None)
}

/// Runs the rules; with `device`, on the device endpoint's broker (`iotrules serve`): the
/// broker asks the endpoint's gate about every packet, and the rules connect as iotrules' own
/// client.
pub(crate) fn run_with(args: &RunArgs, device: Option<DeviceEndpoint>) -> ExitCode {
    let format = args.format;
    let usage_error = |message: &str| format.usage_error(message);
    let failed = |message: &str| format.error(1, message, None);
    // First: metrics registered before the exporter exists (the lanes', the outbox's) would
    // never be exported.
    if let Some(address) = args.metrics
        && let Err(message) = serve::install_prometheus(address)
    {
        return failed(&message);
    }
    let limits = LaneLimits {
        concurrency: usize::try_from(args.action_concurrency).unwrap_or(usize::MAX),
        capacity: usize::try_from(args.action_queue).unwrap_or(usize::MAX),
    };
    let lanes = Arc::new(Lanes::new(limits));
    let loaded = match serve::load(&args.rules, args.skip_unsupported_actions, args.basic_ingest, &lanes) {
        Ok(loaded) => loaded,
        Err(problems) => return refused(format, &problems),
    };
    for name in &loaded.disabled {
        tracing::info!(rule = name, "disabled in its file: not running");
    }
    // Only once the rules load: a set with errors leaves the state folder untouched.
    let outbox_path = match state_dir(args) {
        Ok(dir) => dir.join("outbox").join(format!("{}.redb", file_name(&args.client_id))),
        Err(message) => return usage_error(&message),
    };
    let outbox = match Outbox::open(&outbox_path) {
        Ok(outbox) => outbox,
        Err(message) => return failed(&message),
    };
    // Kept until the rules stop: dropping it stops the embedded broker.
    let mut _embedded = None;
    let mut internal = None;
    let mut services: Option<Arc<dyn Services>> = None;
    let endpoint = match &args.broker {
        Some(url) => match Endpoint::parse(url) {
            Ok(endpoint) => endpoint,
            Err(message) => return usage_error(&message),
        },
        None => {
            let options = match &device {
                None => Options {
                    tcp: SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
                    ws: None,
                    proxy_protocol: false,
                    exact_retained: false,
                    gate: Arc::new(Open),
                },
                // Devices reach the broker only through the TLS fronts, on loopback.
                Some(device) => Options {
                    tcp: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                    ws: device.wss.as_ref().map(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
                    proxy_protocol: false,
                    exact_retained: true,
                    gate: Arc::new(EndpointGate {
                        authorizer: Arc::clone(&device.authorizer),
                        internal: device.internal.clone(),
                        mqtt311_refusal: device.mqtt311_refusal,
                    }),
                },
            };
            let embedded = match broker::start(options) {
                Ok(embedded) => embedded,
                Err(message) => return failed(&message),
            };
            let address = embedded.tcp_address();
            match device {
                None => crate::logging::console(&banner(address, args.publish.is_some(), &loaded.listening)),
                Some(device) => {
                    internal = Some(device.internal_credentials());
                    services = Some(Arc::new(LocalShadows::new(Arc::clone(&device.shadow_store))));
                    if let Err(message) = device.start(address, embedded.ws_address()) {
                        return failed(&message);
                    }
                }
            }
            _embedded = Some(embedded);
            Endpoint { host: Ipv4Addr::LOCALHOST.to_string(), port: address.port(), tls: false }
        }
    };
    // On the device endpoint's broker, and behind the gateway of `serve --upstream`, the rules
    // read who published each message from MQTT 5 user properties.
    let identity_properties = internal.is_some() || args.identity_from_gateway;
    let credentials = match internal {
        Some(internal) => Ok(internal),
        None => credentials(&args.connection),
    };
    let mut connection =
        match credentials.and_then(|credentials| Connection::new(endpoint, version(&args.connection), credentials)) {
            Ok(connection) => connection,
            Err(message) => return usage_error(&message),
        };
    if identity_properties {
        connection.version = Version::V5;
    }
    if let Some(seconds) = args.session_expiry {
        if connection.version != Version::V5 {
            return usage_error(
                "--session-expiry needs --mqtt-version 5: MQTT 3.1.1 sessions expire only by broker settings",
            );
        }
        connection.session_expiry = seconds;
    }
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
        watch_drops: args.broker.is_some(),
        identity_properties,
        services,
        http_timeout: args.http_timeout_ms.map_or(DEFAULT_HTTP_TIMEOUT, Duration::from_millis),
        demo,
        lanes,
        outbox: Some(outbox),
        handoff_after: Duration::from_millis(args.handoff_after_ms),
    };
    match serve::run(settings, loaded) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => failed(&message),
    }
}

/// A rule set that does not load: its problems, then that nothing runs; in JSON, one failure
/// document with the diagnostics, and the problems said in words in its `error`.
fn refused(format: Format, problems: &Problems) -> ExitCode {
    const NOTHING_RUNS: &str = "the rule set has errors; nothing runs until they are fixed";
    if !format.is_json() {
        eprint!("{}", problems.render());
        return format.error(1, NOTHING_RUNS, None);
    }
    let said: Vec<&str> = problems.sayings().collect();
    let message =
        if said.is_empty() { NOTHING_RUNS.to_owned() } else { format!("{NOTHING_RUNS}: {}", said.join("; ")) };
    format.invalid(&message, problems.reports())
}

/// `--state-dir`, else the XDG state folder.
pub(crate) fn state_dir(args: &RunArgs) -> Result<PathBuf, String> {
    if let Some(dir) = &args.state_dir {
        return Ok(dir.clone());
    }
    let base = match (std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME")) {
        (Some(state), _) if !state.is_empty() => PathBuf::from(state),
        (_, Some(home)) if !home.is_empty() => PathBuf::from(home).join(".local").join("state"),
        _ => return Err("no state folder: set --state-dir (or HOME, or XDG_STATE_HOME)".to_owned()),
    };
    Ok(base.join("iotrules"))
}

/// A client id as a file name: characters other than letters, digits, `-`, `_` and `.`
/// written as `%XX`, so no id can name a path outside the folder.
fn file_name(client_id: &str) -> String {
    let mut name = String::with_capacity(client_id.len());
    for byte in client_id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_') || (byte == b'.' && !name.is_empty()) {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

pub(crate) fn version(args: &BrokerConnectionArgs) -> Version {
    match args.mqtt_version {
        MqttVersion::V311 => Version::V311,
        MqttVersion::V5 => Version::V5,
    }
}

/// The environment variable a broker password is read from.
pub(crate) const PASSWORD_VARIABLE: &str = "IOTRULES_MQTT_PASSWORD";

/// The connection's credentials; the password from `--password-file`, else
/// `IOTRULES_MQTT_PASSWORD`, else `--password` (with a warning, as others can read it).
pub(crate) fn credentials(args: &BrokerConnectionArgs) -> Result<Credentials, String> {
    let password = match (&args.password_file, std::env::var(PASSWORD_VARIABLE), &args.password) {
        (Some(path), _, _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read the password file `{}`: {error}", path.display()))?;
            Some(
                text.strip_suffix('\n').map(|text| text.strip_suffix('\r').unwrap_or(text)).unwrap_or(&text).to_owned(),
            )
        }
        (None, Ok(password), _) => Some(password),
        (None, Err(_), Some(password)) => {
            tracing::warn!(
                "--password is visible to every user of this machine in the process list: set {PASSWORD_VARIABLE} or use --password-file"
            );
            Some(password.clone())
        }
        (None, Err(_), None) => None,
    };
    if password.is_some() && args.username.is_none() {
        return Err(format!("a password ({PASSWORD_VARIABLE}) needs --username"));
    }
    Ok(Credentials {
        username: args.username.clone(),
        password,
        ca_file: args.ca_file.clone(),
        cert_file: args.cert.clone(),
        key_file: args.key.clone(),
    })
}

/// What `run` on the embedded broker prints first: where the broker listens, the rules loaded
/// and the topics they listen on, and how to send them a message.
fn banner(address: SocketAddr, publishing: bool, listening: &[(String, String)]) -> String {
    /// Rules named in the banner; the rest are counted.
    const SHOWN: usize = 5;
    let port = address.port();
    let mut out = format!("embedded MQTT broker listening on mqtt://{address}\n");
    let noun = if listening.len() == 1 { "rule" } else { "rules" };
    let shown: Vec<String> = listening
        .iter()
        .take(SHOWN)
        .map(|(name, filter)| format!("{} on {}", escaped(name), escaped(filter)))
        .collect();
    let more = listening.len().saturating_sub(SHOWN);
    let more = if more > 0 { format!(", and {more} more") } else { String::new() };
    out.push_str(&format!("  {} {noun}: {}{more}\n", listening.len(), shown.join(", ")));
    if let Some((_, filter)) = listening.first() {
        let topic = shell_quoted(&example_topic(filter));
        let port_flag = if port == 1883 { String::new() } else { format!(" --broker mqtt://127.0.0.1:{port}") };
        out.push_str(&format!("  publish:   iotrules publish{port_flag} --topic {topic} --message '{{}}'\n"));
        out.push_str(&format!("  or:        mosquitto_pub -h 127.0.0.1 -p {port} -q 1 -t {topic} -m '{{}}'\n"));
    }
    out.push_str(&format!("  subscribe: mosquitto_sub -h 127.0.0.1 -p {port} -t '#' -v\n"));
    if !publishing {
        out.push_str("  (or start with --publish FILE to send the messages of a JSON Lines file: {\"topic\": ..., \"payload\": ...})\n");
    }
    out
}

/// A topic the filter matches: each wildcard level filled with `example`.
fn example_topic(filter: &str) -> String {
    filter
        .split('/')
        .map(|level| if level == "+" || level == "#" { "example" } else { level })
        .collect::<Vec<_>>()
        .join("/")
}

/// A word for a POSIX shell: single-quoted, with single quotes inside written as `'\''`.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", escaped(text).replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::{banner, example_topic, file_name, shell_quoted};

    /// The banner names the rules loaded and publishes to a topic the first one listens on.
    #[test]
    fn the_banner_describes_the_loaded_rules() {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], 1884));
        let rules = [("alerts".to_owned(), "sensors/+/telemetry".to_owned()), ("all".to_owned(), "fleet/#".to_owned())];
        let text = banner(address, false, &rules);
        assert!(text.contains("  2 rules: alerts on sensors/+/telemetry, all on fleet/#\n"), "{text}");
        assert!(
            text.contains(
                "iotrules publish --broker mqtt://127.0.0.1:1884 --topic 'sensors/example/telemetry' --message '{}'"
            ),
            "{text}"
        );
        assert!(text.contains("mosquitto_pub -h 127.0.0.1 -p 1884 -q 1 -t 'sensors/example/telemetry'"), "{text}");
        assert!(!text.contains("boiler"), "{text}");
        let many: Vec<(String, String)> = (0..7).map(|n| (format!("r{n}"), format!("t/{n}"))).collect();
        assert!(banner(address, true, &many).contains("r4 on t/4, and 2 more\n"));
        assert!(!banner(address, true, &many).contains("--publish FILE"));
    }

    #[test]
    fn example_topics_fill_wildcards_and_are_quoted_for_the_shell() {
        assert_eq!(example_topic("$aws/things/+/shadow/update/#"), "$aws/things/example/shadow/update/example");
        assert_eq!(shell_quoted("it's $HOME\n"), "'it'\\''s $HOME\\n'");
    }

    #[test]
    fn client_ids_become_safe_file_names() {
        assert_eq!(file_name("iotrules-1_a.b"), "iotrules-1_a.b");
        assert_eq!(file_name("../etc/passwd"), "%2E.%2Fetc%2Fpasswd");
        assert_eq!(file_name("a b/é"), "a%20b%2F%C3%A9");
    }
}
