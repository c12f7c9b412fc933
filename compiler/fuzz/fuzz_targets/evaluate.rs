//! Runs arbitrary statements on arbitrary messages through the reference interpreter.
//!
//! Input layout: `V SQL \0 TOPIC \0 PAYLOAD`. The first byte picks the SQL version
//! (`byte % 3` indexes `SqlVersion::ALL`, so the ASCII digits `0`, `1`, `2` select 2015-10-08,
//! 2016-03-23 and beta) and is not part of the statement. The rest is split on its first two
//! 0x00 bytes; SQL and topic are decoded lossily to UTF-8, the payload stays raw bytes. A
//! missing separator leaves the topic and/or payload empty.
//!
//! A panic, a stack overflow, a timeout, or a broken invariant below is a crash:
//! * a SELECT-list rule (other than a bare `SELECT *`) that fires on a JSON-object payload
//!   publishes valid JSON;
//! * evaluating the same rule on the same message twice gives the same result, unless the
//!   statement may call a volatile function (`newuuid`, `rand`, `traceid`);
//! * the JIT engine, through a one-rule set, gives the interpreter's outcome byte for byte
//!   (under the same volatility exception).

#![no_main]

use iotrules_compiler::eval::{Environment, Message, Outcome, Rule, evaluate};
use iotrules_compiler::ruleset::{Engine, RuleSet, SetRule};
use iotrules_compiler::syntax::ast::{ExprKind, Select, SelectItem, Statement};
use iotrules_compiler::{SqlVersion, check_sql};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let version = SqlVersion::ALL[usize::from(selector) % SqlVersion::ALL.len()];
    let mut parts = rest.splitn(3, |&byte| byte == 0);
    let sql = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let topic = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let payload = parts.next().unwrap_or_default();

    let checked = check_sql(&sql, version);
    if checked.has_errors() {
        return;
    }
    let Some(statement) = &checked.statement else { return };

    let rule = Rule { statement, version, name: Some("fuzz_rule") };
    let env = Environment::default();
    let message = Message {
        topic: &topic,
        payload,
        client_id: Some("fuzz-client"),
        timestamp_ms: 1_700_000_000_123,
        ..Message::default()
    };

    let first = evaluate(&rule, &env, &message);

    if let Ok(Outcome::Fired(bytes)) = &first
        && payload_is_json_object(payload)
        && !is_select_star_only(statement)
        && !matches!(statement.select, Select::Value(_))
    {
        if let Err(error) = parse_json_unbounded(bytes) {
            panic!(
                "fired output is not JSON ({error}) under {version}\n  sql: {sql:?}\n  topic: {topic:?}\n  payload: {:?}\n  output: {:?}",
                String::from_utf8_lossy(payload),
                String::from_utf8_lossy(bytes),
            );
        }
    }

    if !is_volatile(&sql) {
        let set = RuleSet::with_engine(
            vec![SetRule { name: "fuzz_rule".to_owned(), statement: statement.clone(), version }],
            Engine::Jit,
        );
        let on_jit = set
            .evaluate(&env, &message)
            .map(|outcomes| outcomes.into_iter().next().map_or(Outcome::NotMatched, |(_, outcome)| outcome));
        let same = match (&first, &on_jit) {
            // A set reports rules it does not reach as absent, the interpreter as NotMatched;
            // both mean the rule did not fire, as does Filtered.
            (Ok(Outcome::Fired(l)), Ok(Outcome::Fired(r))) => l == r,
            (Ok(Outcome::Fired(_)), _) | (_, Ok(Outcome::Fired(_))) => false,
            (Ok(_), Ok(_)) => true,
            (Err(l), Err(r)) => l == r,
            _ => false,
        };
        assert!(
            same,
            "the JIT engine disagrees under {version}: {on_jit:?} against {first:?}\n  sql: {sql:?}\n  topic: {topic:?}\n  payload: {:?}",
            String::from_utf8_lossy(payload),
        );

        let second = evaluate(&rule, &env, &message);
        assert_eq!(
            first,
            second,
            "evaluation is not deterministic under {version}\n  sql: {sql:?}\n  topic: {topic:?}\n  payload: {:?}",
            String::from_utf8_lossy(payload),
        );
    }
});

/// Whether the payload is a JSON document whose top level is an object. serde_json's default
/// recursion limit matches the interpreter's: deeper payloads are refused before evaluation.
fn payload_is_json_object(payload: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(payload).is_ok_and(|value| value.is_object())
}

/// `SELECT *` with no alias and nothing else, which republishes the payload as it is.
fn is_select_star_only(statement: &Statement) -> bool {
    matches!(
        &statement.select,
        Select::Items(items)
            if matches!(items.as_slice(), [SelectItem::Expr { expr, alias: None }] if expr.kind == ExprKind::Payload)
    )
}

/// The output may nest deeper than serde_json's default limit of 128 (dotted aliases, nested
/// literals around a 127-deep payload), which is still valid JSON, so the limit is lifted.
/// Checks JSON syntax only: numbers of any magnitude are valid JSON (a Decimal up to 9.999E999
/// prints as such, `1e600`), which a conversion to `f64` would refuse.
fn parse_json_unbounded(bytes: &[u8]) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    serde::de::IgnoredAny::deserialize(&mut deserializer)?;
    deserializer.end()
}

/// Whether the statement text mentions a function whose result changes from call to call.
fn is_volatile(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    ["newuuid", "rand", "traceid"].iter().any(|name| lower.contains(name))
}
