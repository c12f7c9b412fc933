//! `iotrules eval`: one rule, one message; prints the published payload.
//!
//! Contract (shared/conformance): the payload bytes and a newline on standard output when the
//! rule fires, nothing when it does not, exit 0 either way; exit 1 with diagnostics on
//! standard error for an invalid statement; exit 2 on a usage error.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use iotrules_compiler::check::functions::{self, Determinism};
use iotrules_compiler::eval::{self, Environment, EvalError, Message, MqttProperties, Outcome, Rule, Value};
use iotrules_compiler::format::format_expr;
use iotrules_compiler::jit::Unsupported;
use iotrules_compiler::ruleset::{RuleSet, SetRule};
use iotrules_compiler::syntax::ast::{Expr, ExprKind, Select, SelectItem};

use crate::cli::{Engine, EvalArgs};
use crate::commands::check::usage_error;
use crate::logging::escaped;
use crate::report::JsonError;
use crate::{inputs, report, rules};

pub(crate) fn run(args: &EvalArgs) -> ExitCode {
    let loaded = match (&args.sql, &args.rule) {
        (Some(sql), _) => rules::from_sql("--sql", sql.clone(), args.sql_version),
        (None, Some(path)) => match inputs::read(path) {
            Ok(contents) => rules::from_file(path, contents, args.sql_version),
            Err(error) => return usage_error(&format!("cannot read `{}`: {error}", path.display())),
        },
        (None, None) => return usage_error("give the rule with --sql or --rule"),
    };
    let payload = match payload(args) {
        Ok(payload) => payload,
        Err(message) => return usage_error(&message),
    };
    let stubs = match parse_stubs(&args.stub) {
        Ok(stubs) => stubs,
        Err(message) => return usage_error(&message),
    };
    let user_properties = match args.user_property.iter().map(|pair| split_pair(pair, "--user-property")).collect() {
        Ok(pairs) => pairs,
        Err(message) => return usage_error(&message),
    };

    if loaded.has_errors() {
        eprint!("{}", report::render(&loaded.report));
        return ExitCode::from(1);
    }
    let Some(statement) = &loaded.statement else { return ExitCode::from(1) };
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
    note_binary(&payload);
    let (outcome, interpreted) = run_on(args.engine, &rule, &env, &message);
    if args.explain {
        eprint!("{}", explain(&rule, &loaded.sql, &env, &message, &outcome));
    }
    if let Some(unsupported) = interpreted {
        note_interpreted(&loaded, &unsupported);
    }
    match outcome {
        Ok(Outcome::Fired(bytes)) => {
            let mut stdout = std::io::stdout().lock();
            let written = stdout.write_all(&bytes).and_then(|()| stdout.write_all(b"\n")).and_then(|()| stdout.flush());
            if written.is_err() { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
        Ok(Outcome::NotMatched | Outcome::Filtered) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}\n  help: {}", error.help());
            ExitCode::from(1)
        }
    }
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

/// Tells on standard error that the rule ran on the interpreter, pointing at the construct
/// when the statement's spans point into the input (SQL text, not a rule file's JSON).
fn note_interpreted(loaded: &rules::LoadedRule, unsupported: &Unsupported) {
    let diagnostic = unsupported.diagnostic();
    if loaded.spans_in_source {
        let report = report::InputReport {
            name: loaded.report.name.clone(),
            source: loaded.report.source.clone(),
            offset: loaded.report.offset,
            diagnostics: vec![diagnostic],
            description: String::new(),
        };
        eprint!("{}", report::render(&report));
    } else {
        eprintln!("{}: {}", diagnostic.code, diagnostic.message);
    }
}

/// Says on standard error that a text payload that is not JSON was evaluated as binary, as AWS
/// IoT evaluates it, and where it stops being JSON: `SELECT *` on a mistyped JSON payload
/// otherwise prints a result that looks like a wrong answer.
fn note_binary(payload: &[u8]) {
    if payload.is_empty() || eval::json::parse(payload).is_some() {
        return;
    }
    let Ok(text) = std::str::from_utf8(payload) else { return };
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
    eprintln!("note: the payload is not JSON{place}; it was evaluated as a binary payload, as AWS IoT does");
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

/// Why `rule` fired on `message` or not, for `--explain`: the topic against FROM, the WHERE
/// clause's value, and the SELECT items that were Undefined. Evaluated again with the
/// reference interpreter, item by item.
fn explain(
    rule: &Rule<'_>,
    sql: &str,
    env: &Environment,
    message: &Message<'_>,
    outcome: &Result<Outcome, EvalError>,
) -> String {
    let statement = rule.statement;
    let filter = match statement.from.as_ref().map(|from| &from.kind) {
        Some(ExprKind::String(filter)) => filter.value.clone(),
        _ => String::new(),
    };
    let mut out = String::from("explain:\n");
    let verdict = match outcome {
        Ok(Outcome::Fired(_)) => "the rule fired",
        Ok(Outcome::Filtered) => "the rule did not fire: the WHERE clause was not true",
        Ok(Outcome::NotMatched) => "the rule did not fire: the topic does not match FROM",
        Err(_) => "the rule was not evaluated (the error below)",
    };
    let matched = !matches!(outcome, Ok(Outcome::NotMatched));
    out.push_str(&format!(
        "  topic `{}` {} FROM '{}'\n",
        escaped(message.topic),
        if matched { "matches" } else { "does not match" },
        escaped(&filter)
    ));
    let Ok(payload) = eval::read_payload(env, message) else {
        out.push_str(&format!("  {verdict}\n"));
        return out;
    };
    let shown = |value: &Value| match value {
        Value::Undefined => "Undefined".to_owned(),
        Value::Null => "null".to_owned(),
        Value::Binary(bytes) => format!("a binary value of {} bytes", bytes.len()),
        value => format!("{} ({})", value.to_text_in(rule.version).unwrap_or_default(), value.type_name()),
    };
    // Items and WHERE are evaluated on their own, which SET variables would not survive.
    let alone = statement.set.is_empty();
    if matched && let Some(condition) = &statement.where_clause {
        let text = written(condition, sql);
        if alone {
            match eval::evaluate_expr(condition, rule.version, env, message, &payload) {
                Ok(value) => out.push_str(&format!("  WHERE {text} is {}\n", escaped(&shown(&value)))),
                Err(error) => out.push_str(&format!("  WHERE {text}: {error}\n")),
            }
        } else {
            out.push_str(&format!("  WHERE {text} (not shown: it reads SET variables)\n"));
        }
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
                out.push_str(&format!("  SELECT item {} is Undefined: left out of the output\n", written(expr, sql)));
            }
        }
    }
    out.push_str(&format!("  {verdict}\n"));
    out
}

/// An expression as the formatter writes it, quoted, cut when long, control characters
/// escaped.
fn written(expr: &Expr, sql: &str) -> String {
    /// The longest expression quoted in full.
    const LONGEST: usize = 120;
    let text = format_expr(expr, sql).unwrap_or_else(|| "(the expression)".to_owned());
    let text = escaped(&text);
    match text.char_indices().nth(LONGEST) {
        Some((cut, _)) => format!("`{}...`", &text[..cut]),
        None => format!("`{text}`"),
    }
}
