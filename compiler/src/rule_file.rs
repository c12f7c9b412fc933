//! TopicRulePayload JSON files: the body of `aws iot create-topic-rule --topic-rule-payload`
//! and the `{"ruleArn": ..., "rule": {...}}` document `aws iot get-topic-rule` prints.
//!
//! The payload is checked as AWS checks it, and the embedded SQL is parsed and checked with
//! every diagnostic moved to its exact place inside the JSON string, escapes included.

mod actions;
pub mod cloudformation;
pub mod destination;
pub(crate) mod yaml;

use jsonc_parser::ast::{Object, ObjectProp, Value};
use jsonc_parser::{CollectOptions, ParseOptions};

use crate::check::check_sql;
use crate::diagnostics::{Code, Diagnostic, Limited, did_you_mean};
use crate::span::Span;
use crate::syntax::ast::Statement;
use crate::version::SqlVersion;
pub use actions::{Action, ActionSpec, Http, MAX_HTTP_HEADERS, MAX_HTTP_URL, Republish, RepublishHeaders};

/// AWS allows at most this many actions on one rule.
pub const MAX_ACTIONS: usize = 10;

/// The SQL version AWS uses when a payload names none.
pub const DEFAULT_FILE_SQL_VERSION: SqlVersion = SqlVersion::V2015_10_08;

/// Action types of the `Action` structure in the AWS IoT API.
pub const ACTION_TYPES: &[&str] = &[
    "cloudwatchAlarm",
    "cloudwatchLogs",
    "cloudwatchMetric",
    "dynamoDB",
    "dynamoDBv2",
    "elasticsearch",
    "firehose",
    "http",
    "iotAnalytics",
    "iotEvents",
    "iotSiteWise",
    "kafka",
    "kinesis",
    "lambda",
    "location",
    "openSearch",
    "republish",
    "s3",
    "salesforce",
    "sns",
    "sqs",
    "stepFunctions",
    "timestream",
];

/// Fields of a TopicRulePayload. `ruleName` is not part of AWS's payload (the CLI takes it as
/// an argument) but is accepted so a file can carry the name its rule is deployed under.
const PAYLOAD_FIELDS: &[&str] =
    &["ruleName", "sql", "description", "actions", "errorAction", "ruleDisabled", "awsIotSqlVersion"];
/// Extra fields of the `rule` object `get-topic-rule` prints.
const PRINTED_RULE_FIELDS: &[&str] = &["createdAt"];
/// Fields of the `aws iot create-topic-rule --cli-input-json` document.
const CLI_INPUT_FIELDS: &[&str] = &["ruleName", "topicRulePayload", "tags"];

/// A rule read from a file.
#[derive(Clone, Debug)]
pub struct RuleFile {
    pub name: Option<String>,
    pub sql: String,
    pub sql_version: SqlVersion,
    pub disabled: bool,
    /// The parsed statement; spans are relative to `sql`.
    pub statement: Option<Statement>,
    /// The entries of `actions` that name one action type; spans are byte ranges of the file.
    pub actions: Vec<ActionSpec>,
    pub error_action: Option<ActionSpec>,
}

/// What reading a rule file found.
#[derive(Clone, Debug)]
pub struct RuleFileReport {
    /// `None` when the file has no readable SQL.
    pub rule: Option<RuleFile>,
    /// Spans are byte ranges of the file text.
    pub diagnostics: Vec<Diagnostic>,
}

impl RuleFileReport {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads and checks a TopicRulePayload document.
pub fn check_rule_file(text: &str) -> RuleFileReport {
    let mut reader = Reader { diagnostics: Limited::default(), errors: 0 };
    let rule = reader.file(text);
    let mut diagnostics = reader.diagnostics.finish();
    diagnostics.sort_by_key(|diagnostic| diagnostic.span().start);
    RuleFileReport { rule, diagnostics }
}

/// The statement of a rule file as the language server reads it: the decoded SQL, its
/// version, and the way between offsets in the SQL and offsets in the file.
#[derive(Clone, Debug)]
pub struct EmbeddedSql {
    pub sql: String,
    pub version: SqlVersion,
    /// The JSON string literal holding the SQL, quotes included.
    pub literal: Span,
    /// For every byte offset of `sql`, and its end, the offset in the literal it came from.
    offsets: Vec<usize>,
}

impl EmbeddedSql {
    /// The file offset of an offset into `sql`.
    pub fn to_file(&self, offset: usize) -> usize {
        let inside = self.offsets.get(offset).or(self.offsets.last()).copied().unwrap_or(0);
        self.literal.start + inside
    }

    /// The offset into `sql` of a file offset, when it lies inside the string's text.
    pub fn to_sql(&self, offset: usize) -> Option<usize> {
        if offset <= self.literal.start || offset >= self.literal.end {
            return None;
        }
        let inside = offset - self.literal.start;
        Some(self.offsets.partition_point(|&from| from < inside).min(self.sql.len()))
    }
}

/// Finds the `sql` string of a rule file (either shape), whatever else is wrong with the file.
pub fn embedded_sql(text: &str) -> Option<EmbeddedSql> {
    let Ok(Some(Value::Object(root))) = parse_strict_json(text) else { return None };
    let payload = match root.get("rule").or_else(|| root.get("topicRulePayload")) {
        Some(ObjectProp { value: Value::Object(rule), .. }) => rule,
        _ => &root,
    };
    let Value::StringLit(literal) = &payload.get("sql")?.value else { return None };
    let literal = Span::new(literal.range.start, literal.range.end);
    let (sql, offsets) = decoded_offsets(text.get(literal.start..literal.end)?)?;
    let version = match payload.get("awsIotSqlVersion").map(|prop| &prop.value) {
        Some(Value::StringLit(version)) => version.value.parse().unwrap_or(DEFAULT_FILE_SQL_VERSION),
        _ => DEFAULT_FILE_SQL_VERSION,
    };
    Some(EmbeddedSql { sql, version, literal, offsets })
}

/// Parses `text` as strict JSON, with byte ranges on every node.
pub fn parse_json(text: &str) -> Result<Option<Value<'_>>, Diagnostic> {
    parse_strict_json(text).map_err(|(span, message)| {
        Diagnostic::error(Code::RuleInvalidJson, span, format!("invalid JSON: {message}"))
            .with_help("the file must be one JSON object, as `aws iot create-topic-rule --topic-rule-payload` takes")
    })
}

/// Parses strict JSON (no comments, trailing commas or other JSON5 leniency), as AWS's APIs
/// take it; an error is where and what went wrong.
pub fn parse_strict_json(text: &str) -> Result<Option<Value<'_>>, (Span, String)> {
    let options = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    match jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &options) {
        Ok(result) => Ok(result.value),
        Err(error) => {
            let range = error.range();
            let message = lowercase_first(&error.kind().to_string());
            Err((Span::new(range.start, range.end.max(range.start)), message))
        }
    }
}

struct Reader {
    /// At most `MAX_PER_CODE` of a code for the whole file.
    diagnostics: Limited,
    /// Errors found, kept or not.
    errors: usize,
}

impl Reader {
    fn file(&mut self, text: &str) -> Option<RuleFile> {
        let value = match parse_json(text) {
            Ok(Some(value)) => value,
            Ok(None) => {
                self.push(
                    Diagnostic::error(Code::RuleInvalidJson, Span::new(0, text.len()), "file holds no JSON value")
                        .with_help("write a TopicRulePayload object such as {\"sql\": \"SELECT * FROM 'a/b'\", \"actions\": []}"),
                );
                return None;
            }
            Err(diagnostic) => {
                self.push(diagnostic);
                return None;
            }
        };
        let Value::Object(root) = &value else {
            self.push(
                Diagnostic::error(Code::RuleInvalidField, range_of(&value), "a rule file holds a JSON object")
                    .with_help(
                        "write a TopicRulePayload object such as {\"sql\": \"SELECT * FROM 'a/b'\", \"actions\": []}",
                    ),
            );
            return None;
        };
        if root.get("Resources").is_some() {
            // A CloudFormation template: every topic rule in it is checked; the rule is read
            // when there is exactly one.
            let (rules, diagnostics) = cloudformation::check_template(text);
            for diagnostic in diagnostics {
                self.push(diagnostic);
            }
            return cloudformation::single_rule(rules);
        }
        if root.get("rule").is_some() || root.get("ruleArn").is_some() {
            self.unknown_fields(root, &["rule", "ruleArn"]);
            let Some(prop) = root.get("rule") else {
                self.push(
                    Diagnostic::error(
                        Code::RuleInvalidField,
                        Span::new(root.range.start, root.range.start + 1),
                        "get-topic-rule output has no `rule`",
                    )
                    .with_label("no rule in this object")
                    .with_help("keep the `rule` object that `aws iot get-topic-rule` prints next to `ruleArn`"),
                );
                return None;
            };
            let Value::Object(rule) = &prop.value else {
                self.wrong_type(prop, "an object");
                return None;
            };
            let mut known = PAYLOAD_FIELDS.to_vec();
            known.extend_from_slice(PRINTED_RULE_FIELDS);
            self.unknown_fields(rule, &known);
            self.payload(text, rule)
        } else if let Some(prop) = root.get("topicRulePayload") {
            // `create-topic-rule --cli-input-json`: the name beside the payload.
            self.unknown_fields(root, CLI_INPUT_FIELDS);
            if let Some(tags) = root.get("tags")
                && !matches!(tags.value, Value::StringLit(_))
            {
                self.wrong_type(tags, "a string of `key=value` pairs joined by `&`");
            }
            let Value::Object(payload) = &prop.value else {
                self.wrong_type(prop, "an object");
                return None;
            };
            self.unknown_fields(payload, PAYLOAD_FIELDS);
            let name = self.rule_name(root);
            let mut rule = self.payload(text, payload)?;
            rule.name = name.or(rule.name);
            Some(rule)
        } else {
            self.unknown_fields(root, PAYLOAD_FIELDS);
            self.payload(text, root)
        }
    }

    fn payload(&mut self, text: &str, payload: &Object<'_>) -> Option<RuleFile> {
        let name = self.rule_name(payload);
        let sql_version = self.sql_version(payload);
        let disabled = match payload.get("ruleDisabled") {
            Some(ObjectProp { value: Value::BooleanLit(flag), .. }) => flag.value,
            Some(prop) => {
                self.wrong_type(prop, "true or false");
                false
            }
            None => false,
        };
        if let Some(prop) = payload.get("description")
            && !matches!(prop.value, Value::StringLit(_))
        {
            self.wrong_type(prop, "a string");
        }
        let actions = self.actions(text, sql_version, payload);
        let error_action = match payload.get("errorAction") {
            Some(ObjectProp { value: Value::Object(action), .. }) => self.action(text, sql_version, action),
            Some(prop) => {
                self.wrong_type(prop, "an action object");
                None
            }
            None => None,
        };

        let Some(prop) = payload.get("sql") else {
            self.push(
                Diagnostic::error(
                    Code::RuleInvalidField,
                    Span::new(payload.range.start, payload.range.start + 1),
                    "rule has no `sql`",
                )
                .with_help("add \"sql\": \"SELECT ... FROM 'topic/filter'\""),
            );
            return None;
        };
        let Value::StringLit(sql) = &prop.value else {
            self.wrong_type(prop, "a string holding the SQL statement");
            return None;
        };
        let sql_text = sql.value.to_string();
        if sql_text.trim().is_empty() {
            self.push(
                Diagnostic::error(Code::RuleInvalidField, Span::new(sql.range.start, sql.range.end), "`sql` is empty")
                    .with_label("no statement")
                    .with_help("write the rule's statement, such as \"SELECT * FROM 'topic/#'\""),
            );
            return None;
        }
        let checked = check_sql(&sql_text, sql_version);
        self.embed(text, Span::new(sql.range.start, sql.range.end), &sql_text, checked.diagnostics);
        Some(RuleFile {
            name,
            sql: sql_text,
            sql_version,
            disabled,
            statement: checked.statement,
            actions,
            error_action,
        })
    }

    /// Moves diagnostics about the decoded text of the JSON string at `literal` (the SQL, a
    /// template) to their places in the file, through the string's escapes.
    fn embed(&mut self, text: &str, literal: Span, decoded: &str, diagnostics: impl IntoIterator<Item = Diagnostic>) {
        let raw = text.get(literal.start..literal.end).unwrap_or_default();
        let offsets = decoded_offsets(raw).filter(|(found, _)| found == decoded).map(|(_, offsets)| offsets);
        for diagnostic in diagnostics {
            let mapped = diagnostic.map_spans(|span| match &offsets {
                Some(offsets) => match (offsets.get(span.start), offsets.get(span.end)) {
                    (Some(start), Some(end)) => Span::new(literal.start + start, literal.start + end),
                    _ => literal,
                },
                None => literal,
            });
            self.push(mapped);
        }
    }

    fn rule_name(&mut self, payload: &Object<'_>) -> Option<String> {
        let prop = payload.get("ruleName")?;
        let Value::StringLit(name) = &prop.value else {
            self.wrong_type(prop, "a string");
            return None;
        };
        let valid =
            (1..=128).contains(&name.value.len()) && name.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if name.value.is_empty() {
            self.push(
                Diagnostic::error(
                    Code::RuleInvalidName,
                    Span::new(name.range.start, name.range.end),
                    "rule name is empty",
                )
                .with_label("empty")
                .with_help("a rule name is 1 to 128 letters, digits and underscores"),
            );
        } else if !valid {
            self.push(
                Diagnostic::error(
                    Code::RuleInvalidName,
                    Span::new(name.range.start, name.range.end),
                    format!("`{}` is not a valid rule name", name.value),
                )
                .with_help("a rule name is 1 to 128 letters, digits and underscores"),
            );
        }
        Some(name.value.to_string())
    }

    fn sql_version(&mut self, payload: &Object<'_>) -> SqlVersion {
        // A misspelt field is already an error; read its value rather than piling a wrong
        // version on top of it.
        let misspelt = || {
            payload.properties.iter().find(|prop| {
                prop.name.as_str() != "awsIotSqlVersion"
                    && did_you_mean(prop.name.as_str(), ["awsIotSqlVersion"]) == Some("awsIotSqlVersion")
            })
        };
        let Some(prop) = payload.get("awsIotSqlVersion").or_else(misspelt) else {
            self.push(
                Diagnostic::warning(
                    Code::RuleMissingSqlVersion,
                    prop_name_span(payload).unwrap_or_default(),
                    "rule does not set `awsIotSqlVersion`",
                )
                .with_label("checked as 2015-10-08")
                .with_help("AWS runs such a rule as SQL version 2015-10-08; add \"awsIotSqlVersion\": \"2016-03-23\""),
            );
            return DEFAULT_FILE_SQL_VERSION;
        };
        let Value::StringLit(version) = &prop.value else {
            self.wrong_type(prop, "a string");
            return DEFAULT_FILE_SQL_VERSION;
        };
        version.value.parse().unwrap_or_else(|_| {
            self.push(
                Diagnostic::error(
                    Code::RuleInvalidSqlVersion,
                    Span::new(version.range.start, version.range.end),
                    format!("unknown SQL version `{}`", version.value),
                )
                .with_help("use 2016-03-23 (recommended), 2015-10-08 or beta"),
            );
            DEFAULT_FILE_SQL_VERSION
        })
    }

    fn actions(&mut self, text: &str, version: SqlVersion, payload: &Object<'_>) -> Vec<ActionSpec> {
        let mut specs = Vec::new();
        let Some(prop) = payload.get("actions") else {
            self.push(
                Diagnostic::error(
                    Code::RuleInvalidField,
                    Span::new(payload.range.start, payload.range.start + 1),
                    "rule has no `actions`",
                )
                .with_help("AWS requires the list, even empty: add \"actions\": []"),
            );
            return specs;
        };
        let Value::Array(actions) = &prop.value else {
            self.wrong_type(prop, "an array of actions");
            return specs;
        };
        if let (Some(extra), Some(last)) = (actions.elements.get(MAX_ACTIONS), actions.elements.last()) {
            let span = Span::new(range_of(extra).start, range_of(last).end);
            self.push(
                Diagnostic::error(
                    Code::RuleTooManyActions,
                    span,
                    format!("rule has {} actions", actions.elements.len()),
                )
                .with_label(format!("past the limit of {MAX_ACTIONS}"))
                .with_help(format!("AWS allows at most {MAX_ACTIONS} actions per rule; split the rule in two")),
            );
        }
        for element in &actions.elements {
            match element {
                Value::Object(action) => specs.extend(self.action(text, version, action)),
                other => self.push(
                    Diagnostic::error(
                        Code::RuleUnknownAction,
                        range_of(other),
                        "an action is an object naming one action type",
                    )
                    .with_help("write {\"republish\": {\"topic\": \"out/topic\", \"roleArn\": \"...\"}}"),
                ),
            }
        }
        specs
    }

    /// Checks one action object; returns it when it names one known action type.
    fn action(&mut self, text: &str, version: SqlVersion, action: &Object<'_>) -> Option<ActionSpec> {
        let span = Span::new(action.range.start, action.range.end);
        match action.properties.as_slice() {
            [] => self.push(
                Diagnostic::error(Code::RuleUnknownAction, span, "action names no action type")
                    .with_help(format!("use one of: {}", ACTION_TYPES.join(", "))),
            ),
            [single] => {
                let kind = single.name.as_str();
                if !ACTION_TYPES.contains(&kind) {
                    self.error_with(Code::RuleUnknownAction, || {
                        let help = match did_you_mean(kind, ACTION_TYPES.iter().copied()) {
                            Some(candidate) => format!("did you mean `{candidate}`?"),
                            None => format!("use one of: {}", ACTION_TYPES.join(", ")),
                        };
                        Diagnostic::error(
                            Code::RuleUnknownAction,
                            name_span(single),
                            format!("unknown action type `{kind}`"),
                        )
                        .with_help(help)
                    });
                } else if !matches!(single.value, Value::Object(_)) {
                    self.wrong_type(single, "an object with the action's parameters");
                } else {
                    return Some(self.action_spec(text, version, action, single));
                }
            }
            [_, second, ..] => self.push(
                Diagnostic::error(
                    Code::RuleUnknownAction,
                    name_span(second),
                    "one action object names more than one action type",
                )
                .with_help("put each action in its own object in the `actions` list"),
            ),
        }
        None
    }

    fn unknown_fields(&mut self, object: &Object<'_>, known: &[&str]) {
        self.unknown_names(object, known, Code::RuleInvalidField, "field");
    }

    /// Reports every property of `object` not in `known`; `noun` is what the properties are.
    fn unknown_names(&mut self, object: &Object<'_>, known: &[&str], code: Code, noun: &str) {
        for prop in &object.properties {
            let name = prop.name.as_str();
            if known.contains(&name) {
                continue;
            }
            self.error_with(code, || {
                let help = match did_you_mean(name, known.iter().copied()) {
                    Some(candidate) => format!("did you mean `{candidate}`?"),
                    None => format!("the known {noun}s are {}", known.join(", ")),
                };
                Diagnostic::error(code, name_span(prop), format!("unknown {noun} `{name}`")).with_help(help)
            });
        }
    }

    fn wrong_type(&mut self, prop: &ObjectProp<'_>, expected: &str) {
        self.wrong_type_as(Code::RuleInvalidField, prop, expected);
    }

    fn wrong_type_as(&mut self, code: Code, prop: &ObjectProp<'_>, expected: &str) {
        self.push(
            Diagnostic::error(code, range_of(&prop.value), format!("`{}` must be {expected}", prop.name.as_str()))
                .with_label("wrong type")
                .with_help(format!("write `{}` as {expected}", prop.name.as_str())),
        );
    }
}

/// The byte range of a JSON value.
pub fn range_of(value: &Value<'_>) -> Span {
    let range = match value {
        Value::StringLit(node) => node.range,
        Value::NumberLit(node) => node.range,
        Value::BooleanLit(node) => node.range,
        Value::Object(node) => node.range,
        Value::Array(node) => node.range,
        Value::NullKeyword(node) => node.range,
    };
    Span::new(range.start, range.end)
}

/// The byte range of a JSON member's name.
pub fn name_span(prop: &ObjectProp<'_>) -> Span {
    let range = match &prop.name {
        jsonc_parser::ast::ObjectPropName::String(name) => name.range,
        jsonc_parser::ast::ObjectPropName::Word(name) => name.range,
    };
    Span::new(range.start, range.end)
}

fn prop_name_span(object: &Object<'_>) -> Option<Span> {
    object.get("sql").or_else(|| object.properties.first()).map(name_span)
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// Decodes a JSON string literal (quotes included) and records, for every byte offset of the
/// decoded text, the offset in the literal it came from; the final entry maps the end.
fn decoded_offsets(raw: &str) -> Option<(String, Vec<usize>)> {
    let body = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut decoded = String::with_capacity(body.len());
    let mut offsets = Vec::with_capacity(body.len() + 1);
    let mut chars = body.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let source = at + 1;
        let value = if c == '\\' {
            let (_, escape) = chars.next()?;
            match escape {
                '"' | '\\' | '/' => escape,
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => {
                    let high = hex4(&mut chars)?;
                    if (0xD800..0xDC00).contains(&high) {
                        let (_, backslash) = chars.next()?;
                        let (_, u) = chars.next()?;
                        if backslash != '\\' || u != 'u' {
                            return None;
                        }
                        let low = hex4(&mut chars)?;
                        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low.checked_sub(0xDC00)?))?
                    } else {
                        char::from_u32(high)?
                    }
                }
                _ => return None,
            }
        } else {
            c
        };
        offsets.extend(std::iter::repeat_n(source, value.len_utf8()));
        decoded.push(value);
    }
    offsets.push(raw.len() - 1);
    Some((decoded, offsets))
}

fn hex4(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<u32> {
    let mut value = 0;
    for _ in 0..4 {
        let (_, digit) = chars.next()?;
        value = value * 16 + digit.to_digit(16)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_sql_maps_both_ways() {
        let text = r#"{"rule": {"sql": "SELECT \"é\" FROM 't'", "awsIotSqlVersion": "2016-03-23"}}"#;
        let embedded = embedded_sql(text).unwrap();
        assert_eq!(embedded.sql, "SELECT \"é\" FROM 't'");
        assert_eq!(embedded.version, SqlVersion::V2016_03_23);
        let from = embedded.sql.find("FROM").unwrap();
        let in_file = embedded.to_file(from);
        assert_eq!(text.get(in_file..in_file + 4), Some("FROM"));
        assert_eq!(embedded.to_sql(in_file), Some(from));
        assert_eq!(embedded.to_sql(embedded.literal.start), None);
    }

    #[test]
    fn offsets_follow_escapes() {
        let raw = r#""a\"b\u00e9c\ud83d\ude00d""#;
        let (decoded, offsets) = decoded_offsets(raw).unwrap_or_default();
        assert_eq!(decoded, "a\"béc😀d");
        let d = decoded.find('d').unwrap_or_default();
        assert_eq!(&raw[offsets[d]..offsets[d] + 1], "d");
        let c = decoded.find('c').unwrap_or_default();
        assert_eq!(&raw[offsets[c]..offsets[c] + 1], "c");
        assert_eq!(offsets[decoded.len()], raw.len() - 1);
    }

    /// `aws iot create-topic-rule --cli-input-json file://rule.json`: the name beside the
    /// payload; the payload's fields are checked as in the other shapes, and diagnostics in
    /// its SQL land inside the nested string.
    #[test]
    fn cli_input_json_files_are_rules() {
        let text = r#"{"ruleName": "alerts", "topicRulePayload": {"sql": "SELECT uper(a) AS b FROM 't'",
            "awsIotSqlVersion": "2016-03-23", "actions": [], "ruleDisabled": false}, "tags": "team=iot"}"#;
        let report = check_rule_file(text);
        let codes: Vec<Code> = report.diagnostics.iter().map(|diagnostic| diagnostic.code).collect();
        assert_eq!(codes, [Code::UnknownFunction], "{:?}", report.diagnostics);
        let span = report.diagnostics[0].span();
        assert_eq!(&text[span.start..span.end], "uper");
        let rule = report.rule.unwrap();
        assert_eq!((rule.name.as_deref(), rule.sql_version), (Some("alerts"), SqlVersion::V2016_03_23));
        assert_eq!(embedded_sql(text).map(|embedded| embedded.sql), Some("SELECT uper(a) AS b FROM 't'".to_owned()));

        let wrong = r#"{"ruleName": "bad-name", "topicRulePayload": {"sql": "SELECT a FROM 't'", "actions": [], "extra": 1}, "other": 2}"#;
        let codes: Vec<Code> = check_rule_file(wrong).diagnostics.iter().map(|diagnostic| diagnostic.code).collect();
        assert!(codes.contains(&Code::RuleInvalidName), "{codes:?}");
        assert_eq!(codes.iter().filter(|code| **code == Code::RuleInvalidField).count(), 2, "{codes:?}");
    }

    #[test]
    fn actions_are_exposed_with_their_parameters() {
        let text = r#"{"sql": "SELECT * FROM 't/#'", "awsIotSqlVersion": "2016-03-23", "actions": [
            {"republish": {"topic": "$$aws/x/${topic(2)}", "qos": 1, "roleArn": "r",
                           "headers": {"userProperties": [{"key": "k", "value": "${clientid()}"}]}}},
            {"http": {"url": "https://e.com/in", "headers": [{"key": "x-a", "value": "b"}]}},
            {"lambda": {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}}],
            "errorAction": {"republish": {"topic": "errors", "roleArn": "r"}}}"#;
        let report = check_rule_file(text);
        assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
        let rule = report.rule.unwrap();
        let kinds: Vec<&str> = rule.actions.iter().map(|action| action.kind.as_str()).collect();
        assert_eq!(kinds, ["republish", "http", "lambda"]);
        let [republish, http, lambda] = rule.actions.as_slice() else { panic!("{:?}", rule.actions) };
        assert_eq!(&text[republish.kind_span.start..republish.kind_span.end], "\"republish\"");
        assert_eq!(republish.parameters["qos"], serde_json::json!(1));
        let Some(Action::Republish(read)) = &republish.action else { panic!("{:?}", rule.actions) };
        assert_eq!((read.qos, read.topic_text.as_str()), (1, "$$aws/x/${topic(2)}"));
        assert_eq!(read.headers.user_properties.len(), 1);
        let Some(Action::Http(read)) = &http.action else { panic!("{:?}", rule.actions) };
        assert_eq!(read.headers.first().map(|(key, _)| key.as_str()), Some("x-a"));
        assert!(lambda.action.is_none());
        assert_eq!(lambda.parameters["functionArn"], "arn:aws:lambda:us-east-1:123456789012:function:f");
        assert_eq!(rule.error_action.map(|action| action.kind), Some("republish".to_owned()));
    }

    #[test]
    fn sql_diagnostics_land_inside_the_string() {
        let text = "{\n  \"sql\": \"SELECT \\\"x\\\" AS a, nosuch(1) FROM 't'\",\n  \"awsIotSqlVersion\": \"2016-03-23\",\n  \"actions\": []\n}";
        let report = check_rule_file(text);
        let unknown = report.diagnostics.iter().find(|d| d.code == Code::UnknownFunction);
        let span = unknown.map(Diagnostic::span).unwrap_or_default();
        assert_eq!(&text[span.start..span.end], "nosuch");
    }
}
