//! The reference evaluator: decides an authorization request against the policies attached to
//! a principal exactly as AWS IoT Core does. An applicable Deny wins over any Allow, an
//! applicable Allow over the default implicit deny.
//!
//! A statement applies when its action matches, its resource matches after policy variables
//! are substituted, and every condition holds. A resource entry whose variable cannot be
//! resolved matches nothing; a substituted value is literal text, never a pattern.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::glob::{self, Token};
use super::{Condition, Effect, Policy, SetQualifier, Statement, Test};

/// What AWS knows about the connection making a request (the `--context` file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    pub region: String,
    pub account: String,
    pub client_id: Option<String>,
    /// Present only when a thing is associated with the connection.
    pub thing_name: Option<String>,
    pub thing_type_name: Option<String>,
    pub thing_attributes: BTreeMap<String, String>,
    pub is_attached: Option<bool>,
    pub certificate_id: Option<String>,
    /// Subject and issuer attributes; the first value is the default.
    pub subject: BTreeMap<String, Vec<String>>,
    pub issuer: BTreeMap<String, Vec<String>>,
    pub source_ip: Option<String>,
    pub source_vpce: Option<String>,
    pub connect_attributes: Vec<String>,
    /// A topic name; the `iot:LastWillTopic` key is its topic ARN.
    pub last_will_topic: Option<String>,
}

impl Context {
    /// Reads the context format of `shared/conformance/README.md`.
    pub fn from_json(json: &serde_json::Value) -> Result<Context, String> {
        let object = json.as_object().ok_or("the context must be a JSON object")?;
        let text = |key: &str| -> Result<Option<String>, String> {
            match object.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(format!("`{key}` must be a string")),
            }
        };
        let strings = |value: &serde_json::Value, what: &str| -> Result<Vec<String>, String> {
            match value {
                serde_json::Value::String(text) => Ok(vec![text.clone()]),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned).ok_or(format!("`{what}` holds a non-string")))
                    .collect(),
                _ => Err(format!("`{what}` must be a string or a list of strings")),
            }
        };
        let attributes =
            |value: Option<&serde_json::Value>, what: &str| -> Result<BTreeMap<String, Vec<String>>, String> {
                let Some(value) = value else { return Ok(BTreeMap::new()) };
                let object = value.as_object().ok_or(format!("`{what}` must be an object"))?;
                object.iter().map(|(key, value)| Ok((key.clone(), strings(value, what)?))).collect()
            };
        let certificate = object.get("certificate");
        let thing_attributes = match object.get("thingAttributes") {
            None | Some(serde_json::Value::Null) => BTreeMap::new(),
            Some(serde_json::Value::Object(map)) => map
                .iter()
                .map(|(key, value)| {
                    Ok((key.clone(), value.as_str().ok_or("`thingAttributes` values must be strings")?.to_owned()))
                })
                .collect::<Result<_, &str>>()?,
            Some(_) => return Err("`thingAttributes` must be an object".to_owned()),
        };
        Ok(Context {
            region: text("region")?.unwrap_or_else(|| "us-east-1".to_owned()),
            account: text("account")?.unwrap_or_else(|| "123456789012".to_owned()),
            client_id: text("clientId")?,
            thing_name: text("thingName")?,
            thing_type_name: text("thingTypeName")?,
            thing_attributes,
            is_attached: match object.get("isAttached") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::Bool(flag)) => Some(*flag),
                Some(_) => return Err("`isAttached` must be a Boolean".to_owned()),
            },
            certificate_id: text("certificateId")?,
            subject: attributes(certificate.and_then(|certificate| certificate.get("subject")), "certificate.subject")?,
            issuer: attributes(certificate.and_then(|certificate| certificate.get("issuer")), "certificate.issuer")?,
            source_ip: text("sourceIp")?,
            source_vpce: text("sourceVpce")?,
            connect_attributes: match object.get("connectAttributes") {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(value) => strings(value, "connectAttributes")?,
            },
            last_will_topic: text("lastWillTopic")?,
        })
    }

    /// The values of a policy variable or condition key (case-insensitive), or `None` when it
    /// has none for this connection. Most keys have one value; `iot:ConnectAttributes` and
    /// certificate `.List` keys have several.
    pub fn values(&self, key: &str) -> Option<Vec<String>> {
        let lower = key.to_ascii_lowercase();
        let one = |value: &Option<String>| value.clone().map(|value| vec![value]);
        match lower.as_str() {
            "iot:clientid" => one(&self.client_id),
            "iot:connection.thing.thingname" => one(&self.thing_name),
            "iot:connection.thing.thingtypename" => self.thing_name.as_ref().and(one(&self.thing_type_name)),
            "iot:connection.thing.isattached" => self.is_attached.map(|flag| vec![flag.to_string()]),
            "iot:certificateid" => one(&self.certificate_id),
            "aws:sourceip" => one(&self.source_ip),
            "aws:sourcevpce" => one(&self.source_vpce),
            "iot:connectattributes" => Some(self.connect_attributes.clone()),
            "iot:lastwilltopic" => self
                .last_will_topic
                .as_ref()
                .map(|topic| vec![format!("arn:aws:iot:{}:{}:topic/{topic}", self.region, self.account)]),
            _ => {
                if let Some(name) =
                    lower.strip_prefix("iot:connection.thing.attributes[").and_then(|rest| rest.strip_suffix(']'))
                {
                    self.thing_name.as_ref()?;
                    // Attribute names keep their case; find the one written in the key.
                    let original = key.get(key.len() - name.len() - 1..key.len() - 1)?;
                    return self.thing_attributes.get(original).map(|value| vec![value.clone()]);
                }
                self.certificate_values(key)
            }
        }
    }

    /// `iot:Certificate.Subject.<Attr>[.N|.List]` and the issuer's: the first value, value
    /// `N` counted from zero (the documentation's own example makes `.1` the second), or all
    /// of them; only the first five values of an attribute are kept.
    fn certificate_values(&self, key: &str) -> Option<Vec<String>> {
        let rest = key.get("iot:Certificate.".len()..).filter(|_| {
            key.get(.."iot:Certificate.".len()).is_some_and(|prefix| prefix.eq_ignore_ascii_case("iot:Certificate."))
        })?;
        let (side, rest) = rest.split_once('.')?;
        let attributes = if side.eq_ignore_ascii_case("Subject") {
            &self.subject
        } else if side.eq_ignore_ascii_case("Issuer") {
            &self.issuer
        } else {
            return None;
        };
        // Alternative names carry their type: `AlternativeName.DNSName`, as the context
        // file names them too.
        let (name, suffix) = match rest.split_once('.') {
            Some((alternative, tail)) if alternative.eq_ignore_ascii_case("AlternativeName") => {
                match tail.split_once('.') {
                    Some((kind, suffix)) => (rest.get(..alternative.len() + 1 + kind.len())?, Some(suffix)),
                    None => (rest, None),
                }
            }
            Some((name, suffix)) => (name, Some(suffix)),
            None => (rest, None),
        };
        let values: Vec<String> = attributes.get(name)?.iter().take(5).cloned().collect();
        match suffix {
            None => values.first().map(|value| vec![value.clone()]),
            Some(suffix) if suffix.eq_ignore_ascii_case("List") => Some(values),
            Some(index) => values.get(index.parse::<usize>().ok()?).map(|value| vec![value.clone()]),
        }
    }

    /// The value a `${name}` policy variable stands for, when it is single-valued and
    /// resolved.
    fn variable(&self, name: &str) -> Option<String> {
        match self.values(name)?.as_slice() {
            [value] => Some(value.clone()),
            _ => None,
        }
    }
}

/// What a principal asks to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub action: String,
    pub resource: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    /// As AWS's TestAuthorization spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "ALLOWED",
            Decision::ExplicitDeny => "EXPLICIT_DENY",
            Decision::ImplicitDeny => "IMPLICIT_DENY",
        }
    }
}

/// One statement of one policy, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatementRef {
    pub policy: usize,
    pub statement: usize,
}

/// The decision and the statements behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub decision: Decision,
    /// Every applicable Allow statement.
    pub allowing: Vec<StatementRef>,
    /// Every applicable Deny statement.
    pub denying: Vec<StatementRef>,
    /// Policy variables and condition keys that statements for this action needed and the
    /// context lacks, as TestAuthorization's `missingContextValues`; sorted, each once.
    pub missing: Vec<String>,
}

/// Decides `request` under `policies` for the connection `context`.
pub fn authorize(policies: &[Policy], context: &Context, request: &Request) -> Authorization {
    let mut allowing = Vec::new();
    let mut denying = Vec::new();
    let mut missing = Vec::new();
    for (policy_index, policy) in policies.iter().enumerate() {
        for (statement_index, statement) in policy.statements.iter().enumerate() {
            missing_values(statement, context, &request.action, &mut missing);
            if applies(statement, context, request) {
                let reference = StatementRef { policy: policy_index, statement: statement_index };
                match statement.effect {
                    Effect::Allow => allowing.push(reference),
                    Effect::Deny => denying.push(reference),
                }
            }
        }
    }
    let decision = if !denying.is_empty() {
        Decision::ExplicitDeny
    } else if !allowing.is_empty() {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    };
    missing.sort();
    missing.dedup();
    Authorization { decision, allowing, denying, missing }
}

/// Adds what `statement` needed from the context for `request` and did not find: variables
/// in its resources and the keys of its conditions, when its action matches.
pub(crate) fn missing_values(statement: &Statement, context: &Context, action: &str, missing: &mut Vec<String>) {
    if !action_matches(statement, action) {
        return;
    }
    for pattern in &statement.resources.patterns {
        let mut rest = pattern.text.as_str();
        while let Some(start) = rest.find("${") {
            let Some(after) = rest.get(start + 2..) else { break };
            let Some(end) = after.find('}') else { break };
            let name = after.get(..end).unwrap_or_default();
            if !matches!(name, "*" | "?" | "$") && context.variable(name).is_none() {
                missing.push(name.to_owned());
            }
            rest = after.get(end + 1..).unwrap_or_default();
        }
    }
    for condition in &statement.conditions {
        if condition.operator.test != Test::Null
            && context.values(&condition.key.text).is_none_or(|values| values.is_empty())
        {
            missing.push(condition.key.text.clone());
        }
    }
}

/// Whether `statement` applies to `request`.
pub fn applies(statement: &Statement, context: &Context, request: &Request) -> bool {
    if !action_matches(statement, &request.action) {
        return false;
    }
    let resource = statement.resources.patterns.iter().any(|pattern| {
        substitute(&pattern.text, context).is_some_and(|tokens| glob::matches_tokens(&tokens, &request.resource))
    });
    if resource == statement.resources.negated {
        return false;
    }
    conditions_hold(statement, context)
}

/// Whether `statement`'s `Action` (or `NotAction`) covers `action`; names are case-insensitive.
pub(crate) fn action_matches(statement: &Statement, action: &str) -> bool {
    let listed = statement.actions.patterns.iter().any(|pattern| glob::matches_ignore_case(&pattern.text, action));
    listed != statement.actions.negated
}

/// Whether every condition of `statement` holds for the connection.
pub(crate) fn conditions_hold(statement: &Statement, context: &Context) -> bool {
    statement.conditions.iter().all(|condition| holds(condition, context))
}

/// Compiles pattern text with its policy variables substituted as literal text; `None` when a
/// variable has no value, so the entry matches nothing.
pub fn substitute(pattern: &str, context: &Context) -> Option<Vec<Token>> {
    let mut tokens = Vec::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        tokens.extend(glob::tokens(rest.get(..start)?));
        let after = rest.get(start + 2..)?;
        let Some(end) = after.find('}') else {
            tokens.extend(glob::tokens(rest.get(start..)?));
            return Some(tokens);
        };
        let name = after.get(..end)?;
        match name {
            "*" | "?" | "$" => tokens.extend(name.chars().map(Token::Literal)),
            _ => {
                let value = context.variable(name)?;
                // A certificate attribute holding wildcard or MQTT characters, or too long, is
                // not substituted: the variable stays as written, literal. Other values are
                // (a client id `+` does become a `+` in a topic filter).
                let certificate = name.get(..16).is_some_and(|prefix| prefix.eq_ignore_ascii_case("iot:Certificate."));
                let unsafe_value = value.contains(['*', '$', '+', '?', '#']) || value.len() > 1024;
                let literal = if certificate && unsafe_value { format!("${{{name}}}") } else { value };
                tokens.extend(literal.chars().map(Token::Literal));
            }
        }
        rest = after.get(end + 1..)?;
    }
    tokens.extend(glob::tokens(rest));
    Some(tokens)
}

/// Whether one condition (one operator, one key, its values) holds.
fn holds(condition: &Condition, context: &Context) -> bool {
    let operator = condition.operator;
    let present = context.values(&condition.key.text).filter(|values| !values.is_empty());
    if operator.test == Test::Null {
        // `"Null": {"key": "true"}` holds when the key is absent.
        let absent = present.is_none();
        return condition.values.iter().any(|value| value.text.eq_ignore_ascii_case("true") == absent);
    }
    let negated = operator.test.is_negated();
    let Some(request_values) = present else {
        return match operator.set {
            SetQualifier::AllValues => true,
            SetQualifier::AnyValue => operator.if_exists,
            SetQualifier::Single => operator.if_exists || negated,
        };
    };
    // A request value satisfies the operator when it matches one of the condition's values
    // (or, negated, none of them).
    let satisfies = |value: &str| {
        let positive = condition.values.iter().any(|expected| matches(operator.test, value, &expected.text, context));
        positive != negated
    };
    match operator.set {
        SetQualifier::AllValues => request_values.iter().all(|value| satisfies(value)),
        SetQualifier::AnyValue => request_values.iter().any(|value| satisfies(value)),
        SetQualifier::Single if negated => request_values.iter().all(|value| satisfies(value)),
        SetQualifier::Single => request_values.iter().any(|value| satisfies(value)),
    }
}

/// The positive form of `test` on one request value and one condition value.
fn matches(test: Test, value: &str, expected: &str, context: &Context) -> bool {
    use Test::*;
    match test {
        StringEquals | StringNotEquals => substitute_text(expected, context).is_some_and(|expected| value == expected),
        StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
            substitute_text(expected, context).is_some_and(|expected| value.to_lowercase() == expected.to_lowercase())
        }
        StringLike | StringNotLike => {
            substitute(expected, context).is_some_and(|tokens| glob::matches_tokens(&tokens, value))
        }
        NumericEquals | NumericNotEquals => compare_numbers(value, expected).is_some_and(|ordering| ordering.is_eq()),
        NumericLessThan => compare_numbers(value, expected).is_some_and(|ordering| ordering.is_lt()),
        NumericLessThanEquals => compare_numbers(value, expected).is_some_and(|ordering| ordering.is_le()),
        NumericGreaterThan => compare_numbers(value, expected).is_some_and(|ordering| ordering.is_gt()),
        NumericGreaterThanEquals => compare_numbers(value, expected).is_some_and(|ordering| ordering.is_ge()),
        DateEquals | DateNotEquals => compare_dates(value, expected).is_some_and(|ordering| ordering.is_eq()),
        DateLessThan => compare_dates(value, expected).is_some_and(|ordering| ordering.is_lt()),
        DateLessThanEquals => compare_dates(value, expected).is_some_and(|ordering| ordering.is_le()),
        DateGreaterThan => compare_dates(value, expected).is_some_and(|ordering| ordering.is_gt()),
        DateGreaterThanEquals => compare_dates(value, expected).is_some_and(|ordering| ordering.is_ge()),
        Bool => value.eq_ignore_ascii_case(expected),
        IpAddress | NotIpAddress => in_network(value, expected),
        ArnEquals | ArnNotEquals | ArnLike | ArnNotLike => arn_matches(value, expected, context),
        Null => false,
    }
}

/// Condition text with its variables substituted; `None` when one has no value.
fn substitute_text(text: &str, context: &Context) -> Option<String> {
    let tokens = substitute(text, context)?;
    Some(
        tokens
            .into_iter()
            .map(|token| match token {
                Token::Star => '*',
                Token::One => '?',
                Token::Literal(c) => c,
            })
            .collect(),
    )
}

fn compare_numbers(value: &str, expected: &str) -> Option<std::cmp::Ordering> {
    let (value, expected): (f64, f64) = (value.trim().parse().ok()?, expected.trim().parse().ok()?);
    value.partial_cmp(&expected)
}

fn compare_dates(value: &str, expected: &str) -> Option<std::cmp::Ordering> {
    let seconds = |text: &str| -> Option<i64> {
        match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(time) => Some(time.timestamp()),
            Err(_) => text.parse().ok(),
        }
    };
    Some(seconds(value)?.cmp(&seconds(expected)?))
}

/// Whether IP address `value` is in `network` (CIDR; a bare address is a /32 or /128).
fn in_network(value: &str, network: &str) -> bool {
    let Ok(address) = value.trim().parse::<IpAddr>() else { return false };
    let (base, bits) = match network.split_once('/') {
        Some((base, bits)) => (base, bits.parse::<u32>().ok()),
        None => (network, None),
    };
    let Ok(base) = base.trim().parse::<IpAddr>() else { return false };
    match (address, base) {
        (IpAddr::V4(address), IpAddr::V4(base)) => {
            let bits = bits.unwrap_or(32);
            if bits > 32 {
                return false;
            }
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(address) & mask == u32::from(base) & mask
        }
        (IpAddr::V6(address), IpAddr::V6(base)) => {
            let bits = bits.unwrap_or(128);
            if bits > 128 {
                return false;
            }
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(address) & mask == u128::from(base) & mask
        }
        _ => false,
    }
}

/// ARN matching: each of the six colon-separated parts on its own, with wildcards that do not
/// cross `:` (the resource part, the sixth, keeps its colons).
fn arn_matches(value: &str, pattern: &str, context: &Context) -> bool {
    let Some(pattern) = substitute_text(pattern, context) else { return false };
    let values: Vec<&str> = value.splitn(6, ':').collect();
    let patterns: Vec<&str> = pattern.splitn(6, ':').collect();
    values.len() == patterns.len() && values.iter().zip(&patterns).all(|(value, pattern)| glob::matches(pattern, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_variables_pick_values_by_index_list_and_alternative_name() {
        let mut context = Context::default();
        let names = ["a", "b", "c", "d", "e", "f"].map(str::to_owned).to_vec();
        context.subject.insert("CommonName".to_owned(), names);
        context
            .subject
            .insert("AlternativeName.DNSName".to_owned(), vec!["x.example".to_owned(), "y.example".to_owned()]);
        assert_eq!(context.variable("iot:Certificate.Subject.CommonName").as_deref(), Some("a"));
        assert_eq!(context.variable("iot:Certificate.Subject.CommonName.1").as_deref(), Some("b"));
        assert_eq!(context.variable("iot:Certificate.Subject.CommonName.5"), None, "only five values are kept");
        assert_eq!(context.values("iot:Certificate.Subject.CommonName.List").map(|values| values.len()), Some(5));
        assert_eq!(context.variable("iot:Certificate.Subject.AlternativeName.DNSName").as_deref(), Some("x.example"));
        assert_eq!(context.variable("iot:Certificate.Subject.AlternativeName.DNSName.1").as_deref(), Some("y.example"));
        assert_eq!(context.variable("iot:Certificate.Issuer.CommonName"), None);
    }
}
