//! The formatter never changes meaning and is idempotent, on every statement the fixture
//! suites and the conformance corpus hold.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;

use iotrules_compiler::format_sql;
use iotrules_compiler::syntax::parse;
use proptest::prelude::*;
use regex::Regex;

/// The tree as text with every span erased, so two spellings of one statement compare equal.
fn tree(source: &str) -> String {
    let statement = parse(source).statement;
    let spans = Regex::new(r"\d+\.\.\d+").unwrap();
    spans.replace_all(&format!("{statement:?}"), "_").into_owned()
}

/// Checks one statement; returns whether it was formatted (it has no syntax errors).
fn check(source: &str) -> bool {
    let Some(formatted) = format_sql(source) else { return false };
    assert_eq!(tree(&formatted), tree(source), "formatting changed the meaning of {source:?} into {formatted:?}");
    assert_eq!(format_sql(&formatted).as_deref(), Some(formatted.as_str()), "not idempotent on {source:?}");
    true
}

fn sql_files(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sql_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "sql") {
            found.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn fixtures_format_without_changing_meaning() {
    let mut sources = Vec::new();
    sql_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data"), &mut sources);
    let formatted = sources.iter().filter(|source| check(source)).count();
    assert!(formatted > 50, "only {formatted} of {} fixtures formatted", sources.len());
}

#[test]
fn conformance_corpus_formats_without_changing_meaning() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance");
    let mut total = 0;
    let mut formatted = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "jsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines().filter(|line| !line.trim().is_empty()) {
            let case: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(sql) = case["sql"].as_str() {
                total += 1;
                formatted += usize::from(check(sql));
            }
        }
    }
    assert!(formatted * 10 > total * 9, "only {formatted} of {total} corpus statements formatted");
}

proptest! {
    /// Generated expressions mixing every operator, sign and postfix form.
    #[test]
    fn generated_expressions_keep_their_meaning(expr in expression()) {
        check(&format!("SELECT {expr} AS r FROM 't' WHERE {expr}"));
    }
}

fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("a".to_owned()),
        Just("b.c".to_owned()),
        Just("1".to_owned()),
        Just("-2".to_owned()),
        Just("- 2.50".to_owned()),
        Just("'s'".to_owned()),
        Just("true".to_owned()),
        Just("@v".to_owned()),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        let op = prop_oneof![
            Just("OR"),
            Just("AND"),
            Just("="),
            Just("<>"),
            Just("<"),
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("%")
        ];
        prop_oneof![
            (inner.clone(), op.clone(), inner.clone()).prop_map(|(lhs, op, rhs)| format!("({lhs} {op} {rhs})")),
            (inner.clone(), op, inner.clone()).prop_map(|(lhs, op, rhs)| format!("{lhs} {op} {rhs}")),
            inner.clone().prop_map(|operand| format!("-({operand})")),
            inner.clone().prop_map(|operand| format!("- {operand}")),
            inner.clone().prop_map(|operand| format!("NOT ({operand})")),
            inner.clone().prop_map(|operand| format!("({operand}).f")),
            (inner.clone(), inner.clone()).prop_map(|(lhs, rhs)| format!("concat({lhs}, [{rhs}])")),
            inner.prop_map(|operand| format!("CASE {operand} WHEN 1 THEN (SELECT x FROM y) ELSE {{'k': 2}} END")),
        ]
    })
}
