//! The `republish` action: the rule's output published to a templated topic, with QoS 0 or 1
//! and MQTT 5 headers.

use base64::Engine as _;
use bytes::Bytes;
use iotrules_compiler::check::topic_name::{mqtt_string_problem, topic_name_problem};
use iotrules_compiler::eval::MqttProperties;
use iotrules_compiler::rule_file::{Republish, RepublishHeaders};
use iotrules_compiler::template::Template;

use super::{Context, Failure, Outgoing, Publisher};

/// AWS's name for the action in an error payload.
pub(super) const FAILED_ACTION: &str = "RepublishAction";

pub(super) async fn run<P: Publisher>(
    context: &Context<'_, P>,
    action: &Republish,
    output: Bytes,
) -> Result<(), Failure> {
    let topic = context.render(&action.topic, FAILED_ACTION, &action.topic_text)?;
    let fail = |reason: String| Failure {
        failed_action: FAILED_ACTION.to_owned(),
        failed_resource: printable(&topic),
        error_message: format!("Failed to republish to topic. The error received was: {reason}"),
    };
    check_topic(&topic).map_err(&fail)?;
    if output.len() > MAX_PAYLOAD {
        return Err(fail(format!(
            "the payload is {} bytes; AWS IoT Core publishes at most {MAX_PAYLOAD} bytes",
            output.len()
        )));
    }
    let properties = properties(context, &action.headers).map_err(&fail)?;
    let outgoing = Outgoing { topic, payload: output, qos: action.qos, properties };
    let resource = outgoing.topic.clone();
    context.publisher.publish(outgoing).await.map_err(|error| Failure {
        failed_action: FAILED_ACTION.to_owned(),
        failed_resource: resource,
        error_message: format!("Failed to republish to topic. The error received was: {error}"),
    })
}

/// AWS IoT Core's largest message payload, 128 KB.
const MAX_PAYLOAD: usize = 128 * 1024;

/// What AWS refuses to publish to, after substitution. Nothing that fails here reaches the
/// broker, so a bad topic is this action's failure and never the connection's.
fn check_topic(topic: &str) -> Result<(), String> {
    if let Some(problem) = topic_name_problem(topic) {
        return Err(problem.to_string());
    }
    if topic.starts_with("$aws/things/") && topic.contains("/jobs/") {
        return Err("republishing to reserved job topics is not supported".to_owned());
    }
    Ok(())
}

/// A topic fit for an error payload and a log line: cut to AWS's length limit, with control
/// characters escaped.
fn printable(topic: &str) -> String {
    let cut = topic.floor_char_boundary(iotrules_compiler::check::topic_filter::MAX_BYTES);
    let mut text: String = topic[..cut].escape_debug().collect();
    if cut < topic.len() {
        text.push_str("...");
    }
    text
}

/// The MQTT 5 properties the headers render to. A value that does not fit its property, or
/// that MQTT cannot carry, fails the action: AWS cannot publish it either.
fn properties<P: Publisher>(context: &Context<'_, P>, headers: &RepublishHeaders) -> Result<MqttProperties, String> {
    let render = |name: &str, template: &Option<Template>| -> Result<Option<String>, String> {
        template.as_ref().map(|template| rendered_string(context, name, template)).transpose()
    };
    let correlation_data = match render("correlationData", &headers.correlation_data)? {
        Some(text) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(&text)
                .map_err(|_| format!("correlationData `{text}` is not base64"))?,
        ),
        None => None,
    };
    let message_expiry_interval = match render("messageExpiry", &headers.message_expiry)? {
        Some(text) => {
            Some(text.parse::<u32>().map_err(|_| format!("messageExpiry `{text}` is not a number of seconds"))?)
        }
        None => None,
    };
    let payload_format_indicator = match render("payloadFormatIndicator", &headers.payload_format_indicator)?.as_deref()
    {
        None => None,
        Some("UNSPECIFIED_BYTES") => Some(0),
        Some("UTF8_DATA") => Some(1),
        Some(other) => {
            return Err(format!("payloadFormatIndicator `{other}` is neither UNSPECIFIED_BYTES nor UTF8_DATA"));
        }
    };
    let response_topic = render("responseTopic", &headers.response_topic)?;
    if let Some(problem) = response_topic.as_deref().and_then(topic_name_problem) {
        return Err(format!("header `responseTopic` cannot be sent: {problem}"));
    }
    let mut user_properties = Vec::with_capacity(headers.user_properties.len());
    for (key, value) in &headers.user_properties {
        user_properties.push((
            rendered_string(context, "userProperties", key)?,
            rendered_string(context, "userProperties", value)?,
        ));
    }
    Ok(MqttProperties {
        content_type: render("contentType", &headers.content_type)?,
        payload_format_indicator,
        response_topic,
        correlation_data,
        message_expiry_interval,
        user_properties,
    })
}

/// A header rendered and checked as an MQTT string.
fn rendered_string<P: Publisher>(context: &Context<'_, P>, name: &str, template: &Template) -> Result<String, String> {
    let text = context.render_text(template)?;
    match mqtt_string_problem(&text) {
        Some(problem) => Err(format!("header `{name}` cannot be sent: {problem}")),
        None => Ok(text),
    }
}
