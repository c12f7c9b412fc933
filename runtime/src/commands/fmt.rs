//! `iotrules fmt`: rewrites IoT SQL files in the one layout the formatter prints, or with
//! `--check` lists the files it would change. The language server formats with the same code.
//!
//! Rule (`.json`) files are left as written: their SQL is a JSON string, and reflowing it
//! would turn a one-line value into escaped newlines. Such a file named on the command line is
//! reported as skipped.

use std::process::ExitCode;

use iotrules_compiler::file_kind::FileKind;
use iotrules_compiler::format_sql;
use iotrules_compiler::syntax::parse;
use serde::Serialize;

use crate::cli::FmtArgs;
use crate::commands::check::no_inputs;
use crate::inputs::{self, BOM, Contents};
use crate::report::{self, InputReport, output};

/// What `fmt --format json` prints.
#[derive(Serialize)]
struct FmtResult<'a> {
    files: Vec<FmtFile>,
    /// The syntax errors of the files that were not formatted.
    diagnostics: Vec<report::JsonDiagnostic<'a>>,
    summary: FmtSummary,
}

#[derive(Serialize)]
struct FmtFile {
    file: String,
    /// `unchanged`, `formatted` (rewritten), `would_reformat` (with `--check` or `--diff`),
    /// `not_formatted` (syntax errors, in `diagnostics`) or `skipped` (a rule or policy file).
    status: &'static str,
    /// With `--diff`: the unified diff of a file that would change.
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
    /// Standard input, formatted.
    #[serde(skip_serializing_if = "Option::is_none")]
    formatted: Option<String>,
}

#[derive(Default, Serialize)]
struct FmtSummary {
    files: usize,
    /// Formatted, or would be.
    changed: usize,
    unchanged: usize,
    not_formatted: usize,
    skipped: usize,
}

pub(crate) fn run(args: &FmtArgs) -> ExitCode {
    let format = args.format;
    // Rule and policy files are found too, so that naming one is not an error; they are
    // left as written, with a note when they were named.
    let files = match inputs::find(&args.paths, &[FileKind::Statement, FileKind::TopicRule, FileKind::Policy]) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => return no_inputs(format, &args.paths, "`iotrules fmt` formats `.sql` and `.iotsql` statements"),
        Err(message) => return format.usage_error(&message),
    };
    let mut failed = false;
    let mut listed = Vec::new();
    let mut invalid = Vec::new();
    for input in files {
        let path = &input.path;
        let name = inputs::display_name(path);
        let mut file = FmtFile { file: name.clone(), status: "unchanged", diff: None, formatted: None };
        if matches!(input.kind, Some(FileKind::TopicRule | FileKind::Policy)) {
            if args.paths.contains(path) {
                if !format.is_json() {
                    eprintln!("skipped `{name}`: rule and policy files are left as written");
                }
                listed.push(FmtFile { status: "skipped", ..file });
            }
            continue;
        }
        let (text, bom) = match input.contents {
            Ok(Contents::Text { text, bom }) => (text, bom),
            Ok(Contents::NotUtf8 { .. }) => return format.usage_error(&format!("`{name}` is not UTF-8")),
            Err(error) => return format.usage_error(&format!("cannot read `{name}`: {error}")),
        };
        let Some(formatted) = format_sql(&text) else {
            if !format.is_json() {
                eprintln!(
                    "error: `{name}` has syntax errors and was not formatted; `iotrules check {name}` shows them"
                );
            }
            failed = true;
            let diagnostics = parse(&text).diagnostics.into_iter().filter(|d| d.is_error()).collect();
            invalid.push(InputReport {
                name,
                source: text,
                offset: inputs::bom_len(bom),
                diagnostics,
                description: String::new(),
            });
            listed.push(FmtFile { status: "not_formatted", ..file });
            continue;
        };
        if inputs::is_stdin(path) && !args.check && !args.diff {
            // Standard input is formatted to standard output, as editors pipe it.
            if format.is_json() {
                file.status = if formatted == text { "unchanged" } else { "formatted" };
                file.formatted = Some(formatted);
            } else {
                print!("{formatted}");
            }
            listed.push(file);
            continue;
        }
        if formatted == text {
            listed.push(file);
            continue;
        }
        if args.diff {
            let diff = similar::TextDiff::from_lines(&text, &formatted);
            let diff = diff.unified_diff().context_radius(3).header(&name, &name).to_string();
            if format.is_json() {
                file.diff = Some(diff);
            } else {
                print!("{diff}");
            }
            file.status = "would_reformat";
            failed = true;
        } else if args.check {
            if !format.is_json() {
                eprintln!("would reformat `{name}`");
            }
            file.status = "would_reformat";
            failed = true;
        } else if let Err(error) = std::fs::write(path, if bom { format!("{BOM}{formatted}") } else { formatted }) {
            return format.usage_error(&format!("cannot write `{name}`: {error}"));
        } else {
            if !format.is_json() {
                eprintln!("formatted `{name}`");
            }
            file.status = "formatted";
        }
        listed.push(file);
    }
    let code = if failed { ExitCode::from(1) } else { ExitCode::SUCCESS };
    if !format.is_json() {
        return code;
    }
    let mut summary = FmtSummary { files: listed.len(), ..FmtSummary::default() };
    for file in &listed {
        match file.status {
            "formatted" | "would_reformat" => summary.changed += 1,
            "not_formatted" => summary.not_formatted += 1,
            "skipped" => summary.skipped += 1,
            _ => summary.unchanged += 1,
        }
    }
    let result = FmtResult { files: listed, diagnostics: report::json_diagnostics(&invalid), summary };
    if output::document(&result) { code } else { ExitCode::from(1) }
}
