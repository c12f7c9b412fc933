//! Substitution templates: the `${expression}` text in action parameters such as a republish
//! topic or an HTTP URL.
//!
//! AWS evaluates each expression separately from the rule's statement, against the original
//! message: a template sees the payload, functions and operators, never the SELECT aliases or
//! the SET variables. `$$` writes one literal `$`, which is how a republish topic reaches a
//! reserved `$aws/...` topic; a `$` followed by anything else is literal text.

use crate::check::check_expr;
use crate::diagnostics::{Code, Diagnostic, Limited};
use crate::eval::{Environment, EvalError, Message, Value, evaluate_expr, read_payload};
use crate::span::Span;
use crate::syntax::ast::Expr;
use crate::syntax::lexer::STOP_AFTER;
use crate::syntax::parse_expr;
use crate::version::SqlVersion;

/// A parsed template, ready to render for each message.
#[derive(Clone, Debug)]
pub struct Template {
    pieces: Vec<Piece>,
    version: SqlVersion,
}

#[derive(Clone, Debug)]
enum Piece {
    Text(String),
    /// An expression; its spans are offsets into the template text.
    Expr(Expr),
}

/// What parsing a template found. Spans are byte offsets into the template text.
#[derive(Clone, Debug)]
pub struct ParsedTemplate {
    /// `None` when the template has errors.
    pub template: Option<Template>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Template {
    /// Parses `text`, checking each expression as a statement of `version` would be checked.
    /// The template is one input: at most `MAX_PER_CODE` diagnostics of a code across all its
    /// expressions, and after `STOP_AFTER` syntax errors the rest is not read.
    pub fn parse(text: &str, version: SqlVersion) -> ParsedTemplate {
        let mut pieces = Vec::new();
        let mut diagnostics = Limited::default();
        let mut syntax_errors = 0;
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(dollar) = rest.find('$') {
            literal.push_str(rest.get(..dollar).unwrap_or_default());
            let after = rest.get(dollar + 1..).unwrap_or_default();
            let start = offset + dollar;
            if after.starts_with('$') {
                literal.push('$');
                offset = start + 2;
            } else if after.starts_with('{') {
                let body_start = start + 2;
                let body = text.get(body_start..).unwrap_or_default();
                let Some(close) = closing_brace(body) else {
                    diagnostics.add(
                        Diagnostic::error(Code::TemplateUnclosed, Span::new(start, start + 2), "`${` is never closed")
                            .with_label("substitution starts here")
                            .with_help("end the expression with `}`; to write a literal `$` write `$$`"),
                    );
                    rest = "";
                    break;
                };
                if syntax_errors >= STOP_AFTER {
                    diagnostics.add(
                        Diagnostic::error(
                            Code::TooManyErrors,
                            Span::new(start, start + 2),
                            format!("more than {STOP_AFTER} syntax errors; the template is not read further"),
                        )
                        .with_help("fix the errors above first; the rest often follow from them"),
                    );
                    rest = "";
                    break;
                }
                let source = body.get(..close).unwrap_or_default();
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                if source.trim().is_empty() {
                    if diagnostics.count(Code::TemplateEmpty) {
                        diagnostics.push(
                            Diagnostic::error(
                                Code::TemplateEmpty,
                                Span::new(start, body_start + close + 1),
                                "substitution holds no expression",
                            )
                            .with_label("empty")
                            .with_help("write an expression such as `${topic(2)}`, or `$$` for a literal `$`"),
                        );
                    }
                } else {
                    let parsed = parse_expr(source);
                    let errors = parsed.diagnostics.iter().filter(|diagnostic| diagnostic.is_error()).count();
                    syntax_errors += errors;
                    for diagnostic in parsed.diagnostics {
                        diagnostics.add(diagnostic.map_spans(|span| span.shift(body_start)));
                    }
                    if let Some(expr) = parsed.expr {
                        if errors == 0 {
                            check_expr(source, body_start, &expr, version, &mut diagnostics);
                        }
                        pieces.push(Piece::Expr(expr));
                    }
                }
                offset = body_start + close + 1;
            } else {
                literal.push('$');
                offset = start + 1;
            }
            rest = text.get(offset..).unwrap_or_default();
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        let mut diagnostics = diagnostics.finish();
        diagnostics.sort_by_key(|diagnostic| diagnostic.span().start);
        let template = (!diagnostics.iter().any(Diagnostic::is_error)).then_some(Template { pieces, version });
        ParsedTemplate { template, diagnostics }
    }

    /// The text when the template substitutes nothing (`$$` already read as `$`).
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Expr(_) => return None,
            }
        }
        Some(out)
    }

    /// Renders the template for `message`.
    pub fn render(&self, env: &Environment, message: &Message<'_>) -> Result<String, EvalError> {
        if let Some(text) = self.literal() {
            return Ok(text);
        }
        let payload = read_payload(env, message)?;
        self.render_read(env, message, &payload)
    }

    /// Renders the template for `message`, whose payload [`read_payload`] already read (read it
    /// once for every template of a rule's actions).
    ///
    /// Values become text as follows: strings without quotes; numbers, Booleans, null, arrays
    /// and objects as the rule's output writes them (JSON); binary payload bytes as UTF-8, with
    /// invalid sequences replaced. Undefined becomes the empty string, as Undefined on its own
    /// serializes in a rule's output (`republish` to `a/${topic(9)}` on `x/y` publishes to `a/`).
    pub fn render_read(&self, env: &Environment, message: &Message<'_>, payload: &Value) -> Result<String, EvalError> {
        let whole_as_int = self.version.has_2016_features();
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Expr(expr) => match evaluate_expr(expr, self.version, env, message, payload)? {
                    Value::String(text) => out.push_str(&text),
                    Value::Binary(bytes) => out.push_str(&String::from_utf8_lossy(&bytes)),
                    value => {
                        crate::eval::value::write_json(&mut out, &value, whole_as_int);
                    }
                },
            }
        }
        Ok(out)
    }
}

/// The offset of the `}` that closes a substitution whose body starts `body`: braces of
/// object literals nest, and quoted strings (with backslash escapes) are skipped.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    let mut escaped = false;
    for (at, c) in body.char_indices() {
        if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == open {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '{' => depth += 1,
            '}' if depth == 0 => return Some(at),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, topic: &str, payload: &str) -> String {
        let parsed = Template::parse(template, SqlVersion::V2016_03_23);
        let Some(template) = parsed.template else {
            return format!("errors: {:?}", parsed.diagnostics.iter().map(|d| d.code.as_str()).collect::<Vec<_>>());
        };
        let message = Message { topic, payload: payload.as_bytes(), client_id: Some("dev-1"), ..Message::default() };
        template.render(&Environment::default(), &message).unwrap_or_else(|error| format!("error: {error}"))
    }

    fn codes(template: &str) -> Vec<(&'static str, String)> {
        Template::parse(template, SqlVersion::V2016_03_23)
            .diagnostics
            .iter()
            .map(|d| (d.code.as_str(), template.get(d.span().start..d.span().end).unwrap_or("?").to_owned()))
            .collect()
    }

    #[test]
    fn literal_text_and_dollars() {
        assert_eq!(render("a/b", "t", "{}"), "a/b");
        assert_eq!(render("$$aws/things/x/shadow/update", "t", "{}"), "$aws/things/x/shadow/update");
        assert_eq!(render("cost$5/$", "t", "{}"), "cost$5/$");
        assert_eq!(render("$${topic()}", "t", "{}"), "${topic()}");
        assert_eq!(render("", "t", "{}"), "");
        let parsed = Template::parse("$$a", SqlVersion::V2016_03_23);
        assert_eq!(parsed.template.and_then(|t| t.literal()), Some("$a".to_owned()));
    }

    #[test]
    fn expressions_see_the_original_message() {
        assert_eq!(render("${topic(2)}/out", "devices/d1/telemetry", "{}"), "d1/out");
        assert_eq!(render("c/${clientid()}", "t", "{}"), "c/dev-1");
        assert_eq!(render("${name}-${n + 1}", "t", r#"{"name":"x","n":41}"#), "x-42");
        assert_eq!(render("${ {'k': 'v}'}.k }", "t", "{}"), "v}");
        assert_eq!(render("${'a' + \"}\"}", "t", "{}"), "a}");
    }

    #[test]
    fn values_become_text() {
        let payload = r#"{"s":"x y","i":3,"d":2.5,"w":2.0,"b":true,"n":null,"a":[1,"q"],"o":{"k":1}}"#;
        assert_eq!(render("${s}|${i}|${d}|${w}|${b}|${n}", "t", payload), "x y|3|2.5|2|true|null");
        assert_eq!(render("${a}|${o}", "t", payload), r#"[1,"q"]|{"k":1}"#);
        // Undefined is the empty string, as on its own in a rule's output.
        assert_eq!(render("a/${missing}/${topic(9)}", "t", payload), "a//");
        assert_eq!(render("${*}", "t", "not json"), "not json");
    }

    #[test]
    fn diagnostics_point_into_the_template() {
        assert_eq!(codes("a/${topic()"), vec![("template::unclosed_substitution", "${".to_owned())]);
        assert_eq!(codes("a/${ }"), vec![("template::empty_substitution", "${ }".to_owned())]);
        assert_eq!(codes("x/${nosuch(1)}"), vec![("iotsql::unknown_function", "nosuch".to_owned())]);
        assert_eq!(codes("x/${a +}")[0].0, "iotsql::unexpected_end");
        assert_eq!(codes("x/${a b}")[0].0, "iotsql::unexpected_token");
        assert_eq!(codes("${@v}"), vec![("iotsql::undefined_variable", "@v".to_owned())]);
        assert!(codes("${'}'").iter().any(|(code, _)| *code == "template::unclosed_substitution"));
    }

    #[test]
    fn hostile_templates_never_panic() {
        for text in ["${", "$", "$$$", "${{", "${'", "${\"\\", "}${}", "${é}", "é${1}é", "${(((((}"] {
            let parsed = Template::parse(text, SqlVersion::V2016_03_23);
            for diagnostic in &parsed.diagnostics {
                let span = diagnostic.span();
                assert!(span.end <= text.len() && text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
            }
        }
    }
}
