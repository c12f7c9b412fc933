//! Hover documentation: IoT SQL functions, keywords and cast types (in `.sql` documents and
//! inside a rule file's `sql` string), and policy actions, variables, condition operators and
//! resource types.

use iotrules_compiler::Span;
use iotrules_compiler::docs;
use iotrules_compiler::syntax::lexer::Token;
use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use crate::document::{Document, Kind};
use crate::json::string_at;
use crate::sql::{tokens, word_at};

/// The documentation for what lies at `offset`, with the span it covers.
pub fn hover(document: &Document, offset: usize) -> Option<Hover> {
    let (markdown, span) = match document.kind() {
        Kind::Policy => policy_hover(document.text(), offset)?,
        Kind::OtherJson | Kind::Config => return None,
        Kind::Sql | Kind::RuleFile => {
            let view = document.sql()?;
            let (markdown, span) = sql_hover(view.sql, view.to_sql(offset)?)?;
            (markdown, view.span_to_document(span))
        }
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: markdown }),
        range: Some(document.range(span)),
    })
}

fn sql_hover(sql: &str, offset: usize) -> Option<(String, Span)> {
    let tokens = tokens(sql);
    let at = word_at(&tokens, offset)?;
    let (span, token) = tokens.get(at)?;
    let next = tokens.get(at + 1).map(|(_, token)| token);
    let previous = at.checked_sub(1).and_then(|index| tokens.get(index)).map(|(_, token)| token);
    let markdown = match token {
        Token::Ident(name) if next == Some(&Token::LParen) => docs::function_markdown(name)?,
        Token::Ident(name) if previous == Some(&Token::As) && next == Some(&Token::RParen) => {
            docs::cast_type_markdown(name)?
        }
        Token::Ident(_) => return None,
        _ => {
            let word = sql.get(span.start..span.end)?;
            format!("**{}**\n\n{}", word.to_ascii_uppercase(), docs::keyword(word)?)
        }
    };
    Some((markdown, *span))
}

fn policy_hover(text: &str, offset: usize) -> Option<(String, Span)> {
    let string = string_at(text, offset)?;
    let content = text.get(string.content.start..string.content.end)?;
    if let Some(variable) = variable_at(content, offset - string.content.start) {
        let span = Span::new(string.content.start + variable.start, string.content.start + variable.end);
        let name = content.get(variable.start + 2..variable.end - 1)?;
        return docs::variable_markdown(name).map(|markdown| (markdown, span));
    }
    let markdown = docs::action_markdown(content)
        .or_else(|| docs::operator_markdown(content))
        .or_else(|| resource_markdown(content))?;
    Some((markdown, string.content))
}

/// The `${...}` around `offset` in a string's content.
fn variable_at(content: &str, offset: usize) -> Option<Span> {
    let start = content.get(..offset.min(content.len()))?.rfind("${")?;
    let end = start + content.get(start..)?.find('}')? + 1;
    (offset < end).then_some(Span::new(start, end))
}

/// The resource type of an AWS IoT ARN.
fn resource_markdown(content: &str) -> Option<String> {
    let rest = content.strip_prefix("arn:aws:iot:")?;
    let resource = rest.splitn(3, ':').nth(2)?;
    let kind = resource.split('/').next()?;
    docs::ARN_RESOURCES.iter().find_map(|(prefix, text)| {
        let documented = prefix.rsplit(':').next()?.trim_end_matches('/');
        (documented == kind).then(|| format!("**`{kind}/`** resource\n\n{text}"))
    })
}
