//! Reading IoT SQL around a cursor: the compiler's tokens, and which one the cursor is on.

use iotrules_compiler::Span;
use iotrules_compiler::syntax::lexer::{Lexer, Token};

/// Every token of `sql` with its span. The lexer reports problems as `Token::Error` and keeps
/// going, so any text gives a token list.
pub(crate) fn tokens(sql: &str) -> Vec<(Span, Token<'_>)> {
    Lexer::tokens_only(sql).filter_map(Result::ok).map(|(start, token, end)| (Span::new(start, end), token)).collect()
}

/// The index of the word-like token (identifier or keyword) under or just before `offset`.
pub(crate) fn word_at(tokens: &[(Span, Token<'_>)], offset: usize) -> Option<usize> {
    tokens.iter().position(|(span, token)| span.start <= offset && offset <= span.end && is_word(token))
}

/// Identifiers and keywords: the tokens hover and completion are about.
pub(crate) fn is_word(token: &Token<'_>) -> bool {
    matches!(
        token,
        Token::Ident(_)
            | Token::Select
            | Token::Value
            | Token::As
            | Token::From
            | Token::Where
            | Token::Set
            | Token::And
            | Token::Or
            | Token::Not
            | Token::In
            | Token::Case
            | Token::When
            | Token::Then
            | Token::Else
            | Token::End
            | Token::True
            | Token::False
            | Token::Null
    )
}
