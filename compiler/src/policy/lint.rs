//! The audit: warnings about policies AWS accepts but that cannot do what was meant, or grant
//! far more than was meant. None of them makes a document invalid.

use super::{Effect, IOT_KEYS, Policy, Spanned, Statement};
use crate::diagnostics::{Code, Diagnostic, did_you_mean};
use crate::span::Span;

/// Variables AWS documents beyond the `iot:` keys, as written inside `${...}`.
const OTHER_VARIABLES: &[&str] = &[
    "iot:Certificate.SerialNumber",
    "iot:Certificate.AvailableKeys",
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:VpcSourceIp",
    "cognito-identity.amazonaws.com:sub",
    "*",
    "?",
    "$",
];

fn documented_variables() -> impl Iterator<Item = &'static str> {
    IOT_KEYS.iter().chain(OTHER_VARIABLES).copied()
}

/// The warnings for a checked policy; `source` is the document text its spans point into.
pub(crate) fn lint(policy: &Policy, source: &str) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for statement in &policy.statements {
        for resource in &statement.resources.patterns {
            variable_warnings(resource, source, &mut warnings);
            type_mismatch(statement, resource, &mut warnings);
            literal_mqtt_wildcards(resource, source, &mut warnings);
            client_id_in_topic_filter(resource, source, &mut warnings);
        }
        grants_everything(statement, &mut warnings);
        connect_without_attachment(statement, &mut warnings);
    }
    warnings
}

/// Every `${name}` in a string and the span of each (the whole literal when escapes make
/// offsets inside it unreliable).
fn variables(spanned: &Spanned, source: &str) -> Vec<(String, Span)> {
    let raw = source.get(spanned.span.start..spanned.span.end).unwrap_or_default();
    let exact = !raw.contains('\\');
    let mut found = Vec::new();
    let mut offset = 0;
    while let Some(start) = spanned.text.get(offset..).and_then(|rest| rest.find("${")).map(|at| at + offset) {
        let Some(end) = spanned.text.get(start..).and_then(|rest| rest.find('}')).map(|at| at + start) else { break };
        let name = spanned.text.get(start + 2..end).unwrap_or_default().to_owned();
        let span = if exact {
            let begin = spanned.span.start + 1 + start;
            Span::new(begin, begin + end + 1 - start)
        } else {
            spanned.span
        };
        found.push((name, span));
        offset = end + 1;
    }
    found
}

fn known_variable(name: &str) -> bool {
    if documented_variables().any(|known| known == name) {
        return true;
    }
    if let Some(attribute) = name.strip_prefix("iot:Connection.Thing.Attributes[") {
        return attribute.ends_with(']') && attribute.len() > 1;
    }
    let Some(rest) = name.strip_prefix("iot:Certificate.") else { return false };
    let mut parts = rest.split('.');
    let side = parts.next().unwrap_or_default();
    let attribute = parts.next().unwrap_or_default();
    let suffix = parts.next();
    let side_known = matches!(side, "Subject" | "Issuer" | "SubjectAlternativeName" | "IssuerAlternativeName");
    let suffix_known = suffix.is_none_or(|suffix| suffix == "List" || suffix.parse::<usize>().is_ok());
    side_known && !attribute.is_empty() && suffix_known && parts.next().is_none()
}

/// Unknown variables, and variables before the resource part of an ARN (IAM substitutes them
/// only after the fifth colon).
fn variable_warnings(resource: &Spanned, source: &str, warnings: &mut Vec<Diagnostic>) {
    let resource_part = nth_colon(&resource.text, 5).map_or(0, |at| at + 1);
    for (name, span) in variables(resource, source) {
        if !known_variable(&name) {
            let help = match did_you_mean(&name, documented_variables())
                .or_else(|| name.contains("ThingName").then_some("iot:Connection.Thing.ThingName"))
            {
                Some(suggestion) => format!("did you mean `${{{suggestion}}}`?"),
                None => "AWS leaves an unknown variable unresolved, so this entry matches nothing".to_owned(),
            };
            warnings.push(
                Diagnostic::warning(
                    Code::PolicyUnknownVariable,
                    span,
                    format!("unknown policy variable `${{{name}}}`"),
                )
                .with_help(help),
            );
        }
        let position = resource.text.find(&format!("${{{name}}}")).unwrap_or(usize::MAX);
        if resource.text.starts_with("arn:") && position < resource_part {
            warnings.push(
                Diagnostic::warning(
                    Code::PolicyMisplacedVariable,
                    span,
                    format!("`${{{name}}}` before the resource part of the ARN is not substituted"),
                )
                .with_help("policy variables are substituted only in the part after the fifth colon"),
            );
        }
    }
}

/// The byte offset of the `n`th colon of an ARN, not counting colons inside `${...}`.
fn nth_colon(text: &str, n: usize) -> Option<usize> {
    let mut depth = 0;
    let mut seen = 0;
    let mut previous = '\0';
    for (at, c) in text.char_indices() {
        match c {
            '{' if previous == '$' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            ':' if depth == 0 => {
                seen += 1;
                if seen == n {
                    return Some(at);
                }
            }
            _ => {}
        }
        previous = c;
    }
    None
}

/// The resource type of an ARN (`topic`, `topicfilter`, `client`, ...) when it is written out.
fn resource_type(text: &str) -> Option<&str> {
    let rest = text.get(nth_colon(text, 5)? + 1..)?;
    let kind = rest.split('/').next()?;
    (!kind.is_empty() && !kind.contains(['*', '?', '$'])).then_some(kind)
}

/// The resource types an action is checked against.
fn types_for(action: &str) -> Option<&'static [&'static str]> {
    let lower = action.to_ascii_lowercase();
    Some(match lower.as_str() {
        "iot:connect" | "iot:deleteconnection" | "iot:senddirectmessage" => &["client"],
        "iot:publish" | "iot:receive" | "iot:retainpublish" | "iot:getretainedmessage" => &["topic"],
        "iot:subscribe" => &["topicfilter"],
        "iot:getthingshadow" | "iot:updatethingshadow" | "iot:deletethingshadow" => &["thing"],
        "iot:assumerolewithcertificate" => &["rolealias"],
        _ if lower.contains("jobexecution") => &["thing"],
        _ => return None,
    })
}

fn type_mismatch(statement: &Statement, resource: &Spanned, warnings: &mut Vec<Diagnostic>) {
    if statement.actions.negated || statement.resources.negated {
        return;
    }
    let Some(kind) = resource_type(&resource.text) else { return };
    let mut expected = Vec::new();
    for action in &statement.actions.patterns {
        let Some(types) = types_for(&action.text) else { return };
        if types.contains(&kind) {
            return;
        }
        expected.extend(types.iter().map(|kind| format!("`{kind}/`")));
    }
    expected.dedup();
    let actions: Vec<String> = statement.actions.patterns.iter().map(|action| format!("`{}`", action.text)).collect();
    warnings.push(
        Diagnostic::warning(
            Code::PolicyResourceTypeMismatch,
            resource.span,
            format!("{} never matches a `{kind}/` resource", actions.join(", ")),
        )
        .with_help(format!(
            "AWS checks these actions against {} ARNs; this entry grants nothing",
            expected.join(" or ")
        )),
    );
}

fn literal_mqtt_wildcards(resource: &Spanned, source: &str, warnings: &mut Vec<Diagnostic>) {
    let Some(kind @ ("topic" | "topicfilter")) = resource_type(&resource.text) else { return };
    let Some(name_start) = nth_colon(&resource.text, 5).map(|at| at + 1 + kind.len() + 1) else { return };
    let name = resource.text.get(name_start..).unwrap_or_default();
    // `${...}` stands for a value, not for characters of the ARN.
    let mut plain = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(start) = rest.find("${") {
        plain.push_str(rest.get(..start).unwrap_or_default());
        rest = rest.get(start..).and_then(|tail| tail.find('}').map(|end| &tail[end + 1..])).unwrap_or_default();
    }
    plain.push_str(rest);
    let Some(wildcard) = plain.chars().find(|c| matches!(c, '+' | '#')) else { return };
    let raw = source.get(resource.span.start..resource.span.end).unwrap_or_default();
    let span = match resource.text.get(name_start..).and_then(|name| name.find(wildcard)) {
        Some(at) if !raw.contains('\\') => {
            let begin = resource.span.start + 1 + name_start + at;
            Span::new(begin, begin + 1)
        }
        _ => resource.span,
    };
    warnings.push(
        Diagnostic::warning(
            Code::PolicyLiteralMqttWildcard,
            span,
            format!("`{wildcard}` in a `{kind}/` ARN is a literal character, not an MQTT wildcard"),
        )
        .with_help(if kind == "topicfilter" {
            "this entry covers only a filter spelled with this exact character; use `*` (any levels) or `?` \
             (one character) to match filters"
        } else {
            "topic names cannot contain MQTT wildcards; use `*` or `?` to match topics"
        }),
    );
}

fn client_id_in_topic_filter(resource: &Spanned, source: &str, warnings: &mut Vec<Diagnostic>) {
    if resource_type(&resource.text) != Some("topicfilter") {
        return;
    }
    for (name, span) in variables(resource, source) {
        if name == "iot:ClientId" {
            warnings.push(
                Diagnostic::warning(
                    Code::PolicyClientIdInTopicFilter,
                    span,
                    "`${iot:ClientId}` in a `topicfilter/` resource lets a client named `+` or `#` subscribe to a \
                     wildcard filter",
                )
                .with_help("use `${iot:Connection.Thing.ThingName}`, or allow connecting only with known client ids"),
            );
        }
    }
}

fn grants_everything(statement: &Statement, warnings: &mut Vec<Diagnostic>) {
    if statement.effect != Effect::Allow || statement.actions.negated || statement.resources.negated {
        return;
    }
    let all_actions = statement.actions.patterns.iter().find(|action| matches!(action.text.as_str(), "*" | "iot:*"));
    let all_resources = statement.resources.patterns.iter().any(|resource| resource.text == "*");
    if let (Some(action), true) = (all_actions, all_resources) {
        warnings.push(
            Diagnostic::warning(
                Code::PolicyAllowsEverything,
                action.span,
                format!("`{}` on `*` allows every action on every resource", action.text),
            )
            .with_help("grant the actions the device needs on its own client id, topics and shadow"),
        );
    }
}

fn connect_without_attachment(statement: &Statement, warnings: &mut Vec<Diagnostic>) {
    if statement.effect != Effect::Allow || statement.actions.negated || statement.resources.negated {
        return;
    }
    let connects =
        statement.actions.patterns.iter().any(|action| super::glob::matches_ignore_case(&action.text, "iot:Connect"));
    let checks_attachment = statement
        .conditions
        .iter()
        .any(|condition| condition.key.text.eq_ignore_ascii_case("iot:Connection.Thing.IsAttached"));
    if !connects || checks_attachment {
        return;
    }
    let any_client = statement.resources.patterns.iter().find(|resource| {
        resource.text == "*"
            || resource.text.ends_with(":client/*")
            || (resource.text.contains(":client/") && resource.text.ends_with('*') && !resource.text.contains("${"))
    });
    if let Some(resource) = any_client {
        warnings.push(
            Diagnostic::warning(
                Code::PolicyConnectWithoutAttachment,
                resource.span,
                format!("`iot:Connect` on `{}` lets any certificate holder connect with any client id", resource.text),
            )
            .with_help(
                "connect on `client/${iot:Connection.Thing.ThingName}`, or add \
                 \"Condition\": {\"Bool\": {\"iot:Connection.Thing.IsAttached\": \"true\"}}",
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::Code;
    use crate::policy::check_policy;

    fn codes(statements: &str) -> Vec<Code> {
        let document = format!(r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#);
        check_policy(&document).diagnostics.into_iter().map(|diagnostic| diagnostic.code).collect()
    }

    #[test]
    fn device_policies_written_well_get_no_warning() {
        let arn = "arn:aws:iot:us-east-1:123456789012";
        assert_eq!(
            codes(&format!(
                r#"{{"Effect": "Allow", "Action": "iot:Connect", "Resource": "{arn}:client/${{iot:Connection.Thing.ThingName}}"}},
                   {{"Effect": "Allow", "Action": "iot:*", "Resource": "{arn}:topic/a/*"}},
                   {{"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": "{arn}:topicfilter/a/${{iot:Connection.Thing.ThingName}}/*"}},
                   {{"Effect": "Allow", "Action": "iot:Connect", "Resource": "{arn}:client/*",
                     "Condition": {{"Bool": {{"iot:Connection.Thing.IsAttached": "true"}}}}}}"#
            )),
            []
        );
    }

    #[test]
    fn each_audit_finding_is_reported() {
        let arn = "arn:aws:iot:us-east-1:123456789012";
        assert_eq!(
            codes(&format!(r#"{{"Effect": "Allow", "Action": "iot:Publish", "Resource": "{arn}:topicfilter/a"}}"#)),
            [Code::PolicyResourceTypeMismatch]
        );
        assert_eq!(
            codes(&format!(
                r#"{{"Effect": "Allow", "Action": "iot:Publish", "Resource": "{arn}:topic/${{iot:Thing.ThingName}}"}}"#
            )),
            [Code::PolicyUnknownVariable]
        );
        assert_eq!(
            codes(
                r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:${iot:ClientId}:123456789012:client/a"}"#
            ),
            [Code::PolicyMisplacedVariable]
        );
        assert_eq!(
            codes(r#"{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}"#),
            [Code::PolicyAllowsEverything, Code::PolicyConnectWithoutAttachment]
        );
        assert_eq!(
            codes(&format!(
                r#"{{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "{arn}:topicfilter/a/${{iot:ClientId}}"}}"#
            )),
            [Code::PolicyClientIdInTopicFilter]
        );
        assert_eq!(
            codes(&format!(
                r#"{{"Effect": "Deny", "Action": "iot:Subscribe", "Resource": "{arn}:topicfilter/a/+/b"}}"#
            )),
            [Code::PolicyLiteralMqttWildcard]
        );
    }
}
