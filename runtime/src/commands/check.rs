//! `iotrules check`: parse and check statements, rule files and policy documents without
//! running them. A JSON file is a policy or a rule file according to its content.

use std::path::PathBuf;
use std::process::ExitCode;

use iotrules_compiler::file_kind::FileKind;
use iotrules_compiler::{Diagnostic, Severity, SqlVersion};

use crate::cli::{CheckArgs, CheckFormat, Format};
use crate::commands::watch;
use crate::inputs::Contents;
use crate::{config, inputs, policies, registry, report, rules};

pub(crate) fn run(args: &CheckArgs) -> ExitCode {
    if args.watch {
        let mut watched = args.paths.clone();
        watched.extend(args.registry.clone());
        return watch::rerun(&watched, || once(args));
    }
    once(args)
}

fn once(args: &CheckArgs) -> ExitCode {
    let usage_error = |message: &str| args.format.failures().usage_error(message);
    let config = match config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(message) => return usage_error(&message),
    };
    let sql_version = args
        .sql_version
        .or_else(|| config.as_ref().and_then(|config| config.sql_version))
        .unwrap_or(SqlVersion::V2016_03_23);
    let mut reports = Vec::new();
    if let Some(sql) = &args.sql {
        reports.push(rules::from_sql("--sql", sql.clone(), sql_version).report);
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
        return no_inputs(
            args.format.failures(),
            &args.paths,
            "`iotrules check` reads `.sql` and `.iotsql` statements, rule files and policy documents",
        );
    }
    for input in files {
        let path = &input.path;
        match (input.kind, input.contents) {
            (Some(FileKind::Policy), Ok(Contents::Text { text, bom })) => {
                reports.push(policies::from_text(path, text, bom).report)
            }
            (_, Ok(contents)) => reports.push(rules::from_file(path, contents, sql_version).report),
            (_, Err(error)) => return usage_error(&format!("cannot read `{}`: {error}", path.display())),
        }
    }

    if let Some(config) = &config {
        for report in &mut reports {
            let ignores = config.ignores_in(std::path::Path::new(&report.name));
            report.diagnostics.retain(|diagnostic| !ignores(diagnostic.code));
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

/// What `check`, `fmt` and `test` answer alike when the paths hold nothing they read: a usage
/// error naming the paths, and what the command reads.
pub(crate) fn no_inputs(format: Format, paths: &[PathBuf], reads: &str) -> ExitCode {
    let names: Vec<String> = paths.iter().map(|path| format!("`{}`", path.display())).collect();
    format.error(2, &format!("no inputs found in {}", names.join(", ")), Some(reads))
}

impl CheckFormat {
    /// How failures are printed: as JSON for `--format json`; every other format is a report
    /// of diagnostics, and failures without diagnostics are said to people.
    pub(crate) fn failures(self) -> Format {
        if self == CheckFormat::Json { Format::Json } else { Format::Human }
    }
}
