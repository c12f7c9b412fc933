//! Runs the generated parser and turns its errors into diagnostics.

use std::cell::Cell;
use std::rc::Rc;

use lalrpop_util::{ErrorRecovery, ParseError};

use crate::decimal::Decimal;
use crate::diagnostics::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast::{BinaryOp, Case, Expr, ExprKind, MAX_DEPTH, Name, Query, Statement, StringLit, UnaryOp};
use crate::syntax::grammar::{ExprParser, StatementParser};
use crate::syntax::lexer::{self, LexError, Lexer, STOP_AFTER, Token};

/// At most this many syntax errors are reported for one statement.
const MAX_SYNTAX_ERRORS: usize = 50;

/// The outcome of parsing: the tree when one could be built, and every syntax diagnostic.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub statement: Option<Statement>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one IoT SQL statement. Never panics, recurses or loops unboundedly, whatever `source`
/// holds; error nodes in the tree stand for the parts that were reported.
pub fn parse(source: &str) -> Parsed {
    let (statement, mut diagnostics, stopped_at) =
        run(source, "statement", |state, lexer| StatementParser::new().parse(state, lexer).map(|statement| *statement));
    if diagnostics.len() > MAX_SYNTAX_ERRORS || stopped_at.is_some() {
        let rest = diagnostics.len().saturating_sub(MAX_SYNTAX_ERRORS);
        diagnostics.truncate(MAX_SYNTAX_ERRORS);
        let (at, message) = match stopped_at {
            Some(at) => (
                at,
                format!(
                    "{rest} more syntax errors not shown; after {STOP_AFTER} problems the statement is not read further"
                ),
            ),
            None => (source.len(), format!("{rest} more syntax errors not shown")),
        };
        diagnostics.push(
            Diagnostic::error(Code::TooManyErrors, Span::new(at, at), message)
                .with_help("fix the errors above first; the rest often follow from them"),
        );
    }
    Parsed { statement, diagnostics }
}

type GrammarResult<'src, T> = Result<T, ParseError<usize, Token<'src>, LexError>>;

/// Runs one of the generated parsers; `subject` names what it parses in messages. Also
/// returns where reading stopped, when there were too many problems to read on.
fn run<'src, T>(
    source: &'src str,
    subject: &str,
    parser: impl FnOnce(&mut ParseState<'src>, &mut Lexer<'src>) -> GrammarResult<'src, T>,
) -> (Option<T>, Vec<Diagnostic>, Option<usize>) {
    let problems = Rc::new(Cell::new(0));
    let mut lexer = Lexer::for_parser(source, problems.clone());
    let mut state = ParseState { source, errors: Vec::new(), problems, diagnostics: Vec::new(), too_deep: false };
    let result = parser(&mut state, &mut lexer);

    let mut diagnostics = lexer.diagnostics;
    diagnostics.append(&mut state.diagnostics);
    let recovered = state.errors.into_iter().map(|recovery| recovery.error);
    let (tree, fatal) = match result {
        Ok(tree) => (Some(tree), None),
        Err(error) => (None, Some(error)),
    };
    diagnostics.extend(recovered.chain(fatal).filter_map(|error| syntax_error(source, subject, error)));
    diagnostics.sort_by_key(|diagnostic| diagnostic.span().start);
    (tree, diagnostics, lexer.stopped_at)
}

/// The outcome of parsing a lone expression, as a substitution template holds one.
#[derive(Clone, Debug)]
pub struct ParsedExpr {
    pub expr: Option<Expr>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one IoT SQL expression, with the same guarantees as [`parse`].
pub fn parse_expr(source: &str) -> ParsedExpr {
    let (expr, mut diagnostics, _) =
        run(source, "expression", |state, lexer| ExprParser::new().parse(state, lexer).map(|expr| *expr));
    diagnostics.truncate(MAX_SYNTAX_ERRORS);
    ParsedExpr { expr, diagnostics }
}

/// An operand of an operator chain and its extent in the source.
pub(crate) type Operand = (usize, Box<Expr>, usize);

/// What the grammar's actions share while the parser runs.
#[derive(Debug)]
pub struct ParseState<'src> {
    source: &'src str,
    errors: Vec<ErrorRecovery<usize, Token<'src>, LexError>>,
    /// Problems so far, shared with the lexer, which stops reading at `lexer::STOP_AFTER`.
    problems: Rc<Cell<usize>>,
    diagnostics: Vec<Diagnostic>,
    too_deep: bool,
}

impl<'src> ParseState<'src> {
    /// Keeps an error the grammar recovered from, for its diagnostic.
    pub(crate) fn recover(&mut self, error: ErrorRecovery<usize, Token<'src>, LexError>) {
        self.problems.set(self.problems.get().saturating_add(1));
        self.errors.push(error);
    }
}

impl ParseState<'_> {
    pub(crate) fn name(&self, l: usize, r: usize) -> Name {
        Name { text: self.source.get(l..r).unwrap_or_default().to_owned(), span: Span::new(l, r) }
    }

    pub(crate) fn string(&self, l: usize, r: usize, quoted: &str) -> StringLit {
        StringLit { value: lexer::unescape(quoted), span: Span::new(l, r) }
    }

    /// An integer literal: an Int when it fits 64 bits, else a whole Decimal (AWS's Ints hold
    /// 34 digits, which a whole Decimal of at most 34 digits keeps exactly).
    pub(crate) fn integer(&mut self, l: usize, r: usize, text: &str) -> Box<Expr> {
        let span = Span::new(l, r);
        match text.parse::<i64>() {
            Ok(value) => Box::new(Expr::leaf(ExprKind::Integer(value), span)),
            Err(_) => self.big_number(span, text),
        }
    }

    pub(crate) fn decimal(&mut self, l: usize, r: usize, text: &str) -> Box<Expr> {
        self.big_number(Span::new(l, r), text)
    }

    /// A literal read as a Decimal, with a warning when it has more digits than a Decimal
    /// keeps or lies outside its range.
    fn big_number(&mut self, span: Span, text: &str) -> Box<Expr> {
        let value = Decimal::parse(text);
        if let Some(diagnostic) = number_warning(span, text, value.as_ref()) {
            self.diagnostics.push(diagnostic);
        }
        Box::new(Expr::leaf(ExprKind::Decimal(value.map(Box::new)), span))
    }

    /// Folds the sign into a number literal, so `-9223372036854775808` is the smallest Int and
    /// a range warning quotes the literal with its sign.
    pub(crate) fn negate(&mut self, l: usize, r: usize, operand: Box<Expr>) -> Box<Expr> {
        let span = Span::new(l, r);
        match operand.kind {
            ExprKind::Integer(value) if value != i64::MIN => Box::new(Expr::leaf(ExprKind::Integer(-value), span)),
            ExprKind::Decimal(value) => {
                let digits = self.source.get(operand.span.start..operand.span.end).unwrap_or_default();
                let text = format!("-{digits}");
                if let Ok(value) = text.parse::<i64>() {
                    return Box::new(Expr::leaf(ExprKind::Integer(value), span));
                }
                // The literal was reduced just before its sign, so its warning, if any, is the
                // last one; looking further back would cost a scan per negative number.
                let warned = self.diagnostics.last().is_some_and(|d| {
                    matches!(d.code, Code::IntegerOutOfRange | Code::NumberOutOfRange) && d.span() == operand.span
                });
                let value = value.map(|value| Box::new(value.neg()));
                if warned {
                    self.diagnostics.pop();
                    if let Some(diagnostic) = number_warning(span, &text, value.as_deref()) {
                        self.diagnostics.push(diagnostic);
                    }
                }
                Box::new(Expr::leaf(ExprKind::Decimal(value), span))
            }
            _ => self.unary(l, r, UnaryOp::Neg, operand),
        }
    }

    pub(crate) fn unary(&mut self, l: usize, r: usize, op: UnaryOp, operand: Box<Expr>) -> Box<Expr> {
        let depth = operand.depth();
        self.node(l, r, depth, ExprKind::Unary { op, operand })
    }

    /// Folds a chain of left-associative operators, `first op operand op operand ...`, into the
    /// tree their precedence gives: `a OR b AND c` is `a OR (b AND c)`, `a - b - c` is
    /// `(a - b) - c`. Each operand comes with its extent in the source, parentheses included,
    /// so every node spans what the precedence levels of the grammar would have given it.
    pub(crate) fn chain(&mut self, first: Operand, rest: Vec<(BinaryOp, Operand)>) -> Box<Expr> {
        let mut operands = Vec::with_capacity(rest.len() + 1);
        let mut operators: Vec<BinaryOp> = Vec::with_capacity(rest.len());
        operands.push(first);
        for (op, operand) in rest {
            while operators.last().is_some_and(|top| top.binding() >= op.binding()) {
                self.apply(&mut operands, &mut operators);
            }
            operators.push(op);
            operands.push(operand);
        }
        while !operators.is_empty() {
            self.apply(&mut operands, &mut operators);
        }
        match operands.pop() {
            Some((_, expr, _)) => expr,
            // Unreachable: every operator joins two operands into one, so one remains.
            None => Box::new(Expr::error(Span::new(0, 0))),
        }
    }

    /// Joins the last two operands with the last operator.
    fn apply(&mut self, operands: &mut Vec<Operand>, operators: &mut Vec<BinaryOp>) {
        let (Some(op), Some((_, rhs, r)), Some((l, lhs, _))) = (operators.pop(), operands.pop(), operands.pop()) else {
            return;
        };
        let joined = self.binary(l, r, op, lhs, rhs);
        operands.push((l, joined, r));
    }

    pub(crate) fn binary(&mut self, l: usize, r: usize, op: BinaryOp, lhs: Box<Expr>, rhs: Box<Expr>) -> Box<Expr> {
        let depth = lhs.depth().max(rhs.depth());
        self.node(l, r, depth, ExprKind::Binary { op, lhs, rhs })
    }

    pub(crate) fn field(&mut self, l: usize, r: usize, base: Box<Expr>, name: Name) -> Box<Expr> {
        let depth = base.depth();
        self.node(l, r, depth, ExprKind::Field { base, name: Box::new(name) })
    }

    pub(crate) fn index(&mut self, l: usize, r: usize, base: Box<Expr>, index: Box<Expr>) -> Box<Expr> {
        let depth = base.depth().max(index.depth());
        self.node(l, r, depth, ExprKind::Index { base, index })
    }

    pub(crate) fn call(&mut self, l: usize, r: usize, function: Name, args: Vec<Expr>) -> Box<Expr> {
        let depth = max_depth(&args);
        self.node(l, r, depth, ExprKind::Call { function: Box::new(function), args: args.into_boxed_slice() })
    }

    pub(crate) fn cast(&mut self, l: usize, r: usize, function: Name, value: Box<Expr>, target: Name) -> Box<Expr> {
        let depth = value.depth();
        self.node(l, r, depth, ExprKind::Cast { function: Box::new(function), value, target: Box::new(target) })
    }

    pub(crate) fn case(
        &mut self,
        l: usize,
        r: usize,
        subject: Option<Box<Expr>>,
        branches: Vec<(Box<Expr>, Box<Expr>)>,
        otherwise: Option<Box<Expr>>,
    ) -> Box<Expr> {
        let branches: Vec<(Expr, Expr)> = branches.into_iter().map(|(when, then)| (*when, *then)).collect();
        let depth = subject
            .iter()
            .chain(otherwise.iter())
            .map(|expr| &**expr)
            .chain(branches.iter().flat_map(|(when, then)| [when, then]))
            .map(Expr::depth)
            .max()
            .unwrap_or(0);
        let kind = ExprKind::Case(Box::new(Case { subject, branches, otherwise }));
        self.node(l, r, depth, kind)
    }

    pub(crate) fn object(&mut self, l: usize, r: usize, entries: Vec<(StringLit, Box<Expr>)>) -> Box<Expr> {
        let entries: Vec<(StringLit, Expr)> = entries.into_iter().map(|(key, value)| (key, *value)).collect();
        let depth = entries.iter().map(|(_, value)| value.depth()).max().unwrap_or(0);
        self.node(l, r, depth, ExprKind::Object(entries))
    }

    pub(crate) fn array(&mut self, l: usize, r: usize, items: Vec<Expr>) -> Box<Expr> {
        let depth = max_depth(&items);
        self.node(l, r, depth, ExprKind::Array(items))
    }

    pub(crate) fn query(&mut self, l: usize, r: usize, query: Box<Query>) -> Box<Expr> {
        let depth = query.children().map(Expr::depth).max().unwrap_or(0);
        self.node(l, r, depth, ExprKind::Query(query))
    }

    /// Builds a node of the tree. Nodes travel through the parser boxed: an LR parser moves each
    /// value through every precedence level it is reduced through, and a pointer moves cheaply.
    fn node(&mut self, l: usize, r: usize, child_depth: u32, kind: ExprKind) -> Box<Expr> {
        let span = Span::new(l, r);
        Box::new(Expr::node(kind, span, child_depth).unwrap_or_else(|| {
            if !self.too_deep {
                self.too_deep = true;
                let word = self.source.get(l..).unwrap_or_default();
                let head = word.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(word.len()).max(1);
                let head = Span::new(l, (l + head).min(r));
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::NestingTooDeep,
                        head,
                        format!("expression nests more than {MAX_DEPTH} levels deep"),
                    )
                    .with_label("too deep from here")
                    .with_help("split the expression, for example with SET variables or fewer chained operators"),
                );
            }
            Expr::error(span)
        }))
    }
}

/// Why a number literal does not keep its exact value, if it does not: more significant
/// digits than a Decimal keeps (34), or a magnitude outside AWS's Decimal range.
fn number_warning(span: Span, text: &str, value: Option<&Decimal>) -> Option<Diagnostic> {
    let quoted =
        if text.len() > 40 { format!("{}...", &text[..text.floor_char_boundary(40)]) } else { text.to_owned() };
    let Some(value) = value else {
        return Some(
            Diagnostic::warning(Code::NumberOutOfRange, span, format!("`{quoted}` is outside the Decimal range"))
                .with_label("evaluates to Undefined")
                .with_help("AWS IoT SQL Decimals lie between 1E-999 and 9.999...E999 in magnitude (or are 0)"),
        );
    };
    let significant =
        text.split(['e', 'E']).next().unwrap_or_default().chars().filter(char::is_ascii_digit).collect::<String>();
    let significant = significant.trim_start_matches('0').trim_end_matches('0').len();
    (significant > crate::decimal::PRECISION as usize).then(|| {
        let code = if value.is_integer() && !text.contains(['.', 'e', 'E']) {
            Code::IntegerOutOfRange
        } else {
            Code::NumberOutOfRange
        };
        Diagnostic::warning(code, span, format!("`{quoted}` has more than 34 significant digits"))
            .with_label(format!("read as {}", value.to_text(true)))
            .with_help("AWS IoT SQL keeps 34 significant digits of a number, rounding half to even")
    })
}

fn max_depth(exprs: &[Expr]) -> u32 {
    exprs.iter().map(Expr::depth).max().unwrap_or(0)
}

fn syntax_error(source: &str, subject: &str, error: ParseError<usize, Token<'_>, LexError>) -> Option<Diagnostic> {
    match error {
        ParseError::UnrecognizedToken { token: (_, Token::Error, _), .. } | ParseError::User { .. } => None,
        ParseError::InvalidToken { location } => Some(
            Diagnostic::error(Code::InvalidToken, Span::new(location, location + 1), "invalid input")
                .with_label("not part of IoT SQL")
                .with_help("remove it, or put it inside a quoted string"),
        ),
        ParseError::UnrecognizedEof { location, expected } => {
            if source.trim().is_empty() {
                return Some(
                    Diagnostic::error(Code::UnexpectedEnd, Span::new(0, source.len()), format!("{subject} is empty"))
                        .with_help("write a statement such as `SELECT * FROM 'topic/#'`"),
                );
            }
            let last = last_token(source, location);
            let help = if expects(&expected, ")") {
                "a `(` is never closed; add the `)`".to_owned()
            } else {
                format!("expected {} after this", expected_list(&expected))
            };
            Some(
                Diagnostic::error(Code::UnexpectedEnd, last, format!("{subject} ends before it is complete"))
                    .with_label("more was expected after this")
                    .with_help(help),
            )
        }
        ParseError::UnrecognizedToken { token: (l, token, r), expected } => {
            let span = Span::new(l, r);
            let written = describe(source, &token, span);
            let help = unexpected_help(source, &token, span, &expected);
            Some(
                Diagnostic::error(Code::UnexpectedToken, span, format!("unexpected {written}"))
                    .with_label("not expected here")
                    .with_help(help),
            )
        }
        ParseError::ExtraToken { token: (l, token, r) } => {
            let span = Span::new(l, r);
            Some(
                Diagnostic::error(
                    Code::UnexpectedToken,
                    span,
                    format!("unexpected {} after the {subject}", describe(source, &token, span)),
                )
                .with_label(format!("the {subject} already ended"))
                .with_help(if subject == "statement" {
                    "a rule holds exactly one statement; remove what follows it"
                } else {
                    "a substitution holds exactly one expression; remove what follows it"
                }),
            )
        }
    }
}

/// A token as the user wrote it: keywords keep their case.
fn describe(source: &str, token: &Token<'_>, span: Span) -> String {
    match token {
        Token::Ident(_) | Token::Variable(_) | Token::Integer(_) | Token::Decimal(_) | Token::String(_) => {
            token.describe()
        }
        _ => format!("`{}`", source.get(span.start..span.end).unwrap_or_default()),
    }
}

fn expects(expected: &[String], terminal: &str) -> bool {
    expected.iter().any(|name| name.trim_matches('"') == terminal)
}

/// Clauses of other SQL dialects that IoT SQL does not have.
const FOREIGN_CLAUSES: &[&str] = &["limit", "order", "group", "having", "join", "union", "top", "offset", "into"];

fn unexpected_help(source: &str, token: &Token<'_>, span: Span, expected: &[String]) -> String {
    let before = source.get(..span.start).unwrap_or_default().trim_end();
    let after_value_keyword = before.len() >= 5
        && before.get(before.len() - 5..).is_some_and(|word| word.eq_ignore_ascii_case("value"))
        && !before.get(..before.len() - 5).unwrap_or_default().ends_with(|c: char| c.is_alphanumeric() || c == '_');
    match token {
        Token::Value => {
            return "`value` is the keyword of SELECT VALUE; to read a payload attribute named value write `get(*, 'value')`"
                .to_owned();
        }
        Token::From if after_value_keyword => {
            return "`SELECT VALUE` needs an expression; to read a payload attribute named value write `get(*, 'value')`"
                .to_owned();
        }
        Token::From if before.ends_with(',') => return "remove the `,` before FROM".to_owned(),
        Token::From if expects(expected, "*") => {
            return "SELECT needs at least one item, such as `*` or an attribute name".to_owned();
        }
        Token::Ident(word) if FOREIGN_CLAUSES.contains(&word.to_ascii_lowercase().as_str()) => {
            return format!("IoT SQL has no {} clause; a statement ends after WHERE", word.to_ascii_uppercase());
        }
        Token::Eq | Token::Ne | Token::Lt | Token::Le | Token::Gt | Token::Ge if !expects(expected, "=") => {
            return "comparisons do not chain; write `a < b AND b < c`".to_owned();
        }
        Token::String(text) if text.starts_with('\'') && expects(expected, ",") => {
            return "two strings in a row; to put a quote inside a string write `\\'`".to_owned();
        }
        Token::Comma if expects(expected, "FROM") && !expects(expected, ",") => {
            return "SELECT VALUE takes exactly one expression".to_owned();
        }
        Token::From | Token::Where if expects(expected, ")") => {
            return "a `(` is never closed; add the `)`".to_owned();
        }
        _ => {}
    }
    if expects(expected, "SELECT") && expects(expected, "SET") {
        return "a rule statement starts with SELECT (or SET)".to_owned();
    }
    let starts_expression = matches!(
        token,
        Token::Ident(_) | Token::Integer(_) | Token::Decimal(_) | Token::String(_) | Token::Variable(_)
    );
    if starts_expression && expects(expected, ",") && expects(expected, "AS") {
        return "missing `,` between items, or `AS` before an alias?".to_owned();
    }
    format!("expected {}", expected_list(expected))
}

/// The last token before `end`, where a diagnostic about what is missing points.
fn last_token(source: &str, end: usize) -> Span {
    let before = source.get(..end.min(source.len())).unwrap_or_default().trim_end();
    let start =
        before.char_indices().rev().take_while(|(_, c)| !c.is_whitespace()).last().map_or(before.len(), |(i, _)| i);
    Span::new(start, before.len())
}

/// Renders lalrpop's expected-terminal list (whose names carry their quotes) for a help line,
/// folding the ways to start an expression and the binary operators into one phrase each.
fn expected_list(expected: &[String]) -> String {
    const EXPRESSION_STARTS: &[&str] = &[
        "identifier",
        "integer",
        "decimal",
        "string",
        "variable",
        "TRUE",
        "FALSE",
        "NULL",
        "CASE",
        "(",
        "[",
        "{",
        "-",
        "*",
        "NOT",
    ];
    const OPERATORS: &[&str] =
        &["AND", "OR", "IN", "=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", ".", "[", "("];
    /// Keywords that only stand in for a name (`AS value`), never worth listing.
    const NAME_KEYWORDS: &[&str] = &[
        "VALUE", "SET", "AS", "AND", "OR", "IN", "NOT", "CASE", "WHEN", "THEN", "ELSE", "END", "TRUE", "FALSE", "NULL",
    ];
    let names: Vec<&str> = expected.iter().map(|name| name.trim_matches('"')).collect();
    let is_expression = names.contains(&"identifier") && names.contains(&"integer");
    let is_name = names.contains(&"identifier") && !is_expression;
    let has_operators = names.iter().filter(|name| OPERATORS.contains(name)).count() >= 5;
    let mut shown: Vec<String> = Vec::new();
    if is_expression {
        shown.push("an expression".to_owned());
    }
    for name in names {
        if (is_expression && EXPRESSION_STARTS.contains(&name)) || (is_name && NAME_KEYWORDS.contains(&name)) {
            continue;
        }
        if has_operators && OPERATORS.contains(&name) {
            shown.push("an operator".to_owned());
            continue;
        }
        shown.push(match name {
            "identifier" => "a name".to_owned(),
            "integer" | "decimal" => "a number".to_owned(),
            "string" => "a quoted string".to_owned(),
            "variable" => "a `@variable`".to_owned(),
            other => format!("`{other}`"),
        });
    }
    let mut unique: Vec<String> = Vec::new();
    for item in shown {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    match unique.as_slice() {
        [] => "nothing more".to_owned(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
