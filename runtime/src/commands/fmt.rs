//! `iotrules fmt`: rewrites IoT SQL files in the one layout the formatter prints, or with
//! `--check` lists the files it would change. The language server formats with the same code.
//!
//! Rule (`.json`) files are left as written: their SQL is a JSON string, and reflowing it
//! would turn a one-line value into escaped newlines. Such a file named on the command line is
//! reported as skipped.

use std::process::ExitCode;

use iotrules_compiler::file_kind::FileKind;
use iotrules_compiler::format_sql;

use crate::cli::FmtArgs;
use crate::commands::check::{no_inputs, usage_error};
use crate::inputs::{self, BOM, Contents};

pub(crate) fn run(args: &FmtArgs) -> ExitCode {
    // Rule and policy files are found too, so that naming one is not an error; they are
    // left as written, with a note when they were named.
    let files = match inputs::find(&args.paths, &[FileKind::Statement, FileKind::TopicRule, FileKind::Policy]) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => return no_inputs(&args.paths, "`iotrules fmt` formats `.sql` and `.iotsql` statements"),
        Err(message) => return usage_error(&message),
    };
    let mut failed = false;
    for path in &files {
        let name = inputs::display_name(path);
        if path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("json")) {
            if args.paths.contains(path) {
                eprintln!("skipped `{name}`: rule and policy files are left as written");
            }
            continue;
        }
        let (text, bom) = match inputs::read(path) {
            Ok(Contents::Text { text, bom }) => (text, bom),
            Ok(Contents::NotUtf8 { .. }) => return usage_error(&format!("`{name}` is not UTF-8")),
            Err(error) => return usage_error(&format!("cannot read `{name}`: {error}")),
        };
        let Some(formatted) = format_sql(&text) else {
            eprintln!("error: `{name}` has syntax errors and was not formatted; `iotrules check {name}` shows them");
            failed = true;
            continue;
        };
        if inputs::is_stdin(path) && !args.check && !args.diff {
            // Standard input is formatted to standard output, as editors pipe it.
            print!("{formatted}");
            continue;
        }
        if formatted == text {
            continue;
        }
        if args.diff {
            let diff = similar::TextDiff::from_lines(&text, &formatted);
            let shown = inputs::display_name(path);
            print!("{}", diff.unified_diff().context_radius(3).header(&shown, &shown));
            failed = true;
        } else if args.check {
            eprintln!("would reformat `{name}`");
            failed = true;
        } else if let Err(error) = std::fs::write(path, if bom { format!("{BOM}{formatted}") } else { formatted }) {
            return usage_error(&format!("cannot write `{name}`: {error}"));
        } else {
            eprintln!("formatted `{name}`");
        }
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
