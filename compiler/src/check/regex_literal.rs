//! Regular expressions in `regexp_*` calls, checked before they ever run.
//!
//! AWS runs Java's `java.util.regex`; iotrules runs `fancy-regex`, which has the Java
//! constructs the guide allows (lookahead, lookbehind, backreferences, atomic groups,
//! possessive quantifiers). A pattern that does not build is reported where the parser
//! stopped; one the parser reads but the engine cannot build is reported whole.

use fancy_regex::{CompileError, Error, Expr, ParseError};
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
    // The engine's own verdict, cached, settles most patterns without reparsing them.
    if crate::eval::functions::text::compile(pattern).is_some() {
        return None;
    }
    let whole = Span::new(0, pattern.len());
    if let Some((start, end)) = crate::eval::functions::text::inverted_repetition(pattern) {
        let message = "repetition range has its minimum above its maximum".to_owned();
        return Some(RegexProblem { unsupported: false, message, range: Span::new(start, end) });
    }
    Some(match Expr::parse_tree(pattern) {
        Err(Error::ParseError(at, error)) => {
            // Java's own flags (`(?d)` for UNIX_LINES) are valid there, just not here.
            let unsupported = match &error {
                ParseError::ChangingUnicodeModeUnsupported => true,
                ParseError::UnknownFlag(flag) => flag.ends_with(|c: char| "dmsuxU".contains(c)),
                _ => false,
            };
            RegexProblem { unsupported, message: error.to_string(), range: char_at(pattern, at) }
        }
        Err(Error::CompileError(error)) => {
            let unsupported = matches!(*error, CompileError::FeatureNotYetSupported(_));
            RegexProblem { unsupported, message: error.to_string(), range: whole }
        }
        Err(error) => RegexProblem { unsupported: false, message: error.to_string(), range: whole },
        // The parser reads it and building failed: a part handed to the linear-time engine
        // is wrong (its own parser says where, unless the pattern also has constructs only the
        // backtracking engine reads), or the pattern is too large.
        Ok(_) => delegated_problem(pattern).unwrap_or_else(|| {
            let message = delegated_error(pattern)
                .unwrap_or_else(|| "pattern compiles to more than the engine's 1 MiB limit".to_owned());
            RegexProblem { unsupported: false, message, range: whole }
        }),
    })
}

/// The linear-time engine's own description of why a delegated part does not build.
fn delegated_error(pattern: &str) -> Option<String> {
    let Some(Error::CompileError(error)) = crate::eval::functions::text::build_error(pattern) else { return None };
    let CompileError::InnerError(error) = *error else { return None };
    Some(match error.syntax_error()? {
        regex_syntax::Error::Parse(error) => error.kind().to_string(),
        regex_syntax::Error::Translate(error) => error.kind().to_string(),
        other => other.to_string(),
    })
}

/// What the linear-time engine's parser finds wrong in `pattern`, ignoring the constructs
/// only the backtracking engine runs.
fn delegated_problem(pattern: &str) -> Option<RegexProblem> {
    let problem = |message: String, span: &regex_syntax::ast::Span| RegexProblem {
        unsupported: false,
        message,
        range: Span::new(span.start.offset, span.end.offset),
    };
    match regex_syntax::ast::parse::Parser::new().parse(pattern) {
        Err(error) => match error.kind() {
            ErrorKind::UnsupportedBackreference | ErrorKind::UnsupportedLookAround => None,
            kind => Some(problem(kind.to_string(), error.span())),
        },
        Ok(ast) => regex_syntax::hir::translate::Translator::new()
            .translate(pattern, &ast)
            .err()
            .map(|error| problem(error.kind().to_string(), error.span())),
    }
}

/// The character of `pattern` at byte `at`, or the empty span at its end.
fn char_at(pattern: &str, at: usize) -> Span {
    let at = pattern.floor_char_boundary(at);
    let width = pattern.get(at..).and_then(|rest| rest.chars().next()).map_or(0, char::len_utf8);
    Span::new(at, at + width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns_pass() {
        for pattern in
            ["a{2,}", "^[0-9]+$", r"\d+\.\d*", "(foo|bar)baz", "[+*]+", r"(a)\1", "a(?=b)", "(?<!x)y", "a*+", "(?>ab)"]
        {
            assert_eq!(problem(pattern), None, "{pattern}");
        }
    }

    #[test]
    fn broken_patterns_are_invalid_where_the_parser_stopped() {
        let found = problem("(ab").map(|problem| (problem.unsupported, problem.range));
        assert_eq!(found, Some((false, Span::new(3, 3))));
        assert!(problem("a{3,1}").is_some_and(|problem| !problem.unsupported));
        assert!(problem(r"(a)\2").is_some_and(|problem| !problem.unsupported));
    }
}
