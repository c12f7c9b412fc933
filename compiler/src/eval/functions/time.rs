//! Date and time: `parse_time` and `time_to_epoch`, with Java-style patterns and time zones.
//!
//! The two functions document two different Java libraries, and their pattern languages differ
//! in the details, so each is reproduced on its own:
//! - `parse_time` formats with Joda-Time (`DateTimeFormat.forPattern`): the letters
//!   `G C Y x w e E y D M d a K h H k m s S z Z`, every other letter an error, non-letters literal.
//! - `time_to_epoch` parses with JDK 11's `DateTimeFormatter.ofPattern` and its SMART resolver:
//!   the letters `G y u M L d D E a H k K h m s S z V X x Z`, `[...]` optional sections, quotes.
//!
//! Both use the English (US) texts of the JVM's default locale. An invalid pattern, a letter
//! outside these sets, text that does not parse and instants beyond chrono's range (about
//! ±262,000 years) are Undefined.

use std::fmt::Write as _;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Timelike,
};
use chrono_tz::{GapInfo, OffsetName, Tz};

use crate::eval::value::Value;

pub(crate) fn call(name: &str, args: &[Value]) -> Option<Value> {
    match name {
        "parse_time" => Some(parse_time(args).map_or(Value::Undefined, Value::String)),
        "time_to_epoch" => Some(time_to_epoch(args).map_or(Value::Undefined, Value::Int)),
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_SHORT: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const DAYS_SHORT: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const ERAS_SHORT: [&str; 2] = ["BC", "AD"];
const ERAS_FULL: [&str; 2] = ["Before Christ", "Anno Domini"];
const ERAS_NARROW: [&str; 2] = ["B", "A"];
const HALF_DAYS: [&str; 2] = ["AM", "PM"];

/// The English zone names the JDK knows for the North American zones and UTC, for `z`/`zzzz`:
/// (representative zone, short standard, short daylight, short generic, long standard, long
/// daylight, long generic). Other zones print their tz database abbreviation and have no
/// long name here; when parsing, only these names (and every region id) are known.
const ZONE_NAMES: [(&str, &str, &str, &str, &str, &str, &str); 7] = [
    ("America/Los_Angeles", "PST", "PDT", "PT", "Pacific Standard Time", "Pacific Daylight Time", "Pacific Time"),
    ("America/Denver", "MST", "MDT", "MT", "Mountain Standard Time", "Mountain Daylight Time", "Mountain Time"),
    ("America/Chicago", "CST", "CDT", "CT", "Central Standard Time", "Central Daylight Time", "Central Time"),
    ("America/New_York", "EST", "EDT", "ET", "Eastern Standard Time", "Eastern Daylight Time", "Eastern Time"),
    ("America/Halifax", "AST", "ADT", "AT", "Atlantic Standard Time", "Atlantic Daylight Time", "Atlantic Time"),
    ("America/Anchorage", "AKST", "AKDT", "AKT", "Alaska Standard Time", "Alaska Daylight Time", "Alaska Time"),
    (
        "UTC",
        "UTC",
        "UTC",
        "UTC",
        "Coordinated Universal Time",
        "Coordinated Universal Time",
        "Coordinated Universal Time",
    ),
];

/// A time zone: a tz database region, or a fixed offset in seconds east of UTC.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Zone {
    Region(Tz),
    Fixed(i32),
}

/// `+05:30`, with `:ss` and `.SSS` only when present: Joda's `printOffset`.
fn print_offset(out: &mut String, offset_ms: i64) {
    out.push(if offset_ms < 0 { '-' } else { '+' });
    let offset = offset_ms.unsigned_abs();
    let _ = write!(out, "{:02}:{:02}", offset / 3_600_000, offset / 60_000 % 60);
    if !offset.is_multiple_of(60_000) {
        let _ = write!(out, ":{:02}", offset / 1000 % 60);
        if !offset.is_multiple_of(1000) {
            let _ = write!(out, ".{:03}", offset % 1000);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// parse_time: Joda-Time formatting

fn parse_time(args: &[Value]) -> Option<String> {
    let pattern = args.first()?.to_text()?;
    let millis = args.get(1)?.to_int_floor()?;
    let zone = match args.get(2) {
        None => Zone::Region(Tz::UTC),
        Some(zone) => joda_zone(&zone.to_text()?)?,
    };
    let tokens = joda_pattern(&pattern)?;
    let moment = Moment::new(millis, zone)?;
    let mut out = String::new();
    for token in &tokens {
        moment.print(token, &mut out)?;
    }
    Some(out)
}

/// `DateTimeZone.forID`: a tz database id, or an offset `±HH[:mm[:ss[.SSS]]]` (colons optional).
fn joda_zone(id: &str) -> Option<Zone> {
    if let Ok(tz) = id.parse::<Tz>() {
        return Some(Zone::Region(tz));
    }
    if !id.starts_with(['+', '-']) {
        return None;
    }
    let offset_ms = joda_offset(id)?;
    // A zone is kept to whole seconds; Joda's millisecond offsets are too rare to model.
    if offset_ms % 1000 != 0 {
        return None;
    }
    let seconds = i32::try_from(offset_ms / 1000).ok()?;
    Some(if seconds == 0 { Zone::Region(Tz::UTC) } else { Zone::Fixed(seconds) })
}

/// Joda's offset parser (`appendTimeZoneOffset`), which must consume the whole text; the
/// offset in milliseconds.
fn joda_offset(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let negative = match bytes.first()? {
        b'+' => false,
        b'-' => true,
        _ => return None,
    };
    let digits = |at: usize, most: usize| {
        bytes.get(at..).map_or(0, |rest| rest.iter().take(most).take_while(|b| b.is_ascii_digit()).count())
    };
    let number = |at: usize, len: usize| -> i64 {
        bytes
            .get(at..at + len)
            .map_or(0, |slice| slice.iter().fold(0, |total, b| total * 10 + i64::from(b.saturating_sub(b'0'))))
    };
    let mut pos = 1;
    if digits(pos, 2) < 2 {
        return None;
    }
    let hours = number(pos, 2);
    if hours > 23 {
        return None;
    }
    let mut offset = hours * 3_600_000;
    pos += 2;
    'fields: {
        let separators = match bytes.get(pos) {
            None => break 'fields,
            Some(b':') => {
                pos += 1;
                true
            }
            Some(byte) if byte.is_ascii_digit() => false,
            Some(_) => break 'fields,
        };
        for (unit, separator) in [(60_000, None), (1000, Some(b':'))] {
            if let Some(separator) = separator {
                if pos >= bytes.len() {
                    break 'fields;
                }
                if separators {
                    if bytes.get(pos) != Some(&separator) {
                        break 'fields;
                    }
                    pos += 1;
                }
            }
            let count = digits(pos, 2);
            if count == 0 && !separators {
                break 'fields;
            }
            if count < 2 {
                return None;
            }
            let value = number(pos, 2);
            if value > 59 {
                return None;
            }
            offset += value * unit;
            pos += 2;
        }
        if pos >= bytes.len() {
            break 'fields;
        }
        if separators {
            if !matches!(bytes.get(pos), Some(b'.' | b',')) {
                break 'fields;
            }
            pos += 1;
        }
        let count = digits(pos, 3);
        if count == 0 && !separators {
            break 'fields;
        }
        if count == 0 {
            return None;
        }
        offset += number(pos, count) * [100, 10, 1].get(count - 1).copied().unwrap_or(1);
        pos += count;
    }
    (pos == bytes.len()).then_some(if negative { -offset } else { offset })
}

#[derive(Clone, Debug, PartialEq)]
enum JodaToken {
    Field(char, usize),
    Literal(String),
}

/// Splits a Joda pattern the way `DateTimeFormat.parsePatternTo` does: runs of one letter are
/// fields; everything else is literal text, with `'...'` quoting letters and `''` a quote. An
/// unterminated quote runs to the end, as in Joda.
fn joda_pattern(pattern: &str) -> Option<Vec<JodaToken>> {
    // Joda rejects an empty pattern ("Invalid pattern specification").
    if pattern.is_empty() {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_ascii_alphabetic() {
            let start = i;
            while chars.get(i) == Some(&c) {
                i += 1;
            }
            if !"GCYxweEyDMdahHkKmsSzZ".contains(c) {
                return None;
            }
            tokens.push(JodaToken::Field(c, i - start));
        } else {
            let mut text = String::new();
            let mut quoted = false;
            while let Some(&c) = chars.get(i) {
                if c == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 1;
                        text.push('\'');
                    } else {
                        quoted = !quoted;
                    }
                } else if !quoted && c.is_ascii_alphabetic() {
                    break;
                } else {
                    text.push(c);
                }
                i += 1;
            }
            tokens.push(JodaToken::Literal(text));
        }
    }
    Some(tokens)
}

/// An instant seen in a zone.
#[derive(Debug)]
struct Moment {
    local: NaiveDateTime,
    offset_seconds: i32,
    zone: Zone,
    abbreviation: Option<String>,
}

impl Moment {
    fn new(millis: i64, zone: Zone) -> Option<Moment> {
        let utc = DateTime::from_timestamp_millis(millis)?.naive_utc();
        let (offset_seconds, abbreviation) = match zone {
            Zone::Region(tz) => {
                let offset = tz.offset_from_utc_datetime(&utc);
                (offset.fix().local_minus_utc(), offset.abbreviation().map(str::to_owned))
            }
            Zone::Fixed(seconds) => (seconds, None),
        };
        let local = utc.checked_add_signed(TimeDelta::try_seconds(i64::from(offset_seconds))?)?;
        Some(Moment { local, offset_seconds, zone, abbreviation })
    }

    fn print(&self, token: &JodaToken, out: &mut String) -> Option<()> {
        let (letter, count) = match token {
            JodaToken::Literal(text) => {
                out.push_str(text);
                return Some(());
            }
            JodaToken::Field(letter, count) => (*letter, *count),
        };
        let local = &self.local;
        let year = i64::from(local.year());
        let year_of_era = if year <= 0 { 1 - year } else { year };
        let hour = i64::from(local.hour());
        match letter {
            'G' => out.push_str(if year <= 0 { "BC" } else { "AD" }),
            'C' => padded(out, year_of_era / 100, count),
            'y' | 'Y' | 'x' => {
                let week_year = i64::from(local.iso_week().year());
                match (letter, count) {
                    // Joda's two-digit years print the proleptic year (or week year), sign dropped.
                    ('x', 2) => padded(out, week_year.abs() % 100, 2),
                    (_, 2) => padded(out, year.abs() % 100, 2),
                    ('x', _) => padded(out, week_year, count),
                    ('Y', _) => padded(out, year_of_era, count),
                    _ => padded(out, year, count),
                }
            }
            'w' => padded(out, i64::from(local.iso_week().week()), count),
            'e' => padded(out, i64::from(local.weekday().number_from_monday()), count),
            'E' => {
                let names = if count >= 4 { DAYS } else { DAYS_SHORT };
                out.push_str(names.get(local.weekday().num_days_from_monday() as usize)?);
            }
            'D' => padded(out, i64::from(local.ordinal()), count),
            'M' if count >= 3 => {
                let names = if count >= 4 { MONTHS } else { MONTHS_SHORT };
                out.push_str(names.get(local.month0() as usize)?);
            }
            'M' => padded(out, i64::from(local.month()), count),
            'd' => padded(out, i64::from(local.day()), count),
            'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            'h' => padded(out, (hour + 11) % 12 + 1, count),
            'H' => padded(out, hour, count),
            'k' => padded(out, if hour == 0 { 24 } else { hour }, count),
            'K' => padded(out, hour % 12, count),
            'm' => padded(out, i64::from(local.minute()), count),
            's' => padded(out, i64::from(local.second()), count),
            'S' => joda_fraction(out, local.nanosecond() / 1_000_000, count),
            'z' if count >= 4 => out.push_str(self.long_name()?),
            'z' => self.short_name(out),
            'Z' if count >= 3 => match self.zone {
                Zone::Region(tz) => out.push_str(tz.name()),
                Zone::Fixed(seconds) => print_offset(out, i64::from(seconds) * 1000),
            },
            'Z' => {
                let offset = self.offset_seconds;
                out.push(if offset < 0 { '-' } else { '+' });
                let offset = offset.unsigned_abs();
                let separator = if count == 2 { ":" } else { "" };
                let _ = write!(out, "{:02}{separator}{:02}", offset / 3600, offset / 60 % 60);
            }
            _ => return None,
        }
        Some(())
    }

    /// Joda's short name: the JDK's abbreviation, else the offset. The tz database's
    /// abbreviation stands in for the JDK's; where the database has only a numeric one (`+03`),
    /// the offset is printed.
    fn short_name(&self, out: &mut String) {
        match &self.abbreviation {
            Some(name) if !name.starts_with(['+', '-']) => out.push_str(name),
            _ => print_offset(out, i64::from(self.offset_seconds) * 1000),
        }
    }

    /// Joda's long name (`zzzz`), known here only for UTC and the North American zones.
    fn long_name(&self) -> Option<&'static str> {
        let Zone::Region(tz) = self.zone else { return None };
        let abbreviation = self.abbreviation.as_deref()?;
        if abbreviation == "UTC" {
            return Some("Coordinated Universal Time");
        }
        // The same abbreviations mean other zones elsewhere (CST in Havana and Shanghai).
        let id = tz.name();
        let north_american = (id.starts_with("America/") && id != "America/Havana")
            || id.starts_with("US/")
            || id.starts_with("Canada/")
            || matches!(id, "PST8PDT" | "MST7MDT" | "CST6CDT" | "EST5EDT");
        if !north_american {
            return None;
        }
        ZONE_NAMES.iter().find_map(|&(_, standard, daylight, _, long_standard, long_daylight, _)| {
            (abbreviation == standard).then_some(long_standard).or((abbreviation == daylight).then_some(long_daylight))
        })
    }
}

/// Joda's `FormatUtils.appendPaddedInteger`: a minus sign, then the magnitude zero-padded.
fn padded(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    let digits = value.unsigned_abs().to_string();
    // Written out by hand: `format!` refuses widths past u16::MAX, and patterns can be longer.
    out.extend(std::iter::repeat_n('0', width.saturating_sub(digits.len())));
    out.push_str(&digits);
}

/// Joda's fraction-of-second printer with `count` digits. Quirks kept: a zero fraction prints
/// `count` zeros, a non-zero one at most 15 digits (Joda scales within a long).
fn joda_fraction(out: &mut String, millis: u32, count: usize) {
    if millis == 0 {
        out.extend(std::iter::repeat_n('0', count));
        return;
    }
    let digits = count.min(15);
    let scaled = u64::from(millis) * 10u64.pow(digits as u32) / 1000;
    let _ = write!(out, "{scaled:0digits$}");
}

// ---------------------------------------------------------------------------------------------
// time_to_epoch: java.time parsing

fn time_to_epoch(args: &[Value]) -> Option<i64> {
    let text = args.first()?.to_text()?;
    let pattern = args.get(1)?.to_text()?;
    let items = java_pattern(&pattern)?;
    let chars: Vec<char> = text.chars().collect();
    let mut parsed = Parsed::default();
    let end = parse_items(&items, &chars, 0, &mut parsed)?;
    if end != chars.len() {
        return None;
    }
    parsed.resolve()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Era,
    YearOfEra,
    Year,
    Month,
    DayOfMonth,
    DayOfYear,
    DayOfWeek,
    AmPm,
    ClockHourOfAmPm,
    HourOfAmPm,
    HourOfDay,
    ClockHourOfDay,
    Minute,
    Second,
    Nano,
    Offset,
}

/// How a number may be signed (`java.time.format.SignStyle`), under strict parsing.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sign {
    Normal,
    NotNegative,
    ExceedsPad,
}

/// Which names a zone parser knows besides the region ids.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ZoneNames {
    IdsOnly,
    Short,
    Long,
}

#[derive(Clone, Debug, PartialEq)]
enum Item {
    Literal(String),
    /// `subsequent` is the width reserved for the fixed-width numbers that follow without a
    /// separator (adjacent value parsing); negative once a variable-width number follows.
    Number {
        field: Field,
        min: usize,
        max: usize,
        sign: Sign,
        subsequent: i64,
        reduced: bool,
    },
    Fraction {
        width: usize,
    },
    Text {
        field: Field,
        names: &'static [&'static str],
        first: i64,
    },
    /// `kind` indexes `OffsetIdPrinterParser.PATTERNS` (`+HH`, `+HHmm`, `+HH:mm`, `+HHMM`, ...).
    Offset {
        kind: usize,
        zero: &'static str,
    },
    Zone(ZoneNames),
    Optional(Vec<Item>),
}

impl Item {
    /// A fixed-width value parser, which reserves its width in the value parser before it.
    fn fixed_width(&self) -> Option<usize> {
        match self {
            Item::Number { min, max, sign: Sign::NotNegative, .. } if min == max => Some(*max),
            Item::Fraction { width } => Some(*width),
            _ => None,
        }
    }
}

/// One level of `DateTimeFormatterBuilder`: its parsers and the active value parser.
#[derive(Debug, Default)]
struct Builder {
    items: Vec<Item>,
    value_parser: Option<usize>,
}

impl Builder {
    /// `appendValue`: adjacent value parsing as the JDK sets it up.
    fn value(&mut self, item: Item) {
        let width = item.fixed_width();
        self.items.push(item);
        let index = self.items.len() - 1;
        let Some(base) = self.value_parser else {
            self.value_parser = Some(index);
            return;
        };
        if let Some(Item::Number { subsequent, .. }) = self.items.get_mut(base) {
            match width {
                Some(width) => *subsequent += width as i64,
                None => *subsequent = -1,
            }
        }
        if width.is_none() {
            self.value_parser = Some(index);
        }
    }

    fn other(&mut self, item: Item) {
        self.items.push(item);
        self.value_parser = None;
    }
}

/// Optional sections nest at most this deep; deeper patterns are refused rather than recursed.
const MAX_NESTING: usize = 32;

/// `DateTimeFormatter.ofPattern`: the items, or none for a pattern the JDK rejects or a letter
/// this engine does not support.
fn java_pattern(pattern: &str) -> Option<Vec<Item>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut stack = vec![Builder::default()];
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_ascii_alphabetic() {
            let start = i;
            while chars.get(i) == Some(&c) {
                i += 1;
            }
            java_field(stack.last_mut()?, c, i - start)?;
            continue;
        }
        match c {
            '\'' => {
                let start = i + 1;
                i = start;
                loop {
                    match chars.get(i) {
                        None => return None,
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
                        Some('\'') => break,
                        Some(_) => i += 1,
                    }
                }
                let text: String = chars.get(start..i)?.iter().collect();
                let text = if text.is_empty() { "'".to_owned() } else { text.replace("''", "'") };
                stack.last_mut()?.other(Item::Literal(text));
            }
            '[' => {
                if stack.len() > MAX_NESTING {
                    return None;
                }
                stack.push(Builder::default());
            }
            ']' => {
                if stack.len() == 1 {
                    return None;
                }
                let section = stack.pop()?;
                stack.last_mut()?.other(Item::Optional(section.items));
            }
            '{' | '}' | '#' => return None,
            c => stack.last_mut()?.other(Item::Literal(c.to_string())),
        }
        i += 1;
    }
    while stack.len() > 1 {
        let section = stack.pop()?;
        stack.last_mut()?.other(Item::Optional(section.items));
    }
    stack.pop().map(|builder| builder.items)
}

/// `DateTimeFormatterBuilder.parsePattern` for one run of a letter.
fn java_field(builder: &mut Builder, letter: char, count: usize) -> Option<()> {
    let number = |field, min, max, sign| Item::Number { field, min, max, sign, subsequent: 0, reduced: false };
    let text = |field, names: &'static [&'static str], first| Item::Text { field, names, first };
    let small = |field| match count {
        1 => Some(number(field, 1, 19, Sign::Normal)),
        2 => Some(number(field, 2, 2, Sign::NotNegative)),
        _ => None,
    };
    match letter {
        'G' => builder.other(match count {
            1..=3 => text(Field::Era, &ERAS_SHORT, 0),
            4 => text(Field::Era, &ERAS_FULL, 0),
            5 => text(Field::Era, &ERAS_NARROW, 0),
            _ => return None,
        }),
        'y' | 'u' => {
            let field = if letter == 'y' { Field::YearOfEra } else { Field::Year };
            builder.value(match count {
                2 => Item::Number { field, min: 2, max: 2, sign: Sign::NotNegative, subsequent: 0, reduced: true },
                1 | 3 => number(field, count, 19, Sign::Normal),
                4..=19 => number(field, count, 19, Sign::ExceedsPad),
                _ => return None,
            });
        }
        'M' | 'L' => match count {
            1 | 2 => builder.value(small(Field::Month)?),
            3 => builder.other(text(Field::Month, &MONTHS_SHORT, 1)),
            4 => builder.other(text(Field::Month, &MONTHS, 1)),
            // Narrow month names ("J") are ambiguous; not supported.
            _ => return None,
        },
        'd' => builder.value(small(Field::DayOfMonth)?),
        'D' => builder.value(match count {
            1 => number(Field::DayOfYear, 1, 19, Sign::Normal),
            2 => number(Field::DayOfYear, 2, 3, Sign::NotNegative),
            3 => number(Field::DayOfYear, 3, 3, Sign::NotNegative),
            _ => return None,
        }),
        'E' => builder.other(match count {
            1..=3 => text(Field::DayOfWeek, &DAYS_SHORT, 1),
            4 => text(Field::DayOfWeek, &DAYS, 1),
            _ => return None,
        }),
        'a' if count == 1 => builder.other(text(Field::AmPm, &HALF_DAYS, 0)),
        'H' => builder.value(small(Field::HourOfDay)?),
        'k' => builder.value(small(Field::ClockHourOfDay)?),
        'K' => builder.value(small(Field::HourOfAmPm)?),
        'h' => builder.value(small(Field::ClockHourOfAmPm)?),
        'm' => builder.value(small(Field::Minute)?),
        's' => builder.value(small(Field::Second)?),
        'S' if count <= 9 => builder.value(Item::Fraction { width: count }),
        'z' => builder.other(match count {
            1..=3 => Item::Zone(ZoneNames::Short),
            4 => Item::Zone(ZoneNames::Long),
            _ => return None,
        }),
        'V' if count == 2 => builder.other(Item::Zone(ZoneNames::IdsOnly)),
        'X' | 'x' if count <= 5 => {
            let kind = if count == 1 { 1 } else { count + 1 };
            let zero = match (letter, count) {
                ('X', _) => "Z",
                (_, 1) => "+00",
                (_, 2 | 4) => "+0000",
                _ => "+00:00",
            };
            builder.other(Item::Offset { kind, zero });
        }
        'Z' => builder.other(match count {
            1..=3 => Item::Offset { kind: 3, zero: "+0000" },
            5 => Item::Offset { kind: 6, zero: "Z" },
            // `ZZZZ` is the localized `GMT+08:00` form; not supported.
            _ => return None,
        }),
        _ => return None,
    }
    Some(())
}

/// The fields and zone parsed so far (`java.time.format.Parsed`).
#[derive(Clone, Debug, Default)]
struct Parsed {
    fields: Vec<(Field, i64)>,
    zone: Option<Zone>,
}

impl Parsed {
    fn get(&self, field: Field) -> Option<i64> {
        self.fields.iter().find(|(known, _)| *known == field).map(|(_, value)| *value)
    }

    /// Records a field; a second, different value for the same field fails the parse.
    fn set(&mut self, field: Field, value: i64) -> Option<()> {
        match self.get(field) {
            Some(old) => (old == value).then_some(()),
            None => {
                self.fields.push((field, value));
                Some(())
            }
        }
    }

    /// The SMART resolver, then the instant: the offset if one was parsed, else the zone, else
    /// UTC. The date needs a year and either a month and day or a day of year; missing time
    /// fields are zero.
    fn resolve(&self) -> Option<i64> {
        let get = |field| self.get(field);
        let mut year = get(Field::Year);
        if let Some(year_of_era) = get(Field::YearOfEra) {
            if !(1..=1_000_000_000).contains(&year_of_era) {
                return None;
            }
            let resolved = match get(Field::Era) {
                None if year.is_none_or(|year| year > 0) => year_of_era,
                None | Some(0) => 1 - year_of_era,
                Some(1) => year_of_era,
                Some(_) => return None,
            };
            if year.is_some_and(|year| year != resolved) {
                return None;
            }
            year = Some(resolved);
        } else if get(Field::Era).is_some_and(|era| !(0..=1).contains(&era)) {
            return None;
        }
        let year = year.filter(|year| (-999_999_999..=999_999_999).contains(year))?;
        let year = i32::try_from(year).ok()?;
        let (month, day, day_of_year) = (get(Field::Month), get(Field::DayOfMonth), get(Field::DayOfYear));
        let from_month_and_day = month.is_some() && day.is_some();
        let date = match (month, day, day_of_year) {
            (Some(month), Some(day), _) => {
                if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
                    return None;
                }
                let month = u32::try_from(month).ok()?;
                // SMART: a day past the end of the month becomes the month's last day.
                let day = u32::try_from(day).ok()?.min(days_in_month(year, month)?);
                NaiveDate::from_ymd_opt(year, month, day)?
            }
            (_, _, Some(day_of_year)) => {
                if !(1..=366).contains(&day_of_year) {
                    return None;
                }
                NaiveDate::from_yo_opt(year, u32::try_from(day_of_year).ok()?)?
            }
            _ => return None,
        };
        // Fields not used to build the date must agree with it. The day of month is used (and
        // may have been moved to the month's end) whenever a month came with it.
        let agrees = |field, actual: u32| get(field).is_none_or(|value| value == i64::from(actual));
        if !agrees(Field::Month, date.month())
            || (!from_month_and_day && !agrees(Field::DayOfMonth, date.day()))
            || !agrees(Field::DayOfYear, date.ordinal())
            || !agrees(Field::DayOfWeek, date.weekday().number_from_monday())
            || (get(Field::YearOfEra).is_none() && !agrees(Field::Era, u32::from(date.year() >= 1)))
        {
            return None;
        }

        let mut hour = get(Field::HourOfDay);
        let update = |slot: &mut Option<i64>, value: i64| match *slot {
            Some(old) if old != value => None,
            _ => {
                *slot = Some(value);
                Some(())
            }
        };
        if let Some(clock) = get(Field::ClockHourOfDay) {
            if clock != 0 && !(1..=24).contains(&clock) {
                return None;
            }
            update(&mut hour, if clock == 24 { 0 } else { clock })?;
        }
        let mut hour_of_am_pm = get(Field::HourOfAmPm);
        if let Some(clock) = get(Field::ClockHourOfAmPm) {
            if clock != 0 && !(1..=12).contains(&clock) {
                return None;
            }
            update(&mut hour_of_am_pm, if clock == 12 { 0 } else { clock })?;
        }
        let am_pm = get(Field::AmPm);
        if let Some(hour_of_am_pm) = hour_of_am_pm {
            if !(0..=11).contains(&hour_of_am_pm) {
                return None;
            }
            // Without `a`, the JDK leaves the hour unresolved; morning is assumed here.
            update(&mut hour, am_pm.unwrap_or(0) * 12 + hour_of_am_pm)?;
        }
        let hour = hour.unwrap_or(0);
        let minute = get(Field::Minute).unwrap_or(0);
        let second = get(Field::Second).unwrap_or(0);
        let nano = get(Field::Nano).unwrap_or(0);
        if !(0..=59).contains(&minute) || !(0..=999_999_999).contains(&nano) {
            return None;
        }
        // SMART accepts 24:00 as the midnight that ends the day.
        let (time, extra_days) = if hour == 24 && minute == 0 && second == 0 && nano == 0 {
            (NaiveTime::MIN, 1)
        } else {
            let [hour, minute, second, nano] = [hour, minute, second, nano].map(|value| u32::try_from(value).ok());
            (NaiveTime::from_hms_nano_opt(hour?, minute?, second?, nano?)?, 0)
        };
        if !agrees(Field::AmPm, time.hour() / 12) {
            return None;
        }
        let local = date.checked_add_days(Days::new(extra_days))?.and_time(time);
        let seconds = match (get(Field::Offset), self.zone) {
            (Some(offset), _) => local_to_utc(&local, Zone::Fixed(i32::try_from(offset).ok()?))?,
            (None, Some(zone)) => local_to_utc(&local, zone)?,
            (None, None) => local.and_utc().timestamp(),
        };
        seconds.checked_mul(1000)?.checked_add(nano / 1_000_000)
    }
}

fn days_in_month(year: i32, month: u32) -> Option<u32> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next =
        if month == 12 { NaiveDate::from_ymd_opt(year.checked_add(1)?, 1, 1) } else { first.with_month(month + 1) };
    // The last month chrono can represent has no successor; December always has 31 days.
    Some(next.map_or(31, |next| (next - first).num_days() as u32))
}

/// The largest offset `java.time.ZoneOffset` allows, in seconds (18 hours).
const MAX_OFFSET: u32 = 18 * 3600;

/// Epoch seconds of a local date-time in a zone, as `ZonedDateTime.ofLocal` places it: in a
/// gap, shifted forward by the gap's length; in an overlap, the earlier offset.
fn local_to_utc(local: &NaiveDateTime, zone: Zone) -> Option<i64> {
    let seconds = local.and_utc().timestamp();
    let offset = match zone {
        Zone::Fixed(offset) => {
            if offset.unsigned_abs() > MAX_OFFSET {
                return None;
            }
            offset
        }
        Zone::Region(tz) => match tz.offset_from_local_datetime(local) {
            LocalResult::Single(offset) => offset.fix().local_minus_utc(),
            LocalResult::Ambiguous(first, second) => first.fix().local_minus_utc().max(second.fix().local_minus_utc()),
            LocalResult::None => GapInfo::new(local, &tz)?.begin?.1.fix().local_minus_utc(),
        },
    };
    seconds.checked_sub(i64::from(offset))
}

fn starts_with(text: &[char], pos: usize, prefix: &str) -> bool {
    let mut rest = text.get(pos..).unwrap_or_default().iter();
    prefix.chars().all(|c| rest.next() == Some(&c))
}

fn digit(text: &[char], pos: usize) -> Option<u32> {
    text.get(pos).and_then(|c| if c.is_ascii_digit() { c.to_digit(10) } else { None })
}

/// Runs the parsers over `text` from `pos`; the position after them, or none on failure.
fn parse_items(items: &[Item], text: &[char], mut pos: usize, parsed: &mut Parsed) -> Option<usize> {
    for item in items {
        pos = match item {
            Item::Literal(literal) => {
                if !starts_with(text, pos, literal) {
                    return None;
                }
                pos + literal.chars().count()
            }
            Item::Number { field, min, max, sign, subsequent, reduced } => {
                let (value, end) = parse_number(text, pos, *min, *max, *sign, *subsequent)?;
                // A two-digit year is 2000 to 2099 (base value 2000).
                let value = if *reduced && end - pos == *min && value >= 0 { 2000 + value } else { value };
                parsed.set(*field, value)?;
                end
            }
            Item::Fraction { width } => {
                let (nanos, end) = parse_fraction(text, pos, *width)?;
                parsed.set(Field::Nano, nanos)?;
                end
            }
            Item::Text { field, names, first } => {
                let (index, name) = names
                    .iter()
                    .enumerate()
                    .filter(|(_, name)| starts_with(text, pos, name))
                    .max_by_key(|(_, name)| name.len())?;
                parsed.set(*field, first + index as i64)?;
                pos + name.chars().count()
            }
            Item::Offset { kind, zero } => {
                let (offset, end) = parse_offset(text, pos, *kind, zero)?;
                parsed.set(Field::Offset, i64::from(offset))?;
                end
            }
            Item::Zone(names) => {
                let (zone, end) = parse_zone(text, pos, *names)?;
                parsed.zone = Some(zone);
                end
            }
            Item::Optional(section) => {
                let mut attempt = parsed.clone();
                match parse_items(section, text, pos, &mut attempt) {
                    Some(end) => {
                        *parsed = attempt;
                        end
                    }
                    None => pos,
                }
            }
        };
    }
    Some(pos)
}

/// `NumberPrinterParser.parse` under strict parsing, including the two passes of adjacent
/// value parsing.
fn parse_number(
    text: &[char],
    start: usize,
    min: usize,
    max: usize,
    sign: Sign,
    subsequent: i64,
) -> Option<(i64, usize)> {
    let (mut negative, mut positive) = (false, false);
    let mut position = start;
    match text.get(position)? {
        '+' if sign == Sign::ExceedsPad => positive = true,
        '-' if sign != Sign::NotNegative => negative = true,
        '+' | '-' => return None,
        _ => {}
    }
    if positive || negative {
        position += 1;
    }
    let min_end = position + min;
    if min_end > text.len() {
        return None;
    }
    let mut max_width = max + usize::try_from(subsequent).unwrap_or(0);
    let mut pos;
    let mut total: u128;
    let mut pass = 0;
    loop {
        pos = position;
        total = 0;
        let max_end = (pos + max_width).min(text.len());
        while pos < max_end {
            let Some(digit) = digit(text, pos) else { break };
            total = total.saturating_mul(10).saturating_add(u128::from(digit));
            pos += 1;
        }
        if pos < min_end {
            return None;
        }
        if subsequent > 0 && pass == 0 {
            max_width = min.max((pos - position).saturating_sub(usize::try_from(subsequent).unwrap_or(0)));
            pass = 1;
        } else {
            break;
        }
    }
    // Past 63 bits the JDK drops the last digit.
    if total > i64::MAX as u128 {
        total /= 10;
        pos -= 1;
    }
    let mut value = i64::try_from(total).ok()?;
    if negative {
        if value == 0 {
            return None;
        }
        value = -value;
    } else if sign == Sign::ExceedsPad {
        let length = pos - position;
        if positive == (length <= min) {
            return None;
        }
    }
    Some((value, pos))
}

/// JDK 11's `FractionPrinterParser.parse` for `S`..`SSSSSSSSS`, nanoseconds. JDK 11 checks the
/// minimum width one character late, so a fraction one digit short is accepted when a
/// non-digit follows it (JDK-8230136, fixed in JDK 14); kept for fidelity.
fn parse_fraction(text: &[char], position: usize, width: usize) -> Option<(i64, usize)> {
    let min_end = position + width;
    if position == text.len() || min_end > text.len() {
        return None;
    }
    let mut pos = position;
    let mut total: i64 = 0;
    while pos < min_end {
        pos += 1;
        match digit(text, pos - 1) {
            Some(digit) => total = total * 10 + i64::from(digit),
            None => {
                if pos < min_end {
                    return None;
                }
                pos -= 1;
                break;
            }
        }
    }
    let digits = u32::try_from(pos - position).ok()?;
    Some((total * 10i64.pow(9 - digits), pos))
}

/// `OffsetIdPrinterParser.parse` under strict parsing, in seconds.
fn parse_offset(text: &[char], position: usize, kind: usize, zero: &str) -> Option<(i32, usize)> {
    if position >= text.len() {
        return None;
    }
    if starts_with(text, position, zero) {
        return Some((0, position + zero.chars().count()));
    }
    let sign = match text.get(position)? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let colon = kind.is_multiple_of(2) && kind > 0;
    let two_digits = |at: usize| -> Option<i32> {
        let value = digit(text, at)? * 10 + digit(text, at + 1)?;
        (value <= 59).then_some(value as i32)
    };
    let mut pos = position + 1;
    let hours = two_digits(pos)?;
    pos += 2;
    // (minutes, seconds): 0 absent, 1 optional, 2 required.
    let (minutes_rule, seconds_rule) = match kind {
        0 => (0, 0),
        1 | 2 => (1, 0),
        3 | 4 => (2, 0),
        5 | 6 => (2, 1),
        _ => (2, 2),
    };
    let part = |rule: u8, pos: &mut usize| -> Option<i32> {
        if rule == 0 {
            return Some(0);
        }
        let at = if colon { (text.get(*pos) == Some(&':')).then_some(*pos + 1) } else { Some(*pos) };
        match at.and_then(|at| two_digits(at).map(|value| (value, at + 2))) {
            Some((value, end)) => {
                *pos = end;
                Some(value)
            }
            None if rule == 1 => Some(0),
            None => None,
        }
    };
    let minutes = part(minutes_rule, &mut pos)?;
    let seconds = part(seconds_rule, &mut pos)?;
    if hours > 23 {
        return None;
    }
    Some((sign * (hours * 3600 + minutes * 60 + seconds), pos))
}

/// Region ids the JDK does not offer (`TzdbZoneRulesCompiler` leaves them out).
const JDK_EXCLUDED_IDS: [&str; 6] = ["EST", "HST", "MST", "GMT+0", "GMT-0", "ROC"];

/// The longest zone id any chrono-tz zone has is well under this.
const MAX_ZONE_ID: usize = 40;

/// `ZoneIdPrinterParser.parse` (`VV`) and `ZoneTextPrinterParser.parse` (`z`): offset ids
/// (`+02:00`, `UTC`, `UTC+01:00`, `GMT-05:00`, `UT`), then the longest region id or zone name,
/// then `Z`.
fn parse_zone(text: &[char], position: usize, names: ZoneNames) -> Option<(Zone, usize)> {
    // ZoneOffset allows at most ±18:00; a larger offset fails the zone, as in the JDK.
    let fixed = |offset: i32| (offset.unsigned_abs() <= MAX_OFFSET).then_some(Zone::Fixed(offset));
    let next = *text.get(position)?;
    if next == '+' || next == '-' {
        let (offset, end) = parse_offset(text, position, 6, "Z")?;
        return Some((fixed(offset)?, end));
    }
    if starts_with(text, position, "GMT0") {
        return Some((Zone::Region(Tz::UTC), position + 4));
    }
    for prefix in ["UTC", "UT", "GMT"] {
        if starts_with(text, position, prefix) {
            let after = position + prefix.len();
            let utc = Zone::Region(Tz::UTC);
            return Some(match text.get(after) {
                None | Some('0' | 'Z') => (utc, after),
                Some(_) => match parse_offset(text, after, 6, "0") {
                    Some((offset, end)) => (fixed(offset)?, end),
                    None => (utc, after),
                },
            });
        }
    }
    let run: String = text
        .get(position..)?
        .iter()
        .take(MAX_ZONE_ID)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
        .collect();
    let mut best = (1..=run.len()).rev().find_map(|len| {
        let id = run.get(..len)?;
        let tz = id.parse::<Tz>().ok().filter(|_| !JDK_EXCLUDED_IDS.contains(&id))?;
        Some((Zone::Region(tz), len))
    });
    if names != ZoneNames::IdsOnly {
        for &(id, standard, daylight, generic, long_standard, long_daylight, long_generic) in &ZONE_NAMES {
            let candidates = if names == ZoneNames::Short {
                [standard, daylight, generic]
            } else {
                [long_standard, long_daylight, long_generic]
            };
            for name in candidates {
                let len = name.chars().count();
                if starts_with(text, position, name) && best.as_ref().is_none_or(|(_, best)| len > *best) {
                    best = Some((Zone::Region(id.parse().ok()?), len));
                }
            }
        }
    }
    match best {
        Some((zone, len)) => Some((zone, position + len)),
        None if next == 'Z' => Some((Zone::Region(Tz::UTC), position + 1)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    fn format(pattern: &str, millis: i64, zone: &str) -> Value {
        call("parse_time", &[s(pattern), Value::Int(millis), s(zone)]).unwrap_or(Value::Undefined)
    }

    fn format_utc(pattern: &str, millis: i64) -> Value {
        call("parse_time", &[s(pattern), Value::Int(millis)]).unwrap_or(Value::Undefined)
    }

    fn epoch(text: &str, pattern: &str) -> Value {
        call("time_to_epoch", &[s(text), s(pattern)]).unwrap_or(Value::Undefined)
    }

    /// Epoch milliseconds of a UTC date-time, for expectations.
    fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32, millis: u32) -> Value {
        let date = NaiveDate::from_ymd_opt(year, month, day).unwrap();
        let time = NaiveTime::from_hms_milli_opt(hour, minute, second, millis).unwrap();
        Value::Int(date.and_time(time).and_utc().timestamp_millis())
    }

    #[test]
    fn other_names_are_not_ours() {
        assert_eq!(call("md5", &[s("x")]), None);
        assert_eq!(call("timestamp", &[]), None);
    }

    #[test]
    fn documented_parse_time_example() {
        let value = format("yyyy.MM.dd G 'at' HH:mm:ss z", 100_000_000, "America/Belize");
        assert_eq!(value, s("1970.01.01 AD at 21:46:40 CST"));
    }

    #[test]
    fn parse_time_defaults_to_utc() {
        assert_eq!(format_utc("yyyy-MM-dd HH:mm", 0), s("1970-01-01 00:00"));
        assert_eq!(
            format_utc("yyyy-MM-dd HH:mm:ss.SSS z Z ZZ ZZZ", 1_585_903_518_592),
            s("2020-04-03 08:45:18.592 UTC +0000 +00:00 UTC")
        );
    }

    #[test]
    fn parse_time_fields() {
        let millis = 1_196_705_730_592; // 2007-12-03T18:15:30.592Z, a Monday
        let cases = [
            ("G GG GGGG", "AD AD AD"),
            ("y yy yyy yyyy yyyyyy", "2007 07 2007 2007 002007"),
            ("Y YY C CC x xx w ww", "2007 07 20 20 2007 07 49 49"),
            ("M MM MMM MMMM MMMMM", "12 12 Dec December December"),
            ("d dd D DDD e E EEE EEEE", "3 03 337 337 1 Mon Mon Monday"),
            ("H HH h hh k K a aa", "18 18 6 06 18 6 PM PM"),
            ("m mm s ss", "15 15 30 30"),
            ("S SS SSS SSSS SSSSSS", "5 59 592 5920 592000"),
            ("'o''clock' '' ''''", "o'clock ' ''"),
            ("HH' h 'mm", "18 h 15"),
            ("[yyyy]/#{}", "[2007]/#{}"),
            ("yyyy'", "2007"),
            ("'", ""),
            ("MMMd", "Dec3"),
        ];
        for (pattern, expected) in cases {
            assert_eq!(format_utc(pattern, millis), s(expected), "{pattern}");
        }
        assert_eq!(format_utc("h a k K", 0), s("12 AM 24 0"));
        assert_eq!(format_utc("SSS S", 5), s("005 0"));
        assert_eq!(format_utc("SSSSSSSSSSSSSSSSSSSS", 0), s("00000000000000000000"));
        assert_eq!(format_utc("SSSSSSSSSSSSSSSSSSSS", 5), s("005000000000000"));
    }

    #[test]
    fn parse_time_zones() {
        let summer = 1_593_561_600_000; // 2020-07-01T00:00:00Z
        assert_eq!(
            format("HH:mm z zzzz Z ZZ ZZZ", summer, "America/Los_Angeles"),
            s("17:00 PDT Pacific Daylight Time -0700 -07:00 America/Los_Angeles")
        );
        assert_eq!(format("HH:mm z zzzz", 0, "America/New_York"), s("19:00 EST Eastern Standard Time"));
        assert_eq!(format("HH:mm z Z", summer, "Asia/Kolkata"), s("05:30 IST +0530"));
        assert_eq!(format("z", summer, "Asia/Dubai"), s("+04:00"));
        assert_eq!(format("zzzz", summer, "UTC"), s("Coordinated Universal Time"));
        assert_eq!(format("zzzz", summer, "Asia/Tokyo"), Value::Undefined);
        assert_eq!(format("zzzz", summer, "America/Havana"), Value::Undefined);
        assert_eq!(format("zzzz", 100_000_000, "America/Belize"), s("Central Standard Time"));
        assert_eq!(format("z zzzz", summer, "America/Halifax"), s("ADT Atlantic Daylight Time"));
        assert_eq!(format("z zzzz", summer, "Europe/London"), Value::Undefined);
        assert_eq!(format("z", summer, "Europe/London"), s("BST"));
        assert_eq!(format("HH:mm z ZZ ZZZ", summer, "+05:30"), s("05:30 +05:30 +05:30 +05:30"));
        assert_eq!(format("HH:mm z", summer, "-0800"), s("16:00 -08:00"));
        assert_eq!(format("HH:mm z", summer, "+00:00"), s("00:00 UTC"));
        for bad in ["", "Mars/Olympus", "america/los_angeles", "+5", "+24:00", "GMT+5", "+05:30x", "UTC+01:00"] {
            assert_eq!(format("HH", summer, bad), Value::Undefined, "{bad:?}");
        }
    }

    #[test]
    fn parse_time_arguments() {
        let pattern = s("yyyy-MM-dd HH:mm:ss.SSS");
        let run = |millis: Value| call("parse_time", &[pattern.clone(), millis]).unwrap();
        assert_eq!(run(s("100000000")), s("1970-01-02 03:46:40.000"));
        assert_eq!(run(Value::from_f64(1.9)), s("1970-01-01 00:00:00.001"));
        assert_eq!(run(Value::from_f64(-0.5)), s("1969-12-31 23:59:59.999"));
        assert_eq!(run(Value::Int(-62_135_596_800_001)), s("0000-12-31 23:59:59.999"));
        assert_eq!(format_utc("yyyy G YYYY", -62_135_596_800_001), s("0000 BC 0001"));
        for bad in [Value::Null, Value::Undefined, Value::Bool(true), s("abc"), Value::from_f64(1e300)] {
            assert_eq!(run(bad), Value::Undefined);
        }
        for bad in [Value::Null, Value::Undefined, Value::Int(5)] {
            assert_eq!(call("parse_time", &[pattern.clone(), Value::Int(0), bad]), Some(Value::Undefined));
        }
        assert_eq!(call("parse_time", &[Value::Null, Value::Int(0)]), Some(Value::Undefined));
        assert_eq!(call("parse_time", &[Value::Int(5), Value::Int(0)]), Some(s("5")));
    }

    #[test]
    fn parse_time_rejects_what_joda_rejects() {
        for pattern in ["", "yyyy-MM-dd'T'HH:mm:ssX", "uuuu", "VV", "hh:mm q", "L", "n"] {
            assert_eq!(format_utc(pattern, 0), Value::Undefined, "{pattern:?}");
        }
    }

    #[test]
    fn parse_time_at_the_ends_of_time() {
        assert_eq!(format_utc("yyyy", 1_000_000_000_000_000), s("33658"));
        assert_eq!(format_utc("yyyy", i64::MAX), Value::Undefined);
        assert_eq!(format_utc("yyyy", i64::MIN), Value::Undefined);
        assert_eq!(format_utc("yyyy", -1_000_000_000_000_000_000), Value::Undefined);
        assert_eq!(format_utc("yyyy-MM-dd", 8_200_000_000_000_000), s("261817-08-28"));
        assert_eq!(format("yyyy-MM-dd HH z", 8_200_000_000_000_000, "Pacific/Kiritimati"), s("261817-08-28 23 +14:00"));
    }

    #[test]
    fn documented_time_to_epoch_examples() {
        assert_eq!(epoch("2020-04-03 09:45:18 UTC+01:00", "yyyy-MM-dd HH:mm:ss VV"), Value::Int(1_585_903_518_000));
        assert_eq!(epoch("18 December 2015", "dd MMMM yyyy"), Value::Int(1_450_396_800_000));
        assert_eq!(
            epoch("2007-12-03 10:15:30.592 America/Los_Angeles", "yyyy-MM-dd HH:mm:ss.SSS z"),
            Value::Int(1_196_705_730_592)
        );
    }

    #[test]
    fn time_to_epoch_zones_and_offsets() {
        let base = utc(2020, 4, 3, 9, 45, 18, 0);
        let at = |zone: &str, pattern: &str| {
            epoch(&format!("2020-04-03 09:45:18 {zone}"), &format!("yyyy-MM-dd HH:mm:ss {pattern}"))
        };
        let shifted = |seconds: i64| match base {
            Value::Int(millis) => Value::Int(millis - seconds * 1000),
            _ => unreachable!(),
        };
        assert_eq!(at("UTC", "VV"), base);
        assert_eq!(at("UT", "VV"), base);
        assert_eq!(at("GMT", "VV"), base);
        assert_eq!(at("Z", "VV"), base);
        assert_eq!(at("GMT-05:00", "VV"), shifted(-5 * 3600));
        assert_eq!(at("+02:00", "VV"), shifted(2 * 3600));
        assert_eq!(at("-03:30:15", "VV"), shifted(-(3 * 3600 + 30 * 60 + 15)));
        assert_eq!(at("Europe/Paris", "VV"), shifted(2 * 3600));
        assert_eq!(at("Etc/GMT+5", "VV"), shifted(-5 * 3600));
        assert_eq!(at("PDT", "z"), shifted(-7 * 3600));
        assert_eq!(at("CST", "z"), shifted(-5 * 3600), "CST is America/Chicago, in daylight time in April");
        assert_eq!(at("Pacific Daylight Time", "zzzz"), shifted(-7 * 3600));
        assert_eq!(at("Asia/Kolkata", "zzzz"), shifted(5 * 3600 + 1800));
        assert_eq!(at("+0100", "Z"), shifted(3600));
        assert_eq!(at("+0000", "Z"), base);
        assert_eq!(at("Z", "X"), base);
        assert_eq!(at("+01", "X"), shifted(3600));
        assert_eq!(at("+0130", "X"), shifted(5400));
        assert_eq!(at("+01:30", "XXX"), shifted(5400));
        assert_eq!(at("+01:30:10", "XXXXX"), shifted(5410));
        assert_eq!(at("+00", "x"), base);
        assert_eq!(at("-0200", "xx"), shifted(-7200));
        assert_eq!(at("Z", "ZZZZZ"), base);
        for (zone, pattern) in [
            ("GMT-5", "VV"),
            ("UTC+1", "VV"),
            ("+1", "VV"),
            ("+19:00", "VV"),
            ("EST", "VV"),
            ("PST", "VV"),
            ("Mars/Olympus", "VV"),
            ("america/los_angeles", "VV"),
            ("+01:30", "X"),
            ("+0130", "XXX"),
            ("Z", "xx"),
            ("+01", "XX"),
            ("+24:00", "XXX"),
        ] {
            assert_eq!(at(zone, pattern), Value::Undefined, "{zone} with {pattern}");
        }
    }

    #[test]
    fn time_to_epoch_daylight_saving_transitions() {
        // 2021-03-14 02:30 does not exist in New York: shifted forward to 03:30 EDT.
        assert_eq!(epoch("2021-03-14 02:30 America/New_York", "yyyy-MM-dd HH:mm VV"), utc(2021, 3, 14, 7, 30, 0, 0));
        // 2021-11-07 01:30 happens twice: the earlier (EDT) one is taken.
        assert_eq!(epoch("2021-11-07 01:30 America/New_York", "yyyy-MM-dd HH:mm VV"), utc(2021, 11, 7, 5, 30, 0, 0));
    }

    #[test]
    fn time_to_epoch_fields() {
        let day = utc(2015, 12, 18, 0, 0, 0, 0);
        assert_eq!(epoch("2015-12-18", "yyyy-MM-dd"), day);
        assert_eq!(epoch("20151218", "yyyyMMdd"), day);
        assert_eq!(epoch("151218", "yyMMdd"), day);
        assert_eq!(epoch("2015352", "yyyyDDD"), day);
        assert_eq!(epoch("Fri, 18 Dec 2015", "EEE, dd MMM yyyy"), day);
        assert_eq!(epoch("Friday 18 December 2015", "EEEE d MMMM u"), day);
        assert_eq!(epoch("18/12/2015 AD", "d/M/y G"), day);
        assert_eq!(epoch("18/12/2015 Anno Domini", "d/M/y GGGG"), day);
        assert_eq!(epoch("2015-12-18 352", "yyyy-MM-dd D"), day);
        assert_eq!(epoch("2015-12-18T13:05:09.5", "yyyy-MM-dd'T'HH:mm:ss.S"), utc(2015, 12, 18, 13, 5, 9, 500));
        assert_eq!(epoch("2015-12-18 01:05 PM", "yyyy-MM-dd hh:mm a"), utc(2015, 12, 18, 13, 5, 0, 0));
        assert_eq!(epoch("2015-12-18 12:05 AM", "yyyy-MM-dd hh:mm a"), utc(2015, 12, 18, 0, 5, 0, 0));
        assert_eq!(epoch("2015-12-18 11 PM", "yyyy-MM-dd K a"), utc(2015, 12, 18, 23, 0, 0, 0));
        assert_eq!(epoch("2015-12-18 24:00", "yyyy-MM-dd kk:mm"), day);
        assert_eq!(epoch("2015-12-18 13", "yyyy-MM-dd HH"), utc(2015, 12, 18, 13, 0, 0, 0));
        assert_eq!(epoch("2015-12-18 24:00", "yyyy-MM-dd HH:mm"), utc(2015, 12, 19, 0, 0, 0, 0));
        assert_eq!(
            epoch("2015-12-18 13:05:09.123456789", "yyyy-MM-dd HH:mm:ss.SSSSSSSSS"),
            utc(2015, 12, 18, 13, 5, 9, 123)
        );
        assert_eq!(epoch("20151218130509123", "yyyyMMddHHmmssSSS"), utc(2015, 12, 18, 13, 5, 9, 123));
        assert_eq!(epoch("2015-02-30", "yyyy-MM-dd"), utc(2015, 2, 28, 0, 0, 0, 0));
        assert_eq!(epoch("2016-02-31", "yyyy-MM-dd"), utc(2016, 2, 29, 0, 0, 0, 0));
        assert_eq!(epoch("it's 2015-12-18", "'it''s' yyyy-MM-dd"), day);
        assert_eq!(epoch("'2015-12-18", "''yyyy-MM-dd"), day);
        assert_eq!(epoch("1-1-1", "y-M-d"), utc(1, 1, 1, 0, 0, 0, 0));
        assert_eq!(epoch("1-1-1 BC", "y-M-d G"), utc(0, 1, 1, 0, 0, 0, 0));
        assert_eq!(epoch("-5-1-1", "u-M-d"), utc(-5, 1, 1, 0, 0, 0, 0));
        assert_eq!(epoch("+12345-01-01", "yyyy-MM-dd"), utc(12345, 1, 1, 0, 0, 0, 0));
    }

    #[test]
    fn time_to_epoch_optional_sections() {
        let pattern = "yyyy-MM-dd[ HH:mm[:ss]][ VV]";
        assert_eq!(epoch("2015-12-18", pattern), utc(2015, 12, 18, 0, 0, 0, 0));
        assert_eq!(epoch("2015-12-18 13:05", pattern), utc(2015, 12, 18, 13, 5, 0, 0));
        assert_eq!(epoch("2015-12-18 13:05:09", pattern), utc(2015, 12, 18, 13, 5, 9, 0));
        assert_eq!(epoch("2015-12-18 13:05:09 +01:00", pattern), utc(2015, 12, 18, 12, 5, 9, 0));
        assert_eq!(epoch("2015-12-18 +01:00", pattern), utc(2015, 12, 17, 23, 0, 0, 0));
        assert_eq!(epoch("2015-12-18 13", pattern), Value::Undefined);
        assert_eq!(epoch("2015-12-18", "yyyy-MM-dd[ HH:mm"), utc(2015, 12, 18, 0, 0, 0, 0));
    }

    #[test]
    fn time_to_epoch_fraction_quirk_of_jdk_11() {
        // One digit short of `SSS` is accepted before a non-digit, not at the end of the text.
        assert_eq!(epoch("2015-12-18 13:05:09.59 UTC", "yyyy-MM-dd HH:mm:ss.SSS z"), utc(2015, 12, 18, 13, 5, 9, 590));
        assert_eq!(epoch("2015-12-18 13:05:09.59", "yyyy-MM-dd HH:mm:ss.SSS"), Value::Undefined);
        assert_eq!(epoch("2015-12-18 13:05:09.5 UTC", "yyyy-MM-dd HH:mm:ss.SSS z"), Value::Undefined);
    }

    #[test]
    fn time_to_epoch_rejects() {
        let cases = [
            ("2015-12-18", ""),
            ("", ""),
            ("", "yyyy"),
            ("2015", "yyyy"),
            ("2015-12", "yyyy-MM"),
            ("12-18", "MM-dd"),
            ("13:05", "HH:mm"),
            ("2015-12-18 ", "yyyy-MM-dd"),
            ("2015-12-18", "yyyy-MM-dd "),
            ("2015-13-18", "yyyy-MM-dd"),
            ("2015-12-32", "yyyy-MM-dd"),
            ("2015-12-00", "yyyy-MM-dd"),
            ("2015-12-18 25:00", "yyyy-MM-dd HH:mm"),
            ("2015-12-18 24:01", "yyyy-MM-dd HH:mm"),
            ("2015-12-18 12:60", "yyyy-MM-dd HH:mm"),
            ("2015-12-18 13:00 AM", "yyyy-MM-dd HH:mm a"),
            ("2015-12-18 13:00", "yyyy-MM-dd hh:mm"),
            ("2015-1-18", "yyyy-MM-dd"),
            ("15-12-18", "yyyy-MM-dd"),
            ("20151-12-18", "yyyy-MM-dd"),
            ("+2015-12-18", "yyyy-MM-dd"),
            ("0-12-18", "y-MM-dd"),
            ("2015--1-18", "yyyy-M-dd"),
            ("2015-+1-18", "yyyy-M-dd"),
            ("18 december 2015", "dd MMMM yyyy"),
            ("18 Dec 2015", "dd MMMM yyyy"),
            ("Thu 18 Dec 2015", "EEE dd MMM yyyy"),
            ("2015-12-18 351", "yyyy-MM-dd D"),
            ("2015 366", "yyyy DDD"),
            ("2015-12-18 2016", "yyyy-MM-dd yyyy"),
            ("-5-1-1 AD", "u-M-d G"),
            ("2015-12-18", "yyyy-MM-dd q"),
            ("2015-12-18", "YYYY-MM-dd"),
            ("2015-12-18", "yyyy-MM-dd'"),
            ("2015-12-18", "yyyy-MM-dd]"),
            ("2015-12-18", "yyyy-MM-dd{"),
            ("2015-12-18", "yyyyyyyyyyyyyyyyyyyy-MM-dd"),
            ("2015-12-18", "yyyy-MMMMM-dd"),
            ("2015-12-18", "yyyy-MM-ddd"),
            ("2015-12-18", "yyyy-MM-dd aa"),
            ("2015-12-18", "yyyy-MM-dd SSSSSSSSSS"),
            ("2015-12-18", "yyyy-MM-dd V"),
            ("2015-12-18", "yyyy-MM-dd ZZZZ"),
            ("201512", "yyyyMMd"),
            ("999999999-01-01", "yyyyyyyyy-MM-dd"),
        ];
        for (text, pattern) in cases {
            assert_eq!(epoch(text, pattern), Value::Undefined, "{text:?} with {pattern:?}");
        }
        for (text, pattern) in
            [(Value::Null, s("yyyy")), (s("2015"), Value::Undefined), (Value::Undefined, Value::Null)]
        {
            assert_eq!(call("time_to_epoch", &[text, pattern]), Some(Value::Undefined));
        }
        assert_eq!(call("time_to_epoch", &[Value::Int(20151218), s("yyyyMMdd")]), Some(utc(2015, 12, 18, 0, 0, 0, 0)));
    }

    #[test]
    fn round_trip_between_the_two_functions() {
        for millis in [0, 1, -1, 86_399_999, 1_585_903_518_592, -62_135_596_800_000, 253_402_300_799_999] {
            let text = format_utc("yyyy-MM-dd HH:mm:ss.SSS Z", millis);
            let Value::String(text) = text else { panic!("{millis}") };
            assert_eq!(epoch(&text, "yyyy-MM-dd HH:mm:ss.SSS Z"), Value::Int(millis), "{text}");
        }
    }

    #[test]
    fn never_panics() {
        let texts =
            ["", "2020-04-03 09:45:18 UTC+01:00", "+999999999999999999999-01-01", "'", "[", "Z", "GMT+", "UTC+99:99"];
        let values = [
            Value::Int(0),
            Value::Int(i64::MAX),
            Value::Int(i64::MIN),
            Value::Int(1_000_000_000_000_000_000),
            Value::Int(-1_000_000_000_000_000_000),
            Value::from_f64(1e18),
            Value::from_f64(-1e18),
            Value::from_f64(f64::NAN),
            Value::from_f64(f64::INFINITY),
            s("9223372036854775807"),
        ];
        let zones = ["UTC", "America/Belize", "+14:00", "-23:59", "Pacific/Kiritimati", "Etc/GMT-14"];
        let any: Vec<char> = "GyuYxMLdDEeaHhKkmsSzZXVvOwWqQn'' []{}#:-./+0123456789 é".chars().collect();
        let joda: Vec<char> = "GCYxweEyDMdahHkKmsSzZ' -:.".chars().collect();
        let java: Vec<char> = "GyuMLdDEaHkKhmsSzVXxZ'[] -:.+".chars().collect();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut pick = |set: &[char], most: usize| -> String {
            (0..rng.usize(0..most)).map(|_| set[rng.usize(..set.len())]).collect()
        };
        let mut numbers = fastrand::Rng::with_seed(11);
        for round in 0..30_000 {
            let value = if round % 3 == 0 {
                values[round % values.len()].clone()
            } else {
                Value::Int(numbers.i64(-10i64.pow(16)..10i64.pow(16)))
            };
            let zone = s(zones[round % zones.len()]);
            let (wild, joda_pattern, java_pattern) = (pick(&any, 12), pick(&joda, 16), pick(&java, 16));
            let _ = call("parse_time", &[s(&wild), value.clone(), zone.clone()]);
            let _ = call("time_to_epoch", &[s(&pick(&any, 16)), s(&wild)]);
            let _ = call("time_to_epoch", &[s(texts[round % texts.len()]), s(&java_pattern)]);
            // Text printed by one pattern, read back with another and with itself.
            if let Some(Value::String(text)) = call("parse_time", &[s(&joda_pattern), value, zone]) {
                let _ = call("time_to_epoch", &[s(&text), s(&java_pattern)]);
                let _ = call("time_to_epoch", &[s(&text), s(&joda_pattern)]);
            }
        }
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(epoch("", &deep), Value::Undefined);
        let long_year = "y".repeat(100_000);
        assert_eq!(epoch("2015", &long_year), Value::Undefined);
        let Value::String(padded) = format_utc(&long_year, 0) else { panic!("long year") };
        assert_eq!(padded.len(), 100_000);
        for millis in [i64::MAX, i64::MIN, 8_210_266_876_799_999, -8_334_601_228_800_000] {
            for zone in zones {
                let _ = format("G yyyy-MM-dd HH:mm:ss.SSS z zzzz Z ZZ ZZZ x w e E C", millis, zone);
            }
        }
        for text in ["+262143-12-31 23:59:59 -18:00", "-262144-01-01 00:00:00 +18:00", "999999999-12-31 23:59:59 Z"] {
            let _ = epoch(text, "uuuu-MM-dd HH:mm:ss XXX");
        }
    }
}
