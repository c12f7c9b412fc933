//! Policy variables: finding each `${...}` in a resource or condition value, and substituting
//! it for a connection. Substituted text is always literal, never a pattern.
//!
//! The rules, from IAM and AWS IoT's policy variable pages (choices where AWS is silent are
//! recorded in `docs/iot-policies.md`):
//! - `${*}`, `${?}` and `${$}` stand for the literal characters.
//! - `${name, 'default'}` gives `default` when `name` has no value (IAM's default values).
//! - A variable with no value leaves the whole entry unresolved (`None`): a resource entry
//!   then matches nothing, a string condition value equals nothing.
//! - A multi-valued key (`.List`, `iot:ConnectAttributes`, `iot:Certificate.AvailableKeys`) has
//!   no single value, so it is never substituted.
//! - A certificate value holding `*`, `$`, `+`, `?` or `#`, or longer than 1,024 characters,
//!   is not substituted: the `${...}` stays as written. Other certificate values are
//!   substituted with `,` `"` `\` `+` `=` `<` `>` `;` each escaped by a backslash.
//! - In a resource, nothing before the fifth colon of the ARN is substituted.
//! - Under `Version` 2008-10-17 nothing is substituted: `${...}` is text like any other.

use std::borrow::Cow;

use super::context::{Context, strip_prefix_ignore_case};
use super::glob::{self, Token};

/// One `${...}` in policy text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Variable<'a> {
    /// Byte offsets of the `$` and just past the `}`.
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) name: &'a str,
    /// The text of `${name, 'default'}`.
    pub(crate) default: Option<&'a str>,
}

/// Every complete `${...}` in `text`, in order: from `${` to the first `}`. A `${` without a
/// closing `}` is plain text.
pub(crate) fn scan(text: &str) -> impl Iterator<Item = Variable<'_>> {
    let mut from = 0;
    std::iter::from_fn(move || {
        let start = from + text.get(from..)?.find("${")?;
        let close = start + text.get(start..)?.find('}')?;
        from = close + 1;
        let (name, default) = name_and_default(text.get(start + 2..close)?);
        Some(Variable { start, end: close + 1, name, default })
    })
}

/// `name, 'default'`: a comma, any spaces, then text in single quotes (IAM's syntax). Anything
/// else is all name.
fn name_and_default(inner: &str) -> (&str, Option<&str>) {
    if let Some((name, rest)) = inner.split_once(',') {
        let quoted = rest.trim_start_matches(' ');
        let default = quoted.strip_prefix('\'').and_then(|quoted| quoted.strip_suffix('\''));
        if let Some(default) = default.filter(|default| !default.contains('\'') && !name.is_empty()) {
            return (name, Some(default));
        }
    }
    (inner, None)
}

/// The byte offset of the fifth colon of an ARN, not counting colons inside `${...}`: where
/// the resource part, the only part variables are substituted in, begins (after it).
pub(crate) fn fifth_colon(text: &str) -> Option<usize> {
    let mut seen = 0;
    let mut at = 0;
    let mut variables = scan(text).peekable();
    while let Some(offset) = text.get(at..)?.find(':').map(|offset| at + offset) {
        while variables.peek().is_some_and(|variable| variable.end <= offset) {
            variables.next();
        }
        let inside = variables.peek().is_some_and(|variable| variable.start < offset);
        if !inside {
            seen += 1;
            if seen == 5 {
                return Some(offset);
            }
        }
        at = offset + 1;
    }
    None
}

/// Where substitution starts in a resource entry: after the fifth colon of an ARN (the whole
/// entry when it has no resource part).
pub(crate) fn resource_part_start(text: &str) -> usize {
    if !text.starts_with("arn:") {
        return 0;
    }
    fifth_colon(text).map_or(text.len(), |colon| colon + 1)
}

/// Compiles pattern text with its policy variables from byte `from` on substituted as literal
/// text; `None` when one has no value, so the entry matches nothing. `variables` is false
/// under `Version` 2008-10-17.
pub(crate) fn substitute(text: &str, from: usize, context: &Context, variables: bool) -> Option<Vec<Token>> {
    if !variables {
        return Some(glob::tokens(text));
    }
    let mut tokens = Vec::with_capacity(text.len());
    let mut at = 0;
    for variable in scan(text).filter(|variable| variable.start >= from) {
        tokens.extend(glob::tokens(text.get(at..variable.start)?));
        let value = resolve(&variable, text, context)?;
        tokens.extend(value.chars().map(Token::Literal));
        at = variable.end;
    }
    tokens.extend(glob::tokens(text.get(at..)?));
    Some(tokens)
}

/// Condition text with its variables substituted; `None` when one has no value.
pub(crate) fn substitute_text(text: &str, context: &Context, variables: bool) -> Option<String> {
    let tokens = substitute(text, 0, context, variables)?;
    Some(
        tokens
            .into_iter()
            .map(|token| match token {
                Token::Star => '*',
                Token::One => '?',
                Token::Literal(c) => c,
            })
            .collect(),
    )
}

/// Adds the variables in `text` from byte `from` on that the connection has no value for and
/// that give no default, as TestAuthorization's `missingContextValues` lists them.
pub(crate) fn missing(text: &str, from: usize, context: &Context, variables: bool, missing: &mut Vec<String>) {
    if !variables {
        return;
    }
    for variable in scan(text).filter(|variable| variable.start >= from && variable.default.is_none()) {
        let special = matches!(variable.name, "*" | "?" | "$");
        if !special && context.values(variable.name).is_none_or(|values| values.is_empty()) {
            missing.push(variable.name.to_owned());
        }
    }
}

/// The literal text `variable` stands for, or `None` when it has no value and no default.
fn resolve<'a>(variable: &Variable<'a>, text: &'a str, context: &Context) -> Option<Cow<'a, str>> {
    let name = variable.name;
    if matches!(name, "*" | "?" | "$") {
        return Some(Cow::Borrowed(name));
    }
    let Some(value) = context.variable(name) else {
        return variable.default.map(Cow::Borrowed);
    };
    if strip_prefix_ignore_case(name, "iot:Certificate.").is_none() {
        return Some(Cow::Owned(value));
    }
    if value.contains(['*', '$', '+', '?', '#']) || value.chars().count() > 1024 {
        // Not substituted: the default when there is one, else the variable as written.
        return match variable.default {
            Some(default) => Some(Cow::Borrowed(default)),
            None => text.get(variable.start..variable.end).map(Cow::Borrowed),
        };
    }
    Some(Cow::Owned(escape(&value)))
}

/// AWS's escaping of certificate values: a backslash before each of `,` `"` `\` `+` `=` `<`
/// `>` `;`.
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, ',' | '"' | '\\' | '+' | '=' | '<' | '>' | ';') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(&str, Option<&str>)> {
        scan(text).map(|variable| (variable.name, variable.default)).collect()
    }

    #[test]
    fn variables_and_defaults_are_found() {
        assert_eq!(names("a/${x}/${y, 'd'}/${z,'e f'}/${"), [("x", None), ("y", Some("d")), ("z", Some("e f"))]);
        assert_eq!(
            names("${y, d}${y, 'd}${, 'd'}${y, 'a'b'}"),
            [("y, d", None), ("y, 'd", None), (", 'd'", None), ("y, 'a'b'", None)]
        );
        assert_eq!(names("${}"), [("", None)]);
    }

    #[test]
    fn the_fifth_colon_skips_variables() {
        let text = "arn:aws:iot:${iot:ClientId}:1:topic/a:b";
        assert_eq!(fifth_colon(text), text.find(":topic"));
        assert_eq!(resource_part_start("arn:aws:iot:r:1"), "arn:aws:iot:r:1".len());
        assert_eq!(resource_part_start("*"), 0);
    }

    #[test]
    fn certificate_values_are_escaped_or_kept_as_written() {
        let mut context = Context::default();
        context.subject.insert("CommonName".to_owned(), vec!["a,b=\"c\";<d>\\".to_owned(), "e*".to_owned()]);
        let text = |pattern: &str| substitute_text(pattern, &context, true);
        assert_eq!(text("${iot:Certificate.Subject.CommonName}").as_deref(), Some(r#"a\,b\=\"c\"\;\<d\>\\"#));
        assert_eq!(
            text("${iot:Certificate.Subject.CommonName.1}").as_deref(),
            Some("${iot:Certificate.Subject.CommonName.1}")
        );
        assert_eq!(text("${iot:Certificate.Subject.CommonName.1, 'x'}").as_deref(), Some("x"));
        assert_eq!(text("${iot:Certificate.Subject.CommonName.2}"), None);
        assert_eq!(text("${iot:Certificate.Subject.CommonName.2, ''}").as_deref(), Some(""));
        assert_eq!(text("${iot:Certificate.Subject.CommonName.List}"), None);
        assert_eq!(substitute_text("${iot:ClientId}", &context, false).as_deref(), Some("${iot:ClientId}"));
    }
}
