//! The IoT SQL conformance corpus through the reference interpreter: every case with a
//! documented output produces it (byte for byte where the case gives `expect_text`). Cases marked `doc_suspect` reproduce a guide example that
//! contradicts the guide's own tables; they are listed, not enforced.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use base64::Engine;
use iotrules_compiler::eval::{Environment, Message, Outcome, Rule, evaluate};
use iotrules_compiler::{SqlVersion, check_sql};
use serde_json::Value as Json;

/// Compares JSON values the way the corpus asks: numbers by value, key order ignored.
fn same(expected: &Json, actual: &Json) -> bool {
    match (expected, actual) {
        (Json::Number(l), Json::Number(r)) => l.as_f64() == r.as_f64(),
        (Json::Array(l), Json::Array(r)) => l.len() == r.len() && l.iter().zip(r).all(|(l, r)| same(l, r)),
        (Json::Object(l), Json::Object(r)) => {
            l.len() == r.len() && l.iter().all(|(key, value)| r.get(key).is_some_and(|other| same(value, other)))
        }
        _ => expected == actual,
    }
}

#[test]
fn every_case_produces_its_documented_output() {
    let corpus = include_str!("data/conformance/iotsql.jsonl");
    let mut failures = Vec::new();
    let (mut passed, mut suspect) = (0, Vec::new());
    for line in corpus.lines().filter(|line| !line.trim().is_empty()) {
        let case: Json = serde_json::from_str(line).unwrap();
        let expect = &case["expect"];
        if expect == "compile_error" || expect == "compile_ok" {
            continue;
        }
        let id = case["id"].as_str().unwrap();
        if case["doc_suspect"] == true {
            suspect.push(id.to_owned());
            continue;
        }
        let sql = case["sql"].as_str().unwrap();
        let version = case["sql_version"].as_str().map_or(SqlVersion::V2016_03_23, |text| text.parse().unwrap());
        let checked = check_sql(sql, version);
        let Some(statement) = checked.statement.as_ref().filter(|_| !checked.has_errors()) else {
            failures.push(format!("{id}: does not check: {:?}", checked.diagnostics));
            continue;
        };
        let payload = match case.get("payload_base64") {
            Some(encoded) => base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap()).unwrap(),
            None => serde_json::to_vec(&case["payload"]).unwrap(),
        };
        let rule = Rule { statement, version, name: case["rule_name"].as_str() };
        let message = Message {
            topic: case["topic"].as_str().unwrap(),
            payload: &payload,
            client_id: Some("client-1"),
            timestamp_ms: 1_585_903_518_592,
            ..Message::default()
        };
        let outcome = evaluate(&rule, &Environment::default(), &message);
        let verdict = match (&outcome, expect) {
            (Ok(Outcome::NotMatched | Outcome::Filtered), Json::Null) => Ok(()),
            (Ok(Outcome::Fired(bytes)), expect) if expect == "binary" => {
                let wanted =
                    base64::engine::general_purpose::STANDARD.decode(case["expect_base64"].as_str().unwrap()).unwrap();
                if *bytes == wanted { Ok(()) } else { Err(format!("bytes {:?}", String::from_utf8_lossy(bytes))) }
            }
            (Ok(Outcome::Fired(bytes)), _) if case.get("expect_text").is_some() => {
                let wanted = case["expect_text"].as_str().unwrap();
                if bytes == wanted.as_bytes() {
                    Ok(())
                } else {
                    Err(format!("got the text {:?}", String::from_utf8_lossy(bytes)))
                }
            }
            (Ok(Outcome::Fired(bytes)), expect) if !expect.is_null() => match serde_json::from_slice::<Json>(bytes) {
                Ok(actual) if same(expect, &actual) => Ok(()),
                Ok(actual) => Err(format!("got {actual}")),
                Err(_) => Err(format!("not JSON: {:?}", String::from_utf8_lossy(bytes))),
            },
            (outcome, _) => Err(format!("got {outcome:?}")),
        };
        match verdict {
            Ok(()) => passed += 1,
            Err(found) => failures.push(format!("{id}: `{sql}` expected {expect}, {found}")),
        }
    }
    eprintln!("{passed} passed, {} failed; doc-suspect cases not enforced: {suspect:?}", failures.len());
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n"));
}
