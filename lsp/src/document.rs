//! An open document: its text, what kind of file it is, its diagnostics, and the mapping
//! between byte offsets (what the compiler speaks) and LSP positions (UTF-16 code units).

use iotrules_compiler::config::{self, Config, ConfigError};
use iotrules_compiler::file_kind::{FileKind, classify_json};
use iotrules_compiler::policy::check_policy;
use iotrules_compiler::rule_file::{EmbeddedSql, check_rule_file, embedded_sql};
use iotrules_compiler::{Code, Diagnostic, Severity, Span, SqlVersion, check_sql};
use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Position, Range,
    TextDocumentContentChangeEvent, Uri,
};

/// What a document holds, which decides how it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One IoT SQL statement (`.sql`, `.iotsql`).
    Sql,
    /// A TopicRulePayload JSON file.
    RuleFile,
    /// An IoT policy document.
    Policy,
    /// JSON that is neither, such as a `package.json`: editors hand every JSON file to the
    /// server, and those get no diagnostics.
    OtherJson,
    /// An `iotrules.toml`: its own mistakes are its diagnostics.
    Config,
}

/// What an `iotrules.toml` says for one document: the SQL version of a SQL document and the
/// codes not to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub sql_version: SqlVersion,
    pub ignored: Vec<Code>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { sql_version: DEFAULT_SQL_VERSION, ignored: Vec::new() }
    }
}

impl Settings {
    /// The settings `config` gives the file at `relative`, a path relative to its folder.
    pub fn from_config(config: &Config, relative: &std::path::Path) -> Settings {
        Settings {
            sql_version: config.sql_version.unwrap_or(DEFAULT_SQL_VERSION),
            ignored: Code::ALL.iter().copied().filter(|code| config.ignores(relative, *code)).collect(),
        }
    }
}

/// One open document and everything derived from its current text.
#[derive(Debug)]
pub struct Document {
    text: String,
    /// Whether the document is JSON (a rule file or a policy, told apart by content).
    json: bool,
    kind: Kind,
    /// Lines and UTF-16 columns of offsets.
    index: PositionIndex,
    diagnostics: Vec<Diagnostic>,
    /// The statement of a rule file.
    embedded: Option<EmbeddedSql>,
    settings: Settings,
    /// Whether the document is an `iotrules.toml`, and what is wrong with it.
    config: bool,
    config_error: Option<ConfigError>,
}

/// The SQL statement inside a document, and how offsets in it relate to the document's.
#[derive(Clone, Copy, Debug)]
pub struct SqlView<'a> {
    pub sql: &'a str,
    pub version: SqlVersion,
    embedded: Option<&'a EmbeddedSql>,
}

impl SqlView<'_> {
    /// The statement offset of a document offset, when it lies inside the statement.
    pub fn to_sql(&self, offset: usize) -> Option<usize> {
        match self.embedded {
            Some(embedded) => embedded.to_sql(offset),
            None => Some(offset.min(self.sql.len())),
        }
    }

    /// The document offset of a statement offset.
    pub fn to_document(&self, offset: usize) -> usize {
        match self.embedded {
            Some(embedded) => embedded.to_file(offset),
            None => offset,
        }
    }

    /// A statement span as a document span.
    pub fn span_to_document(&self, span: Span) -> Span {
        Span::new(self.to_document(span.start), self.to_document(span.end))
    }
}

/// Where lines start, and for every character that takes fewer UTF-16 units than bytes, where
/// it ends and how many bytes more than units the text holds up to there: the line and UTF-16
/// column of any offset by binary searches. (The `line-index` crate walks the wide characters of
/// a line for each conversion, which made n positions on one long line quadratic.)
#[derive(Debug, Default)]
struct PositionIndex {
    line_starts: Vec<usize>,
    saved: Vec<(usize, usize)>,
}

impl PositionIndex {
    fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(at, _)| at + 1));
        let mut saved = Vec::new();
        let mut total = 0;
        for (at, character) in text.char_indices().filter(|(_, character)| !character.is_ascii()) {
            total += character.len_utf8() - character.len_utf16();
            saved.push((at + character.len_utf8(), total));
        }
        PositionIndex { line_starts, saved }
    }

    /// The 0-based line holding `offset`, and where it starts.
    fn line(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|start| *start <= offset).saturating_sub(1);
        (line, self.line_starts.get(line).copied().unwrap_or(0))
    }

    fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts.get(line).copied()
    }

    /// The UTF-16 units of the text before `offset`, a character boundary.
    fn units_before(&self, offset: usize) -> usize {
        let ended = self.saved.partition_point(|(end, _)| *end <= offset);
        let saved = ended.checked_sub(1).and_then(|last| self.saved.get(last)).map_or(0, |(_, saved)| *saved);
        offset - saved
    }
}

/// The SQL version `.sql` documents are checked under, as `iotrules check` does by default.
pub const DEFAULT_SQL_VERSION: SqlVersion = SqlVersion::V2016_03_23;

impl Document {
    /// A document; `json` says whether it is JSON (from its name or language).
    pub fn new(text: String, json: bool) -> Self {
        let mut document = Document {
            index: PositionIndex::new(&text),
            text,
            json,
            kind: Kind::Sql,
            diagnostics: Vec::new(),
            embedded: None,
            settings: Settings::default(),
            config: false,
            config_error: None,
        };
        document.analyse();
        document
    }

    /// An `iotrules.toml` document.
    pub fn config(text: String) -> Self {
        let mut document = Document::new(String::new(), false);
        document.config = true;
        document.text = text;
        document.index = PositionIndex::new(&document.text);
        document.analyse();
        document
    }

    /// Whether a document with this URI is an `iotrules.toml`.
    pub fn is_config(uri: &Uri) -> bool {
        uri.path().as_str().rsplit('/').next() == Some(config::FILE_NAME)
    }

    /// Checks the document again under `settings` when they differ from those it was checked
    /// under; whether they did.
    pub fn configure(&mut self, settings: Settings) -> bool {
        if self.settings == settings {
            return false;
        }
        self.settings = settings;
        self.analyse();
        true
    }

    /// Whether a document with this URI and language id is JSON rather than IoT SQL.
    pub fn is_json(uri: &Uri, language_id: Option<&str>) -> bool {
        let path = uri.as_str().to_ascii_lowercase();
        language_id.is_some_and(|id| id.eq_ignore_ascii_case("json")) || path.ends_with(".json")
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The compiler's diagnostics, spans into the document text.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The statement of a SQL document or rule file.
    pub fn sql(&self) -> Option<SqlView<'_>> {
        match self.kind {
            Kind::Sql => Some(SqlView { sql: &self.text, version: self.settings.sql_version, embedded: None }),
            Kind::RuleFile => self.embedded.as_ref().map(|embedded| SqlView {
                sql: &embedded.sql,
                version: embedded.version,
                embedded: Some(embedded),
            }),
            Kind::Policy | Kind::OtherJson | Kind::Config => None,
        }
    }

    /// Applies editor changes in order, then checks the new text once.
    pub fn apply(&mut self, changes: Vec<TextDocumentContentChangeEvent>) {
        for change in changes {
            match change.range {
                Some(range) => {
                    let start = self.offset(range.start);
                    let end = self.offset(range.end);
                    let (start, end) = (start.min(end), start.max(end));
                    self.text.replace_range(start..end, &change.text);
                }
                None => self.text = change.text,
            }
            // Later changes are positioned in the text as the earlier ones left it.
            self.index = PositionIndex::new(&self.text);
        }
        self.analyse();
    }

    fn analyse(&mut self) {
        self.embedded = None;
        self.config_error = None;
        if self.config {
            self.kind = Kind::Config;
            self.diagnostics = Vec::new();
            self.config_error = Config::parse(&self.text).err();
        } else if !self.json {
            self.kind = Kind::Sql;
            self.diagnostics = check_sql(&self.text, self.settings.sql_version).diagnostics;
        } else {
            // Told apart as the CLI tells files apart: test, registry and context files, and
            // JSON iotrules does not read, get no diagnostics.
            match classify_json(&self.text) {
                FileKind::Policy => {
                    self.kind = Kind::Policy;
                    self.diagnostics = check_policy(&self.text).diagnostics;
                }
                FileKind::TopicRule => {
                    self.kind = Kind::RuleFile;
                    self.diagnostics = check_rule_file(&self.text).diagnostics;
                    self.embedded = embedded_sql(&self.text);
                }
                _ => {
                    self.kind = Kind::OtherJson;
                    self.diagnostics = Vec::new();
                }
            }
        }
        let ignored = &self.settings.ignored;
        self.diagnostics.retain(|diagnostic| !ignored.contains(&diagnostic.code));
    }

    /// The position of a byte offset; offsets past the end or inside a character move back to
    /// the nearest character boundary.
    pub fn position(&self, offset: usize) -> Position {
        let offset = self.text.floor_char_boundary(offset);
        let (line, line_start) = self.index.line(offset);
        let column = self.index.units_before(offset).saturating_sub(self.index.units_before(line_start));
        Position::new(u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
    }

    /// The byte offset of a position; a column past the end of its line means the line's end,
    /// a line past the end of the text means the end of the text, and a column inside a
    /// surrogate pair means the start of that character.
    pub fn offset(&self, position: Position) -> usize {
        let Some(line_start) = self.index.line_start(usize::try_from(position.line).unwrap_or(usize::MAX)) else {
            return self.text.len();
        };
        let line = self.text.get(line_start..).unwrap_or_default();
        let mut units = 0;
        for (at, character) in line.char_indices() {
            let width = character.len_utf16();
            if character == '\n' || units + width > position.character as usize {
                return line_start + at;
            }
            units += width;
        }
        self.text.len()
    }

    pub fn range(&self, span: Span) -> Range {
        Range::new(self.position(span.start), self.position(span.end))
    }

    /// The diagnostics as the editor shows them: the code, the message with its help line,
    /// and secondary labels as related information.
    pub fn lsp_diagnostics(&self, uri: &Uri) -> Vec<lsp::Diagnostic> {
        let mut diagnostics: Vec<lsp::Diagnostic> =
            self.diagnostics.iter().map(|diagnostic| self.to_lsp(uri, diagnostic)).collect();
        // A mistake in an `iotrules.toml`, in the words `iotrules check` uses.
        if let Some(error) = &self.config_error {
            diagnostics.push(lsp::Diagnostic {
                range: self.range(error.span.unwrap_or(Span::new(0, 0))),
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some("iotrules".to_owned()),
                message: error.message.clone(),
                ..lsp::Diagnostic::default()
            });
        }
        diagnostics
    }

    /// One diagnostic as the editor shows it.
    pub fn to_lsp(&self, uri: &Uri, diagnostic: &Diagnostic) -> lsp::Diagnostic {
        let related: Vec<DiagnosticRelatedInformation> = diagnostic
            .labels
            .iter()
            .skip(1)
            .map(|label| DiagnosticRelatedInformation {
                location: Location::new(uri.clone(), self.range(label.span)),
                message: label.text.clone().unwrap_or_default(),
            })
            .collect();
        let message = match &diagnostic.help {
            Some(help) => format!("{}\nhelp: {help}", diagnostic.message),
            None => diagnostic.message.clone(),
        };
        lsp::Diagnostic {
            range: self.range(diagnostic.span()),
            severity: Some(match diagnostic.severity {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
                Severity::Advice => DiagnosticSeverity::HINT,
            }),
            code: Some(NumberOrString::String(diagnostic.code.as_str().to_owned())),
            source: Some("iotrules".to_owned()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            ..lsp::Diagnostic::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(start: (u32, u32), end: (u32, u32), text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(start.0, start.1), Position::new(end.0, end.1))),
            range_length: None,
            text: text.to_owned(),
        }
    }

    #[test]
    fn positions_count_utf16_units() {
        let document = Document::new("SELECT '😀é', x\nFROM 't'".to_owned(), false);
        let x = document.text().find(", x").unwrap_or_default() + 2;
        // `😀` is two UTF-16 units and four bytes, `é` one unit and two bytes.
        assert_eq!(document.position(x), Position::new(0, 14));
        assert_eq!(document.offset(Position::new(0, 14)), x);
        assert_eq!(document.offset(Position::new(0, 9)), 8, "inside the surrogate pair");
        assert_eq!(document.offset(Position::new(0, 99)), document.text().find('\n').unwrap_or_default());
        assert_eq!(document.offset(Position::new(9, 0)), document.text().len());
    }

    #[test]
    fn positions_agree_with_counting_utf16_units() {
        let text: String = (0..2000).map(|i| ["a", "é", "😀", "漢", "\n", "bc"][i * 7 % 6]).collect();
        let document = Document::new(text.clone(), false);
        for offset in (0..=text.len()).filter(|offset| text.is_char_boundary(*offset)) {
            let before = &text[..offset];
            let line = before.matches('\n').count();
            let column: usize = before.rsplit('\n').next().unwrap_or_default().chars().map(char::len_utf16).sum();
            let expected = Position::new(u32::try_from(line).unwrap(), u32::try_from(column).unwrap());
            assert_eq!(document.position(offset), expected, "offset {offset}");
        }
    }

    #[test]
    fn incremental_changes_apply_in_order() {
        let mut document = Document::new("SELECT a FROM 't'".to_owned(), false);
        document.apply(vec![change((0, 7), (0, 8), "😀b"), change((0, 9), (0, 10), "c")]);
        assert_eq!(document.text(), "SELECT 😀c FROM 't'");
        assert_eq!(document.diagnostics().len(), 1, "{:?}", document.diagnostics());
    }

    #[test]
    fn json_documents_are_told_apart_by_content() {
        let policy = Document::new(r#"{"Version": "2012-10-17", "Statement": []}"#.to_owned(), true);
        assert_eq!(policy.kind(), Kind::Policy);
        let rule = Document::new(r#"{"sql": "SELECT a FROM 't'"}"#.to_owned(), true);
        assert_eq!(rule.kind(), Kind::RuleFile);
        assert_eq!(rule.sql().map(|view| view.sql), Some("SELECT a FROM 't'"));
        let other = Document::new(r#"{"name": "web", "version": "1.0.0"}"#.to_owned(), true);
        assert_eq!(other.kind(), Kind::OtherJson);
        assert!(other.diagnostics().is_empty());
        // A test case and a policy context name statements and things, but are not rules.
        let test = Document::new(r#"{"inputSql": "SELECT a FROM 't'", "expectedOutput": {}}"#.to_owned(), true);
        assert_eq!(test.kind(), Kind::OtherJson);
        let context = Document::new(r#"{"clientId": "c", "thingName": "t"}"#.to_owned(), true);
        assert_eq!(context.kind(), Kind::OtherJson);
    }
}
