//! `iotrules run`'s engine: a compiled rule set attached to a live MQTT stream.
//!
//! **Invariants.** A QoS 1 message is acknowledged only once every action of every rule it
//! fired has finished (or the rule's error action has run) or been handed off to the outbox,
//! and acknowledgements leave in the order messages arrived. At most `in_flight` messages are
//! between arrival and acknowledgement; past that iotrules stops reading and the broker holds
//! the rest. Rules are evaluated on one thread, in arrival order; actions run concurrently,
//! each on its own lane. A reload compiles the new set on another thread and swaps it in
//! between two messages, so evaluation never waits for the compiler.

pub(crate) mod acks;
mod compiler;
mod loading;
mod reload;
mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use iotrules_compiler::eval::{Environment, Message, MqttProperties};
use iotrules_compiler::ruleset::{Produced, Scratch};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::actions::lanes::Lanes;
use crate::actions::outbox::{Outbox, Records};
use crate::actions::{Handoff, HttpClient, Incoming, RuleActions, Runner};
use crate::broker;
use crate::mqtt::consumer::{self, Consumer, Received, Subscriptions};
use crate::mqtt::endpoint::Connection;
use crate::mqtt::publisher::MqttPublisher;
use crate::mqtt::sender;
use crate::mqtt::{link, probe};
use compiler::Compiler;
use futures_util::future::join_all;
pub(crate) use loading::{Loaded, Problems, load};
pub(crate) use reload::stop_requested;
use stats::Stats;
pub(crate) use stats::install_prometheus;

/// What `iotrules run` was asked to do.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) connection: Connection,
    pub(crate) client_id: String,
    pub(crate) share_group: Option<String>,
    pub(crate) in_flight: usize,
    pub(crate) rules: Vec<PathBuf>,
    pub(crate) skip_unsupported: bool,
    pub(crate) basic_ingest: bool,
    pub(crate) metrics: Option<SocketAddr>,
    pub(crate) stats_every: Option<Duration>,
    pub(crate) watch: bool,
    /// Whether to watch the broker's `$SYS` count of dropped messages: an external broker's
    /// limits may drop messages for iotrules (Mosquitto's do by default); the embedded broker
    /// publishes no such count.
    pub(crate) watch_drops: bool,
    /// How long an http action waits for an answer, all retries included.
    pub(crate) http_timeout: Duration,
    /// Sample messages to publish once running (`--publish`); their rules' outputs are
    /// logged, so a first run shows what the rules do.
    pub(crate) demo: Option<Vec<(String, Vec<u8>)>>,
    /// Every action's lane; the rule set was loaded with them.
    pub(crate) lanes: Arc<Lanes>,
    /// The outbox for runs handed off; `None` holds every message until its actions finish.
    pub(crate) outbox: Option<(Outbox, Records)>,
    /// A run still going after this long is handed off to the outbox.
    pub(crate) handoff_after: Duration,
    /// Read the publisher's identity from the user properties the device endpoint stamps
    /// (`broker::IDENTITY_PROPERTIES`); only on `iotrules serve`'s own broker, where no device
    /// can forge them.
    pub(crate) identity_properties: bool,
    /// Other AWS services the rules' functions reach (the endpoint's shadows under `serve`).
    pub(crate) services: Option<Arc<dyn iotrules_compiler::eval::Services>>,
}

/// Runs until SIGINT or SIGTERM, then finishes the messages in flight.
pub(crate) fn run(settings: Settings, loaded: Loaded) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    // One thread for everything: the rule set is evaluated here (compiled rules are not shared
    // across threads), and the connections and actions are I/O that a second thread would only
    // hand messages to and from. Measured on the end-to-end benchmark, a multi-threaded runtime
    // spent about half as much CPU again per message on wake-ups across threads. A machine with
    // cores to spare runs more instances in a share group.
    runtime.block_on(serve(settings, loaded))
}

/// The subscription for `filter`, through the share group when there is one.
fn subscription(filter: &str, share_group: Option<&str>) -> String {
    match share_group {
        Some(group) => format!("$share/{group}/{filter}"),
        None => filter.to_owned(),
    }
}

async fn serve(settings: Settings, loaded: Loaded) -> Result<(), String> {
    if let Some(address) = settings.metrics {
        tracing::info!("Prometheus metrics on http://{address}/metrics");
    }
    let stats = Arc::new(Stats::default());
    if let Some(every) = settings.stats_every {
        tokio::spawn(stats::summarize(stats.clone(), every));
    }

    let window = u16::try_from(settings.in_flight).unwrap_or(u16::MAX);
    let mut options = settings.connection.options(&settings.client_id, false);
    options.manual_acks();
    options.window(window);
    // Room for an acknowledgement of every message the broker can have unacknowledged with us
    // (packet ids are 16-bit), so acknowledging never fails however far the event loop is
    // behind: brokers bound what they send unacknowledged by their own settings, not ours.
    let (consumer, eventloop) = Consumer::new(options, usize::from(u16::MAX) + settings.in_flight);
    let subscriptions = Subscriptions::with(subscribed(&loaded, &settings));
    let (inbound_tx, mut inbound) = mpsc::channel(64);
    let asked = consumer::Asked {
        session_expiry: settings.connection.session_expiry,
        share_group: settings.share_group.is_some(),
    };
    let receiver =
        tokio::spawn(consumer::receive(consumer.clone(), eventloop, subscriptions.clone(), inbound_tx, asked));

    if settings.watch_drops {
        tokio::spawn(probe::watch(settings.connection.clone(), format!("{}-probe", settings.client_id)));
    }
    let mut options = settings.connection.options(&format!("{}-actions", settings.client_id), false);
    options.window(window);
    let (publisher_client, publisher_loop) = link::client(options, settings.in_flight + 1024);
    let (publisher, drive_publisher) = MqttPublisher::new(publisher_client, publisher_loop);
    let publishing = tokio::spawn(drive_publisher);

    let mut reloads = reload::requests(&settings.rules, settings.watch)?;
    let mut stop = Box::pin(reload::stop_requested());
    let permits = Arc::new(Semaphore::new(settings.in_flight));
    let (outbox, left) = settings.outbox.clone().map_or((None, Vec::new()), |(outbox, left)| (Some(outbox), left));
    let runner = Arc::new(Runner {
        publisher: publisher.clone(),
        http: HttpClient::new(settings.http_timeout)?,
        env: Arc::new(Environment { services: settings.services.clone(), ..Environment::default() }),
        handoff: outbox.map(|outbox| Handoff { outbox, after: settings.handoff_after }),
    });
    resume(&runner, &settings.lanes, left, &stats);
    let (compiled_tx, mut compiled) = mpsc::channel(1);
    let sources = compiler::Sources {
        paths: settings.rules.clone(),
        skip_unsupported: settings.skip_unsupported,
        basic_ingest: settings.basic_ingest,
        lanes: settings.lanes.clone(),
    };
    let compiler = Compiler::start(sources, compiled_tx)?;
    let mut engine = Engine {
        loaded,
        scratch: Scratch::default(),
        runner,
        consumer: consumer.clone(),
        stats: stats.clone(),
        show_outputs: settings.demo.is_some(),
        reloading: Reloading::Idle,
        compiler,
        identity_properties: settings.identity_properties,
    };
    tracing::info!(
        rules = engine.loaded.set.rules().len(),
        actions = engine.loaded.actions.iter().map(RuleActions::len).sum::<usize>(),
        broker = %settings.connection.endpoint,
        client_id = settings.client_id,
        "running"
    );

    if let Some(messages) = settings.demo.clone() {
        let connection = settings.connection.clone();
        let client_id = format!("{}-samples", settings.client_id);
        tokio::spawn(async move {
            match sender::send_all(&connection, &client_id, messages, 1, 1, |_, _| ()).await {
                Ok(sent) => tracing::info!("published {sent} sample messages"),
                Err(error) => tracing::error!(%error, "cannot publish the sample messages"),
            }
        });
    }

    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            Some(result) = compiled.recv() => engine.swap(result, &settings, &subscriptions),
            Some(()) = reloads.recv() => engine.reload(),
            permit = permits.clone().acquire_owned() => {
                let Ok(permit) = permit else { break };
                tokio::select! {
                    biased;
                    () = &mut stop => break,
                    Some(result) = compiled.recv() => engine.swap(result, &settings, &subscriptions),
                    Some(()) = reloads.recv() => engine.reload(),
                    received = inbound.recv() => match received {
                        Some(received) => {
                            engine.process(received, permit);
                            engine.process_waiting(&mut inbound, &permits);
                        }
                        None => break,
                    },
                }
            }
        }
    }

    tracing::info!("stopping: finishing the messages in flight");
    inbound.close();
    let all = u32::try_from(settings.in_flight).unwrap_or(u32::MAX);
    if tokio::time::timeout(Duration::from_secs(30), permits.acquire_many(all)).await.is_err() {
        tracing::warn!("messages still in flight after 30 s; the broker delivers them again");
    }
    engine.consumer.disconnect();
    publisher.disconnect().await;
    let received = tokio::time::timeout(Duration::from_secs(5), receiver).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), publishing).await;
    stats.print_summary();
    match received {
        Ok(Ok(Err(message))) => Err(message),
        _ => Ok(()),
    }
}

fn subscribed(loaded: &Loaded, settings: &Settings) -> Vec<String> {
    loaded.filters.iter().map(|filter| subscription(filter, settings.share_group.as_deref())).collect()
}

/// At most this many messages are taken from the connection in one pass of the main loop.
const BATCH: usize = 64;

/// Everything a message needs on its way through.
#[derive(Debug)]
struct Engine {
    loaded: Loaded,
    scratch: Scratch,
    runner: Arc<Runner<MqttPublisher>>,
    consumer: Consumer,
    stats: Arc<Stats>,
    show_outputs: bool,
    reloading: Reloading,
    compiler: Compiler,
    identity_properties: bool,
}

/// Whether a reload is compiling, and whether another was asked for meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reloading {
    Idle,
    Compiling,
    CompilingThenAgain,
}

impl Engine {
    fn process(&mut self, received: Received, permit: OwnedSemaphorePermit) {
        let publish = &received.message;
        if publish.retain {
            // Sent because iotrules subscribed, not because someone published now: AWS's
            // rules engine sees each publish once, when it happens.
            tracing::debug!(topic = publish.topic, "skipping a retained message");
            self.consumer.done(&received, permit);
            return;
        }
        self.stats.message_in();
        let trace_id = trace_id();
        let (identity, properties) = match (self.identity_properties, &publish.properties) {
            (true, Some(properties)) => Identity::split(properties),
            _ => (Identity::default(), publish.properties.clone()),
        };
        let message = Message {
            topic: &publish.topic,
            payload: &publish.payload,
            client_id: identity.client_id.as_deref(),
            principal: identity.principal.as_deref(),
            source_ip: identity.source_ip.as_deref(),
            trace_id: Some(&trace_id),
            timestamp_ms: received.arrived_ms,
            properties: properties.as_ref(),
        };
        let started = Instant::now();
        let result = self.loaded.set.evaluate_with(&self.runner.env, &message, &mut self.scratch);
        self.stats.evaluated(started.elapsed());
        if let Err(error) = result {
            // AWS logs such a message and drops it; the error action is for failed actions.
            tracing::warn!(topic = publish.topic, %error, help = error.help(), "message not evaluated");
            self.stats.evaluation_failed();
            self.consumer.done(&received, permit);
            return;
        }
        // A rule whose function call failed is logged and skipped; the others act.
        for (rule, error) in self.scratch.failures() {
            tracing::warn!(rule = self.loaded.name(rule), topic = publish.topic, %error, help = error.help(), "rule not evaluated");
            self.stats.evaluation_failed();
        }
        // With `IOTRULES_LOG=debug`, why a rule whose topic matched did not fire (the rules
        // that fired are logged with their output as their actions start, actions or not).
        if tracing::enabled!(tracing::Level::DEBUG) {
            for (rule, produced) in self.scratch.outcomes() {
                if matches!(produced, Produced::Filtered) {
                    let name = self.loaded.name(rule);
                    tracing::debug!(rule = name, topic = publish.topic, "not fired: the WHERE clause was not true");
                }
            }
        }
        let fired: Vec<(usize, Bytes)> = self
            .scratch
            .outcomes()
            .filter_map(|(rule, produced)| match produced {
                Produced::Fired(output) => Some((rule, Bytes::copy_from_slice(output))),
                Produced::Filtered => None,
            })
            .collect();
        if fired.is_empty() {
            self.consumer.done(&received, permit);
            return;
        }
        for (rule, output) in &fired {
            self.stats.matched(self.loaded.name(*rule));
            if self.show_outputs {
                let text = String::from_utf8_lossy(output);
                tracing::info!(rule = self.loaded.name(*rule), topic = publish.topic, "fired: {text:.300}");
            }
        }
        let actions = self.loaded.actions.clone();
        let (runner, acker, stats) = (self.runner.clone(), self.consumer.clone(), self.stats.clone());
        let incoming = Incoming {
            topic: received.message.topic.clone(),
            payload: received.message.payload.clone(),
            client_id: identity.client_id,
            principal: identity.principal,
            source_ip: identity.source_ip,
            trace_id,
            timestamp_ms: received.arrived_ms,
            properties,
        };
        tokio::spawn(async move {
            let runs: Vec<(&RuleActions, Bytes)> =
                fired.into_iter().filter_map(|(rule, output)| Some((actions.get(rule)?, output))).collect();
            // Acknowledged once every rule's run has finished or been handed off; the runs
            // that were handed off go on after that, in this task.
            let acknowledge = Countdown::new(runs.len(), move || acker.done(&received, permit));
            // Rules act independently, as AWS runs them.
            let reports = join_all(runs.into_iter().map(|(rule_actions, output)| async {
                let report = rule_actions.run(&runner, &incoming, output, None, || acknowledge.one()).await;
                (&rule_actions.rule_name, report)
            }));
            for (name, report) in reports.await {
                stats.actions_done(name, &report);
            }
        });
    }

    /// Processes the messages already waiting, as far as the in-flight window allows, before
    /// the loop looks at stop and reload requests again: under load a wake-up then costs one
    /// pass through the loop for a batch rather than one per message. The batch is bounded so
    /// that a stop or a reload waits for at most that many evaluations.
    fn process_waiting(&mut self, inbound: &mut mpsc::Receiver<Received>, permits: &Arc<Semaphore>) {
        for _ in 0..BATCH {
            let Ok(permit) = permits.clone().try_acquire_owned() else { return };
            let Ok(received) = inbound.try_recv() else { return };
            self.process(received, permit);
        }
    }

    /// Starts compiling the rule files again on the compiler thread, so messages keep
    /// flowing meanwhile; a request during a compilation is served by one more after it.
    fn reload(&mut self) {
        if self.reloading != Reloading::Idle {
            self.reloading = Reloading::CompilingThenAgain;
            return;
        }
        self.reloading = Reloading::Compiling;
        self.compiler.compile();
    }

    /// Swaps in a compiled set between two messages; a set with errors is reported and the
    /// running one kept. The old set is freed on the compiler thread, so dropping thousands of
    /// compiled rules does not pause evaluation either.
    fn swap(&mut self, result: Result<Loaded, Problems>, settings: &Settings, subscriptions: &Subscriptions) {
        match result {
            Ok(loaded) => {
                subscriptions.replace(&self.consumer, subscribed(&loaded, settings));
                tracing::info!(rules = loaded.set.rules().len(), "rule set reloaded");
                let old = std::mem::replace(&mut self.loaded, loaded);
                self.compiler.free(old);
                self.stats.reloaded();
            }
            Err(problems) => {
                problems.show();
                tracing::error!("the rule files have errors; still running the previous rule set");
                self.stats.reload_failed();
            }
        }
        let again = self.reloading == Reloading::CompilingThenAgain;
        self.reloading = Reloading::Idle;
        if again {
            self.reload();
        }
    }
}

/// Counts down to one call of `done`, from any of the tasks that share it.
struct Countdown {
    remaining: std::sync::atomic::AtomicUsize,
    done: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Countdown {
    fn new(count: usize, done: impl FnOnce() + Send + 'static) -> Countdown {
        let countdown = Countdown { remaining: count.into(), done: std::sync::Mutex::new(Some(Box::new(done))) };
        if count == 0 {
            countdown.fire();
        }
        countdown
    }

    fn one(&self) {
        if self.remaining.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
            self.fire();
        }
    }

    fn fire(&self) {
        let done = self.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(done) = done {
            done();
        }
    }
}

/// Runs again the runs an earlier process handed off and did not finish.
fn resume(runner: &Arc<Runner<MqttPublisher>>, lanes: &Lanes, left: Records, stats: &Arc<Stats>) {
    if left.is_empty() {
        return;
    }
    tracing::info!(runs = left.len(), "resuming the actions handed off before the last stop");
    for (key, bytes) in left {
        let restored = match crate::actions::record::decode(key, &bytes, lanes) {
            Ok(restored) => restored,
            Err(error) => {
                let outbox = runner.handoff.as_ref().map(|handoff| handoff.outbox.path().display().to_string());
                tracing::error!(key, %error, outbox, "a handed-off run cannot be resumed; it stays in the outbox");
                continue;
            }
        };
        let (runner, stats) = (runner.clone(), stats.clone());
        tokio::spawn(async move {
            let actions = restored.actions;
            let report = actions.run(&runner, &restored.incoming, restored.output, Some(restored.resumed), || {}).await;
            stats.actions_done(&actions.rule_name, &report);
        });
    }
}

/// A trace id for `traceid()` and the error action's `cloudwatchTraceId`: a random UUID. It
/// needs to be unique, not secret, so a fast generator serves.
fn trace_id() -> String {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::{subscription, trace_id};

    #[test]
    fn trace_ids_are_uuids() {
        let (first, second) = (trace_id(), trace_id());
        assert_ne!(first, second);
        assert!(uuid::Uuid::parse_str(&first).is_ok_and(|id| id.get_version_num() == 4), "{first}");
    }

    #[test]
    fn share_groups_prefix_every_filter() {
        assert_eq!(subscription("sensors/+/telemetry", None), "sensors/+/telemetry");
        assert_eq!(subscription("sensors/+/telemetry", Some("rules")), "$share/rules/sensors/+/telemetry");
        assert_eq!(subscription("$aws/rules/alerts/#", Some("g")), "$share/g/$aws/rules/alerts/#");
    }
}

/// Who published a message, as the device endpoint stamped it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Identity {
    client_id: Option<String>,
    principal: Option<String>,
    source_ip: Option<String>,
}

impl Identity {
    /// The identity in `properties`, and the properties without it (rules never see the
    /// reserved names in `get_user_properties`).
    fn split(properties: &MqttProperties) -> (Identity, Option<MqttProperties>) {
        let mut identity = Identity::default();
        let mut rest = properties.clone();
        rest.user_properties.retain(|(name, value)| {
            let slot = match name.as_str() {
                broker::CLIENT_ID_PROPERTY => &mut identity.client_id,
                broker::PRINCIPAL_PROPERTY => &mut identity.principal,
                broker::SOURCE_IP_PROPERTY => &mut identity.source_ip,
                _ => return true,
            };
            *slot = Some(value.clone());
            false
        });
        (identity, Some(rest))
    }
}
