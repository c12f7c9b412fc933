//! String functions and regular expressions.
//!
//! Every argument read as a string goes through the standard conversion (`iotsql-semantics` §5)
//! with one refinement: under 2016-03-23 a whole-number Decimal is processed as an Int, so
//! `concat(2.0, '')` is `"2"` there and `"2.0"` under 2015-10-08. Lengths and indices count
//! Unicode characters, never bytes, so no result ever splits a character.
//!
//! AWS runs `java.util.regex`; iotrules runs `fancy-regex`, which has Java's lookahead,
//! lookbehind, backreferences, atomic groups and possessive quantifiers, and hands every part
//! of a pattern without them to the `regex` crate's linear-time engine. Only those constructs
//! backtrack, under a step limit: a match that exceeds it is Undefined, never a hang. Where the
//! dialects agree on syntax but not on meaning, the Java meaning is kept: `\d \w \s` and their
//! negations are ASCII classes, empty matches right after a match are found, and replacements
//! use Java's `$n`, `${name}` and `\` escapes.

use std::cell::RefCell;
use std::collections::HashMap;

use fancy_regex::{Regex, RegexBuilder};

use crate::eval::value::{Number, Value};
use crate::version::SqlVersion;

pub(crate) fn call(name: &str, args: &[Value], version: SqlVersion) -> Option<Value> {
    let function: fn(&Args<'_>) -> Option<Value> = match name {
        "chr" => chr,
        "concat" => concat,
        "endswith" => |args| Some(Value::Bool(args.text(0)?.ends_with(&args.text(1)?))),
        "indexof" => indexof,
        "length" => |args| count(args.text(0)?.chars().count()),
        "lower" => |args| Some(Value::String(args.text(0)?.to_lowercase())),
        "lpad" => |args| pad(args, true),
        "ltrim" => |args| Some(Value::String(args.text(0)?.trim_start_matches(is_blank).to_owned())),
        "numbytes" => |args| count(args.text(0)?.len()),
        "regexp_matches" => |args| Some(Value::Bool(compile(&args.text(1)?)?.is_match(&args.text(0)?).ok()?)),
        "regexp_replace" => regexp_replace,
        "regexp_substr" => regexp_substr,
        "replace" => |args| Some(Value::String(args.text(0)?.replace(&args.text(1)?, &args.text(2)?))),
        "rpad" => |args| pad(args, false),
        "rtrim" => |args| Some(Value::String(args.text(0)?.trim_end_matches(is_blank).to_owned())),
        "startswith" => |args| Some(Value::Bool(args.text(0)?.starts_with(&args.text(1)?))),
        "substring" => substring,
        "trim" => |args| Some(Value::String(args.text(0)?.trim_matches(is_blank).to_owned())),
        "upper" => |args| Some(Value::String(args.text(0)?.to_uppercase())),
        _ => return None,
    };
    Some(function(&Args { values: args, version }).unwrap_or(Value::Undefined))
}

/// The arguments of one call; a missing argument reads as a failed conversion.
struct Args<'a> {
    values: &'a [Value],
    version: SqlVersion,
}

impl Args<'_> {
    fn value(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }

    fn text(&self, index: usize) -> Option<String> {
        text(self.value(index)?, self.version)
    }
}

fn text(value: &Value, version: SqlVersion) -> Option<String> {
    value.to_text_in(version)
}

/// The white space the trim functions remove: the docs name tabs and spaces only.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn count(length: usize) -> Option<Value> {
    i64::try_from(length).ok().map(Value::Int)
}

/// A numeric argument rounded down and clamped to `low..=high`. Clamping happens before any
/// conversion to a 64-bit Int, so `-2.411E247` is simply the lowest index.
fn floor_clamped(value: &Value, low: i64, high: i64) -> Option<i64> {
    match value.to_number()? {
        Number::Int(int) => Some(int.clamp(low, high)),
        Number::Decimal(decimal) => {
            let floor = decimal.to_integral(bigdecimal::RoundingMode::Floor);
            Some(match floor.to_i64() {
                Some(int) => int.clamp(low, high),
                None if floor.is_negative() => low,
                None => high,
            })
        }
    }
}

fn chr(args: &Args<'_>) -> Option<Value> {
    let code = args.value(0)?.to_int_floor()?;
    let byte = u8::try_from(code).ok().filter(u8::is_ascii)?;
    Some(Value::String(char::from(byte).to_string()))
}

/// Any Array argument makes the result one array of all arguments, array arguments spliced in;
/// otherwise the arguments' strings are concatenated. The docs say a single argument is
/// "returned unmodified" but also give `concat(1) = "1"`; one argument follows the same rules
/// as several, which satisfies both for Strings and Arrays and keeps the result a String or an
/// Array, as documented for the function.
fn concat(args: &Args<'_>) -> Option<Value> {
    if args.values.is_empty() || args.values.iter().any(|arg| matches!(arg, Value::Undefined | Value::Binary(_))) {
        return None;
    }
    if args.values.iter().any(|arg| matches!(arg, Value::Array(_))) {
        // "A single array containing all of the arguments": Null is a value and stays an item.
        let mut items = Vec::new();
        for arg in args.values {
            match arg {
                Value::Array(inner) => items.extend(inner.iter().cloned()),
                other => items.push(other.clone()),
            }
        }
        return Some(Value::Array(items));
    }
    // The docs cover "at least one String"; numbers and Booleans alone (`concat(1, 2)`) are
    // concatenated the same way, as `concat(1) = "1"` suggests. Null has no string form.
    let mut out = String::new();
    for index in 0..args.values.len() {
        out.push_str(&args.text(index)?);
    }
    Some(Value::String(out))
}

/// The first index of the substring, in characters. Not finding it gives -1, as Java's
/// `String.indexOf` does: the docs leave that case open and AWS runs on the JVM.
fn indexof(args: &Args<'_>) -> Option<Value> {
    let (haystack, needle) = (args.text(0)?, args.text(1)?);
    match haystack.find(&needle) {
        Some(byte) => count(haystack.char_indices().take_while(|(index, _)| *index < byte).count()),
        None => Some(Value::Int(-1)),
    }
}

/// `lpad`/`rpad`: the count is the number of spaces added (`lpad("hello", 2)` is
/// `"  hello"`), rounded down and clamped to 0..1000.
fn pad(args: &Args<'_>, left: bool) -> Option<Value> {
    let text = args.text(0)?;
    let spaces = usize::try_from(floor_clamped(args.value(1)?, 0, 1000)?).ok()?;
    let padding = " ".repeat(spaces);
    Some(Value::String(if left { padding + &text } else { text + &padding }))
}

fn substring(args: &Args<'_>) -> Option<Value> {
    let text = args.text(0)?;
    let length = i64::try_from(text.chars().count()).ok()?;
    let start = floor_clamped(args.value(1)?, 0, length)?;
    let end = match args.value(2) {
        Some(end) => floor_clamped(end, 0, length)?,
        None => length,
    };
    let (start, taken) = (usize::try_from(start).ok()?, usize::try_from(end.saturating_sub(start)).unwrap_or(0));
    Some(Value::String(text.chars().skip(start).take(taken).collect()))
}

/// The first match. With no match at all the result is Undefined (the docs are silent):
/// there is no substring to return, and it keeps "no match" apart from an empty match such as
/// `regexp_substr("xyz", "a*")`, which is `""`.
fn regexp_substr(args: &Args<'_>) -> Option<Value> {
    let text = args.text(0)?;
    let found = compile(&args.text(1)?)?.find(&text).ok()??;
    Some(Value::String(found.as_str().to_owned()))
}

/// Replaces every match the way Java's `Matcher.replaceAll` finds them: after an empty match
/// the search resumes one character later, and an empty match may directly follow a non-empty
/// one (`regexp_replace("baaac", "a*", "-")` is `"-b--c-"`).
fn regexp_replace(args: &Args<'_>) -> Option<Value> {
    let text = args.text(0)?;
    let regex = compile(&args.text(1)?)?;
    // The docs make an invalid replacement Undefined whether or not anything matches.
    let pieces = parse_replacement(&args.text(2)?, &regex)?;
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut from) = (0, 0);
    while from <= text.len() {
        // A match past the backtracking limit makes the whole call Undefined.
        let Some(captures) = regex.captures_from_pos(&text, from).ok()? else { break };
        let whole = captures.get(0)?;
        out.push_str(text.get(copied..whole.start())?);
        for piece in &pieces {
            match piece {
                Piece::Text(literal) => out.push_str(literal),
                Piece::Group(index) => out.push_str(captures.get(*index).map_or("", |group| group.as_str())),
            }
        }
        copied = whole.end();
        from = match text.get(whole.end()..) {
            Some(rest) if whole.start() == whole.end() => whole.end() + rest.chars().next().map_or(1, char::len_utf8),
            _ => whole.end(),
        };
    }
    out.push_str(text.get(copied..)?);
    Some(Value::String(out))
}

/// A part of a parsed replacement string.
#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    /// A capture group by number; a group that took no part in the match adds nothing.
    Group(usize),
}

/// Parses Java's replacement syntax against `regex`'s groups: `\c` is the character `c`,
/// `$n` takes as many digits as still name an existing group (`$12` with one group is group 1
/// then `2`), `${name}` is a named group. Anything else after `$`, a trailing `\`, or a group
/// that does not exist makes the replacement invalid, as `Matcher.appendReplacement` does.
fn parse_replacement(replacement: &str, regex: &Regex) -> Option<Vec<Piece>> {
    let group_count = regex.captures_len().saturating_sub(1);
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => literal.push(chars.next()?),
            '$' => {
                let index = match chars.next()? {
                    '{' => {
                        let mut name = String::new();
                        loop {
                            match chars.next()? {
                                '}' => break,
                                c if c.is_ascii_alphanumeric() => name.push(c),
                                _ => return None,
                            }
                        }
                        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                            return None;
                        }
                        regex.capture_names().position(|group| group == Some(name.as_str()))?
                    }
                    digit => {
                        let mut index = usize::try_from(digit.to_digit(10)?).ok()?;
                        while let Some(next) = chars.peek().and_then(|c| c.to_digit(10)) {
                            let longer = index.checked_mul(10).and_then(|index| index.checked_add(next as usize));
                            match longer {
                                Some(longer) if longer <= group_count => {
                                    index = longer;
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        if index > group_count {
                            return None;
                        }
                        index
                    }
                };
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Group(index));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Some(pieces)
}

/// Compiled regexes by pattern, so a rule that runs on every message compiles its patterns
/// once per thread. Failures are remembered too. The map is emptied when it fills up.
const CACHE_CAPACITY: usize = 64;

thread_local! {
    static REGEXES: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
}

/// The regex for a Java `pattern`, or none when it is invalid or too large to build. Results
/// are cached per thread, so checking and running a rule compile each pattern once.
pub(crate) fn compile(pattern: &str) -> Option<Regex> {
    let cached = REGEXES.try_with(|cache| cache.try_borrow().ok().and_then(|cache| cache.get(pattern).cloned()));
    if let Ok(Some(regex)) = cached {
        return regex;
    }
    let regex = build(pattern);
    let _ = REGEXES.try_with(|cache| {
        if let Ok(mut cache) = cache.try_borrow_mut() {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(pattern.to_owned(), regex.clone());
        }
    });
    regex
}

/// Size limits make a pattern built to be huge fail cleanly instead of eating memory. Parts
/// without Java-only constructs run in linear time; the backtracking parts stop after
/// [`BACKTRACK_LIMIT`] steps, so no pattern can be made to hang a rule.
fn build(pattern: &str) -> Option<Regex> {
    if inverted_repetition(pattern).is_some() {
        return None;
    }
    builder(pattern).build().ok()
}

/// The byte range of a repetition `{n,m}` with `n > m`, which Java rejects and the engine
/// would silently read as `{m,n}`; found outside character classes and escapes.
pub(crate) fn inverted_repetition(pattern: &str) -> Option<(usize, usize)> {
    let bytes = pattern.as_bytes();
    let mut in_class = false;
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'\\' => index += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'{' if !in_class => {
                let inside = pattern.get(index + 1..)?;
                let end = inside.find('}')?;
                if let Some((low, high)) = inside.get(..end).and_then(|range| range.split_once(','))
                    && let (Ok(low), Ok(high)) = (low.parse::<u64>(), high.parse::<u64>())
                    && low > high
                {
                    return Some((index, index + end + 2));
                }
            }
            _ => {}
        }
        index += 1;
    }
    None
}

/// Why `pattern` does not build, for a diagnostic; `None` when it builds.
pub(crate) fn build_error(pattern: &str) -> Option<fancy_regex::Error> {
    builder(pattern).build().err()
}

fn builder(pattern: &str) -> RegexBuilder {
    let mut builder = RegexBuilder::new(&java_classes(pattern));
    builder.delegate_size_limit(1 << 20).delegate_dfa_size_limit(1 << 20).backtrack_limit(BACKTRACK_LIMIT);
    builder
}

/// The backtracking steps one match may take: well past what a real pattern needs on an
/// MQTT payload, and a few milliseconds of work at most.
pub(crate) const BACKTRACK_LIMIT: usize = 100_000;

/// Rewrites the Java constructs whose syntax the engine shares but whose meaning differs, or
/// that it lacks: `\d \D \w \W \s \S` and the POSIX classes (`\p{Lower}`) are ASCII in
/// Java (Unicode classes in the engine, where `\d` would match `٣`); `\p{javaLowerCase}` and
/// its kin name Unicode properties; `\Q...\E` quotes text. A bracketed class is valid both
/// alone and nested inside another class (`[^\d]` becomes `[^[0-9]]`), so escapes are the only
/// context to track.
fn java_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at + 1..];
        let Some(escaped) = escape.chars().next() else {
            out.push('\\');
            return out;
        };
        rest = &escape[escaped.len_utf8()..];
        match escaped {
            'd' => out.push_str("[0-9]"),
            'D' => out.push_str("[^0-9]"),
            'w' => out.push_str("[0-9A-Za-z_]"),
            'W' => out.push_str("[^0-9A-Za-z_]"),
            's' => out.push_str(r"[\t\n\x0B\x0C\r\x20]"),
            'S' => out.push_str(r"[^\t\n\x0B\x0C\r\x20]"),
            'Q' => {
                let (quoted, after) = rest.split_once("\\E").unwrap_or((rest, ""));
                out.push_str(&regex_syntax::escape(quoted));
                rest = after;
            }
            'p' | 'P' => match rest.strip_prefix('{').and_then(|name| name.split_once('}')) {
                Some((name, after)) if java_property(name).is_some() => {
                    let class = java_property(name).unwrap_or_default();
                    out.push_str(if escaped == 'p' { "[" } else { "[^" });
                    out.push_str(class);
                    out.push(']');
                    rest = after;
                }
                _ => {
                    out.push('\\');
                    out.push(escaped);
                }
            },
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out.push_str(rest);
    out
}

/// The members, as the inside of a bracketed class, of a `\p{...}` name Java defines and the
/// engine reads otherwise or not at all: the POSIX classes (ASCII only in Java) and the
/// `java...` classes of `java.lang.Character`.
fn java_property(name: &str) -> Option<&'static str> {
    Some(match name {
        "Lower" => "a-z",
        "Upper" => "A-Z",
        "ASCII" => r"\x00-\x7F",
        "Alpha" => "a-zA-Z",
        "Digit" => "0-9",
        "Alnum" => "a-zA-Z0-9",
        "Punct" => r"!-/:-@\[-`{-~",
        "Graph" => "!-~",
        "Print" => r"\x20-\x7E",
        "Blank" => r" \t",
        "Cntrl" => r"\x00-\x1F\x7F",
        "XDigit" => "0-9a-fA-F",
        "Space" => r" \t\n\x0B\x0C\r",
        "javaLowerCase" => r"\p{Lowercase}",
        "javaUpperCase" => r"\p{Uppercase}",
        "javaAlphabetic" => r"\p{Alphabetic}",
        "javaDigit" => r"\p{Nd}",
        "javaLetter" => r"\p{L}",
        "javaLetterOrDigit" => r"\p{L}\p{Nd}",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::eval::value::Object;

    const V2016: SqlVersion = SqlVersion::V2016_03_23;

    fn run(name: &str, args: &[Value]) -> Value {
        call(name, args, V2016).unwrap()
    }

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    fn array(items: &[Value]) -> Value {
        Value::Array(items.to_vec())
    }

    fn object(members: &[(&str, Value)]) -> Value {
        Value::Object(members.iter().map(|(key, value)| ((*key).to_owned(), value.clone())).collect::<Object>())
    }

    #[test]
    fn other_names_are_not_ours() {
        assert_eq!(call("abs", &[Value::Int(1)], V2016), None);
        assert_eq!(call("topic", &[], V2016), None);
    }

    #[test]
    fn missing_arguments_are_undefined_not_a_panic() {
        for name in ["chr", "endswith", "lpad", "substring", "regexp_replace", "replace", "upper"] {
            assert_eq!(run(name, &[]), Value::Undefined, "{name}");
        }
    }

    #[test]
    fn null_and_undefined_give_undefined() {
        let unary = ["chr", "length", "lower", "ltrim", "numbytes", "rtrim", "trim", "upper", "concat"];
        for name in unary {
            assert_eq!(run(name, &[Value::Null]), Value::Undefined, "{name}");
            assert_eq!(run(name, &[Value::Undefined]), Value::Undefined, "{name}");
        }
        let binary =
            ["endswith", "indexof", "lpad", "rpad", "regexp_matches", "regexp_substr", "startswith", "substring"];
        for name in binary {
            for bad in [Value::Null, Value::Undefined] {
                assert_eq!(run(name, &[s("abc"), bad.clone()]), Value::Undefined, "{name}");
                assert_eq!(run(name, &[bad, s("1")]), Value::Undefined, "{name}");
            }
        }
        for name in ["replace", "regexp_replace"] {
            assert_eq!(run(name, &[s("a"), s("a"), Value::Null]), Value::Undefined, "{name}");
        }
        assert_eq!(run("lower", &[Value::Binary(vec![1, 2])]), Value::Undefined);
    }

    #[test]
    fn chr_gives_one_ascii_character() {
        assert_eq!(run("chr", &[Value::Int(65)]), s("A"));
        assert_eq!(run("chr", &[Value::Int(49)]), s("1"));
        assert_eq!(run("chr", &[Value::from_f64(65.9)]), s("A"));
        assert_eq!(run("chr", &[s("66")]), s("B"));
        assert_eq!(run("chr", &[s("66.7")]), s("B"));
        assert_eq!(run("chr", &[Value::Int(0)]), s("\0"));
        assert_eq!(run("chr", &[Value::Int(127)]), s("\u{7f}"));
        for bad in
            [Value::Int(128), Value::Int(-1), Value::from_f64(-0.5), Value::from_f64(1e300), Value::Int(i64::MAX)]
        {
            assert_eq!(run("chr", std::slice::from_ref(&bad)), Value::Undefined, "{bad:?}");
        }
        for bad in [Value::Bool(true), s("x"), array(&[Value::Int(65)]), object(&[])] {
            assert_eq!(run("chr", std::slice::from_ref(&bad)), Value::Undefined, "{bad:?}");
        }
    }

    #[test]
    fn concat_documented_examples() {
        assert_eq!(run("concat", &[Value::Int(1)]), s("1"));
        assert_eq!(run("concat", &[s("x")]), s("x"));
        let one_two_three = array(&[Value::Int(1), Value::Int(2), Value::Int(3)]);
        assert_eq!(
            run("concat", &[one_two_three.clone(), Value::Int(4)]),
            array(&[Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(4)])
        );
        assert_eq!(
            run("concat", &[one_two_three.clone(), s("hello")]),
            array(&[Value::Int(1), Value::Int(2), Value::Int(3), s("hello")])
        );
        assert_eq!(run("concat", &[s("con"), s("cat")]), s("concat"));
        assert_eq!(run("concat", &[Value::Int(1), s("hello")]), s("1hello"));
        assert_eq!(run("concat", &[s("he"), s("is"), s("man")]), s("heisman"));
        let four_five_six = array(&[Value::Int(4), Value::Int(5), Value::Int(6)]);
        let expected = [1, 2, 3].map(Value::Int).into_iter().chain([s("hello")]).chain([4, 5, 6].map(Value::Int));
        assert_eq!(run("concat", &[one_two_three, s("hello"), four_five_six]), Value::Array(expected.collect()));
    }

    #[test]
    fn concat_edge_cases() {
        assert_eq!(run("concat", &[]), Value::Undefined);
        assert_eq!(run("concat", &[Value::Bool(true), s("x")]), s("truex"));
        assert_eq!(run("concat", &[Value::Int(1), Value::Int(2)]), s("12"));
        assert_eq!(run("concat", &[s("a"), Value::Null]), Value::Undefined);
        assert_eq!(run("concat", &[s("a"), Value::Undefined]), Value::Undefined);
        assert_eq!(run("concat", &[array(&[]), Value::Undefined]), Value::Undefined);
        assert_eq!(run("concat", &[array(&[]), Value::Null]), array(&[Value::Null]));
        assert_eq!(run("concat", &[s("€"), s("😀")]), s("€😀"));
        assert_eq!(run("concat", &[s("o="), object(&[("a", Value::Int(1))])]), s(r#"o={"a":1}"#));
        // Arrays are spliced one level deep only.
        let nested = array(&[array(&[Value::Int(1)])]);
        assert_eq!(run("concat", &[nested, object(&[])]), array(&[array(&[Value::Int(1)]), object(&[])]));
        assert_eq!(run("concat", &[array(&[Value::Int(1)])]), array(&[Value::Int(1)]));
    }

    #[test]
    fn whole_decimals_follow_the_sql_version() {
        let args = [Value::from_f64(2.0), s("")];
        assert_eq!(call("concat", &args, SqlVersion::V2016_03_23), Some(s("2")));
        assert_eq!(call("concat", &args, SqlVersion::Beta), Some(s("2")));
        assert_eq!(call("concat", &args, SqlVersion::V2015_10_08), Some(s("2.0")));
        assert_eq!(call("length", &[Value::from_f64(10.0)], SqlVersion::V2016_03_23), Some(Value::Int(2)));
        assert_eq!(call("length", &[Value::from_f64(10.0)], SqlVersion::V2015_10_08), Some(Value::Int(4)));
        let list = [array(&[Value::from_f64(1.0), Value::from_f64(1.5)])];
        assert_eq!(call("upper", &list, SqlVersion::V2016_03_23), Some(s("[1,1.5]")));
        assert_eq!(call("upper", &list, SqlVersion::V2015_10_08), Some(s("[1.0,1.5]")));
        assert_eq!(run("concat", &[Value::from_f64(2.5), s("")]), s("2.5"));
        assert_eq!(run("concat", &[Value::from_f64(f64::NAN), s("")]), Value::Undefined);
    }

    #[test]
    fn startswith_and_endswith() {
        assert_eq!(run("startswith", &[s("ranger"), s("ran")]), Value::Bool(true));
        assert_eq!(run("startswith", &[s("ranger"), s("ger")]), Value::Bool(false));
        assert_eq!(run("endswith", &[s("cat"), s("at")]), Value::Bool(true));
        assert_eq!(run("endswith", &[s("cat"), s("")]), Value::Bool(true));
        assert_eq!(run("endswith", &[Value::Int(123), Value::Int(23)]), Value::Bool(true));
        assert_eq!(run("startswith", &[Value::Bool(true), s("tr")]), Value::Bool(true));
        assert_eq!(run("startswith", &[array(&[s("a")]), s("[\"")]), Value::Bool(true));
        assert_eq!(run("endswith", &[s("prix €"), s("€")]), Value::Bool(true));
    }

    #[test]
    fn indexof_counts_characters() {
        assert_eq!(run("indexof", &[s("abcd"), s("bc")]), Value::Int(1));
        assert_eq!(run("indexof", &[s("abab"), s("b")]), Value::Int(1));
        assert_eq!(run("indexof", &[Value::Int(123456), Value::Int(34)]), Value::Int(2));
        assert_eq!(run("indexof", &[s("abc"), s("x")]), Value::Int(-1));
        assert_eq!(run("indexof", &[s("abc"), s("")]), Value::Int(0));
        assert_eq!(run("indexof", &[s(""), s("")]), Value::Int(0));
        assert_eq!(run("indexof", &[s("€😀x"), s("x")]), Value::Int(2));
        assert_eq!(run("indexof", &[s("€😀x"), s("😀")]), Value::Int(1));
    }

    #[test]
    fn length_and_numbytes() {
        assert_eq!(run("length", &[s("hi")]), Value::Int(2));
        assert_eq!(run("length", &[Value::Bool(false)]), Value::Int(5));
        assert_eq!(run("length", &[Value::Int(12345)]), Value::Int(5));
        assert_eq!(run("length", &[s("")]), Value::Int(0));
        assert_eq!(run("length", &[s("€😀")]), Value::Int(2));
        assert_eq!(run("length", &[array(&[s("a")])]), Value::Int(5));
        assert_eq!(run("numbytes", &[s("hi")]), Value::Int(2));
        assert_eq!(run("numbytes", &[s("€")]), Value::Int(3));
        assert_eq!(run("numbytes", &[s("😀")]), Value::Int(4));
        assert_eq!(run("numbytes", &[s("")]), Value::Int(0));
        assert_eq!(run("numbytes", &[Value::Int(-10)]), Value::Int(3));
    }

    #[test]
    fn lower_and_upper() {
        assert_eq!(run("lower", &[s("HELLO")]), s("hello"));
        assert_eq!(run("lower", &[array(&[s("HELLO")])]), s(r#"["hello"]"#));
        assert_eq!(run("upper", &[s("hello")]), s("HELLO"));
        assert_eq!(run("upper", &[array(&[s("hello")])]), s(r#"["HELLO"]"#));
        assert_eq!(run("upper", &[Value::Bool(true)]), s("TRUE"));
        assert_eq!(run("upper", &[object(&[("k", s("v"))])]), s(r#"{"K":"V"}"#));
        assert_eq!(run("upper", &[s("straße é")]), s("STRASSE É"));
        assert_eq!(run("lower", &[s("ÀÉ😀")]), s("àé😀"));
        assert_eq!(run("upper", &[Value::from_f64(1e300)]), s("1E300"));
    }

    #[test]
    fn lpad_and_rpad_add_spaces() {
        assert_eq!(run("lpad", &[s("hello"), Value::Int(2)]), s("  hello"));
        assert_eq!(run("lpad", &[Value::Int(1), Value::Int(3)]), s("   1"));
        assert_eq!(run("rpad", &[s("hello"), Value::Int(2)]), s("hello  "));
        assert_eq!(run("rpad", &[Value::Int(1), Value::Int(3)]), s("1   "));
        assert_eq!(run("lpad", &[s("a"), Value::Int(-5)]), s("a"));
        assert_eq!(run("lpad", &[s("a"), Value::from_f64(2.9)]), s("  a"));
        assert_eq!(run("rpad", &[s("a"), s("1.5")]), s("a "));
        assert_eq!(run("rpad", &[s("€"), Value::Int(1)]), s("€ "));
        assert_eq!(run("lpad", &[s(""), Value::Int(0)]), s(""));
        let thousand = " ".repeat(1000);
        assert_eq!(run("lpad", &[s("a"), Value::Int(1001)]), s(&(thousand.clone() + "a")));
        assert_eq!(run("rpad", &[s("a"), Value::from_f64(1e300)]), s(&("a".to_owned() + &thousand)));
        assert_eq!(run("rpad", &[s("a"), Value::Int(i64::MIN)]), s("a"));
        assert_eq!(run("lpad", &[s("a"), Value::from_f64(-1e300)]), s("a"));
        for bad in [array(&[Value::Int(1)]), s("x"), Value::Bool(true), object(&[]), Value::from_f64(f64::NAN)] {
            assert_eq!(run("rpad", &[s("a"), bad.clone()]), Value::Undefined, "{bad:?}");
        }
    }

    #[test]
    fn trims_remove_spaces_and_tabs_only() {
        assert_eq!(run("trim", &[s(" hi ")]), s("hi"));
        assert_eq!(run("trim", &[s(" x ")]), s("x"));
        assert_eq!(run("ltrim", &[s(" h i ")]), s("h i "));
        assert_eq!(run("rtrim", &[s(" h i ")]), s(" h i"));
        assert_eq!(run("trim", &[s("\t \tx\t ")]), s("x"));
        assert_eq!(run("trim", &[s("\nx\n")]), s("\nx\n"));
        assert_eq!(run("trim", &[s("\u{a0}x")]), s("\u{a0}x"));
        assert_eq!(run("ltrim", &[Value::Int(5)]), s("5"));
        assert_eq!(run("trim", &[s("   ")]), s(""));
        assert_eq!(run("rtrim", &[s("€ ")]), s("€"));
        assert_eq!(run("trim", &[array(&[s(" a ")])]), s(r#"[" a "]"#));
    }

    #[test]
    fn replace_is_literal_and_global() {
        assert_eq!(run("replace", &[s("abcd"), s("bc"), s("x")]), s("axd"));
        assert_eq!(run("replace", &[s("abcdabcd"), s("b"), s("x")]), s("axcdaxcd"));
        assert_eq!(run("replace", &[Value::Int(123), Value::Int(2), Value::Int(9)]), s("193"));
        assert_eq!(run("replace", &[s("a.c"), s("."), s("$1")]), s("a$1c"));
        assert_eq!(run("replace", &[s("abc"), s(""), s("-")]), s("-a-b-c-"));
        assert_eq!(run("replace", &[s("€€"), s("€"), s("e")]), s("ee"));
    }

    #[test]
    fn substring_documented_examples() {
        let digits = s("012345");
        assert_eq!(run("substring", &[digits.clone(), Value::Int(0)]), s("012345"));
        assert_eq!(run("substring", &[digits.clone(), Value::Int(2)]), s("2345"));
        assert_eq!(run("substring", &[digits.clone(), Value::from_f64(2.745)]), s("2345"));
        assert_eq!(run("substring", &[Value::Int(123), Value::Int(2)]), s("3"));
        assert_eq!(run("substring", &[digits.clone(), Value::Int(-1)]), s("012345"));
        assert_eq!(run("substring", &[Value::Bool(true), Value::from_f64(1.2)]), s("rue"));
        assert_eq!(run("substring", &[Value::Bool(false), Value::from_f64(-2.411e247)]), s("false"));
        assert_eq!(run("substring", &[digits.clone(), Value::Int(1), Value::Int(3)]), s("12"));
        assert_eq!(run("substring", &[digits.clone(), Value::Int(-50), Value::Int(50)]), s("012345"));
        assert_eq!(run("substring", &[digits, Value::Int(3), Value::Int(1)]), s(""));
    }

    #[test]
    fn substring_edge_cases() {
        let digits = s("012345");
        assert_eq!(run("substring", &[digits.clone(), Value::Int(10)]), s(""));
        assert_eq!(run("substring", &[digits.clone(), Value::Int(2), Value::Int(2)]), s(""));
        assert_eq!(run("substring", &[digits.clone(), Value::Int(i64::MIN), Value::Int(i64::MAX)]), s("012345"));
        assert_eq!(run("substring", &[digits.clone(), Value::from_f64(1e300)]), s(""));
        assert_eq!(run("substring", &[digits.clone(), s("1"), s("2.9")]), s("1"));
        assert_eq!(run("substring", &[digits.clone(), Value::from_f64(-0.5), Value::Int(1)]), s("0"));
        assert_eq!(run("substring", &[digits.clone(), s("x")]), Value::Undefined);
        assert_eq!(run("substring", &[digits.clone(), Value::Int(1), s("x")]), Value::Undefined);
        assert_eq!(run("substring", &[digits.clone(), Value::Bool(true)]), Value::Undefined);
        assert_eq!(run("substring", &[digits, Value::Int(1), Value::Null]), Value::Undefined);
        assert_eq!(run("substring", &[s("€😀ab"), Value::Int(1), Value::Int(3)]), s("😀a"));
        assert_eq!(run("substring", &[s("😀"), Value::Int(1)]), s(""));
        assert_eq!(run("substring", &[s(""), Value::Int(0), Value::Int(0)]), s(""));
        assert_eq!(run("substring", &[array(&[Value::Int(1)]), Value::Int(1), Value::Int(2)]), s("1"));
    }

    #[test]
    fn regexp_matches_finds_a_match_anywhere() {
        assert_eq!(run("regexp_matches", &[s("aaaa"), s("a{2,}")]), Value::Bool(true));
        assert_eq!(run("regexp_matches", &[s("aaaa"), s("b")]), Value::Bool(false));
        assert_eq!(run("regexp_matches", &[s("xxabxx"), s("ab")]), Value::Bool(true));
        assert_eq!(run("regexp_matches", &[s("xxabxx"), s("^ab$")]), Value::Bool(false));
        assert_eq!(run("regexp_matches", &[Value::Int(2024), Value::Int(2)]), Value::Bool(true));
        assert_eq!(run("regexp_matches", &[s("€"), s("^.$")]), Value::Bool(true));
        assert_eq!(run("regexp_matches", &[s("a"), s("(")]), Value::Undefined);
        assert_eq!(run("regexp_matches", &[s("aaa"), s("a{3,1}")]), Value::Undefined);
    }

    #[test]
    fn java_only_constructs_run() {
        assert_eq!(run("regexp_matches", &[s("aa"), s(r"(a)\1")]), Value::Bool(true));
        assert_eq!(run("regexp_matches", &[s("ab"), s(r"(a)\1")]), Value::Bool(false));
        assert_eq!(run("regexp_substr", &[s("ab"), s("a(?=b)")]), s("a"));
        assert_eq!(run("regexp_substr", &[s("xy zy"), s("(?<!x)y")]), s("y"));
        assert_eq!(run("regexp_substr", &[s("price: 42"), s(r"(?<=: )\d+")]), s("42"));
        assert_eq!(run("regexp_matches", &[s("aaa"), s("^a*+a$")]), Value::Bool(false));
        assert_eq!(run("regexp_matches", &[s("abc"), s("^(?>a|ab)c$")]), Value::Bool(false));
        assert_eq!(
            run("regexp_replace", &[s("2024-01-31"), s(r"(?<y>\d+)-(\d+)-(\d+)"), s("$3.$2.${y}")]),
            s("31.01.2024")
        );
        assert_eq!(run("regexp_substr", &[s("a.b+c"), s(r"\Q.b+\E")]), s(".b+"));
        assert_eq!(run("regexp_substr", &[s("Éx9"), s(r"\p{Alpha}")]), s("x"));
        assert_eq!(run("regexp_substr", &[s("Éx9"), s(r"\p{javaLetter}")]), s("É"));
    }

    #[test]
    fn runaway_backtracking_is_undefined() {
        // Nested quantifiers before a backreference backtrack exponentially; the step limit
        // stops them.
        let text = s(&"x".repeat(40));
        assert_eq!(run("regexp_matches", &[text.clone(), s(r"^(x+x+)+y\1")]), Value::Undefined);
        assert_eq!(run("regexp_replace", &[text, s(r"^(x+x+)+y\1"), s("-")]), Value::Undefined);
    }

    #[test]
    fn java_classes_are_ascii() {
        // U+0663 is an Arabic-Indic digit; `é` is a letter; U+00A0 is a no-break space.
        assert_eq!(run("regexp_matches", &[s("\u{663}"), s(r"\d")]), Value::Bool(false));
        assert_eq!(run("regexp_matches", &[s("\u{663}"), s(r"\D")]), Value::Bool(true));
        assert_eq!(run("regexp_matches", &[s("é"), s(r"\w")]), Value::Bool(false));
        assert_eq!(run("regexp_matches", &[s("é"), s(r"^\W$")]), Value::Bool(true));
        assert_eq!(run("regexp_matches", &[s("\u{a0}"), s(r"\s")]), Value::Bool(false));
        assert_eq!(run("regexp_matches", &[s("\u{b}"), s(r"\s")]), Value::Bool(true));
        assert_eq!(run("regexp_matches", &[s("x"), s(r"^[^\d\s]$")]), Value::Bool(true));
        assert_eq!(run("regexp_matches", &[s("7"), s(r"^[^\d\s]$")]), Value::Bool(false));
        assert_eq!(run("regexp_matches", &[s("é"), s(r"^[\W]$")]), Value::Bool(true));
        assert_eq!(run("regexp_matches", &[s(r"\d"), s(r"^\\d$")]), Value::Bool(true));
        assert_eq!(run("regexp_substr", &[s("ab12c"), s(r"\d+")]), s("12"));
        assert_eq!(java_classes(r"a\\d\.\d[\s]"), r"a\\d\.[0-9][[\t\n\x0B\x0C\r\x20]]");
        assert_eq!(java_classes("tail\\"), "tail\\");
    }

    #[test]
    fn regexp_substr_returns_the_first_match() {
        assert_eq!(run("regexp_substr", &[s("hihihello"), s("hi")]), s("hi"));
        assert_eq!(run("regexp_substr", &[s("hihihello"), s("(hi)*")]), s("hihi"));
        assert_eq!(run("regexp_substr", &[s("xyz"), s("a*")]), s(""));
        assert_eq!(run("regexp_substr", &[s("xyz"), s("a")]), Value::Undefined);
        assert_eq!(run("regexp_substr", &[s("x€😀y"), s("€.")]), s("€😀"));
        assert_eq!(run("regexp_substr", &[s("ab"), s("a|ab")]), s("a"));
        assert_eq!(run("regexp_substr", &[s("ab"), s("[")]), Value::Undefined);
    }

    #[test]
    fn regexp_replace_documented_examples() {
        assert_eq!(run("regexp_replace", &[s("abcd"), s("bc"), s("x")]), s("axd"));
        assert_eq!(run("regexp_replace", &[s("abcd"), s("b(.*)d"), s("$1")]), s("ac"));
        assert_eq!(run("regexp_replace", &[s("abab"), s("b"), s("x")]), s("axax"));
    }

    #[test]
    fn regexp_replace_uses_java_replacement_syntax() {
        let replace = |text: &str, pattern: &str, replacement: &str| {
            run("regexp_replace", &[s(text), s(pattern), s(replacement)])
        };
        assert_eq!(replace("abcd", "b(c)", "$1a"), s("acad"));
        assert_eq!(replace("abcd", "b(c)", "[$0]"), s("a[bc]d"));
        assert_eq!(replace("abcd", "b(c)", "$12"), s("ac2d"));
        assert_eq!(replace("abcd", "b(c)", r"\$1"), s("a$1d"));
        assert_eq!(replace("abcd", "b(c)", r"\\"), s(r"a\d"));
        assert_eq!(replace("abcd", "b(c)", r"\x"), s("axd"));
        assert_eq!(replace("abcd", "(?<mid>bc)", "<${mid}>"), s("a<bc>d"));
        assert_eq!(replace("abcd", "b(x)?c", "[$1]"), s("a[]d"));
        let eleven = "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)";
        assert_eq!(replace("abcdefghijk", eleven, "$11$10$1"), s("kja"));
        assert_eq!(replace("1.5", r"\.", "$$"), Value::Undefined);
        for bad in ["$", "$2", "$x", "${", "${mid", "${nope}", "${1}", r"tail\"] {
            assert_eq!(replace("abcd", "(?<mid>bc)", bad), Value::Undefined, "{bad}");
        }
        // The docs make an invalid replacement Undefined even when nothing matches.
        assert_eq!(replace("abcd", "zz", "$9"), Value::Undefined);
        assert_eq!(replace("abcd", "(", "x"), Value::Undefined);
        assert_eq!(run("regexp_replace", &[Value::Int(1234), Value::Int(23), Value::from_f64(0.5)]), s("10.54"));
    }

    #[test]
    fn regexp_replace_finds_empty_matches_like_java() {
        let replace = |text: &str, pattern: &str, replacement: &str| {
            run("regexp_replace", &[s(text), s(pattern), s(replacement)])
        };
        assert_eq!(replace("baaac", "a*", "-"), s("-b--c-"));
        assert_eq!(replace("abc", "x*", "-"), s("-a-b-c-"));
        assert_eq!(replace("", "x*", "-"), s("-"));
        assert_eq!(replace("", "x", "-"), s(""));
        assert_eq!(replace("€😀", "", "|"), s("|€|😀|"));
        assert_eq!(replace("aaa", "^a", "b"), s("baa"));
        assert_eq!(replace("a€b", "€", "e"), s("aeb"));
    }

    #[test]
    fn hostile_patterns_finish_fast_or_fail_cleanly() {
        let long = "a".repeat(100_000) + "b";
        let started = Instant::now();
        assert_eq!(run("regexp_matches", &[s(&long), s("(a+)+$")]), Value::Bool(false));
        assert_eq!(run("regexp_substr", &[s(&long), s("(a|aa)+c")]), Value::Undefined);
        let replaced = run("regexp_replace", &[s(&long), s("(a|a)+b"), s("<$0>")]);
        assert_eq!(replaced, s(&format!("<{long}>")));
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
        for huge in ["a{100000}", r"\pL{1000}", "(?:a{1000}){1000}", "[0-9]{1,30000}"] {
            assert_eq!(run("regexp_matches", &[s("a"), s(huge)]), Value::Undefined, "{huge}");
        }
    }

    #[test]
    fn compiled_regexes_are_cached_and_bounded() {
        for round in 0..3 {
            for index in 0..(CACHE_CAPACITY + 10) {
                let pattern = format!("^x{index}$");
                let expected = Value::Bool(true);
                assert_eq!(run("regexp_matches", &[s(&format!("x{index}")), s(&pattern)]), expected, "{round}");
            }
        }
        let size = REGEXES.with(|cache| cache.borrow().len());
        assert!(size <= CACHE_CAPACITY, "{size}");
        assert_eq!(run("regexp_matches", &[s("a"), s("(")]), Value::Undefined);
        assert_eq!(run("regexp_matches", &[s("a"), s("(")]), Value::Undefined);
    }

    #[test]
    fn replacement_parsing() {
        let regex = build("(a)(?<name>b)").unwrap();
        let parsed = parse_replacement(r"x$1\$${name}$0$21", &regex).unwrap();
        assert_eq!(
            parsed,
            vec![
                Piece::Text("x".into()),
                Piece::Group(1),
                Piece::Text("$".into()),
                Piece::Group(2),
                Piece::Group(0),
                Piece::Group(2),
                Piece::Text("1".into()),
            ]
        );
        assert_eq!(parse_replacement("", &regex), Some(vec![]));
        assert_eq!(parse_replacement("$3", &regex), None);
        assert_eq!(parse_replacement("${9a}", &regex), None);
    }
}
