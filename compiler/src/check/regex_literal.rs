//! Regular expressions in `regexp_*` calls, checked before they ever run.
//!
//! AWS runs Java's `java.util.regex`; iotrules runs the `regex` crate, which guarantees linear
//! time and so has no backreferences, lookaround, possessive quantifiers or atomic groups.
//! A pattern using those is reported as unsupported rather than silently behaving differently.

use regex_syntax::ast::ErrorKind;

use crate::span::Span;

/// Why a pattern cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegexProblem {
    /// Valid Java, but not runnable here.
    pub unsupported: bool,
    pub message: String,
    /// Byte range inside the pattern.
    pub range: Span,
}

/// What is wrong with `pattern`, if anything.
pub fn problem(pattern: &str) -> Option<RegexProblem> {
    if let Some(range) = java_only_construct(pattern) {
        let message = if pattern.get(range.start..range.end) == Some("(?>") {
            "atomic groups are not supported"
        } else {
            "possessive quantifiers are not supported"
        };
        return Some(RegexProblem { unsupported: true, message: message.to_owned(), range });
    }
    // The engine's own verdict, cached, settles most patterns without reparsing them.
    if crate::eval::functions::text::compile(pattern).is_some() {
        return None;
    }
    let ast = match regex_syntax::ast::parse::Parser::new().parse(pattern) {
        Ok(ast) => ast,
        Err(error) => {
            let span = error.span();
            let unsupported =
                matches!(error.kind(), ErrorKind::UnsupportedBackreference | ErrorKind::UnsupportedLookAround);
            let message = if unsupported {
                match error.kind() {
                    ErrorKind::UnsupportedBackreference => "backreferences are not supported".to_owned(),
                    _ => "lookahead and lookbehind are not supported".to_owned(),
                }
            } else {
                error.kind().to_string()
            };
            return Some(RegexProblem { unsupported, message, range: Span::new(span.start.offset, span.end.offset) });
        }
    };
    match regex_syntax::hir::translate::Translator::new().translate(pattern, &ast) {
        Ok(_) => Some(RegexProblem {
            unsupported: false,
            message: "pattern compiles to more than the engine's 1 MiB limit".to_owned(),
            range: Span::new(0, pattern.len()),
        }),
        Err(error) => {
            let span = error.span();
            Some(RegexProblem {
                unsupported: false,
                message: error.kind().to_string(),
                range: Span::new(span.start.offset, span.end.offset),
            })
        }
    }
}

/// Finds `(?>` or a quantifier followed by `+`, outside character classes and escapes.
fn java_only_construct(pattern: &str) -> Option<Span> {
    let bytes = pattern.as_bytes();
    let mut in_class = false;
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'\\' => index += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'(' if !in_class && bytes.get(index + 1..index + 3) == Some(b"?>") => {
                return Some(Span::new(index, index + 3));
            }
            b'*' | b'+' | b'?' | b'}' if !in_class && bytes.get(index + 1) == Some(&b'+') => {
                return Some(Span::new(index, index + 2));
            }
            _ => {}
        }
        index += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_time_patterns_pass() {
        for pattern in ["a{2,}", "^[0-9]+$", r"\d+\.\d*", "(foo|bar)baz", "[+*]+"] {
            assert_eq!(problem(pattern), None, "{pattern}");
        }
    }

    #[test]
    fn java_only_constructs_are_unsupported() {
        for pattern in [r"(a)\1", "a(?=b)", "(?<!x)y", "a*+", "(?>ab)"] {
            assert!(problem(pattern).is_some_and(|problem| problem.unsupported), "{pattern}");
        }
    }

    #[test]
    fn broken_patterns_are_invalid() {
        let found = problem("(ab").map(|problem| (problem.unsupported, problem.range));
        assert_eq!(found, Some((false, Span::new(0, 1))));
        assert!(problem("a{3,1}").is_some_and(|problem| !problem.unsupported));
    }
}
