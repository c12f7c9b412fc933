//! The payload AWS sends an error action: one message per rule and message, listing every
//! action that failed.

use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;

use super::{Failure, Incoming};

/// Field names and order are AWS's (rule-error-handling).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorPayload<'a> {
    rule_name: &'a str,
    topic: &'a str,
    cloudwatch_trace_id: &'a str,
    client_id: &'a str,
    base64_original_payload: String,
    failures: Vec<FailureEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailureEntry<'a> {
    failed_action: &'a str,
    failed_resource: &'a str,
    error_message: &'a str,
}

/// The error action's payload for `failures` of `rule_name` on `incoming`. A message without
/// a client id reports `n/a`, as `clientid()` does.
pub(super) fn payload(rule_name: &str, incoming: &Incoming, failures: &[Failure]) -> Bytes {
    let payload = ErrorPayload {
        rule_name,
        topic: &incoming.topic,
        cloudwatch_trace_id: &incoming.trace_id,
        client_id: incoming.client_id.as_deref().unwrap_or("n/a"),
        base64_original_payload: base64::engine::general_purpose::STANDARD.encode(&incoming.payload),
        failures: failures
            .iter()
            .map(|failure| FailureEntry {
                failed_action: &failure.failed_action,
                failed_resource: &failure.failed_resource,
                error_message: &failure.error_message,
            })
            .collect(),
    };
    // Serializing strings into a Vec cannot fail; an empty payload would only hide a bug.
    Bytes::from(serde_json::to_vec(&payload).unwrap_or_default())
}
