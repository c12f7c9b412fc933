//! Sample message files: JSON lines of a topic and a payload, as `bench`, `publish` and
//! `run --publish` read them.

use std::path::Path;

use base64::Engine as _;
use serde_json::Value as Json;

/// Sample messages: `{"topic": ..., "payload": <JSON value, or a string of raw text>}` or with
/// `payload_base64` for bytes.
pub(crate) fn load(path: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    let mut messages = Vec::new();
    for (number, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let at = || format!("{}:{}", path.display(), number + 1);
        let sample: Json = serde_json::from_str(line).map_err(|error| format!("{}: {error}", at()))?;
        let topic =
            sample.get("topic").and_then(Json::as_str).ok_or_else(|| format!("{}: missing string `topic`", at()))?;
        let payload = match (sample.get("payload"), sample.get("payload_base64").and_then(Json::as_str)) {
            (_, Some(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|error| format!("{}: `payload_base64`: {error}", at()))?,
            (Some(Json::String(raw)), None) => raw.clone().into_bytes(),
            (Some(value), None) => serde_json::to_vec(value).map_err(|error| error.to_string())?,
            (None, None) => return Err(format!("{}: missing `payload`", at())),
        };
        messages.push((topic.to_owned(), payload));
    }
    Ok(messages)
}
