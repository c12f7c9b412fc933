//! Every way to run a rule gives the reference interpreter's outcome, byte for byte: the
//! interpreter on its own (full parse), a rule set on the interpreter (payload access plan),
//! and a rule set on the JIT. Checked on the conformance corpus, on corpus payloads padded with
//! fields no rule reads, on generated payloads and bytes, and on generated WHERE clauses.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use iotrules_compiler::eval::{Environment, EvalError, Message, Outcome, Rule, evaluate};
use iotrules_compiler::ruleset::{Engine, RuleSet, SetRule};
use iotrules_compiler::{SqlVersion, check_sql};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

/// One rule on one message, every way.
struct Runs {
    reference: String,
    interp: String,
    jit: String,
    /// The JIT compiled the rule's WHERE clause.
    compiled: bool,
}

impl Runs {
    fn agree(&self) -> bool {
        self.interp == self.reference && self.jit == self.reference
    }
}

fn describe(outcome: Result<Outcome, EvalError>) -> String {
    match outcome {
        Ok(Outcome::Fired(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(Outcome::NotMatched | Outcome::Filtered) => "-".to_owned(),
        Err(error) => format!("error: {error}"),
    }
}

/// `None` when the statement does not check.
fn run(sql: &str, rule_name: Option<&str>, topic: &str, payload: &[u8]) -> Option<Runs> {
    let checked = check_sql(sql, SqlVersion::V2016_03_23);
    if checked.has_errors() {
        return None;
    }
    let statement = checked.statement?;
    let name = rule_name.unwrap_or("rule").to_owned();
    let env = Environment::default();
    let message = Message { topic, payload, timestamp_ms: 7, client_id: Some("c"), ..Message::default() };
    let rule = Rule { statement: &statement, version: SqlVersion::V2016_03_23, name: Some(&name) };
    let reference = describe(evaluate(&rule, &env, &message));
    let on = |engine| {
        let set_rule = SetRule { name: name.clone(), statement: statement.clone(), version: SqlVersion::V2016_03_23 };
        let set = RuleSet::with_engine(vec![set_rule], engine);
        let outcome = set
            .evaluate(&env, &message)
            .map(|outcomes| outcomes.into_iter().next().map_or(Outcome::NotMatched, |(_, outcome)| outcome));
        (describe(outcome), set.interpreted().is_empty())
    };
    let (interp, _) = on(Engine::Interp);
    let (jit, compiled) = on(Engine::Jit);
    Some(Runs { reference, interp, jit, compiled })
}

/// Volatile functions differ between two evaluations by design.
fn is_volatile(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    ["newuuid", "rand(", "traceid"].iter().any(|name| lower.contains(name))
}

#[test]
fn conformance_cases_agree_with_and_without_padding() {
    let corpus = include_str!("data/conformance/iotsql.jsonl");
    let (mut compared, mut compiled) = (0, 0);
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
            if let Some(runs) = run(sql, case["rule_name"].as_str(), topic, &bytes) {
                assert!(
                    runs.agree(),
                    "{}: `{sql}` on {payload}: reference {}, interp {}, jit {}",
                    case["id"],
                    runs.reference,
                    runs.interp,
                    runs.jit
                );
                compared += 1;
                compiled += usize::from(runs.compiled);
            }
        }
    }
    assert!(compared > 400 && compiled >= 16, "compared {compared}, compiled {compiled}");
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
    "SELECT * FROM 't' WHERE a > 0 OR NOT (b.c <= -2.5)",
];

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
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_payloads_agree(payload in prop::collection::btree_map("[a-c]", json_value(), 0..4), rule in 0..RULES.len()) {
        let bytes = serde_json::to_vec(&Json::Object(payload.into_iter().collect())).unwrap();
        let runs = run(RULES[rule], None, "t", &bytes).unwrap();
        prop_assert!(runs.agree(), "`{}`: reference {}, interp {}, jit {}", RULES[rule], runs.reference, runs.interp, runs.jit);
    }

    #[test]
    fn arbitrary_bytes_agree(bytes in prop::collection::vec(any::<u8>(), 0..64), rule in 0..RULES.len()) {
        let runs = run(RULES[rule], None, "t", &bytes).unwrap();
        prop_assert!(runs.agree(), "`{}`: reference {}, interp {}, jit {}", RULES[rule], runs.reference, runs.interp, runs.jit);
    }

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
        let runs = run(&sql, None, "t", &bytes).unwrap();
        prop_assert!(runs.compiled, "`{}` was not compiled", sql);
        prop_assert!(runs.agree(), "`{}` on {}: reference {}, interp {}, jit {}", sql, String::from_utf8_lossy(&bytes), runs.reference, runs.interp, runs.jit);
    }
}
