//! `iotrules authorize` and policy files in `iotrules check`, as the conformance contract and
//! users run them.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::path::Path;

use common::{code, iotrules, scratch_dir};
use iotrules_compiler::policy::ACTIONS;
use serde_json::Value;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Every case of the policy corpus through the command line: the first request of each case
/// alone, then all of its requests in one batch.
#[test]
fn the_policy_corpus_passes_through_authorize() {
    let corpus = include_str!("../../compiler/tests/data/conformance/policy.jsonl");
    let dir = scratch_dir("authorize-corpus");
    let (mut decided, mut rejected, mut unknown) = (0, 0, 0);
    for (number, line) in corpus.lines().filter(|line| !line.trim().is_empty()).enumerate() {
        let case: Value = serde_json::from_str(line).unwrap();
        let id = case["id"].as_str().unwrap();
        if case["kind"] == "iam-trust-policy" {
            continue;
        }
        let mut args: Vec<String> = vec!["authorize".into()];
        for (index, policy) in case["policies"].as_array().unwrap().iter().enumerate() {
            let text = match policy {
                Value::String(text) => text.clone(),
                object => serde_json::to_string_pretty(object).unwrap(),
            };
            args.extend(["--policy".into(), write(&dir, &format!("case{number}-policy{index}.json"), &text)]);
        }
        args.extend([
            "--context".into(),
            write(&dir, &format!("case{number}-context.json"), &case["context"].to_string()),
        ]);
        let Some(requests) = case["requests"].as_array() else {
            let mut single = args.clone();
            single.extend(["--action", "iot:Connect", "--resource", "*"].map(String::from));
            let output = iotrules(&single.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(code(&output), 1, "{id}: an invalid policy exits 1");
            assert!(String::from_utf8_lossy(&output.stderr).contains("policy::"), "{id}: diagnostics on stderr");
            rejected += 1;
            continue;
        };
        // A request for an action iotrules does not know is decided as written, with a warning.
        for request in requests.iter().filter(|request| {
            let action = request["action"].as_str().unwrap();
            !ACTIONS.iter().any(|known| known.eq_ignore_ascii_case(action))
        }) {
            let mut single = args.clone();
            single.extend(
                ["--action", request["action"].as_str().unwrap(), "--resource", request["resource"].as_str().unwrap()]
                    .map(String::from),
            );
            let output = iotrules(&single.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(code(&output), 0, "{id}: {request}");
            assert!(String::from_utf8_lossy(&output.stderr).contains("policy::unknown_action"), "{id}");
            let result: Value = serde_json::from_slice(&output.stdout).unwrap();
            if case["doc_suspect"] != true {
                assert_eq!(result["authDecision"], request["expect"], "{id}: {result}");
            }
            unknown += 1;
        }
        // A `doc_suspect` case reproduces a guide example that contradicts the guide's own text:
        // its decisions are the compiler's conformance runner's to list, not to enforce here.
        let enforced = case["doc_suspect"] != true;
        let first = &requests[0];
        let mut single = args.clone();
        single.extend([
            "--action".into(),
            first["action"].as_str().unwrap().to_owned(),
            "--resource".into(),
            first["resource"].as_str().unwrap().to_owned(),
        ]);
        let output = iotrules(&single.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code(&output), 0, "{id}: {}", String::from_utf8_lossy(&output.stderr));
        let result: Value = serde_json::from_slice(&output.stdout).unwrap();
        if enforced {
            assert_eq!(result["authDecision"], first["expect"], "{id}: {result}");
        }

        let batch: String = requests.iter().map(|request| format!("{request}\n")).collect();
        args.extend(["--requests".into(), write(&dir, &format!("case{number}-requests.jsonl"), &batch)]);
        let output = iotrules(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code(&output), 0, "{id}: {}", String::from_utf8_lossy(&output.stderr));
        let lines: Vec<Value> =
            String::from_utf8_lossy(&output.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines.len(), requests.len(), "{id}");
        for (request, result) in requests.iter().zip(&lines) {
            if enforced {
                assert_eq!(result["authDecision"], request["expect"], "{id}: {request} gave {result}");
            }
            decided += 1;
        }
    }
    assert!(decided > 370 && rejected >= 15, "{decided} decided, {rejected} rejected");
    // greengrass:NoSuchAction, iotwireless:NoSuchOperation, iotjobsdata:CancelJobExecution.
    assert_eq!(unknown, 3);
}

#[test]
fn results_name_the_policies_and_statements_that_decided() {
    let dir = scratch_dir("authorize-result");
    let device = write(
        &dir,
        "device.json",
        r#"{"Version": "2012-10-17", "Statement": [
            {"Sid": "OwnTopics", "Effect": "Allow", "Action": "iot:Publish",
             "Resource": "arn:aws:iot:us-east-1:123456789012:topic/d/${iot:Connection.Thing.ThingName}/*"},
            {"Effect": "Deny", "Action": "iot:Publish",
             "Resource": "arn:aws:iot:us-east-1:123456789012:topic/d/${iot:Connection.Thing.ThingName}/admin"}]}"#,
    );
    let context = write(&dir, "context.json", r#"{"clientId": "t1", "thingName": "t1"}"#);
    let ask = |resource: &str| {
        let output = iotrules(&[
            "authorize",
            "--policy",
            &device,
            "--context",
            &context,
            "--action",
            "iot:Publish",
            "--resource",
            resource,
        ]);
        assert_eq!(code(&output), 0);
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let allowed = ask("arn:aws:iot:us-east-1:123456789012:topic/d/t1/temp");
    assert_eq!(allowed["authDecision"], "ALLOWED");
    assert_eq!(allowed["allowed"]["policies"][0]["policyName"], "device");
    assert_eq!(allowed["allowed"]["policies"][0]["statements"][0]["sid"], "OwnTopics");
    let denied = ask("arn:aws:iot:us-east-1:123456789012:topic/d/t1/admin");
    assert_eq!(denied["authDecision"], "EXPLICIT_DENY");
    assert_eq!(denied["denied"]["explicitDeny"]["policies"][0]["statements"][0]["index"], 1);
    let other = ask("arn:aws:iot:us-east-1:123456789012:topic/d/t2/temp");
    assert_eq!(other["authDecision"], "IMPLICIT_DENY");
    assert_eq!(other["denied"]["implicitDeny"]["policies"][0]["policyName"], "device");

    let no_thing = write(&dir, "no-thing.json", r#"{"clientId": "t1"}"#);
    let output = iotrules(&[
        "authorize",
        "--policy",
        &device,
        "--context",
        &no_thing,
        "--action",
        "iot:Publish",
        "--resource",
        "arn:aws:iot:us-east-1:123456789012:topic/d/t1/temp",
    ]);
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["authDecision"], "IMPLICIT_DENY");
    assert_eq!(result["missingContextValues"][0], "iot:Connection.Thing.ThingName");
}

#[test]
fn check_reads_policy_files_beside_rule_files() {
    let dir = scratch_dir("check-policies");
    write(
        &dir,
        "good.json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}"#,
    );
    write(&dir, "rule.json", r#"{"sql": "SELECT * FROM 'a/b'", "actions": [], "awsIotSqlVersion": "2016-03-23"}"#);
    let output = iotrules(&["check", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));

    write(
        &dir,
        "bad.json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "allow", "Action": "iot:Conect", "Resource": "*"}]}"#,
    );
    let output = iotrules(&["check", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&output), 1);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let codes: Vec<&str> =
        report["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    // good.json connects any client id without an attachment check: a warning, not an error.
    assert_eq!(codes, ["policy::invalid_effect", "policy::unknown_action", "policy::connect_without_attachment"]);
    let first = &report["diagnostics"][0];
    assert_eq!((first["line"].as_u64(), first["column"].as_u64()), (Some(1), Some(52)));
}

#[test]
fn an_invalid_policy_on_one_long_line_is_shown() {
    // miette's graphical renderer panicked on a column past 65,535 (exit 101).
    let dir = scratch_dir("authorize-long-line");
    let resources: Vec<String> =
        (0..4_000).map(|i| format!("\"arn:aws:iot:us-east-1:123456789012:topic/t{i}\"")).collect();
    let text = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "iot:Publish", "Resource": [{}], "Nope": 1}}]}}"#,
        resources.join(",")
    );
    let column = text.find("\"Nope\"").unwrap() + 1;
    assert!(column > 65_535);
    let policy = write(&dir, "long.json", &text);
    let output = iotrules(&["authorize", "--policy", &policy, "--action", "iot:Connect", "--resource", "*"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), 1, "{stderr}");
    assert!(stderr.contains(&format!("long.json:1:{column}]")), "{stderr}");
    assert!(stderr.contains("unknown statement element `Nope`"), "{stderr}");
    assert!(stderr.contains("policy::too_long"), "{stderr}");
}

#[test]
fn a_policy_file_may_start_with_a_byte_order_mark() {
    let dir = scratch_dir("authorize-bom");
    let policy = write(
        &dir,
        "bom.json",
        "\u{feff}{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"iot:Connect\", \"Resource\": \"*\"}]}",
    );
    let output = iotrules(&["authorize", "--policy", &policy, "--action", "iot:Connect", "--resource", "*"]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["authDecision"], "ALLOWED");
}

#[test]
fn the_context_gives_the_serial_number_and_the_request_time() {
    let dir = scratch_dir("authorize-serial-time");
    let policy = write(
        &dir,
        "serial.json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Publish",
            "Resource": "arn:aws:iot:us-east-1:123456789012:topic/s/${iot:Certificate.SerialNumber}",
            "Condition": {"DateLessThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}}}]}"#,
    );
    let ask = |context: &str| {
        let context = write(&dir, "context.json", context);
        let resource = "arn:aws:iot:us-east-1:123456789012:topic/s/0a:1b";
        iotrules(&[
            "authorize",
            "--policy",
            &policy,
            "--context",
            &context,
            "--action",
            "iot:Publish",
            "--resource",
            resource,
        ])
    };
    let decision = |context: &str| {
        let output = ask(context);
        assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()["authDecision"].clone()
    };
    assert_eq!(
        decision(r#"{"certificate": {"serialNumber": "0a:1b"}, "currentTime": "2024-06-15T12:00:00Z"}"#),
        "ALLOWED"
    );
    assert_eq!(decision(r#"{"certificate": {"serialNumber": "0a:1b"}, "currentTime": "1735689600"}"#), "IMPLICIT_DENY");
    assert_eq!(decision(r#"{"certificate": {"serialNumber": "0a:1b"}}"#), "IMPLICIT_DENY", "no time, no clock");
    let output = ask(r#"{"currentTime": "tomorrow"}"#);
    assert_eq!(code(&output), 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("currentTime"));
}

#[test]
fn a_request_for_an_unknown_action_or_a_resource_that_is_no_arn_is_refused() {
    let dir = scratch_dir("authorize-request-checks");
    let policy = write(
        &dir,
        "any.json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}"#,
    );
    let topic = "arn:aws:iot:us-east-1:123456789012:topic/a/b";
    let ask = |action: &str, resource: &str| {
        let output = iotrules(&["authorize", "--policy", &policy, "--action", action, "--resource", resource]);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.stdout.is_empty() || code(&output) == 0, "no decision for a refused request: {stderr}");
        (code(&output), stderr)
    };

    let (status, stderr) = ask("iot:Publsh", topic);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("policy::unknown_action"), "{stderr}");
    assert!(stderr.contains("unknown action `iot:Publsh`"), "{stderr}");
    assert!(stderr.contains("[--action:1:1]"), "the snippet shows the argument: {stderr}");
    assert!(stderr.contains("did you mean `iot:Publish`?"), "{stderr}");

    let (status, stderr) = ask("PUBLISH", topic);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("unknown action `PUBLISH`"), "{stderr}");
    assert!(stderr.contains("did you mean `iot:Publish`?"), "{stderr}");

    let (status, stderr) = ask("iot:Publish", "a/b");
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("policy::invalid_arn"), "{stderr}");
    assert!(stderr.contains("`a/b` is not an AWS IoT resource ARN"), "{stderr}");
    assert!(stderr.contains("[--resource:1:1]"), "{stderr}");

    // The MQTT actions are asked about for one resource type each.
    let (status, stderr) = ask("iot:Subscribe", topic);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("policy::resource_type_mismatch"), "{stderr}");
    assert!(stderr.contains("[--resource:1:36]"), "the snippet points at `topic`: {stderr}");
    assert!(stderr.contains("did you mean `arn:aws:iot:us-east-1:123456789012:topicfilter/a/b`?"), "{stderr}");
    for (action, resource) in [("iot:Connect", topic), ("iot:Publish", "arn:aws:iot:us-east-1:123456789012:client/c")] {
        assert_eq!(ask(action, resource).0, 1, "{action} on {resource}");
    }

    // Action names compare case-insensitively, and `*` stands for every resource.
    let output = iotrules(&["authorize", "--policy", &policy, "--action", "IOT:publish", "--resource", topic]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    let output =
        iotrules(&["authorize", "--policy", &policy, "--action", "iot:ListRetainedMessages", "--resource", "*"]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_requests_file_is_checked_before_anything_is_decided() {
    let dir = scratch_dir("authorize-requests-checks");
    let policy = write(
        &dir,
        "any.json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}"#,
    );
    let requests = write(
        &dir,
        "requests.jsonl",
        concat!(
            r#"{"action": "iot:Publish", "resource": "arn:aws:iot:us-east-1:123456789012:topic/a"}"#,
            "\n",
            r#"{"action": "iot:Publsh", "resource": "topic/a"}"#,
            "\n",
        ),
    );
    let output = iotrules(&["authorize", "--policy", &policy, "--requests", &requests]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), 1, "{stderr}");
    assert!(output.stdout.is_empty(), "no decisions when a request is refused");
    assert!(stderr.contains("requests.jsonl:2:13]"), "points at the action on line 2: {stderr}");
    assert!(stderr.contains("requests.jsonl:2:39]"), "points at the resource on line 2: {stderr}");
    assert!(stderr.contains("did you mean `iot:Publish`?"), "{stderr}");

    let broken = write(&dir, "broken.jsonl", "{\"action\": nope}\n");
    let output = iotrules(&["authorize", "--policy", &policy, "--requests", &broken]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), 2, "{stderr}");
    assert!(stderr.contains("broken.jsonl:1: not valid JSON at column 13: a word other than `true`"), "{stderr}");
    assert!(!stderr.contains("expected ident"), "no parser text: {stderr}");
}

#[test]
fn json_format_is_one_document_of_results_and_failures_are_json_too() {
    const PUBLISH_ANYWHERE: &str = r#"{"Version": "2012-10-17",
        "Statement": [{"Sid": "All", "Effect": "Allow", "Action": "iot:Publish", "Resource": "*"}]}"#;
    let dir = scratch_dir("authorize-json");
    let policy = write(&dir, "publish.json", PUBLISH_ANYWHERE);
    let lines: Vec<String> = [("iot:Publish", "topic/a"), ("iot:Connect", "client/c")]
        .iter()
        .map(|(action, resource)| {
            serde_json::json!({"action": action, "resource": format!("arn:aws:iot:us-east-1:123456789012:{resource}")})
                .to_string()
        })
        .collect();
    let requests = write(&dir, "requests.jsonl", &lines.join("\n"));
    let output = iotrules(&["authorize", "--policy", &policy, "--requests", &requests, "--format", "json"]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = document["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "one document for every request: {document}");
    assert_eq!(results[0]["authDecision"], "ALLOWED");
    assert_eq!(results[0]["allowed"]["policies"][0]["statements"][0]["sid"], "All");
    assert_eq!(results[1]["authInfo"]["action"], "iot:Connect");
    assert_eq!(results[1]["authDecision"], "IMPLICIT_DENY");
    assert_eq!(document["diagnostics"], serde_json::json!([]));

    let fail = |policy: &str, action: &str| {
        let resource = "arn:aws:iot:us-east-1:123456789012:topic/a";
        let output = iotrules(&[
            "authorize",
            "--policy",
            policy,
            "--action",
            action,
            "--resource",
            resource,
            "--format",
            "json",
        ]);
        assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
        (code(&output), serde_json::from_slice::<Value>(&output.stdout).unwrap())
    };
    let (exit, failure) = fail(&policy, "iot:Publsh");
    assert_eq!(exit, 1, "the exit code of the human format");
    assert!(failure["error"].is_string(), "{failure}");
    let diagnostic = &failure["diagnostics"][0];
    assert_eq!(diagnostic["code"], "policy::unknown_action");
    assert_eq!(diagnostic["file"], "--action");
    assert_eq!(diagnostic["help"], "did you mean `iot:Publish`?");

    let invalid = write(&dir, "invalid.json", r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}"#);
    let (exit, failure) = fail(&invalid, "iot:Publish");
    assert_eq!(exit, 1);
    let diagnostics = failure["diagnostics"].as_array().unwrap();
    assert!(!diagnostics.is_empty() && diagnostics.iter().all(|d| d["file"] == invalid.as_str()), "{failure}");

    let missing = dir.join("missing.json");
    let (exit, failure) = fail(missing.to_str().unwrap(), "iot:Publish");
    assert_eq!(exit, 2, "a usage error exits 2 in either format");
    assert!(failure["error"].as_str().unwrap().contains("missing.json"), "{failure}");
}
