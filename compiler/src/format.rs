//! The IoT SQL formatter behind `iotrules fmt` and the language server's formatting request.
//!
//! It prints the syntax tree, not the tokens: clause keywords in upper case, one clause per
//! line, single spaces around operators, parentheses only where precedence needs them. Leaf
//! text (strings, numbers, names) is copied from the source, so a literal keeps its quotes,
//! escapes and spelling.
//!
//! **Architecture Invariant:** formatting never changes meaning. The output parses to the same
//! tree as the input (spans aside), and formatting it again changes nothing. A statement with
//! syntax errors is not formatted at all, since its tree does not stand for all of its text.

use crate::syntax::ast::{Alias, BinaryOp, Expr, ExprKind, Query, Select, SelectItem, Statement, UnaryOp};
use crate::syntax::parse;

/// A SELECT list longer than this goes one item per line.
const MAX_LINE: usize = 100;

/// Indentation of SELECT items and SET assignments spread over several lines.
const INDENT: &str = "    ";

/// Formats one statement; `None` when it has syntax errors (the text is then best left as the
/// author wrote it). The result ends with a newline.
pub fn format_sql(source: &str) -> Option<String> {
    let parsed = parse(source);
    if parsed.diagnostics.iter().any(|diagnostic| diagnostic.is_error()) {
        return None;
    }
    let statement = parsed.statement?;
    let mut printer = Printer { source, ok: true };
    let text = printer.statement(&statement);
    printer.ok.then_some(text)
}

struct Printer<'a> {
    source: &'a str,
    /// Cleared when the tree holds a node that stands for unread input.
    ok: bool,
}

/// How tightly an expression binds, loosest first, as the grammar nests its nonterminals.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Not,
    Compare,
    Add,
    Mul,
    Unary,
    Postfix,
    Primary,
}

impl Printer<'_> {
    fn statement(&mut self, statement: &Statement) -> String {
        let mut lines = Vec::new();
        if !statement.set.is_empty() {
            let assignments: Vec<String> = statement
                .set
                .iter()
                .map(|assignment| {
                    format!("@{} = {}", assignment.variable.text, self.expr(&assignment.value, Level::Or))
                })
                .collect();
            lines.push(list("SET", &assignments));
        }
        lines.push(self.select(&statement.select, true));
        if let Some(from) = &statement.from {
            lines.push(format!("FROM {}", self.expr(from, Level::Or)));
        }
        if let Some(where_clause) = &statement.where_clause {
            lines.push(format!("WHERE {}", self.expr(where_clause, Level::Or)));
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// `SELECT ...`; the top-level list may spread over lines, a nested one stays on one.
    fn select(&mut self, select: &Select, top_level: bool) -> String {
        match select {
            Select::Value(expr) => format!("SELECT VALUE {}", self.expr(expr, Level::Or)),
            Select::Items(items) => {
                let items: Vec<String> = items.iter().map(|item| self.select_item(item)).collect();
                if top_level { list("SELECT", &items) } else { format!("SELECT {}", items.join(", ")) }
            }
        }
    }

    fn select_item(&mut self, item: &SelectItem) -> String {
        match item {
            SelectItem::Expr { expr, alias } => {
                let expr = self.expr(expr, Level::Or);
                match alias {
                    Some(alias) => format!("{expr} AS {}", alias_text(alias)),
                    None => expr,
                }
            }
            SelectItem::Error(_) => {
                self.ok = false;
                String::new()
            }
        }
    }

    /// Prints `expr`, in parentheses when it binds more loosely than its place (`min`) allows.
    fn expr(&mut self, expr: &Expr, min: Level) -> String {
        let (text, level) = self.bare(expr);
        if level < min { format!("({text})") } else { text }
    }

    fn bare(&mut self, expr: &Expr) -> (String, Level) {
        match &expr.kind {
            ExprKind::Integer(value) => {
                let level = if *value < 0 { Level::Unary } else { Level::Primary };
                (value.to_string(), level)
            }
            ExprKind::Decimal(_) => self.decimal(expr),
            ExprKind::String(literal) => (self.slice(literal.span.start, literal.span.end), Level::Primary),
            ExprKind::Boolean(true) => ("true".to_owned(), Level::Primary),
            ExprKind::Boolean(false) => ("false".to_owned(), Level::Primary),
            ExprKind::Null => ("null".to_owned(), Level::Primary),
            ExprKind::Payload => ("*".to_owned(), Level::Primary),
            ExprKind::Attribute(name) => (name.clone(), Level::Primary),
            ExprKind::Variable(name) => (format!("@{name}"), Level::Primary),
            ExprKind::Field { base, name } => {
                (format!("{}.{}", self.expr(base, Level::Postfix), name.text), Level::Postfix)
            }
            ExprKind::Index { base, index } => {
                (format!("{}[{}]", self.expr(base, Level::Postfix), self.expr(index, Level::Or)), Level::Postfix)
            }
            ExprKind::Unary { op: UnaryOp::Not, operand } => {
                (format!("NOT {}", self.expr(operand, Level::Not)), Level::Not)
            }
            ExprKind::Unary { op: UnaryOp::Neg, operand } => {
                let operand = self.expr(operand, Level::Unary);
                // `--` starts a comment, so a negated negative keeps its parentheses.
                let operand = if operand.starts_with('-') { format!("({operand})") } else { operand };
                (format!("-{operand}"), Level::Unary)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (level, left, right) = operands(*op);
                let text = format!("{} {} {}", self.expr(lhs, left), op.symbol(), self.expr(rhs, right));
                (text, level)
            }
            ExprKind::Call { function, args } => {
                let args: Vec<String> = args.iter().map(|arg| self.expr(arg, Level::Or)).collect();
                (format!("{}({})", function.text, args.join(", ")), Level::Primary)
            }
            ExprKind::Cast { function, value, target } => {
                (format!("{}({} AS {})", function.text, self.expr(value, Level::Or), target.text), Level::Primary)
            }
            ExprKind::Case { subject, branches, otherwise } => {
                let mut text = "CASE".to_owned();
                if let Some(subject) = subject {
                    text.push(' ');
                    text.push_str(&self.expr(subject, Level::Or));
                }
                for (when, then) in branches {
                    let when = self.expr(when, Level::Or);
                    let then = self.expr(then, Level::Or);
                    text.push_str(&format!(" WHEN {when} THEN {then}"));
                }
                if let Some(otherwise) = otherwise {
                    text.push_str(&format!(" ELSE {}", self.expr(otherwise, Level::Or)));
                }
                text.push_str(" END");
                (text, Level::Primary)
            }
            ExprKind::Object(entries) => {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|(key, value)| {
                        format!("{}: {}", self.slice(key.span.start, key.span.end), self.expr(value, Level::Or))
                    })
                    .collect();
                (format!("{{{}}}", entries.join(", ")), Level::Primary)
            }
            ExprKind::Array(items) => {
                let items: Vec<String> = items.iter().map(|item| self.expr(item, Level::Or)).collect();
                (format!("[{}]", items.join(", ")), Level::Primary)
            }
            ExprKind::Query(query) => (format!("({})", self.query(query)), Level::Primary),
            ExprKind::Error => {
                self.ok = false;
                (String::new(), Level::Primary)
            }
        }
    }

    fn query(&mut self, query: &Query) -> String {
        let mut text = format!("{} FROM {}", self.select(&query.select, false), self.expr(&query.from, Level::Or));
        if let Some(where_clause) = &query.where_clause {
            text.push_str(&format!(" WHERE {}", self.expr(where_clause, Level::Or)));
        }
        text
    }

    /// A Decimal as written, with the signs the parser folded into it reduced to at most one:
    /// `- -1.5` and `-(-1.5)` are `1.5`. Its span covers every sign and parenthesis between
    /// them.
    fn decimal(&mut self, expr: &Expr) -> (String, Level) {
        let written: String = self
            .slice(expr.span.start, expr.span.end)
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '(' | ')'))
            .collect();
        let digits = written.trim_start_matches('-');
        let signs = written.len() - digits.len();
        if signs % 2 == 1 { (format!("-{digits}"), Level::Unary) } else { (digits.to_owned(), Level::Primary) }
    }

    fn slice(&mut self, start: usize, end: usize) -> String {
        match self.source.get(start..end) {
            Some(text) => text.to_owned(),
            None => {
                self.ok = false;
                String::new()
            }
        }
    }
}

/// The level of a binary operator and the levels its left and right operands need: every
/// operator is left-associative, and comparisons do not chain.
fn operands(op: BinaryOp) -> (Level, Level, Level) {
    match op {
        BinaryOp::Or => (Level::Or, Level::Or, Level::And),
        BinaryOp::And => (Level::And, Level::And, Level::Not),
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            (Level::Compare, Level::Add, Level::Add)
        }
        BinaryOp::Add | BinaryOp::Sub => (Level::Add, Level::Add, Level::Mul),
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => (Level::Mul, Level::Mul, Level::Unary),
    }
}

fn alias_text(alias: &Alias) -> String {
    alias.path.iter().map(|name| name.text.as_str()).collect::<Vec<_>>().join(".")
}

/// `KEYWORD a, b` on one line when it fits, otherwise one entry per indented line.
fn list(keyword: &str, entries: &[String]) -> String {
    let one_line = format!("{keyword} {}", entries.join(", "));
    if one_line.len() <= MAX_LINE || entries.len() < 2 {
        return one_line;
    }
    let lines: Vec<String> = entries.iter().map(|entry| format!("{INDENT}{entry}")).collect();
    format!("{keyword}\n{}", lines.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::format_sql;

    fn format(source: &str) -> String {
        format_sql(source).unwrap_or_else(|| format!("<not formatted: {source}>"))
    }

    #[test]
    fn one_clause_per_line() {
        assert_eq!(
            format("select a,b as c from 'a/#' where x>1 and not y"),
            "SELECT a, b AS c\nFROM 'a/#'\nWHERE x > 1 AND NOT y\n"
        );
    }

    #[test]
    fn parentheses_only_where_precedence_needs_them() {
        assert_eq!(
            format("SELECT (a+b)*c, a+(b*c), a-(b-c), (a-b)-c FROM 't'"),
            "SELECT (a + b) * c, a + b * c, a - (b - c), a - b - c\nFROM 't'\n"
        );
        assert_eq!(
            format("SELECT (a OR b) AND c, NOT (a = b) FROM 't'"),
            "SELECT (a OR b) AND c, NOT a = b\nFROM 't'\n"
        );
        assert_eq!(format("SELECT (-a).b, -(a.b), (a+b).c FROM 't'"), "SELECT (-a).b, -a.b, (a + b).c\nFROM 't'\n");
    }

    #[test]
    fn signs_never_make_a_comment() {
        assert_eq!(format("SELECT - -1, - - 1.5, -(-a), a - -1 FROM 't'"), "SELECT 1, 1.5, -(-a), a - -1\nFROM 't'\n");
        assert_eq!(format("SELECT -(- 2.50), -((2.5e-3)) FROM 't'"), "SELECT 2.50, -2.5e-3\nFROM 't'\n");
        assert_eq!(format("SELECT -(-9223372036854775808) FROM 't'"), "SELECT -(-9223372036854775808)\nFROM 't'\n");
    }

    #[test]
    fn literals_keep_their_spelling() {
        assert_eq!(
            format(r#"SELECT "it's", 'a\'b', 1.50, 1e3, {'k': [1, 2]} FROM 't'"#),
            "SELECT \"it's\", 'a\\'b', 1.50, 1e3, {'k': [1, 2]}\nFROM 't'\n"
        );
    }

    #[test]
    fn long_select_lists_go_one_item_per_line() {
        let items: Vec<String> = (0..12).map(|i| format!("temperature_{i}")).collect();
        let formatted = format(&format!("SELECT {} FROM 't'", items.join(",")));
        assert!(formatted.starts_with("SELECT\n    temperature_0,\n    temperature_1,\n"), "{formatted}");
    }

    #[test]
    fn statements_with_syntax_errors_are_left_alone() {
        assert_eq!(format_sql("SELECT a, FROM 't'"), None);
        assert_eq!(format_sql("SELECT a -- note\nFROM 't'"), None);
        assert_eq!(format_sql(""), None);
    }
}
