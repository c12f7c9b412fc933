//! Reading JSON payloads into [`Value`]s.
//!
//! Integers that fit 64 bits are Ints; every other number is a Decimal (a double), so numbers
//! past the 64-bit range keep their magnitude with double precision. serde_json refuses input
//! nested more than 128 levels deep, which bounds every later recursion over a payload.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::eval::value::{Object, Value};

/// A payload may nest fewer levels than this: serde_json's recursion limit.
pub const MAX_DEPTH: usize = 128;

/// Parses a whole JSON document.
pub fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// Whether `error` is the parser refusing to nest deeper than [`MAX_DEPTH`]; serde_json
/// reports it only through its message.
pub fn is_too_deep(error: &serde_json::Error) -> bool {
    error.to_string().starts_with("recursion limit exceeded")
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Int(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(i64::try_from(value).map_or(Value::Decimal(value as f64), Value::Int))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::Decimal(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Object::with_capacity_and_hasher(map.size_hint().unwrap_or(0).min(4096), Default::default());
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_kind() {
        assert_eq!(parse(b"5").ok(), Some(Value::Int(5)));
        assert_eq!(parse(b"5.0").ok(), Some(Value::Decimal(5.0)));
        assert_eq!(parse(b"18446744073709551615").ok(), Some(Value::Decimal(18446744073709551615.0)));
        assert!(parse(b"1e400").is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(deep.as_bytes()).is_err_and(|error| is_too_deep(&error)));
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(parse(fine.as_bytes()).is_ok());
    }

    #[test]
    fn keys_keep_their_order_and_the_last_duplicate_wins() {
        let Ok(Value::Object(object)) = parse(br#"{"b":1,"a":2,"b":3}"#) else { return };
        let keys: Vec<&String> = object.keys().collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(object.get("b"), Some(&Value::Int(3)));
    }
}
