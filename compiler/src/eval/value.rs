//! Runtime values of IoT SQL and the standard conversions between them
//! (`iotsql-semantics` §2 and §5).

use std::fmt::Write as _;

use indexmap::IndexMap;

use crate::check::types::is_numeric_string;
use crate::version::SqlVersion;

/// An object: keys keep the order they were written in. foldhash is fast on short keys and
/// seeded per process, so payloads cannot be crafted to collide.
pub type Object = IndexMap<String, Value, foldhash::fast::RandomState>;

/// A value an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Not a value: a missing key, a failed conversion, a function given bad arguments.
    Undefined,
    Null,
    Bool(bool),
    /// A 64-bit integer; arithmetic that overflows it continues in Decimal.
    Int(i64),
    /// A double; AWS's Decimals behave as doubles in practice (§19).
    Decimal(f64),
    String(String),
    Array(Vec<Value>),
    Object(Object),
    /// A payload that is not JSON, as `*` sees it.
    Binary(Vec<u8>),
}

/// A number after the standard conversion, or why there is none.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Decimal(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(int) => int as f64,
            Number::Decimal(decimal) => decimal,
        }
    }

    pub fn into_value(self) -> Value {
        match self {
            Number::Int(int) => Value::Int(int),
            Number::Decimal(decimal) => Value::Decimal(decimal),
        }
    }
}

impl Value {
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// The type name used in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Undefined => "Undefined",
            Value::Null => "Null",
            Value::Bool(_) => "Boolean",
            Value::Int(_) => "Int",
            Value::Decimal(_) => "Decimal",
            Value::String(_) => "String",
            Value::Array(_) => "Array",
            Value::Object(_) => "Object",
            Value::Binary(_) => "binary payload",
        }
    }

    /// The standard conversion to a number: Int and Decimal as they are, numeric strings
    /// parsed (as Decimal), anything else none. Null is handled by callers.
    pub fn to_number(&self) -> Option<Number> {
        match self {
            Value::Int(int) => Some(Number::Int(*int)),
            Value::Decimal(decimal) => Some(Number::Decimal(*decimal)),
            Value::String(text) => parse_numeric_string(text).map(Number::Decimal),
            _ => None,
        }
    }

    /// The standard conversion to a Decimal.
    pub fn to_f64(&self) -> Option<f64> {
        self.to_number().map(Number::as_f64)
    }

    /// The conversion functions with Int parameters use: numbers and numeric strings rounded
    /// down (toward negative infinity), as the function reference says of each of them.
    pub fn to_int_floor(&self) -> Option<i64> {
        match self.to_number()? {
            Number::Int(int) => Some(int),
            Number::Decimal(decimal) => f64_to_i64(decimal.floor()),
        }
    }

    /// The standard conversion to a Boolean: Booleans, and the strings `true`/`false` in any case.
    pub fn to_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(flag) => Some(*flag),
            Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
            Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// The standard conversion to a String: numbers in their JSON form, Booleans as words,
    /// arrays and objects as compact JSON text; none for Null, Undefined and binary payloads.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::String(text) => Some(text.clone()),
            Value::Int(int) => Some(int.to_string()),
            Value::Decimal(decimal) => format_decimal(*decimal, false),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Array(_) | Value::Object(_) => {
                let mut out = String::new();
                write_json(&mut out, self, false).then_some(out)
            }
            Value::Null | Value::Undefined | Value::Binary(_) => None,
        }
    }

    /// [`Value::to_text`] as the statement's SQL version sees it: under 2016-03-23 whole-number
    /// Decimals are processed as Ints, also inside arrays and objects, as the output writes them.
    pub fn to_text_in(&self, version: SqlVersion) -> Option<String> {
        let whole_as_int = version.has_2016_features();
        match self {
            Value::Decimal(decimal) => format_decimal(*decimal, whole_as_int),
            Value::Array(_) | Value::Object(_) => {
                let mut out = String::new();
                write_json(&mut out, self, whole_as_int).then_some(out)
            }
            _ => self.to_text(),
        }
    }

    /// Member access: a field of an object; Undefined for anything else.
    pub fn field(&self, name: &str) -> Value {
        match self {
            Value::Object(object) => object.get(name).cloned().unwrap_or(Value::Undefined),
            _ => Value::Undefined,
        }
    }
}

/// Parses a string under the numeric-string rule `^-?\d+(\.\d+)?((?i)E-?\d+)?$`.
pub fn parse_numeric_string(text: &str) -> Option<f64> {
    if is_numeric_string(text) { text.parse().ok() } else { None }
}

/// `value` as an i64 when it is a whole number in range.
pub fn f64_to_i64(value: f64) -> Option<i64> {
    // i64::MAX as f64 rounds up to 2^63, which is out of range, hence the strict bound.
    (value.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&value))
        .then_some(value as i64)
}

/// Writes a Decimal the shortest way that reads back to the same double; `whole_as_int`
/// prints whole numbers without a fraction (SQL version 2016-03-23). Non-finite values have
/// no JSON form.
pub fn format_decimal(value: f64, whole_as_int: bool) -> Option<String> {
    let mut out = Vec::new();
    write_decimal(&mut out, value, whole_as_int).then(|| String::from_utf8_lossy(&out).into_owned())
}

/// [`format_decimal`] appended to `out`, without allocating; false for a non-finite value.
pub fn write_decimal(out: &mut Vec<u8>, value: f64, whole_as_int: bool) -> bool {
    if !value.is_finite() {
        return false;
    }
    if whole_as_int && let Some(int) = f64_to_i64(value) {
        out.extend_from_slice(itoa::Buffer::new().format(int).as_bytes());
        return true;
    }
    if value == 0.0 && value.is_sign_negative() {
        out.extend_from_slice(b"-0.0");
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    }
    true
}

/// Writes `value` as compact JSON. Undefined object members and array items are left out;
/// returns false when nothing can be written (the value itself is Undefined, binary or a
/// non-finite number).
pub fn write_json(out: &mut String, value: &Value, whole_as_int: bool) -> bool {
    match value {
        Value::Undefined | Value::Binary(_) => false,
        Value::Null => {
            out.push_str("null");
            true
        }
        Value::Bool(flag) => {
            out.push_str(if *flag { "true" } else { "false" });
            true
        }
        Value::Int(int) => {
            let _ = write!(out, "{int}");
            true
        }
        Value::Decimal(decimal) => match format_decimal(*decimal, whole_as_int) {
            Some(text) => {
                out.push_str(&text);
                true
            }
            None => false,
        },
        Value::String(text) => {
            write_json_string(out, text);
            true
        }
        Value::Array(items) => {
            out.push('[');
            let mut first = true;
            for item in items {
                let mark = out.len();
                if !first {
                    out.push(',');
                }
                if write_json(out, item, whole_as_int) {
                    first = false;
                } else {
                    out.truncate(mark);
                }
            }
            out.push(']');
            true
        }
        Value::Object(object) => {
            out.push('{');
            let mut first = true;
            for (key, member) in object {
                let mark = out.len();
                if !first {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                if write_json(out, member, whole_as_int) {
                    first = false;
                } else {
                    out.truncate(mark);
                }
            }
            out.push('}');
            true
        }
    }
}

pub(crate) fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: &Value) -> String {
        let mut out = String::new();
        write_json(&mut out, value, true);
        out
    }

    #[test]
    fn standard_conversions() {
        assert_eq!(Value::String("-1.2".into()).to_f64(), Some(-1.2));
        assert_eq!(Value::String("+5".into()).to_f64(), None);
        assert_eq!(Value::String("5.7".into()).to_int_floor(), Some(5));
        assert_eq!(Value::Decimal(-1.2).to_int_floor(), Some(-2));
        assert_eq!(Value::String("TRUE".into()).to_bool(), Some(true));
        assert_eq!(Value::Int(1).to_bool(), None);
        assert_eq!(Value::Bool(false).to_text().as_deref(), Some("false"));
        assert_eq!(Value::Null.to_text(), None);
        let array = Value::Array(vec![Value::String("a".into()), Value::Int(1), Value::Null]);
        assert_eq!(array.to_text().as_deref(), Some(r#"["a",1,null]"#));
    }

    #[test]
    #[expect(clippy::excessive_precision, reason = "the numbers as a device sent them, from §19")]
    fn numbers_print_shortest_and_whole_decimals_as_ints() {
        assert_eq!(format_decimal(36.903999599999999, true).as_deref(), Some("36.9039996"));
        assert_eq!(format_decimal(-25.2632837000000772, true).as_deref(), Some("-25.263283700000077"));
        assert_eq!(format_decimal(5.0, true).as_deref(), Some("5"));
        assert_eq!(format_decimal(5.0, false).as_deref(), Some("5.0"));
        assert_eq!(format_decimal(f64::NAN, true), None);
        assert_eq!(format_decimal(1e300, true).as_deref(), Some("1e300"));
    }

    #[test]
    fn undefined_members_are_left_out() {
        let mut object = Object::default();
        object.insert("foo".into(), Value::Null);
        object.insert("bar".into(), Value::Undefined);
        object.insert("baz".into(), Value::Array(vec![Value::Undefined, Value::Int(1)]));
        assert_eq!(json(&Value::Object(object)), r#"{"foo":null,"baz":[1]}"#);
        assert_eq!(json(&Value::String("a\"\n\u{1}".into())), r#""a\"\n\u0001""#);
    }
}
