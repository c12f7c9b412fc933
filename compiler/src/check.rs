//! Checks a parsed statement against AWS IoT SQL's rules: functions and their arity, SQL
//! version gates, topic filters, variables, output keys, regular expressions, and static types
//! where they are known.
//!
//! **Architecture Invariant:** checking never fails and never changes the tree; it returns
//! diagnostics. Errors are what AWS IoT Core rejects (or what iotrules cannot run); warnings
//! are statements AWS accepts that cannot do what their author meant.

pub mod functions;
pub mod regex_literal;
pub mod topic_filter;
pub mod topic_name;
pub mod types;

use std::collections::HashMap;

use crate::diagnostics::{Code, Diagnostic, Limited, Severity, did_you_mean, limit_per_code};
use crate::span::Span;
use crate::syntax::ast::{
    Alias, BinaryOp, Case, Expr, ExprKind, Name, Query, Select, SelectItem, Statement, StringLit, UnaryOp,
};
use crate::syntax::parse;
use crate::version::SqlVersion;
use functions::{Function, Param};
use types::Types;

/// The longest `@variable` name AWS accepts.
pub const MAX_VARIABLE_NAME: usize = 64;

/// AWS's limit on the variables one SET clause assigns.
pub const MAX_VARIABLES: usize = 10;

/// A statement with everything found while parsing and checking it.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The tree, when the parser could build one; it may hold error nodes.
    pub statement: Option<Statement>,
    /// Sorted by position, at most [`crate::diagnostics::MAX_PER_CODE`] of each code.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether AWS would reject the statement.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and checks one statement under `version`.
pub fn check_sql(source: &str, version: SqlVersion) -> Checked {
    let parsed = parse(source);
    let mut diagnostics = parsed.diagnostics;
    if let Some(statement) = &parsed.statement {
        let syntax_errors = diagnostics.iter().any(Diagnostic::is_error);
        let mut checker = Checker::new(source, version, syntax_errors);
        checker.statement(statement);
        diagnostics.extend(checker.finish());
    }
    diagnostics.sort_by_key(|diagnostic| diagnostic.span().start);
    Checked { statement: parsed.statement, diagnostics: limit_per_code(diagnostics) }
}

/// Checks a parsed statement; `source` is the text it was parsed from.
pub fn check_statement(source: &str, statement: &Statement, version: SqlVersion) -> Vec<Diagnostic> {
    let mut checker = Checker::new(source, version, false);
    checker.statement(statement);
    checker.finish()
}

/// Checks a lone expression (a substitution template's) as it would be checked inside a
/// statement, into `diagnostics`, which an input of several expressions shares so that its
/// limit per code holds across them. `source` is the text the expression was parsed from,
/// found at `offset` in the input; the diagnostics' spans are offsets into the input. It sees
/// no SET variables.
pub fn check_expr(source: &str, offset: usize, expr: &Expr, version: SqlVersion, diagnostics: &mut Limited) {
    let mut checker = Checker::new(source, version, false);
    checker.offset = offset;
    checker.diagnostics = std::mem::take(diagnostics);
    checker.expr(expr);
    *diagnostics = checker.diagnostics;
}

struct Checker<'a> {
    source: &'a str,
    /// Where `source` starts in the input, added to every span reported.
    offset: usize,
    version: SqlVersion,
    diagnostics: Limited,
    /// SET variables assigned so far: where, and the types of their values.
    variables: HashMap<String, (Span, Types)>,
    /// Calls of once-per-statement functions seen so far.
    once: HashMap<&'static str, Span>,
    /// Every SET assignment, to explain a variable used before its assignment.
    assigned_later: HashMap<String, Span>,
    /// The parser already reported errors; checks that would only echo them stay quiet.
    syntax_errors: bool,
}

impl<'a> Checker<'a> {
    fn new(source: &'a str, version: SqlVersion, syntax_errors: bool) -> Self {
        Checker {
            source,
            offset: 0,
            version,
            diagnostics: Limited::default(),
            variables: HashMap::new(),
            once: HashMap::new(),
            assigned_later: HashMap::new(),
            syntax_errors,
        }
    }

    /// Reports a diagnostic of `code`, built only when it is among the first few of its code
    /// (see [`Limited`]).
    fn report(&mut self, code: Code, build: impl FnOnce(&Self) -> Diagnostic) {
        if self.diagnostics.count(code) {
            let diagnostic = build(self).map_spans(|span| span.shift(self.offset));
            self.diagnostics.push(diagnostic);
        }
    }

    /// Every diagnostic kept, and one for the rest of each code past the limit.
    fn finish(self) -> Vec<Diagnostic> {
        self.diagnostics.finish()
    }

    fn statement(&mut self, statement: &Statement) {
        if let Some(keyword) = statement.set_keyword {
            self.require_2016(keyword, "the SET clause");
        }
        for assignment in &statement.set {
            self.assigned_later.entry(assignment.variable.text.clone()).or_insert(assignment.variable.span);
        }
        if let Some(extra) = statement.set.get(MAX_VARIABLES) {
            let count = statement.set.len();
            self.report(Code::TooManyVariables, |_| {
                Diagnostic::error(
                    Code::TooManyVariables,
                    extra.variable.span,
                    format!("SET assigns {count} variables, more than {MAX_VARIABLES}"),
                )
                .with_label(format!("variable {} of {count}", MAX_VARIABLES + 1))
                .with_help(format!("AWS allows {MAX_VARIABLES} variables per statement; compute the rest in place"))
            });
        }
        for assignment in &statement.set {
            let name = &assignment.variable;
            let length = name.text.chars().count();
            if length > MAX_VARIABLE_NAME {
                self.report(Code::VariableNameTooLong, |_| {
                    Diagnostic::error(
                        Code::VariableNameTooLong,
                        name.span,
                        format!("variable name is {length} characters long, more than {MAX_VARIABLE_NAME}"),
                    )
                    .with_label("too long")
                    .with_help(format!("AWS limits variable names to {MAX_VARIABLE_NAME} characters; shorten it"))
                });
            }
            let value = self.expr(&assignment.value);
            if let Some((first, _)) = self.variables.get(&name.text) {
                let first = *first;
                self.report(Code::DuplicateVariable, |_| {
                    Diagnostic::error(Code::DuplicateVariable, name.span, format!("`@{}` is assigned twice", name.text))
                        .with_label("assigned again here")
                        .with_related(first, "first assigned here")
                        .with_help("variables are immutable; give the second one another name")
                });
            } else {
                self.variables.insert(name.text.clone(), (name.span, value));
            }
        }

        self.select(&statement.select, true);

        match &statement.from {
            None if self.syntax_errors => {}
            None => {
                let last = last_token(self.source, statement.span.end);
                self.report(Code::MissingFrom, |_| {
                    Diagnostic::advice(Code::MissingFrom, last, "statement has no FROM clause")
                        .with_label("the statement ends here")
                        .with_help("without FROM the rule only receives messages published to `$aws/rules/<rule name>/...` (Basic Ingest); add FROM 'topic/filter' to subscribe to a topic")
                });
            }
            Some(from) => self.from(from),
        }

        if let Some(condition) = &statement.where_clause {
            self.where_clause(condition, true);
        }
    }

    fn select(&mut self, select: &Select, top_level: bool) -> Types {
        match select {
            Select::Value(expr) => {
                let gated = |this: &Self| this.diagnostics.found(Code::RequiresSqlVersion);
                let before = gated(self);
                let value = self.expr(expr);
                // An array literal, nested query or 2016-only function is already reported.
                let already_gated = gated(self) > before;
                if top_level
                    && !already_gated
                    && value.contains(Types::ARRAY)
                    && value.is_subset_of(Types::ARRAY.union(Types::UNDEFINED))
                {
                    self.require_2016(expr.span, "SELECT VALUE of an array");
                }
                value
            }
            Select::Items(items) => {
                let mut keys = OutputKeys::with_capacity(items.len());
                for item in items {
                    let SelectItem::Expr { expr, alias } = item else { continue };
                    self.expr(expr);
                    // An unaliased object literal writes its own keys into the output.
                    if let (ExprKind::Object(entries), None) = (&expr.kind, alias) {
                        for (key, _) in entries {
                            self.duplicate_key(&mut keys, KeyPath::Name(&key.value), key.span);
                        }
                        continue;
                    }
                    if let Some(key) = self.output_key(expr, alias.as_deref()) {
                        self.duplicate_key(&mut keys, key, alias.as_ref().map_or(expr.span, |alias| alias.span));
                    }
                }
                Types::OBJECT
            }
        }
    }

    /// The output key path of a SELECT item, or `None` when it has none (a bare `*`, or an
    /// expression AWS names in an undocumented way, which gets an advice).
    fn output_key<'e>(&mut self, expr: &'e Expr, alias: Option<&'e Alias>) -> Option<KeyPath<'e>> {
        if let Some(alias) = alias {
            return Some(KeyPath::Alias(&alias.path));
        }
        match &expr.kind {
            ExprKind::Payload | ExprKind::Error => None,
            ExprKind::Attribute(name) => Some(KeyPath::Name(name)),
            ExprKind::Field { name, .. } => Some(KeyPath::Name(&name.text)),
            _ => {
                self.report(Code::UnnamedOutput, |_| {
                    Diagnostic::advice(Code::UnnamedOutput, expr.span, "this item has no name in the output")
                        .with_label("no AS alias")
                        .with_help("AWS does not document the output key of an unnamed expression; add `AS name`")
                });
                None
            }
        }
    }

    fn duplicate_key<'e>(&mut self, keys: &mut OutputKeys<'e>, key: KeyPath<'e>, span: Span) {
        let Some((earlier, first)) = keys.add(key, span) else { return };
        self.report(Code::DuplicateOutputKey, |_| {
            let message = if earlier.names().eq(key.names()) {
                format!("output key `{}` is written more than once", key.shown())
            } else {
                let (short, long) = if earlier.len() < key.len() { (earlier, key) } else { (key, earlier) };
                format!(
                    "output key `{}` is written both as a value and as the object holding `{}`",
                    short.shown(),
                    long.shown()
                )
            };
            Diagnostic::warning(Code::DuplicateOutputKey, span, message)
                .with_label("written again here")
                .with_related(first, "first written here")
                .with_help("only one of them reaches the output; rename one with `AS`")
        });
    }

    fn from(&mut self, from: &Expr) {
        let ExprKind::String(filter) = &from.kind else {
            self.report(Code::TopicFilterNotQuoted, |this| {
                Diagnostic::error(Code::TopicFilterNotQuoted, from.span, "FROM needs a topic filter in single quotes")
                    .with_label("not a quoted topic filter")
                    .with_help(format!("write FROM '{}'", this.snippet(from.span)))
            });
            return;
        };
        if self.source.as_bytes().get(filter.span.start) != Some(&b'\'') {
            self.report(Code::TopicFilterNotQuoted, |_| {
                Diagnostic::error(Code::TopicFilterNotQuoted, filter.span, "topic filter must be in single quotes")
                    .with_label("double quotes")
                    .with_help(format!("write FROM '{}'", filter.value))
            });
        }
        let problems = topic_filter::validate(&filter.value);
        // Mapped once for all problems: a long filter can have one per level.
        let offsets = if problems.is_empty() { Vec::new() } else { literal_offsets(self.source, filter) };
        for problem in problems {
            let span = inner_span(filter, &offsets, problem.range);
            let kind = problem.kind;
            let (code, severity) = if kind.is_invalid() {
                (Code::InvalidTopicFilter, Severity::Error)
            } else {
                (Code::TopicFilterLimit, Severity::Warning)
            };
            self.report(code, |_| {
                Diagnostic::new(code, severity, span, kind.message()).with_label(kind.label()).with_help(kind.help())
            });
        }
        if let Some(rule) = topic_filter::basic_ingest_rule(&filter.value) {
            self.report(Code::BasicIngestInFrom, |_| {
                Diagnostic::warning(Code::BasicIngestInFrom, filter.span, "rules do not subscribe to Basic Ingest topics")
                    .with_label("no message arrives through this filter")
                    .with_help(format!("a message published to `$aws/rules/{rule}/...` goes straight to the rule named `{rule}`; write the FROM filter for the rest of the topic, or leave FROM out"))
            });
        }
    }

    fn where_clause(&mut self, condition: &Expr, top_level: bool) {
        let value = self.expr(condition);
        if !value.intersects(Types::BOOLEAN) && !value.is_undefined() {
            let (message, help) = if top_level {
                (
                    "WHERE is never true, so the rule never fires",
                    "a rule runs its actions only when WHERE is the Boolean true; compare explicitly, such as `status = 'on'`",
                )
            } else {
                (
                    "nested WHERE is never true, so this query always returns an empty array",
                    "an element is kept only when WHERE is the Boolean true; compare explicitly, such as `n = 'temperature'`",
                )
            };
            self.report(Code::WhereNeverTrue, |_| {
                Diagnostic::warning(Code::WhereNeverTrue, condition.span, message)
                    .with_label(format!("this is {}, not the Boolean true", value.with_article()))
                    .with_help(help)
            });
        }
    }

    fn expr(&mut self, expr: &Expr) -> Types {
        match &expr.kind {
            ExprKind::Integer(_) => Types::INT,
            ExprKind::Decimal(Some(value)) if value.is_integer() => Types::NUMBER,
            ExprKind::Decimal(Some(_)) => Types::DECIMAL,
            ExprKind::Decimal(None) => Types::UNDEFINED,
            ExprKind::String(literal) => Types::of_string(&literal.value),
            ExprKind::Boolean(_) => Types::BOOLEAN,
            ExprKind::Null => Types::NULL,
            ExprKind::Payload | ExprKind::Attribute(_) | ExprKind::Error => Types::ANY,
            ExprKind::Variable(name) => self.variable(name, expr.span),
            ExprKind::Field { base, name } => self.field(base, name),
            ExprKind::Index { base, index } => {
                self.expr(base);
                self.expr(index);
                self.report(Code::UnsupportedIndexing, |this| {
                    let (base, index) = (this.snippet(base.span), this.snippet(index.span));
                    Diagnostic::error(Code::UnsupportedIndexing, expr.span, "IoT SQL has no `[ ]` indexing")
                        .with_help(format!("write `get({base}, {index})`; it counts from 0"))
                });
                Types::ANY
            }
            ExprKind::Unary { op, operand } => self.unary(*op, operand, expr.span),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, expr.span),
            ExprKind::Call { function, args } => self.call(function, args, expr.span),
            ExprKind::Cast { function, value, target } => self.cast(function, value, target, expr.span),
            ExprKind::Case(case) => {
                let Case { subject, branches, otherwise } = &**case;
                self.case(subject.as_deref(), branches, otherwise.as_deref(), expr.span)
            }
            ExprKind::Object(entries) => {
                self.require_2016(expr.span, "object literals");
                let mut seen: HashMap<&str, Span> = HashMap::new();
                for (key, value) in entries {
                    self.expr(value);
                    if let Some(first) = seen.insert(&key.value, key.span) {
                        self.report(Code::DuplicateObjectKey, |_| {
                            Diagnostic::warning(
                                Code::DuplicateObjectKey,
                                key.span,
                                format!("key `{}` appears twice", key.value),
                            )
                            .with_related(first, "first here")
                            .with_help("only one value is kept; remove or rename one")
                        });
                    }
                }
                Types::OBJECT
            }
            ExprKind::Array(items) => {
                self.require_2016(expr.span, "array literals");
                for item in items {
                    self.expr(item);
                }
                Types::ARRAY
            }
            ExprKind::Query(query) => self.query(query, expr.span),
        }
    }

    fn variable(&mut self, name: &str, span: Span) -> Types {
        if let Some((_, value)) = self.variables.get(name) {
            return *value;
        }
        self.report(Code::UndefinedVariable, |this| {
            let diagnostic = Diagnostic::error(Code::UndefinedVariable, span, format!("variable `@{name}` is not set"))
                .with_label("used here");
            if let Some(later) = this.assigned_later.get(name) {
                return diagnostic
                    .with_related(*later, "assigned only here, later")
                    .with_help(format!("move the assignment of `@{name}` before its first use"));
            }
            // Suggestions compare against every variable; past a few hundred they would make
            // a pathological statement quadratic, and no one reads them there.
            let candidates = this.variables.keys().map(String::as_str).filter(|_| this.variables.len() <= 256);
            match did_you_mean(name, candidates) {
                Some(candidate) => diagnostic.with_help(format!("did you mean `@{candidate}`?")),
                None => diagnostic.with_help(format!("assign it first: `SET @{name} = ...` before SELECT")),
            }
        });
        Types::ANY
    }

    fn field(&mut self, base: &Expr, name: &Name) -> Types {
        let object = self.expr(base);
        if !object.intersects(Types::OBJECT) && !object.is_undefined() && !object.is_empty() {
            self.report(Code::AlwaysUndefined, |_| {
                Diagnostic::warning(Code::AlwaysUndefined, name.span, format!("`.{}` is always Undefined", name.text))
                    .with_label(format!("{} has no fields", object.with_article()))
                    .with_help("member access reads a field of an object")
            });
            return Types::UNDEFINED;
        }
        Types::ANY
    }

    fn unary(&mut self, op: UnaryOp, operand: &Expr, span: Span) -> Types {
        let value = self.expr(operand);
        let result = match op {
            UnaryOp::Neg => types::negate(value),
            UnaryOp::Not => types::not(value),
        };
        if result.is_undefined() && !value.is_undefined() {
            let help = match op {
                UnaryOp::Neg => "`-` negates numbers and numeric strings",
                UnaryOp::Not => "NOT takes a Boolean or the strings \"true\" and \"false\"",
            };
            self.report(Code::AlwaysUndefined, |this| {
                Diagnostic::warning(
                    Code::AlwaysUndefined,
                    operand.span,
                    format!("`{}` is always Undefined", this.snippet(span)),
                )
                .with_label(format!("this is {}", value.with_article()))
                .with_help(help)
            });
        }
        result
    }

    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, span: Span) -> Types {
        let (left, right) = (self.expr(lhs), self.expr(rhs));
        let result = types::binary(op, left, right);
        if result.is_undefined() && !left.is_undefined() && !right.is_undefined() {
            let help = match op {
                BinaryOp::And | BinaryOp::Or => "AND and OR take Booleans or the strings \"true\" and \"false\"",
                BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                    "`<`, `<=`, `>` and `>=` compare numbers and numeric strings only"
                }
                BinaryOp::Add => "`+` adds numbers, or joins strings when either side is a string",
                BinaryOp::In => "`x IN arr` looks for `x` among the elements of an array",
                BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                    "arithmetic takes numbers, or strings that read as numbers such as '12.5'"
                }
            };
            // Point at the operand that alone makes the result Undefined, when there is one.
            let culprit = if types::binary(op, left, Types::ANY).is_undefined() {
                Some((lhs.span, left))
            } else if types::binary(op, Types::ANY, right).is_undefined() {
                Some((rhs.span, right))
            } else {
                None
            };
            self.report(Code::AlwaysUndefined, |this| {
                let message = format!("`{}` is always Undefined", this.snippet(span));
                let diagnostic = match culprit {
                    Some((operand, value)) => Diagnostic::warning(Code::AlwaysUndefined, operand, message)
                        .with_label(format!("this is {}", value.with_article())),
                    None => Diagnostic::warning(Code::AlwaysUndefined, span, message)
                        .with_label(format!("{left} {} {right} has no value", op.symbol())),
                };
                diagnostic.with_help(help)
            });
        }
        result
    }

    fn call(&mut self, name: &Name, args: &[Expr], span: Span) -> Types {
        let arg_types: Vec<Types> = args.iter().map(|arg| self.expr(arg)).collect();
        let Some(function) = functions::lookup(&name.text) else {
            self.unknown_function(name);
            return Types::ANY;
        };
        if !self.version.has_2016_features() && function.since.has_2016_features() {
            self.require_2016(name.span, &format!("`{}`", function.name));
        }
        if function.once_per_statement {
            if let Some(first) = self.once.get(function.name) {
                let first = *first;
                self.report(Code::FunctionCalledTwice, |_| {
                    Diagnostic::error(
                        Code::FunctionCalledTwice,
                        span,
                        format!("`{}` is called more than once", function.name),
                    )
                    .with_label("called again here")
                    .with_related(first, "first call")
                    .with_help(format!(
                        "AWS allows one `{}` call per statement; use SET to reuse its result",
                        function.name
                    ))
                });
            } else {
                self.once.insert(function.name, span);
            }
        }
        if !function.arity.accepts(args.len()) {
            self.report(Code::WrongArity, |_| {
                Diagnostic::warning(
                    Code::WrongArity,
                    span,
                    format!("`{}` takes {}, not {}", function.name, function.arity.describe(), args.len()),
                )
                .with_label("always Undefined")
                .with_help("AWS accepts the call but it never has a value; pass the documented arguments")
            });
            return Types::UNDEFINED;
        }
        self.regex_argument(function, args);
        self.call_result(function, args, &arg_types, span)
    }

    fn call_result(&mut self, function: &Function, args: &[Expr], arg_types: &[Types], span: Span) -> Types {
        let mut result = function.result;
        for (index, (arg, value)) in args.iter().zip(arg_types).enumerate() {
            if value.is_undefined() && function.param(index) != Param::Any {
                return Types::UNDEFINED;
            }
            let param = function.param(index);
            let rejects = param.rejects();
            if value.is_subset_of(rejects) && !value.is_empty() {
                self.report(Code::AlwaysUndefined, |this| {
                    let written = this.snippet(span);
                    Diagnostic::warning(Code::AlwaysUndefined, arg.span, format!("`{written}` is always Undefined"))
                        .with_label(format!("this is {}", value.with_article()))
                        .with_help(format!(
                            "argument {} of `{}` must be {}",
                            index + 1,
                            function.name,
                            param.describe()
                        ))
                });
                return Types::UNDEFINED;
            }
            if value.intersects(rejects) {
                result = result | Types::UNDEFINED;
            }
        }
        result
    }

    fn unknown_function(&mut self, name: &Name) {
        if name.text.eq_ignore_ascii_case("cast") {
            self.report(Code::InvalidCastType, |_| {
                Diagnostic::error(Code::InvalidCastType, name.span, "`cast` takes `value AS type`")
                    .with_label("no target type")
                    .with_help("write `cast(x AS Int)`, naming one of the documented types")
            });
            return;
        }
        self.report(Code::UnknownFunction, |_| {
            let help = match name.text.to_ascii_lowercase().as_str() {
                "isstring" | "isnumber" | "isboolean" | "isobject" | "isarray" => {
                    "IoT SQL has no type tests besides `isNull` and `isUndefined`".to_owned()
                }
                "convert" | "to_number" | "to_string" | "to_char" => {
                    "to convert a value write `cast(x AS Int)`".to_owned()
                }
                _ => match did_you_mean(&name.text, functions::names()) {
                    Some(candidate) => format!("did you mean `{candidate}`?"),
                    None => "see the AWS IoT SQL function reference for the functions rules can call".to_owned(),
                },
            };
            Diagnostic::error(Code::UnknownFunction, name.span, format!("unknown function `{}`", name.text))
                .with_label("not an IoT SQL function")
                .with_help(help)
        });
    }

    /// Patterns given as literals are checked now; AWS would only fail at run time.
    fn regex_argument(&mut self, function: &Function, args: &[Expr]) {
        if !function.name.starts_with("regexp_") {
            return;
        }
        let Some(Expr { kind: ExprKind::String(pattern), .. }) = args.get(1) else { return };
        let Some(problem) = regex_literal::problem(&pattern.value) else { return };
        let span = inner_span(pattern, &literal_offsets(self.source, pattern), problem.range);
        if problem.unsupported {
            self.report(Code::UnsupportedRegex, |_| {
                Diagnostic::error(Code::UnsupportedRegex, span, format!("regular expression cannot run here: {}", problem.message))
                    .with_label("not available in iotrules' engine")
                    .with_help("rewrite the pattern without this construct; lookaround, backreferences, atomic groups and possessive quantifiers all run")
            });
        } else {
            self.report(Code::InvalidRegex, |_| {
                Diagnostic::warning(
                    Code::InvalidRegex,
                    span,
                    format!("invalid regular expression: {}", problem.message),
                )
                .with_label("the call is always Undefined")
                .with_help("fix the pattern")
            });
        }
    }

    fn cast(&mut self, function: &Name, value: &Expr, target: &Name, span: Span) -> Types {
        let from = self.expr(value);
        if !function.text.eq_ignore_ascii_case("cast") {
            if functions::lookup(&function.text).is_none() {
                self.unknown_function(function);
                return Types::ANY;
            }
            self.report(Code::AsOutsideCast, |_| {
                Diagnostic::error(
                    Code::AsOutsideCast,
                    function.span,
                    format!("`{}` does not take `AS type`", function.text),
                )
                .with_label("not `cast`")
                .with_help(
                    "only `cast(value AS type)` takes a type; call other functions with comma-separated arguments",
                )
            });
            return Types::ANY;
        }
        let Some((cast, since)) = functions::cast_target(&target.text) else {
            self.report(Code::InvalidCastType, |_| {
                let names = functions::CAST_TARGETS.iter().map(|(name, _, _)| *name);
                let help = match did_you_mean(&target.text, names) {
                    Some(candidate) => format!("did you mean `{candidate}`?"),
                    None => {
                        "cast to String, Nvarchar, Text, Ntext, varchar, Int, Integer, Double, Decimal, Bool or Boolean"
                            .to_owned()
                    }
                };
                Diagnostic::error(Code::InvalidCastType, target.span, format!("`{}` is not a cast type", target.text))
                    .with_label("unknown type")
                    .with_help(help)
            });
            return Types::ANY;
        };
        if since.has_2016_features() {
            self.require_2016(target.span, &format!("`cast` to {}", target.text));
        }
        let result = cast.result(from);
        if result.is_undefined() && !from.is_undefined() {
            let converts = match cast {
                functions::CastTarget::String => "every value but Null and Undefined casts to a string",
                functions::CastTarget::Boolean => {
                    "numbers, Booleans and the strings \"true\" and \"false\" cast to a Boolean"
                }
                _ => "numbers, Booleans and strings that read as numbers cast to a number",
            };
            self.report(Code::AlwaysUndefined, |this| {
                let message = format!("`{}` is always Undefined", this.snippet(span));
                Diagnostic::warning(Code::AlwaysUndefined, value.span, message)
                    .with_label(format!("this is {}", from.with_article()))
                    .with_help(converts)
            });
        }
        result
    }

    fn case(
        &mut self,
        subject: Option<&Expr>,
        branches: &[(Expr, Expr)],
        otherwise: Option<&Expr>,
        span: Span,
    ) -> Types {
        match subject {
            Some(subject) => {
                self.expr(subject);
            }
            None => self.report(Code::SearchedCase, |_| {
                Diagnostic::error(Code::SearchedCase, Span::new(span.start, span.start + 4), "CASE needs a value to compare")
                    .with_help("IoT SQL has only the simple form `CASE value WHEN match THEN result ... END`; put the value after CASE")
            }),
        }
        let mut result = Types::NONE;
        for (when, then) in branches {
            self.expr(when);
            result = result | self.expr(then);
        }
        match otherwise {
            Some(otherwise) => result | self.expr(otherwise),
            None => result | Types::UNDEFINED,
        }
    }

    fn query(&mut self, query: &Query, span: Span) -> Types {
        self.require_2016(span, "nested queries");
        let source = if query.from.kind == ExprKind::Payload { Types::ARRAY } else { self.expr(&query.from) };
        let selected = self.select(&query.select, false);
        if let Some(condition) = &query.where_clause {
            self.where_clause(condition, false);
        }
        // An array source gives an array of results; an object gives its one result (or
        // Undefined when WHERE drops it); anything else gives Undefined.
        let mut result = Types::NONE;
        if source.contains(Types::ARRAY) {
            result = result | Types::ARRAY;
        }
        if source.contains(Types::OBJECT) {
            result = result | selected | Types::UNDEFINED;
        }
        if !source.is_subset_of(Types::ARRAY.union(Types::OBJECT)) {
            result = result | Types::UNDEFINED;
        }
        result
    }

    fn require_2016(&mut self, span: Span, feature: &str) {
        if self.version.has_2016_features() {
            return;
        }
        self.report(Code::RequiresSqlVersion, |_| {
            Diagnostic::error(Code::RequiresSqlVersion, span, format!("SQL version 2015-10-08 does not have {feature}"))
                .with_label("not in 2015-10-08")
                .with_help("set awsIotSqlVersion to 2016-03-23")
        });
    }

    /// The source text of `span` on one line, shortened for a message.
    fn snippet(&self, span: Span) -> String {
        let text = self.source.get(span.start..span.end).unwrap_or_default();
        // A span can cover most of the statement, and spans nest; reading only its start keeps
        // every message's cost bounded.
        let read = text.get(..text.floor_char_boundary(SNIPPET_BYTES)).unwrap_or_default();
        let words = read.split_whitespace().enumerate();
        let chars = words.flat_map(|(index, word)| (index > 0).then_some(' ').into_iter().chain(word.chars()));
        shorten(chars, read.len() < text.len())
    }
}

/// Text quoted in a message is cut to this many characters.
const SHOWN_TEXT: usize = 40;

/// How much of a span's text [`Checker::snippet`] reads: enough for [`SHOWN_TEXT`] characters
/// of all but whitespace-heavy text.
const SNIPPET_BYTES: usize = 1024;

/// At most [`SHOWN_TEXT`] characters of `chars`, the last one `…` when there are more (or
/// when `more` says the text went on). Takes no more of `chars` than it shows.
fn shorten(mut chars: impl Iterator<Item = char>, more: bool) -> String {
    let mut shown: String = chars.by_ref().take(SHOWN_TEXT).collect();
    if chars.next().is_some() || more {
        shown.pop();
        shown.push('…');
    }
    shown
}

/// The output key path of a SELECT item: a name, or an alias's dotted path.
#[derive(Clone, Copy)]
enum KeyPath<'e> {
    Name(&'e str),
    Alias(&'e [Name]),
}

impl<'e> KeyPath<'e> {
    fn names(self) -> impl Iterator<Item = &'e str> {
        let (name, path) = match self {
            KeyPath::Name(name) => (Some(name), [].iter()),
            KeyPath::Alias(path) => (None, path.iter()),
        };
        name.into_iter().chain(path.map(|name| name.text.as_str()))
    }

    fn len(self) -> usize {
        match self {
            KeyPath::Name(_) => 1,
            KeyPath::Alias(path) => path.len(),
        }
    }

    /// The path for a message, cut short: a key can be as long as the statement.
    fn shown(self) -> String {
        let names = self.names().enumerate();
        shorten(names.flat_map(|(index, name)| (index > 0).then_some('.').into_iter().chain(name.chars())), false)
    }
}

/// The output keys of one SELECT list, as a trie of key paths. Two keys clash when one is a
/// prefix of the other (equal included); adding a key walks only its own path, so a list of
/// n items is checked in time linear in its text rather than n².
struct OutputKeys<'e> {
    /// The keys kept (those that clashed with none before them), in SELECT order.
    keys: Vec<(KeyPath<'e>, Span)>,
    /// The trie's nodes; node 0, the root, is the empty path.
    nodes: Vec<KeyNode>,
    /// The child of a node reached by one more name.
    edges: HashMap<(usize, &'e str), usize, foldhash::fast::RandomState>,
}

#[derive(Clone, Copy, Default)]
struct KeyNode {
    /// The kept key whose path ends here.
    ends: Option<usize>,
    /// The first kept key whose path goes on below here.
    first_below: Option<usize>,
}

impl<'e> OutputKeys<'e> {
    /// Room for `items` keys of one name each, the usual case.
    fn with_capacity(items: usize) -> Self {
        let mut nodes = Vec::with_capacity(items + 1);
        nodes.push(KeyNode::default());
        OutputKeys {
            keys: Vec::with_capacity(items),
            nodes,
            edges: HashMap::with_capacity_and_hasher(items, foldhash::fast::RandomState::default()),
        }
    }

    /// Keeps `key` unless it clashes with a kept key; then it returns the earliest such key
    /// and where it was written. Kept keys never clash with each other, so at most one of them
    /// is a prefix of `key`, and then none extends it.
    fn add(&mut self, key: KeyPath<'e>, span: Span) -> Option<(KeyPath<'e>, Span)> {
        let index = self.keys.len();
        let mut node = 0;
        for name in key.names() {
            let current = self.nodes.get_mut(node)?;
            if let Some(prefix) = current.ends {
                return self.keys.get(prefix).copied();
            }
            // When the key clashes further down, every node on its way already lies above a
            // kept key and has its `first_below`, so this changes nothing then.
            current.first_below.get_or_insert(index);
            let nodes = &mut self.nodes;
            node = *self.edges.entry((node, name)).or_insert_with(|| {
                nodes.push(KeyNode::default());
                nodes.len() - 1
            });
        }
        let end = self.nodes.get_mut(node)?;
        if let Some(earlier) = end.ends.or(end.first_below) {
            return self.keys.get(earlier).copied();
        }
        end.ends = Some(index);
        self.keys.push((key, span));
        None
    }
}

/// For every byte offset of a string literal's text (and its end), the offset in the quoted
/// literal where that byte's source starts.
fn literal_offsets(source: &str, literal: &StringLit) -> Vec<usize> {
    let quoted = source.get(literal.span.start..literal.span.end).unwrap_or_default();
    crate::syntax::lexer::unescape_with_offsets(quoted).1
}

/// The source span of `range` inside a string literal's text, through its escapes
/// (`offsets` from [`literal_offsets`]).
fn inner_span(literal: &StringLit, offsets: &[usize], range: Span) -> Span {
    match (offsets.get(range.start), offsets.get(range.end)) {
        (Some(start), Some(end)) => Span::new(literal.span.start + start, literal.span.start + end),
        _ => literal.span,
    }
}

/// The last token before `end`, for diagnostics about what is missing at the end.
fn last_token(source: &str, end: usize) -> Span {
    let before = source.get(..end).unwrap_or_default().trim_end();
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| !c.is_whitespace())
        .last()
        .map_or(before.len(), |(index, _)| index);
    Span::new(start, before.len())
}
