//! A shadow's document: the desired and reported state, their metadata, and the operations on
//! them the Device Shadow service documents. Pure: time comes in as an argument.
//!
//! - An update merges into each section: objects merge key by key, recursively; a key set to
//!   `null` is removed; anything else (arrays included) replaces the value whole. A section
//!   set to `null` is removed whole.
//! - Metadata mirrors the state: each value written gets `{"timestamp": <epoch seconds>}` at
//!   its place, an array one per element. Values an update does not touch keep theirs.
//! - The delta is every desired value that reported does not have equal, with objects compared
//!   key by key; reported-only values are not in it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

type Object = Map<String, Value>;

/// The stored state of one shadow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Document {
    pub(crate) desired: Option<Map<String, Value>>,
    pub(crate) reported: Option<Map<String, Value>>,
    pub(crate) metadata_desired: Option<Map<String, Value>>,
    pub(crate) metadata_reported: Option<Map<String, Value>>,
}

/// Which half of the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    Desired,
    Reported,
}

impl Document {
    /// A section's state and metadata.
    fn parts(&mut self, section: Section) -> (&mut Option<Object>, &mut Option<Object>) {
        match section {
            Section::Desired => (&mut self.desired, &mut self.metadata_desired),
            Section::Reported => (&mut self.reported, &mut self.metadata_reported),
        }
    }

    /// Applies one section of an update: `null` removes the section, an object merges into it.
    /// Returns the metadata of what was written, for the accepted response.
    pub(crate) fn apply(&mut self, section: Section, patch: &Value, now: u64) -> Option<Value> {
        let (state, metadata) = self.parts(section);
        match patch {
            Value::Null => {
                *state = None;
                *metadata = None;
                None
            }
            Value::Object(patch) => {
                let state = state.get_or_insert_with(Map::new);
                let metadata = metadata.get_or_insert_with(Map::new);
                Some(Value::Object(merge(state, metadata, patch, now)))
            }
            _ => None,
        }
    }

    /// `{"desired": ..., "reported": ...}` with the sections there are.
    pub(crate) fn state(&self) -> Value {
        let mut state = Map::new();
        if let Some(desired) = &self.desired {
            state.insert("desired".to_owned(), Value::Object(desired.clone()));
        }
        if let Some(reported) = &self.reported {
            state.insert("reported".to_owned(), Value::Object(reported.clone()));
        }
        Value::Object(state)
    }

    /// The metadata of [`Document::state`].
    pub(crate) fn metadata(&self) -> Value {
        let mut metadata = Map::new();
        if let Some(desired) = &self.metadata_desired {
            metadata.insert("desired".to_owned(), Value::Object(desired.clone()));
        }
        if let Some(reported) = &self.metadata_reported {
            metadata.insert("reported".to_owned(), Value::Object(reported.clone()));
        }
        Value::Object(metadata)
    }

    /// The delta and its metadata, when desired and reported differ.
    pub(crate) fn delta(&self) -> Option<(Value, Value)> {
        let desired = self.desired.as_ref()?;
        let empty = Map::new();
        let reported = self.reported.as_ref().unwrap_or(&empty);
        let metadata = self.metadata_desired.as_ref().unwrap_or(&empty);
        let (delta, delta_metadata) = difference(desired, reported, metadata);
        (!delta.is_empty()).then_some((Value::Object(delta), Value::Object(delta_metadata)))
    }

    /// The size AWS limits: the state document's JSON, metadata not counted.
    pub(crate) fn state_size(&self) -> usize {
        serde_json::to_vec(&self.state()).map_or(usize::MAX, |bytes| bytes.len())
    }
}

/// Merges `patch` into `state`, keeping `metadata` in step; returns the metadata of what was
/// written.
fn merge(
    state: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    now: u64,
) -> Map<String, Value> {
    let mut written = Map::new();
    for (key, value) in patch {
        match value {
            Value::Null => {
                state.remove(key);
                metadata.remove(key);
                written.insert(key.clone(), json!({"timestamp": now}));
            }
            Value::Object(inner) => {
                let child = state.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
                if !child.is_object() {
                    *child = Value::Object(Map::new());
                }
                let child_metadata = metadata.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
                // A leaf's `{"timestamp"}` (or an array's list) is replaced by an object's metadata.
                if !child_metadata.is_object() || child_metadata.get("timestamp").is_some_and(Value::is_u64) {
                    *child_metadata = Value::Object(Map::new());
                }
                if let (Value::Object(child), Value::Object(child_metadata)) = (child, child_metadata) {
                    written.insert(key.clone(), Value::Object(merge(child, child_metadata, inner, now)));
                }
            }
            leaf => {
                state.insert(key.clone(), leaf.clone());
                let leaf_metadata = leaf_metadata(leaf, now);
                metadata.insert(key.clone(), leaf_metadata.clone());
                written.insert(key.clone(), leaf_metadata);
            }
        }
    }
    written
}

/// The metadata of a value written whole: a timestamp, one per element for an array, and the
/// metadata of each member for an object inside an array.
fn leaf_metadata(value: &Value, now: u64) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|item| leaf_metadata(item, now)).collect()),
        Value::Object(members) => {
            Value::Object(members.iter().map(|(key, value)| (key.clone(), leaf_metadata(value, now))).collect())
        }
        _ => json!({"timestamp": now}),
    }
}

fn difference(
    desired: &Map<String, Value>,
    reported: &Map<String, Value>,
    metadata: &Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>) {
    let (mut delta, mut delta_metadata) = (Map::new(), Map::new());
    let empty = Map::new();
    for (key, wanted) in desired {
        let has = reported.get(key);
        let key_metadata = metadata.get(key);
        match (wanted, has) {
            (Value::Object(wanted), Some(Value::Object(has))) => {
                let inner_metadata = key_metadata.and_then(Value::as_object).unwrap_or(&empty);
                let (inner, inner_meta) = difference(wanted, has, inner_metadata);
                if !inner.is_empty() {
                    delta.insert(key.clone(), Value::Object(inner));
                    delta_metadata.insert(key.clone(), Value::Object(inner_meta));
                }
            }
            (wanted, has) if has != Some(wanted) => {
                delta.insert(key.clone(), wanted.clone());
                if let Some(key_metadata) = key_metadata {
                    delta_metadata.insert(key.clone(), key_metadata.clone());
                }
            }
            _ => {}
        }
    }
    (delta, delta_metadata)
}

/// How deep a value nests: a scalar is 0, `{"a": 1}` is 1.
pub(crate) fn depth(value: &Value) -> usize {
    match value {
        Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Whether an array anywhere in `value` holds a `null`, which AWS rejects.
pub(crate) fn null_in_array(value: &Value) -> bool {
    match value {
        Value::Object(members) => members.values().any(null_in_array),
        Value::Array(items) => items.iter().any(|item| item.is_null() || null_in_array(item)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_merge_delete_with_null_and_replace_arrays_whole() {
        let mut document = Document::default();
        document.apply(
            Section::Desired,
            &json!({"color": "red", "light": {"level": 3, "on": true}, "list": [1, 2]}),
            100,
        );
        let written = document.apply(Section::Desired, &json!({"light": {"level": null}, "list": [3], "new": 1}), 200);
        assert_eq!(
            document.state(),
            json!({"desired": {"color": "red", "light": {"on": true}, "list": [3], "new": 1}})
        );
        assert_eq!(
            document.metadata(),
            json!({"desired": {
                "color": {"timestamp": 100},
                "light": {"on": {"timestamp": 100}},
                "list": [{"timestamp": 200}],
                "new": {"timestamp": 200}
            }})
        );
        assert_eq!(
            written,
            Some(
                json!({"light": {"level": {"timestamp": 200}}, "list": [{"timestamp": 200}], "new": {"timestamp": 200}})
            )
        );
        document.apply(Section::Desired, &Value::Null, 300);
        assert_eq!(document.state(), json!({}));
        assert_eq!(document.metadata(), json!({}));
    }

    #[test]
    fn the_delta_is_what_desired_wants_and_reported_lacks() {
        let mut document = Document::default();
        document.apply(Section::Desired, &json!({"color": "red", "light": {"level": 3, "on": true}, "same": 1}), 100);
        assert_eq!(
            document.delta().map(|(delta, _)| delta),
            Some(json!({"color": "red", "light": {"level": 3, "on": true}, "same": 1}))
        );
        document.apply(
            Section::Reported,
            &json!({"color": "blue", "light": {"level": 3, "on": true}, "same": 1, "extra": 5}),
            200,
        );
        let (delta, metadata) = document.delta().unwrap();
        assert_eq!(delta, json!({"color": "red"}));
        assert_eq!(metadata, json!({"color": {"timestamp": 100}}));
        document.apply(Section::Reported, &json!({"color": "red"}), 300);
        assert_eq!(document.delta(), None);
    }

    #[test]
    fn depth_and_nulls_in_arrays_are_measured() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({"a": {"b": {"c": 1}}})), 3);
        assert_eq!(depth(&json!({"a": [[1]]})), 3);
        assert!(null_in_array(&json!({"a": [1, null]})));
        assert!(!null_in_array(&json!({"a": null, "b": [1]})));
    }
}
