//! How a command with `--format human|json` prints its result and its failures.
//!
//! In JSON a command writes its result as one document on standard output (JSON Lines when it
//! streams), and a failure as one document of its own, `{"error", "help", "diagnostics"}`,
//! whose diagnostics have the shape of `check --format json`'s. The exit code is the one the
//! human format gives, so a script reads the exit code and then standard output, never text
//! meant for people.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use super::{InputReport, JsonDiagnostic, json_diagnostics, render};
use crate::cli::Format;

/// A failure, as JSON documents write it.
#[derive(Serialize)]
struct Failure<'a> {
    error: &'a str,
    help: Option<&'a str>,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

impl Format {
    pub(crate) fn is_json(self) -> bool {
        self == Format::Json
    }

    /// A usage error (bad arguments, unreadable files): exit 2.
    pub(crate) fn usage_error(self, message: &str) -> ExitCode {
        self.error(2, message, None)
    }

    /// A failure said in words: `error: ...` and its help on standard error, or the failure
    /// document; exit `code`.
    pub(crate) fn error(self, code: u8, message: &str, help: Option<&str>) -> ExitCode {
        match self {
            Format::Human => match help {
                Some(help) => eprintln!("error: {message}\n  help: {help}"),
                None => eprintln!("error: {message}"),
            },
            Format::Json => {
                write_line(&Failure { error: message, help, diagnostics: Vec::new() }, false);
            }
        }
        ExitCode::from(code)
    }

    /// A failure its diagnostics explain: rendered on standard error (with nothing else: the
    /// diagnostics say it), or the failure document with `message` and the diagnostics; exit 1.
    pub(crate) fn invalid<'a>(self, message: &str, reports: impl IntoIterator<Item = &'a InputReport>) -> ExitCode {
        match self {
            Format::Human => {
                for report in reports {
                    eprint!("{}", render(report));
                }
            }
            Format::Json => {
                write_line(&Failure { error: message, help: None, diagnostics: json_diagnostics(reports) }, false);
            }
        }
        ExitCode::from(1)
    }
}

/// Writes one JSON document on standard output, indented; false when it cannot be written.
pub(crate) fn document(value: &impl Serialize) -> bool {
    write_line(value, true)
}

/// Writes one JSON Lines record on standard output, flushed at once for a reader following the
/// stream; false when it cannot be written.
pub(crate) fn line(value: &impl Serialize) -> bool {
    write_line(value, false)
}

fn write_line(value: &impl Serialize, pretty: bool) -> bool {
    let mut stdout = std::io::stdout().lock();
    let written = if pretty {
        serde_json::to_writer_pretty(&mut stdout, value)
    } else {
        serde_json::to_writer(&mut stdout, value)
    };
    written.is_ok() && stdout.write_all(b"\n").is_ok() && stdout.flush().is_ok()
}
