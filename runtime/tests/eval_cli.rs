//! `iotrules eval` and `iotrules test` as users and CI run them.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn iotrules(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iotrules")).args(args).output().expect("the iotrules binary runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const RULE: &str = "SELECT temperature, topic(2) AS device FROM 'sensors/+/telemetry' WHERE temperature > 50";

#[test]
fn eval_prints_the_payload_when_the_rule_fires_and_nothing_otherwise() {
    let fired =
        iotrules(&["eval", "--sql", RULE, "--topic", "sensors/d1/telemetry", "--payload", r#"{"temperature": 60}"#]);
    assert_eq!(code(&fired), 0);
    assert_eq!(stdout(&fired), "{\"temperature\":60,\"device\":\"d1\"}\n");

    let filtered =
        iotrules(&["eval", "--sql", RULE, "--topic", "sensors/d1/telemetry", "--payload", r#"{"temperature": 20}"#]);
    assert_eq!((code(&filtered), stdout(&filtered)), (0, String::new()));

    let other_topic =
        iotrules(&["eval", "--sql", RULE, "--topic", "sensors/d1/status", "--payload", r#"{"temperature": 60}"#]);
    assert_eq!((code(&other_topic), stdout(&other_topic)), (0, String::new()));
}

#[test]
fn eval_rejects_invalid_statements_and_usage_errors() {
    let invalid = iotrules(&["eval", "--sql", "SELECT nosuch(1) AS x FROM 't'", "--topic", "t", "--payload", "{}"]);
    assert_eq!(code(&invalid), 1);
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("iotsql::unknown_function"));
    assert_eq!(code(&iotrules(&["eval", "--sql", RULE, "--topic", "t"])), 2);
    assert_eq!(code(&iotrules(&["eval", "--sql", RULE, "--topic", "t", "--payload", "{}", "--engine", "nope"])), 2);
    assert_eq!(code(&iotrules(&["eval", "--sql", RULE, "--topic", "t", "--payload-base64", "%%%"])), 2);
}

#[test]
fn eval_reads_rule_files_and_basic_ingest_topics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rules/telemetry_alerts.json");
    let rule = root.to_str().unwrap();
    let direct = iotrules(&[
        "eval",
        "--rule",
        rule,
        "--topic",
        "sensors/s9/telemetry",
        "--payload",
        r#"{"temperature": 90, "humidity": 10}"#,
        "--timestamp",
        "1700000000000",
    ]);
    assert_eq!(
        stdout(&direct),
        "{\"temperature\":90,\"humidity\":10,\"device\":\"s9\",\"observed_at\":1700000000000}\n"
    );
    // Basic Ingest: the rule is addressed by name and sees the topic without the prefix.
    let ingest = iotrules(&[
        "eval",
        "--rule",
        rule,
        "--topic",
        "$aws/rules/telemetry_alerts/sensors/s9/telemetry",
        "--payload",
        r#"{"temperature": 90, "humidity": 10}"#,
        "--timestamp",
        "1",
    ]);
    assert_eq!(stdout(&ingest), "{\"temperature\":90,\"humidity\":10,\"device\":\"s9\",\"observed_at\":1}\n");
    let other_rule =
        iotrules(&["eval", "--rule", rule, "--topic", "$aws/rules/other/sensors/s9/telemetry", "--payload", "{}"]);
    assert_eq!(stdout(&other_rule), "");
}

#[test]
fn functions_that_call_aws_need_a_stub() {
    let sql = "SELECT get_thing_shadow('pump', 'arn:aws:iam::123456789012:role/r').state.reported.rpm AS rpm FROM 't'";
    let missing = iotrules(&["eval", "--sql", sql, "--topic", "t", "--payload", "{}"]);
    assert_eq!(code(&missing), 1);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--stub get_thing_shadow=JSON"));
    let stubbed = iotrules(&[
        "eval",
        "--sql",
        sql,
        "--topic",
        "t",
        "--payload",
        "{}",
        "--stub",
        r#"get_thing_shadow={"state":{"reported":{"rpm":900}}}"#,
    ]);
    assert_eq!(stdout(&stubbed), "{\"rpm\":900}\n");
    assert_eq!(code(&iotrules(&["eval", "--sql", sql, "--topic", "t", "--payload", "{}", "--stub", "upper=1"])), 2);
}

#[test]
fn binary_payloads_pass_through_and_encode() {
    let raw = iotrules(&["eval", "--sql", "SELECT * FROM 't'", "--topic", "t", "--payload-base64", "AAEC/w=="]);
    assert_eq!(raw.stdout, b"\x00\x01\x02\xff\n");
    let encoded = iotrules(&[
        "eval",
        "--sql",
        "SELECT encode(*, 'base64') AS data FROM 't'",
        "--topic",
        "t",
        "--payload-base64",
        "AAEC/w==",
    ]);
    assert_eq!(stdout(&encoded), "{\"data\":\"AAEC/w==\"}\n");
}

/// Each hostile input is handled cleanly; the elapsed times are printed for the record.
#[test]
fn hostile_payloads_are_handled_cleanly() {
    let dir = scratch_dir("hostile");
    let big = dir.join("big.json");
    std::fs::write(&big, format!("{{\"pad\":\"{}\"}}", "x".repeat(10 * 1024 * 1024))).unwrap();
    let deep = dir.join("deep.json");
    let deep_text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    std::fs::write(&deep, &deep_text).unwrap();
    let deep_output = format!("{deep_text}\n");
    let cases: Vec<(&str, Vec<String>, i32, &str)> = vec![
        (
            "malformed JSON",
            vec!["--sql".into(), "SELECT temperature FROM 't'".into(), "--payload".into(), "{\"temperature\": ".into()],
            0,
            "{}\n",
        ),
        (
            "invalid UTF-8",
            vec!["--sql".into(), "SELECT * FROM 't'".into(), "--payload-base64".into(), "/v8A".into()],
            0,
            "\u{fffd}\u{fffd}\u{0}\n",
        ),
        (
            "10 MB payload",
            vec!["--sql".into(), "SELECT * FROM 't'".into(), "--payload-file".into(), big.display().to_string()],
            1,
            "",
        ),
        (
            // Deeper than Jackson reads: not JSON, so `*` is the bytes as they came.
            "10,000-deep array",
            vec!["--sql".into(), "SELECT * FROM 't'".into(), "--payload-file".into(), deep.display().to_string()],
            0,
            &deep_output,
        ),
        (
            "number past 64 bits",
            vec![
                "--sql".into(),
                "SELECT n, n + 1 AS m FROM 't'".into(),
                "--payload".into(),
                "{\"n\": 123456789012345678901234567890}".into(),
            ],
            0,
            "{\"n\":123456789012345678901234567890,\"m\":123456789012345678901234567891}\n",
        ),
        (
            "slow regular expression",
            vec![
                "--sql".into(),
                "SELECT regexp_matches(s, '(a+)+$') AS r FROM 't'".into(),
                "--payload".into(),
                format!("{{\"s\": \"{}b\"}}", "a".repeat(50_000)),
            ],
            0,
            "{\"r\":false}\n",
        ),
    ];
    for (what, args, expected_code, expected_stdout) in cases {
        let mut argv = vec!["eval".to_owned(), "--topic".to_owned(), "t".to_owned()];
        argv.extend(args);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let started = Instant::now();
        let output = iotrules(&argv);
        eprintln!("{what}: {:?}", started.elapsed());
        assert_eq!(code(&output), expected_code, "{what}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(String::from_utf8_lossy(&output.stdout), expected_stdout, "{what}");
        if expected_code == 1 {
            assert!(String::from_utf8_lossy(&output.stderr).contains("help:"), "{what} explains itself");
        }
    }
}

#[test]
fn test_runs_validation_tool_files_and_jsonl() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tests");
    let output = iotrules(&["test", examples.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stderr(&output).lines().last(), Some("8 passed, 0 failed"));
}

#[test]
fn test_shows_a_failure_as_a_diff() {
    let dir = scratch_dir("failing_test");
    std::fs::write(
        dir.join("wrong.json"),
        r#"{"topic": "a/b", "inputPayload": {"t": 5, "u": 1}, "inputSql": "SELECT t, u FROM 'a/+'", "expectedOutput": {"t": 6, "u": 1}}"#,
    )
    .unwrap();
    let output = iotrules(&["test", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    let text = stderr(&output);
    assert!(text.contains("FAIL"), "{text}");
    assert!(text.contains("-   \"t\": 6,") && text.contains("+   \"t\": 5,"), "{text}");
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
}

#[test]
fn the_conformance_corpus_passes_through_test() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/data/conformance/iotsql.jsonl");
    // The JIT is the default engine; the interpreter must agree case for case.
    for engine in [None, Some("jit"), Some("interp")] {
        let mut args = vec!["test", corpus.to_str().unwrap()];
        args.extend(engine.map(|engine| ["--engine", engine]).into_iter().flatten());
        let output = iotrules(&args);
        let text = stderr(&output);
        assert_eq!(code(&output), 0, "{engine:?}: {text}");
        assert_eq!(text.lines().last(), Some("384 passed, 0 failed, 5 skipped"), "{engine:?}");
    }
}

#[test]
fn bench_reports_the_set_and_each_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let output = iotrules(&[
        "bench",
        root.join("rules").to_str().unwrap(),
        "--messages",
        root.join("messages/sample.jsonl").to_str().unwrap(),
        "--seconds",
        "0.2",
        "--format",
        "json",
    ]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let engines: Vec<&str> =
        report["engines"].as_array().unwrap().iter().map(|engine| engine["engine"].as_str().unwrap()).collect();
    assert_eq!(engines, ["jit", "interp"]);
    let jit_rules = report["engines"][0]["rules"].as_array().unwrap();
    assert_eq!(jit_rules.len(), 3);
    for rule in jit_rules {
        assert!(rule.get("interpreted_because").is_none(), "the JIT compiles {}", rule["name"]);
        assert!(rule["messages_per_second"].as_f64().unwrap() > 0.0);
    }
    let engine = &report["engines"][1];
    assert_eq!(engine["engine"], "interp");
    assert!(engine["messages_per_second"].as_f64().unwrap() > 0.0);
    let rules = engine["rules"].as_array().unwrap();
    let names: Vec<&str> = rules.iter().map(|rule| rule["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fleet_summary", "shadow_moisture", "telemetry_alerts"]);
    // 200 of the 290 sample messages are sensor telemetry.
    let telemetry = rules.iter().find(|rule| rule["name"] == "telemetry_alerts").unwrap();
    assert!((telemetry["reached"].as_f64().unwrap() - 200.0 / 290.0).abs() < 1e-9);
    assert_eq!(code(&iotrules(&["bench", root.join("rules").to_str().unwrap(), "--messages", "nope.jsonl"])), 2);
}

#[test]
fn the_jit_engine_gives_the_interpreters_results() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/data/conformance/iotsql.jsonl");
    let output = iotrules(&["test", "--engine", "jit", corpus.to_str().unwrap()]);
    assert_eq!(stderr(&output).lines().last(), Some("384 passed, 0 failed, 5 skipped"));
    for (payload, expected) in [
        (r#"{"temperature": 60}"#, "{\"temperature\":60,\"device\":\"d1\"}\n"),
        (r#"{"temperature": "70"}"#, "{\"temperature\":\"70\",\"device\":\"d1\"}\n"),
        (r#"{"temperature": 20}"#, ""),
    ] {
        let fired = iotrules(&[
            "eval",
            "--engine",
            "jit",
            "--sql",
            RULE,
            "--topic",
            "sensors/d1/telemetry",
            "--payload",
            payload,
        ]);
        assert_eq!((code(&fired), stdout(&fired)), (0, expected.to_owned()), "{payload}");
    }
}

#[test]
fn a_rule_the_jit_does_not_compile_runs_interpreted_with_an_advice() {
    // One field past what one compiled rule may read.
    let fields: Vec<String> = (0..=4096).map(|index| format!("f{index}")).collect();
    let sql = format!("SELECT VALUE [{}] FROM 't'", fields.join(", "));
    let output = iotrules(&["eval", "--sql", &sql, "--topic", "t", "--payload", r#"{"f1": 1, "f4096": 2}"#]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout(&output), "[1,2]\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("jit::interpreted"), "{stderr}");
    assert!(stderr.contains("more than 4,096 distinct payload fields"), "{stderr}");
    let interp = iotrules(&["eval", "--engine", "interp", "--sql", &sql, "--topic", "t", "--payload", r#"{"f1": 1}"#]);
    assert!(interp.stderr.is_empty(), "the interpreter has nothing to say");
}

#[test]
fn eval_shows_a_diagnostic_past_column_65535() {
    // miette's graphical renderer panicked on a column this far along a line (exit 101).
    let items: Vec<String> = (0..15_000).map(|i| format!("a{i}")).collect();
    let sql = format!("SELECT {} FROM 't' WHERE nofn()", items.join(","));
    let dir = scratch_dir("eval_long_line");
    let file = dir.join("rule.sql");
    std::fs::write(&file, &sql).unwrap();
    let output = iotrules(&["eval", "--rule", file.to_str().unwrap(), "--topic", "t", "--payload", "{}"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), 1, "{stderr}");
    let column = sql.find("nofn").unwrap() + 1;
    assert!(stderr.contains(&format!("rule.sql:1:{column}]")), "{stderr}");
    assert!(stderr.contains("unknown function `nofn`"), "{stderr}");
}

#[test]
fn eval_reads_rule_files_that_start_with_a_byte_order_mark() {
    let dir = scratch_dir("eval_bom");
    let sql = dir.join("rule.sql");
    std::fs::write(&sql, format!("\u{feff}{RULE}")).unwrap();
    let rule = dir.join("rule.json");
    let payload = serde_json::json!({"sql": RULE, "awsIotSqlVersion": "2016-03-23", "actions": []});
    std::fs::write(&rule, format!("\u{feff}{payload}")).unwrap();
    for file in [&sql, &rule] {
        let output = iotrules(&[
            "eval",
            "--rule",
            file.to_str().unwrap(),
            "--topic",
            "sensors/d1/telemetry",
            "--payload",
            r#"{"temperature": 60}"#,
        ]);
        assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(stdout(&output), "{\"temperature\":60,\"device\":\"d1\"}\n");
    }
}

#[test]
fn test_walks_a_symbolic_link_loop_once() {
    let dir = scratch_dir("test_symlinks");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tests/overheat_fires.json");
    std::fs::copy(examples, dir.join("overheat_fires.json")).unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("self")).unwrap();
    let output = iotrules(&["test", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stderr(&output).lines().last(), Some("1 passed, 0 failed"));
}

#[test]
fn a_payload_that_is_not_json_is_said_to_be_read_as_binary() {
    let malformed =
        iotrules(&["eval", "--sql", "SELECT * FROM 't'", "--topic", "t", "--payload", "{\"a\": 1,\n \"b\": nope}"]);
    assert_eq!(code(&malformed), 0);
    // stdout is the rule's output as before: the bytes as they came, as AWS gives them.
    assert_eq!(stdout(&malformed), "{\"a\": 1,\n \"b\": nope}\n");
    let stderr = String::from_utf8_lossy(&malformed.stderr);
    assert_eq!(
        stderr,
        "note: the payload is not JSON at line 2, column 8: a word other than `true`, `false` or `null` (strings \
         need double quotes); it was evaluated as a binary payload, as AWS IoT does\n"
    );

    let cut =
        iotrules(&["eval", "--sql", "SELECT temperature FROM 't'", "--topic", "t", "--payload", "{\"temperature\": "]);
    assert_eq!((code(&cut), stdout(&cut)), (0, "{}\n".to_owned()));
    let stderr = String::from_utf8_lossy(&cut.stderr);
    assert!(stderr.contains("not JSON at line 1, column 16: the text ends where a value should be"), "{stderr}");
    assert!(stderr.contains("evaluated as a binary payload"), "{stderr}");
    assert!(!stderr.contains("EOF"), "no parser text: {stderr}");

    // JSON, and bytes that are not text, are evaluated without a word.
    let json = iotrules(&["eval", "--sql", "SELECT * FROM 't'", "--topic", "t", "--payload", "{\"a\": 1}"]);
    assert!(json.stderr.is_empty(), "{}", String::from_utf8_lossy(&json.stderr));
    let bytes = iotrules(&["eval", "--sql", "SELECT * FROM 't'", "--topic", "t", "--payload-base64", "AAEC/w=="]);
    assert!(bytes.stderr.is_empty(), "{}", String::from_utf8_lossy(&bytes.stderr));
}

#[test]
fn test_reports_a_broken_jsonl_line_and_runs_the_others() {
    let dir = scratch_dir("broken_jsonl");
    let good = r#"{"id": "fires", "sql": "SELECT a FROM 't'", "topic": "t", "payload": {"a": 1}, "expect": {"a": 1}}"#;
    let quiet = r#"{"id": "quiet", "sql": "SELECT a FROM 'u'", "topic": "t", "payload": {"a": 1}, "expect": null}"#;
    std::fs::write(dir.join("cases.jsonl"), format!("{good}\n{{id: \"broken\"}}\n\n{quiet}\n")).unwrap();
    let output = iotrules(&["test", dir.join("cases.jsonl").to_str().unwrap()]);
    let text = stderr(&output);
    assert_eq!(code(&output), 1, "an error fails the run: {text}");
    let file = dir.join("cases.jsonl").display().to_string();
    assert!(
        text.contains(&format!(
            "ERROR {file}:2\n  not valid JSON at column 2: an object key that is not a string in double quotes\n"
        )),
        "{text}"
    );
    assert!(!text.contains("key must be a string"), "no parser text: {text}");
    assert_eq!(text.lines().last(), Some("2 passed, 0 failed, 1 error"), "{text}");

    std::fs::write(dir.join("cases.jsonl"), format!("{good}\n{{\"id\": \"no-sql\"}}\n[1,]\n{quiet}\n")).unwrap();
    let output = iotrules(&["test", dir.join("cases.jsonl").to_str().unwrap()]);
    let text = stderr(&output);
    assert_eq!(code(&output), 1);
    assert!(
        text.contains(&format!("ERROR {file}:3\n  not valid JSON at column 4: a comma before a closing")),
        "{text}"
    );
    assert_eq!(text.lines().last(), Some("2 passed, 0 failed, 2 errors"), "{text}");
}

/// `test --format github|junit|json|sarif`: a failing and an unreadable case, in each CI
/// system's format, at their lines; passing cases are listed where the format lists them.
#[test]
fn test_results_in_ci_formats() {
    let dir = scratch_dir("test_formats");
    let file = dir.join("cases.jsonl");
    std::fs::write(
        &file,
        "{\"id\": \"good\", \"sql\": \"SELECT a FROM 't'\", \"topic\": \"t\", \"payload\": {\"a\": 1}, \"expect\": {\"a\": 1}}\n\
         {\"id\": \"bad\", \"sql\": \"SELECT a FROM 't'\", \"topic\": \"t\", \"payload\": {\"a\": 1}, \"expect\": {\"a\": 2}}\n\
         {broken\n",
    )
    .unwrap();
    let name = file.to_str().unwrap();
    let run = |format: &str| {
        let output = iotrules(&["test", "--format", format, name]);
        assert_eq!(code(&output), 1, "{format}");
        String::from_utf8(output.stdout).unwrap()
    };
    let github = run("github");
    let lines: Vec<&str> = github.lines().collect();
    assert_eq!(lines.len(), 2, "{github}");
    assert!(
        lines.iter().any(|line| line.starts_with(&format!("::error file={name},line=2,title=failed "))),
        "{github}"
    );
    assert!(lines.iter().any(|line| line.starts_with(&format!("::error file={name},line=3,title=error "))), "{github}");

    let junit = run("junit");
    assert!(junit.contains("tests=\"3\" failures=\"1\" errors=\"1\""), "{junit}");
    assert_eq!(junit.matches("<testcase ").count(), 3, "{junit}");
    assert!(junit.contains("&quot;a&quot;: 2"), "{junit}");

    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json["summary"], serde_json::json!({"passed": 1, "failed": 1, "skipped": 0, "errors": 1}));
    let sarif: serde_json::Value = serde_json::from_str(&run("sarif")).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().map(Vec::len), Some(2));
}

/// `eval --explain` says on standard error why a rule fired or not: the topic against FROM,
/// the WHERE clause's value, the SELECT items that were Undefined; standard output is the
/// output alone.
#[test]
fn explain_says_why_a_rule_fired_or_not() {
    let sql = "SELECT temperature, humidity FROM 'sensors/+/telemetry' WHERE temperature > 50";
    let explain = |topic: &str, payload: &str| {
        let output = iotrules(&["eval", "--sql", sql, "--topic", topic, "--payload", payload, "--explain"]);
        assert_eq!(code(&output), 0);
        (String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
    };
    let (stdout, stderr) = explain("sensors/b7/telemetry", r#"{"temperature": 71}"#);
    assert_eq!(stdout, "{\"temperature\":71}\n");
    assert!(stderr.contains("WHERE `temperature > 50` is true (Boolean)"), "{stderr}");
    assert!(stderr.contains("SELECT item `humidity` is Undefined: left out of the output"), "{stderr}");
    assert!(stderr.ends_with("the rule fired\n"), "{stderr}");
    let (stdout, stderr) = explain("sensors/b7/telemetry", r#"{"temperature": "hot"}"#);
    assert!(stdout.is_empty());
    assert!(stderr.contains("WHERE `temperature > 50` is Undefined"), "{stderr}");
    assert!(stderr.contains("did not fire: the WHERE clause was not true"), "{stderr}");
    let (_, stderr) = explain("other/b7", "{}");
    assert!(stderr.contains("topic `other/b7` does not match FROM 'sensors/+/telemetry'"), "{stderr}");
}

/// Policy tests: requests with the decisions expected under policies (documents inline or
/// named beside the test), run by `iotrules test`; a wrong expectation fails with the
/// request, what was expected and what was decided; the whole policy corpus passes.
#[test]
fn test_runs_policy_tests() {
    let dir = scratch_dir("policy_tests");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(
        dir.join("policies/device.json"),
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect",
            "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}"}]}"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(
        dir.join("tests/connect.json"),
        r#"{"policies": [{"file": "../policies/device.json"}], "context": {"clientId": "d1"}, "requests": [
            {"action": "iot:Connect", "resource": "arn:aws:iot:us-east-1:123456789012:client/d1", "expect": "ALLOWED"},
            {"action": "iot:Connect", "resource": "arn:aws:iot:us-east-1:123456789012:client/d2", "expect": "ALLOWED"}]}"#,
    )
    .unwrap();
    let output = iotrules(&["test", dir.join("tests").to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    let text = stderr(&output);
    assert!(
        text.contains(
            "iot:Connect on arn:aws:iot:us-east-1:123456789012:client/d2: expected ALLOWED, decided IMPLICIT_DENY"
        ),
        "{text}"
    );
    assert!(!text.contains("client/d1:"), "{text}");
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"), "{text}");

    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/data/conformance/policy.jsonl");
    let output = iotrules(&["test", corpus.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stderr(&output);
    let summary = text.lines().last().unwrap_or_default();
    assert!(summary.starts_with("188 passed, 0 failed, 5 skipped"), "{text}");
}

#[test]
fn json_format_gives_the_outcome_output_and_explanation_as_fields() {
    let dir = scratch_dir("eval_json");
    let rule = dir.join("hot.sql");
    std::fs::write(&rule, "SELECT temp, missing FROM 'sensors/+' WHERE temp > 30").unwrap();
    let eval = |topic: &str, payload: &str| {
        let output = iotrules(&[
            "eval",
            "--rule",
            rule.to_str().unwrap(),
            "--topic",
            topic,
            "--payload",
            payload,
            "--explain",
            "--format",
            "json",
        ]);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        assert!(output.stderr.is_empty(), "{}", stderr(&output));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let fired = eval("sensors/a", r#"{"temp": 40}"#);
    assert_eq!(fired["outcome"], "fired");
    assert_eq!(fired["fired"], true);
    assert_eq!(fired["output"], serde_json::json!({"temp": 40}));
    assert_eq!(fired["output_base64"], serde_json::Value::Null);
    let args = ["eval", "--rule", rule.to_str().unwrap(), "--topic", "sensors/a", "--payload", r#"{"temp": 40.50}"#];
    let human = iotrules(&args);
    let json = iotrules(&[&args[..], &["--format", "json"]].concat());
    let printed = stdout(&human);
    assert!(
        stdout(&json).contains(&format!("\"output\": {}", printed.trim())),
        "the payload as eval prints it: {printed}"
    );
    let explain = &fired["explain"];
    assert_eq!(explain["topic_matches"], true);
    assert_eq!(explain["from"], "sensors/+");
    assert_eq!(explain["where"]["expression"], "temp > 30");
    assert_eq!(explain["where"]["value"], true);
    assert_eq!(explain["where"]["type"], "Boolean");
    assert_eq!(explain["undefined_items"], serde_json::json!(["missing"]));
    assert_eq!(explain["verdict"], "the rule fired");

    let filtered = eval("sensors/a", r#"{"temp": 10}"#);
    assert_eq!(filtered["outcome"], "filtered");
    assert_eq!(filtered["fired"], false);
    assert_eq!(filtered["output"], serde_json::Value::Null);
    assert_eq!(filtered["explain"]["where"]["value"], false);
    let other = eval("other/a", r#"{"temp": 40}"#);
    assert_eq!(other["outcome"], "not_matched");
    assert_eq!(other["explain"]["topic_matches"], false);
    assert_eq!(other["explain"]["where"], serde_json::Value::Null);

    let binary = eval("sensors/a", "temp=40");
    assert_eq!(binary["outcome"], "filtered");
    assert!(binary["notes"][0].as_str().unwrap().starts_with("the payload is not JSON"), "{binary}");

    // Failures are JSON on standard output too, with the human format's exit codes.
    let fail = |args: &[&str]| {
        let output = iotrules(&[args, &["--topic", "t", "--format", "json"]].concat());
        assert!(output.stderr.is_empty(), "{}", stderr(&output));
        (code(&output), serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap())
    };
    let (exit, failure) = fail(&["eval", "--sql", "SELECT nofn() AS x FROM 't'", "--payload", "{}"]);
    assert_eq!(exit, 1);
    assert_eq!(failure["diagnostics"][0]["code"], "iotsql::unknown_function");
    assert_eq!(failure["diagnostics"][0]["file"], "--sql");
    assert_eq!(failure["diagnostics"][0]["column"], 8);
    let missing = dir.join("missing.bin");
    let (exit, failure) = fail(&["eval", "--sql", "SELECT * FROM 't'", "--payload-file", missing.to_str().unwrap()]);
    assert_eq!(exit, 2);
    assert!(failure["error"].as_str().unwrap().contains("missing.bin"), "{failure}");
    let shadow = "SELECT get_thing_shadow('pump', 'arn:aws:iam::123456789012:role/r') AS s FROM 't'";
    let (exit, failure) = fail(&["eval", "--sql", shadow, "--payload", "{}"]);
    assert_eq!(exit, 1);
    assert!(failure["error"].is_string() && failure["help"].is_string(), "{failure}");
}
