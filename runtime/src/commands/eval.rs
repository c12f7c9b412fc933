//! `iotrules eval`: one rule, one message; prints the published payload.
//!
//! Contract (shared/conformance): the payload bytes and a newline on standard output when the
//! rule fires, nothing when it does not, exit 0 either way; exit 1 with diagnostics on
//! standard error for an invalid statement; exit 2 on a usage error. `--format json` prints
//! one document instead (the outcome, the payload, `--explain` as fields), and failures as JSON
//! on standard output with the same exit codes.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use iotrules_compiler::SqlVersion;
use iotrules_compiler::check::functions::{self, Determinism};
use iotrules_compiler::eval::value::write_json;
use iotrules_compiler::eval::{self, Environment, EvalError, Message, MqttProperties, Outcome, Rule, Value};
use iotrules_compiler::format::format_expr;
use iotrules_compiler::jit::Unsupported;
use iotrules_compiler::ruleset::{RuleSet, SetRule};
use iotrules_compiler::syntax::ast::{Expr, ExprKind, Select, SelectItem};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::cli::{Engine, EvalArgs, Format};
use crate::logging::escaped;
use crate::report::{JsonDiagnostic, JsonError, output};
use crate::{inputs, report, rules};

/// What `eval --format json` prints when the rule was evaluated.
#[derive(Serialize)]
struct EvalResult<'a> {
    /// `fired`, `filtered` (the WHERE clause was not true) or `not_matched` (the topic does
    /// not match FROM).
    outcome: &'static str,
    fired: bool,
    /// The published payload, when it is JSON, as the rule wrote it.
    output: Option<Box<RawValue>>,
    /// The published payload, base64-encoded, when it is not JSON.
    output_base64: Option<String>,
    /// What human mode says on standard error about the payload.
    notes: Vec<String>,
    explain: Option<Explanation>,
    /// The rule's warnings, and why it ran on the interpreter if the JIT did not compile it.
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

pub(crate) fn run(args: &EvalArgs) -> ExitCode {
    let format = args.format;
    let loaded = match (&args.sql, &args.rule) {
        (Some(sql), _) => rules::from_sql("--sql", sql.clone(), args.sql_version),
        (None, Some(path)) => match inputs::read(path) {
            Ok(contents) => rules::from_file(path, contents, args.sql_version),
            Err(error) => return format.usage_error(&format!("cannot read `{}`: {error}", path.display())),
        },
        (None, None) => return format.usage_error("give the rule with --sql or --rule"),
    };
    let payload = match payload(args) {
        Ok(payload) => payload,
        Err(message) => return format.usage_error(&message),
    };
    let stubs = match parse_stubs(&args.stub) {
        Ok(stubs) => stubs,
        Err(message) => return format.usage_error(&message),
    };
    let user_properties = match args.user_property.iter().map(|pair| split_pair(pair, "--user-property")).collect() {
        Ok(pairs) => pairs,
        Err(message) => return format.usage_error(&message),
    };

    let Some(statement) = loaded.statement.as_ref().filter(|_| !loaded.has_errors()) else {
        return format.invalid("the rule has errors", [&loaded.report]);
    };
    let name = args.rule_name.as_deref().or(loaded.name.as_deref());
    let rule = Rule { statement, version: loaded.version, name };
    let env = Environment { stubs, max_payload: args.max_payload, ..Environment::default() };
    let properties = MqttProperties {
        content_type: args.content_type.clone(),
        response_topic: args.response_topic.clone(),
        correlation_data: args.correlation_data.clone().map(String::into_bytes),
        user_properties,
        ..MqttProperties::default()
    };
    // Any MQTT 5 property makes the message an MQTT 5 one.
    let is_mqtt5 = properties != MqttProperties::default();
    let message = Message {
        topic: &args.topic,
        payload: &payload,
        client_id: args.client_id.as_deref(),
        principal: args.principal.as_deref(),
        source_ip: args.source_ip.as_deref(),
        trace_id: None,
        timestamp_ms: args.timestamp.unwrap_or_else(now_ms),
        properties: is_mqtt5.then_some(&properties),
    };
    let note = binary_note(&payload);
    let (outcome, interpreted) = run_on(args.engine, &rule, &env, &message);
    let explanation = args.explain.then(|| explain(&rule, &loaded.sql, &env, &message, &outcome));
    let interpreted = interpreted.map(|unsupported| interpreted_report(&loaded, &unsupported));
    if format.is_json() {
        return json_result(&loaded, outcome, note, explanation, interpreted.as_ref());
    }
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    if let Some(explanation) = &explanation {
        eprint!("{}", explanation.human());
    }
    if let Some(report) = &interpreted {
        eprint!("{}", report.human());
    }
    match outcome {
        Ok(Outcome::Fired(bytes)) => {
            let mut stdout = std::io::stdout().lock();
            let written = stdout.write_all(&bytes).and_then(|()| stdout.write_all(b"\n")).and_then(|()| stdout.flush());
            if written.is_err() { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
        Ok(Outcome::NotMatched | Outcome::Filtered) => ExitCode::SUCCESS,
        Err(error) => format.error(1, &error.to_string(), Some(&error.help())),
    }
}

fn json_result(
    loaded: &rules::LoadedRule,
    outcome: Result<Outcome, EvalError>,
    note: Option<String>,
    explain: Option<Explanation>,
    interpreted: Option<&Interpreted>,
) -> ExitCode {
    let (name, outcome) = match outcome {
        Ok(Outcome::Fired(bytes)) => ("fired", Some(bytes)),
        Ok(Outcome::Filtered) => ("filtered", None),
        Ok(Outcome::NotMatched) => ("not_matched", None),
        Err(error) => return Format::Json.error(1, &error.to_string(), Some(&error.help())),
    };
    let output = outcome.as_ref().and_then(|bytes| RawValue::from_string(String::from_utf8(bytes.clone()).ok()?).ok());
    let output_base64 = match (&outcome, &output) {
        (Some(bytes), None) => Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        _ => None,
    };
    let mut reports = vec![&loaded.report];
    reports.extend(interpreted.map(|interpreted| &interpreted.report));
    let result = EvalResult {
        outcome: name,
        fired: outcome.is_some(),
        output,
        output_base64,
        notes: note.into_iter().collect(),
        explain,
        diagnostics: report::json_diagnostics(reports),
    };
    if output::document(&result) { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// Evaluates one rule on `engine`: the interpreter directly, or a one-rule set on the JIT.
/// With the JIT, also says why the rule runs on the interpreter, if it does.
pub(crate) fn run_on(
    engine: Engine,
    rule: &Rule<'_>,
    env: &Environment,
    message: &Message<'_>,
) -> (Result<Outcome, EvalError>, Option<Unsupported>) {
    match engine {
        Engine::Interp => (eval::evaluate(rule, env, message), None),
        Engine::Jit => {
            let set_rule = SetRule {
                name: rule.name.unwrap_or_default().to_owned(),
                statement: rule.statement.clone(),
                version: rule.version,
            };
            let set = RuleSet::with_engine(vec![set_rule], engine.ruleset());
            let interpreted = set.interpreted().first().map(|(_, unsupported)| (*unsupported).clone());
            let outcome = set
                .evaluate(env, message)
                .map(|outcomes| outcomes.into_iter().next().map_or(Outcome::NotMatched, |(_, outcome)| outcome));
            (outcome, interpreted)
        }
    }
}

/// That the rule ran on the interpreter, as a diagnostic pointing at the construct.
struct Interpreted {
    report: report::InputReport,
    /// The statement's spans point into `report.source`, which is the input as read (SQL
    /// text, not a rule file's JSON, whose statement is a decoded string).
    in_source: bool,
}

impl Interpreted {
    fn human(&self) -> String {
        if self.in_source {
            return report::render(&self.report);
        }
        self.report
            .diagnostics
            .iter()
            .map(|diagnostic| format!("{}: {}\n", diagnostic.code, diagnostic.message))
            .collect()
    }
}

/// Why the rule runs on the interpreter. For a rule file the diagnostic's positions are in its
/// decoded statement, named `FILE (sql)`.
fn interpreted_report(loaded: &rules::LoadedRule, unsupported: &Unsupported) -> Interpreted {
    let (name, source) = if loaded.spans_in_source {
        (loaded.report.name.clone(), loaded.report.source.clone())
    } else {
        (format!("{} (sql)", loaded.report.name), loaded.sql.clone())
    };
    let offset = if loaded.spans_in_source { loaded.report.offset } else { 0 };
    Interpreted {
        report: report::InputReport {
            name,
            source,
            offset,
            diagnostics: vec![unsupported.diagnostic()],
            description: String::new(),
        },
        in_source: loaded.spans_in_source,
    }
}

/// That a text payload that is not JSON was evaluated as binary, as AWS IoT evaluates it, and
/// where it stops being JSON: `SELECT *` on a mistyped JSON payload otherwise prints a result
/// that looks like a wrong answer.
fn binary_note(payload: &[u8]) -> Option<String> {
    if payload.is_empty() || eval::json::parse(payload).is_some() {
        return None;
    }
    let text = std::str::from_utf8(payload).ok()?;
    // serde_json, which says where text stops being JSON, reads 128 levels; AWS IoT reads more.
    let depth = nesting(text);
    let place = if depth > eval::json::MAX_DEPTH {
        format!(" (it nests more than {} levels deep)", eval::json::MAX_DEPTH)
    } else if depth > 128 {
        String::new()
    } else {
        match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Err(error) => {
                let error = JsonError::of(&error);
                format!(" at line {}, column {}: {}", error.line, error.column, error.problem)
            }
            Ok(_) => String::new(),
        }
    };
    Some(format!("the payload is not JSON{place}; it was evaluated as a binary payload, as AWS IoT does"))
}

/// The deepest nesting of arrays and objects in JSON-like text, brackets in strings not counted.
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for byte in text.bytes() {
        match (in_string, byte) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (true, b'"') | (false, b'"') => in_string = !in_string,
            (false, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn payload(args: &EvalArgs) -> Result<Vec<u8>, String> {
    if let Some(text) = &args.payload {
        return Ok(text.clone().into_bytes());
    }
    if let Some(encoded) = &args.payload_base64 {
        return base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|error| format!("--payload-base64 is not base64: {error}"));
    }
    if let Some(path) = &args.payload_file {
        return std::fs::read(path).map_err(|error| format!("cannot read `{}`: {error}", path.display()));
    }
    Err("give the payload with --payload, --payload-base64 or --payload-file".to_owned())
}

/// `NAME=JSON` pairs for functions that call other AWS services.
pub(crate) fn parse_stubs(pairs: &[String]) -> Result<HashMap<String, Value>, String> {
    let mut stubs = HashMap::new();
    for pair in pairs {
        let (name, json) = split_pair(pair, "--stub")?;
        let function = functions::lookup(&name)
            .filter(|function| function.determinism == Determinism::External || function.name == "decode")
            .ok_or_else(|| format!("--stub `{name}`: not a function that calls another AWS service (aws_lambda, get_dynamodb, get_thing_shadow, get_secret, get_registry_data, machinelearning_predict, or decode for protobuf)"))?;
        let value = eval::json::parse(json.as_bytes()).ok_or_else(|| format!("--stub {name}: not JSON"))?;
        stubs.insert(function.name.to_owned(), value);
    }
    Ok(stubs)
}

fn split_pair(pair: &str, flag: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{flag} takes KEY=VALUE, not `{pair}`"))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

/// Why a rule fired on a message or not, for `--explain`.
#[derive(Serialize)]
struct Explanation {
    topic: String,
    /// FROM's topic filter.
    from: String,
    topic_matches: bool,
    /// The WHERE clause, when the topic matched and the statement has one.
    #[serde(rename = "where")]
    where_clause: Option<WhereExplained>,
    /// The SELECT items that were Undefined, so left out of the output, as the formatter
    /// writes them.
    undefined_items: Vec<String>,
    verdict: &'static str,
}

#[derive(Serialize)]
struct WhereExplained {
    /// As the formatter writes it.
    expression: String,
    /// False when the clause reads SET variables: it is not evaluated on its own then.
    evaluated: bool,
    /// The value as JSON, `null` for SQL's null and for values JSON has no form of
    /// (Undefined, binary); `type` tells them apart.
    value: Option<Box<RawValue>>,
    #[serde(rename = "type")]
    value_type: Option<&'static str>,
    /// Why the clause could not be evaluated.
    error: Option<String>,
    /// How human mode shows the value.
    #[serde(skip)]
    shown: String,
}

impl Explanation {
    fn human(&self) -> String {
        let mut out = String::from("explain:\n");
        out.push_str(&format!(
            "  topic `{}` {} FROM '{}'\n",
            escaped(&self.topic),
            if self.topic_matches { "matches" } else { "does not match" },
            escaped(&self.from)
        ));
        if let Some(clause) = &self.where_clause {
            let text = quoted(&clause.expression);
            match &clause.error {
                _ if !clause.evaluated => {
                    out.push_str(&format!("  WHERE {text} (not shown: it reads SET variables)\n"))
                }
                Some(error) => out.push_str(&format!("  WHERE {text}: {error}\n")),
                None => out.push_str(&format!("  WHERE {text} is {}\n", escaped(&clause.shown))),
            }
        }
        for item in &self.undefined_items {
            out.push_str(&format!("  SELECT item {} is Undefined: left out of the output\n", quoted(item)));
        }
        out.push_str(&format!("  {}\n", self.verdict));
        out
    }
}

/// Why `rule` fired on `message` or not: the topic against FROM, the WHERE clause's value, and
/// the SELECT items that were Undefined. Evaluated again with the reference interpreter, item
/// by item.
fn explain(
    rule: &Rule<'_>,
    sql: &str,
    env: &Environment,
    message: &Message<'_>,
    outcome: &Result<Outcome, EvalError>,
) -> Explanation {
    let statement = rule.statement;
    let filter = match statement.from.as_ref().map(|from| &from.kind) {
        Some(ExprKind::String(filter)) => filter.value.clone(),
        _ => String::new(),
    };
    let verdict = match outcome {
        Ok(Outcome::Fired(_)) => "the rule fired",
        Ok(Outcome::Filtered) => "the rule did not fire: the WHERE clause was not true",
        Ok(Outcome::NotMatched) => "the rule did not fire: the topic does not match FROM",
        Err(_) => "the rule was not evaluated (the error below)",
    };
    let matched = !matches!(outcome, Ok(Outcome::NotMatched));
    let mut explanation = Explanation {
        topic: message.topic.to_owned(),
        from: filter,
        topic_matches: matched,
        where_clause: None,
        undefined_items: Vec::new(),
        verdict,
    };
    let Ok(payload) = eval::read_payload(env, message) else { return explanation };
    // Items and WHERE are evaluated on their own, which SET variables would not survive.
    let alone = statement.set.is_empty();
    if matched && let Some(condition) = &statement.where_clause {
        let mut clause = WhereExplained {
            expression: written(condition, sql),
            evaluated: alone,
            value: None,
            value_type: None,
            error: None,
            shown: String::new(),
        };
        if alone {
            match eval::evaluate_expr(condition, rule.version, env, message, &payload) {
                Ok(value) => {
                    clause.shown = shown(&value, rule.version);
                    clause.value = as_json(&value, rule.version);
                    clause.value_type = Some(value.type_name());
                }
                Err(error) => clause.error = Some(error.to_string()),
            }
        }
        explanation.where_clause = Some(clause);
    }
    if matched
        && alone
        && let Select::Items(items) = &statement.select
    {
        for item in items {
            let SelectItem::Expr { expr, .. } = item else { continue };
            if matches!(expr.kind, ExprKind::Payload) {
                continue;
            }
            if let Ok(Value::Undefined) = eval::evaluate_expr(expr, rule.version, env, message, &payload) {
                explanation.undefined_items.push(written(expr, sql));
            }
        }
    }
    explanation
}

/// A value as `--explain` says it to people.
fn shown(value: &Value, version: SqlVersion) -> String {
    match value {
        Value::Undefined => "Undefined".to_owned(),
        Value::Null => "null".to_owned(),
        Value::Binary(bytes) => format!("a binary value of {} bytes", bytes.len()),
        value => format!("{} ({})", value.to_text_in(version).unwrap_or_default(), value.type_name()),
    }
}

/// A value as JSON, as a rule would publish it; `None` for values JSON has no form of.
fn as_json(value: &Value, version: SqlVersion) -> Option<Box<RawValue>> {
    let mut text = String::new();
    if !write_json(&mut text, value, version.has_2016_features()) {
        return None;
    }
    RawValue::from_string(text).ok()
}

/// An expression as the formatter writes it.
fn written(expr: &Expr, sql: &str) -> String {
    format_expr(expr, sql).unwrap_or_else(|| "(the expression)".to_owned())
}

/// An expression's text for people: quoted, cut when long, control characters escaped.
fn quoted(text: &str) -> String {
    /// The longest expression quoted in full.
    const LONGEST: usize = 120;
    let text = escaped(text);
    match text.char_indices().nth(LONGEST) {
        Some((cut, _)) => format!("`{}...`", &text[..cut]),
        None => format!("`{text}`"),
    }
}
