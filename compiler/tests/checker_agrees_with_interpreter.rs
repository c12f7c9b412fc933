//! The checker's static types and the interpreter must agree: whenever the checker warns that
//! an expression is always Undefined, evaluating it gives Undefined. Expressions are built
//! from literals, operators, casts and functions, so every operand's type is known.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use iotrules_compiler::eval::{Environment, Message, Outcome, Rule, evaluate};
use iotrules_compiler::{Code, SqlVersion, check_sql};
use proptest::prelude::*;

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_owned()),
        Just("-2.5".to_owned()),
        Just("0".to_owned()),
        Just("'12'".to_owned()),
        Just("'-1.5E2'".to_owned()),
        Just("'abc'".to_owned()),
        Just("'TRUE'".to_owned()),
        Just("''".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("null".to_owned()),
        Just("[1, 'a']".to_owned()),
        Just("{'k': 1}".to_owned()),
        Just("missing".to_owned()),
    ]
}

const BINARY: &[&str] = &["+", "-", "*", "/", "%", "=", "<>", "<", ">=", "AND", "OR"];
const UNARY_FUNCTIONS: &[&str] =
    &["abs", "floor", "round", "sqrt", "upper", "length", "md5", "isNull", "chr", "sign", "trim"];
const CASTS: &[&str] = &["Int", "Decimal", "Double", "String", "Boolean"];

fn expression() -> impl Strategy<Value = String> {
    literal().prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), prop::sample::select(BINARY), inner.clone())
                .prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            inner.clone().prop_map(|e| format!("(NOT {e})")),
            inner.clone().prop_map(|e| format!("(-{e})")),
            (prop::sample::select(UNARY_FUNCTIONS), inner.clone()).prop_map(|(f, e)| format!("{f}({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("bitand({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("concat({a}, {b})")),
            (inner.clone(), prop::sample::select(CASTS)).prop_map(|(e, t)| format!("cast({e} AS {t})")),
            (inner.clone(), inner.clone(), inner).prop_map(|(s, w, t)| format!("CASE {s} WHEN {w} THEN {t} END")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn always_undefined_warnings_are_never_wrong(expr in expression()) {
        let sql = format!("SELECT {expr} AS r FROM 't'");
        let checked = check_sql(&sql, SqlVersion::V2016_03_23);
        prop_assume!(!checked.has_errors());
        // A warning names the expression it is about; only one about the whole item counts.
        // Parentheses are not part of an expression's span, so the outer pair is dropped.
        let whole = expr.strip_prefix('(').and_then(|inner| inner.strip_suffix(')')).unwrap_or(&expr);
        let shown: String = if whole.chars().count() > 40 {
            format!("{}…", whole.chars().take(39).collect::<String>())
        } else {
            whole.to_owned()
        };
        let warned = checked
            .diagnostics
            .iter()
            .any(|d| d.code == Code::AlwaysUndefined && d.message == format!("`{shown}` is always Undefined"));
        let statement = checked.statement.as_ref().unwrap();
        let rule = Rule { statement, version: SqlVersion::V2016_03_23, name: None };
        let message = Message { topic: "t", payload: b"{}", ..Message::default() };
        let Ok(Outcome::Fired(bytes)) = evaluate(&rule, &Environment::default(), &message) else {
            return Err(TestCaseError::fail(format!("`{sql}` did not fire")));
        };
        let output = String::from_utf8_lossy(&bytes).into_owned();
        if warned {
            prop_assert_eq!(&output, "{}", "`{}` was warned always Undefined but gave {}", sql, output);
        }
    }
}
