//! The formats CI systems read, for `check --format github|sarif|junit`. Each is written
//! whole to standard output; positions are the same 1-based lines and columns (columns count
//! characters) as the human and JSON reports.
//!
//! INVARIANT: text from the inputs (messages quote the source) is escaped for each format, so
//! no input can end an annotation, break the XML or forge a workflow command.

use std::io::Write;

use iotrules_compiler::{Diagnostic, Severity};
use serde_json::json;

use super::{InputReport, Lines, Totals};

/// Where a diagnostic is, in 1-based lines and columns.
struct Place {
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

fn place(lines: &Lines<'_>, diagnostic: &Diagnostic) -> Place {
    let span = diagnostic.span();
    let (line, column) = lines.line_column(span.start);
    let (end_line, end_column) = lines.line_column(span.end);
    Place { line, column, end_line, end_column }
}

/// The message with its help, as one text.
fn text(diagnostic: &Diagnostic) -> String {
    match &diagnostic.help {
        Some(help) => format!("{}\nhelp: {help}", diagnostic.message),
        None => diagnostic.message.clone(),
    }
}

fn write_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// GitHub Actions workflow commands: `::error file=...,line=...::message`.
pub(crate) fn github(reports: &[InputReport]) {
    let mut out = String::new();
    for report in reports {
        let lines = Lines::new(&report.source);
        for diagnostic in &report.diagnostics {
            out.push_str(&annotation(&report.name, &lines, diagnostic));
            out.push('\n');
        }
    }
    write_out(&out);
}

fn annotation(file: &str, lines: &Lines<'_>, diagnostic: &Diagnostic) -> String {
    let command = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Advice => "notice",
    };
    let at = place(lines, diagnostic);
    format!(
        "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
        property(file),
        at.line,
        at.column,
        at.end_line,
        at.end_column,
        property(diagnostic.code.as_str()),
        data(&text(diagnostic)),
    )
}

/// A workflow command's message: `%`, CR and LF encoded, so a message cannot end the command.
fn data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`, which separate properties.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A SARIF 2.1.0 log with one run, its rules the diagnostic codes met.
pub(crate) fn sarif(reports: &[InputReport]) {
    let mut codes: Vec<&'static str> = Vec::new();
    let mut results = Vec::new();
    for report in reports {
        let lines = Lines::new(&report.source);
        for diagnostic in &report.diagnostics {
            let code = diagnostic.code.as_str();
            if !codes.contains(&code) {
                codes.push(code);
            }
            let at = place(&lines, diagnostic);
            let level = match diagnostic.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Advice => "note",
            };
            results.push(json!({
                "ruleId": code,
                "level": level,
                "message": {"text": text(diagnostic)},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": uri(&report.name)},
                    "region": {
                        "startLine": at.line,
                        "startColumn": at.column,
                        "endLine": at.end_line,
                        "endColumn": at.end_column,
                    },
                }}],
            }));
        }
    }
    codes.sort_unstable();
    let rules: Vec<_> = codes.iter().map(|code| json!({"id": code, "name": code})).collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "iotrules",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            // Columns count characters, as in every other report.
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    write_out(&text);
}

/// A path as a SARIF URI reference: relative paths stay relative (to the checkout), with
/// forward slashes and the characters URIs reserve percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for character in path.chars() {
        match character {
            '\\' => out.push('/'),
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' | '/' => out.push(character),
            other => {
                let mut bytes = [0u8; 4];
                for byte in other.encode_utf8(&mut bytes).bytes() {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
        }
    }
    out
}

/// JUnit XML: one test case per input, failed when it has errors (or warnings when they are
/// denied), the failure holding every diagnostic of the input.
pub(crate) fn junit(reports: &[InputReport], deny_warnings: bool) {
    let failed =
        |diagnostic: &Diagnostic| diagnostic.is_error() || (deny_warnings && diagnostic.severity == Severity::Warning);
    let failures = reports.iter().filter(|report| report.diagnostics.iter().any(failed)).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let totals = Totals::of(reports);
    out.push_str(&format!(
        "<testsuites name=\"iotrules check\" tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"iotrules check\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">\n",
        totals.inputs, totals.inputs
    ));
    for report in reports {
        let name = xml(&report.name);
        out.push_str(&format!("    <testcase classname=\"iotrules.check\" name=\"{name}\" file=\"{name}\""));
        let lines = Lines::new(&report.source);
        let listed: Vec<String> = report
            .diagnostics
            .iter()
            .map(|diagnostic| {
                let at = place(&lines, diagnostic);
                format!(
                    "{}:{}:{}: {} [{}] {}",
                    report.name,
                    at.line,
                    at.column,
                    diagnostic.severity.as_str(),
                    diagnostic.code.as_str(),
                    text(diagnostic)
                )
            })
            .collect();
        match report.diagnostics.iter().find(|diagnostic| failed(diagnostic)) {
            Some(first) => {
                let count = report.diagnostics.iter().filter(|diagnostic| failed(diagnostic)).count();
                let noun = if count == 1 { "problem" } else { "problems" };
                out.push_str(&format!(
                    ">\n      <failure message=\"{count} {noun}, the first: {}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(&first.message),
                    first.code.as_str(),
                    xml(&listed.join("\n"))
                ));
            }
            None if listed.is_empty() => out.push_str("/>\n"),
            None => out
                .push_str(&format!(">\n      <system-out>{}</system-out>\n    </testcase>\n", xml(&listed.join("\n")))),
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    write_out(&out);
}

/// What became of one test of `iotrules test`.
#[derive(Debug)]
pub(crate) struct TestResult {
    pub(crate) file: String,
    pub(crate) name: String,
    pub(crate) outcome: TestOutcome,
}

#[derive(Debug)]
pub(crate) enum TestOutcome {
    Passed,
    /// What differed.
    Failed(String),
    Skipped,
    /// A test that could not be read.
    Error(String),
}

impl TestOutcome {
    fn word(&self) -> &'static str {
        match self {
            TestOutcome::Passed => "passed",
            TestOutcome::Failed(_) => "failed",
            TestOutcome::Skipped => "skipped",
            TestOutcome::Error(_) => "error",
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            TestOutcome::Failed(detail) | TestOutcome::Error(detail) => Some(detail),
            TestOutcome::Passed | TestOutcome::Skipped => None,
        }
    }
}

/// The line a test's name gives (`file:12 (id)`), for annotations.
fn test_line(result: &TestResult) -> Option<usize> {
    let rest = result.name.strip_prefix(&result.file)?.strip_prefix(':')?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Every result as one JSON document, with the counts.
pub(crate) fn test_json(results: &[TestResult]) {
    let count = |word: &str| results.iter().filter(|result| result.outcome.word() == word).count();
    let listed: Vec<_> = results
        .iter()
        .map(|result| {
            json!({"file": result.file, "name": result.name, "outcome": result.outcome.word(), "detail": result.outcome.detail()})
        })
        .collect();
    let document = json!({
        "results": listed,
        "summary": {"passed": count("passed"), "failed": count("failed"), "skipped": count("skipped"), "errors": count("error")},
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    write_out(&text);
}

/// A workflow `::error` annotation for each failed or unreadable test.
pub(crate) fn test_github(results: &[TestResult]) {
    let mut out = String::new();
    for result in results {
        let Some(detail) = result.outcome.detail() else { continue };
        let line = test_line(result).map(|line| format!(",line={line}")).unwrap_or_default();
        let title = format!("{} {}", result.outcome.word(), result.name);
        out.push_str(&format!(
            "::error file={}{line},title={}::{}\n",
            property(&result.file),
            property(&title),
            data(detail)
        ));
    }
    write_out(&out);
}

/// A SARIF log with a result for each failed or unreadable test.
pub(crate) fn test_sarif(results: &[TestResult]) {
    let found: Vec<_> = results
        .iter()
        .filter_map(|result| {
            let detail = result.outcome.detail()?;
            let mut location = json!({"artifactLocation": {"uri": uri(&result.file)}});
            if let Some(line) = test_line(result) {
                location["region"] = json!({"startLine": line});
            }
            Some(json!({
                "ruleId": format!("test::{}", result.outcome.word()),
                "level": "error",
                "message": {"text": format!("{}\n{detail}", result.name)},
                "locations": [{"physicalLocation": location}],
            }))
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "iotrules test",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": [{"id": "test::failed", "name": "test::failed"}, {"id": "test::error", "name": "test::error"}],
            }},
            "results": found,
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    write_out(&text);
}

/// JUnit XML: a test suite per file, a test case per test.
pub(crate) fn test_junit(results: &[TestResult]) {
    let mut files: Vec<&str> = Vec::new();
    for result in results {
        if !files.contains(&result.file.as_str()) {
            files.push(&result.file);
        }
    }
    let counted = |of: &[&TestResult], word: &str| of.iter().filter(|result| result.outcome.word() == word).count();
    let all: Vec<&TestResult> = results.iter().collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"iotrules test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
        all.len(),
        counted(&all, "failed"),
        counted(&all, "error"),
        counted(&all, "skipped")
    ));
    for file in files {
        let of: Vec<&TestResult> = results.iter().filter(|result| result.file == file).collect();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
            xml(file),
            of.len(),
            counted(&of, "failed"),
            counted(&of, "error"),
            counted(&of, "skipped")
        ));
        for result in of {
            out.push_str(&format!("    <testcase classname=\"{}\" name=\"{}\"", xml(file), xml(&result.name)));
            match &result.outcome {
                TestOutcome::Passed => out.push_str("/>\n"),
                TestOutcome::Skipped => out.push_str(">\n      <skipped/>\n    </testcase>\n"),
                TestOutcome::Failed(detail) => out.push_str(&format!(
                    ">\n      <failure message=\"the output differs\">{}</failure>\n    </testcase>\n",
                    xml(detail)
                )),
                TestOutcome::Error(detail) => out.push_str(&format!(
                    ">\n      <error message=\"the test cannot be read\">{}</error>\n    </testcase>\n",
                    xml(detail)
                )),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    write_out(&out);
}

/// Text for XML content or an attribute: the five reserved characters as entities, and
/// characters XML 1.0 cannot hold at all (most controls) as U+FFFD.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(character),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_cannot_be_forged_from_a_message() {
        assert_eq!(data("50% done\n::error::forged"), "50%25 done%0A::error::forged");
        assert_eq!(property("a,b:c\nd"), "a%2Cb%3Ac%0Ad");
    }

    #[test]
    fn xml_text_is_escaped_and_controls_replaced() {
        assert_eq!(xml("<a href=\"x\">&'\u{1}\u{7f}é"), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;\u{fffd}\u{7f}é");
    }

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri("rules/a b#1.sql"), "rules/a%20b%231.sql");
        assert_eq!(uri("règles\\x.json"), "r%C3%A8gles/x.json");
    }
}
