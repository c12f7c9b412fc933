//! The Device Shadow service's answers, as AWS IoT Core gives them: a request (topic and
//! payload) and the shadow as stored → the shadow to store and the messages to publish. Pure:
//! the caller stores the new state durably before publishing anything.
//!
//! Order of an accepted update, as AWS's own local implementation (Greengrass ShadowManager)
//! publishes it: `/update/delta` (when desired and reported differ), `/update/documents`,
//! then `/update/accepted`.
//!
//! Choices where AWS is silent, each a conformance case:
//! - A delete keeps the version; the next update continues from it (AWS does for 48 hours;
//!   here for as long as the store keeps it).
//! - `version` in an update to a shadow that does not exist is a conflict unless it is 0.
//! - The 404 of a classic shadow names the thing: `No shadow exists with name: <thing>`.
//! - `/update/documents` of a shadow's first update has `"previous": null`: rules written for
//!   AWS test a first update with `isNull(previous)` (the shadow rule
//!   `WHERE isNull(previous) OR previous.state.reported.value <> current.state.reported.value`
//!   is written to fire on it), which only a `null` makes true. Greengrass's ShadowManager
//!   leaves the member out.

use serde_json::{Map, Value, json};

use super::document::{Document, Section, depth, null_in_array};
use super::topics::{Operation, ShadowId};

/// What is stored for a shadow: its document (none after a delete, or before the first
/// update) and its last version.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Stored {
    pub(crate) document: Option<Document>,
    pub(crate) version: u64,
}

/// The service's limits (AWS's defaults; the depth is an adjustable quota).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Bytes of the state document (desired and reported), and of a request.
    pub(crate) state_bytes: usize,
    /// Levels of nesting inside `desired` and `reported`.
    pub(crate) depth: usize,
    /// Requests a second per thing (see `throttle.rs`); 0 for no limit.
    pub(crate) requests_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { state_bytes: 8 * 1024, depth: 6, requests_per_second: 20 }
    }
}

/// The longest client token AWS accepts.
pub(crate) const MAX_CLIENT_TOKEN: usize = 64;

/// What handling a request does.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Outcome {
    /// The new stored state, when the request changed it.
    pub(crate) store: Option<Stored>,
    /// Messages to publish, in order: (topic, JSON payload).
    pub(crate) publish: Vec<(String, Vec<u8>)>,
}

/// A rejection: code and message as AWS words them.
struct Rejection {
    code: u16,
    message: String,
}

fn reject(code: u16, message: impl Into<String>) -> Rejection {
    Rejection { code, message: message.into() }
}

/// Handles one request to shadow `id`, stored as `current`, at `now` (epoch seconds).
pub(crate) fn handle(
    id: &ShadowId,
    operation: Operation,
    payload: &[u8],
    current: &Stored,
    now: u64,
    limits: &Limits,
) -> Outcome {
    let request = serde_json::from_slice::<Value>(payload).ok();
    let token = client_token(request.as_ref());
    let answered = match operation {
        Operation::Get => get(id, current, now, token.as_deref()),
        Operation::Delete => delete(id, current, now, token.as_deref()),
        Operation::Update => update(id, payload, request.as_ref(), current, now, limits, token.as_deref()),
    };
    match answered {
        Ok(outcome) => outcome,
        Err(rejection) => rejected(id, operation, &rejection, token.as_deref(), now),
    }
}

/// The answer to a request over the thing's request rate: 429, nothing stored. AWS documents
/// the code but not its message; this is the HTTP reason phrase.
pub(crate) fn too_many_requests(id: &ShadowId, operation: Operation, payload: &[u8], now: u64) -> Outcome {
    let request = serde_json::from_slice::<Value>(payload).ok();
    let token = client_token(request.as_ref());
    rejected(id, operation, &reject(429, "Too Many Requests"), token.as_deref(), now)
}

/// The request's `clientToken`, when it is one AWS would echo.
fn client_token(request: Option<&Value>) -> Option<String> {
    let token = request.and_then(|request| request.get("clientToken")).and_then(Value::as_str);
    token.filter(|token| token.len() <= MAX_CLIENT_TOKEN).map(str::to_owned)
}

fn rejected(id: &ShadowId, operation: Operation, rejection: &Rejection, token: Option<&str>, now: u64) -> Outcome {
    let mut body = json!({"code": rejection.code, "message": rejection.message, "timestamp": now});
    with_token(&mut body, token);
    Outcome { store: None, publish: vec![(id.topic(operation, "rejected"), to_bytes(&body))] }
}

fn with_token(body: &mut Value, token: Option<&str>) {
    if let (Value::Object(body), Some(token)) = (body, token) {
        body.insert("clientToken".to_owned(), Value::String(token.to_owned()));
    }
}

fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// AWS's message for a shadow that does not exist.
pub(crate) fn not_found_message(id: &ShadowId) -> String {
    format!("No shadow exists with name: {}", id.name.as_deref().unwrap_or(&id.thing))
}

fn not_found(id: &ShadowId) -> Rejection {
    reject(404, not_found_message(id))
}

/// The shadow as a GET answers it (`state` with its `delta`, `metadata`, `version`,
/// `timestamp`), or `None` when there is no shadow.
pub(crate) fn current_document(current: &Stored, now: u64) -> Option<Value> {
    let document = current.document.as_ref()?;
    let mut state = document.state();
    if let (Value::Object(state), Some((delta, _))) = (&mut state, document.delta()) {
        state.insert("delta".to_owned(), delta);
    }
    Some(json!({"state": state, "metadata": document.metadata(), "version": current.version, "timestamp": now}))
}

fn get(id: &ShadowId, current: &Stored, now: u64, token: Option<&str>) -> Result<Outcome, Rejection> {
    let mut body = current_document(current, now).ok_or_else(|| not_found(id))?;
    with_token(&mut body, token);
    Ok(Outcome { store: None, publish: vec![(id.topic(Operation::Get, "accepted"), to_bytes(&body))] })
}

fn delete(id: &ShadowId, current: &Stored, now: u64, token: Option<&str>) -> Result<Outcome, Rejection> {
    if current.document.is_none() {
        return Err(not_found(id));
    }
    let mut body = json!({"version": current.version, "timestamp": now});
    with_token(&mut body, token);
    Ok(Outcome {
        store: Some(Stored { document: None, version: current.version }),
        publish: vec![(id.topic(Operation::Delete, "accepted"), to_bytes(&body))],
    })
}

fn update(
    id: &ShadowId,
    payload: &[u8],
    request: Option<&Value>,
    current: &Stored,
    now: u64,
    limits: &Limits,
    token: Option<&str>,
) -> Result<Outcome, Rejection> {
    if payload.len() > limits.state_bytes {
        return Err(reject(413, "The payload exceeds the maximum size allowed"));
    }
    if std::str::from_utf8(payload).is_err() {
        return Err(reject(415, "Unsupported documented encoding; supported encoding is UTF-8"));
    }
    let Some(Value::Object(request)) = request else { return Err(reject(400, "Invalid JSON")) };
    if let Some(given) = request.get("clientToken")
        && given.as_str().is_none_or(|given| given.len() > MAX_CLIENT_TOKEN)
    {
        return Err(reject(400, "Invalid clientToken"));
    }
    let version = match request.get("version") {
        None => None,
        Some(version) => Some(version.as_u64().ok_or_else(|| reject(400, "Invalid version"))?),
    };
    // `{"state": null}` clears both sections (AWS accepts it; Greengrass's ShadowManager
    // follows the cloud in this).
    let cleared = Map::from_iter([("desired".to_owned(), Value::Null), ("reported".to_owned(), Value::Null)]);
    let state = match request.get("state") {
        None => return Err(reject(400, "Missing required node: state")),
        Some(Value::Object(state)) => state,
        Some(Value::Null) => &cleared,
        Some(_) => return Err(reject(400, "State node must be an object")),
    };
    let mut sections: Vec<(Section, &Value)> = Vec::new();
    for (key, value) in state {
        let section = match key.as_str() {
            "desired" => Section::Desired,
            "reported" => Section::Reported,
            _ => return Err(reject(400, "State contains an invalid node")),
        };
        if !value.is_object() && !value.is_null() {
            let name = if section == Section::Desired { "Desired" } else { "Reported" };
            return Err(reject(400, format!("{name} node must be an object")));
        }
        if depth(value) > limits.depth {
            return Err(reject(400, format!("JSON contains too many levels of nesting; maximum is {}", limits.depth)));
        }
        if null_in_array(value) {
            return Err(reject(400, "Invalid JSON"));
        }
        sections.push((section, value));
    }
    let exists = current.document.is_some();
    if let Some(version) = version
        && version != if exists { current.version } else { 0 }
    {
        return Err(reject(409, "Version conflict"));
    }
    let previous = current.document.clone();
    let mut document = previous.clone().unwrap_or_default();
    let mut written = Map::new();
    for (section, value) in &sections {
        let metadata = document.apply(*section, value, now);
        let name = if *section == Section::Desired { "desired" } else { "reported" };
        if let Some(metadata) = metadata {
            written.insert(name.to_owned(), metadata);
        }
    }
    if document.state_size() > limits.state_bytes {
        return Err(reject(413, "The payload exceeds the maximum size allowed"));
    }
    let version = current.version + 1;
    let mut publish = Vec::new();
    if let Some((delta, delta_metadata)) = document.delta() {
        let mut body = json!({"version": version, "timestamp": now, "state": delta, "metadata": delta_metadata});
        with_token(&mut body, token);
        publish.push((id.topic(Operation::Update, "delta"), to_bytes(&body)));
    }
    let snapshot = |document: &Document, version: u64| json!({"state": document.state(), "metadata": document.metadata(), "version": version});
    let mut documents = Map::new();
    let previous = previous.as_ref().map_or(Value::Null, |previous| snapshot(previous, current.version));
    documents.insert("previous".to_owned(), previous);
    documents.insert("current".to_owned(), snapshot(&document, version));
    documents.insert("timestamp".to_owned(), json!(now));
    let mut documents = Value::Object(documents);
    with_token(&mut documents, token);
    publish.push((id.topic(Operation::Update, "documents"), to_bytes(&documents)));
    let mut accepted = json!({
        "state": Value::Object(state.clone()),
        "metadata": Value::Object(written),
        "version": version,
        "timestamp": now
    });
    with_token(&mut accepted, token);
    publish.push((id.topic(Operation::Update, "accepted"), to_bytes(&accepted)));
    Ok(Outcome { store: Some(Stored { document: Some(document), version }), publish })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shadow(name: Option<&str>) -> ShadowId {
        ShadowId { thing: "boiler-1".to_owned(), name: name.map(str::to_owned) }
    }

    fn run(stored: &mut Stored, operation: Operation, payload: &str) -> Vec<(String, Value)> {
        let outcome = handle(&shadow(None), operation, payload.as_bytes(), stored, 1_700_000_000, &Limits::default());
        if let Some(new) = outcome.store {
            *stored = new;
        }
        outcome
            .publish
            .into_iter()
            .map(|(topic, body)| {
                (
                    topic.trim_start_matches("$aws/things/boiler-1/shadow/").to_owned(),
                    serde_json::from_slice(&body).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_request_over_the_rate_is_rejected_with_429_and_its_token() {
        let outcome = too_many_requests(
            &shadow(Some("config")),
            Operation::Update,
            br#"{"state": {}, "clientToken": "t-1"}"#,
            1_700_000_000,
        );
        assert_eq!(outcome.store, None);
        let [(topic, body)] = outcome.publish.as_slice() else { panic!("{outcome:?}") };
        assert_eq!(topic, "$aws/things/boiler-1/shadow/name/config/update/rejected");
        let body: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            body,
            json!({"code": 429, "message": "Too Many Requests", "timestamp": 1_700_000_000, "clientToken": "t-1"})
        );
    }

    #[test]
    fn a_shadow_round_trip() {
        let mut stored = Stored::default();
        let answers = run(&mut stored, Operation::Get, "");
        assert_eq!(answers[0].0, "get/rejected");
        assert_eq!(answers[0].1["code"], 404);
        assert_eq!(answers[0].1["message"], "No shadow exists with name: boiler-1");

        let answers =
            run(&mut stored, Operation::Update, r#"{"state": {"desired": {"temp": 21}}, "clientToken": "t1"}"#);
        let topics: Vec<&str> = answers.iter().map(|(topic, _)| topic.as_str()).collect();
        assert_eq!(topics, ["update/delta", "update/documents", "update/accepted"]);
        assert_eq!(answers[0].1["state"], json!({"temp": 21}));
        assert_eq!(answers[0].1["version"], 1);
        assert_eq!(answers[0].1["clientToken"], "t1");
        assert_eq!(answers[1].1["previous"], Value::Null, "a new shadow's previous document is null");
        assert_eq!(answers[1].1["current"]["state"], json!({"desired": {"temp": 21}}));
        assert_eq!(answers[2].1["metadata"], json!({"desired": {"temp": {"timestamp": 1_700_000_000}}}));

        let answers = run(&mut stored, Operation::Update, r#"{"state": {"reported": {"temp": 21}}, "version": 1}"#);
        let topics: Vec<&str> = answers.iter().map(|(topic, _)| topic.as_str()).collect();
        assert_eq!(topics, ["update/documents", "update/accepted"], "no delta once reported matches");
        assert_eq!(answers[0].1["previous"]["version"], 1);
        assert_eq!(answers[0].1["current"]["version"], 2);

        let answers = run(&mut stored, Operation::Update, r#"{"state": {"desired": {"temp": 22}}, "version": 1}"#);
        assert_eq!(answers[0].0, "update/rejected");
        assert_eq!(answers[0].1["code"], 409);
        assert_eq!(answers[0].1["message"], "Version conflict");

        let answers = run(&mut stored, Operation::Get, r#"{"clientToken": "g"}"#);
        assert_eq!(answers[0].0, "get/accepted");
        assert_eq!(answers[0].1["state"], json!({"desired": {"temp": 21}, "reported": {"temp": 21}}));
        assert_eq!(answers[0].1["version"], 2);
        assert_eq!(answers[0].1["clientToken"], "g");

        let answers = run(&mut stored, Operation::Update, r#"{"state": null}"#);
        assert_eq!(answers.last().unwrap().1["version"], 3);
        assert_eq!(run(&mut stored, Operation::Get, "")[0].1["state"], json!({}), "state null clears both sections");
        run(&mut stored, Operation::Update, r#"{"state": {"reported": {"temp": 21}}}"#);

        let answers = run(&mut stored, Operation::Delete, "");
        assert_eq!(answers[0].0, "delete/accepted");
        assert_eq!(answers[0].1["version"], 4);
        assert_eq!(run(&mut stored, Operation::Get, "")[0].1["code"], 404);
        let answers = run(&mut stored, Operation::Update, r#"{"state": {"reported": {"temp": 19}}}"#);
        assert_eq!(answers.last().unwrap().1["version"], 5, "a deleted shadow's versions continue");
    }

    #[test]
    fn bad_requests_are_rejected_with_aws_codes_and_messages() {
        let deep = format!(r#"{{"state": {{"desired": {}1{}}}}}"#, r#"{"a":"#.repeat(7), "}".repeat(7));
        let large = format!(r#"{{"state": {{"desired": {{"blob": "{}"}}}}}}"#, "x".repeat(9000));
        let token = format!(r#"{{"state": {{}}, "clientToken": "{}"}}"#, "t".repeat(65));
        for (payload, code, message) in [
            ("not json", 400, "Invalid JSON"),
            ("[1]", 400, "Invalid JSON"),
            (r#"{"desired": {}}"#, 400, "Missing required node: state"),
            (r#"{"state": 1}"#, 400, "State node must be an object"),
            (r#"{"state": {"desired": 1}}"#, 400, "Desired node must be an object"),
            (r#"{"state": {"reported": "x"}}"#, 400, "Reported node must be an object"),
            (r#"{"state": {"delta": {}}}"#, 400, "State contains an invalid node"),
            (r#"{"state": {}, "version": "2"}"#, 400, "Invalid version"),
            (token.as_str(), 400, "Invalid clientToken"),
            (deep.as_str(), 400, "JSON contains too many levels of nesting; maximum is 6"),
            (r#"{"state": {"desired": {"a": [1, null]}}}"#, 400, "Invalid JSON"),
            (large.as_str(), 413, "The payload exceeds the maximum size allowed"),
            (r#"{"state": {}, "version": 3}"#, 409, "Version conflict"),
        ] {
            let mut stored = Stored::default();
            let answers = run(&mut stored, Operation::Update, payload);
            assert_eq!(answers.len(), 1, "{payload}");
            assert_eq!(answers[0].0, "update/rejected", "{payload}");
            assert_eq!(
                (answers[0].1["code"].as_u64(), answers[0].1["message"].as_str()),
                (Some(code), Some(message)),
                "{payload}"
            );
            assert_eq!(stored, Stored::default(), "a rejected update stores nothing");
        }
        let mut stored = Stored::default();
        let outcome = handle(&shadow(None), Operation::Update, &[0xff, 0xfe], &stored, 1, &Limits::default());
        let body: Value = serde_json::from_slice(&outcome.publish[0].1).unwrap();
        assert_eq!(body["code"], 415);
        assert_eq!(run(&mut stored, Operation::Delete, "")[0].1["code"], 404);
    }

    #[test]
    fn named_shadows_answer_on_their_own_topics() {
        let outcome = handle(&shadow(Some("config")), Operation::Get, b"", &Stored::default(), 1, &Limits::default());
        assert_eq!(outcome.publish[0].0, "$aws/things/boiler-1/shadow/name/config/get/rejected");
        let body: Value = serde_json::from_slice(&outcome.publish[0].1).unwrap();
        assert_eq!(body["message"], "No shadow exists with name: config");
    }
}
