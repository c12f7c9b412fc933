//! The `republish` action: the rule's output published to a templated topic, with QoS 0 or 1
//! and MQTT 5 headers.

use base64::Engine as _;
use bytes::Bytes;
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
    let fail =
        |error_message: String| Failure { failed_action: FAILED_ACTION, failed_resource: topic.clone(), error_message };
    check_topic(&topic).map_err(|message| fail(message.to_owned()))?;
    let properties = properties(context, &action.headers, &topic)?;
    let outgoing = Outgoing { topic: topic.clone(), payload: output, qos: action.qos, properties };
    context.publisher.publish(outgoing).await.map_err(|error| fail(format!("publish failed: {error}")))
}

/// What AWS refuses to publish to, after substitution.
fn check_topic(topic: &str) -> Result<(), &'static str> {
    if topic.is_empty() {
        return Err("the topic is empty after substitution");
    }
    if topic.contains(['+', '#']) {
        return Err("the topic holds the wildcard `+` or `#`, which a message cannot be published to");
    }
    if topic.contains('\0') {
        return Err("the topic holds a NUL character");
    }
    if topic.starts_with("$aws/things/") && topic.contains("/jobs/") {
        return Err("republishing to reserved job topics is not supported");
    }
    Ok(())
}

/// The MQTT 5 properties the headers render to; a value that does not fit its property is a
/// failure of the action, as AWS cannot publish it either.
fn properties<P: Publisher>(
    context: &Context<'_, P>,
    headers: &RepublishHeaders,
    topic: &str,
) -> Result<MqttProperties, Failure> {
    let render = |template: &Option<Template>| -> Result<Option<String>, Failure> {
        template.as_ref().map(|template| context.render(template, FAILED_ACTION, topic)).transpose()
    };
    let fail = |error_message: String| Failure {
        failed_action: FAILED_ACTION,
        failed_resource: topic.to_owned(),
        error_message,
    };
    let correlation_data = match render(&headers.correlation_data)? {
        Some(text) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(&text)
                .map_err(|_| fail(format!("correlationData `{text}` is not base64")))?,
        ),
        None => None,
    };
    let message_expiry_interval = match render(&headers.message_expiry)? {
        Some(text) => {
            Some(text.parse::<u32>().map_err(|_| fail(format!("messageExpiry `{text}` is not a number of seconds")))?)
        }
        None => None,
    };
    let payload_format_indicator = match render(&headers.payload_format_indicator)?.as_deref() {
        None => None,
        Some("UNSPECIFIED_BYTES") => Some(0),
        Some("UTF8_DATA") => Some(1),
        Some(other) => {
            return Err(fail(format!("payloadFormatIndicator `{other}` is neither UNSPECIFIED_BYTES nor UTF8_DATA")));
        }
    };
    let mut user_properties = Vec::with_capacity(headers.user_properties.len());
    for (key, value) in &headers.user_properties {
        user_properties
            .push((context.render(key, FAILED_ACTION, topic)?, context.render(value, FAILED_ACTION, topic)?));
    }
    Ok(MqttProperties {
        content_type: render(&headers.content_type)?,
        payload_format_indicator,
        response_topic: render(&headers.response_topic)?,
        correlation_data,
        message_expiry_interval,
        user_properties,
    })
}
