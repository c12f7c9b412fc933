//! IAM's condition operators: how one condition (an operator, a key, its values) is decided
//! against the connection, and how each comparison reads its values.

use std::cmp::Ordering;
use std::net::IpAddr;

use base64::Engine as _;

use super::context::Context;
use super::glob::{self, Token};
use super::variables::{substitute, substitute_text};
use super::{Condition, SetQualifier, Test};

/// Whether one condition holds; `variables` is false under `Version` 2008-10-17.
pub(crate) fn holds(condition: &Condition, context: &Context, variables: bool) -> bool {
    let operator = condition.operator;
    let present = context.values(&condition.key.text).filter(|values| !values.is_empty());
    if operator.test == Test::Null {
        // `"Null": {"key": "true"}` holds when the key is absent.
        let absent = present.is_none();
        return condition.values.iter().any(|value| value.text.eq_ignore_ascii_case("true") == absent);
    }
    let negated = operator.test.is_negated();
    let Some(request_values) = present else {
        return match operator.set {
            SetQualifier::AllValues => true,
            SetQualifier::AnyValue => operator.if_exists,
            SetQualifier::Single => operator.if_exists || negated,
        };
    };
    // A request value satisfies the operator when it matches one of the condition's values
    // (or, negated, none of them).
    let satisfies = |value: &str| {
        let positive =
            condition.values.iter().any(|expected| matches(operator.test, value, &expected.text, context, variables));
        positive != negated
    };
    match operator.set {
        SetQualifier::AllValues => request_values.iter().all(|value| satisfies(value)),
        SetQualifier::AnyValue => request_values.iter().any(|value| satisfies(value)),
        SetQualifier::Single if negated => request_values.iter().all(|value| satisfies(value)),
        SetQualifier::Single => request_values.iter().any(|value| satisfies(value)),
    }
}

/// The positive form of `test` on one request value and one condition value. Only the string
/// and ARN operators substitute policy variables; the others read the value as written.
fn matches(test: Test, value: &str, expected: &str, context: &Context, variables: bool) -> bool {
    use Test::*;
    match test {
        StringEquals | StringNotEquals => {
            substitute_text(expected, context, variables).is_some_and(|expected| value == expected)
        }
        StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => substitute_text(expected, context, variables)
            .is_some_and(|expected| value.to_lowercase() == expected.to_lowercase()),
        StringLike | StringNotLike => {
            substitute(expected, 0, context, variables).is_some_and(|tokens| glob::matches_tokens(&tokens, value))
        }
        NumericEquals | NumericNotEquals => compare_numbers(value, expected).is_some_and(Ordering::is_eq),
        NumericLessThan => compare_numbers(value, expected).is_some_and(Ordering::is_lt),
        NumericLessThanEquals => compare_numbers(value, expected).is_some_and(Ordering::is_le),
        NumericGreaterThan => compare_numbers(value, expected).is_some_and(Ordering::is_gt),
        NumericGreaterThanEquals => compare_numbers(value, expected).is_some_and(Ordering::is_ge),
        DateEquals | DateNotEquals => compare_dates(value, expected).is_some_and(Ordering::is_eq),
        DateLessThan => compare_dates(value, expected).is_some_and(Ordering::is_lt),
        DateLessThanEquals => compare_dates(value, expected).is_some_and(Ordering::is_le),
        DateGreaterThan => compare_dates(value, expected).is_some_and(Ordering::is_gt),
        DateGreaterThanEquals => compare_dates(value, expected).is_some_and(Ordering::is_ge),
        Bool => value.eq_ignore_ascii_case(expected),
        IpAddress | NotIpAddress => in_network(value, expected),
        ArnEquals | ArnNotEquals | ArnLike | ArnNotLike => {
            substitute(expected, 0, context, variables).is_some_and(|pattern| arn_matches(value, &pattern))
        }
        BinaryEquals => binary_equals(value, expected),
        Null => false,
    }
}

fn compare_numbers(value: &str, expected: &str) -> Option<Ordering> {
    let (value, expected): (f64, f64) = (value.trim().parse().ok()?, expected.trim().parse().ok()?);
    value.partial_cmp(&expected)
}

fn compare_dates(value: &str, expected: &str) -> Option<Ordering> {
    Some(parse_date(value)?.cmp(&parse_date(expected)?))
}

/// A point in time: seconds since 1970-01-01T00:00:00Z and nanoseconds past them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant {
    pub(crate) seconds: i64,
    pub(crate) nanos: u32,
}

/// Reads a date as IAM's date operators take it: one of the W3C profiles of ISO 8601
/// (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mmTZD`, `YYYY-MM-DDThh:mm:ssTZD`,
/// `YYYY-MM-DDThh:mm:ss.sTZD`, where TZD is `Z` or `±hh:mm`), or epoch seconds (an integer,
/// with an optional fraction). A date without a time is its first instant, in UTC; four digits
/// alone are a year, never epoch seconds.
pub(crate) fn parse_date(text: &str) -> Option<Instant> {
    let text = text.trim();
    w3c(text).or_else(|| epoch(text))
}

/// The W3C forms of ISO 8601.
fn w3c(text: &str) -> Option<Instant> {
    let (date, time) = match text.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year = digits(parts.next()?, 4)?;
    let month = parts.next().map(|month| digits(month, 2)).unwrap_or(Some(1))?;
    let day = parts.next().map(|day| digits(day, 2)).unwrap_or(Some(1))?;
    // A time needs the full date; nothing may follow the day.
    if parts.next().is_some() || (time.is_some() && date.len() != 10) {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let (seconds_of_day, nanos, offset) = match time {
        None => (0, 0, 0),
        Some(time) => clock(time)?,
    };
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    Some(Instant { seconds: midnight + i64::from(seconds_of_day) - offset, nanos })
}

/// Epoch seconds: digits with an optional sign and fraction.
fn epoch(text: &str) -> Option<Instant> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = match fraction {
        Some(fraction) => nanoseconds(fraction)?,
        None => 0,
    };
    let seconds: i64 = whole.parse().ok()?;
    if text.starts_with('-') {
        // -1.5 is 1.5 seconds before the epoch: -2 seconds and half a second after that.
        let seconds = seconds.checked_neg()?;
        return Some(if nanos == 0 {
            Instant { seconds, nanos }
        } else {
            Instant { seconds: seconds.checked_sub(1)?, nanos: 1_000_000_000 - nanos }
        });
    }
    Some(Instant { seconds, nanos })
}

/// `hh:mm[:ss[.s+]]TZD`: the seconds into the day, the nanoseconds, the offset in seconds.
fn clock(time: &str) -> Option<(u32, u32, i64)> {
    let (clock, offset) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let sign_at = time.rfind(['+', '-'])?;
        let (clock, zone) = time.split_at(sign_at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = zone.get(1..)?.split_once(':')?;
        let (hours, minutes) = (digits(hours, 2)?, digits(minutes, 2)?);
        if hours > 23 || minutes > 59 {
            return None;
        }
        (clock, sign * i64::from(hours * 3600 + minutes * 60))
    };
    let mut parts = clock.split(':');
    let hours = digits(parts.next()?, 2)?;
    let minutes = digits(parts.next()?, 2)?;
    let (seconds, nanos) = match parts.next() {
        None => (0, 0),
        Some(seconds) => match seconds.split_once('.') {
            Some((seconds, fraction)) => (digits(seconds, 2)?, nanoseconds(fraction)?),
            None => (digits(seconds, 2)?, 0),
        },
    };
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some((hours * 3600 + minutes * 60 + seconds, nanos, offset))
}

/// Exactly `count` ASCII digits.
fn digits(text: &str, count: usize) -> Option<u32> {
    (text.len() == count && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

/// A decimal fraction's digits as nanoseconds; digits past the ninth are dropped.
fn nanoseconds(fraction: &str) -> Option<u32> {
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nine: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
    nine.parse().ok()
}

/// Whether IP address `value` is in `network` (CIDR; a bare address is a /32 or /128).
fn in_network(value: &str, network: &str) -> bool {
    let Ok(address) = value.trim().parse::<IpAddr>() else { return false };
    let (base, bits) = match network.split_once('/') {
        Some((base, bits)) => (base, bits.parse::<u32>().ok()),
        None => (network, None),
    };
    let Ok(base) = base.trim().parse::<IpAddr>() else { return false };
    match (address, base) {
        (IpAddr::V4(address), IpAddr::V4(base)) => {
            let bits = bits.unwrap_or(32);
            if bits > 32 {
                return false;
            }
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(address) & mask == u32::from(base) & mask
        }
        (IpAddr::V6(address), IpAddr::V6(base)) => {
            let bits = bits.unwrap_or(128);
            if bits > 128 {
                return false;
            }
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(address) & mask == u128::from(base) & mask
        }
        _ => false,
    }
}

/// ARN matching: each of the six colon-separated parts on its own, with wildcards that do not
/// cross `:` (the resource part, the sixth, keeps its colons). Substituted text is literal, so
/// only colons written in the pattern separate parts.
fn arn_matches(value: &str, pattern: &[Token]) -> bool {
    let values: Vec<&str> = value.splitn(6, ':').collect();
    let mut patterns: Vec<&[Token]> = Vec::with_capacity(6);
    let mut rest = pattern;
    while patterns.len() < 5 {
        let Some(colon) = rest.iter().position(|token| *token == Token::Literal(':')) else { break };
        let (part, after) = rest.split_at(colon);
        patterns.push(part);
        rest = after.get(1..).unwrap_or_default();
    }
    patterns.push(rest);
    values.len() == patterns.len()
        && values.iter().zip(&patterns).all(|(value, pattern)| glob::matches_tokens(pattern, value))
}

/// `BinaryEquals`: the request value's UTF-8 bytes against the condition value read as
/// standard base64 (AWS IoT has no binary keys, so every key is text). A value that is not
/// base64 matches nothing.
fn binary_equals(value: &str, expected: &str) -> bool {
    base64::engine::general_purpose::STANDARD.decode(expected.trim()).is_ok_and(|bytes| bytes == value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(text: &str) -> Option<(i64, u32)> {
        parse_date(text).map(|instant| (instant.seconds, instant.nanos))
    }

    #[test]
    fn every_w3c_form_and_epoch_seconds_are_dates() {
        assert_eq!(seconds("2024"), Some((1_704_067_200, 0)));
        assert_eq!(seconds("2024-06"), Some((1_717_200_000, 0)));
        assert_eq!(seconds("2024-06-15"), Some((1_718_409_600, 0)));
        assert_eq!(seconds("2024-06-15T12:00Z"), Some((1_718_452_800, 0)));
        assert_eq!(seconds("2024-06-15T14:00+02:00"), Some((1_718_452_800, 0)));
        assert_eq!(seconds("2024-06-15T12:00:00Z"), Some((1_718_452_800, 0)));
        assert_eq!(seconds("2024-06-15T11:30:00-00:30"), Some((1_718_452_800, 0)));
        assert_eq!(seconds("2024-06-15T12:00:00.25Z"), Some((1_718_452_800, 250_000_000)));
        assert_eq!(seconds("2024-06-15t12:00:00.123456789123z"), Some((1_718_452_800, 123_456_789)));
        assert_eq!(seconds("1718452800"), Some((1_718_452_800, 0)));
        assert_eq!(seconds("1718452800.5"), Some((1_718_452_800, 500_000_000)));
        assert_eq!(seconds("-1.5"), Some((-2, 500_000_000)));
        assert_eq!(seconds("-1"), Some((-1, 0)));
        assert_eq!(seconds("24"), Some((24, 0)), "fewer than four digits are epoch seconds");
        assert_eq!(seconds("1000"), Some((-30_610_224_000, 0)), "four digits are a year");
    }

    #[test]
    fn other_text_is_no_date() {
        for text in [
            "",
            "2024-6",
            "2024-13",
            "2024-02-30",
            "2024-06-15T12:00",
            "2024-06-15T12Z",
            "2024-06T12:00Z",
            "2024-06-15T24:00Z",
            "2024-06-15T12:00:60Z",
            "2024-06-15T12:00+2:00",
            "2024-06-15T12:00:00.Z",
            "2024-06-15 12:00Z",
            "1e9",
            "+5",
            "-",
            "1.",
            "99999999999999999999",
        ] {
            assert_eq!(seconds(text), None, "{text}");
        }
    }

    #[test]
    fn binary_values_compare_bytes() {
        assert!(binary_equals("BinaryValueInBase64", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="));
        assert!(!binary_equals("client2", "Y2xpZW50MQ=="));
        assert!(!binary_equals("c1", "${iot:ClientId}"));
        assert!(binary_equals("", ""));
    }
}
