//! Prints diagnostics: rendered by miette for people, or as one JSON document for tools.

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::panic::AssertUnwindSafe;
use std::sync::Once;

use iotrules_compiler::{Diagnostic, Severity, Span};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan,
    SpanContents,
};
use serde::Serialize;

pub(crate) mod ci;
pub(crate) mod output;

/// The diagnostics of one input, with the text their spans point into.
#[derive(Clone, Debug)]
pub(crate) struct InputReport {
    pub(crate) name: String,
    pub(crate) source: String,
    /// Bytes of the file before `source`: a byte order mark's three, or none. JSON byte
    /// ranges add them, so they are offsets into the file as it is on disk; lines and columns
    /// do not count the mark, as editors do not show it.
    pub(crate) offset: usize,
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

/// Renders one input's diagnostics with their source snippets. Never panics: a diagnostic
/// the graphical renderer cannot draw is written as one plain line instead.
pub(crate) fn render(report: &InputReport) -> String {
    let colored = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if colored { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme);
    let lines = Lines::new(&report.source);
    let mut out = String::new();
    for diagnostic in &report.diagnostics {
        let shown = Shown { diagnostic, source: Excerpt { name: &report.name, lines: &lines } };
        out.push_str(&guarded(
            |rendered| handler.render_report(rendered, &shown),
            || plain(&report.name, &lines, diagnostic),
        ));
        out.push('\n');
    }
    out
}

/// What `draw` writes, or when it fails or panics, what `fallback` gives. The panic is kept off
/// standard error: the fallback stands in for it.
fn guarded(draw: impl FnOnce(&mut String) -> std::fmt::Result, fallback: impl FnOnce() -> String) -> String {
    let mut rendered = String::new();
    match quietly(|| draw(&mut rendered)) {
        Ok(Ok(())) => rendered,
        Ok(Err(_)) | Err(_) => fallback(),
    }
}

thread_local! {
    /// Set while [`quietly`] runs on this thread.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, catching a panic without the panic hook printing it. Other threads, and this one
/// outside `f`, keep the hook that was installed before.
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|quiet| quiet.set(true));
    // The renderer writes only into a buffer that is dropped when it panics.
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(false));
    result
}

/// One diagnostic without its snippet: `file:line:column: severity[code]: message`, then
/// the help line.
fn plain(name: &str, lines: &Lines<'_>, diagnostic: &Diagnostic) -> String {
    let (line, column) = lines.line_column(diagnostic.span().start);
    let mut out = format!(
        "{name}:{line}:{column}: {}[{}]: {}\n",
        diagnostic.severity.as_str(),
        diagnostic.code,
        diagnostic.message
    );
    if let Some(help) = &diagnostic.help {
        out.push_str(&format!("  help: {help}\n"));
    }
    out
}

/// The longest label drawn, in bytes; a longer one is drawn over its start. Spans can cover
/// a whole statement.
const MAX_LABEL: usize = 160;

/// How much of a line is shown on either side of what a snippet points at, in bytes. A line
/// longer than that is cut, so the renderer never works with a column past a few hundred
/// (miette's graphical renderer panics past column 65,535) and a 10 MB one-line statement is
/// not printed once per diagnostic.
const LINE_CONTEXT: usize = 160;

/// A diagnostic as the graphical renderer sees it: labels cut to [`MAX_LABEL`], and the
/// source read through an [`Excerpt`].
#[derive(Debug)]
struct Shown<'a> {
    diagnostic: &'a Diagnostic,
    source: Excerpt<'a>,
}

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Shown<'_> {}

impl miette::Diagnostic for Shown<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        miette::Diagnostic::code(self.diagnostic)
    }

    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(self.diagnostic)
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        miette::Diagnostic::help(self.diagnostic)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let source = self.source.lines.source;
        Some(Box::new(self.diagnostic.labels.iter().enumerate().map(move |(index, label)| {
            let start = source.floor_char_boundary(label.span.start);
            let end = source.floor_char_boundary(label.span.end.min(start.saturating_add(MAX_LABEL))).max(start);
            let span = SourceSpan::new(start.into(), end - start);
            if index == 0 {
                LabeledSpan::new_primary_with_span(label.text.clone(), span)
            } else {
                LabeledSpan::new_with_span(label.text.clone(), span)
            }
        })))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }
}

/// The source as the graphical renderer reads it: whole lines around a span when they are
/// short, otherwise at most [`LINE_CONTEXT`] bytes on either side of it; line and column
/// come from [`Lines`] (columns in characters, as in JSON output), in time independent of
/// the offset.
#[derive(Debug)]
struct Excerpt<'a> {
    name: &'a str,
    lines: &'a Lines<'a>,
}

impl SourceCode for Excerpt<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let lines = self.lines;
        let source = lines.source;
        let start = span.offset();
        let end = start.checked_add(span.len()).filter(|end| *end <= source.len()).ok_or(MietteError::OutOfBounds)?;
        // The renderer asks for the span of two nearby labels together; far apart, they are
        // better drawn apart, which it does when this fails.
        if end - start > 2 * MAX_LABEL + LINE_CONTEXT {
            return Err(MietteError::OutOfBounds);
        }
        let first_line = lines.line_of(start);
        let last_line = lines.line_of(end);
        let from = if context_lines_before == 0 {
            start
        } else {
            let context = lines.line_start(first_line.saturating_sub(context_lines_before));
            if start - context <= LINE_CONTEXT {
                context
            } else {
                source.floor_char_boundary(start.saturating_sub(LINE_CONTEXT)).max(lines.line_start(first_line))
            }
        };
        let context = lines.line_end(last_line.saturating_add(context_lines_after)).max(end);
        let to = if context - end <= LINE_CONTEXT {
            context
        } else {
            source.ceil_char_boundary(end.saturating_add(LINE_CONTEXT)).min(lines.line_end(last_line)).max(end)
        };
        let data = source.get(from..to).ok_or(MietteError::OutOfBounds)?;
        let (line, column) = lines.line_column(from);
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.to_owned(),
            data.as_bytes(),
            SourceSpan::new(from.into(), to - from),
            line - 1,
            column - 1,
            data.matches('\n').count(),
        )))
    }
}

/// Where a text stops being JSON and what is wrong there, in words rather than serde_json's
/// own text (`expected ident at line 1 column 2`).
#[derive(Debug)]
pub(crate) struct JsonError {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) problem: String,
}

impl JsonError {
    pub(crate) fn of(error: &serde_json::Error) -> JsonError {
        let text = error.to_string();
        let position = format!(" at line {} column {}", error.line(), error.column());
        let raw = text.strip_suffix(&position).unwrap_or(&text);
        let problem = match raw {
            "EOF while parsing a list" => "the text ends inside an array: a `]` is missing",
            "EOF while parsing an object" => "the text ends inside an object: a `}` is missing",
            "EOF while parsing a string" => "the text ends inside a string: its closing `\"` is missing",
            "EOF while parsing a value" => "the text ends where a value should be",
            "expected `:`" => "a `:` should follow the object key here",
            "expected `,` or `]`" => "a `,` or `]` should follow the array item here",
            "expected `,` or `}`" => "a `,` or `}` should follow the object member here",
            "expected ident" => "a word other than `true`, `false` or `null` (strings need double quotes)",
            "expected value" => "a value should start here (strings need double quotes)",
            "expected `\"`" => "a `\"` should start the object key here",
            "invalid escape" => "a backslash escape JSON does not have",
            "invalid number" => "a malformed number",
            "number out of range" => "a number too large to read",
            "invalid unicode code point" | "lone leading surrogate in hex escape" | "unexpected end of hex escape" => {
                "a malformed `\\u` escape"
            }
            "control character (\\u0000-\\u001F) found while parsing a string" => {
                "a raw control character in a string (tabs and line breaks must be escaped)"
            }
            "key must be a string" => "an object key that is not a string in double quotes",
            "trailing comma" => "a comma before a closing bracket or brace",
            "trailing characters" => "more text after the end of the JSON value",
            "recursion limit exceeded" => "values nested more than 128 levels deep",
            other => other,
        };
        JsonError { line: error.line().max(1), column: error.column().max(1), problem: problem.to_owned() }
    }
}

impl JsonError {
    /// The problem within one line of a file read line by line.
    pub(crate) fn in_line(&self) -> String {
        format!("not valid JSON at column {}: {}", self.column, self.problem)
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not valid JSON at line {}, column {}: {}", self.line, self.column, self.problem)
    }
}

/// A number and its noun, singular for one: `1 error`, `2 errors`.
pub(crate) fn count<N: std::fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    let noun = if n == N::from(1) { one } else { many };
    format!("{n} {noun}")
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
    out.push_str(&format!(
        "checked {}: {}, {}\n",
        count(totals.inputs, "input", "inputs"),
        count(totals.errors, "error", "errors"),
        count(totals.warnings, "warning", "warnings")
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

/// A diagnostic as every JSON document of the command line writes it.
#[derive(Serialize)]
pub(crate) struct JsonDiagnostic<'a> {
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
    let output = JsonOutput { diagnostics: json_diagnostics(reports), summary: Totals::of(reports) };
    let mut stdout = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut stdout, &output);
    let _ = stdout.write_all(b"\n");
}

/// The diagnostics of every report, in order, as JSON documents write them.
pub(crate) fn json_diagnostics<'a>(reports: impl IntoIterator<Item = &'a InputReport>) -> Vec<JsonDiagnostic<'a>> {
    let mut diagnostics = Vec::new();
    for report in reports {
        let lines = Lines::new(&report.source);
        for diagnostic in &report.diagnostics {
            let span = diagnostic.span();
            let (line, column) = lines.line_column(span.start);
            let (end_line, end_column) = lines.line_column(span.end);
            let labels = diagnostic
                .labels
                .iter()
                .map(|label| {
                    let (line, column) = lines.line_column(label.span.start);
                    JsonLabel {
                        message: label.text.as_deref(),
                        line,
                        column,
                        byte_range: [report.offset + label.span.start, report.offset + label.span.end],
                    }
                })
                .collect();
            let bytes = |span: Span| [report.offset + span.start, report.offset + span.end];
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
                byte_range: bytes(span),
                labels,
            });
        }
    }
    diagnostics
}

/// Where the lines of a text start, and how many characters come before every
/// [`Lines::CHUNK`]th byte: the line and column of any offset in logarithmic time plus at most
/// one chunk's scan, so reporting n diagnostics on one long line stays linear.
#[derive(Debug)]
pub(crate) struct Lines<'a> {
    source: &'a str,
    /// The offset of every line's first byte.
    starts: Vec<usize>,
    /// `chars_before[k]`: the characters in `source[..k * CHUNK]`.
    chars_before: Vec<usize>,
}

impl<'a> Lines<'a> {
    const CHUNK: usize = 1024;

    pub(crate) fn new(source: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(at, _)| at + 1));
        let mut chars_before = Vec::with_capacity(source.len() / Self::CHUNK + 1);
        let mut count = 0;
        for chunk in source.as_bytes().chunks(Self::CHUNK) {
            chars_before.push(count);
            count += chars_in(chunk);
        }
        Lines { source, starts, chars_before }
    }

    /// 1-based line and column of a byte offset; columns count Unicode scalar values. An
    /// offset past the end or inside a character counts as the nearest boundary before it.
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = self.source.floor_char_boundary(offset);
        let line = self.line_of(offset);
        let column = self.chars_before(offset) - self.chars_before(self.line_start(line));
        (line + 1, column + 1)
    }

    /// The 0-based line holding `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|start| *start <= offset).saturating_sub(1)
    }

    /// Where a 0-based line starts; the end of the text past the last line.
    fn line_start(&self, line: usize) -> usize {
        self.starts.get(line).copied().unwrap_or(self.source.len())
    }

    /// Where a 0-based line ends, before its newline (`\r\n` or `\n`).
    fn line_end(&self, line: usize) -> usize {
        let end = self.starts.get(line + 1).map_or(self.source.len(), |next| next - 1);
        if end > 0 && self.source.as_bytes().get(end - 1) == Some(&b'\r') { end - 1 } else { end }
    }

    /// The characters before a byte offset at a character boundary.
    fn chars_before(&self, offset: usize) -> usize {
        let chunk = offset / Self::CHUNK;
        let counted = self.chars_before.get(chunk).copied().unwrap_or(0);
        let rest = self.source.as_bytes().get(chunk * Self::CHUNK..offset).unwrap_or_default();
        counted + chars_in(rest)
    }
}

/// The characters starting in `bytes`: every byte but UTF-8 continuation bytes.
fn chars_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|byte| (**byte as i8) >= -0x40).count()
}

#[cfg(test)]
mod tests {
    use iotrules_compiler::{Code, Diagnostic, Span};

    use super::{InputReport, JsonError, Lines, guarded, plain, render};

    fn json_error(text: &str) -> String {
        serde_json::from_str::<serde_json::Value>(text)
            .map_or_else(|error| JsonError::of(&error).to_string(), |_| String::new())
    }

    #[test]
    fn json_errors_are_said_in_words() {
        assert_eq!(
            json_error("{\"a\": nope}"),
            "not valid JSON at line 1, column 8: a word other than `true`, `false` or `null` (strings need double quotes)"
        );
        assert_eq!(
            json_error("{a: 1}"),
            "not valid JSON at line 1, column 2: an object key that is not a string in double quotes"
        );
        assert_eq!(
            json_error("[1, 2,]"),
            "not valid JSON at line 1, column 7: a comma before a closing bracket or brace"
        );
        assert_eq!(
            json_error("{\"a\": 1"),
            "not valid JSON at line 1, column 7: the text ends inside an object: a `}` is missing"
        );
        assert_eq!(
            json_error("\"a\tb\""),
            "not valid JSON at line 1, column 3: a raw control character in a string (tabs and line breaks must be escaped)"
        );
        for text in [
            "{\"a\" 1}",
            "[1 2]",
            "{\"a\": 1 \"b\": 2}",
            "1 2",
            "\"\\x\"",
            "\"\\ud800\"",
            "01",
            "1e999999",
            "{\"a\": hello}",
            "",
            "[",
            "\"a",
        ] {
            let said = json_error(text);
            assert!(said.starts_with("not valid JSON at line "), "{text}: {said}");
            for raw in ["expected", "EOF", "ident", "trailing", "invalid", "lone", "control character ("] {
                assert!(!said.contains(raw), "{text}: {said}");
            }
        }
    }

    fn line_column(source: &str, offset: usize) -> (usize, usize) {
        Lines::new(source).line_column(offset)
    }

    #[test]
    fn lines_and_columns_are_one_based_in_characters() {
        let source = "ab\ncé😀d";
        assert_eq!(line_column(source, 0), (1, 1));
        assert_eq!(line_column(source, 3), (2, 1));
        assert_eq!(line_column(source, source.find('d').unwrap_or_default()), (2, 4));
        assert_eq!(line_column(source, 5), (2, 2));
        assert_eq!(line_column(source, 999), (2, 5));
    }

    #[test]
    fn columns_agree_with_counting_across_chunks() {
        // Multi-byte characters straddle the chunk boundaries, on long and short lines.
        let source: String = (0..3000).map(|i| if i % 7 == 0 { "é😀\n" } else { "aé" }).collect();
        let lines = Lines::new(&source);
        for offset in (0..=source.len()).filter(|offset| source.is_char_boundary(*offset)) {
            let before = &source[..offset];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
            assert_eq!(lines.line_column(offset), (line, column), "offset {offset}");
        }
    }

    fn report(source: String, diagnostics: Vec<Diagnostic>) -> InputReport {
        InputReport { name: "input.sql".to_owned(), source, offset: 0, diagnostics, description: String::new() }
    }

    #[test]
    fn a_diagnostic_far_along_a_line_renders_its_snippet() {
        let items = "a,".repeat(40_000);
        let source = format!("SELECT {items}x FROM 't' WHERE nofn()");
        let at = source.find("nofn").unwrap_or_default();
        let diagnostic = Diagnostic::error(Code::UnknownFunction, Span::new(at, at + 4), "unknown function `nofn`")
            .with_label("not an IoT SQL function")
            .with_related(Span::new(7, 8), "far back")
            .with_help("see the function reference");
        let rendered = render(&report(source, vec![diagnostic]));
        assert!(rendered.contains("input.sql:1:80025]"), "{rendered}");
        assert!(rendered.contains("not an IoT SQL function"), "{rendered}");
        assert!(rendered.contains("far back"), "{rendered}");
        assert!(rendered.lines().all(|line| line.chars().count() < 1000), "{rendered}");
    }

    #[test]
    fn a_span_over_the_whole_input_is_drawn_over_its_start() {
        let source = format!("SELECT a FROM 't' WHERE {}", "x + ".repeat(50_000));
        let diagnostic = Diagnostic::warning(Code::WhereNeverTrue, Span::new(24, source.len()), "never true");
        let rendered = render(&report(source, vec![diagnostic]));
        assert!(rendered.contains("never true"), "{rendered}");
        assert!(rendered.len() < 4000, "{rendered}");
    }

    #[test]
    fn crlf_lines_render_without_their_carriage_return() {
        let source = "SELECT a\r\nFROM 't'\r\nWHERE nofn()\r\n".to_owned();
        let at = source.find("nofn").unwrap_or_default();
        let diagnostic = Diagnostic::error(Code::UnknownFunction, Span::new(at, at + 4), "unknown function `nofn`");
        let rendered = render(&report(source, vec![diagnostic]));
        assert!(rendered.contains("input.sql:3:7]"), "{rendered}");
        assert!(!rendered.contains('\r'), "{rendered:?}");
    }

    /// Generated text with long lines, tabs, CRLF and wide characters, and labels anywhere on
    /// it: every diagnostic gets its snippet from the graphical renderer, never the fallback.
    #[test]
    fn any_labels_on_any_text_render_graphically() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % u64::try_from(bound.max(1)).unwrap_or(1)).unwrap_or(0)
        };
        let long: &str = "x".repeat(20_000).leak();
        let pieces = ["a", "bc ", "\t", "é", "😀", "漢", long, long, long, long, "\r\n", "\n"];
        for _ in 0..20 {
            // Lines run to 100,000 characters and more.
            let source: String = (0..next(60) + 1).map(|_| pieces[next(pieces.len())]).collect();
            let boundaries: Vec<usize> = (0..=source.len()).filter(|at| source.is_char_boundary(*at)).collect();
            let diagnostics: Vec<Diagnostic> = (0..5)
                .map(|_| {
                    let mut span = || {
                        let (a, b) = (boundaries[next(boundaries.len())], boundaries[next(boundaries.len())]);
                        Span::new(a.min(b), a.max(b))
                    };
                    let mut diagnostic = Diagnostic::warning(Code::AlwaysUndefined, span(), "somewhere")
                        .with_label("here")
                        .with_help("look");
                    let related = span();
                    if related.start % 3 != 0 {
                        diagnostic = diagnostic.with_related(related, "and here");
                    }
                    diagnostic
                })
                .collect();
            let rendered = render(&report(source, diagnostics));
            // At least one snippet per diagnostic; two when its labels are far apart.
            assert!(rendered.matches("╭─[input.sql:").count() >= 5, "{rendered}");
            assert!(rendered.matches("here").count() >= 5, "{rendered}");
            assert!(!rendered.contains("warning[iotsql::always_undefined]"), "fell back: {rendered}");
        }
    }

    #[test]
    fn a_renderer_that_panics_falls_back_to_one_plain_line() {
        let source = "SELECT a\nFROM 't' WHERE nofn()".to_owned();
        let lines = Lines::new(&source);
        let at = source.find("nofn").unwrap_or_default();
        let diagnostic = Diagnostic::error(Code::UnknownFunction, Span::new(at, at + 4), "unknown function `nofn`")
            .with_help("see the function reference");
        let rendered = guarded(|_| panic!("the renderer failed"), || plain("input.sql", &lines, &diagnostic));
        assert_eq!(
            rendered,
            "input.sql:2:16: error[iotsql::unknown_function]: unknown function `nofn`\n  help: see the function reference\n"
        );
        let failed = guarded(|_| Err(std::fmt::Error), || "fallback".to_owned());
        assert_eq!(failed, "fallback");
    }
}
