//! Lowering a checked statement to what the JIT compiles: a WHERE predicate in IoT SQL's
//! three-valued logic and a SELECT projection that writes its output straight into bytes.
//! Anything else is refused with the construct named, and the rule stays on the interpreter.

use crate::check::functions::{self as catalogue, CastTarget};
use crate::diagnostics::{Code, Diagnostic};
use crate::eval::access_plan::static_path;
use crate::eval::value::{self, Value};
use crate::eval::{flat_keys, output_key};
use crate::span::Span;
use crate::syntax::ast::{BinaryOp, Case, Expr, ExprKind, Query, Select, SelectItem, Statement, UnaryOp};
use crate::version::SqlVersion;

/// The most distinct payload fields one compiled rule reads, so slot offsets fit a load's
/// 32-bit displacement in any set.
pub(crate) const MAX_PATHS: usize = 1 << 12;

/// A value the compiled code reads: a payload path (by its index in [`Lowered::paths`]) or a
/// fact about the message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Operand {
    Path(usize),
    /// `topic()`.
    Topic,
    /// `topic(n)`, counting levels from 1.
    TopicLevel(i64),
    /// `clientid()`.
    ClientId,
    /// `principal()`, Undefined without one.
    Principal,
    /// `sourceip()`, Undefined without one.
    SourceIp,
    /// `accountid()`.
    AccountId,
    /// `timestamp()`, an Int.
    Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Literal {
    Int(i64),
    Decimal(f64),
    Text(String),
    Bool(bool),
}

/// A predicate over operands.
#[derive(Clone, Debug)]
pub(crate) enum Predicate {
    Constant(bool),
    /// `operand op literal`, operands already in that order.
    Compare {
        op: BinaryOp,
        operand: Operand,
        literal: Literal,
    },
    And(Box<Predicate>, Box<Predicate>),
    Or(Box<Predicate>, Box<Predicate>),
    Not(Box<Predicate>),
    /// A computed value as a condition: with `exact` (the whole WHERE clause) only the
    /// Boolean true holds; inside AND, OR and NOT the standard conversion to Boolean applies.
    Value {
        value: ValueExpr,
        exact: bool,
    },
}

/// An expression computed through value helpers, node by node: what the JIT runs when an
/// expression is more than a field, a literal or a message fact (function calls, operators,
/// casts, object and array constructors).
#[derive(Clone, Debug)]
pub(crate) enum ValueExpr {
    Operand(Operand),
    Constant(Value),
    Unary(UnaryOp, Box<ValueExpr>),
    Binary(BinaryOp, Box<ValueExpr>, Box<ValueExpr>),
    Call(&'static catalogue::Function, Vec<ValueExpr>),
    Cast(Option<CastTarget>, Box<ValueExpr>),
    Field(Box<ValueExpr>, String),
    Array(Vec<ValueExpr>),
    Object(Vec<(String, ValueExpr)>),
    /// A SET variable, by its index in [`Lowered::variables`].
    Variable(usize),
    /// The payload as a whole: its parsed value, or its bytes for `encode(*, ...)`.
    Payload {
        raw: bool,
    },
    Case {
        subject: Box<ValueExpr>,
        branches: Vec<(ValueExpr, ValueExpr)>,
        otherwise: Option<Box<ValueExpr>>,
    },
    /// A nested SELECT, run by the interpreter's query routine over the payload.
    Query(Box<Query>),
}

/// One item of a SELECT list whose output object is built before it is written (it merges
/// `*`, nests a dotted alias or repeats a key).
#[derive(Clone, Debug)]
pub(crate) enum BuiltItem {
    /// An unaliased `*`: the payload's members.
    MergePayload,
    /// A value at a key path.
    Value(Vec<String>, ValueExpr),
}

/// What one output member (or the whole output of `SELECT VALUE`) is written from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    Operand(Operand),
    /// The payload object as a whole.
    Payload,
    /// A constant, already written as JSON; `None` when it is Undefined and writes nothing.
    Constant(Option<Vec<u8>>),
    /// A computed value.
    Value(ValueExpr),
}

/// One output member: its key, already written as `"key":` (empty under `SELECT VALUE`).
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) prefix: Vec<u8>,
    pub(crate) source: Source,
}

/// Why the JIT does not compile a statement, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The construct, as in "the JIT does not compile {reason}".
    pub reason: String,
    pub span: Span,
}

impl Unsupported {
    /// The advice telling the user the rule runs on the interpreter, pointing at the construct.
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic::advice(
            Code::JitInterpreted,
            self.span,
            format!("this rule runs on the interpreter: the JIT does not compile {}", self.reason),
        )
        .with_label("not compiled")
        .with_help("its results are the same either way; only its speed differs")
    }
}

fn unsupported(span: Span, reason: &str) -> Unsupported {
    Unsupported { reason: reason.to_owned(), span }
}

/// A statement the JIT compiles.
#[derive(Clone, Debug)]
pub(crate) struct Lowered {
    pub(crate) predicate: Option<Predicate>,
    /// The output is an object of `items`; otherwise the one item's value is the output.
    pub(crate) object: bool,
    pub(crate) items: Vec<Item>,
    /// The payload paths `Operand::Path` indexes.
    pub(crate) paths: Vec<Vec<String>>,
    /// SET assignments in order: the variable's index and its value.
    pub(crate) set: Vec<(usize, ValueExpr)>,
    /// The SET variables' names, by index.
    pub(crate) variables: Vec<String>,
    /// When the SELECT list's object is built first, its items (then `items` is empty).
    pub(crate) built: Option<Vec<BuiltItem>>,
    /// The statement's span, for what code generation might still refuse.
    pub(crate) span: Span,
    pub(crate) version: SqlVersion,
}

/// Lowers `statement`, or names the first construct the JIT does not compile.
pub(crate) fn lower(statement: &Statement, version: SqlVersion) -> Result<Lowered, Unsupported> {
    let mut lowered = Lowered {
        predicate: None,
        object: true,
        items: Vec::new(),
        paths: Vec::new(),
        set: Vec::new(),
        variables: Vec::new(),
        built: None,
        span: statement.span,
        version,
    };
    // SET runs first, in order, so that WHERE and SELECT see its variables.
    for assignment in &statement.set {
        let value = lowered.value(&assignment.value)?;
        let variable = lowered.variable(&assignment.variable.text);
        lowered.set.push((variable, value));
    }
    if let Some(condition) = &statement.where_clause {
        lowered.predicate = Some(lowered.predicate(condition, true)?);
    }
    match &statement.select {
        Select::Value(expr) => {
            lowered.object = false;
            let source = lowered.source(expr, version)?;
            lowered.items.push(Item { prefix: Vec::new(), source });
        }
        Select::Items(items) => match items.as_slice() {
            [SelectItem::Expr { expr, alias: None }] if expr.kind == ExprKind::Payload => {
                lowered.object = false;
                lowered.items.push(Item { prefix: Vec::new(), source: Source::Payload });
            }
            _ => {
                let Some(keys) = flat_keys(items) else {
                    lowered.built = Some(lowered.built_items(items)?);
                    return Ok(lowered);
                };
                for (item, key) in items.iter().zip(keys) {
                    let SelectItem::Expr { expr, .. } = item else {
                        return Err(unsupported(statement.span, "an invalid SELECT item"));
                    };
                    let source = lowered.source(expr, version)?;
                    let mut prefix = String::new();
                    value::write_json_string(&mut prefix, key);
                    prefix.push(':');
                    lowered.items.push(Item { prefix: prefix.into_bytes(), source });
                }
            }
        },
    }
    Ok(lowered)
}

impl Lowered {
    /// The index of SET variable `name`, adding it on first sight.
    fn variable(&mut self, name: &str) -> usize {
        match self.variables.iter().position(|known| known == name) {
            Some(index) => index,
            None => {
                self.variables.push(name.to_owned());
                self.variables.len() - 1
            }
        }
    }

    fn built_items(&mut self, items: &[SelectItem]) -> Result<Vec<BuiltItem>, Unsupported> {
        let mut built = Vec::with_capacity(items.len());
        for item in items {
            let SelectItem::Expr { expr, alias } = item else { continue };
            if expr.kind == ExprKind::Payload && alias.is_none() {
                built.push(BuiltItem::MergePayload);
            } else if let (ExprKind::Object(entries), None) = (&expr.kind, alias) {
                // An unaliased object literal writes each member as its own output key, in order.
                for (key, value) in entries {
                    built.push(BuiltItem::Value(vec![key.value.clone()], self.value(value)?));
                }
            } else {
                built.push(BuiltItem::Value(output_key(expr, alias.as_deref()), self.value(expr)?));
            }
        }
        Ok(built)
    }

    /// Lowers a condition; `top` when it is the whole WHERE clause.
    fn predicate(&mut self, expr: &Expr, top: bool) -> Result<Predicate, Unsupported> {
        match &expr.kind {
            ExprKind::Boolean(flag) => return Ok(Predicate::Constant(*flag)),
            ExprKind::Unary { op: UnaryOp::Not, operand } => {
                return Ok(Predicate::Not(Box::new(self.predicate(operand, false)?)));
            }
            ExprKind::Binary { op: BinaryOp::And, lhs, rhs } => {
                return Ok(Predicate::And(
                    Box::new(self.predicate(lhs, false)?),
                    Box::new(self.predicate(rhs, false)?),
                ));
            }
            ExprKind::Binary { op: BinaryOp::Or, lhs, rhs } => {
                return Ok(Predicate::Or(Box::new(self.predicate(lhs, false)?), Box::new(self.predicate(rhs, false)?)));
            }
            ExprKind::Binary { op, lhs, rhs } if is_comparison(*op) => {
                if let Some(compare) = self.comparison(*op, lhs, rhs) {
                    return Ok(compare);
                }
            }
            _ => {}
        }
        Ok(Predicate::Value { value: self.value(expr)?, exact: top })
    }

    /// A comparison the JIT tests inline or with one string helper, when it is one.
    fn comparison(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Option<Predicate> {
        let (operand_side, literal, op) = match (literal(rhs), literal(lhs)) {
            (Some(literal), _) => (lhs, literal, op),
            (None, Some(literal)) => (rhs, literal, mirror(op)),
            (None, None) => return None,
        };
        let simple = matches!(operand_side.kind, ExprKind::Call { .. })
            || static_path(operand_side).is_some_and(|path| !path.is_empty());
        if !simple {
            return None;
        }
        let operand = self.operand(operand_side)?;
        let supported = match (&literal, operand) {
            (Literal::Int(_) | Literal::Decimal(_), Operand::Path(_)) => true,
            (Literal::Text(_) | Literal::Bool(_), Operand::Path(_)) => matches!(op, BinaryOp::Eq | BinaryOp::Ne),
            (Literal::Text(_), Operand::Timestamp) => false,
            (Literal::Text(_), _) => matches!(op, BinaryOp::Eq | BinaryOp::Ne),
            _ => false,
        };
        supported.then_some(Predicate::Compare { op, operand, literal })
    }

    /// Lowers an expression to value helpers, or names what the JIT does not compile.
    fn value(&mut self, expr: &Expr) -> Result<ValueExpr, Unsupported> {
        if let Some(value) = constant(expr, self.version) {
            return Ok(ValueExpr::Constant(value));
        }
        if (static_path(expr).is_some_and(|path| !path.is_empty())
            || matches!(&expr.kind, ExprKind::Call { args, .. } if args.len() <= 1))
            && let Some(operand) = self.operand(expr)
        {
            return Ok(ValueExpr::Operand(operand));
        }
        Ok(match &expr.kind {
            ExprKind::Unary { op, operand } => ValueExpr::Unary(*op, Box::new(self.value(operand)?)),
            ExprKind::Binary { op, lhs, rhs } => {
                ValueExpr::Binary(*op, Box::new(self.value(lhs)?), Box::new(self.value(rhs)?))
            }
            ExprKind::Call { function, args } => {
                let Some(function) = catalogue::lookup(&function.text) else {
                    return Ok(ValueExpr::Constant(Value::Undefined));
                };
                let args = args
                    .iter()
                    .map(|arg| match arg.kind {
                        // `encode(*, ...)` encodes the payload's bytes as they arrived.
                        ExprKind::Payload if function.name == "encode" => Ok(ValueExpr::Payload { raw: true }),
                        _ => self.value(arg),
                    })
                    .collect::<Result<_, _>>()?;
                ValueExpr::Call(function, args)
            }
            ExprKind::Cast { value, target, .. } => ValueExpr::Cast(
                catalogue::cast_target(&target.text).map(|(target, _)| target),
                Box::new(self.value(value)?),
            ),
            ExprKind::Field { base, name } => ValueExpr::Field(Box::new(self.value(base)?), name.text.clone()),
            ExprKind::Array(items) => {
                ValueExpr::Array(items.iter().map(|item| self.value(item)).collect::<Result<_, _>>()?)
            }
            ExprKind::Object(entries) => ValueExpr::Object(
                entries
                    .iter()
                    .map(|(key, value)| Ok((key.value.clone(), self.value(value)?)))
                    .collect::<Result<_, Unsupported>>()?,
            ),
            ExprKind::Index { .. } => ValueExpr::Constant(Value::Undefined),
            ExprKind::Attribute(_) => {
                return Err(unsupported(expr.span, "more than 4,096 distinct payload fields in one rule"));
            }
            ExprKind::Payload => ValueExpr::Payload { raw: false },
            ExprKind::Variable(name) => ValueExpr::Variable(self.variable(name)),
            ExprKind::Case(case) => match &**case {
                Case { subject: None, .. } => ValueExpr::Constant(Value::Undefined),
                Case { subject: Some(subject), branches, otherwise } => ValueExpr::Case {
                    subject: Box::new(self.value(subject)?),
                    branches: branches
                        .iter()
                        .map(|(when, then)| Ok((self.value(when)?, self.value(then)?)))
                        .collect::<Result<_, Unsupported>>()?,
                    otherwise: match otherwise {
                        Some(otherwise) => Some(Box::new(self.value(otherwise)?)),
                        None => None,
                    },
                },
            },
            ExprKind::Query(query) => ValueExpr::Query(query.clone()),
            _ => return Err(unsupported(expr.span, "this expression")),
        })
    }

    /// The operand `expr` reads, when it is a payload path or a message fact.
    fn operand(&mut self, expr: &Expr) -> Option<Operand> {
        if let ExprKind::Call { function, args } = &expr.kind {
            let name = catalogue::lookup(&function.text)?.name;
            return match (name, &args[..]) {
                ("topic", []) => Some(Operand::Topic),
                ("topic", [level]) => match level.kind {
                    ExprKind::Integer(level) => Some(Operand::TopicLevel(level)),
                    _ => None,
                },
                ("clientid", []) => Some(Operand::ClientId),
                ("principal", []) => Some(Operand::Principal),
                ("sourceip", []) => Some(Operand::SourceIp),
                ("accountid", []) => Some(Operand::AccountId),
                ("timestamp", []) => Some(Operand::Timestamp),
                _ => None,
            };
        }
        let path = static_path(expr).filter(|path| !path.is_empty())?;
        let path: Vec<String> = path.into_iter().map(str::to_owned).collect();
        match self.paths.iter().position(|known| *known == path) {
            Some(index) => Some(Operand::Path(index)),
            None if self.paths.len() >= MAX_PATHS => None,
            None => {
                self.paths.push(path);
                Some(Operand::Path(self.paths.len() - 1))
            }
        }
    }

    fn source(&mut self, expr: &Expr, version: SqlVersion) -> Result<Source, Unsupported> {
        let whole_as_int = version.has_2016_features();
        if expr.kind == ExprKind::Payload {
            return Ok(Source::Payload);
        }
        if let Some(value) = constant(expr, version) {
            let mut out = String::new();
            let written = value::write_json(&mut out, &value, whole_as_int);
            return Ok(Source::Constant(written.then(|| out.into_bytes())));
        }
        if (static_path(expr).is_some_and(|path| !path.is_empty())
            || matches!(&expr.kind, ExprKind::Call { args, .. } if args.len() <= 1))
            && let Some(operand) = self.operand(expr)
        {
            return Ok(Source::Operand(operand));
        }
        self.value(expr).map(Source::Value)
    }
}

/// The value of a literal (or of `sql_version()`), as the interpreter evaluates it.
fn constant(expr: &Expr, version: SqlVersion) -> Option<Value> {
    Some(match &expr.kind {
        ExprKind::Call { function, args }
            if args.is_empty() && catalogue::lookup(&function.text)?.name == "sql_version" =>
        {
            Value::String(version.as_str().to_owned())
        }
        ExprKind::Integer(int) => Value::Int(*int),
        ExprKind::Decimal(decimal) => Value::from_decimal(decimal.as_deref().cloned()),
        ExprKind::String(text) => Value::String(text.value.clone()),
        ExprKind::Boolean(flag) => Value::Bool(*flag),
        ExprKind::Null => Value::Null,
        _ => return None,
    })
}

/// A Decimal literal compiled code compares as a double: one of at most 15 significant digits
/// well inside the double range, whose double orders exactly as the decimal does against the
/// payload numbers slots hold. Others are compared by the interpreter's 34-digit rules.
fn comparable_literal(decimal: &crate::decimal::Decimal) -> Option<f64> {
    (decimal.significant_digits() <= 15 && (-300..=300).contains(&decimal.adjusted_exponent()))
        .then(|| decimal.to_f64())
}

fn literal(expr: &Expr) -> Option<Literal> {
    match &expr.kind {
        ExprKind::Integer(int) => Some(Literal::Int(*int)),
        ExprKind::Decimal(Some(decimal)) => comparable_literal(decimal).map(Literal::Decimal),
        ExprKind::String(text) => Some(Literal::Text(text.value.clone())),
        ExprKind::Boolean(flag) => Some(Literal::Bool(*flag)),
        ExprKind::Unary { op: UnaryOp::Neg, operand } => match operand.kind {
            ExprKind::Integer(int) => int.checked_neg().map(Literal::Int),
            ExprKind::Decimal(Some(ref decimal)) => comparable_literal(&decimal.neg()).map(Literal::Decimal),
            _ => None,
        },
        _ => None,
    }
}

fn is_comparison(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge)
}

/// The operator that gives the same result with its operands swapped.
fn mirror(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => other,
    }
}
