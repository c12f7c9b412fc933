//! What `check`, `fmt` and `test` have in common as a user meets them: human output on
//! standard error, the same answer for a folder with nothing to read, counts in the singular
//! for one, and help that names the flag to give.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{code, iotrules, scratch_dir};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_empty_folder_is_a_usage_error_for_check_fmt_and_test() {
    let dir = scratch_dir("consistency-empty");
    let name = dir.to_str().unwrap();
    for command in ["check", "fmt", "test"] {
        let output = iotrules(&[command, name]);
        let said = stderr(&output);
        assert_eq!(code(&output), 2, "{command}: {said}");
        assert!(output.stdout.is_empty(), "{command}");
        let first = said.lines().next().unwrap_or_default();
        assert_eq!(first, format!("error: no inputs found in `{name}`"), "{command}");
        assert!(said.contains(&format!("help: `iotrules {command}` ")), "{command}: {said}");
    }
    let output = iotrules(&["fmt", "--check", name]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
}

#[test]
fn human_output_of_check_fmt_and_test_is_on_standard_error() {
    let dir = scratch_dir("consistency-streams");
    std::fs::write(dir.join("messy.sql"), "select a from 't' where nofn()").unwrap();
    std::fs::write(
        dir.join("one.jsonl"),
        r#"{"id": "wrong", "sql": "SELECT a FROM 't'", "topic": "t", "payload": {"a": 1}, "expect": {"a": 2}}"#,
    )
    .unwrap();
    let sql = dir.join("messy.sql");
    let sql = sql.to_str().unwrap();
    let tests = dir.join("one.jsonl");
    let tests = tests.to_str().unwrap();
    for (args, expected) in
        [(vec!["check", sql], "checked 1 input: 1 error, 0 warnings"), (vec!["test", tests], "0 passed, 1 failed")]
    {
        let output = iotrules(&args);
        assert_eq!(code(&output), 1, "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&output.stdout));
        let said = stderr(&output);
        assert_eq!(said.lines().last(), Some(expected), "{args:?}: {said}");
    }
    std::fs::write(dir.join("messy.sql"), "select a from 't'").unwrap();
    let output = iotrules(&["fmt", "--check", sql]);
    assert_eq!(code(&output), 1);
    assert!(output.stdout.is_empty());
    assert_eq!(stderr(&output), format!("would reformat `{sql}`\n"));
    let output = iotrules(&["fmt", sql]);
    assert_eq!((code(&output), stderr(&output)), (0, format!("formatted `{sql}`\n")));
}

#[test]
fn counts_of_one_are_singular() {
    let dir = scratch_dir("consistency-plurals");
    std::fs::write(dir.join("bad.sql"), "SELECT nofn() AS y, 'a' - 1 AS x FROM 't'").unwrap();
    let output = iotrules(&["check", dir.join("bad.sql").to_str().unwrap()]);
    assert_eq!(stderr(&output).lines().last(), Some("checked 1 input: 1 error, 1 warning"), "{}", stderr(&output));

    std::fs::write(dir.join("broken.jsonl"), "{\"sql\": nope}\n").unwrap();
    let output = iotrules(&["test", dir.join("broken.jsonl").to_str().unwrap()]);
    assert_eq!(stderr(&output).lines().last(), Some("0 passed, 0 failed, 1 error"));

    std::fs::write(dir.join("rule.sql"), "SELECT a FROM 't'").unwrap();
    std::fs::write(dir.join("one.jsonl"), "{\"topic\": \"t\", \"payload\": {\"a\": 1}}\n").unwrap();
    let output = iotrules(&[
        "bench",
        dir.join("rule.sql").to_str().unwrap(),
        "--messages",
        dir.join("one.jsonl").to_str().unwrap(),
        "--engine",
        "interp",
        "--seconds",
        "0.05",
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(text.starts_with("1 rule, 1 sample message\n"), "{text}");
}

#[test]
fn a_rule_with_an_action_iotrules_cannot_run_names_the_flag_that_skips_it() {
    let dir = scratch_dir("consistency-skip-flag");
    let rule = dir.join("to_lambda.json");
    std::fs::write(
        &rule,
        r#"{"ruleName": "to_lambda", "sql": "SELECT * FROM 'in/+'",
            "actions": [{"lambda": {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}}]}"#,
    )
    .unwrap();
    // The rule set is refused before any connection is tried.
    let output = iotrules(&["run", rule.to_str().unwrap(), "--broker", "mqtt://127.0.0.1:9"]);
    let said = stderr(&output);
    assert_eq!(code(&output), 1, "{said}");
    assert!(said.contains("help: iotrules runs republish and http actions; `--skip-unsupported-actions`"), "{said}");
}
