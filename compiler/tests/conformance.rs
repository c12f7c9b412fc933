//! The IoT SQL conformance corpus, run through the front end: statements that must be rejected
//! are, and every other statement is accepted.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use iotrules_compiler::{SqlVersion, check_sql};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let text = include_str!("data/conformance/iotsql.jsonl");
    text.lines().filter(|line| !line.trim().is_empty()).map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn every_case_gets_the_right_verdict() {
    let mut failures = Vec::new();
    let mut counted = 0;
    for case in cases() {
        let id = case["id"].as_str().unwrap();
        let sql = case["sql"].as_str().unwrap();
        let must_fail = case["expect"] == "compile_error";
        let checked = check_sql(sql, SqlVersion::V2016_03_23);
        counted += 1;
        if checked.has_errors() != must_fail {
            let found: Vec<String> = checked
                .diagnostics
                .iter()
                .map(|d| format!("{} {}: {}", d.severity.as_str(), d.code, d.message))
                .collect();
            failures.push(format!(
                "{id}: `{sql}` expected {}, found {found:?}",
                if must_fail { "an error" } else { "no error" }
            ));
        }
    }
    assert!(counted >= 300, "the corpus has {counted} cases");
    assert!(failures.is_empty(), "{} of {counted} cases failed:\n{}", failures.len(), failures.join("\n"));
}
