//! The front end never panics, overflows its stack or hangs, whatever the input: pathological
//! nesting, huge expressions, unbalanced and random text, and generated statements.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use iotrules_compiler::syntax::ast::MAX_DEPTH;
use iotrules_compiler::syntax::parse;
use iotrules_compiler::{Checked, Diagnostic, SqlVersion, check_sql};
use proptest::prelude::*;

/// The stack a test thread gets by default; a language server or CLI thread has at least this.
const SMALL_STACK: usize = 2 * 1024 * 1024;

/// Syntax errors past this many collapse into one `iotsql::too_many_errors` (see parser.rs).
const MAX_SYNTAX_ERRORS: usize = 50;

/// Runs `f` on a thread with a 2 MiB stack, so an overflow fails the test instead of passing on
/// a larger main-thread stack.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(SMALL_STACK).spawn(f).unwrap().join().unwrap()
}

fn check(source: String) -> Checked {
    on_small_stack(move || check_sql(&source, SqlVersion::V2016_03_23))
}

fn codes(checked: &Checked) -> Vec<&'static str> {
    checked.diagnostics.iter().map(|diagnostic| diagnostic.code.as_str()).collect()
}

fn count(checked: &Checked, code: &str) -> usize {
    checked.diagnostics.iter().filter(|diagnostic| diagnostic.code.as_str() == code).count()
}

/// The invariants every diagnostic keeps, so that rendering it can never panic or point at
/// the wrong text.
fn assert_well_formed(source: &str, diagnostic: &Diagnostic) {
    for label in &diagnostic.labels {
        let span = label.span;
        assert!(span.start <= span.end && span.end <= source.len(), "{diagnostic:?} lies outside {source:?}");
        assert!(
            source.is_char_boundary(span.start) && source.is_char_boundary(span.end),
            "{diagnostic:?} splits a character of {source:?}"
        );
    }
    assert!(!diagnostic.message.is_empty(), "{diagnostic:?} has no message");
    assert!(diagnostic.help.as_deref().is_some_and(|help| !help.is_empty()), "{diagnostic:?} has no help line");
}

fn assert_all_well_formed(source: &str) {
    for version in SqlVersion::ALL {
        for diagnostic in &check_sql(source, version).diagnostics {
            assert_well_formed(source, diagnostic);
        }
    }
}

fn nested(open: &str, inner: &str, close: &str, levels: usize) -> String {
    format!("SELECT {}{inner}{} AS r FROM 't'", open.repeat(levels), close.repeat(levels))
}

#[test]
fn twenty_thousand_parentheses_are_accepted() {
    // Parentheses build no tree node, so they do not count towards the depth limit.
    let checked = check(nested("(", "1", ")", 20_000));
    assert!(checked.statement.is_some());
    assert_eq!(codes(&checked), Vec::<&str>::new());
}

#[test]
fn deep_nesting_is_reported_once() {
    let cases = [
        ("calls", nested("abs(", "1", ")", 20_000)),
        ("arrays", nested("[", "1", "]", 20_000)),
        ("NOT", format!("SELECT {}TRUE AS r FROM 't'", "NOT ".repeat(20_000))),
        // Spaced, since `--` starts a (reported) comment.
        ("unary minus", format!("SELECT {}x AS r FROM 't'", "- ".repeat(20_000))),
    ];
    for (shape, source) in cases {
        let checked = check(source);
        assert_eq!(codes(&checked), ["iotsql::nesting_too_deep"], "{shape}");
        assert!(checked.has_errors(), "{shape}");
    }
}

#[test]
fn unary_minus_on_a_literal_folds_instead_of_nesting() {
    // `- - - 1` folds into one integer literal as it parses, so no depth builds up.
    let checked = check(format!("SELECT {}1 AS r FROM 't'", "- ".repeat(20_000)));
    assert_eq!(codes(&checked), Vec::<&str>::new());
}

#[test]
fn fifty_thousand_terms_in_select() {
    let checked = check(format!("SELECT a{} AS r FROM 't'", " + a".repeat(50_000)));
    assert!(checked.statement.is_some());
    assert_eq!(codes(&checked), ["iotsql::nesting_too_deep"]);
}

#[test]
fn fifty_thousand_terms_in_where() {
    let terms: Vec<String> = (0..50_000).map(|i| format!("x = {i}")).collect();
    let checked = check(format!("SELECT x FROM 't' WHERE {}", terms.join(" OR ")));
    assert!(checked.statement.is_some());
    assert_eq!(codes(&checked), ["iotsql::nesting_too_deep"]);
}

#[test]
fn the_deepest_accepted_trees_check_on_a_2_mib_stack() {
    let depth = usize::try_from(MAX_DEPTH).unwrap();
    // Each shape is exactly MAX_DEPTH levels deep: one leaf under MAX_DEPTH - 1 nodes.
    let cases = [
        ("500 calls", nested("abs(", "1", ")", 500)),
        ("calls", nested("abs(", "1", ")", depth - 1)),
        ("casts", nested("cast(", "1", " AS Int)", depth - 1)),
        ("NOT", format!("SELECT {}TRUE AS r FROM 't'", "NOT ".repeat(depth - 1))),
        ("queries", nested("(SELECT VALUE ", "x", " FROM arr)", depth - 1)),
        ("objects", nested("{'k': ", "1", "}", depth - 1)),
    ];
    for (shape, source) in cases {
        let checked = check(source);
        assert_eq!(codes(&checked), Vec::<&str>::new(), "{shape}");
    }
    // One more level is too deep.
    assert_eq!(codes(&check(nested("abs(", "1", ")", depth))), ["iotsql::nesting_too_deep"]);
}

#[test]
fn one_mebibyte_of_random_bytes() {
    // A fixed xorshift stream: reproducible without a seed file.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    let source = String::from_utf8_lossy(&bytes).into_owned();
    let checked = check(source.clone());
    assert!(checked.has_errors());
    assert!(checked.diagnostics.len() <= MAX_SYNTAX_ERRORS + 1);
    for diagnostic in &checked.diagnostics {
        assert_well_formed(&source, diagnostic);
    }
}

#[test]
fn invalid_utf8_decoded_lossily() {
    let rejected: [&[u8]; 5] = [
        b"SELECT \xff FROM 't'",
        b"SELECT a AS \xc3 FROM 't'",
        b"SELECT x FROM 't' WHERE \xed\xa0\x80 = 1",
        b"\xc0\xaf\xc0\xaf",
        b"SELECT \xf4\x90\x80\x80, \xfe\xfe FROM 't/\x80'",
    ];
    for bytes in rejected {
        let source = String::from_utf8_lossy(bytes).into_owned();
        let checked = check(source.clone());
        assert!(checked.has_errors(), "{source:?}");
        assert!(codes(&checked).contains(&"iotsql::invalid_token"), "{source:?}");
        assert_all_well_formed(&source);
    }
    // Inside quotes, U+FFFD is just text.
    let source = String::from_utf8_lossy(b"SELECT '\xe2\x82' AS s FROM 't/\xf0\x9f\x98'").into_owned();
    assert_eq!(codes(&check(source)), Vec::<&str>::new());
}

#[test]
fn topic_filter_limit_is_reported_on_a_character_boundary() {
    // Regression: the range past 256 bytes started inside the `é` that straddles the limit.
    let source = format!("SELECT x FROM '{}é'", "a".repeat(255));
    let checked = check(source.clone());
    assert_eq!(codes(&checked), ["iotsql::topic_filter_limit"]);
    assert_all_well_formed(&source);
}

#[test]
fn a_huge_unknown_name_is_cheap_to_report() {
    // Regression: "did you mean" compared the whole name with every candidate, which took
    // seconds and hundreds of megabytes for a name this long.
    let name = "f".repeat(1024 * 1024);
    let started = std::time::Instant::now();
    let checked = check(format!("SELECT {name}(1) AS r, cast(1 AS {name}) AS c FROM 't'"));
    assert_eq!(codes(&checked), ["iotsql::unknown_function", "iotsql::invalid_cast_type"]);
    assert!(started.elapsed().as_secs() < 5, "took {:?}", started.elapsed());
}

#[test]
fn unbalanced_input_reports_a_bounded_number_of_errors() {
    let cases = [
        ("open parentheses", format!("SELECT {} FROM 't'", "(".repeat(20_000))),
        ("close parentheses", format!("SELECT {} FROM 't'", ")".repeat(20_000))),
        ("quotes", format!("SELECT {} FROM 't'", "'".repeat(10_000))),
        ("CASE", format!("SELECT {} FROM 't'", "CASE ".repeat(10_000))),
    ];
    for (shape, source) in cases {
        let checked = check(source.clone());
        assert!(checked.has_errors(), "{shape}");
        assert!(checked.diagnostics.len() <= MAX_SYNTAX_ERRORS + 1, "{shape}: {}", checked.diagnostics.len());
        for diagnostic in &checked.diagnostics {
            assert_well_formed(&source, diagnostic);
        }
    }
}

#[test]
fn syntax_errors_past_the_cap_collapse_into_one() {
    // Every `)` is a select item of its own that recovers, and every `~` a lexer error.
    let source = format!("SELECT {} FROM 't'", vec![") ~"; 500].join(", "));
    let parsed = parse(&source);
    assert_eq!(parsed.diagnostics.len(), MAX_SYNTAX_ERRORS + 1);
    let last = parsed.diagnostics.last().unwrap();
    assert_eq!(last.code.as_str(), "iotsql::too_many_errors");
    assert_eq!(count(&check(source), "iotsql::too_many_errors"), 1);
}

fn config(cases: u32) -> ProptestConfig {
    // Cases stay modest so the suite runs in a few seconds in debug builds; the fuzzer in
    // compiler/fuzz explores further.
    ProptestConfig::with_cases(cases)
}

/// The IoT SQL vocabulary, and tokens that stress the lexer, the checker and span arithmetic.
fn token() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        "SELECT",
        "VALUE",
        "AS",
        "FROM",
        "WHERE",
        "SET",
        "AND",
        "OR",
        "NOT",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "TRUE",
        "FALSE",
        "NULL",
        "select",
        "Case",
        ",",
        ".",
        ":",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "*",
        "/",
        "%",
        "+",
        "-",
        "=",
        "<>",
        "!=",
        "==",
        "<",
        "<=",
        ">",
        ">=",
        "abs",
        "cast",
        "Int",
        "Decimal",
        "get",
        "concat",
        "regexp_matches",
        "get_dynamodb",
        "encode",
        "topic",
        "@v",
        "@x",
        "'a/+/#'",
        "'a/b#'",
        "'a/+b'",
        "'$aws/rules/r/x'",
        "'$aws/things/t/shadow/update'",
        "\"dq\"",
        "'it\\'s'",
        "'\\u00e9t\\u00e9'",
        "'é'",
        "'日本/+/#'",
        "'\\d+'",
        "'(a'",
        "'a(?=b)'",
        "'é(?<=é)'",
        "'a*+'",
        "99999999999999999999",
        "1.5e400",
        "'",
        "\"",
        "#",
        "--",
        "@",
        "~",
        "é",
        "\u{1F600}",
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        6 => fixed,
        1 => "[a-z_][a-z0-9_]{0,6}",
        1 => "@[a-zA-Z_][a-zA-Z0-9_]{0,4}",
        1 => "[0-9]{1,25}",
        1 => "[0-9]{1,5}\\.[0-9]{1,5}([eE][+-]?[0-9]{1,3})?",
        1 => "'[a-zé/+# ]{0,10}'",
        // Topic filters around the 256-byte limit, with multi-byte characters near it.
        1 => "[aé/+#]{250,262}".prop_map(|filter| format!("'{filter}'")),
    ]
}

fn tokens(max: usize) -> impl Strategy<Value = String> {
    let separator = prop::sample::select(vec![" ", " ", " ", "", "\n"]);
    prop::collection::vec((token(), separator), 0..max)
        .prop_map(|tokens| tokens.into_iter().map(|(token, separator)| token + separator).collect())
}

/// `SELECT` and a random token sequence; half of them also get a FROM clause with a random
/// token after it, so that error recovery yields a tree and the checker sees odd topic filters.
fn token_soup() -> impl Strategy<Value = String> {
    (tokens(40), prop::option::of((token(), tokens(10)))).prop_map(|(select, from)| match from {
        Some((filter, rest)) => format!("SELECT {select} FROM {filter} {rest}"),
        None => format!("SELECT {select}"),
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_strings_never_panic(source in any::<String>()) {
        for version in SqlVersion::ALL {
            check_sql(&source, version);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let source = String::from_utf8_lossy(&bytes);
        check_sql(&source, SqlVersion::V2016_03_23);
    }

    #[test]
    fn token_soup_gets_well_formed_diagnostics(source in token_soup()) {
        assert_all_well_formed(&source);
    }
}

/// A well-formed expression, fully parenthesised so that precedence never changes its shape.
/// Variables `@v0` and `@v1` appear only when `variables` is set.
fn expression(variables: bool) -> impl Strategy<Value = String> {
    let mut leaves = vec![
        any::<u32>().prop_map(|n| n.to_string()).boxed(),
        (0u32..10_000, 1u32..1000).prop_map(|(whole, fraction)| format!("{whole}.{fraction}")).boxed(),
        "[a-z0-9 ]{0,8}".prop_map(|text| format!("'{text}'")).boxed(),
        "[a-z0-9]{0,8}".prop_map(|text| format!("\"{text}\"")).boxed(),
        prop::sample::select(vec![
            "TRUE",
            "FALSE",
            "NULL",
            "temperature",
            "device_id",
            "state.reported.temp",
            "state.value",
            "a.end",
            "readings",
        ])
        .prop_map(str::to_owned)
        .boxed(),
    ];
    if variables {
        leaves.push(prop::sample::select(vec!["@v0", "@v1"]).prop_map(str::to_owned).boxed());
    }
    let leaf = prop::strategy::Union::new(leaves);
    leaf.prop_recursive(4, 48, 3, |inner| {
        let one = inner.clone();
        let two = (inner.clone(), inner.clone());
        prop_oneof![
            (two.clone(), prop::sample::select(vec!["+", "-", "*", "/", "%", "AND", "OR"]))
                .prop_map(|((lhs, rhs), op)| format!("({lhs}) {op} ({rhs})")),
            (two.clone(), prop::sample::select(vec!["=", "<>", "<", "<=", ">", ">="]))
                .prop_map(|((lhs, rhs), op)| format!("({lhs}) {op} ({rhs})")),
            one.clone().prop_map(|operand| format!("NOT ({operand})")),
            one.clone().prop_map(|operand| format!("-({operand})")),
            (
                one.clone(),
                prop::sample::select(vec!["abs", "upper", "lower", "round", "isNull", "isUndefined", "length"])
            )
                .prop_map(|(arg, function)| format!("{function}({arg})")),
            (two.clone(), prop::sample::select(vec!["mod", "power", "get", "get_or_default", "startswith", "concat"]))
                .prop_map(|((a, b), function)| format!("{function}({a}, {b})")),
            (one.clone(), prop::sample::select(vec!["'[0-9]+'", "'^a.*b$'", "'(on|off)'"]))
                .prop_map(|(arg, pattern)| format!("regexp_matches({arg}, {pattern})")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("substring({a}, {b}, {c})")),
            one.clone().prop_map(|arg| format!("encode({arg}, 'base64')")),
            Just("timestamp()".to_owned()),
            Just("newuuid()".to_owned()),
            Just("topic(2)".to_owned()),
            (one.clone(), prop::sample::select(vec!["Int", "String", "Decimal", "Boolean", "Double"]))
                .prop_map(|(value, target)| format!("cast({value} AS {target})")),
            (inner.clone(), prop::collection::vec(two.clone(), 1..3), prop::option::of(inner.clone())).prop_map(
                |(subject, branches, otherwise)| {
                    let mut case = format!("CASE {subject}");
                    for (when, then) in branches {
                        case.push_str(&format!(" WHEN {when} THEN {then}"));
                    }
                    if let Some(otherwise) = otherwise {
                        case.push_str(&format!(" ELSE {otherwise}"));
                    }
                    case + " END"
                }
            ),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|values| {
                let entries: Vec<String> =
                    values.iter().enumerate().map(|(i, value)| format!("'k{i}': {value}")).collect();
                format!("{{{}}}", entries.join(", "))
            }),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|items| format!("[{}]", items.join(", "))),
            (one.clone(), prop::option::of(one.clone())).prop_map(|(value, condition)| {
                let filter = condition.map(|condition| format!(" WHERE {condition}")).unwrap_or_default();
                format!("(SELECT VALUE {value} FROM readings{filter})")
            }),
        ]
    })
}

fn topic_filter() -> impl Strategy<Value = String> {
    let level = prop::sample::select(vec!["sensors", "+", "room-1", "$aws", "things", "a b", "é"]);
    (prop::collection::vec(level, 1..7), any::<bool>()).prop_map(|(levels, hash)| {
        let mut filter = levels.join("/");
        if hash {
            filter.push_str("/#");
        }
        format!("'{filter}'")
    })
}

fn statement_with(variables: bool) -> impl Strategy<Value = String> {
    let item = (expression(variables), prop::sample::select(vec!["", "out.", "state.reported."]));
    let select = prop_oneof![
        4 => prop::collection::vec(item, 1..4).prop_map(|items| {
            let items: Vec<String> = items
                .into_iter()
                .enumerate()
                .map(|(i, (expr, prefix))| format!("{expr} AS {prefix}a{i}"))
                .collect();
            items.join(", ")
        }),
        1 => expression(variables).prop_map(|value| format!("VALUE {value}")),
        1 => Just("*".to_owned()),
    ];
    let set = if variables {
        (expression(false), expression(false)).prop_map(|(v0, v1)| format!("SET @v0 = {v0}, @v1 = {v1} ")).boxed()
    } else {
        Just(String::new()).boxed()
    };
    (set, select, topic_filter(), prop::option::of(expression(variables))).prop_map(
        |(set, select, filter, condition)| {
            let condition = condition.map(|condition| format!(" WHERE {condition}")).unwrap_or_default();
            format!("{set}SELECT {select} FROM {filter}{condition}")
        },
    )
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn generated_statements_are_accepted(source in prop_oneof![statement_with(false), statement_with(true)]) {
        let checked = check_sql(&source, SqlVersion::V2016_03_23);
        let errors: Vec<&Diagnostic> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
        prop_assert!(errors.is_empty(), "{source}\n{errors:#?}");
        for diagnostic in &checked.diagnostics {
            assert_well_formed(&source, diagnostic);
        }
    }
}
