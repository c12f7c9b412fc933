//! Functions that read the message or the rule (`topic`, `clientid`, `timestamp`, ...), the
//! JSON helpers (`get`, `transform`, `nanvl`, ...), and the functions that call other AWS
//! services, which evaluate to the stand-in value the caller supplied.

use crate::check::functions::{Determinism, Function};
use crate::eval::value::{Object, Value};
use crate::eval::{EvalError, Scope};

pub(crate) fn call(function: &Function, args: &[Value], scope: &Scope<'_>) -> Result<Value, EvalError> {
    let message = scope.message;
    if function.determinism == Determinism::External {
        if let Some(answer) = scope.env.services.as_ref().and_then(|services| services.call(function.name, args)) {
            return answer.map_err(|message| EvalError::ServiceFailed { function: function.name, message });
        }
        return scope.env.stubs.get(function.name).cloned().ok_or(EvalError::ExternalCall { function: function.name });
    }
    let text = |value: Option<&str>| value.map_or(Value::Undefined, |value| Value::String(value.to_owned()));
    Ok(match (function.name, args) {
        ("accountid", []) => Value::String(scope.env.account_id.clone()),
        ("clientid", []) => Value::String(message.client_id.unwrap_or("n/a").to_owned()),
        ("principal", []) => text(message.principal),
        ("sourceip", []) => text(message.source_ip),
        ("sql_version", []) => Value::String(scope.rule.version.as_str().to_owned()),
        ("timestamp", []) => Value::Int(message.timestamp_ms),
        ("traceid", []) => match message.trace_id {
            Some(id) => Value::String(id.to_owned()),
            None => Value::String(uuid::Uuid::new_v4().to_string()),
        },
        ("newuuid", []) => Value::String(uuid::Uuid::new_v4().to_string()),
        ("rand", []) => Value::from_f64(fastrand::f64()),
        ("topic", []) => Value::String(scope.topic.to_owned()),
        ("topic", [level]) => topic_level(scope.topic, level),
        ("get", [collection, key]) => get(collection, key),
        // `EXISTS (subquery)`: whether the nested query found anything. An empty array or
        // Undefined (no source, or an object source WHERE dropped) is nothing.
        ("exists", [value]) => Value::Bool(match value {
            Value::Array(items) => !items.is_empty(),
            value => !value.is_undefined(),
        }),
        ("get_or_default", [value, default]) => match value {
            Value::Undefined | Value::Null => default.clone(),
            value => value.clone(),
        },
        ("isNull", [value]) => Value::Bool(matches!(value, Value::Null)),
        ("isUndefined", [value]) => Value::Bool(value.is_undefined()),
        ("nanvl", [value, fallback]) => match value {
            // A result that is not a number (`sqrt(-1)`) is Undefined here, so that covers NaN.
            Value::Undefined | Value::Null => fallback.clone(),
            value => value.clone(),
        },
        ("transform", [mode, object, array]) => transform(mode, object, array),
        ("get_mqtt_property", [name]) => mqtt_property(scope, name),
        ("get_user_properties", [key]) => user_properties(scope, key),
        _ => Value::Undefined,
    })
}

/// `topic(n)`: the n-th level, counting from 1; Undefined past either end.
fn topic_level(topic: &str, level: &Value) -> Value {
    let Some(level) = level.to_int_floor() else { return Value::Undefined };
    let Some(index) = level.checked_sub(1).and_then(|index| usize::try_from(index).ok()) else {
        return Value::Undefined;
    };
    topic.split('/').nth(index).map_or(Value::Undefined, |level| Value::String(level.to_owned()))
}

/// `get`: an array item or a string's character by 0-based index, or an object member.
fn get(collection: &Value, key: &Value) -> Value {
    let index = || key.to_int_floor().and_then(|index| usize::try_from(index).ok());
    match collection {
        Value::Array(items) => index().and_then(|index| items.get(index).cloned()).unwrap_or(Value::Undefined),
        Value::String(text) => {
            index().and_then(|index| text.chars().nth(index)).map_or(Value::Undefined, |c| Value::String(c.to_string()))
        }
        // An object's key is a String as it is: `get({"1": "a"}, 1)` is Undefined.
        Value::Object(object) => match key {
            Value::String(key) => object.get(key).cloned().unwrap_or(Value::Undefined),
            _ => Value::Undefined,
        },
        _ => Value::Undefined,
    }
}

/// `transform('enrichArray', object, array)`: every object in the array gains the object's
/// members; other elements are kept as they are.
fn transform(mode: &Value, object: &Value, array: &Value) -> Value {
    let (Value::String(mode), Value::Object(extra), Value::Array(items)) = (mode, object, array) else {
        return Value::Undefined;
    };
    if mode != "enrichArray" {
        return Value::Undefined;
    }
    Value::Array(
        items
            .iter()
            .map(|item| match item {
                Value::Object(members) => {
                    let mut enriched: Object = members.clone();
                    enriched.extend(extra.iter().map(|(key, value)| (key.clone(), value.clone())));
                    Value::Object(enriched)
                }
                other => other.clone(),
            })
            .collect(),
    )
}

/// `get_mqtt_property(name)`: an MQTT 5 PUBLISH property, by the names AWS uses.
/// A message without the Payload Format Indicator (an MQTT 3 message included) carries
/// unspecified bytes, as MQTT 5 defines and AWS's table of the function shows.
fn mqtt_property(scope: &Scope<'_>, name: &Value) -> Value {
    let Some(name) = name.to_text() else { return Value::Undefined };
    if name == "format_indicator" {
        let indicator = scope.message.properties.and_then(|properties| properties.payload_format_indicator);
        let text = if matches!(indicator, None | Some(0)) { "UNSPECIFIED_BYTES" } else { "UTF8_DATA" };
        return Value::String(text.to_owned());
    }
    let Some(properties) = scope.message.properties else { return Value::Undefined };
    let text = |value: &Option<String>| value.clone().map_or(Value::Undefined, Value::String);
    match name.as_str() {
        "content_type" => text(&properties.content_type),
        "response_topic" => text(&properties.response_topic),
        "correlation_data" => properties.correlation_data.as_ref().map_or(Value::Undefined, |data| {
            Value::String(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data))
        }),
        "message_expiry_interval" => {
            properties.message_expiry_interval.map_or(Value::Undefined, |seconds| Value::Int(seconds.into()))
        }
        _ => Value::Undefined,
    }
}

/// `get_user_properties(key)`: the values of every MQTT 5 user property named `key`, in order.
fn user_properties(scope: &Scope<'_>, key: &Value) -> Value {
    let (Some(properties), Some(key)) = (scope.message.properties, key.to_text()) else { return Value::Undefined };
    let values: Vec<Value> = properties
        .user_properties
        .iter()
        .filter(|(name, _)| *name == key)
        .map(|(_, value)| Value::String(value.clone()))
        .collect();
    if values.is_empty() { Value::Undefined } else { Value::Array(values) }
}
