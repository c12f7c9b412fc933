//! IoT SQL's Decimal: a decimal number of at most 34 significant digits whose non-zero
//! magnitude lies between 1E-999 and 9.999…E999 (the data types page). Arithmetic is exact
//! and then rounded to 34 digits, half to even, as Java's `MathContext.DECIMAL128` rounds, so
//! `0.1 + 0.2` is `0.3` and `2.5 / 3` is `0.8333333333333333333333333333333333`.
//!
//! Values are kept normalized (no trailing zeros in the coefficient), so two Decimals are
//! equal exactly when they have the same representation, and a value prints the same however
//! it was written (`5.10` and `5.1`). A result outside the range has no Decimal: operations
//! return `None`, which the evaluator turns into Undefined.
//!
//! Built on `bigdecimal` for the arithmetic; every value passes [`Decimal::checked`], which
//! bounds the exponent, so no operation can be asked to align numbers a million digits apart.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::num::NonZeroU64;

use bigdecimal::num_bigint::{BigInt, Sign};
use bigdecimal::num_traits::{ToPrimitive, Zero};
use bigdecimal::{BigDecimal, RoundingMode};

/// Significant digits a Decimal keeps.
pub const PRECISION: u64 = 34;

/// The largest power of ten a Decimal's leading digit may stand at (9.999…E999).
const MAX_ADJUSTED: i64 = 999;

/// The smallest (1E-999).
const MIN_ADJUSTED: i64 = -999;

/// A number literal or JSON number whose exponent has more digits than this is out of range
/// whatever its digits; checked before parsing, so no text can make a huge scale.
const MAX_EXPONENT_DIGITS: usize = 6;

/// A Decimal value; see the module documentation.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Decimal(BigDecimal);

impl std::fmt::Debug for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Decimal({})", self.to_text(true))
    }
}

impl Decimal {
    /// Zero.
    pub fn zero() -> Decimal {
        Decimal(BigDecimal::zero())
    }

    /// Reads a number written in JSON's or IoT SQL's syntax (`-12.5e3`), rounded to 34
    /// digits; `None` when the text is not such a number or the value is out of range.
    pub fn parse(text: &str) -> Option<Decimal> {
        let exponent_digits = text.find(['e', 'E']).map_or(0, |at| {
            text.get(at + 1..).unwrap_or_default().trim_start_matches(['+', '-']).trim_start_matches('0').len()
        });
        if exponent_digits > MAX_EXPONENT_DIGITS || !is_number_syntax(text) {
            return None;
        }
        text.parse::<BigDecimal>().ok().and_then(Decimal::checked)
    }

    pub fn from_i64(value: i64) -> Decimal {
        Decimal(BigDecimal::from(value).normalized())
    }

    pub fn from_i128(value: i128) -> Option<Decimal> {
        Decimal::checked(BigDecimal::from(value))
    }

    /// The decimal a double prints as (its shortest round-trip form), as the functions AWS
    /// documents as double precision return it; `None` for infinities and NaN.
    pub fn from_f64(value: f64) -> Option<Decimal> {
        if !value.is_finite() {
            return None;
        }
        Decimal::parse(ryu::Buffer::new().format_finite(value))
    }

    /// The nearest double; ±infinity past the double range, as Java's `doubleValue`.
    pub fn to_f64(&self) -> f64 {
        self.0.to_f64().unwrap_or_else(|| if self.is_negative() { f64::NEG_INFINITY } else { f64::INFINITY })
    }

    /// The value as an i64 when it is a whole number in range.
    pub fn to_i64(&self) -> Option<i64> {
        if self.is_integer() { self.0.to_i64() } else { None }
    }

    /// Digits of the coefficient (1 for zero).
    pub fn significant_digits(&self) -> u64 {
        self.0.digits()
    }

    /// The power of ten the leading digit stands at (0 for zero).
    pub fn adjusted_exponent(&self) -> i64 {
        if self.is_zero() { 0 } else { adjusted_exponent(&self.0) }
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    pub fn is_negative(&self) -> bool {
        self.0.sign() == Sign::Minus
    }

    /// Whether the value is a whole number.
    pub fn is_integer(&self) -> bool {
        self.0.as_bigint_and_exponent().1 <= 0
    }

    /// Rounds to 34 digits, normalizes, and checks the range.
    fn checked(value: BigDecimal) -> Option<Decimal> {
        if value.is_zero() {
            return Some(Decimal::zero());
        }
        let rounded = if value.digits() > PRECISION {
            value.with_precision_round(NonZeroU64::new(PRECISION)?, RoundingMode::HalfEven)
        } else {
            value
        };
        let normalized = rounded.normalized();
        let adjusted = adjusted_exponent(&normalized);
        (MIN_ADJUSTED..=MAX_ADJUSTED).contains(&adjusted).then_some(Decimal(normalized))
    }

    pub fn add(&self, other: &Decimal) -> Option<Decimal> {
        Decimal::checked(&self.0 + &other.0)
    }

    pub fn sub(&self, other: &Decimal) -> Option<Decimal> {
        Decimal::checked(&self.0 - &other.0)
    }

    pub fn mul(&self, other: &Decimal) -> Option<Decimal> {
        Decimal::checked(&self.0 * &other.0)
    }

    /// Division rounded once to 34 digits, half to even; `None` for a zero divisor.
    pub fn div(&self, other: &Decimal) -> Option<Decimal> {
        if other.is_zero() {
            return None;
        }
        if self.is_zero() {
            return Some(Decimal::zero());
        }
        let (dividend, dividend_scale) = self.0.as_bigint_and_exponent();
        let (divisor, divisor_scale) = other.0.as_bigint_and_exponent();
        // Scale the dividend so the quotient has at least 35 digits, one more than kept; the
        // remainder then tells a tie from a value just above it.
        let shift = (PRECISION as i64 + 1 + digit_count(&divisor) - digit_count(&dividend)).max(0);
        let scaled = dividend * ten_to_the(shift);
        let quotient = &scaled / &divisor;
        let remainder = &scaled - &quotient * &divisor;
        // quotient·10 + the sign of what is left keeps the rounding direction without the
        // exact remainder.
        let left = match (remainder.sign(), divisor.sign()) {
            (Sign::NoSign, _) => 0,
            (first, second) if first == second => 1,
            _ => -1,
        };
        let digits = quotient * 10 + left;
        let scale = dividend_scale - divisor_scale + shift + 1;
        Decimal::checked(BigDecimal::new(digits, scale))
    }

    /// The remainder of truncating division, with the dividend's sign, as Java's
    /// `BigDecimal.remainder`; `None` for a zero divisor.
    pub fn rem(&self, other: &Decimal) -> Option<Decimal> {
        if other.is_zero() {
            return None;
        }
        // On integers at a common scale the remainder is exact, however far apart the two
        // magnitudes are; BigInt's `%` truncates and keeps the dividend's sign.
        let (dividend, dividend_scale) = self.0.as_bigint_and_exponent();
        let (divisor, divisor_scale) = other.0.as_bigint_and_exponent();
        let scale = dividend_scale.max(divisor_scale);
        let dividend = dividend * ten_to_the(scale - dividend_scale);
        let divisor = divisor * ten_to_the(scale - divisor_scale);
        Decimal::checked(BigDecimal::new(dividend % divisor, scale))
    }

    pub fn neg(&self) -> Decimal {
        Decimal(-self.0.clone())
    }

    pub fn abs(&self) -> Decimal {
        Decimal(self.0.abs())
    }

    /// Rounded to a whole number by `mode` (`Floor`, `Ceiling`, `Down` for truncation,
    /// `HalfUp` for SQL `round`, halves away from zero).
    pub fn to_integral(&self, mode: RoundingMode) -> Decimal {
        Decimal(self.0.with_scale_round(0, mode).normalized())
    }

    /// Truncated to `places` decimal places (negative: to tens, hundreds, ...).
    pub fn truncated(&self, places: i64) -> Decimal {
        Decimal(self.0.with_scale_round(places, RoundingMode::Down).normalized())
    }

    /// The value as text, as IoT SQL prints a Decimal: the shortest form, plain when its
    /// leading digit stands between 10^-5 and 10^15 and scientific otherwise (`1e400`,
    /// `1.5e-6`), like the shortest printing of a double. `whole_as_int` (SQL version
    /// 2016-03-23) prints a whole number of at most 34 digits as an Int; otherwise a whole
    /// number written plainly ends in `.0`.
    pub fn write(&self, out: &mut String, whole_as_int: bool) {
        let (coefficient, scale) = self.0.as_bigint_and_exponent();
        let digits = coefficient.magnitude().to_string();
        write_parts(out, self.is_negative(), &digits, -scale, whole_as_int);
    }

    pub fn to_text(&self, whole_as_int: bool) -> String {
        let mut out = String::new();
        self.write(&mut out, whole_as_int);
        out
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Decimal) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// Writes `-`? `digits` × 10^`exponent` (`digits` without leading or trailing zeros, or `0`)
/// in IoT SQL's layout; see [`Decimal::write`]. Shared with the compiled code's output, which
/// prints payload numbers without building a Decimal.
pub fn write_parts(out: &mut String, negative: bool, digits: &str, exponent: i64, whole_as_int: bool) {
    if digits == "0" || digits.is_empty() {
        out.push_str(if whole_as_int { "0" } else { "0.0" });
        return;
    }
    if negative {
        out.push('-');
    }
    let count = digits.len() as i64;
    let adjusted = exponent + count - 1;
    let whole = exponent >= 0;
    if whole && whole_as_int && adjusted < PRECISION as i64 {
        out.push_str(digits);
        push_zeros(out, exponent);
        return;
    }
    if !(-5..16).contains(&adjusted) {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(out, "e{adjusted}");
        return;
    }
    if whole {
        out.push_str(digits);
        push_zeros(out, exponent);
        out.push_str(".0");
    } else if adjusted >= 0 {
        let split = usize::try_from(adjusted + 1).unwrap_or(0).min(digits.len());
        let (integer, fraction) = digits.split_at(split);
        out.push_str(integer);
        out.push('.');
        out.push_str(fraction);
    } else {
        out.push_str("0.");
        push_zeros(out, -adjusted - 1);
        out.push_str(digits);
    }
}

fn push_zeros(out: &mut String, count: i64) {
    for _ in 0..count {
        out.push('0');
    }
}

/// The power of ten the leading digit stands at.
fn adjusted_exponent(value: &BigDecimal) -> i64 {
    let (coefficient, scale) = value.as_bigint_and_exponent();
    digit_count(&coefficient) - 1 - scale
}

fn digit_count(value: &BigInt) -> i64 {
    if value.is_zero() { 1 } else { i64::try_from(value.magnitude().to_string().len()).unwrap_or(i64::MAX) }
}

fn ten_to_the(power: i64) -> BigInt {
    BigInt::from(10u8).pow(u32::try_from(power).unwrap_or(0))
}

/// `-? digits (. digits)? ([eE] [+-]? digits)?`, digits ASCII: what both JSON and IoT SQL
/// literals (and numeric strings) write; `bigdecimal` alone accepts more (`+5`, `.5`).
fn is_number_syntax(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = usize::from(bytes.first() == Some(&b'-'));
    let digits = |at: &mut usize| {
        let start = *at;
        while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at > start
    };
    if !digits(&mut at) {
        return false;
    }
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        if !digits(&mut at) {
            return false;
        }
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        if !digits(&mut at) {
            return false;
        }
    }
    at == bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    fn show(value: Option<Decimal>) -> String {
        value.map_or_else(|| "none".to_owned(), |value| value.to_text(true))
    }

    #[test]
    fn arithmetic_is_decimal_with_34_digits() {
        assert_eq!(show(d("0.1").add(&d("0.2"))), "0.3");
        assert_eq!(show(d("2.5").div(&d("3"))), "0.8333333333333333333333333333333333");
        assert_eq!(show(d("1").div(&d("3"))), "0.3333333333333333333333333333333333");
        assert_eq!(show(d("2").div(&d("3"))), "0.6666666666666666666666666666666667");
        assert_eq!(show(d("-2").div(&d("3"))), "-0.6666666666666666666666666666666667");
        assert_eq!(show(d("1").div(&d("-8"))), "-0.125");
        assert_eq!(show(d("9223372036854775807").add(&d("1"))), "9223372036854775808");
        assert_eq!(show(d("1").div(&d("0"))), "none");
        assert_eq!(show(d("7.5").rem(&d("2"))), "1.5");
        assert_eq!(show(d("-7.5").rem(&d("2"))), "-1.5");
        // Half to even at the 34th digit.
        assert_eq!(show(Decimal::parse("1.0000000000000000000000000000000005")), "1");
        assert_eq!(show(Decimal::parse("1.0000000000000000000000000000000015")), "1.000000000000000000000000000000002");
    }

    #[test]
    fn the_range_is_awss() {
        assert_eq!(show(Decimal::parse("1e400")), "1e400");
        assert_eq!(show(Decimal::parse("9.999e999")), "9.999e999");
        assert_eq!(show(Decimal::parse("1e1000")), "none");
        assert_eq!(show(Decimal::parse("1e-999")), "1e-999");
        assert_eq!(show(Decimal::parse("1e-1000")), "none");
        assert_eq!(show(Decimal::parse("1e99999999999")), "none");
        assert_eq!(show(d("9e999").mul(&d("10"))), "none");
        assert_eq!(show(Decimal::parse("0e99999999")), "none", "the exponent is refused before the digits");
        assert_eq!(show(Decimal::parse("0e5")), "0");
    }

    #[test]
    fn syntax_is_json_numbers() {
        for bad in ["", "-", "+5", ".5", "5.", "1e", "1e+", "0x10", " 1", "1 ", "NaN", "1_000"] {
            assert!(Decimal::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(show(Decimal::parse("-0012.50E+1")), "-125");
    }

    #[test]
    fn printing_follows_the_shortest_double_layout() {
        let cases: &[(&str, &str, &str)] = &[
            ("5", "5", "5.0"),
            ("5.10", "5.1", "5.1"),
            ("0.3", "0.3", "0.3"),
            ("1e15", "1000000000000000", "1000000000000000.0"),
            ("1e16", "10000000000000000", "1e16"),
            ("1e20", "100000000000000000000", "1e20"),
            ("1e34", "1e34", "1e34"),
            ("123456789012345678901234567890", "123456789012345678901234567890", "1.2345678901234567890123456789e29"),
            ("0.000015", "0.000015", "0.000015"),
            ("0.0000015", "1.5e-6", "1.5e-6"),
            ("-25.263283700000077", "-25.263283700000077", "-25.263283700000077"),
            ("12345678.9", "12345678.9", "12345678.9"),
            ("1.5e300", "1.5e300", "1.5e300"),
            ("0", "0", "0.0"),
        ];
        for (text, in_2016, in_2015) in cases {
            assert_eq!(d(text).to_text(true), *in_2016, "{text} (2016-03-23)");
            assert_eq!(d(text).to_text(false), *in_2015, "{text} (2015-10-08)");
        }
    }

    #[test]
    fn doubles_come_in_their_shortest_form() {
        assert_eq!(show(Decimal::from_f64(std::f64::consts::SQRT_2)), "1.4142135623730951");
        assert_eq!(show(Decimal::from_f64(0.1 + 0.2)), "0.30000000000000004");
        assert_eq!(Decimal::from_f64(f64::INFINITY), None);
        assert_eq!(d("1e400").to_f64(), f64::INFINITY);
        assert_eq!(d("-2.5").to_f64(), -2.5);
    }

    #[test]
    fn comparison_and_rounding() {
        assert!(d("10") > d("9.99"));
        assert_eq!(d("5.0"), d("5"));
        assert_eq!(show(Some(d("-5.7").to_integral(RoundingMode::Down))), "-5");
        assert_eq!(show(Some(d("-5.7").to_integral(RoundingMode::Floor))), "-6");
        assert_eq!(show(Some(d("-1.5").to_integral(RoundingMode::HalfUp))), "-2");
        assert_eq!(show(Some(d("2.745").truncated(1))), "2.7");
        assert_eq!(d("12.0").to_i64(), Some(12));
        assert_eq!(d("12.5").to_i64(), None);
    }
}
