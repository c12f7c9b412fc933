//! The actions `iotrules run` performs with a rule's output: republish to the broker, POST to
//! an HTTP endpoint, and the error action AWS runs when any of them fails.
//!
//! A rule's actions run concurrently, as AWS runs them, each on its own lane (`lanes.rs`):
//! a bounded queue with its own concurrency, so a slow endpoint delays only its own action.
//! A message may be acknowledged once each action of each rule it fired has succeeded,
//! failed into the error action, or been handed off to the outbox (`outbox.rs`): a run that
//! has not finished within the hand-off delay, or whose action had to queue, is written to
//! disk and its message released, and the run goes on; a crash before it finishes leaves the
//! record, which the next start runs again. Every failure becomes one entry of the error
//! action's payload, which aggregates all failures of one rule on one message. Nothing here
//! panics on any input: a template that cannot render or a broker or endpoint that refuses is
//! a failure, reported and counted.

mod error;
pub(crate) mod http;
pub(crate) mod lanes;
pub(crate) mod outbox;
pub(crate) mod record;
mod republish;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use bytes::Bytes;
use iotrules_compiler::eval::{Environment, Message, MqttProperties, Value, read_payload};
use iotrules_compiler::rule_file::{Action, ActionSpec};
use iotrules_compiler::{Code, Diagnostic};

pub(crate) use http::HttpClient;
use lanes::{Lane, Lanes};
use outbox::Outbox;
pub(crate) use record::Resumed;

use crate::rules::LoadedRule;

/// What the MQTT side offers the actions: publish and wait for the broker's acknowledgement (QoS 1) or the write (QoS 0).
pub(crate) trait Publisher: Send + Sync + 'static {
    fn publish(&self, message: Outgoing) -> impl Future<Output = Result<(), String>> + Send;
}

/// A message an action publishes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Outgoing {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
    pub(crate) qos: u8,
    /// MQTT 5 headers; ignored on MQTT 3.1.1.
    pub(crate) properties: MqttProperties,
}

/// One message as received: owned, so action tasks can outlive the event loop's buffers.
#[derive(Clone, Debug, Default)]
pub(crate) struct Incoming {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
    pub(crate) client_id: Option<String>,
    pub(crate) principal: Option<String>,
    pub(crate) source_ip: Option<String>,
    /// The id `traceid()` returns for this message; the error payload's `cloudwatchTraceId`.
    pub(crate) trace_id: String,
    /// When the broker received the message, in milliseconds since the epoch.
    pub(crate) timestamp_ms: i64,
    pub(crate) properties: Option<MqttProperties>,
}

impl Incoming {
    /// The message as the interpreter and templates see it.
    pub(crate) fn message(&self) -> Message<'_> {
        Message {
            topic: &self.topic,
            payload: &self.payload,
            client_id: self.client_id.as_deref(),
            principal: self.principal.as_deref(),
            source_ip: self.source_ip.as_deref(),
            trace_id: Some(&self.trace_id),
            timestamp_ms: self.timestamp_ms,
            properties: self.properties.as_ref(),
        }
    }
}

/// What running actions needs besides the rule: where to publish, the HTTP client, the
/// rules' environment, and where to hand off runs that take long.
#[derive(Debug)]
pub(crate) struct Runner<P> {
    pub(crate) publisher: P,
    pub(crate) http: HttpClient,
    pub(crate) env: Arc<Environment>,
    /// `None`: every run is waited for (the message is held until its actions finish).
    pub(crate) handoff: Option<Handoff>,
}

/// Where and when unfinished runs are handed off.
#[derive(Clone, Debug)]
pub(crate) struct Handoff {
    pub(crate) outbox: Outbox,
    /// A run still going after this long is handed off.
    pub(crate) after: Duration,
}

/// The actions of one rule, ready to run on each of its outputs.
#[derive(Clone, Debug)]
pub(crate) struct RuleActions {
    /// The error payload's `ruleName`: the file's `ruleName`, else the file name without its extension.
    pub(crate) rule_name: String,
    actions: Vec<Action>,
    error_action: Option<Action>,
    /// One per action, and the error action's.
    lanes: Vec<Arc<Lane>>,
    error_lane: Option<Arc<Lane>>,
    /// The actions as a rule file of their own, which a handed-off run keeps so that it can be
    /// run again after a restart whatever the rule files say by then.
    file: Arc<str>,
    /// A rule given as SQL text has no action list; its output is logged instead.
    log_output: bool,
}

/// One failed action, as the error action's payload lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// AWS's name for the action type: `RepublishAction`, `HttpAction`.
    pub(crate) failed_action: String,
    /// The topic or URL.
    pub(crate) failed_resource: String,
    pub(crate) error_message: String,
}

/// What running a rule's actions on one output did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ActionsReport {
    /// Actions that completed.
    pub(crate) succeeded: usize,
    /// Actions that failed, in the order they finished.
    pub(crate) failures: Vec<Failure>,
    /// `Some` when the error action ran: `Ok` when it completed, else its own failure (which
    /// AWS does not report further).
    pub(crate) error_action: Option<Result<(), Failure>>,
    /// The output was logged, for a rule with no action list.
    pub(crate) logged: bool,
    /// The run was handed off to the outbox before it finished.
    pub(crate) handed_off: bool,
}

impl RuleActions {
    /// A rule without an action list (SQL text): `run` logs its output at info level.
    pub(crate) fn none(rule_name: impl Into<String>) -> RuleActions {
        RuleActions {
            rule_name: rule_name.into(),
            actions: Vec::new(),
            error_action: None,
            lanes: Vec::new(),
            error_lane: None,
            file: Arc::from(""),
            log_output: true,
        }
    }

    /// Reads the actions of a loaded rule file; unsupported action types (lambda, dynamoDB, s3, ...) are an error naming the rule and the action, or with `skip_unsupported` a warning and the action is left out.
    /// Diagnostics point into `rule.report.source`. Load only rules without errors.
    pub(crate) fn from_rule_file<'r>(
        rule: &'r LoadedRule,
        skip_unsupported: bool,
        lanes: &Lanes,
    ) -> Result<(RuleActions, Vec<Diagnostic>), Vec<Diagnostic>> {
        let rule_name = rule.rule_name();
        let Some(specs) = &rule.actions else { return Ok((RuleActions::none(rule_name), Vec::new())) };
        let mut diagnostics = Vec::new();
        let mut read = |spec: &'r ActionSpec| match &spec.action {
            Some(action) => Some((action.clone(), spec)),
            None => {
                diagnostics.push(unsupported(&rule_name, spec, skip_unsupported));
                None
            }
        };
        let actions: Vec<(Action, &ActionSpec)> = specs.iter().filter_map(&mut read).collect();
        let error_action = rule.error_action.as_ref().and_then(&mut read);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(diagnostics);
        }
        let file = record::rule_file(&rule_name, rule.version, &actions, error_action.as_ref());
        let lane_of = |position: String, spec: &ActionSpec| {
            lanes.lane(&rule_name, &format!("{position}:{}", spec.kind), &spec.parameters.to_string())
        };
        let rule_actions = RuleActions {
            lanes: actions.iter().enumerate().map(|(index, (_, spec))| lane_of(index.to_string(), spec)).collect(),
            error_lane: error_action.as_ref().map(|(_, spec)| lane_of("error".to_owned(), spec)),
            actions: actions.iter().map(|(action, _)| action.clone()).collect(),
            error_action: error_action.map(|(action, _)| action),
            file: Arc::from(file),
            log_output: false,
            rule_name,
        };
        Ok((rule_actions, diagnostics))
    }

    /// The number of actions `run` performs on each output, error action not counted.
    pub(crate) fn len(&self) -> usize {
        self.actions.len()
    }

    /// Runs every action on the rule's output (concurrently, as AWS does, each on its lane);
    /// when any fails and the rule has an errorAction, runs it once with AWS's error payload
    /// aggregating all failures. `settle` is called once, as soon as the message may be
    /// acknowledged for this rule: when the run finishes, or earlier when it is handed off.
    /// `resumed` continues a run handed off before a restart.
    pub(crate) async fn run<P: Publisher>(
        &self,
        runner: &Runner<P>,
        incoming: &Incoming,
        output: Bytes,
        resumed: Option<Resumed>,
        settle: impl FnOnce(),
    ) -> ActionsReport {
        let mut report = ActionsReport::default();
        let mut settle = Some(settle);
        let mut settle_now = || {
            if let Some(settle) = settle.take() {
                settle();
            }
        };
        if self.log_output {
            // At debug: a busy `.sql` rule would flood the log (`run --publish` shows outputs).
            tracing::debug!(rule = %self.rule_name, topic = %incoming.topic, output = %String::from_utf8_lossy(&output), "rule fired");
            report.logged = true;
            settle_now();
            return report;
        }
        let message = incoming.message();
        let context = Context {
            publisher: &runner.publisher,
            http: &runner.http,
            env: &runner.env,
            message: &message,
            payload: OnceLock::new(),
        };
        // Failures by action position, so the error payload lists them in the rule's order
        // whichever finishes first.
        let mut failures: Vec<(usize, Failure)> = Vec::new();
        let (pending, mut handed_off) = match resumed {
            Some(resumed) => {
                failures = resumed.failures;
                (resumed.pending, Some(resumed.key))
            }
            None => ((0..self.actions.len()).collect::<Vec<_>>(), None),
        };
        if handed_off.is_some() {
            settle_now();
        }
        // A place on each lane now if there is one; an action that must queue hands the run
        // off at once, since waiting would only hold the message.
        let slots: Vec<_> =
            pending.iter().map(|&index| self.lanes.get(index).and_then(|lane| lane.try_slot())).collect();
        let must_queue = slots.iter().any(Option::is_none);
        let mut jobs: FuturesUnordered<_> = pending
            .iter()
            .zip(slots)
            .filter_map(|(&index, slot)| {
                let (action, lane) = (self.actions.get(index)?, self.lanes.get(index)?);
                let (context, output) = (&context, output.clone());
                Some(async move { (index, on_lane(lane, slot, action, context, output).await) })
            })
            .collect();
        let mut unfinished = pending.clone();
        let delay = if must_queue {
            Duration::ZERO
        } else {
            runner.handoff.as_ref().map_or(Duration::ZERO, |handoff| handoff.after)
        };
        let handoff_due = tokio::time::sleep(delay);
        tokio::pin!(handoff_due);
        let mut may_hand_off = runner.handoff.is_some() && handed_off.is_none();
        loop {
            tokio::select! {
                biased;
                next = jobs.next() => {
                    let Some((index, outcome)) = next else { break };
                    unfinished.retain(|&pending| pending != index);
                    match outcome {
                        Ok(()) => report.succeeded += 1,
                        Err(failure) => failures.push((index, failure)),
                    }
                }
                () = &mut handoff_due, if may_hand_off => {
                    may_hand_off = false;
                    let Some(handoff) = &runner.handoff else { continue };
                    let record = record::encode(&self.file, incoming, &output, &unfinished, &failures);
                    match handoff.outbox.put(record).await {
                        Ok(key) => {
                            handed_off = Some(key);
                            report.handed_off = true;
                            settle_now();
                        }
                        Err(error) => tracing::error!(rule = %self.rule_name, %error, "cannot hand the run off: its message waits for it"),
                    }
                }
            }
        }
        drop(jobs);
        failures.sort_by_key(|(index, _)| *index);
        for (index, failure) in &failures {
            if let Some(lane) = self.lanes.get(*index) {
                lane.log_failure(&failure.failed_resource, &failure.error_message);
            }
        }
        report.failures = failures.into_iter().map(|(_, failure)| failure).collect();
        if !report.failures.is_empty()
            && let (Some(action), Some(lane)) = (&self.error_action, &self.error_lane)
        {
            let payload = error::payload(&self.rule_name, incoming, &report.failures);
            let outcome = on_lane(lane, None, action, &context, payload).await;
            if let Err(failure) = &outcome {
                lane.log_failure(&failure.failed_resource, &failure.error_message);
            }
            report.error_action = Some(outcome);
        }
        if let (Some(key), Some(handoff)) = (handed_off, &runner.handoff) {
            handoff.outbox.delete(key);
        }
        settle_now();
        report
    }
}

/// Runs `action` with a place on its lane: `slot` if one was taken, else waiting for one.
async fn on_lane<P: Publisher>(
    lane: &Lane,
    slot: Option<lanes::Slot>,
    action: &Action,
    context: &Context<'_, P>,
    output: Bytes,
) -> Result<(), Failure> {
    let _slot = match slot {
        Some(slot) => slot,
        None => lane.slot().await.map_err(|full| Failure {
            failed_action: failed_action(action).to_owned(),
            failed_resource: written_resource(action),
            error_message: format!(
                "the action's queue is full: {} runs already wait for it (raise --action-queue, or fix the endpoint)",
                full.capacity
            ),
        })?,
    };
    context.run(action, output).await
}

/// AWS's name for an action type in an error payload.
fn failed_action(action: &Action) -> &'static str {
    match action {
        Action::Republish(_) => republish::FAILED_ACTION,
        Action::Http(_) => http::FAILED_ACTION,
    }
}

/// The action's topic or URL as written, templates unrendered.
fn written_resource(action: &Action) -> String {
    match action {
        Action::Republish(republish) => republish.topic_text.clone(),
        Action::Http(http) => http::redacted(&http.url_text),
    }
}

/// What every action of one run shares.
struct Context<'a, P> {
    publisher: &'a P,
    http: &'a HttpClient,
    env: &'a Environment,
    message: &'a Message<'a>,
    /// The original payload as templates read it, or why it could not be read: read once,
    /// and only when a template has a substitution.
    payload: OnceLock<Result<Value, iotrules_compiler::eval::EvalError>>,
}

impl<P: Publisher> Context<'_, P> {
    async fn run(&self, action: &Action, output: Bytes) -> Result<(), Failure> {
        match action {
            Action::Republish(republish) => republish::run(self, republish, output).await,
            Action::Http(http) => http::run(self, http, output).await,
        }
    }

    /// Renders a template of an action whose failures name `resource`.
    fn render(
        &self,
        template: &iotrules_compiler::template::Template,
        failed_action: &'static str,
        resource: &str,
    ) -> Result<String, Failure> {
        self.render_text(template).map_err(|error_message| Failure {
            failed_action: failed_action.to_owned(),
            failed_resource: resource.to_owned(),
            error_message,
        })
    }

    /// Renders a template, or says why it could not be.
    fn render_text(&self, template: &iotrules_compiler::template::Template) -> Result<String, String> {
        let failure = |error: &dyn std::fmt::Display| format!("substitution template could not be evaluated: {error}");
        if let Some(text) = template.literal() {
            return Ok(text);
        }
        let payload = self.payload.get_or_init(|| read_payload(self.env, self.message));
        let payload = payload.as_ref().map_err(|error| failure(error))?;
        template.render_read(self.env, self.message, payload).map_err(|error| failure(&error))
    }
}

fn unsupported(rule_name: &str, spec: &ActionSpec, skip: bool) -> Diagnostic {
    let message = format!("rule `{rule_name}`: `{}` actions do not run offline", spec.kind);
    if skip {
        Diagnostic::warning(Code::RuleUnsupportedAction, spec.kind_span, message)
            .with_label("left out")
            .with_help("iotrules runs republish and http actions; this one is skipped")
    } else {
        Diagnostic::error(Code::RuleUnsupportedAction, spec.kind_span, message)
            .with_label("cannot run offline")
            .with_help(
                "iotrules runs republish and http actions; `--skip-unsupported-actions` runs the rule without this one",
            )
    }
}

#[cfg(test)]
mod tests;
