//! The payload access plan never changes an outcome: a rule set (which materializes only what
//! its rules read) and the reference interpreter (which parses every payload whole) agree on
//! every conformance case, on payloads padded with fields no rule reads, and on generated
//! payloads.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use iotrules_compiler::eval::{Environment, Message, Outcome, Rule, evaluate};
use iotrules_compiler::ruleset::{RuleSet, SetRule};
use iotrules_compiler::{SqlVersion, check_sql};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

/// The outcome through a one-rule set and through the reference, for comparison.
fn both(sql: &str, rule_name: Option<&str>, topic: &str, payload: &[u8]) -> Option<(String, String)> {
    let checked = check_sql(sql, SqlVersion::V2016_03_23);
    if checked.has_errors() {
        return None;
    }
    let statement = checked.statement?;
    let name = rule_name.unwrap_or("rule").to_owned();
    let env = Environment::default();
    let message = Message { topic, payload, timestamp_ms: 7, client_id: Some("c"), ..Message::default() };
    let rule = Rule { statement: &statement, version: SqlVersion::V2016_03_23, name: Some(&name) };
    let reference = match evaluate(&rule, &env, &message) {
        Ok(Outcome::Fired(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(_) => "-".to_owned(),
        Err(error) => format!("error: {error}"),
    };
    let set = RuleSet::new(vec![SetRule { name, statement, version: SqlVersion::V2016_03_23 }]);
    let planned = match set.evaluate(&env, &message) {
        Ok(outcomes) => match outcomes.into_iter().next() {
            Some((_, Outcome::Fired(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
            _ => "-".to_owned(),
        },
        Err(error) => format!("error: {error}"),
    };
    Some((reference, planned))
}

/// Volatile functions differ between two evaluations by design.
fn is_volatile(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    ["newuuid", "rand(", "traceid"].iter().any(|name| lower.contains(name))
}

#[test]
fn conformance_cases_agree_with_and_without_padding() {
    let corpus = include_str!("data/conformance/iotsql.jsonl");
    let mut compared = 0;
    for line in corpus.lines().filter(|line| !line.trim().is_empty()) {
        let case: Json = serde_json::from_str(line).unwrap();
        let sql = case["sql"].as_str().unwrap();
        if is_volatile(sql) || case.get("payload_base64").is_some() {
            continue;
        }
        let topic = case["topic"].as_str().unwrap();
        let mut payloads = vec![case["payload"].clone()];
        if let Json::Object(object) = &case["payload"] {
            let mut padded = serde_json::Map::new();
            padded.insert("unread_before".into(), json!({"deep": [1, {"x": "y"}], "s": "\u{e9}\n"}));
            padded.extend(object.clone());
            padded.insert("unread_after".into(), json!([null, true, -1.5e-7, "z"]));
            payloads.push(Json::Object(padded));
        }
        for payload in payloads {
            let bytes = serde_json::to_vec(&payload).unwrap();
            if let Some((reference, planned)) = both(sql, case["rule_name"].as_str(), topic, &bytes) {
                assert_eq!(planned, reference, "{}: `{sql}` on {payload}", case["id"]);
                compared += 1;
            }
        }
    }
    assert!(compared > 400, "compared {compared}");
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|x| json!(x)),
        "[a-c]{0,3}".prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                .prop_map(|map| Json::Object(map.into_iter().collect())),
        ]
    })
}

const RULES: &[&str] = &[
    "SELECT a, b.c AS c FROM 't' WHERE a <> 1",
    "SELECT * FROM 't' WHERE isUndefined(b.a) = false",
    "SELECT VALUE (SELECT VALUE c FROM b WHERE c > 0) FROM 't'",
    "SELECT get(a, 0) AS first, b.b.c AS deep, cast(c AS String) AS s FROM 't'",
    "SELECT encode(*, 'base64') AS raw, a.a AS aa FROM 't'",
    "SET @x = b.a SELECT @x AS x, concat(a, c) AS ac FROM 't'",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_payloads_agree(payload in prop::collection::btree_map("[a-c]", json_value(), 0..4), rule in 0..RULES.len()) {
        let bytes = serde_json::to_vec(&Json::Object(payload.into_iter().collect())).unwrap();
        let (reference, planned) = both(RULES[rule], None, "t", &bytes).unwrap();
        prop_assert_eq!(planned, reference);
    }

    #[test]
    fn arbitrary_bytes_agree(bytes in prop::collection::vec(any::<u8>(), 0..64), rule in 0..RULES.len()) {
        let (reference, planned) = both(RULES[rule], None, "t", &bytes).unwrap();
        prop_assert_eq!(planned, reference);
    }
}
