//! Runtime values of IoT SQL and the standard conversions between them
//! (`iotsql-semantics` §2 and §5).

use std::fmt::Write as _;

use indexmap::IndexMap;

use crate::check::types::is_numeric_string;
use crate::decimal::Decimal;
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
    /// An Int that fits 64 bits. Larger Ints (AWS's hold 34 digits) are whole Decimals, which
    /// print as Ints under 2016-03-23.
    Int(i64),
    /// A 34-digit decimal (`crate::decimal`).
    Decimal(Decimal),
    String(String),
    Array(Vec<Value>),
    Object(Object),
    /// A payload that is not JSON, as `*` sees it.
    Binary(Vec<u8>),
}

/// A number after the standard conversion, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Decimal(Decimal),
}

impl Number {
    /// The nearest double, for the functions AWS documents as double precision.
    pub fn as_f64(&self) -> f64 {
        match self {
            Number::Int(int) => *int as f64,
            Number::Decimal(decimal) => decimal.to_f64(),
        }
    }

    /// The exact value as a Decimal.
    pub fn to_decimal(&self) -> Decimal {
        match self {
            Number::Int(int) => Decimal::from_i64(*int),
            Number::Decimal(decimal) => decimal.clone(),
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
            Value::Decimal(decimal) => Some(Number::Decimal(decimal.clone())),
            Value::String(text) => parse_numeric_string(text).map(Number::Decimal),
            _ => None,
        }
    }

    /// The standard conversion to a Decimal, rounded to the nearest double: what the
    /// functions AWS documents as double precision compute on.
    pub fn to_f64(&self) -> Option<f64> {
        self.to_number().map(|number| number.as_f64())
    }

    /// The conversion functions with Int parameters use: numbers and numeric strings rounded
    /// down (toward negative infinity), as the function reference says of each of them; none
    /// past the 64-bit range.
    pub fn to_int_floor(&self) -> Option<i64> {
        match self.to_number()? {
            Number::Int(int) => Some(int),
            Number::Decimal(decimal) => decimal.to_integral(bigdecimal::RoundingMode::Floor).to_i64(),
        }
    }

    /// A double-precision result as a value: its shortest decimal form, or Undefined for an
    /// infinity or NaN (`ln(0)`, `sqrt(-1)`).
    pub fn from_f64(value: f64) -> Value {
        Decimal::from_f64(value).map_or(Value::Undefined, Value::Decimal)
    }

    /// A Decimal result, or Undefined when there is none (out of range, division by zero).
    pub fn from_decimal(value: Option<Decimal>) -> Value {
        value.map_or(Value::Undefined, Value::Decimal)
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
            Value::Decimal(decimal) => Some(decimal.to_text(false)),
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
            Value::Decimal(decimal) => Some(decimal.to_text(whole_as_int)),
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

/// Parses a string under the numeric-string rule `^-?\d+(\.\d+)?((?i)E-?\d+)?$`, as a
/// Decimal; none out of AWS's range.
pub fn parse_numeric_string(text: &str) -> Option<Decimal> {
    if is_numeric_string(text) { Decimal::parse(text) } else { None }
}

/// `value` as an i64 when it is a whole number in range.
pub fn f64_to_i64(value: f64) -> Option<i64> {
    // i64::MAX as f64 rounds up to 2^63, which is out of range, hence the strict bound.
    (value.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&value))
        .then_some(value as i64)
}

/// Writes `value` as compact JSON. Undefined object members and array items are left out;
/// returns false when nothing can be written (the value itself is Undefined or binary).
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
        Value::Decimal(decimal) => {
            decimal.write(out, whole_as_int);
            true
        }
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
        assert_eq!(Value::String("0.1".into()).to_number(), Some(Number::Decimal(Decimal::parse("0.1").unwrap())));
        assert_eq!(Value::String("+5".into()).to_f64(), None);
        assert_eq!(Value::String("5.7".into()).to_int_floor(), Some(5));
        assert_eq!(Value::Decimal(Decimal::parse("-1.2").unwrap()).to_int_floor(), Some(-2));
        assert_eq!(Value::String("TRUE".into()).to_bool(), Some(true));
        assert_eq!(Value::Int(1).to_bool(), None);
        assert_eq!(Value::Bool(false).to_text().as_deref(), Some("false"));
        assert_eq!(Value::Null.to_text(), None);
        let array = Value::Array(vec![Value::String("a".into()), Value::Int(1), Value::Null]);
        assert_eq!(array.to_text().as_deref(), Some(r#"["a",1,null]"#));
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
