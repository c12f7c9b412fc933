//! IAM's wildcard matching: `*` matches any run of characters (none included, `/` and `:`
//! included) and `?` exactly one; everything else, MQTT's `+` and `#` among it, is literal.
//!
//! The matcher keeps only the last `*` to fall back to, so it never backtracks further: at
//! most (pattern length + 1) × (text length + 1) steps, whatever the pattern (`*a*a*a*b`
//! included), never exponential.

/// One element of a compiled pattern. Text a policy variable put in a pattern is literal,
/// whatever characters it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    Star,
    One,
    Literal(char),
}

/// The tokens of pattern text as written.
pub fn tokens(pattern: &str) -> Vec<Token> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Token::Star,
            '?' => Token::One,
            c => Token::Literal(c),
        })
        .collect()
}

/// Whether `text` matches `pattern` as a whole, comparing characters exactly.
pub fn matches(pattern: &str, text: &str) -> bool {
    run(&tokens(pattern), text, |p, t| p == t).0
}

/// [`matches`], ignoring ASCII case (action names).
pub fn matches_ignore_case(pattern: &str, text: &str) -> bool {
    run(&tokens(pattern), text, |p, t| p.eq_ignore_ascii_case(&t)).0
}

/// Whether `text` matches compiled `pattern` as a whole, comparing characters exactly.
pub fn matches_tokens(pattern: &[Token], text: &str) -> bool {
    run(pattern, text, |p, t| p == t).0
}

/// Whether it matches, and how many steps it took.
fn run(pattern: &[Token], text: &str, same: impl Fn(char, char) -> bool) -> (bool, usize) {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t, mut steps) = (0, 0, 0);
    // The position after the last `*` seen, and the text position it was last tried from.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        steps += 1;
        match (pattern.get(p), text.get(t)) {
            (Some(Token::Star), _) => {
                star = Some((p + 1, t));
                p += 1;
            }
            (Some(Token::One), _) => {
                p += 1;
                t += 1;
            }
            (Some(&Token::Literal(want)), Some(&got)) if same(want, got) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry from after it.
                Some((after, from)) => {
                    p = after;
                    t = from + 1;
                    star = Some((after, from + 1));
                }
                None => return (false, steps),
            },
        }
    }
    (pattern.get(p..).is_some_and(|rest| rest.iter().all(|token| *token == Token::Star)), steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cross_levels_and_mqtt_wildcards_are_literal() {
        assert!(matches("arn:aws:iot:*:*:topic/a/*", "arn:aws:iot:us-east-1:1:topic/a/b/c"));
        assert!(matches("topicfilter/a/*", "topicfilter/a/#"));
        assert!(matches("topic/a/?/c", "topic/a/b/c") && matches("topic/a/?", "topic/a//"));
        assert!(!matches("topicfilter/a/+/c", "topicfilter/a/b/c"));
        assert!(matches("topicfilter/a/+/c", "topicfilter/a/+/c"));
        assert!(!matches("client/Client1", "client/client1"));
        assert!(matches("*", "") && matches("", "") && !matches("", "x") && !matches("?", ""));
        assert!(matches("a*b*c", "aXbYbZc") && !matches("a*b*c", "aXbYbZ"));
        assert!(matches_ignore_case("IOT:publish", "iot:Publish"));
        assert!(matches_ignore_case("iot:*Shadow", "iot:GetThingShadow"));
    }

    #[test]
    fn pathological_patterns_take_bounded_steps() {
        let pattern = format!("{}b", "*a".repeat(200));
        let text = "a".repeat(5_000);
        let (matched, steps) = run(&tokens(&pattern), &text, |p, t| p == t);
        assert!(!matched);
        assert!(steps <= (pattern.len() + 1) * (text.len() + 1), "{steps} steps");
    }
}
