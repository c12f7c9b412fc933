//! `iotrules run`'s engine: a compiled rule set attached to a live MQTT stream.
//!
//! **Invariants.** A QoS 1 message is acknowledged only once every action of every rule it
//! fired has finished (or the rule's error action has run), and acknowledgements leave in the
//! order messages arrived. At most `in_flight` messages are between arrival and
//! acknowledgement; past that iotrules stops reading and the broker holds the rest. Rules are
//! evaluated on one thread, in arrival order; actions run concurrently.

pub(crate) mod acks;
mod loading;
mod reload;
mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use iotrules_compiler::eval::{Environment, Message};
use iotrules_compiler::ruleset::{Produced, Scratch};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::actions::{HttpClient, Incoming, RuleActions};
use crate::mqtt::consumer::{self, Consumer, Received, Subscriptions};
use crate::mqtt::endpoint::Connection;
use crate::mqtt::link;
use crate::mqtt::publisher::MqttPublisher;
use crate::mqtt::sender;
use futures_util::future::join_all;
pub(crate) use loading::{Loaded, load};
pub(crate) use reload::stop_requested;
use stats::Stats;

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
    /// Whether the broker lets clients subscribe to `$`-topics (`$aws/...`); rumqttd, the
    /// embedded broker, drops a connection that tries.
    pub(crate) dollar_topics: bool,
    /// How long an http action waits for an answer, all retries included.
    pub(crate) http_timeout: Duration,
    /// Sample messages to publish once running (`--publish`); their rules' outputs are
    /// logged, so a first run shows what the rules do.
    pub(crate) demo: Option<Vec<(String, Vec<u8>)>>,
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
        stats::install_prometheus(address)?;
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
    let receiver = tokio::spawn(consumer::receive(consumer.clone(), eventloop, subscriptions.clone(), inbound_tx));

    let mut options = settings.connection.options(&format!("{}-actions", settings.client_id), false);
    options.window(window);
    let (publisher_client, publisher_loop) = link::client(options, settings.in_flight + 1024);
    let (publisher, drive_publisher) = MqttPublisher::new(publisher_client, publisher_loop);
    let publishing = tokio::spawn(drive_publisher);

    let mut reloads = reload::requests(&settings.rules, settings.watch)?;
    let mut stop = Box::pin(reload::stop_requested());
    let permits = Arc::new(Semaphore::new(settings.in_flight));
    let http = HttpClient::new(settings.http_timeout)?;
    let mut engine = Engine {
        loaded,
        scratch: Scratch::default(),
        env: Arc::new(Environment::default()),
        publisher: publisher.clone(),
        http,
        consumer: consumer.clone(),
        stats: stats.clone(),
        show_outputs: settings.demo.is_some(),
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
            match sender::send_all(&connection, &client_id, messages, 1, 1).await {
                Ok(sent) => tracing::info!("published {sent} sample messages"),
                Err(error) => tracing::error!(%error, "cannot publish the sample messages"),
            }
        });
    }

    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            Some(()) = reloads.recv() => engine.reload(&settings, &subscriptions),
            permit = permits.clone().acquire_owned() => {
                let Ok(permit) = permit else { break };
                tokio::select! {
                    biased;
                    () = &mut stop => break,
                    Some(()) = reloads.recv() => engine.reload(&settings, &subscriptions),
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
    let _ = tokio::time::timeout(Duration::from_secs(5), receiver).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), publishing).await;
    stats.print_summary();
    Ok(())
}

fn subscribed(loaded: &Loaded, settings: &Settings) -> Vec<String> {
    loaded
        .filters
        .iter()
        .filter(|filter| settings.dollar_topics || !filter.starts_with('$'))
        .map(|filter| subscription(filter, settings.share_group.as_deref()))
        .collect()
}

/// At most this many messages are taken from the connection in one pass of the main loop.
const BATCH: usize = 64;

/// Everything a message needs on its way through.
#[derive(Debug)]
struct Engine {
    loaded: Loaded,
    scratch: Scratch,
    env: Arc<Environment>,
    publisher: MqttPublisher,
    http: HttpClient,
    consumer: Consumer,
    stats: Arc<Stats>,
    show_outputs: bool,
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
        let message = Message {
            topic: &publish.topic,
            payload: &publish.payload,
            trace_id: Some(&trace_id),
            timestamp_ms: received.arrived_ms,
            properties: publish.properties.as_ref(),
            ..Message::default()
        };
        let started = Instant::now();
        let result = self.loaded.set.evaluate_with(&self.env, &message, &mut self.scratch);
        self.stats.evaluated(started.elapsed());
        if let Err(error) = result {
            // AWS logs such a message and drops it; the error action is for failed actions.
            tracing::warn!(topic = publish.topic, %error, help = error.help(), "message not evaluated");
            self.stats.evaluation_failed();
            self.consumer.done(&received, permit);
            return;
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
        let names = self.loaded.names.clone();
        let (publisher, http, env, acker, stats) =
            (self.publisher.clone(), self.http.clone(), self.env.clone(), self.consumer.clone(), self.stats.clone());
        tokio::spawn(async move {
            let incoming = Incoming {
                topic: received.message.topic.clone(),
                payload: received.message.payload.clone(),
                client_id: None,
                principal: None,
                source_ip: None,
                trace_id,
                timestamp_ms: received.arrived_ms,
                properties: received.message.properties.clone(),
            };
            // Rules act independently, as AWS runs them; the message is done when all are.
            let runs = fired.into_iter().filter_map(|(rule, output)| {
                let rule_actions = actions.get(rule)?;
                let name = names.get(rule).cloned().unwrap_or_default();
                Some(async {
                    let report = rule_actions.run(&publisher, &http, &env, &incoming, output).await;
                    (name, report)
                })
            });
            for (name, report) in join_all(runs).await {
                stats.actions_done(&name, &report);
            }
            acker.done(&received, permit);
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

    /// Compiles the rule files again and swaps the set in between two messages; a set with
    /// errors is reported and the running one kept. Reporting never panics (`report::render`
    /// falls back to plain lines); should loading panic all the same, the running set is kept
    /// too, rather than the messages in flight lost.
    fn reload(&mut self, settings: &Settings, subscriptions: &Subscriptions) {
        let load = || load(&settings.rules, settings.skip_unsupported, settings.basic_ingest);
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(load))
            .unwrap_or_else(|_| Err("loading the rule files failed unexpectedly\n".to_owned()));
        match loaded {
            Ok(loaded) => {
                subscriptions.replace(&self.consumer, subscribed(&loaded, settings));
                tracing::info!(rules = loaded.set.rules().len(), "rule set reloaded");
                self.loaded = loaded;
                self.stats.reloaded();
            }
            Err(diagnostics) => {
                eprint!("{diagnostics}");
                tracing::error!("the rule files have errors; still running the previous rule set");
                self.stats.reload_failed();
            }
        }
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
