//! Operators and `cast`, following the type tables of `iotsql-semantics` §6 and §7.

use bigdecimal::RoundingMode;

use crate::check::functions::CastTarget;
use crate::decimal::Decimal;
use crate::eval::value::{Number, Value};
use crate::syntax::ast::BinaryOp;
use crate::version::SqlVersion;

/// `lhs op rhs` on two evaluated operands. AND and OR go through [`logical`].
pub(crate) fn binary(op: BinaryOp, lhs: &Value, rhs: &Value, version: SqlVersion) -> Value {
    match op {
        BinaryOp::And | BinaryOp::Or => logical(op, lhs, || rhs.clone()),
        BinaryOp::Eq | BinaryOp::Ne => {
            if lhs.is_undefined() || rhs.is_undefined() {
                return Value::Undefined;
            }
            let equal = equals(lhs, rhs);
            Value::Bool(if op == BinaryOp::Eq { equal } else { !equal })
        }
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => compare(op, lhs, rhs),
        BinaryOp::In => contains(rhs, lhs),
        BinaryOp::Add => add(lhs, rhs, version),
        BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => arithmetic(op, lhs, rhs),
    }
}

/// AND and OR, read left to right: `false AND x` is false and `true OR x` is true whatever
/// `x` is, without evaluating it; when the left operand is the Boolean that leaves the answer
/// open, the answer is the right operand as a Boolean; any other left operand (Undefined, a
/// number, a string that is not "true" or "false") makes the result Undefined. AWS's tables
/// cover only two Boolean operands; docs/iotsql-dialect.md gives the evidence for the rest.
pub(crate) fn logical(op: BinaryOp, lhs: &Value, rhs: impl FnOnce() -> Value) -> Value {
    let open = op == BinaryOp::And;
    match lhs.to_bool() {
        Some(left) if left == open => rhs().to_bool().map_or(Value::Undefined, Value::Bool),
        Some(left) => Value::Bool(left),
        None => Value::Undefined,
    }
}

/// `x IN array`: true when an element equals `x` as `=` compares (numbers by value, no
/// conversion between types, objects and arrays member by member), false when none does;
/// Undefined when `x` is Undefined or the right side is not an array.
fn contains(array: &Value, needle: &Value) -> Value {
    match array {
        Value::Array(elements) if !needle.is_undefined() => {
            Value::Bool(elements.iter().any(|element| equals(element, needle)))
        }
        _ => Value::Undefined,
    }
}

/// `=` on two defined values: same types compare by value (Int and Decimal numerically),
/// different types are never equal.
pub(crate) fn equals(lhs: &Value, rhs: &Value) -> bool {
    match (lhs, rhs) {
        (Value::Int(l), Value::Int(r)) => l == r,
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            lhs.to_number().zip(rhs.to_number()).is_some_and(|(l, r)| l.to_decimal() == r.to_decimal())
        }
        (Value::String(l), Value::String(r)) => l == r,
        (Value::Bool(l), Value::Bool(r)) => l == r,
        (Value::Null, Value::Null) => true,
        (Value::Array(l), Value::Array(r)) => l.len() == r.len() && l.iter().zip(r).all(|(l, r)| equals(l, r)),
        (Value::Object(l), Value::Object(r)) => {
            l.len() == r.len() && l.iter().all(|(key, value)| r.get(key).is_some_and(|other| equals(value, other)))
        }
        (Value::Binary(l), Value::Binary(r)) => l == r,
        _ => false,
    }
}

fn compare(op: BinaryOp, lhs: &Value, rhs: &Value) -> Value {
    let (Some(l), Some(r)) = (lhs.to_number(), rhs.to_number()) else { return Value::Undefined };
    let ordering = match (&l, &r) {
        (Number::Int(l), Number::Int(r)) => l.cmp(r),
        _ => l.to_decimal().cmp(&r.to_decimal()),
    };
    Value::Bool(match op {
        BinaryOp::Lt => ordering.is_lt(),
        BinaryOp::Le => ordering.is_le(),
        BinaryOp::Gt => ordering.is_gt(),
        _ => ordering.is_ge(),
    })
}

fn add(lhs: &Value, rhs: &Value, version: SqlVersion) -> Value {
    if matches!(lhs, Value::String(_)) || matches!(rhs, Value::String(_)) {
        return match (lhs.to_text_in(version), rhs.to_text_in(version)) {
            (Some(l), Some(r)) => Value::String(l + &r),
            _ => Value::Undefined,
        };
    }
    arithmetic(BinaryOp::Add, lhs, rhs)
}

/// `+ - * / %` on numbers. Strings that convert take part as Decimals; Int with Int stays
/// Int unless it leaves 64 bits, when it continues exactly as a (whole) Decimal. Integer
/// division truncates toward zero and `%` takes the sign of the dividend, as in Java; Decimal
/// results are rounded to 34 digits. Dividing by zero, and a result out of the Decimal range,
/// is Undefined.
fn arithmetic(op: BinaryOp, lhs: &Value, rhs: &Value) -> Value {
    let involves_string = matches!(lhs, Value::String(_)) || matches!(rhs, Value::String(_));
    let (Some(l), Some(r)) = (lhs.to_number(), rhs.to_number()) else { return Value::Undefined };
    if let (Number::Int(l), Number::Int(r), false) = (&l, &r, involves_string) {
        let (l, r) = (*l, *r);
        let exact = match op {
            BinaryOp::Add => l.checked_add(r),
            BinaryOp::Sub => l.checked_sub(r),
            BinaryOp::Mul => l.checked_mul(r),
            BinaryOp::Div if r == 0 => return Value::Undefined,
            BinaryOp::Div => l.checked_div(r),
            BinaryOp::Rem if r == 0 => return Value::Undefined,
            // `i64::MIN % -1` overflows in Rust; the remainder is 0, as in Java.
            _ => Some(l.wrapping_rem(r)),
        };
        if let Some(exact) = exact {
            return Value::Int(exact);
        }
        // Past 64 bits: the exact result, as a whole Decimal (Ints hold 34 digits).
        let (wide_l, wide_r) = (i128::from(l), i128::from(r));
        let wide = match op {
            BinaryOp::Add => wide_l + wide_r,
            BinaryOp::Sub => wide_l - wide_r,
            BinaryOp::Mul => wide_l * wide_r,
            _ => wide_l / wide_r,
        };
        return Value::from_decimal(Decimal::from_i128(wide));
    }
    let (l, r) = (l.to_decimal(), r.to_decimal());
    Value::from_decimal(match op {
        BinaryOp::Add => l.add(&r),
        BinaryOp::Sub => l.sub(&r),
        BinaryOp::Mul => l.mul(&r),
        BinaryOp::Div => l.div(&r),
        _ => l.rem(&r),
    })
}

pub(crate) fn not(operand: &Value) -> Value {
    operand.to_bool().map_or(Value::Undefined, |flag| Value::Bool(!flag))
}

pub(crate) fn negate(operand: &Value) -> Value {
    match operand {
        Value::Int(int) => int.checked_neg().map_or_else(|| Value::Decimal(Decimal::from_i64(*int).neg()), Value::Int),
        Value::Decimal(decimal) => Value::Decimal(decimal.neg()),
        Value::String(_) => match operand.to_number() {
            Some(number) => Value::Decimal(number.to_decimal().neg()),
            None => Value::Undefined,
        },
        _ => Value::Undefined,
    }
}

/// `cast(value AS target)` (§7). Unlike the implicit conversions, Booleans become 1 and 0,
/// numbers become Booleans, and Null casts to Undefined. To Int, a Decimal and a numeric
/// string are both truncated toward zero (Java's `RoundingMode.DOWN`, the conversion table's
/// "truncated"), so `cast(-5.7 AS Int)` and `cast('-5.7' AS Int)` are both -5; past the 64-bit
/// range the whole Decimal stays (an Int holds 34 digits). `Double` rounds to a double, as AWS
/// documents; `Decimal` keeps 34 digits.
pub(crate) fn cast(value: &Value, target: CastTarget, version: SqlVersion) -> Value {
    match target {
        CastTarget::String => value.to_text_in(version).map_or(Value::Undefined, Value::String),
        CastTarget::Int => match value {
            Value::Bool(flag) => Value::Int(i64::from(*flag)),
            Value::Int(int) => Value::Int(*int),
            Value::Decimal(_) | Value::String(_) => match value.to_number() {
                Some(number) => {
                    let whole = number.to_decimal().to_integral(RoundingMode::Down);
                    whole.to_i64().map_or(Value::Decimal(whole), Value::Int)
                }
                None => Value::Undefined,
            },
            _ => Value::Undefined,
        },
        CastTarget::Double => match value {
            Value::Bool(flag) => Value::from_f64(if *flag { 1.0 } else { 0.0 }),
            _ => value.to_f64().map_or(Value::Undefined, Value::from_f64),
        },
        CastTarget::Decimal => match value {
            Value::Bool(flag) => Value::Decimal(Decimal::from_i64(i64::from(*flag))),
            _ => value.to_number().map_or(Value::Undefined, |number| Value::Decimal(number.to_decimal())),
        },
        CastTarget::Boolean => match value {
            Value::Bool(flag) => Value::Bool(*flag),
            Value::Int(int) => Value::Bool(*int != 0),
            Value::Decimal(decimal) => Value::Bool(!decimal.is_zero()),
            Value::String(_) => value.to_bool().map_or(Value::Undefined, Value::Bool),
            _ => Value::Undefined,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(op: BinaryOp, lhs: &Value, rhs: &Value) -> Value {
        binary(op, lhs, rhs, SqlVersion::V2016_03_23)
    }

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    fn d(text: &str) -> Value {
        Value::Decimal(Decimal::parse(text).unwrap())
    }

    #[test]
    fn plus_concatenates_when_a_string_is_involved() {
        assert_eq!(bin(BinaryOp::Add, &s("5"), &Value::Int(1)), s("51"));
        assert_eq!(bin(BinaryOp::Add, &Value::Int(1), &s("a")), s("1a"));
        assert_eq!(bin(BinaryOp::Add, &Value::Bool(true), &s("x")), s("truex"));
        assert_eq!(bin(BinaryOp::Add, &Value::Null, &s("x")), Value::Undefined);
        assert_eq!(bin(BinaryOp::Add, &Value::Int(2), &d("0.5")), d("2.5"));
        assert_eq!(bin(BinaryOp::Add, &d("0.1"), &d("0.2")), d("0.3"));
        assert_eq!(bin(BinaryOp::Add, &Value::Bool(true), &Value::Int(1)), Value::Undefined);
    }

    #[test]
    fn arithmetic_table() {
        assert_eq!(bin(BinaryOp::Sub, &s("5"), &Value::Int(3)), d("2"));
        assert_eq!(bin(BinaryOp::Sub, &s("a"), &Value::Int(1)), Value::Undefined);
        assert_eq!(bin(BinaryOp::Div, &Value::Int(7), &Value::Int(2)), Value::Int(3));
        assert_eq!(bin(BinaryOp::Div, &Value::Int(-7), &Value::Int(2)), Value::Int(-3));
        assert_eq!(bin(BinaryOp::Rem, &Value::Int(-7), &Value::Int(3)), Value::Int(-1));
        assert_eq!(bin(BinaryOp::Div, &Value::Int(1), &Value::Int(0)), Value::Undefined);
        assert_eq!(bin(BinaryOp::Rem, &d("7.5"), &Value::Int(2)), d("1.5"));
        assert_eq!(bin(BinaryOp::Mul, &Value::Int(i64::MAX), &Value::Int(2)), d("18446744073709551614"));
        assert_eq!(bin(BinaryOp::Add, &Value::Int(i64::MAX), &Value::Int(1)), d("9223372036854775808"));
        assert_eq!(bin(BinaryOp::Div, &Value::Int(i64::MIN), &Value::Int(-1)), d("9223372036854775808"));
        assert_eq!(bin(BinaryOp::Div, &d("2.5"), &Value::Int(3)), d("0.8333333333333333333333333333333333"));
    }

    #[test]
    fn comparison_and_equality_tables() {
        assert_eq!(bin(BinaryOp::Gt, &s("10"), &s("9")), Value::Bool(true));
        assert_eq!(bin(BinaryOp::Gt, &s("abc"), &Value::Int(1)), Value::Undefined);
        assert_eq!(bin(BinaryOp::Eq, &Value::Int(1), &s("1")), Value::Bool(false));
        assert_eq!(bin(BinaryOp::Eq, &Value::Int(1), &d("1.0")), Value::Bool(true));
        assert_eq!(bin(BinaryOp::Gt, &d("9223372036854775808"), &Value::Int(i64::MAX)), Value::Bool(true));
        assert_eq!(bin(BinaryOp::Ne, &Value::Null, &Value::Null), Value::Bool(false));
        assert_eq!(bin(BinaryOp::Eq, &Value::Undefined, &Value::Int(1)), Value::Undefined);
        assert_eq!(bin(BinaryOp::Or, &s("True"), &Value::Bool(false)), Value::Bool(true));
        assert_eq!(bin(BinaryOp::And, &Value::Int(0), &Value::Bool(true)), Value::Undefined);
    }

    #[test]
    fn cast_table() {
        let v = SqlVersion::V2016_03_23;
        assert_eq!(cast(&s("5.7"), CastTarget::Int, v), Value::Int(5));
        assert_eq!(cast(&d("-1.5"), CastTarget::Int, v), Value::Int(-1));
        assert_eq!(cast(&s("-1.5"), CastTarget::Int, v), Value::Int(-1));
        assert_eq!(cast(&Value::Bool(true), CastTarget::Decimal, v), d("1"));
        assert_eq!(cast(&Value::Int(0), CastTarget::Boolean, v), Value::Bool(false));
        assert_eq!(cast(&Value::Null, CastTarget::String, v), Value::Undefined);
        assert_eq!(cast(&d("1.5"), CastTarget::String, v), s("1.5"));
        assert_eq!(cast(&d("5.0"), CastTarget::String, v), s("5"));
        assert_eq!(cast(&d("5.0"), CastTarget::String, SqlVersion::V2015_10_08), s("5.0"));
        assert_eq!(cast(&d("0.1"), CastTarget::Double, v), d("0.1"));
    }
}
