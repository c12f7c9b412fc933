//! Documentation of the languages, for editors: every IoT SQL function, keyword and cast type,
//! and every policy action, variable, condition operator and resource type. One table per
//! kind; the language server renders hovers, completions and signature help from them.
//!
//! Arity, parameter kinds, result types and versions are read from `check::functions`, so the
//! documentation cannot drift from what the checker enforces; only the prose lives here.

mod functions;
mod policy;

pub use functions::{FUNCTION_DOCS, FunctionDoc};
pub use policy::{ACTION_DOCS, ARN_RESOURCES, OPERATOR_DOCS, VARIABLE_DOCS};

use crate::check::functions::{Arity, CAST_TARGETS, lookup};
use crate::policy::Operator;

/// IoT SQL keywords and what each does.
pub static KEYWORDS: &[(&str, &str)] = &[
    ("SELECT", "Starts a statement or a nested query: the values the rule publishes, `*` for the whole payload."),
    (
        "FROM",
        "The MQTT topic filter, in quotes, whose messages the rule receives; in a nested query, the array it iterates (`FROM *`: the row it stands in; `AS name` names the element).",
    ),
    ("WHERE", "The condition a message must meet for the rule to fire; anything but Boolean `true` skips the message."),
    ("SET", "Assigns `@variables` before the SELECT list (SQL 2016-03-23 and later)."),
    ("AS", "Names a SELECT item's output key (`a.b` nests it); inside `cast`, names the target type."),
    ("VALUE", "`SELECT VALUE expr` publishes the value itself rather than an object of named items."),
    (
        "AND",
        "Boolean AND, read left to right: `false AND x` is false without `x`; Undefined when the left side is not Boolean.",
    ),
    (
        "OR",
        "Boolean OR, read left to right: `true OR x` is true without `x`; Undefined when the left side is not Boolean.",
    ),
    (
        "IN",
        "`x IN array`: whether some element of the array equals `x`; Undefined when the right side is not an array.",
    ),
    ("NOT", "Boolean negation; Undefined for anything but a Boolean."),
    (
        "CASE",
        "`CASE value WHEN match THEN result ... [ELSE result] END` picks the result of the first matching branch.",
    ),
    ("WHEN", "A branch of `CASE`: the value it compares against."),
    ("THEN", "A branch of `CASE`: the result when the branch matches."),
    ("ELSE", "The result of `CASE` when no branch matches; Undefined without it."),
    ("END", "Closes a `CASE` expression."),
    ("TRUE", "The Boolean true."),
    ("FALSE", "The Boolean false."),
    ("NULL", "The JSON null; different from Undefined, which stands for a missing value."),
];

/// The documentation of a keyword, ignoring case.
pub fn keyword(word: &str) -> Option<&'static str> {
    KEYWORDS.iter().find(|(name, _)| name.eq_ignore_ascii_case(word)).map(|(_, text)| *text)
}

/// The documentation of an IoT SQL function, ignoring case.
pub fn function_doc(name: &str) -> Option<&'static FunctionDoc> {
    FUNCTION_DOCS.iter().find(|doc| doc.name.eq_ignore_ascii_case(name))
}

/// A call's label with its parameters, such as `substring(text, start, [end])`, and the byte
/// range of each parameter inside the label, for signature help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub label: String,
    pub params: Vec<(usize, usize)>,
    /// The last parameter stands for any number of arguments.
    pub variadic: bool,
}

/// The signature of a function, ignoring case.
pub fn signature(name: &str) -> Option<Signature> {
    let doc = function_doc(name)?;
    let mut label = format!("{}(", doc.name);
    let mut params = Vec::new();
    for (index, param) in doc.params.iter().enumerate() {
        if index > 0 {
            label.push_str(", ");
        }
        params.push((label.len(), label.len() + param.len()));
        label.push_str(param);
    }
    label.push(')');
    let variadic = lookup(name).is_some_and(|function| matches!(function.arity, Arity::AtLeast(_)));
    Some(Signature { label, params, variadic })
}

/// Markdown for a function: signature, argument and result types, SQL version, an example.
pub fn function_markdown(name: &str) -> Option<String> {
    let doc = function_doc(name)?;
    let signature = signature(name)?;
    let mut text = format!("```iotsql\n{}\n```\n\n{}\n\n", signature.label, doc.summary);
    match lookup(name) {
        Some(function) => {
            text.push_str(&format!("- takes {}\n", function.arity.describe()));
            let shown = match function.arity {
                Arity::Range(_, max) => max,
                Arity::OneOf(counts) => counts.iter().copied().max().unwrap_or(0),
                Arity::AtLeast(min) => min.max(1),
            };
            for index in 0..shown {
                let param = doc.params.get(index).copied().unwrap_or("value");
                let repeat = if matches!(function.arity, Arity::AtLeast(_)) { ", repeating" } else { "" };
                text.push_str(&format!("- `{param}`: {}{repeat}\n", function.param(index).describe()));
            }
            text.push_str(&format!("- returns {}\n", function.result.with_article()));
            text.push_str(&format!("- SQL version {} and later\n", function.since));
        }
        None => {
            let types: Vec<String> =
                CAST_TARGETS.iter().map(|(keyword, _, since)| format!("`{keyword}` ({since} and later)")).collect();
            text.push_str(&format!("- type keywords: {}\n", types.join(", ")));
        }
    }
    text.push_str(&format!("\nExample: `{}`", doc.example));
    Some(text)
}

/// Markdown for a `cast` type keyword, ignoring case.
pub fn cast_type_markdown(word: &str) -> Option<String> {
    let (keyword, _, since) = CAST_TARGETS.iter().find(|(name, _, _)| name.eq_ignore_ascii_case(word))?;
    Some(format!("`{keyword}`: a `cast` target type, SQL version {since} and later"))
}

/// Markdown for a policy action, ignoring case.
pub fn action_markdown(action: &str) -> Option<String> {
    let (name, text) = ACTION_DOCS.iter().find(|(name, _)| name.eq_ignore_ascii_case(action))?;
    Some(format!("**{name}**\n\n{text}"))
}

/// Markdown for a policy variable written as inside `${...}`, ignoring case.
pub fn variable_markdown(variable: &str) -> Option<String> {
    let (name, text) = VARIABLE_DOCS.iter().find(|(name, _)| name.eq_ignore_ascii_case(variable))?;
    Some(format!("**${{{name}}}**\n\n{text}"))
}

/// Markdown for a condition operator, with its `ForAnyValue:`/`ForAllValues:` qualifier and
/// `IfExists` suffix explained.
pub fn operator_markdown(operator: &str) -> Option<String> {
    let parsed = Operator::parse(operator)?;
    let name = crate::policy::Test::ALL.iter().find(|(test, _)| *test == parsed.test).map(|(_, name)| *name)?;
    let (_, text) = OPERATOR_DOCS.iter().find(|(documented, _)| *documented == name)?;
    let mut markdown = format!("**{operator}**\n\n`{name}`: {text}");
    match parsed.set {
        crate::policy::SetQualifier::AnyValue => {
            markdown.push_str("\n\n`ForAnyValue:` holds when at least one value of a multi-valued key matches.")
        }
        crate::policy::SetQualifier::AllValues => {
            markdown.push_str("\n\n`ForAllValues:` holds when every value of a multi-valued key matches.")
        }
        crate::policy::SetQualifier::Single => {}
    }
    if parsed.if_exists {
        markdown.push_str("\n\n`IfExists`: also holds when the key is missing from the request.");
    }
    Some(markdown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::functions::FUNCTIONS;
    use crate::policy::{ACTIONS, Test, VARIABLES};

    #[test]
    fn every_function_the_checker_knows_is_documented() {
        for function in FUNCTIONS {
            let markdown = function_markdown(function.name);
            assert!(markdown.as_ref().is_some_and(|text| text.contains("Example")), "{}", function.name);
            let doc = function_doc(function.name).map(|doc| doc.params.len());
            if let crate::check::functions::Arity::Range(_, max) = function.arity {
                assert_eq!(doc, Some(max), "parameter names of `{}`", function.name);
            }
        }
        assert!(function_markdown("cast").is_some());
        assert_eq!(FUNCTION_DOCS.len(), FUNCTIONS.len() + 1, "a documented function the checker does not know");
    }

    #[test]
    fn every_policy_name_is_documented() {
        for action in ACTIONS {
            assert!(action_markdown(action).is_some(), "{action}");
        }
        for variable in VARIABLES {
            assert!(variable_markdown(variable).is_some(), "{variable}");
        }
        for (_, name) in Test::ALL {
            assert!(operator_markdown(name).is_some(), "{name}");
        }
        assert_eq!(ACTION_DOCS.len(), ACTIONS.len());
        assert_eq!(OPERATOR_DOCS.len(), Test::ALL.len());
    }

    #[test]
    fn signature_ranges_point_at_parameter_names() {
        let signature = signature("SUBSTRING").unwrap();
        let names: Vec<&str> =
            signature.params.iter().filter_map(|(start, end)| signature.label.get(*start..*end)).collect();
        assert_eq!(names, ["text", "start", "[end]"]);
        assert!(operator_markdown("ForAnyValue:StringLikeIfExists").is_some_and(|text| text.contains("IfExists")));
    }
}
