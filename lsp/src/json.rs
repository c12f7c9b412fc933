//! Reading JSON text around a cursor without a full parse, so a half-typed document still
//! answers: the string literal under the cursor, and the member it belongs to.

use iotrules_compiler::Span;

/// A JSON string literal: its span with quotes, and the span of its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct JsonString {
    pub(crate) literal: Span,
    pub(crate) content: Span,
}

/// The string literal containing `offset` (between its quotes, or at its closing quote). An
/// unclosed string runs to the end of its line.
pub(crate) fn string_at(text: &str, offset: usize) -> Option<JsonString> {
    let mut start = None;
    let mut escaped = false;
    for (at, character) in text.char_indices() {
        match start {
            None if at >= offset => return None,
            None if character == '"' => start = Some(at),
            None => {}
            Some(open) => {
                if escaped {
                    escaped = false;
                } else if character == '\\' {
                    escaped = true;
                } else if character == '"' || character == '\n' {
                    if offset <= at {
                        return Some(JsonString { literal: Span::new(open, at + 1), content: Span::new(open + 1, at) });
                    }
                    start = None;
                }
            }
        }
    }
    let open = start?;
    Some(JsonString { literal: Span::new(open, text.len()), content: Span::new(open + 1, text.len()) })
}

/// The member names a cursor is most likely under: the last of `names` written as a key
/// (`"Name":`) before `offset`.
pub(crate) fn last_key_before<'a>(text: &str, offset: usize, names: &[&'a str]) -> Option<&'a str> {
    let before = text.get(..offset)?;
    names
        .iter()
        .filter_map(|name| {
            let quoted = format!("\"{name}\"");
            let mut found = None;
            for (at, _) in before.match_indices(&quoted) {
                let rest = before.get(at + quoted.len()..).unwrap_or_default();
                if rest.trim_start().starts_with(':') {
                    found = Some(at);
                }
            }
            found.map(|at| (at, *name))
        })
        .max_by_key(|(at, _)| *at)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_string_under_the_cursor() {
        let text = r#"{"Action": "iot:Pub\"x", "b": 1}"#;
        let string = string_at(text, 14).unwrap();
        assert_eq!(text.get(string.content.start..string.content.end), Some(r#"iot:Pub\"x"#));
        assert_eq!(string_at(text, 30), None);
        assert_eq!(last_key_before(text, 14, &["Action", "Resource"]), Some("Action"));
    }
}
