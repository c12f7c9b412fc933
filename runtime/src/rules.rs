//! Reading rules from `--sql` text and from files, with their diagnostics.

use std::path::Path;

use iotrules_compiler::file_kind;
use iotrules_compiler::rule_file::cloudformation;
use iotrules_compiler::rule_file::{ActionSpec, RuleFileReport, check_rule_file};
use iotrules_compiler::syntax::ast::Statement;
use iotrules_compiler::{Code, Diagnostic, Span, SqlVersion, check_sql};

use crate::inputs::Contents;
use crate::report::InputReport;

/// A rule as read: its diagnostics, and what is needed to run it.
#[derive(Debug)]
pub(crate) struct LoadedRule {
    pub(crate) report: InputReport,
    /// Present when the rule parsed; only run it when `report` has no errors.
    pub(crate) statement: Option<Statement>,
    pub(crate) version: SqlVersion,
    pub(crate) name: Option<String>,
    /// The rule file says `"ruleDisabled": true`.
    pub(crate) disabled: bool,
    /// The statement's spans are offsets into `report.source` (SQL text, not a rule file).
    pub(crate) spans_in_source: bool,
    /// The statement's text, which its spans index: the source of a `.sql` file, the decoded
    /// `sql` string of a rule file.
    pub(crate) sql: String,
    /// The rule file's `actions`; `None` for SQL text, which has no action list.
    pub(crate) actions: Option<Vec<ActionSpec>>,
    pub(crate) error_action: Option<ActionSpec>,
}

impl LoadedRule {
    pub(crate) fn has_errors(&self) -> bool {
        self.report.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The name the rule runs under: the file's `ruleName`, else the file name without its
    /// extension.
    pub(crate) fn rule_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let path = Path::new(&self.report.name);
            path.file_stem().map_or_else(|| self.report.name.clone(), |stem| stem.to_string_lossy().into_owned())
        })
    }

    /// A file with errors before any rule could be read from it.
    fn unreadable(report: InputReport, version: SqlVersion) -> LoadedRule {
        LoadedRule {
            report,
            statement: None,
            version,
            name: None,
            disabled: false,
            spans_in_source: false,
            sql: String::new(),
            actions: None,
            error_action: None,
        }
    }
}

/// A statement given as text; `name` labels its diagnostics.
pub(crate) fn from_sql(name: &str, source: String, version: SqlVersion) -> LoadedRule {
    let checked = check_sql(&source, version);
    let sql = source.clone();
    LoadedRule {
        report: InputReport {
            name: name.to_owned(),
            source,
            offset: 0,
            diagnostics: checked.diagnostics,
            description: format!("SQL {version}"),
        },
        statement: checked.statement,
        version,
        name: None,
        disabled: false,
        spans_in_source: true,
        sql,
        actions: None,
        error_action: None,
    }
}

/// A `.sql` file (checked under `version`) or a TopicRulePayload file (under its own version).
pub(crate) fn from_file(path: &Path, contents: Contents, version: SqlVersion) -> LoadedRule {
    let name = crate::inputs::display_name(path);
    let offset = contents.offset();
    let source = match contents {
        Contents::Text { text, .. } => text,
        Contents::NotUtf8 { valid_up_to, text, .. } => {
            let diagnostic = Diagnostic::error(
                Code::InvalidUtf8,
                Span::new(valid_up_to, valid_up_to + 1),
                "file is not valid UTF-8",
            )
            .with_label("first invalid byte")
            .with_help("save the file as UTF-8");
            let report = InputReport {
                name,
                source: text,
                offset,
                diagnostics: vec![diagnostic],
                description: "unreadable".to_owned(),
            };
            return LoadedRule::unreadable(report, version);
        }
    };
    let yaml = file_kind::is_yaml(&path.to_string_lossy(), &source);
    if !yaml && !is_json(path, &source) {
        let mut loaded = from_sql(&name, source, version);
        loaded.report.offset = offset;
        return loaded;
    }
    // A template is checked once; how many topic rules it holds describes it when it is not
    // one rule.
    let (checked, topic_rules) = if yaml {
        let (rules, diagnostics) = cloudformation::check_yaml_template(&source);
        let count = rules.len();
        (RuleFileReport { rule: cloudformation::single_rule(rules), diagnostics }, Some(count))
    } else {
        let checked = check_rule_file(&source);
        let count = (checked.rule.is_none() && cloudformation::is_template(&source))
            .then(|| cloudformation::topic_rule_count(&source));
        (checked, count)
    };
    let Some(rule) = checked.rule else {
        let description = match topic_rules {
            Some(count) => format!("CloudFormation template, {count} topic rule{}", if count == 1 { "" } else { "s" }),
            None => "rule file".to_owned(),
        };
        let report = InputReport { name, source, offset, diagnostics: checked.diagnostics, description };
        return LoadedRule::unreadable(report, version);
    };
    let label = rule.name.as_deref().map(|name| format!("rule {name}, ")).unwrap_or_default();
    let disabled = if rule.disabled { ", disabled" } else { "" };
    let description = format!("{label}SQL {}{disabled}", rule.sql_version);
    LoadedRule {
        report: InputReport { name, source, offset, diagnostics: checked.diagnostics, description },
        statement: rule.statement,
        version: rule.sql_version,
        name: rule.name,
        disabled: rule.disabled,
        spans_in_source: false,
        sql: rule.sql,
        actions: Some(rule.actions),
        error_action: rule.error_action,
    }
}

/// `.json` files, and files of other extensions that start with `{`, are rule files.
fn is_json(path: &Path, source: &str) -> bool {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("json") => true,
        Some("sql") => false,
        _ => source.trim_start().starts_with('{'),
    }
}
