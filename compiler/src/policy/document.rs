//! Reading a policy document: strict JSON with exact positions (jsonc-parser), then every
//! element checked as AWS IoT Core's CreatePolicy checks it. Each diagnostic points at the
//! offending key or value.

use std::collections::HashMap;

use jsonc_parser::ast::{Object, ObjectProp, Value};

use super::{
    ACTIONS, Condition, Effect, IOT_KEYS, LEGACY_POLICY_VERSION, Operator, POLICY_VERSION, Policy, PolicyReport,
    SERVICES, Spanned, Statement, Targets, Test,
};
use crate::diagnostics::{Code, Diagnostic, Limited, Severity, did_you_mean};
use crate::rule_file::{name_span, parse_strict_json, range_of};
use crate::span::Span;

/// CreatePolicy's limit on a document, whitespace not counted.
pub const MAX_POLICY_CHARS: usize = 2048;

const TOP_ELEMENTS: &[&str] = &["Version", "Statement", "Id"];
const STATEMENT_ELEMENTS: &[&str] = &["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"];

/// Reads and checks one policy document.
pub fn check_policy(text: &str) -> PolicyReport {
    let mut reader = Reader { diagnostics: Limited::default(), errors: false };
    let policy = reader.document(text);
    let has_errors = reader.errors;
    if let (Some(policy), false) = (&policy, has_errors) {
        for warning in super::lint::lint(policy, text) {
            reader.diagnostics.add(warning);
        }
    }
    PolicyReport { policy: policy.filter(|_| !has_errors), diagnostics: reader.diagnostics.finish() }
}

struct Reader {
    /// At most `MAX_PER_CODE` of a code: a 10 MB document can name a million unknown actions.
    diagnostics: Limited,
    /// Whether any error was found, kept or not.
    errors: bool,
}

impl Reader {
    fn error(&mut self, code: Code, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.errors = true;
        if self.diagnostics.count(code) {
            self.diagnostics.push(Diagnostic::error(code, span, message).with_help(help));
        }
    }

    fn warning(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.add(diagnostic);
    }

    /// [`Reader::error`] with the message and help built only when they are shown: they hold
    /// a "did you mean" search.
    fn error_with(&mut self, code: Code, span: Span, build: impl FnOnce() -> (String, String)) {
        self.errors = true;
        if self.diagnostics.count(code) {
            let (message, help) = build();
            self.diagnostics.push(Diagnostic::error(code, span, message).with_help(help));
        }
    }

    fn document(&mut self, text: &str) -> Option<Policy> {
        let mut counted = text.char_indices().filter(|(_, c)| !c.is_whitespace());
        if let Some((offset, first_over)) = counted.nth(MAX_POLICY_CHARS) {
            let total = MAX_POLICY_CHARS + 1 + counted.count();
            self.errors = true;
            self.diagnostics.add(
                Diagnostic::error(
                    Code::PolicyTooLong,
                    Span::new(offset, offset + first_over.len_utf8()),
                    format!(
                        "policy document is {total} characters long, whitespace not counted; the limit is \
                         {MAX_POLICY_CHARS}"
                    ),
                )
                .with_label(format!("character {} starts here", MAX_POLICY_CHARS + 1))
                .with_help("split the statements across several policies attached to the same principal"),
            );
        }
        let value = match parse_strict_json(text) {
            Ok(value) => value,
            Err((span, message)) => {
                self.error(
                    Code::PolicyInvalidJson,
                    span,
                    format!("invalid JSON: {message}"),
                    "a policy document is one JSON object; AWS rejects it as a MalformedPolicyException",
                );
                return None;
            }
        };
        let Some(Value::Object(root)) = value else {
            let span = value.as_ref().map_or(Span::new(0, text.len()), range_of);
            self.error(
                Code::PolicyInvalidElement,
                span,
                "a policy document must be a JSON object",
                "write {\"Version\": \"2012-10-17\", \"Statement\": [...]}",
            );
            return None;
        };
        self.unknown_elements(&root, TOP_ELEMENTS, "policy");
        self.repeated_keys(&root, "the policy", str::to_owned);
        let variables = self.version(&root);
        let Some(statement) = root.get("Statement") else {
            self.error(
                Code::PolicyInvalidElement,
                Span::new(root.range.start, root.range.start + 1),
                "policy has no `Statement`",
                "add \"Statement\": [{\"Effect\": \"Allow\", \"Action\": ..., \"Resource\": ...}]",
            );
            return None;
        };
        let objects: Vec<&Object<'_>> = match &statement.value {
            Value::Object(object) => vec![object],
            Value::Array(array) => {
                let mut objects = Vec::new();
                for element in &array.elements {
                    match element {
                        Value::Object(object) => objects.push(object),
                        other => self.error(
                            Code::PolicyInvalidElement,
                            range_of(other),
                            "a statement must be a JSON object",
                            "write each statement as {\"Effect\": ..., \"Action\": ..., \"Resource\": ...}",
                        ),
                    }
                }
                objects
            }
            other => {
                self.error(
                    Code::PolicyInvalidElement,
                    range_of(other),
                    "`Statement` must be an object or an array of objects",
                    "write \"Statement\": [{...}, ...]",
                );
                Vec::new()
            }
        };
        let statements = objects.into_iter().filter_map(|object| self.statement(object, variables)).collect();
        Some(Policy { statements })
    }

    /// Checks `Version`; returns whether `${...}` policy variables are substituted under it.
    fn version(&mut self, root: &Object<'_>) -> bool {
        let help = format!("write \"Version\": \"{POLICY_VERSION}\", the version AWS IoT policies are written in");
        match root.get("Version").map(|prop| &prop.value) {
            None => self.error(
                Code::PolicyInvalidVersion,
                Span::new(root.range.start, root.range.start + 1),
                "policy has no `Version`",
                help,
            ),
            Some(Value::StringLit(version)) if version.value == POLICY_VERSION => {}
            Some(Value::StringLit(version)) if version.value == LEGACY_POLICY_VERSION => {
                // IAM's grammar still takes the first policy language, whose only difference
                // that matters here is that it predates policy variables.
                self.warning(
                    Diagnostic::warning(
                        Code::PolicyLegacyVersion,
                        Span::new(version.range.start, version.range.end),
                        format!("`Version` {LEGACY_POLICY_VERSION} does not substitute policy variables"),
                    )
                    .with_label("IAM's first policy language")
                    .with_help(format!(
                        "under {LEGACY_POLICY_VERSION} every `${{...}}` is literal text; write \"Version\": \
                         \"{POLICY_VERSION}\" to substitute them"
                    )),
                );
                return false;
            }
            Some(other) => {
                let shown = match other {
                    Value::StringLit(version) => format!("`{}`", version.value),
                    _ => "not a string".to_owned(),
                };
                self.error(
                    Code::PolicyInvalidVersion,
                    range_of(other),
                    format!("unsupported `Version`: {shown}"),
                    help,
                );
            }
        }
        true
    }

    /// Reports each key an object repeats: IAM's grammar allows no element twice in one
    /// object, and a JSON reader would silently keep only one of them. `normalize` says which
    /// spellings are the same key (condition keys compare case-insensitively).
    fn repeated_keys(&mut self, object: &Object<'_>, place: &str, normalize: impl Fn(&str) -> String) {
        let mut seen: HashMap<String, (Span, &str)> = HashMap::with_capacity(object.properties.len());
        for prop in &object.properties {
            let name = prop.name.as_str();
            let span = name_span(prop);
            let Some((first, first_name)) = seen.get(&normalize(name)).copied() else {
                seen.insert(normalize(name), (span, name));
                continue;
            };
            self.errors = true;
            if !self.diagnostics.count(Code::PolicyDuplicateKey) {
                continue;
            }
            let (message, help) = if first_name == name {
                (
                    format!("`{name}` appears twice in {place}"),
                    "IAM's policy grammar allows a key once per object; merge the two into one entry".to_owned(),
                )
            } else {
                (
                    format!("`{name}` repeats `{first_name}` in {place}"),
                    "condition key names are case-insensitive, so both spellings name one key, which IAM's policy \
                     grammar allows once per operator; merge the two into one entry"
                        .to_owned(),
                )
            };
            self.diagnostics.push(
                Diagnostic::error(Code::PolicyDuplicateKey, span, message)
                    .with_label("repeated here")
                    .with_related(first, "first here")
                    .with_help(help),
            );
        }
    }

    fn unknown_elements(&mut self, object: &Object<'_>, known: &[&str], what: &str) {
        for prop in &object.properties {
            let name = prop.name.as_str();
            if known.contains(&name) {
                continue;
            }
            self.error_with(Code::PolicyInvalidElement, name_span(prop), || {
                match (name, did_you_mean(name, known.iter().copied())) {
                    ("Principal" | "NotPrincipal", _) => (
                        format!("`{name}` is not allowed in an AWS IoT policy"),
                        "an IoT policy applies to the certificate or identity it is attached to; remove the element"
                            .to_owned(),
                    ),
                    (_, Some(suggestion)) => {
                        (format!("unknown {what} element `{name}`"), format!("did you mean `{suggestion}`?"))
                    }
                    _ => (
                        format!("unknown {what} element `{name}`"),
                        format!("{what} elements are {}", known.join(", ")),
                    ),
                }
            });
        }
    }

    fn statement(&mut self, object: &Object<'_>, variables: bool) -> Option<Statement> {
        let span = Span::new(object.range.start, object.range.end);
        let at_start = Span::new(object.range.start, object.range.start + 1);
        self.unknown_elements(object, STATEMENT_ELEMENTS, "statement");
        self.repeated_keys(object, "a statement", str::to_owned);
        let sid = object.get("Sid").and_then(|prop| self.string(prop)).map(|sid| sid.text);
        let effect = match object.get("Effect") {
            None => {
                self.error(
                    Code::PolicyMissingEffect,
                    at_start,
                    "statement has no `Effect`",
                    "add \"Effect\": \"Allow\" or \"Effect\": \"Deny\"",
                );
                None
            }
            Some(prop) => match self.string(prop) {
                Some(effect) if effect.text == "Allow" => Some(Effect::Allow),
                Some(effect) if effect.text == "Deny" => Some(Effect::Deny),
                Some(effect) => {
                    let suggestion = ["Allow", "Deny"]
                        .into_iter()
                        .find(|known| known.eq_ignore_ascii_case(&effect.text))
                        .or_else(|| did_you_mean(&effect.text, ["Allow", "Deny"]));
                    let help = match suggestion {
                        Some(known) => format!("did you mean `{known}`? The value is case-sensitive"),
                        None => "write `Allow` or `Deny`, capitalized exactly so".to_owned(),
                    };
                    self.error(
                        Code::PolicyInvalidEffect,
                        effect.span,
                        format!("`Effect` must be `Allow` or `Deny`, not `{}`", effect.text),
                        help,
                    );
                    None
                }
                None => None,
            },
        };
        let actions = self.targets(object, "Action", "NotAction", Code::PolicyMissingAction, at_start);
        if let Some(actions) = &actions {
            for action in &actions.patterns {
                self.action(action);
            }
        }
        let resources = self.targets(object, "Resource", "NotResource", Code::PolicyMissingResource, at_start);
        if let Some(resources) = &resources {
            for resource in &resources.patterns {
                self.resource(resource);
            }
        }
        let conditions = match object.get("Condition") {
            Some(prop) => self.conditions(prop),
            None => Some(Vec::new()),
        };
        Some(Statement {
            sid,
            effect: effect?,
            actions: actions?,
            resources: resources?,
            conditions: conditions?,
            variables,
            span,
        })
    }

    /// `Action`/`NotAction` or `Resource`/`NotResource`: exactly one of the two.
    fn targets(&mut self, object: &Object<'_>, plain: &str, not: &str, code: Code, at: Span) -> Option<Targets> {
        let (prop, negated) = match (object.get(plain), object.get(not)) {
            (Some(prop), None) => (prop, false),
            (None, Some(prop)) => (prop, true),
            (Some(_), Some(both)) => {
                self.error(
                    code,
                    name_span(both),
                    format!("statement has both `{plain}` and `{not}`"),
                    format!("keep one: `{plain}` lists what the statement covers, `{not}` what it excludes"),
                );
                return None;
            }
            (None, None) => {
                self.error(
                    code,
                    at,
                    format!("statement has neither `{plain}` nor `{not}`"),
                    format!("add \"{plain}\": [...]"),
                );
                return None;
            }
        };
        let patterns = self.strings(prop)?;
        if patterns.is_empty() {
            self.error(
                code,
                range_of(&prop.value),
                format!("`{}` lists nothing", prop.name.as_str()),
                "list at least one entry",
            );
            return None;
        }
        Some(Targets { negated, patterns })
    }

    /// An action AWS IoT policies carry. An unknown action of a service they cover is a
    /// warning and is evaluated as written (AWS adds actions; a policy naming one still works
    /// for the ones it knows); an action of any other service is an error.
    fn action(&mut self, action: &Spanned) {
        let text = action.text.as_str();
        let known = if text.contains(['*', '?']) {
            ACTIONS.iter().any(|known| super::glob::matches_ignore_case(text, known))
        } else {
            ACTIONS.iter().any(|known| known.eq_ignore_ascii_case(text))
        };
        if known {
            return;
        }
        let Some(service) = known_service(text) else {
            self.errors = true;
            // Counted first: the suggestion compares the action with every known one.
            if self.diagnostics.count(Code::PolicyUnknownAction) {
                self.diagnostics.push(other_service_action(action));
            }
            return;
        };
        if !self.diagnostics.count(Code::PolicyUnknownAction) {
            return;
        }
        let help = service_action_suggestion(text, service).unwrap_or_else(|| {
            format!(
                "AWS documents no such `{service}:` action; the statement is kept and matches a request for this name \
                 as written"
            )
        });
        self.diagnostics.push(unknown_service_action(action, service, help, Severity::Warning));
    }

    /// A resource AWS IoT policies take: `*`, or an ARN of one of the services whose actions
    /// they carry (`iotjobsdata:` actions act on `iot` thing ARNs).
    fn resource(&mut self, resource: &Spanned) {
        if let Some(diagnostic) = invalid_arn(resource) {
            self.errors = true;
            if self.diagnostics.count(Code::PolicyInvalidArn) {
                self.diagnostics.push(diagnostic);
            }
        }
    }

    fn conditions(&mut self, prop: &ObjectProp<'_>) -> Option<Vec<Condition>> {
        let Value::Object(operators) = &prop.value else {
            self.error(
                Code::PolicyInvalidElement,
                range_of(&prop.value),
                "`Condition` must be an object",
                "write \"Condition\": {\"StringEquals\": {\"key\": \"value\"}}",
            );
            return None;
        };
        self.repeated_keys(operators, "one `Condition`", str::to_owned);
        let mut conditions = Vec::new();
        let mut valid = true;
        for operator_prop in &operators.properties {
            let name = operator_prop.name.as_str();
            let Some(operator) = Operator::parse(name) else {
                self.error_with(Code::PolicyUnknownConditionOperator, name_span(operator_prop), || {
                    let names = Test::ALL.iter().map(|(_, name)| *name);
                    let base = name.trim_start_matches("ForAnyValue:").trim_start_matches("ForAllValues:");
                    let help = match did_you_mean(base.trim_end_matches("IfExists"), names) {
                        Some(suggestion) => format!("did you mean `{suggestion}`?"),
                        None => "use an IAM condition operator: String*, Numeric*, Date*, Bool, IpAddress, Arn*, \
                                 Null, with an optional `ForAnyValue:`/`ForAllValues:` prefix or `IfExists` suffix"
                            .to_owned(),
                    };
                    (format!("unknown condition operator `{name}`"), help)
                });
                valid = false;
                continue;
            };
            let Value::Object(keys) = &operator_prop.value else {
                self.error(
                    Code::PolicyInvalidElement,
                    range_of(&operator_prop.value),
                    format!("`{name}` must map condition keys to values"),
                    format!("write \"{name}\": {{\"iot:ClientId\": \"value\"}}"),
                );
                valid = false;
                continue;
            };
            // Condition key names compare case-insensitively, so two spellings are one key.
            self.repeated_keys(keys, &format!("one `{name}`"), str::to_ascii_lowercase);
            for key_prop in &keys.properties {
                let key = Spanned { text: key_prop.name.as_str().to_owned(), span: name_span(key_prop) };
                if !self.condition_key(&key) {
                    valid = false;
                    continue;
                }
                match self.condition_values(key_prop) {
                    Some(values) => conditions.push(Condition { operator, key, values }),
                    None => valid = false,
                }
            }
        }
        valid.then_some(conditions)
    }

    /// Whether a condition key is one AWS IoT policies support: the `iot:` keys AWS documents
    /// and the `aws:` global keys (names compare case-insensitively).
    fn condition_key(&mut self, key: &Spanned) -> bool {
        let lower = key.text.to_ascii_lowercase();
        let known = lower.starts_with("aws:")
            || lower.starts_with("cognito-identity.amazonaws.com:")
            || IOT_KEYS.iter().any(|known| known.eq_ignore_ascii_case(&key.text))
            || lower.starts_with("iot:certificate.subject.")
            || lower.starts_with("iot:certificate.issuer.")
            || (lower.starts_with("iot:connection.thing.attributes[") && lower.ends_with(']'));
        if !known {
            self.error_with(Code::PolicyUnknownConditionKey, key.span, || {
                let help = match did_you_mean(&key.text, IOT_KEYS.iter().copied()) {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None => "AWS IoT policies take the `iot:` keys AWS documents (client id, thing, certificate, \
                             connect attributes, last will topic) and the `aws:` global keys"
                        .to_owned(),
                };
                (format!("unsupported condition key `{}`", key.text), help)
            });
        }
        known
    }

    /// A condition's values: strings, Booleans and numbers (kept as their JSON text), alone or
    /// in an array.
    fn condition_values(&mut self, prop: &ObjectProp<'_>) -> Option<Vec<Spanned>> {
        let scalar = |value: &Value<'_>| -> Option<Spanned> {
            let text = match value {
                Value::StringLit(text) => text.value.to_string(),
                Value::BooleanLit(flag) => flag.value.to_string(),
                Value::NumberLit(number) => number.value.to_string(),
                _ => return None,
            };
            Some(Spanned { text, span: range_of(value) })
        };
        let values = match &prop.value {
            Value::Array(array) => array.elements.iter().map(scalar).collect::<Option<Vec<_>>>(),
            value => scalar(value).map(|value| vec![value]),
        };
        if values.is_none() {
            self.error(
                Code::PolicyInvalidElement,
                range_of(&prop.value),
                format!(
                    "condition key `{}` must have a string, Boolean or number value, or an array of them",
                    prop.name.as_str()
                ),
                "write \"key\": \"value\" or \"key\": [\"value\", ...]",
            );
        }
        values
    }

    fn string(&mut self, prop: &ObjectProp<'_>) -> Option<Spanned> {
        match &prop.value {
            Value::StringLit(text) => Some(Spanned { text: text.value.to_string(), span: range_of(&prop.value) }),
            other => {
                self.error(
                    Code::PolicyInvalidElement,
                    range_of(other),
                    format!("`{}` must be a string", prop.name.as_str()),
                    format!("write \"{}\": \"...\"", prop.name.as_str()),
                );
                None
            }
        }
    }

    /// A string or an array of strings.
    fn strings(&mut self, prop: &ObjectProp<'_>) -> Option<Vec<Spanned>> {
        let single = |value: &Value<'_>| match value {
            Value::StringLit(text) => Some(Spanned { text: text.value.to_string(), span: range_of(value) }),
            _ => None,
        };
        let strings = match &prop.value {
            Value::Array(array) => array.elements.iter().map(single).collect::<Option<Vec<_>>>(),
            value => single(value).map(|value| vec![value]),
        };
        if strings.is_none() {
            self.error(
                Code::PolicyInvalidElement,
                range_of(&prop.value),
                format!("`{}` must be a string or an array of strings", prop.name.as_str()),
                format!("write \"{}\": [\"...\"]", prop.name.as_str()),
            );
        }
        strings
    }
}

/// The service of an action when AWS IoT policies carry it (`iot` for `IOT:publsh`).
pub(super) fn known_service(action: &str) -> Option<&'static str> {
    let (service, _) = action.split_once(':')?;
    if service.contains("${") {
        return None;
    }
    SERVICES.iter().copied().find(|known| super::glob::matches_ignore_case(service, known))
}

/// `policy::unknown_action` for an action of a service AWS IoT policies do not carry, or with
/// no service at all: an error in documents and requests alike.
pub(super) fn other_service_action(action: &Spanned) -> Diagnostic {
    let text = action.text.as_str();
    let unprefixed = (!text.contains(':'))
        .then(|| {
            ACTIONS.iter().find(|known| known.split_once(':').is_some_and(|(_, name)| name.eq_ignore_ascii_case(text)))
        })
        .flatten();
    let help = if text.contains("${") {
        "policy variables are not substituted in `Action`; name the action itself".to_owned()
    } else if let Some(known) = unprefixed {
        format!("did you mean `{known}`? Actions are written with their service prefix")
    } else if let Some(suggestion) = did_you_mean(text, ACTIONS.iter().copied()) {
        format!("did you mean `{suggestion}`?")
    } else {
        "AWS IoT policies grant `iot:` actions (`iot:Connect`, `iot:Publish`, `iot:Subscribe`, `iot:Receive`, the \
         shadow and retained-message actions), `iotjobsdata:` job actions, Greengrass V2 `greengrass:` data-plane \
         actions and `iotwireless:` actions"
            .to_owned()
    };
    Diagnostic::error(Code::PolicyUnknownAction, action.span, format!("unknown action `{text}`")).with_help(help)
}

/// "did you mean" among the actions of `service`, or the reason none is offered.
pub(super) fn service_action_suggestion(action: &str, service: &str) -> Option<String> {
    if action.contains("${") {
        return Some("policy variables are not substituted in `Action`; name the action itself".to_owned());
    }
    let same_service = ACTIONS.iter().copied().filter(|known| {
        known.get(..service.len() + 1).is_some_and(|prefix| prefix.eq_ignore_ascii_case(&format!("{service}:")))
    });
    did_you_mean(action, same_service).map(|suggestion| format!("did you mean `{suggestion}`?"))
}

/// `policy::unknown_action` for an action of a service AWS IoT policies carry that iotrules
/// does not know: a warning in a document, an error in a request.
pub(super) fn unknown_service_action(action: &Spanned, service: &str, help: String, severity: Severity) -> Diagnostic {
    Diagnostic::new(Code::PolicyUnknownAction, severity, action.span, format!("unknown action `{}`", action.text))
        .with_label(format!("not a documented `{service}:` action"))
        .with_help(help)
}

/// `policy::invalid_arn` unless the resource is `*` or an ARN of a service whose actions AWS
/// IoT policies carry.
pub(super) fn invalid_arn(resource: &Spanned) -> Option<Diagnostic> {
    let text = resource.text.as_str();
    if text == "*" {
        return None;
    }
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let well_formed = match parts.as_slice() {
        ["arn", partition, service, _region, _account, rest] => {
            !partition.is_empty() && matches!(*service, "iot" | "greengrass" | "iotwireless" | "*") && !rest.is_empty()
        }
        _ => false,
    };
    (!well_formed).then(|| {
        Diagnostic::error(Code::PolicyInvalidArn, resource.span, format!("`{text}` is not an AWS IoT resource ARN"))
            .with_help(
                "write `arn:aws:iot:<region>:<account>:<type>/<name>` (type client, topic, topicfilter, thing or \
                 rolealias), an `arn:aws:greengrass:` or `arn:aws:iotwireless:` ARN, or `*`",
            )
    })
}
