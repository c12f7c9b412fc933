//! What the outbox keeps of a handed-off run: the rule's actions as a rule file of their own,
//! the message, the rule's output, the actions still to finish and the failures so far.
//!
//! The actions are kept as written rather than by reference to a loaded rule, so a run
//! resumed after a restart does what it was going to do even if the rule files changed or
//! went away in between. JSON, so an operator can read a stuck record with any redb tool.

use base64::Engine as _;
use bytes::Bytes;
use iotrules_compiler::SqlVersion;
use iotrules_compiler::eval::MqttProperties;
use iotrules_compiler::rule_file::{Action, ActionSpec};
use serde::{Deserialize, Serialize};

use super::lanes::Lanes;
use super::{Failure, Incoming, RuleActions};
use crate::inputs::Contents;

/// A run to continue: its record's key, the actions still to run, the failures so far.
#[derive(Debug)]
pub(crate) struct Resumed {
    pub(crate) key: u64,
    pub(crate) pending: Vec<usize>,
    pub(crate) failures: Vec<(usize, Failure)>,
}

/// A record read back at start-up, ready to run.
#[derive(Debug)]
pub(crate) struct Restored {
    pub(crate) actions: RuleActions,
    pub(crate) incoming: Incoming,
    pub(crate) output: Bytes,
    pub(crate) resumed: Resumed,
}

#[derive(Serialize, Deserialize)]
struct Record {
    /// The rule's actions as a TopicRulePayload file.
    rule: String,
    pending: Vec<usize>,
    failures: Vec<FailureRecord>,
    message: MessageRecord,
    /// Base64 of the rule's output.
    output: String,
}

#[derive(Serialize, Deserialize)]
struct FailureRecord {
    /// The action's position in the rule.
    action: usize,
    failed_action: String,
    failed_resource: String,
    error_message: String,
}

#[derive(Serialize, Deserialize)]
struct MessageRecord {
    topic: String,
    /// Base64 of the payload.
    payload: String,
    client_id: Option<String>,
    principal: Option<String>,
    source_ip: Option<String>,
    trace_id: String,
    timestamp_ms: i64,
    properties: Option<PropertiesRecord>,
}

#[derive(Serialize, Deserialize)]
struct PropertiesRecord {
    content_type: Option<String>,
    payload_format_indicator: Option<u8>,
    response_topic: Option<String>,
    correlation_data: Option<String>,
    message_expiry_interval: Option<u32>,
    user_properties: Vec<(String, String)>,
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The rule file a handed-off run keeps: the rule's name, SQL version, actions and error
/// action; its statement is a placeholder, since the output is kept with the run.
pub(super) fn rule_file(
    name: &str,
    version: SqlVersion,
    actions: &[(Action, &ActionSpec)],
    error_action: Option<&(Action, &ActionSpec)>,
) -> String {
    let entry = |spec: &ActionSpec| serde_json::json!({ spec.kind.as_str(): spec.parameters });
    let mut file = serde_json::json!({
        "ruleName": name,
        "sql": "SELECT * FROM '#'",
        "awsIotSqlVersion": version.to_string(),
        "actions": actions.iter().map(|(_, spec)| entry(spec)).collect::<Vec<_>>(),
    });
    if let (Some((_, spec)), Some(object)) = (error_action, file.as_object_mut()) {
        object.insert("errorAction".to_owned(), entry(spec));
    }
    file.to_string()
}

pub(super) fn encode(
    rule: &str,
    incoming: &Incoming,
    output: &Bytes,
    pending: &[usize],
    failures: &[(usize, Failure)],
) -> Vec<u8> {
    let record = Record {
        rule: rule.to_owned(),
        pending: pending.to_vec(),
        failures: failures
            .iter()
            .map(|(action, failure)| FailureRecord {
                action: *action,
                failed_action: failure.failed_action.clone(),
                failed_resource: failure.failed_resource.clone(),
                error_message: failure.error_message.clone(),
            })
            .collect(),
        message: MessageRecord {
            topic: incoming.topic.clone(),
            payload: BASE64.encode(&incoming.payload),
            client_id: incoming.client_id.clone(),
            principal: incoming.principal.clone(),
            source_ip: incoming.source_ip.clone(),
            trace_id: incoming.trace_id.clone(),
            timestamp_ms: incoming.timestamp_ms,
            properties: incoming.properties.as_ref().map(|properties| PropertiesRecord {
                content_type: properties.content_type.clone(),
                payload_format_indicator: properties.payload_format_indicator,
                response_topic: properties.response_topic.clone(),
                correlation_data: properties.correlation_data.as_ref().map(|data| BASE64.encode(data)),
                message_expiry_interval: properties.message_expiry_interval,
                user_properties: properties.user_properties.clone(),
            }),
        },
        output: BASE64.encode(output),
    };
    // Serializing strings and numbers into a Vec cannot fail.
    serde_json::to_vec(&record).unwrap_or_default()
}

/// Reads a record back; `Err` says why it cannot be run (it is then kept for an operator).
pub(crate) fn decode(key: u64, bytes: &[u8], lanes: &Lanes) -> Result<Restored, String> {
    let record: Record = serde_json::from_slice(bytes).map_err(|error| format!("unreadable record: {error}"))?;
    let decoded = |text: &str| BASE64.decode(text).map_err(|error| format!("unreadable record: {error}"));
    let loaded = crate::rules::from_file(
        std::path::Path::new("handed-off.json"),
        Contents::Text { text: record.rule, bom: false },
        SqlVersion::V2016_03_23,
    );
    if loaded.has_errors() {
        return Err("its actions no longer read as a rule file".to_owned());
    }
    let (actions, _) = RuleActions::from_rule_file(&loaded, true, lanes)
        .map_err(|_| "its actions no longer read as a rule file".to_owned())?;
    let message = record.message;
    let properties = match message.properties {
        Some(properties) => Some(MqttProperties {
            content_type: properties.content_type,
            payload_format_indicator: properties.payload_format_indicator,
            response_topic: properties.response_topic,
            correlation_data: properties.correlation_data.as_deref().map(decoded).transpose()?,
            message_expiry_interval: properties.message_expiry_interval,
            user_properties: properties.user_properties,
        }),
        None => None,
    };
    let incoming = Incoming {
        topic: message.topic,
        payload: Bytes::from(decoded(&message.payload)?),
        client_id: message.client_id,
        principal: message.principal,
        source_ip: message.source_ip,
        trace_id: message.trace_id,
        timestamp_ms: message.timestamp_ms,
        properties,
    };
    let failures = record
        .failures
        .into_iter()
        .map(|failure| {
            let action = failure.action;
            (
                action,
                Failure {
                    failed_action: failure.failed_action,
                    failed_resource: failure.failed_resource,
                    error_message: failure.error_message,
                },
            )
        })
        .collect();
    let pending = record.pending.into_iter().filter(|&index| index < actions.len()).collect();
    Ok(Restored {
        actions,
        incoming,
        output: Bytes::from(decoded(&record.output)?),
        resumed: Resumed { key, pending, failures },
    })
}
