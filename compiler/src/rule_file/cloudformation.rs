//! CloudFormation templates in JSON and YAML: every `AWS::IoT::TopicRule` resource's
//! `TopicRulePayload` is read and checked as a rule file, its diagnostics placed in the
//! template.
//!
//! A YAML template is read as the JSON template it stands for (`yaml.rs`: short-form tags
//! such as `!Sub` and `!Ref` are the `Fn::Sub` and `Ref` objects), checked here as JSON, and
//! every place found is mapped back to the YAML text.
//!
//! CloudFormation spells the payload's members in PascalCase (`Sql`, `AwsIotSqlVersion`,
//! `Actions`, `Republish`, `RoleArn`) where the IoT API uses camelCase; the two differ only in
//! the case of the first letter, so the payload is checked on a copy of its text with each
//! member name's first letter lowercased. The copy has the same length, so every offset in it
//! is the offset in the template. Messages name members in the API's camelCase.
//!
//! A value CloudFormation computes (`{"Fn::Sub": ...}`, `{"Ref": ...}`) cannot be checked
//! before deployment: it is reported as such, never read as a wrong type.

use jsonc_parser::ast::{Object, Value};

use super::yaml;
use super::{RuleFile, RuleFileReport, check_rule_file, name_span, parse_strict_json, range_of};
use crate::diagnostics::{Code, Diagnostic};
use crate::span::Span;

/// The resource type of a topic rule.
const TOPIC_RULE: &str = "AWS::IoT::TopicRule";

/// Whether `text` is a CloudFormation template (JSON) with `Resources`.
pub fn is_template(text: &str) -> bool {
    matches!(parse_strict_json(text), Ok(Some(Value::Object(root))) if root.get("Resources").is_some()
        && (root.get("AWSTemplateFormatVersion").is_some() || has_topic_rule(&root)))
}

fn has_topic_rule(root: &Object<'_>) -> bool {
    topic_rules(root) > 0
}

/// How many topic rules the template `root` declares.
fn topic_rules(root: &Object<'_>) -> usize {
    let Some(Value::Object(resources)) = root.get("Resources").map(|prop| &prop.value) else { return 0 };
    resources.properties.iter().filter(|resource| resource_type(&resource.value) == Some(TOPIC_RULE)).count()
}

/// How many topic rules the JSON template `text` declares, without checking them.
pub fn topic_rule_count(text: &str) -> usize {
    match parse_strict_json(text) {
        Ok(Some(Value::Object(root))) => topic_rules(&root),
        _ => 0,
    }
}

/// The rule a template stands for as a rule file: its topic rule when it has exactly one.
pub fn single_rule(rules: Vec<TemplateRule>) -> Option<RuleFile> {
    let mut rules = rules.into_iter();
    match (rules.next(), rules.next()) {
        (Some(only), None) => only.rule,
        _ => None,
    }
}

fn resource_type<'a>(resource: &'a Value<'_>) -> Option<&'a str> {
    let Value::Object(resource) = resource else { return None };
    match &resource.get("Type")?.value {
        Value::StringLit(kind) => Some(kind.value.as_ref()),
        _ => None,
    }
}

/// One topic rule of a template.
#[derive(Clone, Debug)]
pub struct TemplateRule {
    /// The resource's logical id.
    pub logical_id: String,
    /// `None` when its payload could not be read.
    pub rule: Option<RuleFile>,
}

/// Every topic rule of the template `text`, and every diagnostic about them (spans are byte
/// ranges of the template).
pub fn check_template(text: &str) -> (Vec<TemplateRule>, Vec<Diagnostic>) {
    let mut rules = Vec::new();
    let mut diagnostics = Vec::new();
    let Ok(Some(Value::Object(root))) = parse_strict_json(text) else { return (rules, diagnostics) };
    let Some(Value::Object(resources)) = root.get("Resources").map(|prop| &prop.value) else {
        return (rules, diagnostics);
    };
    for resource in &resources.properties {
        if resource_type(&resource.value) != Some(TOPIC_RULE) {
            continue;
        }
        let logical_id = resource.name.as_str().to_owned();
        let Value::Object(body) = &resource.value else { continue };
        let Some(Value::Object(properties)) = body.get("Properties").map(|prop| &prop.value) else {
            diagnostics.push(
                Diagnostic::error(
                    Code::RuleInvalidField,
                    name_span(resource),
                    format!("`{logical_id}` has no `Properties`"),
                )
                .with_help("a topic rule resource needs Properties with a TopicRulePayload"),
            );
            continue;
        };
        let Some(payload) = properties.get("TopicRulePayload") else {
            diagnostics.push(
                Diagnostic::error(
                    Code::RuleInvalidField,
                    name_span(resource),
                    format!("`{logical_id}` has no `TopicRulePayload`"),
                )
                .with_help("give the rule's Sql and Actions under Properties.TopicRulePayload"),
            );
            continue;
        };
        // A computed value (a role's `!GetAtt`, a `!Sub` topic) is known only once the stack is
        // deployed. The rest of the rule is still checked: each computed value stands in as a
        // string of the same length, so every offset holds, and what is said about a stand-in
        // is dropped. A rule with one is not run.
        let computed = computed_values(&payload.value);
        for &span in &computed {
            diagnostics.push(
                Diagnostic::warning(
                    Code::TemplateValueNotChecked,
                    span,
                    format!("`{logical_id}` uses a value CloudFormation computes; that value is not checked"),
                )
                .with_label("known only when the stack is deployed")
                .with_help("the rest of the rule is checked; check the deployed rule with `aws iot get-topic-rule`"),
            );
        }
        let range = range_of(&payload.value);
        let Some(camel) = camel_case_members(text, &payload.value) else { continue };
        let camel = with_stand_ins(camel, &computed);
        let Some(slice) = camel.get(range.start..range.end) else { continue };
        let mut report: RuleFileReport = check_rule_file(slice);
        for diagnostic in report.diagnostics.drain(..) {
            let mut diagnostic =
                diagnostic.map_spans(|span| Span::new(span.start + range.start, span.end + range.start));
            if diagnostic.code == Code::RuleMissingSqlVersion {
                // A template spells the member as CloudFormation does.
                diagnostic.message = diagnostic.message.replace("awsIotSqlVersion", "AwsIotSqlVersion");
                diagnostic.help = diagnostic.help.map(|help| {
                    help.replace("add \"awsIotSqlVersion\": \"2016-03-23\"", "add `AwsIotSqlVersion: \"2016-03-23\"`")
                });
            }
            let about_a_stand_in = computed.iter().any(|stand_in| {
                let span = diagnostic.span();
                stand_in.start <= span.start && span.start < stand_in.end
            });
            if !about_a_stand_in {
                diagnostics.push(diagnostic);
            }
        }
        let mut rule = if computed.is_empty() { report.rule } else { None };
        if let (Some(rule), Some(name)) = (rule.as_mut(), properties.get("RuleName")) {
            match &name.value {
                Value::StringLit(name) => rule.name = Some(name.value.to_string()),
                _ => rule.name = None,
            }
        }
        if let Some(rule) = rule.as_mut() {
            for action in rule.actions.iter_mut().chain(rule.error_action.as_mut()) {
                action.shift(range.start);
            }
        }
        rules.push(TemplateRule { logical_id, rule });
    }
    diagnostics.sort_by_key(|diagnostic| diagnostic.span().start);
    (rules, diagnostics)
}

/// Every topic rule of the YAML template `text`, and every diagnostic about them, as
/// [`check_template`] finds them in the JSON template it stands for; spans are byte ranges of
/// `text`.
pub fn check_yaml_template(text: &str) -> (Vec<TemplateRule>, Vec<Diagnostic>) {
    let transcoded = match yaml::parse(text).and_then(|root| yaml::to_json(text, &root)) {
        Ok(transcoded) => transcoded,
        Err(error) => {
            let diagnostic = Diagnostic::error(Code::RuleInvalidYaml, error.span, error.message).with_help(error.help);
            return (Vec::new(), vec![diagnostic]);
        }
    };
    let (mut rules, diagnostics) = check_template(&transcoded.json);
    let mut diagnostics: Vec<Diagnostic> =
        diagnostics.into_iter().map(|diagnostic| diagnostic.map_spans(|span| transcoded.to_yaml(span))).collect();
    diagnostics.sort_by_key(|diagnostic| diagnostic.span().start);
    for rule in rules.iter_mut().filter_map(|rule| rule.rule.as_mut()) {
        for action in rule.actions.iter_mut().chain(rule.error_action.as_mut()) {
            action.span = transcoded.to_yaml(action.span);
            action.kind_span = transcoded.to_yaml(action.kind_span);
        }
    }
    (rules, diagnostics)
}

/// Reads and checks a YAML template as a rule file: every topic rule is checked, and the rule
/// is read when there is exactly one (as for a JSON template).
pub fn check_yaml_rule_file(text: &str) -> RuleFileReport {
    let (rules, diagnostics) = check_yaml_template(text);
    RuleFileReport { rule: single_rule(rules), diagnostics }
}

/// The places of values CloudFormation computes (objects whose one member is `Ref` or an
/// `Fn::` function) inside `value`.
fn computed_values(value: &Value<'_>) -> Vec<Span> {
    let mut found = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(object) => {
                let intrinsic = object.properties.len() == 1
                    && object.properties.iter().any(|prop| {
                        let name = prop.name.as_str();
                        name == "Ref" || name == "Condition" || name.starts_with("Fn::")
                    });
                if intrinsic {
                    found.push(range_of(value));
                } else {
                    stack.extend(object.properties.iter().map(|prop| &prop.value));
                }
            }
            Value::Array(array) => stack.extend(array.elements.iter()),
            _ => {}
        }
    }
    found
}

/// `text` with each of the `computed` values replaced by a JSON string of the same length.
fn with_stand_ins(text: String, computed: &[Span]) -> String {
    if computed.is_empty() {
        return text;
    }
    let mut bytes = text.into_bytes();
    for span in computed {
        let Some(value) = bytes.get_mut(span.start..span.end) else { continue };
        let last = value.len().saturating_sub(1);
        for (at, byte) in value.iter_mut().enumerate() {
            *byte = if at == 0 || at == last { b'"' } else { b'x' };
        }
    }
    // Whole values, made of ASCII, were replaced: the text stays UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

/// A copy of `text` where every member name inside `value` starts with a lowercase letter.
fn camel_case_members(text: &str, value: &Value<'_>) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(object) => {
                for prop in &object.properties {
                    // The first byte after the opening quote; only ASCII letters change, so
                    // the text stays UTF-8 and keeps its length.
                    let at = name_span(prop).start + 1;
                    if let Some(byte) = bytes.get_mut(at) {
                        *byte = byte.to_ascii_lowercase();
                    }
                    stack.push(&prop.value);
                }
            }
            Value::Array(array) => stack.extend(array.elements.iter()),
            _ => {}
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Resources": {
    "Bucket": {"Type": "AWS::S3::Bucket"},
    "Alerts": {
      "Type": "AWS::IoT::TopicRule",
      "Properties": {
        "RuleName": "alerts",
        "TopicRulePayload": {
          "Sql": "SELECT uper(a) AS b FROM 'sensors/+/telemetry'",
          "AwsIotSqlVersion": "2016-03-23",
          "RuleDisabled": false,
          "Actions": [{"Republish": {"Topic": "alerts/${topic(2)}", "RoleArn": "arn:aws:iam::123456789012:role/r", "Qos": 1}}]
        }
      }
    },
    "Computed": {
      "Type": "AWS::IoT::TopicRule",
      "Properties": {"TopicRulePayload": {"Sql": {"Fn::Sub": "SELECT * FROM '${Prefix}/#'"}, "Actions": []}}
    }
  }
}"#;

    #[test]
    fn topic_rules_are_checked_in_place() {
        assert!(is_template(TEMPLATE));
        assert!(!is_template(r#"{"sql": "SELECT a FROM 't'"}"#));
        let (rules, diagnostics) = check_template(TEMPLATE);
        assert_eq!(rules.len(), 2);
        let alerts = rules[0].rule.as_ref().unwrap();
        assert_eq!((rules[0].logical_id.as_str(), alerts.name.as_deref()), ("Alerts", Some("alerts")));
        assert_eq!(alerts.actions.len(), 1);
        assert_eq!(&TEMPLATE[alerts.actions[0].kind_span.start..alerts.actions[0].kind_span.end], "\"Republish\"");
        assert!(rules[1].rule.is_none());
        let unknown = diagnostics.iter().find(|d| d.code == Code::UnknownFunction).unwrap();
        assert_eq!(&TEMPLATE[unknown.span().start..unknown.span().end], "uper");
        let computed = diagnostics.iter().find(|d| d.code == Code::TemplateValueNotChecked).unwrap();
        assert!(TEMPLATE[computed.span().start..computed.span().end].starts_with("{\"Fn::Sub\""));
        // Around the computed SQL, the rule is still checked: it sets no SQL version.
        let version = diagnostics.iter().find(|d| d.code == Code::RuleMissingSqlVersion).unwrap();
        assert!(version.span().start > computed.span().start - 10 && version.span().end <= computed.span().start);
        assert_eq!(diagnostics.len(), 3, "{diagnostics:?}");
    }

    #[test]
    fn a_rule_with_computed_values_is_checked_around_them() {
        let text = r#"{"Resources": {"R": {"Type": "AWS::IoT::TopicRule", "Properties": {"TopicRulePayload": {
            "Sql": "SELECT lenght(a) AS n FROM 't/#'",
            "Actions": [{"Republish": {"Topic": {"Fn::Sub": "out/${AWS::Region}"}, "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}, "Qos": {"Ref": "Qos"}}},
                        {"Republsh": {}}]}}}}}"#;
        let (rules, diagnostics) = check_template(text);
        assert!(rules[0].rule.is_none(), "a rule with computed values is not run");
        let said: Vec<(Code, &str)> =
            diagnostics.iter().map(|d| (d.code, &text[d.span().start..d.span().end])).collect();
        assert_eq!(
            said,
            [
                (Code::RuleMissingSqlVersion, r#""Sql""#),
                (Code::UnknownFunction, "lenght"),
                (Code::TemplateValueNotChecked, r#"{"Fn::Sub": "out/${AWS::Region}"}"#),
                (Code::TemplateValueNotChecked, r#"{"Fn::GetAtt": ["Role", "Arn"]}"#),
                (Code::TemplateValueNotChecked, r#"{"Ref": "Qos"}"#),
                (Code::RuleUnknownAction, r#""Republsh""#),
            ],
            "{diagnostics:?}"
        );
    }

    #[test]
    fn mistakes_in_a_payload_are_named() {
        let text = r#"{"Resources": {"R": {"Type": "AWS::IoT::TopicRule", "Properties": {"TopicRulePayload": {"Sql": "SELECT a FROM 't'", "Actions": [{"Republsh": {}}]}}}}}"#;
        let (_, diagnostics) = check_template(text);
        let unknown = diagnostics.iter().find(|d| d.code == Code::RuleUnknownAction).unwrap();
        assert_eq!(&text[unknown.span().start..unknown.span().end], "\"Republsh\"");
        let text = r#"{"Resources": {"R": {"Type": "AWS::IoT::TopicRule"}}}"#;
        let (_, diagnostics) = check_template(text);
        assert_eq!(diagnostics[0].message, "`R` has no `Properties`");
    }
}
