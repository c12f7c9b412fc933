//! Topic names a message can be published to, and the text MQTT lets a packet carry.
//!
//! A republish topic built by a substitution template is only known once a message arrives,
//! so it is checked then, against the same rules AWS IoT Core applies: MQTT's (UTF-8, no
//! wildcard, not empty, none of the characters MQTT forbids) and AWS's quotas (256 bytes,
//! 7 forward slashes). A topic that fails them must never reach a broker: an MQTT encoder
//! writes string lengths in 16 bits, and brokers such as Mosquitto close the connection of a
//! client that sends a control character, so one bad topic would otherwise poison a session.

use std::fmt;

use super::topic_filter::{BASIC_INGEST_PREFIX, MAX_BYTES, MAX_SLASHES};

/// The longest string an MQTT packet can carry: its length is a 16-bit number.
pub const MAX_MQTT_STRING: usize = 65_535;

/// Why a topic name cannot be published to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicNameProblem {
    Empty,
    /// A topic filter wildcard, which a topic name cannot hold.
    Wildcard(char),
    /// A character MQTT forbids or tells clients not to send, with its byte offset.
    Forbidden {
        character: char,
        at: usize,
    },
    /// Longer than AWS's 256 bytes; the length in bytes.
    TooLong(usize),
    /// More forward slashes than AWS's 7; how many.
    TooManyLevels(usize),
}

impl fmt::Display for TopicNameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicNameProblem::Empty => f.write_str("the topic is empty"),
            TopicNameProblem::Wildcard(wildcard) => {
                write!(f, "the topic holds the wildcard `{wildcard}`, which a message cannot be published to")
            }
            TopicNameProblem::Forbidden { character, at } => {
                write!(
                    f,
                    "the topic holds the character U+{:04X} at byte {at}, which MQTT does not allow",
                    u32::from(*character)
                )
            }
            TopicNameProblem::TooLong(bytes) => {
                write!(f, "the topic is {bytes} bytes long; AWS IoT Core allows at most {MAX_BYTES}")
            }
            TopicNameProblem::TooManyLevels(slashes) => {
                write!(f, "the topic has {slashes} forward slashes; AWS IoT Core allows at most {MAX_SLASHES}")
            }
        }
    }
}

/// The first reason `topic` cannot be published to, if any.
pub fn topic_name_problem(topic: &str) -> Option<TopicNameProblem> {
    if topic.is_empty() {
        return Some(TopicNameProblem::Empty);
    }
    if topic.len() > MAX_BYTES {
        return Some(TopicNameProblem::TooLong(topic.len()));
    }
    if let Some((at, character)) = forbidden_character(topic) {
        return Some(TopicNameProblem::Forbidden { character, at });
    }
    if let Some(wildcard) = topic.chars().find(|c| matches!(c, '+' | '#')) {
        return Some(TopicNameProblem::Wildcard(wildcard));
    }
    // Basic Ingest's `$aws/rules/<name>/` prefix does not count towards the quota.
    let counted =
        topic.strip_prefix(BASIC_INGEST_PREFIX).and_then(|rest| rest.split_once('/')).map_or(topic, |(_, rest)| rest);
    let slashes = counted.matches('/').count();
    (slashes > MAX_SLASHES).then_some(TopicNameProblem::TooManyLevels(slashes))
}

/// The first character of `text` that an MQTT string must not hold, with its byte offset:
/// U+0000, which MQTT forbids, and the control characters (U+0001 to U+001F, U+007F to
/// U+009F) and non-characters (U+FDD0 to U+FDEF, and the last two code points of every
/// plane) that MQTT 5 §1.5.4 tells clients not to send and Mosquitto answers by closing the
/// connection.
pub fn forbidden_character(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|&(_, character)| is_forbidden(character))
}

fn is_forbidden(character: char) -> bool {
    let code = u32::from(character);
    character.is_control() || (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// Why `text` cannot be sent as an MQTT string (a property, a user property's key or value).
pub fn mqtt_string_problem(text: &str) -> Option<String> {
    if text.len() > MAX_MQTT_STRING {
        return Some(format!("it is {} bytes long; MQTT strings hold at most {MAX_MQTT_STRING}", text.len()));
    }
    forbidden_character(text).map(|(at, character)| {
        format!("it holds the character U+{:04X} at byte {at}, which MQTT does not allow", u32::from(character))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_that_can_be_published_to() {
        for topic in ["a", "a/b", "/a", "a//b", "$aws/things/t/shadow/update", "é/😀", "1/2/3/4/5/6/7/8"] {
            assert_eq!(topic_name_problem(topic), None, "{topic}");
        }
        assert_eq!(topic_name_problem("$aws/rules/r/1/2/3/4/5/6/7/8"), None);
        assert_eq!(topic_name_problem(&"a".repeat(256)), None);
    }

    #[test]
    fn topics_that_cannot() {
        use TopicNameProblem::*;
        let cases: &[(&str, TopicNameProblem)] = &[
            ("", Empty),
            ("a/+", Wildcard('+')),
            ("a/#", Wildcard('#')),
            ("a\u{1}b", Forbidden { character: '\u{1}', at: 1 }),
            ("a\nb", Forbidden { character: '\n', at: 1 }),
            ("a\0", Forbidden { character: '\0', at: 1 }),
            ("\u{7F}", Forbidden { character: '\u{7F}', at: 0 }),
            ("é\u{85}", Forbidden { character: '\u{85}', at: 2 }),
            ("a\u{FFFF}", Forbidden { character: '\u{FFFF}', at: 1 }),
            ("\u{FDD0}", Forbidden { character: '\u{FDD0}', at: 0 }),
            ("\u{1FFFE}", Forbidden { character: '\u{1FFFE}', at: 0 }),
            ("1/2/3/4/5/6/7/8/9", TooManyLevels(8)),
        ];
        for (topic, problem) in cases {
            assert_eq!(topic_name_problem(topic), Some(*problem), "{topic:?}");
        }
        assert_eq!(topic_name_problem(&"a".repeat(70_000)), Some(TooLong(70_000)));
    }

    #[test]
    fn allowed_characters_stay_allowed() {
        for character in ['\u{A0}', '\u{FFFD}', '\u{FEFF}', '\u{10FFFD}', 'Ω', ' '] {
            assert_eq!(forbidden_character(&character.to_string()), None, "{character:?}");
        }
    }

    #[test]
    fn mqtt_strings() {
        assert_eq!(mqtt_string_problem("application/json"), None);
        assert!(mqtt_string_problem("a\u{1B}[31m").is_some_and(|problem| problem.contains("U+001B")));
        assert!(mqtt_string_problem(&"x".repeat(65_536)).is_some_and(|problem| problem.contains("65536")));
    }
}
