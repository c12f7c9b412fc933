//! Prints diagnostics: rendered by miette for people, or as one JSON document for tools.

use std::io::{IsTerminal, Write};

use iotrules_compiler::{Diagnostic, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, NamedSource};
use serde::Serialize;

/// The diagnostics of one input, with the text their spans point into.
#[derive(Clone, Debug)]
pub(crate) struct InputReport {
    pub(crate) name: String,
    pub(crate) source: String,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// What the input turned out to be, for the human summary (`rule telemetry, SQL 2016-03-23`).
    pub(crate) description: String,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Totals {
    pub(crate) inputs: usize,
    pub(crate) errors: usize,
    pub(crate) warnings: usize,
}

impl Totals {
    pub(crate) fn of(reports: &[InputReport]) -> Totals {
        let count =
            |severity| reports.iter().flat_map(|report| &report.diagnostics).filter(|d| d.severity == severity).count();
        Totals { inputs: reports.len(), errors: count(Severity::Error), warnings: count(Severity::Warning) }
    }
}

/// Renders one input's diagnostics with their source snippets.
pub(crate) fn render(report: &InputReport) -> String {
    let colored = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if colored { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme);
    let mut out = String::new();
    for diagnostic in &report.diagnostics {
        let with_source = miette::Report::new(diagnostic.clone())
            .with_source_code(NamedSource::new(&report.name, report.source.clone()));
        // Rendering into a String cannot fail.
        let _ = handler.render_report(&mut out, with_source.as_ref());
        out.push('\n');
    }
    out
}

/// Renders every report to standard error, then a summary line.
pub(crate) fn human(reports: &[InputReport]) {
    let stderr = std::io::stderr();
    let mut out = String::new();
    for report in reports {
        out.push_str(&render(report));
        let verdict = verdict(&report.diagnostics);
        out.push_str(&format!("{verdict}: {} ({})\n", report.name, report.description));
    }
    let totals = Totals::of(reports);
    let noun = if totals.inputs == 1 { "input" } else { "inputs" };
    out.push_str(&format!(
        "checked {} {noun}: {} errors, {} warnings\n",
        totals.inputs, totals.errors, totals.warnings
    ));
    let _ = stderr.lock().write_all(out.as_bytes());
}

fn verdict(diagnostics: &[Diagnostic]) -> &'static str {
    if diagnostics.iter().any(Diagnostic::is_error) {
        "invalid"
    } else if diagnostics.iter().any(|d| d.severity == Severity::Warning) {
        "valid with warnings"
    } else {
        "valid"
    }
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    diagnostics: Vec<JsonDiagnostic<'a>>,
    summary: Totals,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    severity: &'static str,
    message: &'a str,
    help: Option<&'a str>,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    byte_range: [usize; 2],
    labels: Vec<JsonLabel<'a>>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    message: Option<&'a str>,
    line: usize,
    column: usize,
    byte_range: [usize; 2],
}

/// Writes every diagnostic as one JSON document on standard output.
pub(crate) fn json(reports: &[InputReport]) {
    let mut diagnostics = Vec::new();
    for report in reports {
        for diagnostic in &report.diagnostics {
            let span = diagnostic.span();
            let (line, column) = line_column(&report.source, span.start);
            let (end_line, end_column) = line_column(&report.source, span.end);
            let labels = diagnostic
                .labels
                .iter()
                .map(|label| {
                    let (line, column) = line_column(&report.source, label.span.start);
                    JsonLabel {
                        message: label.text.as_deref(),
                        line,
                        column,
                        byte_range: [label.span.start, label.span.end],
                    }
                })
                .collect();
            diagnostics.push(JsonDiagnostic {
                code: diagnostic.code.as_str(),
                severity: diagnostic.severity.as_str(),
                message: &diagnostic.message,
                help: diagnostic.help.as_deref(),
                file: &report.name,
                line,
                column,
                end_line,
                end_column,
                byte_range: [span.start, span.end],
                labels,
            });
        }
    }
    let output = JsonOutput { diagnostics, summary: Totals::of(reports) };
    let mut stdout = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut stdout, &output);
    let _ = stdout.write_all(b"\n");
}

/// 1-based line and column of a byte offset; columns count Unicode scalar values.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = source.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn lines_and_columns_are_one_based_in_characters() {
        let source = "ab\ncé😀d";
        assert_eq!(line_column(source, 0), (1, 1));
        assert_eq!(line_column(source, 3), (2, 1));
        assert_eq!(line_column(source, source.find('d').unwrap_or_default()), (2, 4));
        assert_eq!(line_column(source, 5), (2, 2));
        assert_eq!(line_column(source, 999), (2, 5));
    }
}
