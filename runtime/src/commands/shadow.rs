//! `iotrules shadow get|update|delete`: a shadow request over MQTT, as a device makes it: the
//! request goes to `$aws/things/<thing>/shadow[/name/<name>]/<operation>` with a fresh
//! `clientToken`, and the answer with that token on `/accepted` or `/rejected` is printed.
//! Exit 0 when accepted, 1 when rejected (or on no answer), 2 on a usage error.
//! `iotrules shadow list` reads a store file directly.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use iotrules_compiler::eval::MqttProperties;
use serde::Serialize;
use serde_json::Value;

use std::sync::Arc;

use crate::cli::{ShadowAction, ShadowArgs, ShadowListArgs, ShadowsArgs};
use crate::commands::run::{credentials, version};
use crate::mqtt::endpoint::{Connection, Endpoint};
use crate::mqtt::link::{self, Event};
use crate::report::output;
use crate::shadow::client;
use crate::shadow::service::Limits;
use crate::shadow::store::Store;
use crate::shadow::topics::{self, Operation, ShadowId};

/// What `shadow get|update|delete --format json` prints: the answer and where it came from.
#[derive(Serialize)]
struct Answer<'a> {
    thing: &'a str,
    /// The named shadow; `null` for the classic one.
    name: Option<&'a str>,
    /// `get`, `update` or `delete`.
    operation: &'static str,
    accepted: bool,
    /// The `/accepted` or `/rejected` topic the answer came on.
    topic: String,
    /// The answer document, as the shadow service sent it.
    response: &'a Value,
}

/// What `shadow list --format json` prints.
#[derive(Serialize)]
struct Listed {
    shadows: Vec<ListedShadow>,
}

#[derive(Serialize)]
struct ListedShadow {
    thing: String,
    /// `null` for the classic shadow.
    name: Option<String>,
}

pub(crate) fn run(args: &ShadowArgs) -> ExitCode {
    let (request, operation, document) = match &args.action {
        ShadowAction::Get(request) => (request, Operation::Get, None),
        ShadowAction::Delete(request) => (request, Operation::Delete, None),
        ShadowAction::Update(update) => match read_document(&update.document) {
            Ok(document) => (&update.request, Operation::Update, Some(document)),
            Err(message) => return update.request.format.usage_error(&message),
        },
        ShadowAction::List(list) => return list_store(list),
    };
    let format = request.format;
    crate::logging::init(format);
    let id = ShadowId { thing: request.thing.clone(), name: request.name.clone() };
    if topics::parse(&id.request(operation)).is_none() {
        return format.usage_error(&format!(
            "`{}` is not a valid thing or shadow name: names are letters, digits, `:`, `_` and `-` (things up to 128, shadows up to 64)",
            id.prefix()
        ));
    }
    let connection = match Endpoint::parse(&request.broker)
        .and_then(|endpoint| Connection::new(endpoint, version(&request.connection), credentials(&request.connection)?))
    {
        Ok(connection) => connection,
        Err(message) => return format.usage_error(&message),
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return ExitCode::from(1);
    };
    let client_id = request.client_id.clone().unwrap_or_else(|| request.thing.clone());
    let timeout = Duration::from_secs(request.timeout);
    let answer = runtime.block_on(async {
        tokio::time::timeout(timeout, ask(&connection, &client_id, &id, operation, document)).await
    });
    match answer {
        Ok(Ok((accepted, answer))) => {
            let code = if accepted { ExitCode::SUCCESS } else { ExitCode::from(1) };
            if !format.is_json() {
                println!("{}", serde_json::to_string_pretty(&answer).unwrap_or_default());
                return code;
            }
            let answer = Answer {
                thing: &id.thing,
                name: id.name.as_deref(),
                operation: operation.as_str(),
                accepted,
                topic: id.topic(operation, if accepted { "accepted" } else { "rejected" }),
                response: &answer,
            };
            if output::document(&answer) { code } else { ExitCode::from(1) }
        }
        Ok(Err(message)) => format.error(1, &message, None),
        Err(_) => {
            format.error(1, &format!("no answer from {} within {} s", connection.endpoint, request.timeout), None)
        }
    }
}

fn read_document(text: &str) -> Result<Value, String> {
    let text = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|error| format!("cannot read `{path}`: {error}"))?,
        None => text.to_owned(),
    };
    let document: Value = serde_json::from_str(&text).map_err(|error| format!("the document is not JSON: {error}"))?;
    if !document.is_object() {
        return Err("the document must be a JSON object such as {\"state\": {\"desired\": {...}}}".to_owned());
    }
    Ok(document)
}

/// Sends the request and waits for its answer: whether it was accepted, and the answer.
async fn ask(
    connection: &Connection,
    client_id: &str,
    id: &ShadowId,
    operation: Operation,
    document: Option<Value>,
) -> Result<(bool, Value), String> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut request = document.unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    if let Value::Object(request) = &mut request {
        request.insert("clientToken".to_owned(), Value::String(token.clone()));
    }
    let accepted = id.topic(operation, "accepted");
    let rejected = id.topic(operation, "rejected");
    let request_topic = id.request(operation);
    let (client, mut events) = link::client(connection.options(client_id, true), 16);
    let mut subscribed = false;
    loop {
        match events.poll().await.map_err(|error| format!("cannot reach {}: {error}", connection.endpoint))? {
            Event::Connected { .. } if !subscribed => {
                client.try_subscribe(vec![accepted.clone(), rejected.clone()])?;
                subscribed = true;
                // The subscription is in flight before the request: the broker handles a
                // connection's packets in order, so the answer cannot arrive before it.
                let payload = Bytes::from(serde_json::to_vec(&request).map_err(|error| error.to_string())?);
                client.publish(request_topic.clone(), 1, payload, &MqttProperties::default()).await?;
            }
            Event::SubscriptionRefused(_) => {
                return Err(format!(
                    "the endpoint refused the subscription to `{accepted}` and `{rejected}`: the device's policy must allow iot:Subscribe and iot:Receive on them"
                ));
            }
            Event::Message(message) => {
                let Ok(answer) = serde_json::from_slice::<Value>(&message.payload) else { continue };
                if answer.get("clientToken").and_then(Value::as_str) != Some(token.as_str()) {
                    continue;
                }
                client.disconnect().await;
                return Ok((message.topic == accepted, answer));
            }
            _ => {}
        }
    }
}

fn list_store(args: &ShadowListArgs) -> ExitCode {
    let format = args.format;
    let store = match Store::open(&args.store) {
        Ok(store) => store,
        Err(message) => return format.usage_error(&message),
    };
    match store.list(args.thing.as_deref()) {
        Ok(shadows) if format.is_json() => {
            let shadows = shadows.into_iter().map(|shadow| ListedShadow { thing: shadow.thing, name: shadow.name });
            let listed = Listed { shadows: shadows.collect() };
            if output::document(&listed) { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Ok(shadows) => {
            for shadow in shadows {
                match shadow.name {
                    Some(name) => println!("{} {name}", shadow.thing),
                    None => println!("{} (classic)", shadow.thing),
                }
            }
            ExitCode::SUCCESS
        }
        Err(message) => format.error(1, &message, None),
    }
}

/// `iotrules shadows`: the shadow service on the broker `--broker`, until stopped.
pub(crate) fn serve(args: &ShadowsArgs) -> ExitCode {
    let format = args.format;
    crate::logging::init(format);
    let connection = match Endpoint::parse(&args.broker)
        .and_then(|endpoint| Connection::new(endpoint, version(&args.connection), credentials(&args.connection)?))
    {
        Ok(connection) => connection,
        Err(message) => return format.usage_error(&message),
    };
    let store = match Store::open(&args.shadow_store) {
        Ok(store) => Arc::new(store),
        Err(message) => return format.error(1, &message, None),
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return ExitCode::from(1);
    };
    crate::logging::console(&format!("serving shadows on {} (store {})", connection.endpoint, args.shadow_store));
    let settings = client::Settings {
        connection,
        client_id: args.client_id.clone(),
        share_group: args.share_group.clone(),
        shard: args.shard,
        store,
        limits: Limits { requests_per_second: args.shadow_requests_per_second, ..Limits::default() },
    };
    match runtime.block_on(client::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => format.error(1, &message, None),
    }
}
