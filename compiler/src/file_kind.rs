//! What a file holds, told from its name and its content: one answer for every command of the
//! CLI and for the language server, so that a file is a rule, a policy or a test case
//! everywhere or nowhere.
//!
//! Names decide first: `.sql` and `.iotsql` hold one IoT SQL statement, `.jsonl` holds test
//! cases or messages. A `.json` file is told by its top-level members: a file with any member
//! of a rule payload is a rule file, so a rule with a misspelt statement is still checked (and
//! reported) rather than passed over; JSON with no member iotrules knows (`package.json`, ...)
//! is not read. A YAML file (`.yaml`, `.yml`, or a `.template` that is not JSON) is a
//! CloudFormation template when it has an `AWS::IoT::TopicRule` resource; other YAML (CI
//! configurations, docker-compose files) is not read.

use serde_json::{Map, Value};

use crate::rule_file::yaml;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// One IoT SQL statement.
    Statement,
    /// A topic rule: a TopicRulePayload, what `aws iot get-topic-rule` prints, or a
    /// `create-topic-rule --cli-input-json` file.
    TopicRule,
    /// An IoT policy document.
    Policy,
    /// Test cases for `iotrules test`: a TestTopicRule-style case, or JSON Lines of cases.
    Tests,
    /// A file of a device registry (a thing, a certificate description, principals or attached
    /// policies), read through `--registry`.
    Registry,
    /// Input data: a policy context for `authorize`, or JSON Lines of messages.
    Data,
    /// Not a file iotrules reads.
    Other,
}

impl FileKind {
    /// What the kind is, for messages: "a rule file", "a policy document", ...
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Statement => "an IoT SQL statement",
            FileKind::TopicRule => "a rule file",
            FileKind::Policy => "a policy document",
            FileKind::Tests => "a test file",
            FileKind::Registry => "a registry file",
            FileKind::Data => "a data file (a policy context or messages)",
            FileKind::Other => "not a file iotrules reads",
        }
    }
}

/// Members only a test case has.
const TEST_MEMBERS: &[&str] =
    &["inputSql", "expectedOutput", "expect", "expect_text", "expect_base64", "requests", "expect_error"];

/// Members of a rule file at its top level (the payload, `get-topic-rule`'s wrapper, or
/// `--cli-input-json`'s).
const RULE_MEMBERS: &[&str] = &["sql", "rule", "ruleArn", "topicRulePayload"];

/// The CloudFormation resource type of a topic rule; a template with one is a rule file.
const TOPIC_RULE_RESOURCE: &str = "AWS::IoT::TopicRule";

/// Members only a rule payload has besides its statement: a file with one of them is a rule
/// even when its `sql` is misspelt, so that it is reported rather than passed over.
const PAYLOAD_MEMBERS: &[&str] = &["ruleName", "actions", "errorAction", "ruleDisabled", "awsIotSqlVersion"];

/// Members that mark the registry files `iotrules fleet` writes.
const REGISTRY_MEMBERS: &[&str] = &[
    "certificateDescription",
    "principals",
    "policies",
    "thingArn",
    "thingGroupName",
    "thingGroupArn",
    "policyArn",
    "policyDocument",
];

/// The members of a policy context (`iotrules authorize --context`).
const CONTEXT_MEMBERS: &[&str] = &[
    "region",
    "account",
    "clientId",
    "thingName",
    "thingTypeName",
    "thingAttributes",
    "isAttached",
    "certificate",
    "certificateId",
    "currentTime",
    "sourceIp",
    "sourceVpce",
    "connectAttributes",
    "lastWillTopic",
];

/// The kind of the file named `name` (a path or a file name) holding `text`.
pub fn classify(name: &str, text: &str) -> FileKind {
    let extension = name.rsplit_once('.').map(|(_, extension)| extension.to_ascii_lowercase());
    match extension.as_deref() {
        Some("sql" | "iotsql") => FileKind::Statement,
        Some("json") => classify_json(text),
        Some("jsonl") => classify_lines(text),
        _ if is_yaml(name, text) => classify_yaml(text),
        Some("template") => classify_json(text),
        _ => FileKind::Other,
    }
}

/// Whether the file named `name` holding `text` is YAML: `.yaml` and `.yml` files, and
/// `.template` files that are not JSON (CloudFormation writes templates either way).
pub fn is_yaml(name: &str, text: &str) -> bool {
    let extension = name.rsplit_once('.').map(|(_, extension)| extension.to_ascii_lowercase());
    match extension.as_deref() {
        Some("yaml" | "yml") => true,
        Some("template") => !text.trim_start().starts_with('{'),
        _ => false,
    }
}

/// The kind of a JSON document, told by its members (see the module's documentation); for
/// the language server, which knows a document is JSON but not always its file name.
pub fn classify_json(text: &str) -> FileKind {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(members)) => classify_members(&members),
        // A list of test cases; a rule or a policy is never a list.
        Ok(Value::Array(items)) => {
            let case = |item: &Value| {
                item.as_object().is_some_and(|members| TEST_MEMBERS.iter().any(|m| members.contains_key(*m)))
            };
            if items.iter().any(case) { FileKind::Tests } else { FileKind::Data }
        }
        // Not JSON: told by the member names it mentions, so that a broken file is reported
        // as what it was meant to be.
        Ok(_) | Err(_) => {
            let mentions = |member: &str| text.contains(&format!("\"{member}\""));
            if RULE_MEMBERS.iter().any(|member| mentions(member)) {
                FileKind::TopicRule
            } else if mentions("Statement") || mentions("Version") {
                FileKind::Policy
            } else if TEST_MEMBERS.iter().any(|member| mentions(member)) {
                FileKind::Tests
            } else {
                FileKind::TopicRule
            }
        }
    }
}

fn classify_members(members: &Map<String, Value>) -> FileKind {
    let has = |member: &&str| members.contains_key(*member);
    if TEST_MEMBERS.iter().any(has) {
        FileKind::Tests
    } else if RULE_MEMBERS.iter().any(has) {
        FileKind::TopicRule
    } else if let Some(Value::Object(resources)) = members.get("Resources") {
        // A CloudFormation template: read for its topic rules, if it has any.
        let topic_rule = |resource: &Value| resource.get("Type").and_then(Value::as_str) == Some(TOPIC_RULE_RESOURCE);
        if resources.values().any(topic_rule) { FileKind::TopicRule } else { FileKind::Other }
    } else if members.contains_key("Statement") || members.contains_key("Version") {
        FileKind::Policy
    } else if REGISTRY_MEMBERS.iter().any(has) || (has(&"thingName") && has(&"version")) {
        FileKind::Registry
    } else if !members.is_empty() && members.keys().all(|member| CONTEXT_MEMBERS.contains(&member.as_str())) {
        FileKind::Data
    } else if PAYLOAD_MEMBERS.iter().any(has) {
        FileKind::TopicRule
    } else {
        // package.json, tsconfig.json and the other JSON a repository holds.
        FileKind::Other
    }
}

/// A YAML file: a CloudFormation template when it has a topic rule, else not a file iotrules
/// reads. YAML that cannot be read is a template when it names one (`AWSTemplateFormatVersion`
/// or the topic rule type), so that its error is reported.
pub fn classify_yaml(text: &str) -> FileKind {
    match yaml::parse(text) {
        Ok(root) => {
            let resources = root.get("Resources").map(yaml::Node::entries).unwrap_or_default();
            let topic_rule =
                |resource: &yaml::Node| resource.get("Type").and_then(yaml::Node::as_str) == Some(TOPIC_RULE_RESOURCE);
            if resources.iter().any(|(_, resource)| topic_rule(resource)) {
                FileKind::TopicRule
            } else {
                FileKind::Other
            }
        }
        Err(_) if text.contains("AWSTemplateFormatVersion") || text.contains(TOPIC_RULE_RESOURCE) => {
            FileKind::TopicRule
        }
        Err(_) => FileKind::Other,
    }
}

/// JSON Lines: test cases when the first case names a statement or an expectation, else
/// messages.
fn classify_lines(text: &str) -> FileKind {
    let first = text.lines().map(str::trim).find(|line| !line.is_empty() && !line.starts_with("//"));
    match first.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(members)))
            if ["sql", "inputSql", "expect", "requests", "expect_error"].iter().any(|m| members.contains_key(*m)) =>
        {
            FileKind::Tests
        }
        Some(Ok(_)) | None => FileKind::Data,
        // A first line that is not JSON: judged by what it mentions, as a test file if it
        // names a statement (`iotrules test` then reports the line).
        Some(Err(_)) => {
            if first.is_some_and(|line| line.contains("\"sql\"") || line.contains("\"expect\"")) {
                FileKind::Tests
            } else {
                FileKind::Data
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FileKind, classify};

    #[test]
    fn names_decide_first() {
        assert_eq!(classify("rules/a.sql", "whatever"), FileKind::Statement);
        assert_eq!(classify("a.IOTSQL", ""), FileKind::Statement);
        assert_eq!(classify("template.yaml", "Resources: {}"), FileKind::Other);
        assert_eq!(classify("notes.txt", "Resources: {}"), FileKind::Other);
        assert_eq!(classify("Makefile", "all:"), FileKind::Other);
    }

    #[test]
    fn json_is_told_by_its_members() {
        let cases = [
            (r#"{"sql": "SELECT * FROM 't'", "actions": []}"#, FileKind::TopicRule),
            (r#"{"ruleArn": "arn", "rule": {"sql": "SELECT 1 FROM 't'"}}"#, FileKind::TopicRule),
            (r#"{"ruleName": "r", "topicRulePayload": {"sql": "SELECT 1 FROM 't'"}}"#, FileKind::TopicRule),
            (r#"{"Version": "2012-10-17", "Statement": []}"#, FileKind::Policy),
            (r#"{"inputSql": "SELECT 1 FROM 't'", "expectedOutput": {}}"#, FileKind::Tests),
            (r#"{"thingName": "t", "thingArn": "arn", "attributes": {}, "version": 1}"#, FileKind::Registry),
            (r#"{"certificateDescription": {}}"#, FileKind::Registry),
            (r#"{"principals": []}"#, FileKind::Registry),
            (r#"{"Resources": {"R": {"Type": "AWS::IoT::TopicRule", "Properties": {}}}}"#, FileKind::TopicRule),
            (
                r#"{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"B": {"Type": "AWS::S3::Bucket"}}}"#,
                FileKind::Other,
            ),
            // `aws iot get-policy`'s answer, as the registry keeps a policy.
            (
                r#"{"policyName": "p", "policyArn": "arn", "policyDocument": "{}", "defaultVersionId": "1"}"#,
                FileKind::Registry,
            ),
            (r#"{"clientId": "boiler-7", "thingName": "boiler-7", "isAttached": true}"#, FileKind::Data),
            (r#"[{"topic": "t", "inputSql": "SELECT 1 FROM 't'", "expectedOutput": {}}]"#, FileKind::Tests),
            (r#"[1, 2]"#, FileKind::Data),
            // A policy test; the registry's attached policies name `policies` without requests.
            (r#"{"policies": [{"file": "p.json"}], "requests": []}"#, FileKind::Tests),
            (r#"{"policies": [{"policyName": "p", "policyArn": "arn"}]}"#, FileKind::Registry),
            // A rule with a misspelt member is still a rule, to be reported.
            (r#"{"sqll": "SELECT 1 FROM 't'", "actions": []}"#, FileKind::TopicRule),
            // The other JSON a repository holds.
            (r#"{"name": "extension", "version": "1.0.0", "description": "x"}"#, FileKind::Other),
            (r#"{}"#, FileKind::Other),
            // Broken JSON: by what it mentions.
            (r#"{"Statement": [ "#, FileKind::Policy),
            (r#"{"sql": "SELECT "#, FileKind::TopicRule),
            (r#"{"inputSql": "#, FileKind::Tests),
        ];
        for (text, kind) in cases {
            assert_eq!(classify("x.json", text), kind, "{text}");
        }
    }

    #[test]
    fn yaml_is_a_template_only_with_a_topic_rule() {
        let template = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  R:\n    Type: AWS::IoT::TopicRule\n";
        assert_eq!(classify("stack.yaml", template), FileKind::TopicRule);
        assert_eq!(classify("stack.yml", template), FileKind::TopicRule);
        assert_eq!(classify("stack.template", template), FileKind::TopicRule);
        assert_eq!(
            classify("stack.template", r#"{"Resources": {"R": {"Type": "AWS::IoT::TopicRule"}}}"#),
            FileKind::TopicRule
        );
        let cases = [
            "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  B:\n    Type: AWS::S3::Bucket\n",
            "name: CI\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
            "services:\n  web:\n    image: nginx\n",
            "",
        ];
        for text in cases {
            assert_eq!(classify("x.yaml", text), FileKind::Other, "{text}");
        }
        // Broken YAML that says it is a template is one, to be reported.
        assert_eq!(classify("x.yaml", "AWSTemplateFormatVersion: [\n"), FileKind::TopicRule);
        assert_eq!(classify("x.yaml", "jobs: [\n"), FileKind::Other);
    }

    #[test]
    fn json_lines_are_tests_or_messages() {
        assert_eq!(
            classify("a.jsonl", "\n{\"id\": \"x\", \"sql\": \"SELECT 1 FROM 't'\", \"expect\": null}\n"),
            FileKind::Tests
        );
        assert_eq!(classify("a.jsonl", "{\"topic\": \"t\", \"payload\": {}}\n"), FileKind::Data);
        assert_eq!(classify("a.jsonl", "{\"sql\": broken\n"), FileKind::Tests);
        assert_eq!(classify("a.jsonl", ""), FileKind::Data);
    }
}
