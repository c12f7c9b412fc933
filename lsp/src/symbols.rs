//! The document outline: SET variables, SELECT items (by alias), FROM and WHERE of a
//! statement; a rule file's name around its statement; a policy's statements by `Sid`.

use iotrules_compiler::Span;
use iotrules_compiler::rule_file::{check_rule_file, parse_json};
use iotrules_compiler::syntax::ast::{Select, SelectItem};
use iotrules_compiler::syntax::parse;
use jsonc_parser::ast::{ObjectProp, Value};
use tower_lsp_server::ls_types::{DocumentSymbol, SymbolKind};

use crate::document::{Document, Kind, SqlView};

/// The outline of a document.
pub fn symbols(document: &Document) -> Vec<DocumentSymbol> {
    match document.kind() {
        Kind::Sql => document.sql().map(|view| sql_symbols(document, view)).unwrap_or_default(),
        Kind::RuleFile => {
            let children = document.sql().map(|view| sql_symbols(document, view)).unwrap_or_default();
            let name =
                check_rule_file(document.text()).rule.and_then(|rule| rule.name).unwrap_or_else(|| "rule".to_owned());
            let whole = Span::new(0, document.text().len());
            vec![symbol(document, name, Some("topic rule".to_owned()), SymbolKind::MODULE, whole, whole, children)]
        }
        Kind::Policy => policy_symbols(document),
        Kind::OtherJson | Kind::Config => Vec::new(),
    }
}

fn sql_symbols(document: &Document, view: SqlView<'_>) -> Vec<DocumentSymbol> {
    let Some(statement) = parse(view.sql).statement else { return Vec::new() };
    let text = |span: Span| shorten(view.sql.get(span.start..span.end).unwrap_or_default());
    let make = |name: String, detail: Option<String>, kind: SymbolKind, range: Span, selection: Span| {
        symbol(document, name, detail, kind, view.span_to_document(range), view.span_to_document(selection), Vec::new())
    };
    let mut symbols: Vec<DocumentSymbol> = statement
        .set
        .iter()
        .map(|assignment| {
            let range = assignment.variable.span.cover(assignment.value.span);
            let name = format!("@{}", assignment.variable.text);
            make(name, Some(text(assignment.value.span)), SymbolKind::VARIABLE, range, assignment.variable.span)
        })
        .collect();
    let items: Vec<DocumentSymbol> = match &statement.select {
        Select::Value(expr) => {
            vec![make(text(expr.span), Some("SELECT VALUE".to_owned()), SymbolKind::FIELD, expr.span, expr.span)]
        }
        Select::Items(items) => items
            .iter()
            .filter_map(|item| match item {
                SelectItem::Expr { expr, alias: Some(alias) } => {
                    let name = alias.path.iter().map(|name| name.text.as_str()).collect::<Vec<_>>().join(".");
                    Some(make(name, Some(text(expr.span)), SymbolKind::FIELD, expr.span.cover(alias.span), alias.span))
                }
                SelectItem::Expr { expr, alias: None } => {
                    Some(make(text(expr.span), None, SymbolKind::FIELD, expr.span, expr.span))
                }
                SelectItem::Error(_) => None,
            })
            .collect(),
    };
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        let range = Span::new(document.offset(first.range.start), document.offset(last.range.end));
        symbols.push(symbol(document, "SELECT".to_owned(), None, SymbolKind::STRUCT, range, range, items));
    }
    if let Some(from) = &statement.from {
        symbols.push(make(text(from.span), Some("FROM".to_owned()), SymbolKind::EVENT, from.span, from.span));
    }
    if let Some(condition) = &statement.where_clause {
        symbols.push(make(
            "WHERE".to_owned(),
            Some(text(condition.span)),
            SymbolKind::BOOLEAN,
            condition.span,
            condition.span,
        ));
    }
    symbols
}

fn policy_symbols(document: &Document) -> Vec<DocumentSymbol> {
    let Ok(Some(Value::Object(root))) = parse_json(document.text()) else { return Vec::new() };
    let statements: Vec<&Value<'_>> = match root.get("Statement").map(|prop| &prop.value) {
        Some(Value::Array(array)) => array.elements.iter().collect(),
        Some(value @ Value::Object(_)) => vec![value],
        _ => return Vec::new(),
    };
    statements
        .iter()
        .enumerate()
        .filter_map(|(index, value)| {
            let Value::Object(object) = value else { return None };
            let string = |name: &str| match object.get(name) {
                Some(ObjectProp { value: Value::StringLit(literal), .. }) => Some(literal.value.to_string()),
                _ => None,
            };
            let name = string("Sid").unwrap_or_else(|| format!("Statement {}", index + 1));
            let range = Span::new(object.range.start, object.range.end);
            Some(symbol(document, name, string("Effect"), SymbolKind::OBJECT, range, range, Vec::new()))
        })
        .collect()
}

/// Long expressions are cut in the outline.
fn shorten(text: &str) -> String {
    let single_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match single_line.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", single_line.get(..at).unwrap_or_default()),
        None => single_line,
    }
}

#[expect(deprecated, reason = "`DocumentSymbol::deprecated` has no replacement field to leave out")]
fn symbol(
    document: &Document,
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    range: Span,
    selection: Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        // Editors reject empty names.
        name: if name.is_empty() { "?".to_owned() } else { name },
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: document.range(range),
        selection_range: document.range(selection),
        children: (!children.is_empty()).then_some(children),
    }
}
