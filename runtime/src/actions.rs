//! The actions `iotrules run` performs with a rule's output: republish to the broker, POST to
//! an HTTP endpoint, and the error action AWS runs when any of them fails.
//!
//! A rule's actions run concurrently, as AWS runs them. Every failure becomes one entry of the
//! error action's payload, which aggregates all failures of one rule on one message. Nothing
//! here panics on any input: a template that cannot render or a broker or endpoint that
//! refuses is a failure, reported and counted.

mod error;
pub(crate) mod http;
mod republish;

use std::future::Future;
use std::sync::OnceLock;

use futures_util::future::join_all;

use bytes::Bytes;
use iotrules_compiler::eval::{Environment, Message, MqttProperties, Value, read_payload};
use iotrules_compiler::rule_file::{Action, ActionSpec};
use iotrules_compiler::{Code, Diagnostic};

pub(crate) use http::HttpClient;

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

/// The actions of one rule, ready to run on each of its outputs.
#[derive(Clone, Debug)]
pub(crate) struct RuleActions {
    /// The error payload's `ruleName`: the file's `ruleName`, else the file name without its extension.
    pub(crate) rule_name: String,
    actions: Vec<Action>,
    error_action: Option<Action>,
    /// A rule given as SQL text has no action list; its output is logged instead.
    log_output: bool,
}

/// One failed action, as the error action's payload lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// AWS's name for the action type: `RepublishAction`, `HttpAction`.
    pub(crate) failed_action: &'static str,
    /// The topic or URL.
    pub(crate) failed_resource: String,
    pub(crate) error_message: String,
}

/// What running a rule's actions on one output did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ActionsReport {
    /// Actions that completed.
    pub(crate) succeeded: usize,
    /// Actions that failed, in the rule's order.
    pub(crate) failures: Vec<Failure>,
    /// `Some` when the error action ran: `Ok` when it completed, else its own failure (which
    /// AWS does not report further).
    pub(crate) error_action: Option<Result<(), Failure>>,
    /// The output was logged, for a rule with no action list.
    pub(crate) logged: bool,
}

impl RuleActions {
    /// A rule without an action list (SQL text): `run` logs its output at info level.
    pub(crate) fn none(rule_name: impl Into<String>) -> RuleActions {
        RuleActions { rule_name: rule_name.into(), actions: Vec::new(), error_action: None, log_output: true }
    }

    /// Reads the actions of a loaded rule file; unsupported action types (lambda, dynamoDB, s3, ...) are an error naming the rule and the action, or with `skip_unsupported` a warning and the action is left out.
    /// Diagnostics point into `rule.report.source`. Load only rules without errors.
    pub(crate) fn from_rule_file(
        rule: &LoadedRule,
        skip_unsupported: bool,
    ) -> Result<(RuleActions, Vec<Diagnostic>), Vec<Diagnostic>> {
        let rule_name = rule.rule_name();
        let Some(specs) = &rule.actions else { return Ok((RuleActions::none(rule_name), Vec::new())) };
        let mut diagnostics = Vec::new();
        let mut read = |spec: &ActionSpec| match &spec.action {
            Some(action) => Some(action.clone()),
            None => {
                diagnostics.push(unsupported(&rule_name, spec, skip_unsupported));
                None
            }
        };
        let actions = specs.iter().filter_map(&mut read).collect();
        let error_action = rule.error_action.as_ref().and_then(&mut read);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(diagnostics);
        }
        Ok((RuleActions { rule_name, actions, error_action, log_output: false }, diagnostics))
    }

    /// The number of actions `run` performs on each output, error action not counted.
    pub(crate) fn len(&self) -> usize {
        self.actions.len()
    }

    /// Runs every action on the rule's output (concurrently, as AWS does); when any fails and the rule has an errorAction, runs it once with AWS's error payload aggregating all failures. Returns what happened so the caller can count it and acknowledge the message afterwards.
    pub(crate) async fn run<P: Publisher>(
        &self,
        publisher: &P,
        http: &HttpClient,
        env: &Environment,
        incoming: &Incoming,
        output: Bytes,
    ) -> ActionsReport {
        let mut report = ActionsReport::default();
        if self.log_output {
            // At debug: a busy `.sql` rule would flood the log (`run --publish` shows outputs).
            tracing::debug!(rule = %self.rule_name, topic = %incoming.topic, output = %String::from_utf8_lossy(&output), "rule fired");
            report.logged = true;
            return report;
        }
        let message = incoming.message();
        let context = Context { publisher, http, env, message: &message, payload: OnceLock::new() };
        let outcomes = join_all(self.actions.iter().map(|action| context.run(action, output.clone()))).await;
        for outcome in outcomes {
            match outcome {
                Ok(()) => report.succeeded += 1,
                Err(failure) => report.failures.push(failure),
            }
        }
        if report.failures.is_empty() {
            return report;
        }
        for failure in &report.failures {
            tracing::warn!(rule = %self.rule_name, action = failure.failed_action, resource = %failure.failed_resource, error = %failure.error_message, "action failed");
        }
        if let Some(action) = &self.error_action {
            let payload = error::payload(&self.rule_name, incoming, &report.failures);
            let outcome = context.run(action, payload).await;
            if let Err(failure) = &outcome {
                tracing::warn!(rule = %self.rule_name, action = failure.failed_action, resource = %failure.failed_resource, error = %failure.error_message, "error action failed");
            }
            report.error_action = Some(outcome);
        }
        report
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
            failed_action,
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
            .with_help("iotrules runs republish and http actions; skip unsupported actions to run the rule without it")
    }
}

#[cfg(test)]
mod tests;
