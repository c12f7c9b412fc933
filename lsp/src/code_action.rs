//! Quick fixes: every diagnostic whose help line reads "did you mean `X`?" offers to replace
//! the text it points at with `X`.

use std::collections::HashMap;

use iotrules_compiler::{Diagnostic, Span};
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Uri, WorkspaceEdit,
};

use crate::document::{Document, Kind};

/// The quick fixes for diagnostics overlapping `range`.
pub fn quick_fixes(document: &Document, uri: &Uri, range: Range) -> Vec<CodeActionOrCommand> {
    let start = document.offset(range.start);
    let end = document.offset(range.end);
    document
        .diagnostics()
        .iter()
        .filter(|diagnostic| {
            let span = diagnostic.span();
            span.start <= end && start <= span.end
        })
        .filter_map(|diagnostic| {
            let suggestion = suggestion(diagnostic)?;
            let (span, new_text) = replacement(document, diagnostic.span(), suggestion)?;
            let edit = TextEdit { range: document.range(span), new_text };
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("Replace with `{suggestion}`"),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![document.to_lsp(uri, diagnostic)]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(true),
                ..CodeAction::default()
            }))
        })
        .collect()
}

/// The `X` of a help line reading "did you mean `X`?".
pub fn suggestion(diagnostic: &Diagnostic) -> Option<&str> {
    let help = diagnostic.help.as_deref()?;
    let rest = help.get(help.find("did you mean `")? + "did you mean `".len()..)?;
    rest.get(..rest.find("`?")?)
}

/// What to replace: a diagnostic on a whole JSON string keeps the quotes, and text going into
/// JSON is escaped as JSON. A `${...}` suggestion replaces only a `${...}`: its diagnostic
/// covers the whole string when escapes hide the variable's exact place.
fn replacement(document: &Document, span: Span, suggestion: &str) -> Option<(Span, String)> {
    let text = document.text().get(span.start..span.end)?;
    if suggestion.starts_with("${") && !text.starts_with("${") {
        return None;
    }
    if document.kind() == Kind::Sql {
        return Some((span, suggestion.to_owned()));
    }
    let escaped = serde_json::to_string(suggestion).unwrap_or_default();
    let escaped = escaped.get(1..escaped.len().saturating_sub(1)).unwrap_or(suggestion).to_owned();
    if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        Some((Span::new(span.start + 1, span.end - 1), escaped))
    } else {
        Some((span, escaped))
    }
}
