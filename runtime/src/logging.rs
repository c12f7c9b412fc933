//! Structured logs on standard error for the long-running commands, filtered by
//! `IOTRULES_LOG` (tracing's `EnvFilter` syntax, such as `debug` or `iotrules=trace`), as text
//! or, with `--format json` or `IOTRULES_LOG_FORMAT=json`, as one JSON object a line.
//!
//! Log lines carry text from the network (topics, payload excerpts, broker messages), so in
//! the text format every control character of every field is escaped: a newline in a topic
//! cannot forge a second log line and an ANSI escape cannot reach a terminal. The JSON format
//! escapes them by JSON's own rules.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::field::Field;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::Writer;

use crate::cli::Format;
use crate::report::{InputReport, Lines, render};

/// iotrules' own progress; only problems from the libraries (Cranelift logs every function
/// it compiles at `info`). The embedded broker (rmqtt and its plugins, whose targets all start
/// with `rmqtt`) reports a client that breaks off or sends a bad packet as a warning: that is
/// the client's problem, not the user's, so only its errors show.
const DEFAULT: &str = "warn,iotrules=info,rmqtt=error";

/// Set once [`init`] has chosen JSON log lines.
static JSON: AtomicBool = AtomicBool::new(false);

pub(crate) fn init(format: Format) {
    let filter = EnvFilter::try_from_env("IOTRULES_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT));
    let json = format.is_json() || std::env::var("IOTRULES_LOG_FORMAT").is_ok_and(|format| format == "json");
    JSON.store(json, Ordering::Relaxed);
    // Colours only for a terminal: a log file or a collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // Already set (a second call) is harmless: the first subscriber stays.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.fmt_fields(tracing_subscriber::fmt::format::debug_fn(escaped_field).delimited(" ")).try_init()
    };
}

/// Whether log lines are JSON, so that what else goes to standard error is JSON too.
pub(crate) fn is_json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// What a long-running command tells the console besides its logs (where it listens, what it
/// runs, its totals when it stops): as it is on standard error for people, or one log event a
/// line with JSON logs, so that standard error holds only JSON.
pub(crate) fn console(text: &str) {
    if is_json() {
        for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
            tracing::info!("{line}");
        }
    } else {
        eprintln!("{}", text.trim_end_matches('\n'));
    }
}

/// Diagnostics on standard error: rendered with their snippets, or with JSON logs one log event
/// each (`file`, `line`, `column`, `code` and the message).
pub(crate) fn diagnostics<'a>(reports: impl IntoIterator<Item = &'a InputReport>) {
    for report in reports {
        if !is_json() {
            eprint!("{}", render(report));
            continue;
        }
        let lines = Lines::new(&report.source);
        for diagnostic in &report.diagnostics {
            let (line, column) = lines.line_column(diagnostic.span().start);
            let (file, code, message) = (&report.name, diagnostic.code.as_str(), &diagnostic.message);
            if diagnostic.is_error() {
                tracing::error!(file, line, column, code, "{message}");
            } else {
                tracing::warn!(file, line, column, code, "{message}");
            }
        }
    }
}

/// Writes one field as `name=value` (the message as its bare text), control characters escaped.
fn escaped_field(writer: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
    if field.name() != "message" {
        write!(writer, "{}=", field.name())?;
    }
    let mut text = String::new();
    write!(text, "{value:?}")?;
    write_escaped(writer, &text)
}

/// [`write_escaped`] into a string: text from inputs, fit for a terminal.
pub(crate) fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let _ = write_escaped(&mut out, text);
    out
}

/// `text` with every control character (C0, DEL, C1) and Unicode line or paragraph separator
/// written as an escape, everything else as it is.
fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    for character in text.chars() {
        match character {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            '\u{2028}' | '\u{2029}' => write!(out, "\\u{{{:x}}}", u32::from(character))?,
            control if control.is_control() => write!(out, "\\u{{{:x}}}", u32::from(control))?,
            other => out.write_char(other)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::field::MakeExt;

    use super::{escaped_field, write_escaped};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_hostile_field_cannot_forge_a_line_or_colour_a_terminal() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .fmt_fields(tracing_subscriber::fmt::format::debug_fn(escaped_field).delimited(" "))
            .finish();
        let topic = "a\n2026-01-01T00:00:00Z  INFO iotrules: forged\u{1b}[31m\u{9b}\u{2028}";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(topic, shown = %topic, "message \u{7}with {}", "a\r\nbreak");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains(['\u{1b}', '\u{9b}', '\u{7}', '\r', '\u{2028}']), "{text:?}");
        assert!(text.contains(r#"topic="a\n2026"#) && text.contains(r"\u{1b}[31m"), "{text}");
        assert!(text.contains(r"message \u{7}with a\r\nbreak"), "{text}");
        assert!(
            text.contains(r"shown=a\n2026-01-01T00:00:00Z  INFO iotrules: forged\u{1b}[31m\u{9b}\u{2028}"),
            "{text}"
        );
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        let mut out = String::new();
        write_escaped(&mut out, "sensors/boiler-7/telemetry é 😀").unwrap();
        assert_eq!(out, "sensors/boiler-7/telemetry é 😀");
    }
}
