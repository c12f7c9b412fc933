//! `iotrules check`: parse and check statements, rule files and policy documents without
//! running them. A JSON file is a policy or a rule file according to its content.

use std::process::ExitCode;

use iotrules_compiler::file_kind::FileKind;
use iotrules_compiler::policy::is_policy_document;
use iotrules_compiler::{Diagnostic, Severity};

use crate::cli::{CheckArgs, CheckFormat};
use crate::inputs::Contents;
use crate::{inputs, policies, registry, report, rules};

pub(crate) fn run(args: &CheckArgs) -> ExitCode {
    let mut reports = Vec::new();
    if let Some(sql) = &args.sql {
        reports.push(rules::from_sql("--sql", sql.clone(), args.sql_version).report);
    }
    if let Some(dir) = &args.registry {
        match registry::load(dir) {
            Ok(loaded) => reports.extend(loaded.reports),
            Err(message) => return usage_error(&message),
        }
    }
    let files = match inputs::find(&args.paths, &[FileKind::Statement, FileKind::TopicRule, FileKind::Policy]) {
        Ok(files) => files,
        Err(message) => return usage_error(&message),
    };
    if !args.paths.is_empty() && files.is_empty() {
        return usage_error("no .sql or .json files found in the given directories");
    }
    for path in &files {
        match inputs::read(path) {
            Ok(Contents::Text { text, bom }) if is_policy_document(&text) => {
                reports.push(policies::from_text(path, text, bom).report)
            }
            Ok(contents) => reports.push(rules::from_file(path, contents, args.sql_version).report),
            Err(error) => return usage_error(&format!("cannot read `{}`: {error}", path.display())),
        }
    }

    match args.format {
        CheckFormat::Human => report::human(&reports),
        CheckFormat::Json => report::json(&reports),
        CheckFormat::Github => report::ci::github(&reports),
        CheckFormat::Sarif => report::ci::sarif(&reports),
        CheckFormat::Junit => report::ci::junit(&reports, args.deny_warnings),
    }
    let diagnostics = || reports.iter().flat_map(|report| &report.diagnostics);
    let failed = diagnostics().any(Diagnostic::is_error)
        || (args.deny_warnings && diagnostics().any(|d| d.severity == Severity::Warning));
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

pub(crate) fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
