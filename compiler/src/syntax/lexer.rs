//! Tokens of IoT SQL, produced by logos and adapted to lalrpop's external-lexer interface.
//!
//! lalrpop stops at the first lexer `Err`, so the adapter never yields one: it records a
//! diagnostic and yields [`Token::Error`] instead, and the grammar's error recovery carries on.

use std::cell::Cell;
use std::rc::Rc;

use logos::Logos;

use crate::diagnostics::{Code, Diagnostic};
use crate::span::Span;

/// Why logos could not produce a token. logos only needs a default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LexError;

#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(error = LexError)]
pub enum Token<'src> {
    #[token("select", ignore(case))]
    Select,
    #[token("value", ignore(case))]
    Value,
    #[token("as", ignore(case))]
    As,
    #[token("from", ignore(case))]
    From,
    #[token("where", ignore(case))]
    Where,
    #[token("set", ignore(case))]
    Set,
    #[token("and", ignore(case))]
    And,
    #[token("or", ignore(case))]
    Or,
    #[token("not", ignore(case))]
    Not,
    #[token("in", ignore(case))]
    In,
    #[token("case", ignore(case))]
    Case,
    #[token("when", ignore(case))]
    When,
    #[token("then", ignore(case))]
    Then,
    #[token("else", ignore(case))]
    Else,
    #[token("end", ignore(case))]
    End,
    #[token("true", ignore(case))]
    True,
    #[token("false", ignore(case))]
    False,
    #[token("null", ignore(case))]
    Null,

    #[token(",")]
    Comma,
    #[token(".")]
    Dot,
    #[token(":")]
    Colon,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("=")]
    Eq,
    #[token("<>")]
    Ne,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    /// `!=`, reported and then read as `<>`.
    #[token("!=")]
    BangEq,
    /// `==`, reported and then read as `=`.
    #[token("==")]
    EqEq,
    /// `||`, reported and then read as `+`.
    #[token("||")]
    PipePipe,
    /// `!`, reported and then read as `NOT`.
    #[token("!")]
    Bang,
    /// `-- ...` or `/* ... */`: IoT SQL has no comments; reported and skipped.
    #[regex(r"--[^\n]*", allow_greedy = true)]
    #[regex(r"/\*([^*]|\*+[^*/])*\*+/")]
    Comment,
    /// `/*` never closed: the rest of the input. Without it logos would look for a `*/` to the
    /// end of the input at every `/*` and then back off, which makes many unclosed ones
    /// quadratic.
    #[regex(r"/\*([^*]|\*+[^*/])*\**", allow_greedy = true)]
    UnclosedComment,
    /// `;`: a rule holds one statement.
    #[token(";")]
    Semicolon,

    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident(&'src str),
    /// `@name`, without the `@`.
    #[regex(r"@[A-Za-z_][A-Za-z0-9_]*", |lex| &lex.slice()[1..])]
    Variable(&'src str),
    /// `@` not followed by a valid name, such as `@1x`.
    #[regex(r"@[0-9][A-Za-z0-9_]*|@")]
    InvalidVariable,
    #[regex(r"[0-9]+")]
    Integer(&'src str),
    #[regex(r"[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?")]
    #[regex(r"[0-9]+[eE][+-]?[0-9]+")]
    Decimal(&'src str),
    /// A quoted string, quotes included; see [`unescape`].
    #[regex(r"'([^'\\]|\\(.|\n))*'")]
    #[regex(r#""([^"\\]|\\(.|\n))*""#)]
    String(&'src str),
    /// A quote that is never closed; the rest of the input is its text.
    #[regex(r"'([^'\\]|\\(.|\n))*", allow_greedy = true)]
    #[regex(r#""([^"\\]|\\(.|\n))*"#, allow_greedy = true)]
    UnterminatedString(&'src str),

    /// Stands for input the lexer could not read; never produced by logos itself.
    Error,
}

impl Token<'_> {
    /// How the token reads in a diagnostic.
    pub fn describe(&self) -> String {
        match self {
            Token::Ident(name) => format!("identifier `{name}`"),
            Token::Variable(name) => format!("variable `@{name}`"),
            Token::Integer(text) | Token::Decimal(text) => format!("number `{text}`"),
            Token::String(text) | Token::UnterminatedString(text) => format!("string {text}"),
            Token::Error => "invalid input".to_owned(),
            other => format!("`{}`", other.text()),
        }
    }

    /// The fixed spelling of a keyword or punctuation token.
    fn text(&self) -> &'static str {
        match self {
            Token::Select => "SELECT",
            Token::Value => "VALUE",
            Token::As => "AS",
            Token::From => "FROM",
            Token::Where => "WHERE",
            Token::Set => "SET",
            Token::And => "AND",
            Token::Or => "OR",
            Token::Not => "NOT",
            Token::In => "IN",
            Token::Case => "CASE",
            Token::When => "WHEN",
            Token::Then => "THEN",
            Token::Else => "ELSE",
            Token::End => "END",
            Token::True => "TRUE",
            Token::False => "FALSE",
            Token::Null => "NULL",
            Token::Comma => ",",
            Token::Dot => ".",
            Token::Colon => ":",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::LBracket => "[",
            Token::RBracket => "]",
            Token::LBrace => "{",
            Token::RBrace => "}",
            Token::Star => "*",
            Token::Slash => "/",
            Token::Percent => "%",
            Token::Plus => "+",
            Token::Minus => "-",
            Token::Eq => "=",
            Token::Ne => "<>",
            Token::Lt => "<",
            Token::Le => "<=",
            Token::Gt => ">",
            Token::Ge => ">=",
            Token::BangEq => "!=",
            Token::EqEq => "==",
            Token::PipePipe => "||",
            Token::Bang => "!",
            Token::Semicolon => ";",
            Token::Ident(_)
            | Token::Variable(_)
            | Token::Integer(_)
            | Token::Decimal(_)
            | Token::String(_)
            | Token::UnterminatedString(_)
            | Token::InvalidVariable
            | Token::Comment
            | Token::UnclosedComment
            | Token::Error => "",
        }
    }
}

/// The item lalrpop pulls from an external lexer.
pub type Spanned<'src> = Result<(usize, Token<'src>, usize), LexError>;

/// After this many problems in one statement (lexical problems, and syntax errors the parser
/// recovered from), the parser's lexer stops reading: only the first few are shown, and each
/// recovery costs the parser a list of the tokens it expected.
pub const STOP_AFTER: usize = 1_000;

/// Feeds logos tokens to the parser, turning lexical problems into diagnostics.
pub struct Lexer<'src> {
    inner: logos::SpannedIter<'src, Token<'src>>,
    pub diagnostics: Vec<Diagnostic>,
    /// The last string that swallowed SQL keywords, likely because its closing quote is missing.
    swallowing_string: Option<Span>,
    /// Whether problems become diagnostics; tooling that wants only the tokens skips them.
    report: bool,
    /// Problems so far, shared with the parser, which counts its recoveries; reading stops at
    /// [`STOP_AFTER`]. `None`: read everything.
    problems: Option<Rc<Cell<usize>>>,
    /// The end of the last token read.
    read: usize,
    /// Where reading stopped because of too many problems.
    pub stopped_at: Option<usize>,
}

impl std::fmt::Debug for Lexer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexer").field("diagnostics", &self.diagnostics).finish_non_exhaustive()
    }
}

impl<'src> Lexer<'src> {
    /// Every token of `source`, every problem a diagnostic.
    pub fn new(source: &'src str) -> Self {
        Self {
            inner: Token::lexer(source).spanned(),
            diagnostics: Vec::new(),
            swallowing_string: None,
            report: true,
            problems: None,
            read: 0,
            stopped_at: None,
        }
    }

    /// Every token of `source`, without diagnostics: a problem costs nothing but its
    /// `Token::Error`.
    pub fn tokens_only(source: &'src str) -> Self {
        Self { report: false, ..Self::new(source) }
    }

    /// The parser's lexer: it counts its problems into `problems`, which the parser shares,
    /// and ends the input at [`STOP_AFTER`].
    pub(crate) fn for_parser(source: &'src str, problems: Rc<Cell<usize>>) -> Self {
        Self { problems: Some(problems), ..Self::new(source) }
    }

    /// Reports a problem, building its diagnostic only when diagnostics are wanted.
    fn problem(&mut self, build: impl FnOnce(&Self) -> Diagnostic) {
        if let Some(problems) = &self.problems {
            problems.set(problems.get().saturating_add(1));
        }
        if self.report {
            let diagnostic = build(self);
            self.diagnostics.push(diagnostic);
        }
    }

    fn too_many_problems(&self) -> bool {
        self.problems.as_ref().is_some_and(|problems| problems.get() >= STOP_AFTER)
    }
}

impl<'src> Iterator for Lexer<'src> {
    type Item = Spanned<'src>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped_at.is_some() {
            return None;
        }
        if self.too_many_problems() {
            self.stopped_at = Some(self.read);
            return None;
        }
        let (mut token, mut range) = self.inner.next()?;
        while let Ok(Token::Comment | Token::UnclosedComment) = token {
            if self.too_many_problems() {
                self.stopped_at = Some(range.start);
                return None;
            }
            let closed = token == Ok(Token::Comment);
            self.problem(|_| {
                let diagnostic = Diagnostic::error(
                    Code::InvalidToken,
                    Span::new(range.start, range.start + 2),
                    "IoT SQL has no comments",
                )
                .with_label("comment");
                if closed {
                    diagnostic.with_help("remove the comment; keep notes in the rule's `description` instead")
                } else {
                    diagnostic
                        .with_help("this comment is never closed, so it takes the rest of the statement; remove it")
                }
            });
            (token, range) = self.inner.next()?;
        }
        self.read = range.end;
        let span = Span::new(range.start, range.end);
        let token = match token {
            Ok(Token::BangEq) => {
                self.problem(|_| foreign_operator(span, "!=", "<>"));
                Token::Ne
            }
            Ok(Token::EqEq) => {
                self.problem(|_| foreign_operator(span, "==", "="));
                Token::Eq
            }
            Ok(Token::PipePipe) => {
                self.problem(|_| {
                    Diagnostic::error(Code::ForeignOperator, span, "IoT SQL has no `||` operator")
                        .with_label("read as `+`")
                        .with_help("join strings with `+` or `concat(a, b)`")
                });
                Token::Plus
            }
            Ok(Token::Bang) => {
                self.problem(|_| foreign_operator(span, "!", "NOT"));
                Token::Not
            }
            Ok(Token::Semicolon) => {
                self.problem(|_| {
                    Diagnostic::error(Code::InvalidToken, span, "unexpected `;`")
                        .with_label("not part of IoT SQL")
                        .with_help("a rule is one statement without a terminator; remove the `;`")
                });
                Token::Error
            }
            Ok(Token::InvalidVariable) => {
                self.problem(|lexer| {
                    let text = lexer.inner.slice();
                    Diagnostic::error(Code::InvalidToken, span, format!("`{text}` is not a valid variable name"))
                        .with_label("invalid name")
                        .with_help("a variable is `@` followed by a letter or `_`, then letters, digits or `_`")
                });
                Token::Error
            }
            Ok(Token::UnterminatedString(text)) => {
                let earlier = self.swallowing_string;
                self.problem(|_| {
                    let quote = text.chars().next().unwrap_or('\'');
                    let diagnostic = Diagnostic::error(
                        Code::UnterminatedString,
                        Span::new(span.start, span.start + 1),
                        "string is never closed",
                    )
                    .with_label("this quote has no partner");
                    match earlier {
                        Some(earlier) => diagnostic
                            .with_related(earlier, "this string may be missing its closing quote")
                            .with_help("the quotes are unbalanced; close the earlier string where its text ends"),
                        None => diagnostic.with_help(format!("end the string with a matching {quote}")),
                    }
                });
                Token::Error
            }
            Ok(Token::String(text)) => {
                // Only strings with spaces can have swallowed keywords; most have none.
                if self.report && text.contains(' ') {
                    let upper = text.to_ascii_uppercase();
                    if [" FROM ", " WHERE ", " AS ", " SELECT "].iter().any(|keyword| upper.contains(keyword)) {
                        self.swallowing_string = Some(span);
                    }
                }
                Token::String(text)
            }
            // logos folds case with Unicode rules, so `ſELECT` would read as SELECT.
            Ok(token) if !token.text().is_empty() && !self.inner.slice().is_ascii() => {
                self.problem(|lexer| {
                    let text = lexer.inner.slice();
                    Diagnostic::error(Code::InvalidToken, span, format!("`{text}` is not the keyword {}", token.text()))
                        .with_label("not ASCII")
                        .with_help("write keywords with ASCII letters")
                });
                Token::Error
            }
            Ok(token) => token,
            Err(LexError) => {
                self.problem(|lexer| {
                    let text = lexer.inner.slice();
                    let shown = text.chars().next().map(|c| c.escape_debug().to_string()).unwrap_or_default();
                    let help = if text.starts_with('#') {
                        "IoT SQL has no comments; a topic filter such as `a/#` goes in single quotes after FROM"
                    } else {
                        "remove it, or put it inside a quoted string"
                    };
                    Diagnostic::error(Code::InvalidToken, span, format!("unexpected character `{shown}`"))
                        .with_label("not part of IoT SQL")
                        .with_help(help)
                });
                Token::Error
            }
        };
        Some(Ok((span.start, token, span.end)))
    }
}

fn foreign_operator(span: Span, found: &str, instead: &str) -> Diagnostic {
    Diagnostic::error(Code::ForeignOperator, span, format!("IoT SQL has no `{found}` operator"))
        .with_label(format!("read as `{instead}`"))
        .with_help(format!("write `{instead}`"))
}

/// The text of a string literal: quotes removed, escapes resolved.
///
/// AWS does not document escapes. `\'`, `\"`, `\\`, `\n`, `\r`, `\t` and `\uXXXX` are resolved
/// as in JSON; a backslash before anything else stays as written, so regular expressions such
/// as `'\d+'` reach the regex engine unchanged.
pub fn unescape(quoted: &str) -> String {
    unescape_with_offsets(quoted).0
}

/// [`unescape`], plus for every byte offset of the text (and its end) the offset in `quoted`
/// where that byte's source starts, so positions inside the text map back to the source.
pub fn unescape_with_offsets(quoted: &str) -> (String, Vec<usize>) {
    let inner = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default();
    let mut out = String::with_capacity(inner.len());
    let mut offsets = Vec::with_capacity(inner.len() + 1);
    let mut rest = inner;
    while let Some(c) = rest.chars().next() {
        let at = 1 + inner.len() - rest.len();
        let (decoded, consumed) = match (c, rest.get(1..2)) {
            ('\\', Some(escaped @ ("'" | "\"" | "\\"))) => (escaped.chars().next().unwrap_or(c), 2),
            ('\\', Some("n")) => ('\n', 2),
            ('\\', Some("r")) => ('\r', 2),
            ('\\', Some("t")) => ('\t', 2),
            ('\\', Some("u")) => {
                let decoded = rest.get(2..6).and_then(|hex| u32::from_str_radix(hex, 16).ok()).and_then(char::from_u32);
                match decoded {
                    Some(decoded) if rest.get(2..6).is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit())) => {
                        (decoded, 6)
                    }
                    _ => ('\\', 1),
                }
            }
            _ => (c, c.len_utf8()),
        };
        offsets.extend(std::iter::repeat_n(at, decoded.len_utf8()));
        out.push(decoded);
        rest = rest.get(consumed..).unwrap_or_default();
    }
    offsets.push(1 + inner.len());
    (out, offsets)
}
