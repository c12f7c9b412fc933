//! The audit: warnings about policies AWS accepts but that cannot do what was meant, or grant
//! far more than was meant. None of them makes a document invalid.

use super::context::{ALTERNATIVE_NAME_TYPES, CERTIFICATE_ATTRIBUTES, Context, strip_prefix_ignore_case};
use super::variables::{self, fifth_colon};
use super::{Condition, Effect, Policy, Spanned, Statement, Test};
use crate::diagnostics::{Code, Diagnostic, did_you_mean};
use crate::span::Span;

/// The policy variables AWS documents by their full name, as written inside `${...}`; thing
/// attributes and certificate fields are recognised by their shape (`known_variable`).
pub const VARIABLES: &[&str] = &[
    "iot:ClientId",
    "iot:DomainName",
    "iot:Connection.Thing.ThingName",
    "iot:Connection.Thing.ThingTypeName",
    "iot:Connection.Thing.IsAttached",
    "iot:CertificateId",
    "iot:Certificate.SerialNumber",
    "iot:Certificate.AvailableKeys",
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:VpcSourceIp",
    "aws:CurrentTime",
    "aws:EpochTime",
    "cognito-identity.amazonaws.com:sub",
    "*",
    "?",
    "$",
];

/// Condition keys AWS documents only as keys, never as `${...}` variables.
const KEYS_ONLY: &[&str] = &["iot:ConnectAttributes", "iot:LastWillTopic", "iot:Topic"];

/// The warnings for a checked policy; `source` is the document text its spans point into.
pub(crate) fn lint(policy: &Policy, source: &str) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for statement in &policy.statements {
        for resource in &statement.resources.patterns {
            // Under `Version` 2008-10-17 `${...}` is plain text, which `policy::legacy_version`
            // already says once for the document.
            if statement.variables {
                resource_variables(resource, source, &mut warnings);
                client_id_in_topic_filter(resource, source, &mut warnings);
            }
            type_mismatch(statement, resource, &mut warnings);
            literal_mqtt_wildcard(resource, source, &mut warnings);
        }
        if statement.variables {
            for condition in &statement.conditions {
                condition_variables(condition, source, &mut warnings);
            }
        }
        grants_everything(statement, &mut warnings);
        connect_without_attachment(statement, &mut warnings);
    }
    warnings
}

/// One `${...}` in a document string.
struct Variable {
    /// The name, without a default value.
    name: String,
    /// `${name, 'default'}` gives one.
    has_default: bool,
    /// The byte offset of its `$` in the string's text.
    offset: usize,
    /// Where it is in the source: the `${...}` itself, or the whole string literal when
    /// escapes make offsets inside it unreliable.
    span: Span,
}

/// The span of `len` bytes at `offset` in `spanned`'s text, when the literal holds the text
/// byte for byte between its quotes; otherwise the literal's span.
fn inner_span(spanned: &Spanned, source: &str, offset: usize, len: usize) -> Span {
    let raw = source.get(spanned.span.start..spanned.span.end).unwrap_or_default();
    let verbatim = raw.len() == spanned.text.len() + 2 && raw.starts_with('"') && !raw.contains('\\');
    if verbatim {
        let start = spanned.span.start + 1 + offset;
        Span::new(start, start + len)
    } else {
        spanned.span
    }
}

/// Every complete `${...}` in a string, in order, found as the evaluator finds them.
fn variables(spanned: &Spanned, source: &str) -> Vec<Variable> {
    variables::scan(&spanned.text)
        .map(|variable| Variable {
            name: variable.name.to_owned(),
            has_default: variable.default.is_some(),
            offset: variable.start,
            span: inner_span(spanned, source, variable.start, variable.end - variable.start),
        })
        .collect()
}

/// Whether AWS documents `name` as a policy variable. Names compare case-insensitively, as the
/// evaluator resolves them, certificate attribute names included (IAM: key names are not
/// case-sensitive).
fn known_variable(name: &str) -> bool {
    if VARIABLES.iter().any(|known| known.eq_ignore_ascii_case(name)) {
        return true;
    }
    if let Some(attribute) = strip_prefix_ignore_case(name, "iot:Connection.Thing.Attributes[") {
        return attribute.strip_suffix(']').is_some_and(|attribute| !attribute.is_empty());
    }
    let Some(rest) = strip_prefix_ignore_case(name, "iot:Certificate.") else { return false };
    let Some((side, field)) = rest.split_once('.') else { return false };
    if !side.eq_ignore_ascii_case("Subject") && !side.eq_ignore_ascii_case("Issuer") {
        return false;
    }
    let (known_names, field) = match strip_prefix_ignore_case(field, "AlternativeName.") {
        Some(kind) => (ALTERNATIVE_NAME_TYPES, kind),
        None => (CERTIFICATE_ATTRIBUTES, field),
    };
    let (attribute, suffix) = match field.split_once('.') {
        Some((attribute, suffix)) => (attribute, Some(suffix)),
        None => (field, None),
    };
    let suffix_known =
        suffix.is_none_or(|suffix| suffix.eq_ignore_ascii_case("List") || suffix.parse::<usize>().is_ok());
    known_names.iter().any(|known| known.eq_ignore_ascii_case(attribute)) && suffix_known
}

/// The documented variable an unknown name most likely meant.
fn suggestion(name: &str) -> Option<String> {
    let certificate_names: Vec<String> = ["Subject", "Issuer"]
        .iter()
        .flat_map(|side| {
            let attributes =
                CERTIFICATE_ATTRIBUTES.iter().map(move |attribute| format!("iot:Certificate.{side}.{attribute}"));
            let alternatives =
                ALTERNATIVE_NAME_TYPES.iter().map(move |kind| format!("iot:Certificate.{side}.AlternativeName.{kind}"));
            attributes.chain(alternatives)
        })
        .collect();
    let candidates = VARIABLES.iter().copied().chain(certificate_names.iter().map(String::as_str));
    if let Some(close) = did_you_mean(name, candidates) {
        return Some(close.to_owned());
    }
    // `iot:Thing.ThingName` and the like: a documented variable ending in the same field.
    if let Some(at) = name.find("Attributes[").filter(|_| name.ends_with(']')) {
        return name.get(at..).map(|attribute| format!("iot:Connection.Thing.{attribute}"));
    }
    let field = name.rsplit(['.', ':']).next().unwrap_or_default();
    let mut same_field =
        VARIABLES.iter().filter(|known| known.rsplit(['.', ':']).next().is_some_and(|f| f.eq_ignore_ascii_case(field)));
    match (same_field.next(), same_field.next()) {
        (Some(only), None) => Some((*only).to_owned()),
        _ => None,
    }
}

/// A warning for a variable AWS does not document; `consequence` says what it does instead.
fn unknown(variable: &Variable, consequence: &str) -> Diagnostic {
    let name = &variable.name;
    let help = if let Some(key) = KEYS_ONLY.iter().find(|key| key.eq_ignore_ascii_case(name)) {
        format!("`{key}` is a condition key, not a policy variable; test it in a `Condition` instead")
    } else if let Some((before, _)) = name.split_once(',') {
        format!(
            "a default value is written `${{{}, 'text'}}`: a comma, spaces, then the text in single quotes",
            before.trim()
        )
    } else if let Some(suggestion) = suggestion(name) {
        format!("did you mean `${{{suggestion}}}`?")
    } else if variable.has_default {
        "AWS leaves an unknown variable unresolved, so the default is always used".to_owned()
    } else {
        format!("AWS leaves an unknown variable unresolved, so {consequence}")
    };
    Diagnostic::warning(Code::PolicyUnknownVariable, variable.span, format!("unknown policy variable `${{{name}}}`"))
        .with_help(help)
}

/// A warning for a variable where AWS does not substitute it; `place` ends the message.
fn misplaced(variable: &Variable, place: &str, instead: &str) -> Diagnostic {
    Diagnostic::warning(
        Code::PolicyMisplacedVariable,
        variable.span,
        format!("`${{{}}}` is not substituted {place}", variable.name),
    )
    .with_help(format!(
        "policy variables are substituted only in the resource part of an ARN (after the fifth colon) and in string \
         and ARN conditions; {instead}"
    ))
}

/// A warning for a multi-valued key written as a variable; `consequence` says what happens.
fn multivalued(variable: &Variable, consequence: &str) -> Diagnostic {
    let outcome = if variable.has_default { "the default is always used" } else { consequence };
    Diagnostic::warning(
        Code::PolicyMultivaluedVariable,
        variable.span,
        format!("`${{{}}}` has several values and is never substituted", variable.name),
    )
    .with_help(format!(
        "{outcome}; test the key in a `ForAnyValue:` or `ForAllValues:` condition instead, or pick one value with an \
         index (`.0`, `.1`, ...) where there is one"
    ))
}

/// Unknown and multi-valued variables in a resource, and variables in an ARN's region or
/// account.
fn resource_variables(resource: &Spanned, source: &str, warnings: &mut Vec<Diagnostic>) {
    let resource_part = variables::resource_part_start(&resource.text);
    for variable in variables(resource, source) {
        if variable.offset < resource_part {
            warnings.push(misplaced(
                &variable,
                "before the resource part of the ARN",
                "write the region and account out",
            ));
        } else if !known_variable(&variable.name) {
            warnings.push(unknown(&variable, "this entry matches nothing"));
        } else if Context::is_multi_valued(&variable.name) {
            warnings.push(multivalued(&variable, "this entry matches nothing"));
        }
    }
}

/// Unknown variables in string and ARN condition values, and variables in the values of the
/// other operators, which compare the text as written.
fn condition_variables(condition: &Condition, source: &str, warnings: &mut Vec<Diagnostic>) {
    use Test::*;
    let test = condition.operator.test;
    let substituted = matches!(
        test,
        StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike
            | ArnEquals
            | ArnNotEquals
            | ArnLike
            | ArnNotLike
    );
    let operator = Test::ALL.iter().find(|(known, _)| *known == test).map_or("", |(_, name)| *name);
    for value in &condition.values {
        for variable in variables(value, source) {
            if !substituted {
                let place = format!("in `{operator}` conditions");
                warnings.push(misplaced(&variable, &place, "write the value itself"));
            } else if !known_variable(&variable.name) {
                warnings.push(unknown(&variable, "this condition value matches nothing"));
            } else if Context::is_multi_valued(&variable.name) {
                warnings.push(multivalued(&variable, "this condition value matches nothing"));
            }
        }
    }
}

/// The resource part of an ARN (after the fifth colon) and its offset in the text.
pub(super) fn resource_part(text: &str) -> Option<(usize, &str)> {
    if !text.starts_with("arn:") {
        return None;
    }
    let start = fifth_colon(text)? + 1;
    Some((start, text.get(start..)?))
}

/// The resource type of an ARN (`topic`, `topicfilter`, `client`, ...) when it is written out.
pub(super) fn resource_type(text: &str) -> Option<&str> {
    let (_, rest) = resource_part(text)?;
    let kind = rest.split('/').next()?;
    (!kind.is_empty() && !kind.contains(['*', '?', '$'])).then_some(kind)
}

/// The resource types an action is checked against; `None` for actions on `*` and for
/// patterns, which may stand for several actions.
pub(super) fn types_for(action: &str) -> Option<&'static [&'static str]> {
    let lower = action.to_ascii_lowercase();
    Some(match lower.as_str() {
        "iot:connect" | "iot:deleteconnection" | "iot:senddirectmessage" => &["client"],
        "iot:publish" | "iot:receive" | "iot:retainpublish" | "iot:getretainedmessage" => &["topic"],
        "iot:subscribe" => &["topicfilter"],
        "iot:getthingshadow" | "iot:updatethingshadow" | "iot:deletethingshadow" => &["thing"],
        "iot:assumerolewithcertificate" => &["rolealias"],
        _ if lower.contains("jobexecution") && !lower.contains(['*', '?']) => &["thing"],
        _ => return None,
    })
}

/// A resource of a type none of the statement's actions is checked against.
fn type_mismatch(statement: &Statement, resource: &Spanned, warnings: &mut Vec<Diagnostic>) {
    if statement.actions.negated || statement.resources.negated {
        return;
    }
    let Some(kind) = resource_type(&resource.text) else { return };
    let mut expected: Vec<String> = Vec::new();
    for action in &statement.actions.patterns {
        let Some(types) = types_for(&action.text) else { return };
        if types.contains(&kind) {
            return;
        }
        for kind in types {
            let shown = format!("`{kind}/`");
            if !expected.contains(&shown) {
                expected.push(shown);
            }
        }
    }
    let actions: Vec<String> = statement.actions.patterns.iter().map(|action| format!("`{}`", action.text)).collect();
    let (verb, these) = if actions.len() == 1 { ("matches", "this action") } else { ("match", "these actions") };
    warnings.push(
        Diagnostic::warning(
            Code::PolicyResourceTypeMismatch,
            resource.span,
            format!("{} never {verb} a `{kind}/` resource", actions.join(", ")),
        )
        .with_help(format!(
            "AWS checks {these} only against {} ARNs, so this entry never applies",
            expected.join(" or ")
        )),
    );
}

/// `+` or `#` in a topic or topic filter ARN, outside `${...}`.
fn literal_mqtt_wildcard(resource: &Spanned, source: &str, warnings: &mut Vec<Diagnostic>) {
    let Some(kind @ ("topic" | "topicfilter")) = resource_type(&resource.text) else { return };
    let Some((start, rest)) = resource_part(&resource.text) else { return };
    let mut depth = 0;
    let mut previous = '\0';
    let mut found = None;
    for (at, c) in rest.char_indices() {
        match c {
            '{' if previous == '$' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            '+' | '#' if depth == 0 => {
                found = Some((start + at, c));
                break;
            }
            _ => {}
        }
        previous = c;
    }
    let Some((offset, wildcard)) = found else { return };
    warnings.push(
        Diagnostic::warning(
            Code::PolicyLiteralMqttWildcard,
            inner_span(resource, source, offset, 1),
            format!("`{wildcard}` in a `{kind}/` ARN is a literal character, not an MQTT wildcard"),
        )
        .with_help(if kind == "topicfilter" {
            "this entry covers only a filter spelled with this exact character; use `*` (any levels) or several `?` \
             (one character each) to match filters"
        } else {
            "topic names cannot contain MQTT wildcards; use `*` (any levels) or several `?` (one character each) to \
             match topics"
        }),
    );
}

fn client_id_in_topic_filter(resource: &Spanned, source: &str, warnings: &mut Vec<Diagnostic>) {
    if resource_type(&resource.text) != Some("topicfilter") {
        return;
    }
    for variable in variables(resource, source) {
        if variable.name.eq_ignore_ascii_case("iot:ClientId") {
            warnings.push(
                Diagnostic::warning(
                    Code::PolicyClientIdInTopicFilter,
                    variable.span,
                    format!(
                        "`${{{}}}` in a `topicfilter/` resource lets a client connected as `+` or `#` subscribe to a \
                         wildcard filter",
                        variable.name
                    ),
                )
                .with_help("use `${iot:Connection.Thing.ThingName}`, or allow connecting only with known client ids"),
            );
        }
    }
}

/// Whether a resource pattern covers every resource: `*`, or an ARN whose resource part is `*`.
fn every_resource(text: &str) -> bool {
    text == "*" || resource_part(text).is_some_and(|(_, rest)| rest == "*")
}

fn grants_everything(statement: &Statement, warnings: &mut Vec<Diagnostic>) {
    if statement.effect != Effect::Allow || statement.actions.negated || statement.resources.negated {
        return;
    }
    let every_action = statement
        .actions
        .patterns
        .iter()
        .find(|action| action.text == "*" || action.text.eq_ignore_ascii_case("iot:*"));
    let every = statement.resources.patterns.iter().find(|resource| every_resource(&resource.text));
    if let (Some(action), Some(resource)) = (every_action, every) {
        warnings.push(
            Diagnostic::warning(
                Code::PolicyAllowsEverything,
                action.span,
                format!("`{}` on `{}` allows every action on every resource", action.text, resource.text),
            )
            .with_help("grant the actions the device needs on its own client id, topics and shadow"),
        );
    }
}

/// An Allow to connect with any client id: on `*`, `client/*` or `client/${iot:ClientId}`,
/// with no condition tying the client id to the certificate's thing or to known ids.
fn connect_without_attachment(statement: &Statement, warnings: &mut Vec<Diagnostic>) {
    if statement.effect != Effect::Allow || statement.actions.negated || statement.resources.negated {
        return;
    }
    let connects =
        statement.actions.patterns.iter().any(|action| super::glob::matches_ignore_case(&action.text, "iot:Connect"));
    if !connects || statement.conditions.iter().any(limits_client_ids) {
        return;
    }
    let any_client = statement.resources.patterns.iter().find(|resource| {
        every_resource(&resource.text)
            || resource_part(&resource.text).and_then(|(_, rest)| rest.strip_prefix("client/")).is_some_and(|id| {
                (!id.is_empty() && id.chars().all(|c| c == '*')) || id.eq_ignore_ascii_case("${iot:ClientId}")
            })
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

/// Whether a condition ties the connecting client to its thing, or lists the client ids or
/// thing names it may use.
fn limits_client_ids(condition: &Condition) -> bool {
    let key = condition.key.text.as_str();
    if key.eq_ignore_ascii_case("iot:Connection.Thing.IsAttached") {
        return true;
    }
    let names_client =
        key.eq_ignore_ascii_case("iot:ClientId") || key.eq_ignore_ascii_case("iot:Connection.Thing.ThingName");
    let positive = !condition.operator.test.is_negated() && condition.operator.test != Test::Null;
    names_client && positive
}

#[cfg(test)]
mod tests {
    use crate::Code;
    use crate::policy::check_policy;
    use crate::span::Span;

    const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

    fn document(statements: &str) -> String {
        format!(r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#)
    }

    fn codes(statements: &str) -> Vec<Code> {
        let report = check_policy(&document(statements));
        assert!(!report.has_errors(), "{:?}", report.diagnostics);
        report.diagnostics.into_iter().map(|diagnostic| diagnostic.code).collect()
    }

    /// The text each warning's span covers.
    fn flagged(statements: &str) -> Vec<(Code, String)> {
        let text = document(statements);
        check_policy(&text)
            .diagnostics
            .into_iter()
            .map(|diagnostic| {
                let Span { start, end } = diagnostic.span();
                (diagnostic.code, text[start..end].to_owned())
            })
            .collect()
    }

    fn allow(action: &str, resource: &str) -> String {
        format!(r#"{{"Effect": "Allow", "Action": "{action}", "Resource": "{resource}"}}"#)
    }

    #[test]
    fn device_policies_written_well_get_no_warning() {
        assert_eq!(
            codes(&format!(
                r#"{{"Effect": "Allow", "Action": "iot:Connect", "Resource": "{ARN}:client/${{iot:Connection.Thing.ThingName}}"}},
                   {{"Effect": "Allow", "Action": "iot:*", "Resource": "{ARN}:topic/a/*"}},
                   {{"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": "{ARN}:topicfilter/a/${{iot:Connection.Thing.ThingName}}/*"}},
                   {{"Effect": "Allow", "Action": "iot:Connect", "Resource": "{ARN}:client/*",
                     "Condition": {{"Bool": {{"iot:Connection.Thing.IsAttached": "true"}}}}}},
                   {{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*",
                     "Condition": {{"StringLike": {{"iot:ClientId": "sensor-*"}}}}}},
                   {{"Effect": "Allow", "Action": "iot:Connect", "Resource": "{ARN}:client/sensor-*"}},
                   {{"Effect": "Allow", "Action": "iot:Publish",
                     "Resource": "{ARN}:topic/${{iot:Certificate.Subject.AlternativeName.DNSName.1}}/${{iot:certificate.issuer.commonname.0}}"}},
                   {{"Effect": "Allow", "Action": "iot:Publish", "Resource": "{ARN}:topic/${{iot:ClientId, 'none'}}"}},
                   {{"Effect": "Allow", "Action": "iot:Publish", "Resource": "{ARN}:topic/${{iot:clientid}}/${{iot:Connection.Thing.Attributes[room]}}"}},
                   {{"Effect": "Allow", "Action": "iot:Receive", "Resource": "*"}},
                   {{"Effect": "Allow", "Action": "iot:ListRetainedMessages", "Resource": "*"}}"#
            )),
            []
        );
    }

    #[test]
    fn each_audit_finding_is_reported() {
        assert_eq!(codes(&allow("iot:Publish", &format!("{ARN}:topicfilter/a"))), [Code::PolicyResourceTypeMismatch]);
        assert_eq!(
            codes(&allow("iot:Publish", &format!("{ARN}:topic/${{iot:Thing.ThingName}}"))),
            [Code::PolicyUnknownVariable]
        );
        assert_eq!(
            codes(&allow("iot:Connect", "arn:aws:iot:${iot:ClientId}:123456789012:client/a")),
            [Code::PolicyMisplacedVariable]
        );
        assert_eq!(codes(&allow("iot:*", "*")), [Code::PolicyAllowsEverything, Code::PolicyConnectWithoutAttachment]);
        assert_eq!(
            codes(&allow("iot:Subscribe", &format!("{ARN}:topicfilter/a/${{iot:ClientId}}"))),
            [Code::PolicyClientIdInTopicFilter]
        );
        assert_eq!(
            codes(&format!(
                r#"{{"Effect": "Deny", "Action": "iot:Subscribe", "Resource": "{ARN}:topicfilter/a/+/b"}}"#
            )),
            [Code::PolicyLiteralMqttWildcard]
        );
    }

    #[test]
    fn a_type_mismatch_needs_every_action_to_miss_and_a_written_type() {
        let filter = format!("{ARN}:topicfilter/a/*");
        let mixed =
            format!(r#"{{"Effect": "Allow", "Action": ["iot:Publish", "iot:Subscribe"], "Resource": "{filter}"}}"#);
        assert_eq!(codes(&mixed), []);
        assert_eq!(codes(&allow("iot:Pub*", &filter)), []);
        assert_eq!(codes(&allow("iot:Publish", &format!("{ARN}:*/a"))), []);
        assert_eq!(codes(&allow("iot:Publish", "arn:aws:iot:*:*:*")), []);
        assert_eq!(codes(&allow("iot:Subscribe", &format!("{ARN}:topic/a"))), [Code::PolicyResourceTypeMismatch]);
        assert_eq!(codes(&allow("iot:Connect", &format!("{ARN}:topic/a"))), [Code::PolicyResourceTypeMismatch]);
        assert_eq!(codes(&allow("iot:GetThingShadow", &format!("{ARN}:topic/a"))), [Code::PolicyResourceTypeMismatch]);
        let not_action = format!(r#"{{"Effect": "Allow", "NotAction": "iot:Publish", "Resource": "{filter}"}}"#);
        assert_eq!(codes(&not_action), []);
        let three = format!(
            r#"{{"Effect": "Deny", "Action": ["iot:Publish", "iot:Subscribe", "iot:Receive"], "Resource": "{ARN}:client/a"}}"#
        );
        let report = check_policy(&document(&three));
        let help = report.diagnostics.first().and_then(|diagnostic| diagnostic.help.clone()).unwrap_or_default();
        assert_eq!(
            help,
            "AWS checks these actions only against `topic/` or `topicfilter/` ARNs, so this entry never applies"
        );
    }

    #[test]
    fn variables_are_checked_by_name_and_place() {
        let topic = |variable: &str| allow("iot:Publish", &format!("{ARN}:topic/${{{variable}}}"));
        assert_eq!(codes(&topic("iot:Certificate.Subject.CommonName.2")), []);
        assert_eq!(codes(&topic("iot:Certificate.Subject.AlternativeName.RFC822Name")), []);
        assert_eq!(codes(&topic("iot:Certificate.Subject.CommonNam")), [Code::PolicyUnknownVariable]);
        assert_eq!(codes(&topic("iot:Certificate.SubjectAlternativeName.DNSName")), [Code::PolicyUnknownVariable]);
        assert_eq!(codes(&topic("iot:LastWillTopic")), [Code::PolicyUnknownVariable]);
        let report = check_policy(&document(&topic("iot:Thing.Attributes[room]")));
        let help = report.diagnostics.first().and_then(|diagnostic| diagnostic.help.clone()).unwrap_or_default();
        assert_eq!(help, "did you mean `${iot:Connection.Thing.Attributes[room]}`?");
        // The same variable in the account and in the resource part: only the first is misplaced.
        let twice = allow("iot:Publish", "arn:aws:iot:us-east-1:${iot:ClientId}:topic/${iot:ClientId}");
        assert_eq!(flagged(&twice), [(Code::PolicyMisplacedVariable, "${iot:ClientId}".to_owned())]);
        let span = check_policy(&document(&twice)).diagnostics.first().map(|diagnostic| diagnostic.span().start);
        assert_eq!(span, document(&twice).find("${iot:ClientId}"));
    }

    #[test]
    fn a_variable_in_an_action_is_an_unknown_action() {
        let report = check_policy(&document(&allow("iot:${iot:ClientId}", "*")));
        let found: Vec<_> =
            report.diagnostics.iter().map(|diagnostic| (diagnostic.code, diagnostic.help.clone())).collect();
        let help = "policy variables are not substituted in `Action`; name the action itself".to_owned();
        assert_eq!(found, [(Code::PolicyUnknownAction, Some(help))]);
        assert!(!report.has_errors(), "an unknown `iot:` action is a warning");
    }

    #[test]
    fn multi_valued_variables_are_never_substituted() {
        let topic = |variable: &str| allow("iot:Publish", &format!("{ARN}:topic/${{{variable}}}"));
        assert_eq!(codes(&topic("iot:Certificate.Issuer.CommonName.List")), [Code::PolicyMultivaluedVariable]);
        assert_eq!(codes(&topic("IOT:certificate.availablekeys")), [Code::PolicyMultivaluedVariable]);
        assert_eq!(codes(&topic("iot:Certificate.Subject.CommonName.List, 'x'")), [Code::PolicyMultivaluedVariable]);
        assert_eq!(codes(&topic("iot:ConnectAttributes")), [Code::PolicyUnknownVariable], "a key, not a variable");
        let condition = r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*",
            "Condition": {"StringEquals": {"iot:ClientId": "${iot:Certificate.Subject.CommonName.List}"}}}"#;
        assert_eq!(codes(condition), [Code::PolicyMultivaluedVariable]);
    }

    #[test]
    fn defaults_are_read_and_a_malformed_one_is_explained() {
        assert_eq!(codes(&allow("iot:Publish", &format!("{ARN}:topic/${{iot:Connection.Thing.ThingName, ''}}"))), []);
        let report = check_policy(&document(&allow("iot:Publish", &format!("{ARN}:topic/${{iot:ClientId, none}}"))));
        let found: Vec<_> =
            report.diagnostics.iter().map(|diagnostic| (diagnostic.code, diagnostic.help.clone())).collect();
        let help =
            "a default value is written `${iot:ClientId, 'text'}`: a comma, spaces, then the text in single quotes";
        assert_eq!(found, [(Code::PolicyUnknownVariable, Some(help.to_owned()))]);
    }

    #[test]
    fn variables_are_not_checked_under_version_2008_10_17() {
        let text = format!(
            r#"{{"Version": "2008-10-17", "Statement": [{}]}}"#,
            allow("iot:Publish", &format!("{ARN}:topic/${{iot:Thing.ThingName}}"))
        );
        let codes: Vec<_> = check_policy(&text).diagnostics.into_iter().map(|diagnostic| diagnostic.code).collect();
        assert_eq!(codes, [Code::PolicyLegacyVersion]);
    }

    #[test]
    fn condition_values_take_variables_only_in_string_and_arn_operators() {
        let with = |operator: &str, value: &str| {
            format!(
                r#"{{"Effect": "Allow", "Action": "iot:Connect", "Resource": "{ARN}:client/a",
                     "Condition": {{"{operator}": {{"iot:ClientId": "{value}"}}}}}}"#
            )
        };
        assert_eq!(codes(&with("StringEquals", "${iot:Connection.Thing.ThingName}")), []);
        assert_eq!(codes(&with("StringEquals", "${iot:Thing.ThingName}")), [Code::PolicyUnknownVariable]);
        assert_eq!(
            flagged(&with("NumericEquals", "a${iot:CertificateId}")),
            [(Code::PolicyMisplacedVariable, "${iot:CertificateId}".to_owned())]
        );
    }

    #[test]
    fn escapes_in_the_literal_widen_the_span_to_the_whole_string() {
        let escaped = allow("iot:Publish", &format!(r"{ARN}:topic/\u0061/${{iot:Thing.ThingName}}"));
        let whole = format!(r#""{ARN}:topic/\u0061/${{iot:Thing.ThingName}}""#);
        assert_eq!(flagged(&escaped), [(Code::PolicyUnknownVariable, whole)]);
    }

    #[test]
    fn connect_without_attachment_needs_a_wildcard_client() {
        assert_eq!(codes(&allow("iot:Connect", &format!("{ARN}:client/${{iot:Connection.Thing.ThingName}}"))), []);
        assert_eq!(codes(&allow("iot:Connect", &format!("{ARN}:client/device-1"))), []);
        assert_eq!(codes(&allow("iot:Connect", &format!("{ARN}:client/*"))), [Code::PolicyConnectWithoutAttachment]);
        assert_eq!(
            codes(&allow("iot:Connect", &format!("{ARN}:client/${{iot:ClientId}}"))),
            [Code::PolicyConnectWithoutAttachment]
        );
        assert_eq!(codes(&allow("iot:Connect", "arn:aws:iot:*:*:*")), [Code::PolicyConnectWithoutAttachment]);
        assert_eq!(codes(r#"{"Effect": "Deny", "Action": "iot:Connect", "Resource": "*"}"#), []);
        let excluded = r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*",
                          "Condition": {"StringNotEquals": {"iot:ClientId": "admin"}}}"#;
        assert_eq!(codes(excluded), [Code::PolicyConnectWithoutAttachment]);
    }

    #[test]
    fn allow_everything_needs_every_action_on_every_resource() {
        assert_eq!(codes(&allow("iot:*", &format!("{ARN}:topic/*"))), []);
        assert_eq!(codes(&allow("iot:Publish", "*")), []);
        assert_eq!(
            codes(&allow("*", &format!("{ARN}:*"))),
            [Code::PolicyAllowsEverything, Code::PolicyConnectWithoutAttachment]
        );
        let deny = r#"{"Effect": "Deny", "Action": "iot:*", "Resource": "*"}"#;
        assert_eq!(codes(deny), []);
    }

    #[test]
    fn mqtt_wildcards_inside_variables_are_not_literal() {
        assert_eq!(codes(&allow("iot:Publish", &format!("{ARN}:topic/${{iot:Connection.Thing.Attributes[a+b]}}"))), []);
        assert_eq!(
            flagged(&allow("iot:Receive", &format!("{ARN}:topic/${{iot:Connection.Thing.Attributes[a+b]}}/#"))),
            [(Code::PolicyLiteralMqttWildcard, "#".to_owned())]
        );
        assert_eq!(codes(&allow("iot:Connect", &format!("{ARN}:client/a+b"))), []);
    }
}
