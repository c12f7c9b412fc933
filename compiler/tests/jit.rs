//! The JIT engine against the reference interpreter: identical outcomes, byte for byte, on the
//! conformance corpus and on generated WHERE clauses over generated payloads.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use iotrules_compiler::eval::{Environment, Message, Outcome, Rule, evaluate};
use iotrules_compiler::ruleset::{Engine, RuleSet, SetRule};
use iotrules_compiler::{SqlVersion, check_sql};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

fn describe(outcome: Result<Outcome, String>) -> String {
    match outcome {
        Ok(Outcome::Fired(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(Outcome::NotMatched | Outcome::Filtered) => "-".to_owned(),
        Err(error) => format!("error: {error}"),
    }
}

/// The outcome on the JIT engine and on the reference interpreter, and whether the JIT
/// compiled the rule's WHERE clause.
fn both(sql: &str, rule_name: Option<&str>, topic: &str, payload: &[u8]) -> Option<(String, String, bool)> {
    let checked = check_sql(sql, SqlVersion::V2016_03_23);
    if checked.has_errors() {
        return None;
    }
    let statement = checked.statement?;
    let name = rule_name.unwrap_or("rule").to_owned();
    let env = Environment::default();
    let message = Message { topic, payload, timestamp_ms: 7, client_id: Some("c"), ..Message::default() };
    let rule = Rule { statement: &statement, version: SqlVersion::V2016_03_23, name: Some(&name) };
    let reference = describe(evaluate(&rule, &env, &message).map_err(|error| error.to_string()));
    let set = RuleSet::with_engine(vec![SetRule { name, statement, version: SqlVersion::V2016_03_23 }], Engine::Jit);
    let compiled = set.interpreted().is_empty();
    let jit = describe(
        set.evaluate(&env, &message)
            .map(|outcomes| outcomes.into_iter().next().map_or(Outcome::NotMatched, |(_, outcome)| outcome))
            .map_err(|error| error.to_string()),
    );
    Some((jit, reference, compiled))
}

#[test]
fn conformance_cases_agree() {
    let corpus = include_str!("data/conformance/iotsql.jsonl");
    let (mut compared, mut compiled_count) = (0, 0);
    for line in corpus.lines().filter(|line| !line.trim().is_empty()) {
        let case: Json = serde_json::from_str(line).unwrap();
        let sql = case["sql"].as_str().unwrap();
        let lower = sql.to_ascii_lowercase();
        if ["newuuid", "rand(", "traceid"].iter().any(|name| lower.contains(name))
            || case.get("payload_base64").is_some()
        {
            continue;
        }
        let bytes = serde_json::to_vec(&case["payload"]).unwrap();
        if let Some((jit, reference, compiled)) =
            both(sql, case["rule_name"].as_str(), case["topic"].as_str().unwrap(), &bytes)
        {
            assert_eq!(jit, reference, "{}: `{sql}`", case["id"]);
            compared += 1;
            compiled_count += usize::from(compiled);
        }
    }
    assert!(compared > 250 && compiled_count >= 8, "compared {compared}, compiled {compiled_count}");
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("50".to_owned()),
        Just("-3".to_owned()),
        Just("2.5".to_owned()),
        Just("-0.5".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("1E3".to_owned()),
    ]
}

fn comparison() -> impl Strategy<Value = String> {
    let path = prop_oneof![Just("a"), Just("b"), Just("c.d")];
    let op = prop_oneof![Just("<"), Just("<="), Just(">"), Just(">="), Just("="), Just("<>")];
    (path, op, literal(), any::<bool>()).prop_map(|(path, op, literal, flipped)| {
        if flipped { format!("{literal} {op} {path}") } else { format!("{path} {op} {literal}") }
    })
}

fn condition() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![4 => comparison(), 1 => Just("true".to_owned()), 1 => Just("false".to_owned())];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} AND {r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} OR {r})")),
            inner.prop_map(|e| format!("(NOT {e})")),
        ]
    })
}

fn field() -> impl Strategy<Value = Option<Json>> {
    prop_oneof![
        Just(None),
        Just(Some(Json::Null)),
        any::<bool>().prop_map(|flag| Some(json!(flag))),
        prop_oneof![Just(0i64), Just(50), Just(-3), Just(i64::MAX), Just(i64::MIN), any::<i64>()]
            .prop_map(|n| Some(json!(n))),
        prop_oneof![Just(2.5f64), Just(-0.5), Just(50.0), Just(1000.0), Just(9.223372036854776e18)]
            .prop_map(|x| Some(json!(x))),
        prop_oneof![Just("50"), Just("2.5"), Just("-3"), Just("abc"), Just("1E3"), Just("")]
            .prop_map(|s| Some(json!(s))),
        Just(Some(json!([1, 2]))),
        Just(Some(json!({"d": 1}))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn generated_conditions_agree(condition in condition(), a in field(), b in field(), d in field()) {
        let mut payload = serde_json::Map::new();
        for (key, value) in [("a", a), ("b", b)] {
            if let Some(value) = value {
                payload.insert(key.to_owned(), value);
            }
        }
        if let Some(d) = d {
            payload.insert("c".to_owned(), json!({"d": d}));
        }
        let sql = format!("SELECT a, b FROM 't' WHERE {condition}");
        let bytes = serde_json::to_vec(&Json::Object(payload)).unwrap();
        let (jit, reference, compiled) = both(&sql, None, "t", &bytes).unwrap();
        prop_assert!(compiled, "`{}` was not compiled", sql);
        prop_assert_eq!(jit, reference, "`{}` on {}", sql, String::from_utf8_lossy(&bytes));
    }
}
