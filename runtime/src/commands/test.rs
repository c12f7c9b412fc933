//! `iotrules test`: runs rule tests so rules can be tested in CI.
//!
//! Two formats are read. A `.json` file is one test in the format of AWS's validation tool
//! for IoT rules (`sqlVersion`, `topic`, `inputPayload`, `inputSql`, `expectedOutput`); a JSON
//! array of such objects holds several. A `.jsonl` file holds one conformance case per line
//! (`id`, `sql`, `topic`, `payload` or `payload_base64`, `expect`, ...), the format of
//! iotrules' own conformance corpus.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use base64::Engine as _;
use iotrules_compiler::eval::{Environment, Message, Outcome, Rule};
use iotrules_compiler::file_kind::FileKind;
use iotrules_compiler::policy::check_policy;
use iotrules_compiler::policy::eval::{Context, Request, authorize};
use iotrules_compiler::{SqlVersion, check_sql};
use serde_json::Value as Json;

use crate::cli::{CheckFormat, Engine, TestArgs};
use crate::commands::check::no_inputs;
use crate::commands::eval::{parse_stubs, run_on};
use crate::commands::watch;
use crate::inputs::{self, Contents};
use crate::report::ci::{self, TestOutcome, TestResult};
use crate::report::{JsonError, count};

/// What a test expects of its rule.
#[derive(Debug)]
enum Expect {
    /// The rule fires and publishes this JSON value (numbers compare by value, keys unordered).
    Json(Json),
    /// The rule fires and publishes exactly these bytes.
    Bytes(Vec<u8>),
    /// The rule does not fire.
    Nothing,
    CompileError,
    CompileOk,
}

#[derive(Debug)]
struct TestCase {
    /// Where the test comes from: `file` or `file:line (id)`.
    name: String,
    sql: String,
    version: SqlVersion,
    topic: String,
    payload: Vec<u8>,
    rule_name: Option<String>,
    expect: Expect,
}

pub(crate) fn run(args: &TestArgs) -> ExitCode {
    if args.watch {
        return watch::rerun(&args.paths, || once(args));
    }
    once(args)
}

fn once(args: &TestArgs) -> ExitCode {
    let usage_error = |message: &str| args.format.failures().usage_error(message);
    let stubs = match parse_stubs(&args.stub) {
        Ok(stubs) => stubs,
        Err(message) => return usage_error(&message),
    };
    let files = match inputs::find(&args.paths, &[FileKind::Tests]) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            return no_inputs(
                args.format.failures(),
                &args.paths,
                "`iotrules test` reads AWS validation-tool `.json` tests and `.jsonl` cases",
            );
        }
        Err(message) => return usage_error(&message),
    };
    let env = Environment { stubs, ..Environment::default() };
    let mut results = Vec::new();
    for input in files {
        let path = &input.path;
        let text = match input.contents {
            Ok(Contents::Text { text, .. }) => text,
            Ok(Contents::NotUtf8 { .. }) => return usage_error(&format!("`{}` is not UTF-8", path.display())),
            Err(error) => return usage_error(&format!("cannot read `{}`: {error}", path.display())),
        };
        let file = path.display().to_string();
        let (cases, problems) = load(path, &text);
        for problem in problems {
            let name = problem.lines().next().unwrap_or_default().to_owned();
            results.push(TestResult { file: file.clone(), name, outcome: TestOutcome::Error(problem) });
        }
        for case in cases {
            let (name, result) = match case {
                Loaded::Skipped(name) => {
                    results.push(TestResult { file: file.clone(), name, outcome: TestOutcome::Skipped });
                    continue;
                }
                Loaded::Policy(case) => (case.name.clone(), run_policy_case(&case)),
                Loaded::Case(case) => {
                    let result = run_case(&case, &env, args.engine).map_err(|explanation| {
                        format!("  sql:   {}\n  topic: {}\n{explanation}", case.sql, case.topic)
                    });
                    (case.name, result)
                }
            };
            let outcome = match result {
                Ok(()) => TestOutcome::Passed,
                Err(detail) => TestOutcome::Failed(detail),
            };
            results.push(TestResult { file: file.clone(), name, outcome });
        }
    }
    let counted = |wanted: fn(&TestOutcome) -> bool| results.iter().filter(|result| wanted(&result.outcome)).count();
    let passed = counted(|outcome| matches!(outcome, TestOutcome::Passed));
    let failed = counted(|outcome| matches!(outcome, TestOutcome::Failed(_)));
    let skipped = counted(|outcome| matches!(outcome, TestOutcome::Skipped));
    let errors = counted(|outcome| matches!(outcome, TestOutcome::Error(_)));
    let exit = if failed > 0 || errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS };
    match args.format {
        CheckFormat::Human => {}
        CheckFormat::Json => {
            ci::test_json(&results);
            return exit;
        }
        CheckFormat::Github => {
            ci::test_github(&results);
            return exit;
        }
        CheckFormat::Sarif => {
            ci::test_sarif(&results);
            return exit;
        }
        CheckFormat::Junit => {
            ci::test_junit(&results);
            return exit;
        }
    }
    let mut summary = format!("{passed} passed, {failed} failed");
    if skipped > 0 {
        let _ = write!(summary, ", {skipped} skipped");
    }
    if errors > 0 {
        let _ = write!(summary, ", {}", count(errors, "error", "errors"));
    }
    let mut report = String::new();
    for result in &results {
        match &result.outcome {
            TestOutcome::Error(problem) => {
                let _ = writeln!(report, "ERROR {problem}\n");
            }
            TestOutcome::Failed(detail) => {
                let _ = writeln!(report, "FAIL {}\n{detail}", result.name);
            }
            TestOutcome::Passed | TestOutcome::Skipped => {}
        }
    }
    eprint!("{report}");
    eprintln!("{summary}");
    exit
}

enum Loaded {
    Case(TestCase),
    /// Requests with the decisions expected under policies.
    Policy(PolicyCase),
    /// A corpus case marked `doc_suspect`: a guide example that contradicts the guide itself;
    /// its name.
    Skipped(String),
}

/// The tests of one file, and a problem for each line or entry that is not a test; the
/// others still run.
fn load(path: &Path, text: &str) -> (Vec<Loaded>, Vec<String>) {
    let file = path.display().to_string();
    // Policy files a test names are found beside it.
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    if path.extension().and_then(|ext| ext.to_str()) == Some("jsonl") {
        for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
            let location = format!("{file}:{}", index + 1);
            match serde_json::from_str::<Json>(line)
                .map_err(|error| JsonError::of(&error).in_line())
                .and_then(|case| corpus_case(&location, &case, dir))
            {
                Ok(case) => cases.push(case),
                Err(problem) => problems.push(format!("{location}\n  {problem}")),
            }
        }
        return (cases, problems);
    }
    let document: Json = match serde_json::from_str(text) {
        Ok(document) => document,
        Err(error) => return (cases, vec![format!("{file}\n  {}", JsonError::of(&error))]),
    };
    let tests = match document {
        Json::Array(tests) => tests,
        test => vec![test],
    };
    for (index, test) in tests.iter().enumerate() {
        let name = if index == 0 { file.clone() } else { format!("{file}[{index}]") };
        let loaded = if test.get("policies").is_some() {
            policy_case(name.clone(), test, dir).map(Loaded::Policy)
        } else {
            validation_tool_case(&name, test).map(Loaded::Case)
        };
        match loaded {
            Ok(case) => cases.push(case),
            Err(problem) => problems.push(format!("{name}\n  {problem}")),
        }
    }
    (cases, problems)
}

/// A test in the format of AWS's validation tool for IoT rules.
fn validation_tool_case(name: &str, test: &Json) -> Result<TestCase, String> {
    let field = |key: &str| test.get(key).ok_or_else(|| format!("missing `{key}`"));
    let text = |key: &str| field(key)?.as_str().map(str::to_owned).ok_or_else(|| format!("`{key}` must be a string"));
    let version = match test.get("sqlVersion") {
        None => SqlVersion::V2016_03_23,
        Some(version) => version
            .as_str()
            .and_then(|version| version.parse().ok())
            .ok_or("`sqlVersion` must be 2015-10-08, 2016-03-23 or beta")?,
    };
    let payload = match field("inputPayload")? {
        Json::String(text) => text.clone().into_bytes(),
        value => serde_json::to_vec(value).map_err(|error| error.to_string())?,
    };
    let expect = match field("expectedOutput")? {
        Json::String(text) => match serde_json::from_str(text) {
            Ok(json) => Expect::Json(json),
            Err(_) => Expect::Bytes(text.clone().into_bytes()),
        },
        Json::Null => Expect::Nothing,
        value => Expect::Json(value.clone()),
    };
    Ok(TestCase {
        name: name.to_owned(),
        sql: text("inputSql")?,
        version,
        topic: text("topic")?,
        payload,
        rule_name: None,
        expect,
    })
}

/// A line of a conformance corpus.
fn corpus_case(location: &str, case: &Json, dir: &Path) -> Result<Loaded, String> {
    if case.get("doc_suspect") == Some(&Json::Bool(true))
        || case.get("kind").and_then(Json::as_str) == Some("iam-trust-policy")
    {
        let id = case.get("id").and_then(Json::as_str).unwrap_or_default();
        return Ok(Loaded::Skipped(format!("{location} ({id})")));
    }
    if case.get("policies").is_some() {
        let name = match case.get("id").and_then(Json::as_str) {
            Some(id) => format!("{location} ({id})"),
            None => location.to_owned(),
        };
        return policy_case(name, case, dir).map(Loaded::Policy);
    }
    let text = |key: &str| {
        case.get(key).and_then(Json::as_str).map(str::to_owned).ok_or_else(|| format!("missing string `{key}`"))
    };
    let name = match case.get("id").and_then(Json::as_str) {
        Some(id) => format!("{location} ({id})"),
        None => location.to_owned(),
    };
    let payload = match case.get("payload_base64").and_then(Json::as_str) {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|error| format!("`payload_base64`: {error}"))?,
        None => serde_json::to_vec(case.get("payload").unwrap_or(&Json::Object(serde_json::Map::new())))
            .map_err(|error| error.to_string())?,
    };
    let expect = match case.get("expect").ok_or("missing `expect`")? {
        Json::String(word) if word == "compile_error" => Expect::CompileError,
        Json::String(word) if word == "compile_ok" => Expect::CompileOk,
        Json::String(word) if word == "binary" => {
            let encoded = text("expect_base64")?;
            Expect::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|error| format!("`expect_base64`: {error}"))?,
            )
        }
        Json::Null => Expect::Nothing,
        // The exact text, where comparing numbers by value would hide the point (34-digit
        // Decimals, `5` against `5.0`).
        _ if case.get("expect_text").is_some() => Expect::Bytes(text("expect_text")?.into_bytes()),
        value => Expect::Json(value.clone()),
    };
    let version = match case.get("sql_version").and_then(Json::as_str) {
        Some(version) => version.parse().map_err(|_| format!("unknown `sql_version` {version}"))?,
        None => SqlVersion::V2016_03_23,
    };
    Ok(Loaded::Case(TestCase {
        name,
        sql: text("sql")?,
        version,
        topic: text("topic")?,
        payload,
        rule_name: case.get("rule_name").and_then(Json::as_str).map(str::to_owned),
        expect,
    }))
}

/// Requests with the decisions expected under policies: a line of the policy corpus, or a
/// `.json` file of the same shape.
struct PolicyCase {
    name: String,
    /// The documents' texts.
    policies: Vec<String>,
    context: Json,
    /// Action, resource and the decision expected (`ALLOWED`, `EXPLICIT_DENY`,
    /// `IMPLICIT_DENY`).
    requests: Vec<(String, String, String)>,
    /// The policies are expected to be refused (`expect_error`).
    expect_invalid: bool,
}

/// Reads a policy test. A policy is a document (an object, or its text), or `{"file": PATH}`
/// naming one relative to the test file.
fn policy_case(name: String, case: &Json, dir: &Path) -> Result<PolicyCase, String> {
    let listed = match case.get("policies") {
        Some(Json::Array(listed)) => listed.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    let mut policies = Vec::new();
    for policy in listed {
        let text = match &policy {
            Json::String(text) => text.clone(),
            Json::Object(members) if members.len() == 1 && members.contains_key("file") => {
                let file = members.get("file").and_then(Json::as_str).ok_or("`file` must be a path")?;
                let path = dir.join(file);
                std::fs::read_to_string(&path).map_err(|error| format!("cannot read `{}`: {error}", path.display()))?
            }
            document => serde_json::to_string_pretty(document).map_err(|error| error.to_string())?,
        };
        policies.push(text);
    }
    let mut requests = Vec::new();
    for request in case.get("requests").and_then(Json::as_array).into_iter().flatten() {
        let text = |key: &str| {
            request
                .get(key)
                .and_then(Json::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("a request needs a string `{key}`"))
        };
        let expect = text("expect")?;
        if !["ALLOWED", "EXPLICIT_DENY", "IMPLICIT_DENY"].contains(&expect.as_str()) {
            return Err(format!("`expect` is ALLOWED, EXPLICIT_DENY or IMPLICIT_DENY, not `{expect}`"));
        }
        requests.push((text("action")?, text("resource")?, expect));
    }
    let expect_invalid = case.get("expect_error").is_some();
    if requests.is_empty() && !expect_invalid {
        return Err("a policy test needs `requests` with expected decisions, or `expect_error`".to_owned());
    }
    let context = case.get("context").cloned().unwrap_or_else(|| Json::Object(serde_json::Map::new()));
    Ok(PolicyCase { name, policies, context, requests, expect_invalid })
}

fn run_policy_case(case: &PolicyCase) -> Result<(), String> {
    let mut documents = Vec::new();
    let mut invalid = Vec::new();
    for (index, text) in case.policies.iter().enumerate() {
        let checked = check_policy(text);
        let errors: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.is_error())
            .map(|diagnostic| format!("  policy {}: {}: {}", index + 1, diagnostic.code, diagnostic.message))
            .collect();
        match checked.policy {
            Some(policy) if errors.is_empty() => documents.push(policy),
            _ => invalid.extend(errors),
        }
    }
    if case.expect_invalid {
        return if invalid.is_empty() {
            Err("  expected a policy to be refused, but every one is valid\n".to_owned())
        } else {
            Ok(())
        };
    }
    if !invalid.is_empty() {
        return Err(format!("  a policy is invalid:\n{}\n", invalid.join("\n")));
    }
    let context = Context::from_json(&case.context).map_err(|error| format!("  the context: {error}\n"))?;
    let mut wrong = String::new();
    for (action, resource, expect) in &case.requests {
        let request = Request { action: action.clone(), resource: resource.clone() };
        let decided = authorize(&documents, &context, &request).decision.as_str();
        if decided != expect {
            let _ = writeln!(wrong, "  {action} on {resource}: expected {expect}, decided {decided}");
        }
    }
    if wrong.is_empty() { Ok(()) } else { Err(wrong) }
}

fn run_case(case: &TestCase, env: &Environment, engine: Engine) -> Result<(), String> {
    let checked = check_sql(&case.sql, case.version);
    let errors: Vec<String> =
        checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| format!("  {}: {}", d.code, d.message)).collect();
    match (&case.expect, errors.is_empty()) {
        (Expect::CompileError, false) | (Expect::CompileOk, true) => return Ok(()),
        (Expect::CompileError, true) => {
            return Err("  expected the statement to be rejected, but it is valid\n".to_owned());
        }
        (_, false) => return Err(format!("  the statement is invalid:\n{}\n", errors.join("\n"))),
        _ => {}
    }
    let Some(statement) = &checked.statement else { return Err("  the statement did not parse\n".to_owned()) };
    let rule = Rule { statement, version: case.version, name: case.rule_name.as_deref() };
    let message = Message {
        topic: &case.topic,
        payload: &case.payload,
        client_id: Some("iotrules-test"),
        timestamp_ms: 0,
        ..Message::default()
    };
    let outcome = run_on(engine, &rule, env, &message)
        .0
        .map_err(|error| format!("  error: {error}\n  help: {}\n", error.help()))?;
    match (&case.expect, outcome) {
        (Expect::Nothing, Outcome::NotMatched | Outcome::Filtered) => Ok(()),
        (Expect::Nothing, Outcome::Fired(bytes)) => Err(format!(
            "  expected the rule not to fire, but it published:\n    {}\n",
            String::from_utf8_lossy(&bytes)
        )),
        (_, Outcome::NotMatched) => Err("  expected output, but the topic does not match the FROM filter\n".to_owned()),
        (_, Outcome::Filtered) => Err("  expected output, but WHERE was not true\n".to_owned()),
        (Expect::Json(expected), Outcome::Fired(bytes)) => match serde_json::from_slice::<Json>(&bytes) {
            Ok(actual) if same(expected, &actual) => Ok(()),
            Ok(actual) => Err(diff(&pretty(expected), &pretty(&actual))),
            Err(_) => Err(diff(&pretty(expected), &String::from_utf8_lossy(&bytes))),
        },
        (Expect::Bytes(expected), Outcome::Fired(bytes)) if *expected == bytes => Ok(()),
        (Expect::Bytes(expected), Outcome::Fired(bytes)) => {
            Err(diff(&String::from_utf8_lossy(expected), &String::from_utf8_lossy(&bytes)))
        }
        (Expect::CompileError | Expect::CompileOk, _) => Ok(()),
    }
}

/// Numbers compare by value and object keys in any order, as the corpus asks.
fn same(expected: &Json, actual: &Json) -> bool {
    match (expected, actual) {
        (Json::Number(l), Json::Number(r)) => l.as_f64() == r.as_f64(),
        (Json::Array(l), Json::Array(r)) => l.len() == r.len() && l.iter().zip(r).all(|(l, r)| same(l, r)),
        (Json::Object(l), Json::Object(r)) => {
            l.len() == r.len() && l.iter().all(|(key, value)| r.get(key).is_some_and(|other| same(value, other)))
        }
        _ => expected == actual,
    }
}

/// Pretty JSON with sorted keys, so a diff shows only real differences.
fn pretty(value: &Json) -> String {
    fn sorted(value: &Json) -> Json {
        match value {
            Json::Object(object) => {
                let mut entries: Vec<(&String, &Json)> = object.iter().collect();
                entries.sort_by_key(|(key, _)| *key);
                Json::Object(entries.into_iter().map(|(key, value)| (key.clone(), sorted(value))).collect())
            }
            Json::Array(items) => Json::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string_pretty(&sorted(value)).unwrap_or_default()
}

fn diff(expected: &str, actual: &str) -> String {
    let mut out = String::from("  --- expected\n  +++ actual\n");
    for change in similar::TextDiff::from_lines(expected, actual).iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        let _ = write!(out, "  {sign} {}", change.value());
        if change.missing_newline() {
            out.push('\n');
        }
    }
    out
}
