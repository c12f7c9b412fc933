//! The payload access plan: which parts of a payload a statement can read, and a reader that
//! materializes only those parts. A message is scanned once, its whole text validated (so a
//! payload is JSON or binary exactly as for a full parse), and every value no rule reads is
//! skipped rather than built.
//!
//! INVARIANT: evaluating a statement on `plan.read(payload)` gives the same outcome as on the
//! full payload. The differential tests in `ruleset` and `tests/engines.rs` hold it.

use std::collections::HashMap;

use crate::eval::json;
use crate::eval::scanner::Scanner;
use crate::eval::value::{Object, Value};
use crate::syntax::ast::{Case, Expr, ExprKind, Query, Select, SelectItem, Statement};

/// Which payload paths a set of statements reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessPlan {
    /// Some statement reads the payload as a whole (`SELECT *`, `*` as a value).
    whole: bool,
    root: PathNode,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PathNode {
    /// The value at this path is read as a whole.
    full: bool,
    children: HashMap<String, PathNode, foldhash::fast::RandomState>,
}

impl AccessPlan {
    /// The parts of the payload `statement` can read.
    pub fn of(statement: &Statement) -> Self {
        let mut plan = AccessPlan::default();
        for assignment in &statement.set {
            plan.expr(&assignment.value);
        }
        plan.select(&statement.select);
        if let Some(condition) = &statement.where_clause {
            plan.expr(condition);
        }
        plan
    }

    /// A plan that reads the whole payload.
    pub fn whole() -> Self {
        AccessPlan { whole: true, root: PathNode::default() }
    }

    /// A plan reading everything `self` or `other` reads.
    pub fn merge(&mut self, other: &AccessPlan) {
        self.whole |= other.whole;
        self.root.merge(&other.root);
    }

    /// Reads `payload` as a statement under this plan sees it: the JSON value with only the
    /// planned parts present, or the bytes when the payload is not JSON (or nests too deep).
    pub fn read(&self, payload: &[u8]) -> Value {
        let top_is_object = payload.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{');
        if self.whole || !top_is_object || std::str::from_utf8(payload).is_err() {
            return json::parse(payload).unwrap_or_else(|| Value::Binary(payload.to_vec()));
        }
        // One pass validates everything and materializes only the planned members.
        let mut scanner = Scanner::new(payload);
        scanner.skip_whitespace();
        let object = scanner.object_under(&self.root);
        scanner.skip_whitespace();
        match object {
            Some(object) if scanner.at == payload.len() => object,
            _ => Value::Binary(payload.to_vec()),
        }
    }

    fn select(&mut self, select: &Select) {
        match select {
            Select::Value(expr) => self.expr(expr),
            Select::Items(items) => {
                for item in items {
                    if let SelectItem::Expr { expr, .. } = item {
                        self.expr(expr);
                    }
                }
            }
        }
    }

    /// Records what `expr` reads of the payload. At the top of a statement its row is the
    /// payload; inside nested queries (`aliases` is then the alias of each, outermost first)
    /// `*` and an alias name an element the source already planned, and any other name may
    /// fall back to the payload's member of that name.
    fn expr(&mut self, expr: &Expr) {
        self.expr_in(expr, &mut Vec::new());
    }

    fn expr_in<'e>(&mut self, expr: &'e Expr, aliases: &mut Vec<Option<&'e str>>) {
        if let Some(path) = static_path(expr) {
            let nested = !aliases.is_empty();
            match path.first() {
                None if !nested => self.whole = true,
                None => {}
                Some(first) if nested && aliases.contains(&Some(*first)) => {}
                Some(_) => self.root.add(&path),
            }
            return;
        }
        let mut expr_in = |this: &mut Self, expr: &'e Expr| this.expr_in(expr, aliases);
        match &expr.kind {
            ExprKind::Field { base, .. } => expr_in(self, base),
            ExprKind::Index { base, index } => {
                expr_in(self, base);
                expr_in(self, index);
            }
            ExprKind::Unary { operand, .. } => expr_in(self, operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                expr_in(self, lhs);
                expr_in(self, rhs);
            }
            ExprKind::Call { function, args } => {
                for arg in args {
                    // `encode(*, ...)` reads the raw bytes, not the parsed payload.
                    let raw_bytes = arg.kind == ExprKind::Payload && function.text.eq_ignore_ascii_case("encode");
                    if !raw_bytes {
                        expr_in(self, arg);
                    }
                }
            }
            ExprKind::Cast { value, .. } => expr_in(self, value),
            ExprKind::Case(case) => {
                let Case { subject, branches, otherwise } = &**case;
                for expr in subject.iter().chain(otherwise.iter()).map(Box::as_ref) {
                    expr_in(self, expr);
                }
                for (when, then) in branches {
                    expr_in(self, when);
                    expr_in(self, then);
                }
            }
            ExprKind::Object(entries) => {
                for (_, value) in entries {
                    expr_in(self, value);
                }
            }
            ExprKind::Array(items) => {
                for item in items {
                    expr_in(self, item);
                }
            }
            ExprKind::Query(query) => self.query(query, aliases),
            ExprKind::Integer(_)
            | ExprKind::Decimal(_)
            | ExprKind::String(_)
            | ExprKind::Boolean(_)
            | ExprKind::Null
            | ExprKind::Variable(_)
            | ExprKind::Payload
            | ExprKind::Attribute(_)
            | ExprKind::Error => {}
        }
    }

    /// A nested query reads its source, and its SELECT and WHERE read the source's elements
    /// and, for names an element lacks, the rows around it. `FROM *` reads the whole row.
    fn query<'e>(&mut self, query: &'e Query, aliases: &mut Vec<Option<&'e str>>) {
        if query.from.kind == ExprKind::Payload && aliases.is_empty() {
            self.whole = true;
        }
        self.expr_in(&query.from, aliases);
        aliases.push(query.alias.as_ref().map(|alias| alias.text.as_str()));
        match &query.select {
            Select::Value(expr) => self.expr_in(expr, aliases),
            Select::Items(items) => {
                for item in items {
                    if let SelectItem::Expr { expr, .. } = item {
                        self.expr_in(expr, aliases);
                    }
                }
            }
        }
        if let Some(condition) = &query.where_clause {
            self.expr_in(condition, aliases);
        }
        aliases.pop();
    }
}

/// The payload path an attribute, `*` or a chain of fields on them reads; empty for `*`.
pub(crate) fn static_path(expr: &Expr) -> Option<Vec<&str>> {
    match &expr.kind {
        ExprKind::Payload => Some(Vec::new()),
        ExprKind::Attribute(name) => Some(vec![name.as_str()]),
        ExprKind::Field { base, name } => {
            let mut path = static_path(base)?;
            path.push(name.text.as_str());
            Some(path)
        }
        _ => None,
    }
}

impl PathNode {
    fn add(&mut self, path: &[&str]) {
        let mut node = self;
        for name in path {
            if node.full {
                return;
            }
            node = node.children.entry((*name).to_owned()).or_default();
        }
        node.full = true;
        node.children.clear();
    }

    fn merge(&mut self, other: &PathNode) {
        if other.full {
            self.full = true;
            self.children.clear();
        }
        if self.full {
            return;
        }
        for (name, child) in &other.children {
            self.children.entry(name.clone()).or_default().merge(child);
        }
    }
}

impl Scanner<'_> {
    /// Reads and validates the object at the cursor, keeping only the members `plan` names;
    /// `None` when the text is not valid JSON or nests too deep.
    fn object_under(&mut self, plan: &PathNode) -> Option<Value> {
        self.depth += 1;
        if self.too_deep() {
            return None;
        }
        self.eat(b'{').ok()?;
        let mut object = Object::default();
        self.skip_whitespace();
        if self.eat(b'}').is_ok() {
            self.depth -= 1;
            return Some(Value::Object(object));
        }
        loop {
            let key = self.key()?.into_owned();
            self.skip_whitespace();
            self.eat(b':').ok()?;
            self.skip_whitespace();
            // Only planned keys are ever inserted, so an unplanned one needs no bookkeeping;
            // a planned key seen again replaces its earlier value, as in a full parse.
            match plan.children.get(&key) {
                Some(node) if !node.full && self.peek() == Some(b'{') => {
                    let value = self.object_under(node)?;
                    object.insert(key, value);
                }
                Some(node) if !node.full => {
                    // Field access on anything but an object is Undefined; skip it.
                    self.value().ok()?;
                    object.shift_remove(&key);
                }
                Some(_) => {
                    let value = self.build()?;
                    object.insert(key, value);
                }
                None => self.value().ok()?,
            }
            self.skip_whitespace();
            if self.eat(b',').is_ok() {
                self.skip_whitespace();
                continue;
            }
            self.eat(b'}').ok()?;
            self.depth -= 1;
            return Some(Value::Object(object));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::json::MAX_DEPTH;
    use crate::{SqlVersion, check_sql};

    fn plan(sql: &str) -> AccessPlan {
        let checked = check_sql(sql, SqlVersion::V2016_03_23);
        checked.statement.as_ref().map(AccessPlan::of).unwrap_or_default()
    }

    fn read(sql: &str, payload: &str) -> String {
        match plan(sql).read(payload.as_bytes()) {
            Value::Binary(_) => "binary".to_owned(),
            value => {
                let mut out = String::new();
                crate::eval::value::write_json(&mut out, &value, true);
                out
            }
        }
    }

    #[test]
    fn only_planned_parts_are_materialized() {
        let payload = r#"{"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": {"f": true}, "g": null}"#;
        assert_eq!(read("SELECT a, b.c AS c FROM 't' WHERE e.f", payload), r#"{"a":1,"b":{"c":[1,2]},"e":{"f":true}}"#);
        assert_eq!(read("SELECT * FROM 't'", payload), r#"{"a":1,"b":{"c":[1,2],"d":"x"},"e":{"f":true},"g":null}"#);
        assert_eq!(read("SELECT encode(*, 'base64') AS e FROM 't'", payload), "{}");
        assert_eq!(read("SELECT (SELECT VALUE x FROM b.c) AS v FROM 't'", payload), r#"{"b":{"c":[1,2]}}"#);
        assert_eq!(
            read("SELECT get(*, 'g') AS g FROM 't'", payload),
            r#"{"a":1,"b":{"c":[1,2],"d":"x"},"e":{"f":true},"g":null}"#
        );
    }

    #[test]
    fn validity_and_depth_match_a_full_parse() {
        let sql = "SELECT a FROM 't'";
        for invalid in [
            r#"{"a": 1, "b": tru}"#,
            r#"{"a": 1, "b": "\ud800"}"#,
            "{\"a\": \"\u{1}\"}",
            r#"{"a": 1} x"#,
            r#"{"a": 01}"#,
        ] {
            assert_eq!(read(sql, invalid), "binary", "{invalid}");
            assert!(json::parse(invalid.as_bytes()).is_none(), "{invalid}");
        }
        // Numbers of any magnitude are JSON; one past the Decimal range is Undefined there.
        assert_eq!(read(sql, r#"{"a": 1, "b": 1e400}"#), r#"{"a":1}"#);
        assert_eq!(read(sql, r#"{"a": 1e1000}"#), "{}");
        // A payload nested too deep anywhere is not JSON, whether or not the rule reads there.
        let deep = format!("{{\"a\": 1, \"b\": {}{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let deep_then_broken = format!("{{\"a\": 1, \"b\": {} x", "[".repeat(MAX_DEPTH));
        let deep_in_planned = format!("{{\"a\": {}{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        for payload in [&deep, &deep_then_broken, &deep_in_planned] {
            assert_eq!(read(sql, payload), "binary");
            assert!(json::parse(payload.as_bytes()).is_none());
        }
        let fine = format!("{{\"a\": 1, \"b\": {}{}}}", "[".repeat(MAX_DEPTH - 2), "]".repeat(MAX_DEPTH - 2));
        assert_eq!(read(sql, &fine), r#"{"a":1}"#);
        assert!(json::parse(fine.as_bytes()).is_some());
    }

    #[test]
    fn duplicates_and_escaped_keys_follow_a_full_parse() {
        let sql = "SELECT a, b.c AS c FROM 't'";
        assert_eq!(read(sql, r#"{"a": 1, "a": 2}"#), r#"{"a":2}"#);
        assert_eq!(read(sql, r#"{"\u0061": 3}"#), r#"{"a":3}"#);
        assert_eq!(read(sql, r#"{"b": {"c": 1}, "b": 5}"#), "{}");
        assert_eq!(read(sql, r#"{"b": 5, "b": {"c": 1}}"#), r#"{"b":{"c":1}}"#);
        assert_eq!(read(sql, "[1, 2]"), "[1,2]");
    }
}
