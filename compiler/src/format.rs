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

use crate::syntax::ast::{BinaryOp, Case, Expr, ExprKind, Query, Select, SelectItem, Statement, UnaryOp};
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

/// Formats one expression of the statement whose text is `source`, on one line, as the
/// formatter writes it inside a statement; `None` when it stands for unread input.
pub fn format_expr(expr: &Expr, source: &str) -> Option<String> {
    let mut printer = Printer { source, ok: true };
    let mut out = String::new();
    printer.expr(&mut out, expr, Level::Or);
    printer.ok.then_some(out)
}

/// Prints a tree into strings. Every expression is written straight into the text of the
/// SELECT item, assignment or clause around it, never into a string of its own that its
/// parent copies: an expression can nest 500 deep around a string as long as the statement.
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

impl<'a> Printer<'a> {
    fn statement(&mut self, statement: &Statement) -> String {
        let mut text = String::new();
        if !statement.set.is_empty() {
            let assignments: Vec<String> = statement
                .set
                .iter()
                .map(|assignment| {
                    let mut out = format!("@{} = ", assignment.variable.text);
                    self.expr(&mut out, &assignment.value, Level::Or);
                    out
                })
                .collect();
            list(&mut text, "SET", &assignments);
            text.push('\n');
        }
        self.select(&mut text, &statement.select, true);
        if let Some(from) = &statement.from {
            text.push_str("\nFROM ");
            self.expr(&mut text, from, Level::Or);
        }
        if let Some(where_clause) = &statement.where_clause {
            text.push_str("\nWHERE ");
            self.expr(&mut text, where_clause, Level::Or);
        }
        text.push('\n');
        text
    }

    /// `SELECT ...`; the top-level list may spread over lines, a nested one stays on one.
    fn select(&mut self, out: &mut String, select: &Select, top_level: bool) {
        match select {
            Select::Value(expr) => {
                out.push_str("SELECT VALUE ");
                self.expr(out, expr, Level::Or);
            }
            Select::Items(items) if top_level => {
                let items: Vec<String> = items
                    .iter()
                    .map(|item| {
                        let mut text = String::new();
                        self.select_item(&mut text, item);
                        text
                    })
                    .collect();
                list(out, "SELECT", &items);
            }
            Select::Items(items) => {
                out.push_str("SELECT ");
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    self.select_item(out, item);
                }
            }
        }
    }

    fn select_item(&mut self, out: &mut String, item: &SelectItem) {
        match item {
            SelectItem::Expr { expr, alias } => {
                self.expr(out, expr, Level::Or);
                if let Some(alias) = alias {
                    out.push_str(" AS ");
                    for (index, name) in alias.path.iter().enumerate() {
                        if index > 0 {
                            out.push('.');
                        }
                        out.push_str(&name.text);
                    }
                }
            }
            SelectItem::Error(_) => self.ok = false,
        }
    }

    /// Prints `expr`, in parentheses when it binds more loosely than its place (`min`) allows.
    fn expr(&mut self, out: &mut String, expr: &Expr, min: Level) {
        if self.level(expr) < min {
            out.push('(');
            self.bare(out, expr);
            out.push(')');
        } else {
            self.bare(out, expr);
        }
    }

    /// How tightly `expr` binds as printed. Text printed at [`Level::Unary`] is exactly the
    /// text that starts with `-`.
    fn level(&self, expr: &Expr) -> Level {
        match &expr.kind {
            ExprKind::Integer(value) if *value < 0 => Level::Unary,
            ExprKind::Decimal(_) if self.decimal(expr).1 => Level::Unary,
            ExprKind::Unary { op: UnaryOp::Neg, .. } => Level::Unary,
            ExprKind::Unary { op: UnaryOp::Not, .. } => Level::Not,
            ExprKind::Binary { op, .. } => operands(*op).0,
            ExprKind::Field { .. } | ExprKind::Index { .. } => Level::Postfix,
            _ => Level::Primary,
        }
    }

    fn bare(&mut self, out: &mut String, expr: &Expr) {
        match &expr.kind {
            ExprKind::Integer(value) => out.push_str(&value.to_string()),
            ExprKind::Decimal(_) => {
                let (digits, negative) = self.decimal(expr);
                if negative {
                    out.push('-');
                }
                out.push_str(digits);
            }
            ExprKind::String(literal) => self.slice(out, literal.span.start, literal.span.end),
            ExprKind::Boolean(true) => out.push_str("true"),
            ExprKind::Boolean(false) => out.push_str("false"),
            ExprKind::Null => out.push_str("null"),
            ExprKind::Payload => out.push('*'),
            ExprKind::Attribute(name) => out.push_str(name),
            ExprKind::Variable(name) => {
                out.push('@');
                out.push_str(name);
            }
            ExprKind::Field { base, name } => {
                self.expr(out, base, Level::Postfix);
                out.push('.');
                out.push_str(&name.text);
            }
            ExprKind::Index { base, index } => {
                self.expr(out, base, Level::Postfix);
                out.push('[');
                self.expr(out, index, Level::Or);
                out.push(']');
            }
            ExprKind::Unary { op: UnaryOp::Not, operand } => {
                out.push_str("NOT ");
                self.expr(out, operand, Level::Not);
            }
            ExprKind::Unary { op: UnaryOp::Neg, operand } => {
                // `--` starts a comment, so a negated negative keeps its parentheses.
                let negative = self.level(operand) == Level::Unary;
                out.push_str(if negative { "-(" } else { "-" });
                self.expr(out, operand, Level::Unary);
                if negative {
                    out.push(')');
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (_, left, right) = operands(*op);
                self.expr(out, lhs, left);
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
                self.expr(out, rhs, right);
            }
            ExprKind::Call { function, args } => {
                out.push_str(&function.text);
                out.push('(');
                self.comma_separated(out, args);
                out.push(')');
            }
            ExprKind::Cast { function, value, target } => {
                out.push_str(&function.text);
                out.push('(');
                self.expr(out, value, Level::Or);
                out.push_str(" AS ");
                out.push_str(&target.text);
                out.push(')');
            }
            ExprKind::Case(case) => {
                let Case { subject, branches, otherwise } = &**case;
                out.push_str("CASE");
                if let Some(subject) = subject {
                    out.push(' ');
                    self.expr(out, subject, Level::Or);
                }
                for (when, then) in branches {
                    out.push_str(" WHEN ");
                    self.expr(out, when, Level::Or);
                    out.push_str(" THEN ");
                    self.expr(out, then, Level::Or);
                }
                if let Some(otherwise) = otherwise {
                    out.push_str(" ELSE ");
                    self.expr(out, otherwise, Level::Or);
                }
                out.push_str(" END");
            }
            ExprKind::Object(entries) => {
                out.push('{');
                for (index, (key, value)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    self.slice(out, key.span.start, key.span.end);
                    out.push_str(": ");
                    self.expr(out, value, Level::Or);
                }
                out.push('}');
            }
            ExprKind::Array(items) => {
                out.push('[');
                self.comma_separated(out, items);
                out.push(']');
            }
            ExprKind::Query(query) => {
                out.push('(');
                self.query(out, query);
                out.push(')');
            }
            ExprKind::Error => self.ok = false,
        }
    }

    fn comma_separated(&mut self, out: &mut String, exprs: &[Expr]) {
        for (index, expr) in exprs.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            self.expr(out, expr, Level::Or);
        }
    }

    fn query(&mut self, out: &mut String, query: &Query) {
        self.select(out, &query.select, false);
        out.push_str(" FROM ");
        self.expr(out, &query.from, Level::Or);
        if let Some(alias) = &query.alias {
            out.push_str(" AS ");
            out.push_str(&alias.text);
        }
        if let Some(where_clause) = &query.where_clause {
            out.push_str(" WHERE ");
            self.expr(out, where_clause, Level::Or);
        }
    }

    /// A Decimal's digits as written, and whether the signs the parser folded into it make it
    /// negative: `- -1.5` and `-(-1.5)` are `1.5`. Its span covers every sign and parenthesis
    /// between them.
    fn decimal(&self, expr: &Expr) -> (&'a str, bool) {
        let written = self.source.get(expr.span.start..expr.span.end).unwrap_or_default();
        let is_sign = |c: char| c.is_whitespace() || matches!(c, '(' | ')' | '-');
        let digits = written.trim_start_matches(is_sign);
        let signs = written.get(..written.len() - digits.len()).unwrap_or_default().matches('-').count();
        (digits.trim_end_matches(|c: char| c.is_whitespace() || c == ')'), signs % 2 == 1)
    }

    fn slice(&mut self, out: &mut String, start: usize, end: usize) {
        match self.source.get(start..end) {
            Some(text) => out.push_str(text),
            None => self.ok = false,
        }
    }
}

/// The level of a binary operator and the levels its left and right operands need: every
/// operator is left-associative, and comparisons do not chain.
fn operands(op: BinaryOp) -> (Level, Level, Level) {
    match op {
        BinaryOp::Or => (Level::Or, Level::Or, Level::And),
        BinaryOp::And => (Level::And, Level::And, Level::Not),
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::In => {
            (Level::Compare, Level::Add, Level::Add)
        }
        BinaryOp::Add | BinaryOp::Sub => (Level::Add, Level::Add, Level::Mul),
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => (Level::Mul, Level::Mul, Level::Unary),
    }
}

/// `KEYWORD a, b` on one line when it fits, otherwise one entry per indented line.
fn list(out: &mut String, keyword: &str, entries: &[String]) {
    let one_line = keyword.len() + 1 + entries.iter().map(|entry| entry.len() + 2).sum::<usize>().saturating_sub(2);
    out.push_str(keyword);
    if one_line <= MAX_LINE || entries.len() < 2 {
        out.push(' ');
        for (index, entry) in entries.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            out.push_str(entry);
        }
        return;
    }
    for (index, entry) in entries.iter().enumerate() {
        out.push_str(if index > 0 { ",\n" } else { "\n" });
        out.push_str(INDENT);
        out.push_str(entry);
    }
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
