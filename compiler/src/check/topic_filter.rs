//! Topic filters as MQTT 3.1.1 §4.7 defines them, plus AWS IoT Core's quotas.

use crate::span::Span;

/// AWS IoT Core: topics and topic filters hold at most 7 forward slashes.
pub const MAX_SLASHES: usize = 7;
/// AWS IoT Core: a topic filter is at most 256 bytes of UTF-8.
pub const MAX_BYTES: usize = 256;
/// The prefix of Basic Ingest topics.
pub const BASIC_INGEST_PREFIX: &str = "$aws/rules/";

/// One thing wrong with a topic filter, located by byte range inside the filter text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterProblem {
    pub kind: FilterProblemKind,
    pub range: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterProblemKind {
    Empty,
    /// `#` shares its level with other characters, or is not the last level.
    MisplacedHash,
    /// `+` shares its level with other characters.
    MisplacedPlus,
    /// MQTT forbids U+0000 in topics.
    NulCharacter,
    /// Past [`MAX_SLASHES`]; an AWS quota, not an MQTT rule.
    TooManyLevels,
    /// Past [`MAX_BYTES`]; an AWS quota, not an MQTT rule.
    TooLong,
}

impl FilterProblemKind {
    /// Whether MQTT itself forbids it (as opposed to an AWS quota).
    pub const fn is_invalid(self) -> bool {
        !matches!(self, FilterProblemKind::TooManyLevels | FilterProblemKind::TooLong)
    }

    pub const fn message(self) -> &'static str {
        match self {
            FilterProblemKind::Empty => "topic filter is empty",
            FilterProblemKind::MisplacedHash => "`#` must be a whole level and the last one",
            FilterProblemKind::MisplacedPlus => "`+` must be a whole level",
            FilterProblemKind::NulCharacter => "topic filter contains the character U+0000",
            FilterProblemKind::TooManyLevels => "topic filter has more than 7 forward slashes",
            FilterProblemKind::TooLong => "topic filter is longer than 256 bytes",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            FilterProblemKind::Empty => "empty",
            FilterProblemKind::MisplacedHash | FilterProblemKind::MisplacedPlus => "not a valid level",
            FilterProblemKind::NulCharacter => "U+0000",
            FilterProblemKind::TooManyLevels | FilterProblemKind::TooLong => "past the AWS quota",
        }
    }

    pub const fn help(self) -> &'static str {
        match self {
            FilterProblemKind::Empty => "name the topic the rule listens to, such as 'sensors/+/telemetry'",
            FilterProblemKind::MisplacedHash => {
                "write `a/#` to match everything below `a`; `#` cannot share a level or be followed by one"
            }
            FilterProblemKind::MisplacedPlus => "write `a/+/b` to match any one level; `+` cannot share a level",
            FilterProblemKind::NulCharacter => "remove the U+0000 character",
            FilterProblemKind::TooManyLevels => {
                "AWS IoT Core rejects topics with more than 7 slashes (8 levels); the Basic Ingest prefix does not count"
            }
            FilterProblemKind::TooLong => "AWS IoT Core limits topic filters to 256 bytes of UTF-8",
        }
    }
}

/// Everything wrong with `filter`, in order of position.
pub fn validate(filter: &str) -> Vec<FilterProblem> {
    let mut problems = Vec::new();
    if filter.is_empty() {
        problems.push(FilterProblem { kind: FilterProblemKind::Empty, range: Span::new(0, 0) });
        return problems;
    }
    let mut start = 0;
    let levels = filter.split('/').count();
    for (index, level) in filter.split('/').enumerate() {
        let range = Span::new(start, start + level.len());
        let is_last = index + 1 == levels;
        if level.contains('#') && (level != "#" || !is_last) {
            problems.push(FilterProblem { kind: FilterProblemKind::MisplacedHash, range });
        }
        if level.contains('+') && level != "+" {
            problems.push(FilterProblem { kind: FilterProblemKind::MisplacedPlus, range });
        }
        if let Some(nul) = level.find('\0') {
            problems.push(FilterProblem {
                kind: FilterProblemKind::NulCharacter,
                range: Span::new(start + nul, start + nul + 1),
            });
        }
        start += level.len() + 1;
    }
    let counted =
        filter.strip_prefix(BASIC_INGEST_PREFIX).and_then(|rest| rest.split_once('/')).map_or(filter, |(_, rest)| rest);
    if counted.matches('/').count() > MAX_SLASHES {
        problems.push(FilterProblem { kind: FilterProblemKind::TooManyLevels, range: Span::new(0, filter.len()) });
    }
    if filter.len() > MAX_BYTES {
        // The first byte past the limit may sit inside a character; start the range at that
        // character so it can slice the text.
        let start = filter.floor_char_boundary(MAX_BYTES);
        problems.push(FilterProblem { kind: FilterProblemKind::TooLong, range: Span::new(start, filter.len()) });
    }
    problems
}

/// Whether `topic` matches `filter` as AWS IoT Core matches them: MQTT 3.1.1 §4.7, except
/// that `a/#` does not match `a` itself (AWS's topics page). A wildcard in the first level
/// never matches a topic starting with `$`.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match level {
            "#" => return topic_levels.next().is_some(),
            "+" => {
                if topic_levels.next().is_none() {
                    return false;
                }
            }
            literal => {
                if topic_levels.next() != Some(literal) {
                    return false;
                }
            }
        }
    }
    topic_levels.next().is_none()
}

/// The rule name of a Basic Ingest topic `$aws/rules/<name>/...`.
pub fn basic_ingest_rule(topic: &str) -> Option<&str> {
    let rest = topic.strip_prefix(BASIC_INGEST_PREFIX)?;
    Some(rest.split('/').next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(filter: &str) -> Vec<FilterProblemKind> {
        validate(filter).into_iter().map(|problem| problem.kind).collect()
    }

    #[test]
    fn valid_filters() {
        for filter in
            ["a", "a/b", "+", "#", "a/+/b", "a/#", "+/+/#", "/company/+", "$aws/things/x/shadow/update", "a//b"]
        {
            assert_eq!(kinds(filter), vec![], "{filter}");
        }
    }

    #[test]
    fn invalid_filters() {
        assert_eq!(kinds(""), vec![FilterProblemKind::Empty]);
        assert_eq!(kinds("a/b#"), vec![FilterProblemKind::MisplacedHash]);
        assert_eq!(kinds("a/#/b"), vec![FilterProblemKind::MisplacedHash]);
        assert_eq!(kinds("a/b+"), vec![FilterProblemKind::MisplacedPlus]);
        assert_eq!(kinds("a/\0"), vec![FilterProblemKind::NulCharacter]);
        assert_eq!(validate("x/b+")[0].range, Span::new(2, 4));
    }

    #[test]
    fn quotas() {
        assert_eq!(kinds("1/2/3/4/5/6/7/8"), vec![]);
        assert_eq!(kinds("1/2/3/4/5/6/7/8/9"), vec![FilterProblemKind::TooManyLevels]);
        assert_eq!(kinds("$aws/rules/r/1/2/3/4/5/6/7/8"), vec![]);
        assert_eq!(kinds(&"a".repeat(257)), vec![FilterProblemKind::TooLong]);
        let straddling = format!("{}é", "a".repeat(255));
        assert_eq!(validate(&straddling)[0].range, Span::new(255, 257));
    }

    #[test]
    fn matching_follows_aws() {
        assert!(matches("sensor/#", "sensor/"));
        assert!(matches("sensor/#", "sensor/temperature/room1"));
        assert!(!matches("sensor/#", "sensor"));
        assert!(matches("sensor/+/room1", "sensor/x/room1"));
        assert!(!matches("sensor/+/room1", "sensor/x/y/room1"));
        assert!(matches("+/+", "a/"));
        assert!(!matches("Sensor/temp", "sensor/temp"));
        assert!(matches("#", "a/b"));
        assert!(!matches("#", "$aws/things/x"));
        assert!(!matches("+/things/x", "$aws/things/x"));
        assert!(matches("$aws/things/+/shadow/update", "$aws/things/t1/shadow/update"));
        assert!(matches("/company/+", "/company/x"));
        assert!(!matches("a/b", "a/b/c"));
    }

    #[test]
    fn basic_ingest() {
        assert_eq!(basic_ingest_rule("$aws/rules/my_rule/a/b"), Some("my_rule"));
        assert_eq!(basic_ingest_rule("$aws/things/x"), None);
    }
}
