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
