//! Hostile sizes: every check is linear (or n log n) in its input, and one input reports at
//! most `MAX_PER_CODE` diagnostics of a code plus one that counts the rest. The inputs here
//! are large enough that a quadratic pass would not finish, and small enough for a debug
//! build; nothing is timed (`benches/README.md` has the release figures).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use iotrules_compiler::diagnostics::MAX_PER_CODE;
use iotrules_compiler::policy::check_policy;
use iotrules_compiler::rule_file::check_rule_file;
use iotrules_compiler::template::Template;
use iotrules_compiler::{Checked, Code, Diagnostic, Severity, Span, SqlVersion, check_sql, format_sql};
use proptest::prelude::*;

fn check(source: &str) -> Checked {
    check_sql(source, SqlVersion::V2016_03_23)
}

fn of_code(diagnostics: &[Diagnostic], code: Code) -> Vec<&Diagnostic> {
    diagnostics.iter().filter(|diagnostic| diagnostic.code == code).collect()
}

/// Asserts that `diagnostics` hold `MAX_PER_CODE` of `code` and one diagnostic counting the
/// other `found - MAX_PER_CODE`, as severe as they are.
fn assert_capped(diagnostics: &[Diagnostic], code: Code, found: usize, severity: Severity) {
    assert_eq!(of_code(diagnostics, code).len(), MAX_PER_CODE, "{code}");
    let summary = format!("{} more `{code}` diagnostics not shown, the first here", found - MAX_PER_CODE);
    let summaries: Vec<&Diagnostic> =
        of_code(diagnostics, Code::TooManyDiagnostics).into_iter().filter(|d| d.message == summary).collect();
    assert_eq!(summaries.len(), 1, "no `{summary}` in {:#?}", of_code(diagnostics, Code::TooManyDiagnostics));
    assert_eq!(summaries[0].severity, severity);
}

#[test]
fn two_hundred_thousand_select_items_are_checked_in_one_pass() {
    // Distinct keys, then one item per key that writes below it: every second item clashes
    // with one far before it.
    let values = (0..100_000).map(|i| format!("a{i}"));
    let objects = (0..100_000).map(|i| format!("b AS a{i}.x"));
    let items: Vec<String> = values.chain(objects).collect();
    let checked = check(&format!("SELECT {} FROM 't'", items.join(", ")));
    assert_capped(&checked.diagnostics, Code::DuplicateOutputKey, 100_000, Severity::Warning);
    let first = of_code(&checked.diagnostics, Code::DuplicateOutputKey)[0];
    assert_eq!(first.message, "output key `a0` is written both as a value and as the object holding `a0.x`");
    assert!(!checked.has_errors());
}

#[test]
fn diagnostics_past_the_limit_are_counted_not_listed() {
    let items: Vec<String> = (0..10_000).map(|i| format!("nofn() AS k{i}")).collect();
    let checked = check(&format!("SELECT {} FROM 't'", items.join(", ")));
    assert_capped(&checked.diagnostics, Code::UnknownFunction, 10_000, Severity::Error);
    assert!(checked.has_errors());
    // The count points at the first one left out.
    let summary = of_code(&checked.diagnostics, Code::TooManyDiagnostics)[0];
    let left_out = checked.diagnostics.iter().position(|d| d.code == Code::TooManyDiagnostics).unwrap();
    assert_eq!(left_out, MAX_PER_CODE);
    let source = format!("SELECT {} FROM 't'", items.join(", "));
    let fifty_first = source.match_indices("nofn").nth(MAX_PER_CODE).unwrap().0;
    assert_eq!(summary.span(), Span::new(fifty_first, fifty_first + 4));
}

#[test]
fn a_topic_filter_with_a_problem_on_every_level() {
    // Each level's problem is mapped through the literal's escapes; the mapping is made once.
    let filter = "a+/".repeat(100_000);
    let checked = check(&format!("SELECT x FROM '{filter}z'"));
    assert_capped(&checked.diagnostics, Code::InvalidTopicFilter, 100_000, Severity::Error);
    assert_eq!(of_code(&checked.diagnostics, Code::TopicFilterLimit).len(), 2, "levels and length");
}

#[test]
fn messages_quote_a_bounded_part_of_the_source() {
    let long = "x".repeat(1 << 20);
    let checked = check(&format!(
        "SELECT -'{long}' AS r, a AS {long}.b, c AS {long}, d AS {long} FROM 't' WHERE ({long} + 1) - 'z'"
    ));
    assert!(!checked.diagnostics.is_empty());
    for diagnostic in &checked.diagnostics {
        assert!(
            diagnostic.message.chars().count() < 200,
            "{}…",
            diagnostic.message.chars().take(200).collect::<String>()
        );
    }
    let duplicates = of_code(&checked.diagnostics, Code::DuplicateOutputKey);
    assert_eq!(duplicates.len(), 2);
    assert_eq!(
        duplicates[0].message,
        format!(
            "output key `{}…` is written both as a value and as the object holding `{}…`",
            "x".repeat(39),
            "x".repeat(39)
        )
    );
}

#[test]
fn negative_literals_after_many_range_warnings() {
    // Each sign looks back at one warning, not at all of them.
    let big = "9".repeat(40);
    let (a, c) = (format!("{big} AS a"), format!("-{big} AS c"));
    let items: Vec<&str> = [a.as_str(), "-1.5 AS b", c.as_str()].repeat(20_000);
    let checked = check(&format!("SELECT {} FROM 't'", items.join(", ")));
    let first = &checked.diagnostics[0];
    assert_eq!(first.code, Code::IntegerOutOfRange);
    let negative = checked.diagnostics.iter().find(|d| d.message.starts_with("`-9")).unwrap();
    assert_eq!(negative.message, format!("`-{}...` has more than 34 significant digits", "9".repeat(39)));
}

#[test]
fn unclosed_comments_are_read_once() {
    // logos looked for a `*/` to the end of the input at every `/*`. In a debug build its
    // lexer recurses once per `*` of a comment (a release build loops), hence the stack.
    let source = format!("SELECT a FROM 't' WHERE x = 1 {}", "/* a ".repeat(200_000));
    let thread = std::thread::Builder::new().stack_size(256 << 20);
    let checked = thread.spawn(move || check(&source)).unwrap().join().unwrap();
    assert_eq!(checked.diagnostics.len(), 1, "{:#?}", checked.diagnostics);
    let comment = &checked.diagnostics[0];
    assert_eq!(comment.message, "IoT SQL has no comments");
    assert!(comment.help.as_deref().unwrap().contains("never closed"));
}

#[test]
fn reading_stops_after_a_thousand_problems() {
    // Every `@1` is a lexical error and a syntax error the grammar recovers from, each
    // recovery with the list of tokens the parser expected.
    let source = format!("SELECT {} FROM 't'", vec!["@1"; 200_000].join(", "));
    let checked = check(&source);
    assert_eq!(checked.diagnostics.len(), 51);
    let last = checked.diagnostics.last().unwrap();
    assert_eq!(last.code, Code::TooManyErrors);
    assert!(last.message.ends_with("after 1000 problems the statement is not read further"), "{}", last.message);
    assert!(last.span().start < 10_000, "reading stopped early: {:?}", last.span());
}

#[test]
fn templates_rule_files_and_policies_are_limited_too() {
    let template = "${nofn()}/".repeat(1_000);
    let parsed = Template::parse(&template, SqlVersion::V2016_03_23);
    assert_capped(&parsed.diagnostics, Code::UnknownFunction, 1_000, Severity::Error);

    let items: Vec<String> = (0..1_000).map(|i| format!("nofn() AS k{i}")).collect();
    let rule = serde_json::json!({
        "sql": format!("SELECT {} FROM 't'", items.join(", ")),
        "awsIotSqlVersion": "2016-03-23",
        "actions": [{"republish": {"topic": template, "roleArn": "arn:aws:iam::123456789012:role/r"}}],
    });
    let report = check_rule_file(&rule.to_string());
    // The statement's and the template's own counts, then the file's.
    assert_eq!(of_code(&report.diagnostics, Code::UnknownFunction).len(), MAX_PER_CODE);
    assert!(report.diagnostics.iter().any(|d| d.message.starts_with("950 more `iotsql::unknown_function`")));

    let actions: Vec<String> = (0..100_000).map(|i| format!("\"nope:Action{i}\"")).collect();
    let policy = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": [{}], "Resource": "*"}}]}}"#,
        actions.join(", ")
    );
    let report = check_policy(&policy);
    assert_capped(&report.diagnostics, Code::PolicyUnknownAction, 100_000, Severity::Error);
}

#[test]
fn a_template_is_one_input_however_many_substitutions_it_holds() {
    // Each substitution was checked as an input of its own, so each built its diagnostic and
    // its "did you mean" search.
    let parsed = Template::parse(&"${nofn()}/".repeat(100_000), SqlVersion::V2016_03_23);
    assert_capped(&parsed.diagnostics, Code::UnknownFunction, 100_000, Severity::Error);
    assert_eq!(parsed.diagnostics.len(), MAX_PER_CODE + 1);

    let parsed = Template::parse(&"${)}/".repeat(100_000), SqlVersion::V2016_03_23);
    let stopped = parsed.diagnostics.iter().find(|d| d.code == Code::TooManyErrors).unwrap();
    assert_eq!(stopped.message, "more than 1000 syntax errors; the template is not read further");
    assert!(parsed.diagnostics.len() <= 2 * MAX_PER_CODE + 2, "{}", parsed.diagnostics.len());
}

#[test]
fn a_rule_file_with_a_hundred_thousand_actions() {
    // Each republish action counted the file's errors before and after reading itself, by
    // scanning every diagnostic so far.
    let actions = vec![serde_json::json!({"republish": {"topic": "t"}}); 100_000];
    let rule = serde_json::json!({"sql": "SELECT a FROM 't'", "awsIotSqlVersion": "2016-03-23", "actions": actions});
    let report = check_rule_file(&rule.to_string());
    assert_eq!(of_code(&report.diagnostics, Code::RuleTooManyActions).len(), 1);
    assert_capped(&report.diagnostics, Code::RuleInvalidActionParameter, 100_000, Severity::Error);

    let unknown: Vec<serde_json::Value> = (0..100_000).map(|i| serde_json::json!({format!("nope{i}"): {}})).collect();
    let rule = serde_json::json!({"sql": "SELECT a FROM 't'", "awsIotSqlVersion": "2016-03-23", "actions": unknown});
    let report = check_rule_file(&rule.to_string());
    assert_capped(&report.diagnostics, Code::RuleUnknownAction, 100_000, Severity::Error);
}

#[test]
fn formatting_writes_each_part_of_a_deep_tree_once() {
    // The formatter built every node's text from its children's, so text as deep as 500
    // levels was copied 500 times.
    let long = "x".repeat(1 << 20);
    let nested = format!("SELECT {}'{long}'{} AS r FROM 't'", "abs(".repeat(500), ")".repeat(500));
    let formatted = format_sql(&nested).unwrap();
    assert_eq!(formatted.len(), nested.len() + 1);
    let chained = format!("SELECT {} AS s FROM 't'", vec![format!("'{}'", "y".repeat(2_000)); 500].join("+"));
    let formatted = format_sql(&chained).unwrap();
    assert!(formatted.starts_with("SELECT 'yy") && formatted.contains("' + 'y"));
}

/// The duplicate-key check as it was written first, comparing every pair: the reference the
/// trie must agree with on small lists.
fn pairwise_duplicates(keys: &[(Vec<String>, Span)]) -> Vec<(Span, Span, String)> {
    let mut kept: Vec<&(Vec<String>, Span)> = Vec::new();
    let mut found = Vec::new();
    for entry in keys {
        let (key, span) = entry;
        let clash = kept.iter().find(|(earlier, _)| earlier.starts_with(key) || key.starts_with(earlier));
        match clash {
            Some((earlier, first)) => {
                let message = if earlier == key {
                    format!("output key `{}` is written more than once", key.join("."))
                } else {
                    let (short, long) = if earlier.len() < key.len() { (earlier, key) } else { (key, earlier) };
                    format!(
                        "output key `{}` is written both as a value and as the object holding `{}`",
                        short.join("."),
                        long.join(".")
                    )
                };
                found.push((*span, *first, message));
            }
            None => kept.push(entry),
        }
    }
    found
}

fn key_paths() -> impl Strategy<Value = Vec<Vec<&'static str>>> {
    let name = prop::sample::select(vec!["a", "b", "c"]);
    prop::collection::vec(prop::collection::vec(name, 1..4), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn duplicate_keys_agree_with_comparing_every_pair(paths in key_paths()) {
        let mut source = "SELECT ".to_owned();
        let mut keys = Vec::new();
        for (index, path) in paths.iter().enumerate() {
            if index > 0 {
                source.push_str(", ");
            }
            source.push_str("x AS ");
            let start = source.len();
            source.push_str(&path.join("."));
            keys.push((path.iter().map(|name| (*name).to_owned()).collect(), Span::new(start, source.len())));
        }
        source.push_str(" FROM 't'");
        let found: Vec<(Span, Span, String)> = of_code(&check(&source).diagnostics, Code::DuplicateOutputKey)
            .into_iter()
            .map(|d| (d.span(), d.labels[1].span, d.message.clone()))
            .collect();
        prop_assert_eq!(found, pairwise_duplicates(&keys), "{}", source);
    }
}

/// A 10 MB statement holds millions of expressions, and the time to build its tree is mostly
/// the time to get fresh memory for it; the node size is part of the 10 MB budget.
#[test]
fn an_expression_node_stays_small() {
    let size = size_of::<iotrules_compiler::syntax::ast::Expr>();
    assert!(size <= 56, "an expression takes {size} bytes");
}
