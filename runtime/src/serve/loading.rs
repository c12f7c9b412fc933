//! Reading and compiling the rule files `iotrules run` was given, all or nothing: a set with
//! an error in any file is refused whole, so a reload never runs half of what was meant.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use iotrules_compiler::SqlVersion;
use iotrules_compiler::file_kind::FileKind;
use iotrules_compiler::ruleset::{Engine, RuleSet, SetRule};
use iotrules_compiler::syntax::ast::ExprKind;

use crate::actions::RuleActions;
use crate::actions::lanes::Lanes;
use crate::{inputs, report, rules};

/// A compiled rule set with each rule's actions and the topic filters it listens on.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) set: RuleSet,
    /// By rule, in the set's order.
    pub(crate) actions: Arc<Vec<RuleActions>>,
    pub(crate) names: Arc<Vec<String>>,
    /// Every rule's FROM filter, and with Basic Ingest the topics that address rules by name.
    pub(crate) filters: Vec<String>,
    /// Each rule's name and the topic filter of its FROM, in rule order.
    pub(crate) listening: Vec<(String, String)>,
    /// Rules left out because their files say `"ruleDisabled": true`.
    pub(crate) disabled: Vec<String>,
}

impl Loaded {
    pub(crate) fn name(&self, rule: usize) -> &str {
        self.names.get(rule).map(String::as_str).unwrap_or_default()
    }
}

/// What a rule set's files have to say, in the order met: the diagnostics of an input, or a
/// problem said in words (an unreadable file, two rules of one name).
#[derive(Debug, Default)]
pub(crate) struct Problems {
    items: Vec<Problem>,
}

#[derive(Debug)]
enum Problem {
    Diagnostics(report::InputReport),
    Said(String),
}

impl Problems {
    pub(crate) fn said(text: impl Into<String>) -> Problems {
        Problems { items: vec![Problem::Said(text.into())] }
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every problem for people: diagnostics with their snippets, the rest a line each.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            match item {
                Problem::Diagnostics(report) => out.push_str(&report::render(report)),
                Problem::Said(text) => {
                    out.push_str(text);
                    out.push('\n');
                }
            }
        }
        out
    }

    pub(crate) fn reports(&self) -> impl Iterator<Item = &report::InputReport> {
        self.items.iter().filter_map(|item| match item {
            Problem::Diagnostics(report) => Some(report),
            Problem::Said(_) => None,
        })
    }

    /// The problems said in words, in order.
    pub(crate) fn sayings(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|item| match item {
            Problem::Said(text) => Some(text.as_str()),
            Problem::Diagnostics(_) => None,
        })
    }

    /// Shows the problems on standard error: rendered, or with JSON logs one log event each.
    pub(crate) fn show(&self) {
        if !crate::logging::is_json() {
            eprint!("{}", self.render());
            return;
        }
        crate::logging::diagnostics(self.reports());
        for text in self.sayings() {
            tracing::error!("{text}");
        }
    }

    fn push_report(&mut self, report: report::InputReport) {
        self.items.push(Problem::Diagnostics(report));
    }

    fn push_said(&mut self, text: String) {
        self.items.push(Problem::Said(text));
    }
}

/// Loads every rule file under `paths`; `Err` is what refused the set. Warnings of a set that
/// loads are shown here.
pub(crate) fn load(
    paths: &[PathBuf],
    skip_unsupported: bool,
    basic_ingest: bool,
    lanes: &Lanes,
) -> Result<Loaded, Problems> {
    let files = inputs::find(paths, &[FileKind::Statement, FileKind::TopicRule]).map_err(Problems::said)?;
    if files.is_empty() {
        return Err(Problems::said("no .sql or .json rule files found"));
    }
    let mut rendered = Problems::default();
    let mut failed = false;
    let mut set = Vec::new();
    let mut actions = Vec::new();
    let mut disabled = Vec::new();
    let mut names = HashSet::new();
    for input in files {
        let path = &input.path;
        let contents = match input.contents {
            Ok(contents) => contents,
            Err(error) => {
                rendered.push_said(format!("cannot read `{}`: {error}", path.display()));
                failed = true;
                continue;
            }
        };
        let loaded = rules::from_file(path, contents, SqlVersion::V2016_03_23);
        let name = loaded.rule_name();
        if !loaded.report.diagnostics.is_empty() {
            rendered.push_report(loaded.report.clone());
        }
        if loaded.has_errors() {
            failed = true;
            continue;
        }
        if loaded.disabled {
            disabled.push(name);
            continue;
        }
        let rule_actions = match RuleActions::from_rule_file(&loaded, skip_unsupported, lanes) {
            Ok((rule_actions, warnings)) => {
                render_more(&loaded.report, warnings, &mut rendered);
                rule_actions
            }
            Err(diagnostics) => {
                render_more(&loaded.report, diagnostics, &mut rendered);
                failed = true;
                continue;
            }
        };
        let Some(statement) = loaded.statement else {
            // Read without errors yet without one statement: a CloudFormation template of
            // several rules, or of a rule whose values CloudFormation computes.
            rendered.push_said(format!(
                "`{}` is a CloudFormation template that `iotrules run` cannot run: it runs templates of one topic rule whose values are written out; give each rule a template of its own",
                path.display()
            ));
            failed = true;
            continue;
        };
        if !names.insert(name.clone()) {
            rendered.push_said(format!(
                "two rules are named `{name}` (the second in `{}`): AWS IoT Core names rules uniquely",
                path.display()
            ));
            failed = true;
            continue;
        }
        set.push(SetRule { name, statement, version: loaded.version });
        actions.push(rule_actions);
    }
    if failed {
        return Err(rendered);
    }
    if !rendered.is_empty() {
        // Warnings only: shown, and the set runs.
        rendered.show();
    }
    let filters = filters(&set, basic_ingest);
    let listening = set.iter().filter_map(|rule| Some((rule.name.clone(), from_filter(rule)?))).collect();
    let names = set.iter().map(|rule| rule.name.clone()).collect();
    Ok(Loaded {
        set: RuleSet::with_engine(set, Engine::Jit),
        actions: Arc::new(actions),
        names: Arc::new(names),
        filters,
        listening,
        disabled,
    })
}

/// The topic filter a rule's FROM names, when it is a string.
fn from_filter(rule: &SetRule) -> Option<String> {
    match rule.statement.from.as_ref().map(|from| &from.kind) {
        Some(ExprKind::String(filter)) => Some(filter.value.clone()),
        _ => None,
    }
}

/// The distinct topic filters the rules listen on, in rule order.
fn filters(set: &[SetRule], basic_ingest: bool) -> Vec<String> {
    let mut filters: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for rule in set {
        let own = from_filter(rule);
        // Basic Ingest: AWS routes `$aws/rules/<name>/...` to the rule of that name alone.
        let ingest = basic_ingest.then(|| format!("$aws/rules/{}/#", rule.name));
        for filter in own.into_iter().chain(ingest) {
            if seen.insert(filter.clone()) {
                filters.push(filter);
            }
        }
    }
    filters
}

/// Renders diagnostics found after the file's own (the actions iotrules cannot perform).
fn render_more(report: &report::InputReport, diagnostics: Vec<iotrules_compiler::Diagnostic>, rendered: &mut Problems) {
    if diagnostics.is_empty() {
        return;
    }
    rendered.push_report(report::InputReport { diagnostics, ..report.clone() });
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::load;

    /// A fresh folder beside the test binary, inside the build's target folder.
    fn scratch(name: &str) -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().unwrap().join(format!("scratch-loading-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// What `iotrules run` shows at start-up and on a reload, which then keeps the running
    /// set: a diagnostic past column 65,535 made the renderer panic and took the process down.
    #[test]
    fn a_rule_set_with_a_diagnostic_far_along_a_line_is_refused_with_it() {
        let dir = scratch("long-line");
        let items: Vec<String> = (0..15_000).map(|i| format!("a{i}")).collect();
        let sql = format!("SELECT {} FROM 't' WHERE nofn()", items.join(","));
        std::fs::write(dir.join("rule.sql"), &sql).unwrap();
        let refused = load(std::slice::from_ref(&dir), false, false, &crate::actions::lanes::Lanes::default());
        let Err(problems) = refused else { panic!("the rule set has an error") };
        let rendered = problems.render();
        let column = sql.find("nofn").unwrap() + 1;
        assert!(rendered.contains(&format!("rule.sql:1:{column}]")), "{rendered}");
        assert!(rendered.contains("unknown function `nofn`"), "{rendered}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
