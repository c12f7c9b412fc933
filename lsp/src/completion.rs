//! Completion and signature help. In IoT SQL: functions as snippets with their parameters,
//! keywords, and cast types after `AS` inside `cast(`. In policies, by the member the cursor is
//! in: actions, ARN resource prefixes, condition operators, `Effect` values, and policy
//! variables after `${`.

use iotrules_compiler::Span;
use iotrules_compiler::check::functions::CAST_TARGETS;
use iotrules_compiler::docs::{
    self, ACTION_DOCS, ARN_RESOURCES, FUNCTION_DOCS, KEYWORDS, OPERATOR_DOCS, VARIABLE_DOCS,
};
use iotrules_compiler::policy::POLICY_VERSION;
use iotrules_compiler::syntax::lexer::Token;
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat, MarkupContent, MarkupKind,
    ParameterInformation, ParameterLabel, SignatureHelp, SignatureInformation, TextEdit,
};

use crate::document::{Document, Kind};
use crate::json::{last_key_before, string_at};
use crate::sql::{is_word, tokens};

/// The completions at `offset`.
pub fn completions(document: &Document, offset: usize) -> Vec<CompletionItem> {
    match document.kind() {
        Kind::Policy => policy_completions(document, offset),
        Kind::OtherJson | Kind::Config => Vec::new(),
        Kind::Sql | Kind::RuleFile => {
            let Some(view) = document.sql() else { return Vec::new() };
            match view.to_sql(offset) {
                Some(offset) => sql_completions(view.sql, offset),
                None => Vec::new(),
            }
        }
    }
}

/// The signature of the innermost function call around `offset`, with the argument the
/// cursor is in.
pub fn signature_help(document: &Document, offset: usize) -> Option<SignatureHelp> {
    let view = document.sql()?;
    let offset = view.to_sql(offset)?;
    let (name, argument) = enclosing_call(view.sql, offset)?;
    let signature = docs::signature(&name)?;
    let parameters: Vec<ParameterInformation> = signature
        .params
        .iter()
        .map(|(start, end)| ParameterInformation {
            label: ParameterLabel::LabelOffsets([
                utf16_len(&signature.label, *start),
                utf16_len(&signature.label, *end),
            ]),
            documentation: None,
        })
        .collect();
    let last = parameters.len().saturating_sub(1);
    let active = if signature.variadic { argument.min(last) } else { argument };
    Some(SignatureHelp {
        signatures: vec![SignatureInformation {
            label: signature.label.clone(),
            documentation: docs::function_markdown(&name).map(markdown),
            parameters: Some(parameters),
            active_parameter: u32::try_from(active).ok(),
        }],
        active_signature: Some(0),
        active_parameter: u32::try_from(active).ok(),
    })
}

/// Offsets into a signature label count UTF-16 units, as positions do.
fn utf16_len(label: &str, end: usize) -> u32 {
    let units: usize = label.get(..end).unwrap_or(label).chars().map(char::len_utf16).sum();
    u32::try_from(units).unwrap_or(u32::MAX)
}

fn markdown(value: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value })
}

fn sql_completions(sql: &str, offset: usize) -> Vec<CompletionItem> {
    let tokens = tokens(sql);
    // Nothing to complete inside a string literal or unreadable input.
    let inside_literal = tokens.iter().any(|(span, token)| match token {
        Token::String(_) | Token::Integer(_) | Token::Decimal(_) | Token::Variable(_) => {
            span.start < offset && offset < span.end
        }
        // An unterminated string runs to the end of the text.
        Token::Error => span.start < offset && offset <= span.end,
        _ => false,
    });
    if inside_literal {
        return Vec::new();
    }
    let before: Vec<&Token<'_>> = tokens
        .iter()
        .filter(|(span, token)| span.end < offset || (span.end == offset && !is_word(token)))
        .map(|(_, token)| token)
        .collect();
    if before.last() == Some(&&Token::As)
        && enclosing_call(sql, offset).is_some_and(|(name, _)| name.eq_ignore_ascii_case("cast"))
    {
        return CAST_TARGETS
            .iter()
            .map(|(keyword, _, since)| CompletionItem {
                label: (*keyword).to_owned(),
                kind: Some(CompletionItemKind::TYPE_PARAMETER),
                detail: Some(format!("cast type, SQL {since} and later")),
                ..CompletionItem::default()
            })
            .collect();
    }
    let functions = FUNCTION_DOCS.iter().map(|doc| {
        let placeholders: Vec<String> = doc
            .params
            .iter()
            .filter(|param| !param.starts_with('[') && **param != "...")
            .enumerate()
            .map(|(index, param)| format!("${{{}:{param}}}", index + 1))
            .collect();
        CompletionItem {
            label: doc.name.to_owned(),
            kind: Some(CompletionItemKind::FUNCTION),
            detail: docs::signature(doc.name).map(|signature| signature.label),
            documentation: docs::function_markdown(doc.name).map(markdown),
            insert_text: Some(format!("{}({})", doc.name, placeholders.join(", "))),
            insert_text_format: Some(InsertTextFormat::SNIPPET),
            ..CompletionItem::default()
        }
    });
    let keywords = KEYWORDS.iter().map(|(keyword, text)| CompletionItem {
        label: (*keyword).to_owned(),
        kind: Some(CompletionItemKind::KEYWORD),
        documentation: Some(markdown((*text).to_owned())),
        ..CompletionItem::default()
    });
    functions.chain(keywords).collect()
}

/// The function whose argument list holds `offset`, and the 0-based argument the cursor is in.
fn enclosing_call(sql: &str, offset: usize) -> Option<(String, usize)> {
    // One entry per open bracket: the function it calls (for `(` after a name) and the commas
    // seen at its level.
    let mut open: Vec<(Option<String>, usize)> = Vec::new();
    let mut previous: Option<Token<'_>> = None;
    for (span, token) in tokens(sql) {
        if span.start >= offset {
            break;
        }
        match &token {
            Token::LParen => {
                let function = match &previous {
                    Some(Token::Ident(name)) => Some((*name).to_owned()),
                    _ => None,
                };
                open.push((function, 0));
            }
            Token::LBracket | Token::LBrace => open.push((None, 0)),
            Token::RParen | Token::RBracket | Token::RBrace => {
                open.pop();
            }
            Token::Comma => {
                if let Some((_, commas)) = open.last_mut() {
                    *commas += 1;
                }
            }
            _ => {}
        }
        previous = Some(token);
    }
    let (function, commas) = open.pop()?;
    Some((function?, commas))
}

fn policy_completions(document: &Document, offset: usize) -> Vec<CompletionItem> {
    let text = document.text();
    let Some(string) = string_at(text, offset) else { return Vec::new() };
    let typed = text.get(string.content.start..offset).unwrap_or_default();
    let replace = |from: usize| document.range(Span::new(from, offset));
    let item = |label: &str, kind: CompletionItemKind, doc: &str, from: usize, insert: String| CompletionItem {
        label: label.to_owned(),
        kind: Some(kind),
        documentation: Some(markdown(doc.to_owned())),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit { range: replace(from), new_text: insert })),
        ..CompletionItem::default()
    };
    if let Some(open) = typed.rfind("${").filter(|open| !typed.get(*open..).unwrap_or_default().contains('}')) {
        let from = string.content.start + open + 2;
        return VARIABLE_DOCS
            .iter()
            .map(|(name, doc)| item(name, CompletionItemKind::VARIABLE, doc, from, format!("{name}}}")))
            .collect();
    }
    let from = string.content.start;
    let keys = ["Action", "NotAction", "Resource", "NotResource", "Condition", "Effect", "Version"];
    match last_key_before(text, string.literal.start, &keys) {
        Some("Action" | "NotAction") => ACTION_DOCS
            .iter()
            .map(|(name, doc)| item(name, CompletionItemKind::VALUE, doc, from, (*name).to_owned()))
            .collect(),
        Some("Resource" | "NotResource") => ARN_RESOURCES
            .iter()
            .map(|(prefix, doc)| item(prefix, CompletionItemKind::REFERENCE, doc, from, (*prefix).to_owned()))
            .chain(std::iter::once(item("*", CompletionItemKind::VALUE, "Every resource.", from, "*".to_owned())))
            .collect(),
        Some("Condition") => OPERATOR_DOCS
            .iter()
            .map(|(name, doc)| item(name, CompletionItemKind::OPERATOR, doc, from, (*name).to_owned()))
            .collect(),
        Some("Effect") => ["Allow", "Deny"]
            .iter()
            .map(|effect| {
                item(effect, CompletionItemKind::ENUM_MEMBER, "The statement's effect.", from, (*effect).to_owned())
            })
            .collect(),
        Some("Version") => {
            vec![item(
                POLICY_VERSION,
                CompletionItemKind::CONSTANT,
                "The one policy version.",
                from,
                POLICY_VERSION.to_owned(),
            )]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::enclosing_call;

    #[test]
    fn finds_the_argument_under_the_cursor() {
        let sql = "SELECT substring(a, lower(b), [1, 2]) FROM 't'";
        let at = |needle: &str| sql.find(needle).unwrap_or_default();
        assert_eq!(enclosing_call(sql, at("a,")), Some(("substring".to_owned(), 0)));
        assert_eq!(enclosing_call(sql, at("b)")), Some(("lower".to_owned(), 0)));
        assert_eq!(enclosing_call(sql, at("[1")), Some(("substring".to_owned(), 2)));
        assert_eq!(enclosing_call(sql, at("2]")), None);
        assert_eq!(enclosing_call(sql, at("FROM")), None);
    }
}
