//! File-driven suites: every input under `tests/data/{parse,check,rule_files,policies}` is run through
//! the front end and its result (tree and rendered diagnostics) compared with a snapshot in
//! `tests/snapshots/`. Update with `cargo insta review` (or `INSTA_UPDATE=always`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use iotrules_compiler::policy::check_policy;
use iotrules_compiler::rule_file::check_rule_file;
use iotrules_compiler::rule_file::cloudformation::check_yaml_rule_file;
use iotrules_compiler::syntax::parse;
use iotrules_compiler::{Code, Diagnostic, SqlVersion, check_sql};
use miette::{GraphicalReportHandler, GraphicalTheme, NamedSource};

fn render(name: &str, source: &str, diagnostics: &[Diagnostic]) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(120);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let report =
            miette::Report::new(diagnostic.clone()).with_source_code(NamedSource::new(name, source.to_owned()));
        handler.render_report(&mut out, report.as_ref()).unwrap();
    }
    if diagnostics.is_empty() {
        out.push_str("no diagnostics\n");
    }
    out
}

/// `name.2015-10-08.sql` is checked under that version; other files under 2016-03-23.
fn version_of(path: &Path) -> SqlVersion {
    let stem = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or_default();
    stem.rsplit_once('.').and_then(|(_, version)| version.parse().ok()).unwrap_or(SqlVersion::V2016_03_23)
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn parse_suite() {
    insta::glob!("data/parse/*.sql", |path| {
        let source = fs::read_to_string(path).unwrap();
        let parsed = parse(source.trim_end());
        let rendered = render(&file_name(path), source.trim_end(), &parsed.diagnostics);
        insta::assert_snapshot!(format!("{}\n\n{rendered}\n{:#?}", source.trim_end(), parsed.statement));
    });
}

#[test]
fn check_suite() {
    insta::glob!("data/check/*.sql", |path| {
        let source = fs::read_to_string(path).unwrap();
        let checked = check_sql(source.trim_end(), version_of(path));
        insta::assert_snapshot!(format!(
            "{}\n\n{}",
            source.trim_end(),
            render(&file_name(path), source.trim_end(), &checked.diagnostics)
        ));
    });
}

/// A rule file's diagnostics: JSON files as rule files, YAML files as CloudFormation templates.
fn check_rule_text(path: &Path, source: &str) -> Vec<Diagnostic> {
    if path.extension().is_some_and(|extension| extension == "yaml") {
        check_yaml_rule_file(source).diagnostics
    } else {
        check_rule_file(source).diagnostics
    }
}

#[test]
fn rule_file_suite() {
    insta::glob!("data/rule_files/*.{json,yaml}", |path| {
        let source = fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(render(&file_name(path), &source, &check_rule_text(path, &source)));
    });
}

#[test]
fn policy_suite() {
    insta::glob!("data/policies/*.json", |path| {
        let source = fs::read_to_string(path).unwrap();
        let report = check_policy(&source);
        insta::assert_snapshot!(render(&file_name(path), &source, &report.diagnostics));
    });
}

/// Every diagnostic code is shown by at least one fixture, so each has a reviewed rendering.
#[test]
fn every_code_has_a_fixture() {
    let mut seen = BTreeSet::new();
    let mut record = |diagnostics: &[Diagnostic]| seen.extend(diagnostics.iter().map(|d| d.code.as_str()));
    for dir in ["parse", "check"] {
        for entry in fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let source = fs::read_to_string(&path).unwrap();
            record(&check_sql(source.trim_end(), version_of(&path)).diagnostics);
        }
    }
    for entry in fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rule_files")).unwrap() {
        let path = entry.unwrap().path();
        let source = fs::read_to_string(&path).unwrap();
        record(&check_rule_text(&path, &source));
    }
    for entry in fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/policies")).unwrap() {
        let source = fs::read_to_string(entry.unwrap().path()).unwrap();
        record(&check_policy(&source).diagnostics);
    }
    // `invalid_utf8` is raised where files are read, in the command line; `jit::interpreted`
    // by the JIT, where rule sets are built (tested in `jit`'s unit tests);
    // `rule::unsupported_action` where `iotrules run` loads actions (the runtime's unit tests);
    // `registry::*` where registries are read (the runtime's `registry` tests).
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|code| code.as_str())
        .filter(|code| {
            !seen.contains(code)
                && !["input::invalid_utf8", "jit::interpreted", "rule::unsupported_action"].contains(code)
                && !code.starts_with("registry::")
        })
        .collect();
    assert!(missing.is_empty(), "no fixture shows {missing:?}");
}
