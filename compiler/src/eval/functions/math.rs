//! Numeric functions (`iotsql-functions.md`; conversions from `iotsql-semantics` §5).
//!
//! Every argument goes through the standard conversion to a number: Ints and Decimals as they
//! are, numeric strings parsed as Decimals. Booleans, Null, Undefined, arrays, objects and other
//! strings make the call Undefined. AWS documents that the trig, exp, log, ln, power and sqrt
//! functions round Decimal arguments to doubles and return double-precision Decimals, so those
//! compute in `f64` and return the shortest decimal form of the double; a result that is not a
//! finite number (`asin(2)`, `ln(0)`, `sqrt(-1)`) is Undefined. The others (`abs`, `ceil`,
//! `floor`, `round`, `sign`, `trunc`, `mod`) work on the exact 34-digit value.

use bigdecimal::RoundingMode;

use crate::decimal::Decimal;
use crate::eval::operators::binary;
use crate::eval::value::{Number, Value};
use crate::syntax::ast::BinaryOp;
use crate::version::SqlVersion;

/// The functions this family implements.
const NAMES: &[&str] = &[
    "abs",
    "acos",
    "asin",
    "atan",
    "atan2",
    "bitand",
    "bitnot",
    "bitor",
    "bitxor",
    "ceil",
    "cos",
    "cosh",
    "exp",
    "floor",
    "ln",
    "log",
    "mod",
    "power",
    "remainder",
    "round",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
];

/// The most decimal places `trunc` keeps: a Decimal has 34 digits of precision (§2).
const MAX_PLACES: i64 = 34;

/// Calls the numeric function `name`, or returns `None` when `name` is not one of them.
pub(crate) fn call(name: &str, args: &[Value]) -> Option<Value> {
    let value = match (name, args) {
        ("abs", [x]) => abs(x),
        ("acos", [x]) => double(x, f64::acos),
        ("asin", [x]) => double(x, f64::asin),
        ("atan", [x]) => double(x, f64::atan),
        ("atan2", [y, x]) => double2(y, x, f64::atan2),
        ("cos", [x]) => double(x, f64::cos),
        ("cosh", [x]) => double(x, f64::cosh),
        ("exp", [x]) => double(x, f64::exp),
        ("ln", [x]) => double(x, f64::ln),
        ("log", [x]) => double(x, f64::log10),
        ("power", [base, exponent]) => double2(base, exponent, f64::powf),
        ("sin", [x]) => double(x, f64::sin),
        ("sinh", [x]) => double(x, f64::sinh),
        ("sqrt", [x]) => double(x, f64::sqrt),
        ("tan", [x]) => double(x, f64::tan),
        ("tanh", [x]) => double(x, f64::tanh),
        ("bitand", [a, b]) => bitwise(a, b, |a, b| a & b),
        ("bitor", [a, b]) => bitwise(a, b, |a, b| a | b),
        ("bitxor", [a, b]) => bitwise(a, b, |a, b| a ^ b),
        // Two's-complement NOT (Java's `~`), so `bitnot(13)` is -14: the guide's `bitnot(13) = 2`
        // matches no bitwise NOT of any width and is marked doc-suspect.
        ("bitnot", [a]) => a.to_int_floor().map_or(Value::Undefined, |a| Value::Int(!a)),
        ("ceil", [x]) => whole(x, RoundingMode::Ceiling),
        ("floor", [x]) => whole(x, RoundingMode::Floor),
        // Halves away from zero, as the guide's `round(-1.5) = -2` does.
        ("round", [x]) => whole(x, RoundingMode::HalfUp),
        // The guide calls both the same as `%`, so they share its table exactly.
        // The version only affects string concatenation, which `%` never does.
        ("mod" | "remainder", [a, b]) => binary(BinaryOp::Rem, a, b, SqlVersion::V2016_03_23),
        ("sign", [x]) => sign(x),
        ("trunc", [x, places]) => trunc(x, places),
        // The dispatcher checks arity first; a wrong count is still Undefined here, never a panic.
        _ if NAMES.contains(&name) => Value::Undefined,
        _ => return None,
    };
    Some(value)
}

/// `abs`: Int stays Int (continuing as Decimal when `i64::MIN` has no Int negation), Decimals
/// and numeric strings give a Decimal.
fn abs(x: &Value) -> Value {
    match x.to_number() {
        Some(Number::Int(int)) => {
            int.checked_abs().map_or_else(|| Value::Decimal(Decimal::from_i64(int).abs()), Value::Int)
        }
        Some(Number::Decimal(value)) => Value::Decimal(value.abs()),
        None => Value::Undefined,
    }
}

/// A function of one double. An argument too large for a double is ±infinity, as when AWS
/// rounds its Decimal to a double, so `atan('1E999')` is still π/2.
fn double(x: &Value, function: fn(f64) -> f64) -> Value {
    x.to_f64().map_or(Value::Undefined, |x| Value::from_f64(function(x)))
}

/// A function of two doubles, taken in order.
fn double2(first: &Value, second: &Value, function: fn(f64, f64) -> f64) -> Value {
    match (first.to_f64(), second.to_f64()) {
        (Some(first), Some(second)) => Value::from_f64(function(first, second)),
        _ => Value::Undefined,
    }
}

/// A bitwise operation on two arguments rounded down to Ints; one outside the 64-bit range
/// has no Int form and makes the call Undefined.
fn bitwise(a: &Value, b: &Value, operation: fn(i64, i64) -> i64) -> Value {
    match (a.to_int_floor(), b.to_int_floor()) {
        (Some(a), Some(b)) => Value::Int(operation(a, b)),
        _ => Value::Undefined,
    }
}

/// `ceil`, `floor` and `round`: an Int as it is, otherwise the rounded Decimal as an Int. A
/// rounded value outside the 64-bit range stays a (whole) Decimal, as Int arithmetic that
/// overflows does.
fn whole(x: &Value, mode: RoundingMode) -> Value {
    match x.to_number() {
        Some(Number::Int(int)) => Value::Int(int),
        Some(Number::Decimal(value)) => {
            let rounded = value.to_integral(mode);
            rounded.to_i64().map_or(Value::Decimal(rounded), Value::Int)
        }
        None => Value::Undefined,
    }
}

/// `sign`: -1, 0 or 1 as an Int.
fn sign(x: &Value) -> Value {
    match x.to_number() {
        Some(Number::Int(int)) => Value::Int(int.signum()),
        Some(Number::Decimal(value)) => Value::Int(if value.is_zero() {
            0
        } else if value.is_negative() {
            -1
        } else {
            1
        }),
        None => Value::Undefined,
    }
}

/// `trunc(x, places)`: `x` cut toward zero after `places` decimal places. `places` is rounded
/// down and clamped to 0..=34; an Int has no decimal places to cut and stays an Int.
fn trunc(x: &Value, places: &Value) -> Value {
    // Clamping applies to every number, so a `places` past the 64-bit range is 34 (or 0), not Undefined.
    let places = match places.to_number() {
        Some(Number::Int(places)) => places.clamp(0, MAX_PLACES),
        Some(Number::Decimal(places)) => {
            let floor = places.to_integral(RoundingMode::Floor);
            if floor.is_negative() { 0 } else { floor.to_i64().unwrap_or(MAX_PLACES).min(MAX_PLACES) }
        }
        None => return Value::Undefined,
    };
    match x.to_number() {
        Some(Number::Int(int)) => Value::Int(int),
        Some(Number::Decimal(value)) => Value::Decimal(value.truncated(places)),
        None => Value::Undefined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, args: &[Value]) -> Value {
        call(name, args).unwrap()
    }

    fn int(value: i64) -> Value {
        Value::Int(value)
    }

    fn dec(value: f64) -> Value {
        Value::from_f64(value)
    }

    /// A Decimal written as the guide prints it.
    fn doc(text: &str) -> Value {
        Value::Decimal(Decimal::parse(text).unwrap())
    }

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    /// Arguments that are never numbers.
    fn not_numbers() -> Vec<Value> {
        vec![
            Value::Null,
            Value::Undefined,
            Value::Bool(true),
            Value::Bool(false),
            s("abc"),
            s("+5"),
            s(".5"),
            s(" 5"),
            s("NaN"),
            s("true"),
            Value::Array(vec![int(1)]),
            Value::Object(crate::eval::value::Object::default()),
            Value::Binary(vec![1]),
        ]
    }

    #[test]
    fn names_outside_the_family_are_not_claimed() {
        assert_eq!(call("upper", &[s("a")]), None);
        assert_eq!(call("concat", &[int(1)]), None);
        assert_eq!(call("abs", &[]), Some(Value::Undefined));
        for name in NAMES {
            assert!(call(name, &[int(1), int(2), int(3)]).is_some(), "{name}");
        }
    }

    #[test]
    fn every_function_rejects_non_numbers() {
        for name in NAMES {
            for bad in not_numbers() {
                let expected = Value::Undefined;
                let arity = if matches!(
                    *name,
                    "atan2" | "bitand" | "bitor" | "bitxor" | "mod" | "power" | "remainder" | "trunc"
                ) {
                    2
                } else {
                    1
                };
                if arity == 1 {
                    assert_eq!(run(name, std::slice::from_ref(&bad)), expected, "{name}({bad:?})");
                } else {
                    assert_eq!(run(name, &[bad.clone(), int(2)]), expected, "{name}({bad:?}, 2)");
                    assert_eq!(run(name, &[int(2), bad.clone()]), expected, "{name}(2, {bad:?})");
                }
            }
        }
    }

    #[test]
    fn abs_keeps_the_type_and_never_overflows() {
        assert_eq!(run("abs", &[int(-3)]), int(3));
        assert_eq!(run("abs", &[dec(-1.5)]), dec(1.5));
        assert_eq!(run("abs", &[s("-3")]), dec(3.0));
        assert_eq!(run("abs", &[s("-5.123")]), dec(5.123));
        assert_eq!(run("abs", &[s("-5e-1")]), dec(0.5));
        assert_eq!(run("abs", &[int(i64::MIN)]), doc("9223372036854775808"));
        assert_eq!(run("abs", &[int(i64::MAX)]), int(i64::MAX));
        assert_eq!(run("abs", &[dec(-1e300)]), dec(1e300));
        assert_eq!(run("abs", &[s("-1E999")]), doc("1E999"));
        assert_eq!(run("abs", &[s("-1E1000")]), Value::Undefined);
    }

    #[test]
    fn trigonometry_matches_the_guide() {
        assert_eq!(run("acos", &[int(0)]), doc("1.5707963267948966"));
        assert_eq!(run("asin", &[int(0)]), dec(0.0));
        assert_eq!(run("atan", &[int(0)]), dec(0.0));
        assert_eq!(run("atan2", &[int(1), int(0)]), doc("1.5707963267948966"));
        assert_eq!(run("atan2", &[s("1"), s("0")]), doc("1.5707963267948966"));
        assert_eq!(run("cos", &[int(0)]), dec(1.0));
        assert_eq!(run("sin", &[int(0)]), dec(0.0));
        assert_eq!(run("tan", &[int(3)]), dec(-0.1425465430742778));
        assert_eq!(run("cosh", &[dec(2.3)]), dec(5.037220649268761));
        assert_eq!(run("sinh", &[dec(2.3)]), dec(4.936961805545957));
        assert_eq!(run("tanh", &[dec(2.3)]), dec(0.9800963962661914));
        assert_eq!(run("tanh", &[s("2.3")]), dec(0.9800963962661914));
        assert_eq!(run("atan", &[s("1E999")]), dec(std::f64::consts::FRAC_PI_2));
    }

    #[test]
    fn results_that_are_not_finite_are_undefined() {
        assert_eq!(run("asin", &[int(2)]), Value::Undefined);
        assert_eq!(run("acos", &[dec(-1.5)]), Value::Undefined);
        assert_eq!(run("ln", &[int(0)]), Value::Undefined);
        assert_eq!(run("ln", &[int(-1)]), Value::Undefined);
        assert_eq!(run("log", &[int(0)]), Value::Undefined);
        assert_eq!(run("sqrt", &[int(-1)]), Value::Undefined);
        assert_eq!(run("exp", &[int(1000)]), Value::Undefined);
        assert_eq!(run("cosh", &[int(1000)]), Value::Undefined);
        assert_eq!(run("power", &[int(0), int(-1)]), Value::Undefined);
        assert_eq!(run("power", &[int(-8), dec(1.0 / 3.0)]), Value::Undefined);
        assert_eq!(run("power", &[int(10), int(400)]), Value::Undefined);
    }

    #[test]
    fn exponentials_and_roots() {
        assert_eq!(run("exp", &[int(1)]), dec(std::f64::consts::E));
        assert_eq!(run("exp", &[int(-1000)]), dec(0.0));
        assert_eq!(run("ln", &[int(1)]), dec(0.0));
        assert_eq!(run("ln", &[dec(std::f64::consts::E)]), dec(1.0));
        assert_eq!(run("log", &[int(100)]), dec(2.0));
        assert_eq!(run("log", &[s("100")]), dec(2.0));
        assert_eq!(run("sqrt", &[int(9)]), dec(3.0));
        assert_eq!(run("sqrt", &[s("9")]), dec(3.0));
        assert_eq!(run("power", &[int(2), int(5)]), dec(32.0));
        assert_eq!(run("power", &[s("2"), s("5")]), dec(32.0));
        assert_eq!(run("power", &[int(2), dec(-1.0)]), dec(0.5));
        assert_eq!(run("power", &[int(0), int(0)]), dec(1.0));
    }

    #[test]
    fn bitwise_operations_round_down() {
        assert_eq!(run("bitand", &[int(13), int(5)]), int(5));
        assert_eq!(run("bitand", &[dec(13.7), dec(5.2)]), int(5));
        assert_eq!(run("bitor", &[int(8), int(5)]), int(13));
        assert_eq!(run("bitor", &[s("8"), int(5)]), int(13));
        assert_eq!(run("bitxor", &[int(13), int(5)]), int(8));
        assert_eq!(run("bitnot", &[int(13)]), int(-14));
        assert_eq!(run("bitnot", &[dec(-0.5)]), int(0));
        assert_eq!(run("bitnot", &[s("12.9")]), int(-13));
        assert_eq!(run("bitand", &[dec(-1.5), int(0xff)]), int(0xfe));
        assert_eq!(run("bitnot", &[int(i64::MIN)]), int(i64::MAX));
        assert_eq!(run("bitor", &[int(i64::MIN), int(i64::MAX)]), int(-1));
        assert_eq!(run("bitand", &[dec(1e300), int(1)]), Value::Undefined);
        assert_eq!(run("bitnot", &[s("99999999999999999999")]), Value::Undefined);
    }

    #[test]
    fn rounding_to_ints() {
        assert_eq!(run("ceil", &[dec(1.2)]), int(2));
        assert_eq!(run("ceil", &[dec(-1.2)]), int(-1));
        assert_eq!(run("ceil", &[dec(-0.5)]), int(0));
        assert_eq!(run("floor", &[dec(1.2)]), int(1));
        assert_eq!(run("floor", &[dec(-1.2)]), int(-2));
        assert_eq!(run("floor", &[s("1.7")]), int(1));
        assert_eq!(run("round", &[dec(1.2)]), int(1));
        assert_eq!(run("round", &[dec(-1.1)]), int(-1));
        assert_eq!(run("round", &[dec(1.5)]), int(2));
        assert_eq!(run("round", &[dec(-1.5)]), int(-2));
        assert_eq!(run("round", &[dec(2.5)]), int(3));
        assert_eq!(run("round", &[dec(0.49999999999999994)]), int(0));
        assert_eq!(run("round", &[s("-2.5")]), int(-3));
        for name in ["ceil", "floor", "round"] {
            assert_eq!(run(name, &[int(i64::MIN)]), int(i64::MIN));
            assert_eq!(run(name, &[int(i64::MAX)]), int(i64::MAX));
            assert_eq!(run(name, &[s("5")]), int(5));
            assert_eq!(run(name, &[dec(1e20)]), dec(1e20));
            assert_eq!(run(name, &[doc("-9223372036854775808")]), int(i64::MIN));
            assert_eq!(run(name, &[doc("9223372036854775808")]), doc("9223372036854775808"));
            assert_eq!(run(name, &[s("1E999")]), doc("1E999"));
            assert_eq!(run(name, &[s("1E1000")]), Value::Undefined);
        }
    }

    #[test]
    fn sign_is_an_int() {
        assert_eq!(run("sign", &[int(0)]), int(0));
        assert_eq!(run("sign", &[int(13)]), int(1));
        assert_eq!(run("sign", &[int(i64::MIN)]), int(-1));
        assert_eq!(run("sign", &[s("2.5")]), int(1));
        assert_eq!(run("sign", &[dec(-0.001)]), int(-1));
        assert_eq!(run("sign", &[dec(-0.0)]), int(0));
        assert_eq!(run("sign", &[s("-1E999")]), int(-1));
    }

    #[test]
    fn mod_and_remainder_follow_the_operator() {
        for name in ["mod", "remainder"] {
            assert_eq!(run(name, &[int(8), int(3)]), int(2));
            assert_eq!(run(name, &[int(-7), int(3)]), int(-1));
            assert_eq!(run(name, &[int(7), int(-3)]), int(1));
            assert_eq!(run(name, &[int(1), int(0)]), Value::Undefined);
            assert_eq!(run(name, &[dec(7.5), int(2)]), dec(1.5));
            assert_eq!(run(name, &[dec(-7.5), int(2)]), dec(-1.5));
            assert_eq!(run(name, &[s("8"), int(3)]), dec(2.0));
            assert_eq!(run(name, &[dec(1.0), dec(0.0)]), Value::Undefined);
            assert_eq!(run(name, &[int(i64::MIN), int(3)]), int(i64::MIN % 3));
            assert_eq!(run(name, &[int(i64::MIN), int(-1)]), int(0));
        }
    }

    #[test]
    fn trunc_cuts_decimal_digits() {
        assert_eq!(run("trunc", &[dec(2.3), int(0)]), dec(2.0));
        assert_eq!(run("trunc", &[dec(2.3123), int(2)]), dec(2.31));
        assert_eq!(run("trunc", &[int(5), int(2)]), int(5));
        assert_eq!(run("trunc", &[dec(2.888), int(-1)]), dec(2.0));
        assert_eq!(run("trunc", &[s("2.888"), int(2)]), dec(2.88));
        assert_eq!(run("trunc", &[dec(-2.888), int(2)]), dec(-2.88));
        assert_eq!(run("trunc", &[dec(1.005), int(3)]), dec(1.005));
        assert_eq!(run("trunc", &[dec(2.3), int(1)]), dec(2.3));
        assert_eq!(run("trunc", &[dec(0.1), int(40)]), dec(0.1));
        assert_eq!(run("trunc", &[dec(2.789), dec(1.9)]), dec(2.7));
        assert_eq!(run("trunc", &[dec(2.789), s("2")]), dec(2.78));
        assert_eq!(run("trunc", &[dec(2.789), dec(1e300)]), dec(2.789));
        assert_eq!(run("trunc", &[dec(2.789), dec(-1e300)]), dec(2.0));
        assert_eq!(run("trunc", &[dec(1.5e-7), int(6)]), dec(0.0));
        assert_eq!(run("trunc", &[dec(1.5e-7), int(7)]), dec(1e-7));
        assert_eq!(run("trunc", &[dec(1e300), int(2)]), dec(1e300));
        assert_eq!(run("trunc", &[int(i64::MIN), int(0)]), int(i64::MIN));
        assert_eq!(run("trunc", &[s("1E999"), int(2)]), doc("1e999"), "34 digits reach AWS's largest magnitude");
        assert!(matches!(run("trunc", &[dec(-0.5), int(0)]), Value::Decimal(zero) if zero.is_zero()));
    }
}
