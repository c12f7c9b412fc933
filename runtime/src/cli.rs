//! The command-line interface: flags and subcommands.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use iotrules_compiler::SqlVersion;

#[derive(Debug, Parser)]
#[command(name = "iotrules", version, about = "Check, evaluate and run AWS IoT Core rules offline")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check IoT SQL statements, TopicRulePayload files and IoT policy documents, as AWS IoT
    /// Core would accept them.
    Check(CheckArgs),
    /// Evaluate one rule on one message and print what it publishes.
    Eval(Box<EvalArgs>),
    /// Run rule tests: AWS validation-tool files and JSONL conformance files.
    Test(TestArgs),
    /// Measure the throughput of rules on sample messages.
    Bench(BenchArgs),
    /// Decide whether a connection may perform an action on a resource under IoT policies,
    /// as AWS IoT Core's TestAuthorization does.
    Authorize(AuthorizeArgs),
    /// Run rules on a live MQTT stream and perform their actions: on the broker given with
    /// `--broker`, or on an embedded one.
    Run(Box<RunArgs>),
    /// The device endpoint: devices connect with certificates as to AWS IoT Core, are resolved
    /// in the registry, every packet is authorized by their policies, shadows are kept, and the
    /// rules run on the same stream.
    Serve(Box<ServeArgs>),
    /// Run the embedded MQTT broker alone.
    Broker(BrokerArgs),
    /// Publish messages to a broker: one with `--topic` and `--message`, or a sample file.
    Publish(PublishArgs),
    /// Format IoT SQL files in place, or with `--check` list the files that would change.
    Fmt(FmtArgs),
    /// Create a local test fleet: a CA, a server certificate, device certificates and keys, and
    /// the registry (things, certificates, a device policy, attachments) that identifies them.
    Fleet(FleetArgs),
    /// Read and write device shadows over MQTT, as a device does, or list a shadow store.
    Shadow(ShadowArgs),
    /// Serve the Device Shadow service on any broker, as an MQTT client (`iotrules serve`
    /// runs it on its own broker).
    Shadows(ShadowsArgs),
    /// Turn an IoT SQL file and its actions into a TopicRulePayload for `aws iot
    /// create-topic-rule`, checked as `iotrules check` checks rule files.
    Export(ExportArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or PowerShell, e.g.
    /// `iotrules completions bash > ~/.local/share/bash-completion/completions/iotrules`.
    Completions {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `iotrules man > ~/.local/share/man/man1/iotrules.1`.
    Man,
}

#[derive(Debug, Args)]
pub(crate) struct ShadowsArgs {
    /// The broker whose `$aws/things/+/shadow/...` requests to serve.
    #[arg(long, value_name = "URL", default_value = "mqtt://127.0.0.1:1883")]
    pub(crate) broker: String,

    /// The MQTT client id.
    #[arg(long, default_value = "iotrules-shadows")]
    pub(crate) client_id: String,

    /// Subscribe through `$share/<NAME>/`: instances of one group split the requests, and
    /// must share one store: a Redis server (`--shadow-store redis://...`). Mosquitto 2.0
    /// accepts a shared subscription to `$aws/...` but delivers nothing to it: use `--shard`.
    #[arg(long, value_name = "NAME", conflicts_with = "shard")]
    pub(crate) share_group: Option<String>,

    /// Split the things between COUNT instances by name, on any broker: this one answers the
    /// requests of shard INDEX (from 0) and leaves the others to theirs. All share one Redis
    /// store; a shard whose instance is down is not answered until it is back.
    #[arg(long, value_name = "INDEX/COUNT")]
    pub(crate) shard: Option<crate::shadow::shard::Shard>,

    /// The shadow store: a file (redb, one process), or `redis://host:port` shared by several
    /// instances.
    #[arg(long, value_name = "FILE|URL")]
    pub(crate) shadow_store: String,

    /// Shadow requests a second per thing, as AWS limits them (past it: 429 Too Many
    /// Requests); 0 for no limit.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) shadow_requests_per_second: u32,

    /// How to print: logs and start-up lines as text on standard error; or, with `json`, log
    /// lines as JSON objects on standard error (as `IOTRULES_LOG_FORMAT=json`) and a failure
    /// to start as one JSON document, `{"error", "help", "diagnostics"}`, on standard output,
    /// with the same exit code.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,

    #[command(flatten)]
    pub(crate) connection: BrokerConnectionArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ShadowArgs {
    #[command(subcommand)]
    pub(crate) action: ShadowAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ShadowAction {
    /// Print a shadow (`$aws/things/<thing>/shadow[/name/<name>]/get`).
    Get(ShadowRequestArgs),
    /// Update a shadow with a request document such as `{"state": {"desired": {"on": true}}}`.
    Update(ShadowUpdateArgs),
    /// Delete a shadow.
    Delete(ShadowRequestArgs),
    /// List the shadows in a store (of a stopped `iotrules serve`).
    List(ShadowListArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ShadowRequestArgs {
    /// The thing.
    pub(crate) thing: String,

    /// A named shadow; the classic shadow without it.
    #[arg(long)]
    pub(crate) name: Option<String>,

    /// The endpoint, such as `mqtts://localhost:8883` for `iotrules serve`.
    #[arg(long, value_name = "URL", default_value = "mqtts://localhost:8883")]
    pub(crate) broker: String,

    /// The MQTT client id; the thing's name when not given, as thing policies expect.
    #[arg(long)]
    pub(crate) client_id: Option<String>,

    /// How long to wait for the answer, in seconds.
    #[arg(long, default_value_t = 10)]
    pub(crate) timeout: u64,

    /// How to print the answer: its document on standard output, errors on standard error; or
    /// one JSON document on standard output, `{"thing", "name", "operation", "accepted",
    /// "topic", "response"}` with the answer as `response`, and a failure (no answer, a
    /// refused subscription) as `{"error", "help", "diagnostics"}`. The exit code is the same:
    /// 0 accepted, 1 rejected or failed, 2 a usage error.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,

    #[command(flatten)]
    pub(crate) connection: BrokerConnectionArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ShadowUpdateArgs {
    #[command(flatten)]
    pub(crate) request: ShadowRequestArgs,

    /// The request document, as JSON text, or `@FILE`.
    #[arg(long)]
    pub(crate) document: String,
}

#[derive(Debug, Args)]
pub(crate) struct ShadowListArgs {
    /// Only this thing's shadows.
    pub(crate) thing: Option<String>,

    /// The shadow store: a file (stop the service using it first: redb locks it), or
    /// `redis://host:port`.
    #[arg(long, value_name = "FILE|URL")]
    pub(crate) store: String,

    /// How to print the shadows: one `THING NAME` line each (`(classic)` for the unnamed one);
    /// or one JSON document, `{"shadows": [{"thing", "name"}]}`, `name` null for the classic
    /// shadow, and a failure as `{"error", "help", "diagnostics"}`.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The registry: things, certificates, policies and attachments (see `iotrules fleet`).
    #[arg(long, value_name = "DIR")]
    pub(crate) registry: PathBuf,

    /// The port devices connect to with MQTT over TLS.
    #[arg(long, default_value_t = 8883)]
    pub(crate) tls_port: u16,

    /// A port for MQTT over WebSocket over TLS (browsers), with client certificates as well.
    #[arg(long)]
    pub(crate) wss_port: Option<u16>,

    /// The address the device ports listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub(crate) bind: std::net::IpAddr,

    /// The endpoint's certificate chain (PEM); `server/server.pem` beside the registry when not
    /// given, as `iotrules fleet` writes it.
    #[arg(long, value_name = "FILE", requires = "server_key")]
    pub(crate) server_cert: Option<PathBuf>,

    /// The endpoint's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "server_cert")]
    pub(crate) server_key: Option<PathBuf>,

    /// The region in the ARNs policies are evaluated against.
    #[arg(long, default_value = "us-east-1")]
    pub(crate) region: String,

    /// The account id in the ARNs policies are evaluated against.
    #[arg(long, default_value = "123456789012")]
    pub(crate) account: String,

    /// The shadow store: a file (redb), or `redis://host:port`; `shadows.redb` in the state
    /// folder when not given.
    #[arg(long, value_name = "FILE|URL")]
    pub(crate) shadow_store: Option<String>,

    /// Shadow requests a second per thing, as AWS limits them (past it: 429 Too Many
    /// Requests); 0 for no limit.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) shadow_requests_per_second: u32,

    /// Put the endpoint in front of this broker (`mqtt://host:port`, or `mqtts://` with
    /// `--ca-file`) instead of the embedded one: each device session is authorized here and
    /// forwarded to it over an MQTT 5 connection of its own (the broker must speak MQTT 5),
    /// from the TLS port and the WebSocket one alike. The rules run on that broker; run the
    /// shadow service beside it (`iotrules shadows`).
    #[arg(long, value_name = "URL")]
    pub(crate) upstream: Option<String>,

    /// How an MQTT 3.1.1 device learns that its CONNECT or a SUBSCRIBE filter was refused
    /// (MQTT 5 devices always get reason code 0x87; a refused 3.1.1 PUBLISH always closes
    /// the connection, as AWS documents).
    #[arg(long, value_enum, default_value_t = Mqtt311Refusal::Answer)]
    pub(crate) mqtt311_refusal: Mqtt311Refusal,

    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// See `docs/device-endpoint.md`: AWS's guide no longer says which of these it does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mqtt311Refusal {
    /// CONNACK return code 5 (not authorized), SUBACK 0x80 for the refused filter: what MQTT
    /// 3.1.1 defines, and what current AWS SDKs report.
    #[default]
    Answer,
    /// The connection is closed without a CONNACK or SUBACK, as AWS's older guide described.
    Close,
}

#[derive(Debug, Args)]
pub(crate) struct FleetArgs {
    /// A new or empty directory to create the fleet in.
    pub(crate) dir: PathBuf,

    /// A thing to create with its certificate; repeat for several.
    #[arg(long = "thing", value_name = "NAME", default_values_t = ["thing-1".to_owned(), "thing-2".to_owned()])]
    pub(crate) things: Vec<String>,

    /// The region written into ARNs.
    #[arg(long, default_value = "us-east-1")]
    pub(crate) region: String,

    /// The account id written into ARNs.
    #[arg(long, default_value = "123456789012")]
    pub(crate) account: String,

    /// How to print what was created: a few lines saying what each part is for; or one JSON
    /// document, `{"dir", "ca", "server_certificate", "server_key", "devices": [{"thing",
    /// "certificate", "key"}], "registry", "files"}`, and a failure as `{"error", "help",
    /// "diagnostics"}` with the same exit code.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
}

/// How to reach a broker.
#[derive(Clone, Debug, Args)]
pub(crate) struct BrokerConnectionArgs {
    /// The MQTT version to speak. Republish headers and user properties, and the properties
    /// `get_mqtt_property` and `get_user_properties` read, exist only in MQTT 5.
    #[arg(long, value_enum, default_value_t = MqttVersion::V311)]
    pub(crate) mqtt_version: MqttVersion,

    /// User name for the broker.
    #[arg(long)]
    pub(crate) username: Option<String>,

    /// Password for the broker. Prefer `IOTRULES_MQTT_PASSWORD` or `--password-file`: a
    /// command line is visible to every user of the machine.
    #[arg(long, requires = "username", conflicts_with = "password_file")]
    pub(crate) password: Option<String>,

    /// A file whose content (without a final newline) is the broker password.
    #[arg(long, value_name = "FILE", requires = "username")]
    pub(crate) password_file: Option<PathBuf>,

    /// With mqtts://: PEM file of the certificate authorities to trust instead of the
    /// public ones.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,

    /// With mqtts://: PEM client certificate for mutual TLS (as AWS IoT Core requires).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(crate) cert: Option<PathBuf>,

    /// With mqtts://: PEM private key of `--cert`.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum MqttVersion {
    #[value(name = "3.1.1")]
    V311,
    #[value(name = "5")]
    V5,
}

#[derive(Clone, Debug, Args)]
pub(crate) struct RunArgs {
    /// Rule files (`.sql` or TopicRulePayload `.json`) or directories of them.
    #[arg(required = true)]
    pub(crate) rules: Vec<PathBuf>,

    /// Set by `serve --upstream`: the broker's publishes carry the identity the gateway
    /// stamped on them.
    #[arg(skip)]
    pub(crate) identity_from_gateway: bool,

    /// The broker: `mqtt://host:port` or `mqtts://host:port`. Without it, an embedded broker
    /// starts on 127.0.0.1:`--port`.
    #[arg(long, value_name = "URL")]
    pub(crate) broker: Option<String>,

    /// The embedded broker's port.
    #[arg(long, default_value_t = 1883, conflicts_with = "broker")]
    pub(crate) port: u16,

    /// MQTT client id of the rules' persistent session; give each instance its own. Actions
    /// publish as `<ID>-actions`.
    #[arg(long, default_value = "iotrules")]
    pub(crate) client_id: String,

    /// Subscribe through `$share/NAME/...` so that instances in one group split the stream.
    #[arg(long, value_name = "NAME")]
    pub(crate) share_group: Option<String>,

    /// MQTT 5: seconds the broker keeps this instance's session after it disconnects; by
    /// default as long as the broker allows. In a share group, a member that may not come
    /// back sets it, so the broker stops giving it a share once it is gone.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) session_expiry: Option<u32>,

    /// Serve Prometheus metrics on this address, such as 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<std::net::SocketAddr>,

    /// Most messages between arrival and acknowledgement; past it, iotrules reads no more.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) in_flight: u16,

    /// Leave out actions iotrules cannot perform (lambda, dynamoDB, s3, ...) instead of
    /// refusing the rule.
    #[arg(long)]
    pub(crate) skip_unsupported_actions: bool,

    /// Also subscribe to `$aws/rules/<rule name>/#`, so that messages published through AWS
    /// IoT Basic Ingest reach the rule they name (the broker must allow `$` topics).
    #[arg(long)]
    pub(crate) basic_ingest: bool,

    /// How long an http action waits for its endpoint, retries included, in milliseconds;
    /// 3,000 (AWS's limit) when not given.
    #[arg(long)]
    pub(crate) http_timeout_ms: Option<u64>,

    /// Most runs of one action in progress at once; more wait in its queue.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) action_concurrency: u32,

    /// Most runs of one action waiting for their turn; past it a run fails into the rule's
    /// error action.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) action_queue: u32,

    /// Milliseconds a rule's actions may take before their run is handed off to the outbox
    /// on disk and the message acknowledged; a run whose action must queue is handed off at
    /// once.
    #[arg(long, default_value_t = 50)]
    pub(crate) handoff_after_ms: u64,

    /// Where iotrules keeps its state: the outbox of handed-off runs, one file per client id.
    /// Default: $XDG_STATE_HOME/iotrules, else ~/.local/state/iotrules.
    #[arg(long, value_name = "DIR", env = "IOTRULES_STATE_DIR")]
    pub(crate) state_dir: Option<PathBuf>,

    /// Reload only on SIGHUP, not when a rule file changes.
    #[arg(long)]
    pub(crate) no_watch: bool,

    /// Seconds between summary lines on the console; 0 for none.
    #[arg(long, default_value_t = 10)]
    pub(crate) stats_interval: u64,

    /// Once running, publish these sample messages (JSON lines of topic and payload) to the
    /// broker, to see the rules at work.
    #[arg(long, value_name = "FILE")]
    pub(crate) publish: Option<PathBuf>,

    /// How to print: logs and start-up lines as text on standard error; or, with `json`, log
    /// lines as JSON objects on standard error (as `IOTRULES_LOG_FORMAT=json`) and a failure
    /// to start as one JSON document, `{"error", "help", "diagnostics"}`, on standard output,
    /// with the same exit code.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,

    #[command(flatten)]
    pub(crate) connection: BrokerConnectionArgs,
}

#[derive(Debug, Args)]
pub(crate) struct BrokerArgs {
    /// The port to listen on.
    #[arg(long, default_value_t = 1883)]
    pub(crate) port: u16,

    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) bind: std::net::IpAddr,

    /// Also serve MQTT over WebSocket on this port (subprotocol `mqtt`, as AWS IoT Core's
    /// `/mqtt` endpoint is used by browsers and SDKs).
    #[arg(long, value_name = "PORT")]
    pub(crate) ws_port: Option<u16>,

    /// How to print: logs and start-up lines as text on standard error; or, with `json`, log
    /// lines as JSON objects on standard error (as `IOTRULES_LOG_FORMAT=json`) and a failure
    /// to start as one JSON document, `{"error", "help", "diagnostics"}`, on standard output,
    /// with the same exit code.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The broker.
    #[arg(long, value_name = "URL", default_value = "mqtt://127.0.0.1:1883")]
    pub(crate) broker: String,

    /// The topic of one message.
    #[arg(long, requires = "message", conflicts_with = "messages")]
    pub(crate) topic: Option<String>,

    /// The payload of one message, as text.
    #[arg(long, requires = "topic")]
    pub(crate) message: Option<String>,

    /// Sample messages: JSON lines of `{"topic": ..., "payload": ...}`.
    #[arg(long, value_name = "FILE", required_unless_present = "topic")]
    pub(crate) messages: Option<PathBuf>,

    /// Publish everything this many times.
    #[arg(long, default_value_t = 1)]
    pub(crate) repeat: u64,

    /// The QoS to publish with.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub(crate) qos: u8,

    /// The MQTT client id to publish as.
    #[arg(long, default_value = "iotrules-publish")]
    pub(crate) client_id: String,

    /// How to print the result: a count of the messages published on standard error; or JSON
    /// Lines on standard output, one `{"topic", "qos", "acknowledged", "refused"}` per message
    /// as the broker takes it (`refused`: why an MQTT 5 broker refused it in its PUBACK), and
    /// a failure (an unreachable broker) as a last line `{"error", "help", "diagnostics"}`,
    /// with the same exit code.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,

    #[command(flatten)]
    pub(crate) connection: BrokerConnectionArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The statement: a `.sql` or `.iotsql` file.
    pub(crate) sql: PathBuf,

    /// A JSON file holding the rule's actions: an array of AWS `Action` objects such as
    /// `[{"republish": {"topic": "alerts", "roleArn": "..."}}]`.
    #[arg(long, value_name = "FILE")]
    pub(crate) actions: Option<PathBuf>,

    /// A JSON file holding the rule's error action: one `Action` object.
    #[arg(long, value_name = "FILE")]
    pub(crate) error_action: Option<PathBuf>,

    /// The SQL version the rule runs under.
    #[arg(long, value_parser = parse_sql_version, default_value = "2016-03-23")]
    pub(crate) sql_version: SqlVersion,

    /// The rule's description.
    #[arg(long)]
    pub(crate) description: Option<String>,

    /// Export the rule disabled.
    #[arg(long)]
    pub(crate) disabled: bool,

    /// Print the document `aws iot create-topic-rule --cli-input-json` takes, with this rule
    /// name, instead of the bare payload for `--topic-rule-payload`.
    #[arg(long, value_name = "RULE_NAME")]
    pub(crate) cli_input_json: Option<String>,

    /// The document is JSON on standard output in either format (warnings on standard error),
    /// so that `> rule.json` writes the file AWS takes; `json` also prints a failure as
    /// `{"error", "help", "diagnostics"}` on standard output, with the same exit code.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct FmtArgs {
    /// `.sql` or `.iotsql` files, or directories of them. Rule `.json` files are left as written.
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,

    /// Change nothing; print the files that would change and exit with 1 if there are any.
    #[arg(long)]
    pub(crate) check: bool,

    /// Change nothing; print what would change as a unified diff and exit with 1 if anything
    /// would.
    #[arg(long)]
    pub(crate) diff: bool,

    /// How to print the result: the files formatted or that would change on standard error
    /// (the diff, and standard input formatted, on standard output); or one JSON document on
    /// standard output: `files` (each `file` with its `status`: `unchanged`, `formatted`,
    /// `would_reformat`, `not_formatted`, `skipped`; its `diff` with `--diff`; standard
    /// input's `formatted` text), the syntax errors of files not formatted as `diagnostics`,
    /// and a `summary`. The exit code is the same.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct AuthorizeArgs {
    /// A policy document attached to the principal; repeat for several. With none, every
    /// request is implicitly denied.
    #[arg(long = "policy", value_name = "FILE")]
    pub(crate) policies: Vec<PathBuf>,

    /// The connection: a JSON file with clientId, thingName, certificate, sourceIp, ...
    /// (see the README); an empty context when not given.
    #[arg(long, value_name = "FILE")]
    pub(crate) context: Option<PathBuf>,

    /// The action, such as `iot:Publish`.
    #[arg(long, required_unless_present = "requests", requires = "resource")]
    pub(crate) action: Option<String>,

    /// The resource ARN, such as `arn:aws:iot:us-east-1:123456789012:topic/a/b`.
    #[arg(long, requires = "action")]
    pub(crate) resource: Option<String>,

    /// Many requests at once: JSON lines of `{"action": ..., "resource": ...}`; one result is
    /// printed per line, in order.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["action", "resource"])]
    pub(crate) requests: Option<PathBuf>,

    /// Resolve the connection in a registry instead, as the endpoint does at CONNECT: its
    /// policies and context come from `--certificate` and `--client-id`.
    #[arg(long, value_name = "DIR", requires_all = ["certificate", "client_id"], conflicts_with_all = ["policies", "context"])]
    pub(crate) registry: Option<PathBuf>,

    /// With `--registry`: the device's certificate, a PEM file or a certificate id.
    #[arg(long, value_name = "FILE|ID", requires = "registry")]
    pub(crate) certificate: Option<String>,

    /// With `--registry`: the MQTT client id of the connection.
    #[arg(long, requires = "registry")]
    pub(crate) client_id: Option<String>,

    /// With `--registry`: the region and account of the connection's ARNs.
    #[arg(long, default_value = "us-east-1", requires = "registry")]
    pub(crate) region: String,

    #[arg(long, default_value = "123456789012", requires = "registry")]
    pub(crate) account: String,

    /// How to print the decisions: each request's `authResult` as TestAuthorization returns
    /// it on standard output (one per line with `--requests`), diagnostics on standard error;
    /// or one JSON document on standard output, `{"results": [authResult, ...],
    /// "diagnostics": [...]}`, and a failure as `{"error", "help", "diagnostics"}` with the
    /// same exit code.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Rule files (`.sql` or TopicRulePayload `.json`) or directories of them.
    #[arg(required = true)]
    pub(crate) rules: Vec<PathBuf>,

    /// Sample messages: JSON lines of `{"topic": ..., "payload": ...}` (or `payload_base64`).
    #[arg(long)]
    pub(crate) messages: PathBuf,

    /// The evaluator to measure; both, one after the other, when not given.
    #[arg(long, value_enum)]
    pub(crate) engine: Option<Engine>,

    /// How long to measure the whole set, in seconds; each rule is measured for a fifth of it.
    #[arg(long, default_value_t = 3.0)]
    pub(crate) seconds: f64,

    /// How to print the results.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
}

/// Which evaluator runs the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Engine {
    /// The reference interpreter.
    Interp,
    /// Rules the JIT compiles run as native code; the others are interpreted.
    Jit,
}

impl Engine {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Jit => "jit",
        }
    }

    pub(crate) fn ruleset(self) -> iotrules_compiler::ruleset::Engine {
        match self {
            Engine::Interp => iotrules_compiler::ruleset::Engine::Interp,
            Engine::Jit => iotrules_compiler::ruleset::Engine::Jit,
        }
    }
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("payload_source").required(true)))]
pub(crate) struct EvalArgs {
    /// The statement to evaluate.
    #[arg(long, required_unless_present = "rule", conflicts_with = "rule")]
    pub(crate) sql: Option<String>,

    /// Also say, on standard error, why the rule fired or not: whether the topic matched FROM,
    /// the value of the WHERE clause, and the SELECT items that were Undefined (left out of the
    /// output).
    #[arg(long)]
    pub(crate) explain: bool,

    /// A `.sql` file or TopicRulePayload `.json` file holding the rule.
    #[arg(long)]
    pub(crate) rule: Option<PathBuf>,

    /// The topic the message is published to.
    #[arg(long)]
    pub(crate) topic: String,

    /// The payload, as text.
    #[arg(long, group = "payload_source")]
    pub(crate) payload: Option<String>,

    /// The payload, base64-encoded (for bytes that are not text).
    #[arg(long, group = "payload_source")]
    pub(crate) payload_base64: Option<String>,

    /// A file holding the payload bytes.
    #[arg(long, group = "payload_source")]
    pub(crate) payload_file: Option<PathBuf>,

    /// SQL version for `--sql` and `.sql` files; rule files name their own.
    #[arg(long, value_parser = parse_sql_version, default_value = "2016-03-23")]
    pub(crate) sql_version: SqlVersion,

    /// MQTT client id of the publisher (`clientid()`).
    #[arg(long)]
    pub(crate) client_id: Option<String>,

    /// Rule name, which Basic Ingest topics (`$aws/rules/<name>/...`) address.
    #[arg(long)]
    pub(crate) rule_name: Option<String>,

    /// Principal of the publisher (`principal()`).
    #[arg(long)]
    pub(crate) principal: Option<String>,

    /// IP address of the publisher (`sourceip()`).
    #[arg(long)]
    pub(crate) source_ip: Option<String>,

    /// Receive time in milliseconds since the epoch (`timestamp()`); now by default.
    #[arg(long)]
    pub(crate) timestamp: Option<i64>,

    /// MQTT 5 user property `KEY=VALUE`; repeat for several.
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) user_property: Vec<String>,

    /// MQTT 5 content type of the message.
    #[arg(long)]
    pub(crate) content_type: Option<String>,

    /// MQTT 5 response topic of the message.
    #[arg(long)]
    pub(crate) response_topic: Option<String>,

    /// MQTT 5 correlation data of the message, as text.
    #[arg(long)]
    pub(crate) correlation_data: Option<String>,

    /// The value a function calling another AWS service returns, as `NAME=JSON`.
    #[arg(long, value_name = "NAME=JSON")]
    pub(crate) stub: Vec<String>,

    /// Largest payload accepted, in bytes.
    #[arg(long, default_value_t = iotrules_compiler::eval::DEFAULT_MAX_PAYLOAD)]
    pub(crate) max_payload: usize,

    /// The evaluator.
    #[arg(long, value_enum, default_value_t = Engine::Jit)]
    pub(crate) engine: Engine,

    /// How to print the result: the published payload on standard output (notes, `--explain`
    /// and errors on standard error), or one JSON document on standard output: `outcome`
    /// (`fired`, `filtered`, `not_matched`), `fired`, `output` (or `output_base64` when the
    /// payload is not JSON), `notes`, `explain` and `diagnostics`; a failure is
    /// `{"error", "help", "diagnostics"}` with the same exit code.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Validation-tool `.json` files, JSONL conformance files, or directories of them.
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,

    /// The evaluator.
    #[arg(long, value_enum, default_value_t = Engine::Jit)]
    pub(crate) engine: Engine,

    /// Value returned by a function that calls another AWS service, as `NAME=JSON`.
    #[arg(long, value_name = "NAME=JSON")]
    pub(crate) stub: Vec<String>,

    /// How to print the results: for people, as one JSON document, as GitHub workflow
    /// annotations for the failures, as a SARIF log of them, or as JUnit XML (one test case
    /// per test).
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub(crate) format: CheckFormat,

    /// Run the tests again whenever a test file changes, until interrupted.
    #[arg(long)]
    pub(crate) watch: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// `.sql` files (one statement each), TopicRulePayload `.json` files, or directories of them.
    #[arg(required_unless_present_any = ["sql", "registry"], conflicts_with = "sql")]
    pub(crate) paths: Vec<PathBuf>,

    /// Check a registry directory too: things, certificates, policies and attachments, as
    /// `iotrules fleet` writes them.
    #[arg(long, value_name = "DIR")]
    pub(crate) registry: Option<PathBuf>,

    /// Check this statement instead of files.
    #[arg(long)]
    pub(crate) sql: Option<String>,

    /// SQL version for `--sql` and `.sql` files; JSON files name their own `awsIotSqlVersion`.
    /// [default: `sql-version` of iotrules.toml, else 2016-03-23]
    #[arg(long, value_parser = parse_sql_version)]
    pub(crate) sql_version: Option<SqlVersion>,

    /// The settings file; by default `iotrules.toml` in the current folder or the nearest one
    /// above it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub(crate) format: CheckFormat,

    /// Exit with 1 on warnings too.
    #[arg(long)]
    pub(crate) deny_warnings: bool,

    /// Check again whenever an input changes, until interrupted.
    #[arg(long, conflicts_with = "sql")]
    pub(crate) watch: bool,
}

/// How a command prints its result. Its `--format` option says where each part goes and the
/// JSON's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Text for people, diagnostics rendered with their source snippets.
    Human,
    /// JSON on standard output, failures included, with the same exit codes.
    Json,
}

/// How `check` prints its diagnostics: for people, for tools, or for a CI system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckFormat {
    /// Rendered reports with the source snippet, on standard error.
    Human,
    /// One JSON document on standard output.
    Json,
    /// GitHub Actions workflow commands on standard output: each diagnostic becomes an
    /// annotation on its line of the pull request.
    Github,
    /// A SARIF 2.1.0 log on standard output, for code scanning (GitHub, GitLab, Azure DevOps).
    Sarif,
    /// A JUnit XML report on standard output: one test case per input, failed when it has
    /// errors (or warnings, with `--deny-warnings`).
    Junit,
}

fn parse_sql_version(text: &str) -> Result<SqlVersion, String> {
    text.parse().map_err(|error: iotrules_compiler::version::UnknownSqlVersion| error.to_string())
}
