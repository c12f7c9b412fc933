//! `iotrules export`: a statement and its actions become the document `aws iot
//! create-topic-rule` takes, and what is exported is what `iotrules check` accepts.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{code, iotrules, scratch_dir};
use serde_json::Value;

#[test]
fn a_statement_and_its_actions_become_a_checked_payload() {
    let dir = scratch_dir("export");
    let sql = dir.join("alerts.sql");
    std::fs::write(&sql, "SELECT temperature FROM 'sensors/+/telemetry' WHERE temperature > 50\n").unwrap();
    let actions = dir.join("actions.json");
    std::fs::write(
        &actions,
        r#"[{"republish": {"topic": "alerts/${topic(2)}", "roleArn": "arn:aws:iam::123456789012:role/r"}}]"#,
    )
    .unwrap();
    let (sql, actions) = (sql.to_str().unwrap(), actions.to_str().unwrap());

    let output = iotrules(&["export", sql, "--actions", actions, "--description", "overheating"]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    let payload: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(payload["sql"], "SELECT temperature FROM 'sensors/+/telemetry' WHERE temperature > 50");
    assert_eq!(payload["awsIotSqlVersion"], "2016-03-23");
    assert_eq!(
        (payload["ruleDisabled"].as_bool(), payload["description"].as_str()),
        (Some(false), Some("overheating"))
    );
    assert_eq!(payload["actions"][0]["republish"]["topic"], "alerts/${topic(2)}");

    let output = iotrules(&["export", sql, "--actions", actions, "--cli-input-json", "overheat_alerts"]);
    assert_eq!(code(&output), 0);
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["ruleName"], "overheat_alerts");
    assert_eq!(document["topicRulePayload"]["actions"], payload["actions"]);
    // Checked again as a file, it is a valid rule.
    let exported = dir.join("exported.json");
    std::fs::write(&exported, &output.stdout).unwrap();
    let checked = iotrules(&["check", exported.to_str().unwrap()]);
    assert_eq!(code(&checked), 0, "{}", String::from_utf8_lossy(&checked.stderr));
}

#[test]
fn a_rule_with_errors_is_not_exported() {
    let dir = scratch_dir("export_errors");
    let sql = dir.join("alerts.sql");
    std::fs::write(&sql, "SELECT tmestamp() AS t FROM 'sensors/#'").unwrap();
    let actions = dir.join("actions.json");
    std::fs::write(&actions, r#"[{"republsh": {"topic": "a"}}]"#).unwrap();
    let output = iotrules(&["export", sql.to_str().unwrap(), "--actions", actions.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did you mean `timestamp`?") && stderr.contains("did you mean `republish`?"), "{stderr}");
    assert!(stderr.contains("nothing was exported"), "{stderr}");

    std::fs::write(&actions, "[{").unwrap();
    let output = iotrules(&["export", sql.to_str().unwrap(), "--actions", actions.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("at line 1, column 2"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn json_format_prints_the_same_document_and_failures_as_json() {
    let dir = scratch_dir("export_json");
    let sql = dir.join("alerts.sql");
    std::fs::write(&sql, "SELECT temperature FROM 'sensors/+/telemetry'\n").unwrap();
    let sql = sql.to_str().unwrap();
    let human = iotrules(&["export", sql, "--cli-input-json", "alerts"]);
    let json = iotrules(&["export", sql, "--cli-input-json", "alerts", "--format", "json"]);
    assert_eq!(code(&json), 0, "{}", String::from_utf8_lossy(&json.stderr));
    assert_eq!(json.stdout, human.stdout, "the document is the same in either format");

    std::fs::write(dir.join("broken.sql"), "SELECT tmestamp() AS t FROM 'sensors/#'").unwrap();
    let output = iotrules(&["export", dir.join("broken.sql").to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&output), 1);
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    let failure: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(failure["error"], "the rule has errors; nothing was exported");
    assert_eq!(failure["diagnostics"][0]["code"], "iotsql::unknown_function");
    assert_eq!(failure["diagnostics"][0]["help"], "did you mean `timestamp`?");

    let output = iotrules(&["export", dir.join("missing.sql").to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&output), 2);
    let failure: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(failure["error"].as_str().unwrap().contains("missing.sql"), "{failure}");
}
