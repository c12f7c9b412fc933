//! `iotrules export`: an IoT SQL file and its actions as the TopicRulePayload AWS takes
//! (`aws iot create-topic-rule --topic-rule-payload file://...`), or as the whole
//! `--cli-input-json` document. The result is checked as a rule file before it is printed, so
//! what is exported is what `iotrules check` accepts.
//!
//! The document is JSON in either `--format`: human output is the document too, so that
//! `iotrules export ... > rule.json` writes the file AWS takes. With `--format json` a failure
//! is JSON as well.

use std::path::Path;
use std::process::ExitCode;

use iotrules_compiler::rule_file::check_rule_file;
use serde_json::{Map, Value, json};

use crate::cli::ExportArgs;
use crate::inputs::{self, Contents};
use crate::report::{self, InputReport};

pub(crate) fn run(args: &ExportArgs) -> ExitCode {
    let format = args.format;
    let usage_error = |message: &str| format.usage_error(message);
    let sql = match inputs::read(&args.sql) {
        Ok(Contents::Text { text, .. }) => text,
        Ok(Contents::NotUtf8 { .. }) => return usage_error(&format!("`{}` is not UTF-8", args.sql.display())),
        Err(error) => return usage_error(&format!("cannot read `{}`: {error}", args.sql.display())),
    };
    let actions = match args.actions.as_deref().map(|path| json_file(path, "an array of actions")).transpose() {
        Ok(Some(Value::Array(actions))) => actions,
        Ok(Some(_)) => return usage_error("--actions: the file must hold a JSON array of actions"),
        Ok(None) => Vec::new(),
        Err(message) => return usage_error(&message),
    };
    let error_action = match args.error_action.as_deref().map(|path| json_file(path, "one action")).transpose() {
        Ok(action @ (None | Some(Value::Object(_)))) => action,
        Ok(Some(_)) => return usage_error("--error-action: the file must hold one JSON action object"),
        Err(message) => return usage_error(&message),
    };
    let mut payload = Map::new();
    payload.insert("sql".to_owned(), Value::String(sql.trim_end().to_owned()));
    payload.insert("awsIotSqlVersion".to_owned(), Value::String(args.sql_version.to_string()));
    if let Some(description) = &args.description {
        payload.insert("description".to_owned(), Value::String(description.clone()));
    }
    payload.insert("ruleDisabled".to_owned(), Value::Bool(args.disabled));
    payload.insert("actions".to_owned(), Value::Array(actions));
    if let Some(action) = error_action {
        payload.insert("errorAction".to_owned(), action);
    }
    let document = match &args.cli_input_json {
        Some(name) => json!({"ruleName": name, "topicRulePayload": payload}),
        None => Value::Object(payload),
    };
    let mut text = match serde_json::to_string_pretty(&document) {
        Ok(text) => text,
        Err(error) => return usage_error(&format!("cannot write the payload: {error}")),
    };
    text.push('\n');
    // Checked as the file it will be: diagnostics point into the exported text.
    let checked = check_rule_file(&text);
    let report = InputReport {
        name: format!("{} (exported)", args.sql.display()),
        source: text.clone(),
        offset: 0,
        diagnostics: checked.diagnostics.clone(),
        description: "rule file".to_owned(),
    };
    const NOTHING_EXPORTED: &str = "the rule has errors; nothing was exported";
    if checked.has_errors() && format.is_json() {
        return format.invalid(NOTHING_EXPORTED, [&report]);
    }
    if !report.diagnostics.is_empty() {
        eprint!("{}", report::render(&report));
    }
    if checked.has_errors() {
        return format.error(1, NOTHING_EXPORTED, None);
    }
    print!("{text}");
    ExitCode::SUCCESS
}

fn json_file(path: &Path, what: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| {
        format!(
            "`{}` should hold {what} as JSON; at line {}, column {}: {}",
            path.display(),
            error.line(),
            error.column(),
            match error.classify() {
                serde_json::error::Category::Eof => "the text ends too early",
                serde_json::error::Category::Syntax => "this is not valid JSON",
                serde_json::error::Category::Data | serde_json::error::Category::Io => "unreadable",
            }
        )
    })
}
