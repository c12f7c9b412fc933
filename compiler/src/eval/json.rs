//! Reading JSON payloads into [`Value`]s.
//!
//! Numbers are read exactly: an integer that fits 64 bits is an Int, any other number a
//! 34-digit Decimal (`crate::decimal`), so big integers and long fractions keep their digits.
//! A number outside AWS's Decimal range (`1e1000`) is Undefined where it stands; the payload
//! is still JSON. A payload nested [`MAX_DEPTH`] levels deep or more is not read as JSON (its
//! rules see it as a binary payload), as Jackson, the JSON reader of AWS's Java services,
//! refuses such input by default; the bound also keeps every later recursion over a payload
//! within the stack.

use std::borrow::Cow;

use crate::decimal::Decimal;
use crate::eval::scanner::Scanner;
use crate::eval::value::{Object, Value};

/// A payload may nest fewer levels than this: Jackson's default maximum nesting depth.
pub const MAX_DEPTH: usize = 1000;

/// Parses a whole JSON document; `None` when the bytes are not JSON (or nest too deep), so
/// the payload is binary.
pub fn parse(bytes: &[u8]) -> Option<Value> {
    let mut scanner = Scanner::new(bytes);
    scanner.skip_whitespace();
    let value = scanner.build()?;
    scanner.skip_whitespace();
    (scanner.at == bytes.len()).then_some(value)
}

/// The value of a JSON number as [`Scanner::number`] accepted it.
pub(crate) fn number(text: &[u8]) -> Value {
    let integer = !text.iter().any(|byte| matches!(byte, b'.' | b'e' | b'E'));
    let Ok(text) = std::str::from_utf8(text) else { return Value::Undefined };
    if integer && let Ok(int) = text.parse::<i64>() {
        return Value::Int(int);
    }
    Value::from_decimal(Decimal::parse(text))
}

impl<'a> Scanner<'a> {
    /// Reads and validates the value at the cursor; `None` when it is not valid JSON or nests
    /// too deep.
    pub(crate) fn build(&mut self) -> Option<Value> {
        match self.peek()? {
            b'{' => {
                self.enter()?;
                let mut object = Object::default();
                if !self.close(b'}')? {
                    loop {
                        let key = self.key()?;
                        self.skip_whitespace();
                        self.eat(b':').ok()?;
                        self.skip_whitespace();
                        let value = self.build()?;
                        // A repeated key keeps its first place and takes the last value.
                        object.insert(key.into_owned(), value);
                        if self.next_member(b'}')? {
                            break;
                        }
                    }
                }
                Some(Value::Object(object))
            }
            b'[' => {
                self.enter()?;
                let mut items = Vec::new();
                if !self.close(b']')? {
                    loop {
                        items.push(self.build()?);
                        if self.next_member(b']')? {
                            break;
                        }
                    }
                }
                Some(Value::Array(items))
            }
            b'"' => self.key().map(|text| Value::String(text.into_owned())),
            b't' => self.literal(b"true").ok().map(|()| Value::Bool(true)),
            b'f' => self.literal(b"false").ok().map(|()| Value::Bool(false)),
            b'n' => self.literal(b"null").ok().map(|()| Value::Null),
            _ => {
                let start = self.at;
                self.number().ok()?;
                Some(number(self.bytes.get(start..self.at)?))
            }
        }
    }

    /// A string at the cursor, unescaped.
    pub(crate) fn key(&mut self) -> Option<Cow<'a, str>> {
        let (start, end, escaped) = self.string().ok()?;
        if escaped {
            let bytes: &'a [u8] = self.bytes;
            let quoted = bytes.get(start - 1..end + 1)?;
            serde_json::from_slice::<String>(quoted).ok().map(Cow::Owned)
        } else {
            let bytes: &'a [u8] = self.bytes;
            std::str::from_utf8(bytes.get(start..end)?).ok().map(Cow::Borrowed)
        }
    }

    /// Steps into a container, refusing one nesting too deep.
    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        if self.too_deep() {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        Some(())
    }

    /// Closes an empty container; `Some(false)` when it has members.
    fn close(&mut self, close: u8) -> Option<bool> {
        if self.peek() == Some(close) {
            self.at += 1;
            self.depth -= 1;
            return Some(true);
        }
        Some(false)
    }

    /// After a member: `Some(true)` at the container's end, `Some(false)` after a comma.
    fn next_member(&mut self, close: u8) -> Option<bool> {
        self.skip_whitespace();
        match self.peek()? {
            b',' => {
                self.at += 1;
                self.skip_whitespace();
                Some(false)
            }
            byte if byte == close => {
                self.at += 1;
                self.depth -= 1;
                Some(true)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(text: &str) -> Value {
        Value::Decimal(Decimal::parse(text).unwrap())
    }

    #[test]
    fn numbers_are_exact() {
        assert_eq!(parse(b"5"), Some(Value::Int(5)));
        assert_eq!(parse(b"-0"), Some(Value::Int(0)));
        assert_eq!(parse(b"5.0"), Some(decimal("5")));
        assert_eq!(parse(b"18446744073709551615"), Some(decimal("18446744073709551615")));
        assert_eq!(parse(b"0.1"), Some(decimal("0.1")));
        assert_eq!(parse(b"1e400"), Some(decimal("1e400")));
        assert_eq!(parse(br#"{"a": 1e1000, "b": 2}"#).map(|value| value.field("a")), Some(Value::Undefined));
        assert_eq!(parse(br#"{"a": 1e1000, "b": 2}"#).map(|value| value.field("b")), Some(Value::Int(2)));
    }

    #[test]
    fn what_is_not_json_is_refused() {
        for text in [
            &b""[..],
            b"01",
            b"1.",
            b".5",
            b"+1",
            b"[1,]",
            b"{\"a\":1,}",
            b"{'a':1}",
            b"\"a\x01\"",
            b"\"\\ud800\"",
            b"nul",
            b"1 2",
            b"\xff",
            b"\"\xc3\"",
        ] {
            assert_eq!(parse(text), None, "{}", text.escape_ascii());
        }
        assert_eq!(parse(b" [1, \"\\u00e9\", true, null, {}] "), {
            let items = vec![
                Value::Int(1),
                Value::String("é".into()),
                Value::Bool(true),
                Value::Null,
                Value::Object(Object::default()),
            ];
            Some(Value::Array(items))
        });
    }

    #[test]
    fn deep_nesting_is_not_json() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse(deep.as_bytes()), None);
        let limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(parse(limit.as_bytes()), None);
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(parse(fine.as_bytes()).is_some());
    }

    #[test]
    fn keys_keep_their_order_and_the_last_duplicate_wins() {
        let Some(Value::Object(object)) = parse(br#"{"b":1,"a":2,"b":3}"#) else { panic!("an object") };
        let keys: Vec<&String> = object.keys().collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(object.get("b"), Some(&Value::Int(3)));
    }
}
