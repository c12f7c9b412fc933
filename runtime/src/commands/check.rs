//! `iotrules check`: parse and check statements and rule files without running them.

use std::path::Path;
use std::process::ExitCode;

use iotrules_compiler::rule_file::check_rule_file;
use iotrules_compiler::{Code, Diagnostic, Severity, Span, SqlVersion, check_sql};

use crate::cli::{CheckArgs, Format};
use crate::inputs::{self, Contents};
use crate::report::{self, InputReport};

pub(crate) fn run(args: &CheckArgs) -> ExitCode {
    let mut reports = Vec::new();
    if let Some(sql) = &args.sql {
        reports.push(check_statement("--sql", sql.clone(), args.sql_version));
    }
    let files = match inputs::expand(&args.paths) {
        Ok(files) => files,
        Err(error) => return usage_error(&format!("cannot list the inputs: {error}")),
    };
    if !args.paths.is_empty() && files.is_empty() {
        return usage_error("no .sql or .json files found in the given directories");
    }
    for path in &files {
        match inputs::read(path) {
            Ok(contents) => reports.push(check_file(path, contents, args.sql_version)),
            Err(error) => return usage_error(&format!("cannot read `{}`: {error}", path.display())),
        }
    }

    match args.format {
        Format::Human => report::human(&reports),
        Format::Json => report::json(&reports),
    }
    let diagnostics = || reports.iter().flat_map(|report| &report.diagnostics);
    let failed = diagnostics().any(Diagnostic::is_error)
        || (args.deny_warnings && diagnostics().any(|d| d.severity == Severity::Warning));
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn check_statement(name: &str, source: String, version: SqlVersion) -> InputReport {
    let checked = check_sql(&source, version);
    InputReport {
        name: name.to_owned(),
        source,
        diagnostics: checked.diagnostics,
        description: format!("SQL {version}"),
    }
}

fn check_file(path: &Path, contents: Contents, version: SqlVersion) -> InputReport {
    let name = path.display().to_string();
    let source = match contents {
        Contents::Text(text) => text,
        Contents::NotUtf8 { valid_up_to, text } => {
            let diagnostic = Diagnostic::error(
                Code::InvalidUtf8,
                Span::new(valid_up_to, valid_up_to + 1),
                "file is not valid UTF-8",
            )
            .with_label("first invalid byte")
            .with_help("save the file as UTF-8");
            return InputReport {
                name,
                source: text,
                diagnostics: vec![diagnostic],
                description: "unreadable".to_owned(),
            };
        }
    };
    if is_json(path, &source) {
        let report = check_rule_file(&source);
        let description = match &report.rule {
            Some(rule) => {
                let name = rule.name.as_deref().map(|name| format!("rule {name}, ")).unwrap_or_default();
                let disabled = if rule.disabled { ", disabled" } else { "" };
                format!("{name}SQL {}{disabled}", rule.sql_version)
            }
            None => "rule file".to_owned(),
        };
        InputReport { name, source, diagnostics: report.diagnostics, description }
    } else {
        let mut report = check_statement(&name, source, version);
        report.name = name;
        report
    }
}

/// `.json` files, and files of other extensions that start with `{`, are rule files.
fn is_json(path: &Path, source: &str) -> bool {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("json") => true,
        Some("sql") => false,
        _ => source.trim_start().starts_with('{'),
    }
}
