//! Lowering a checked statement to what the JIT compiles: a WHERE predicate in IoT SQL's
//! three-valued logic and a SELECT projection that writes its output straight into bytes.
//! Anything else is refused with the construct named, and the rule stays on the interpreter.

use crate::check::functions::{self as catalogue, CastTarget};
use crate::diagnostics::{Code, Diagnostic};
use crate::eval::access_plan::static_path;
use crate::eval::value::{self, Value};
use crate::eval::{flat_keys, operators};
use crate::span::Span;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Select, SelectItem, Statement, UnaryOp};
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
        .with_help(
            "its results are the same either way; comparisons of fields with literals and SELECT lists of fields, \
             topic(), clientid() and literals run as native code",
        )
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
    /// The statement's span, for what code generation might still refuse.
    pub(crate) span: Span,
    pub(crate) version: SqlVersion,
}

/// Lowers `statement`, or names the first construct the JIT does not compile.
pub(crate) fn lower(statement: &Statement, version: SqlVersion) -> Result<Lowered, Unsupported> {
    // SET runs before WHERE and may fail; such rules keep the interpreter's order.
    if !statement.set.is_empty() {
        return Err(unsupported(statement.set_keyword.unwrap_or(statement.span), "a SET clause"));
    }
    let mut lowered =
        Lowered { predicate: None, object: true, items: Vec::new(), paths: Vec::new(), span: statement.span, version };
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
                let keys = flat_keys(items).ok_or_else(|| {
                    unsupported(statement.span, "a SELECT list that merges `*`, nests a dotted alias or repeats a key")
                })?;
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
                // `encode(*, ...)` reads the raw payload, and other uses of `*` the whole of it.
                if args.iter().any(|arg| arg.kind == ExprKind::Payload) {
                    return Err(unsupported(expr.span, "a function given the whole payload `*`"));
                }
                let args = args.iter().map(|arg| self.value(arg)).collect::<Result<_, _>>()?;
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
            ExprKind::Payload => return Err(unsupported(expr.span, "the whole payload `*` inside an expression")),
            ExprKind::Variable(_) => return Err(unsupported(expr.span, "a SET variable")),
            ExprKind::Case { .. } => return Err(unsupported(expr.span, "a CASE expression")),
            ExprKind::Query(_) => return Err(unsupported(expr.span, "a nested SELECT")),
            _ => return Err(unsupported(expr.span, "this expression")),
        })
    }

    /// The operand `expr` reads, when it is a payload path or a message fact.
    fn operand(&mut self, expr: &Expr) -> Option<Operand> {
        if let ExprKind::Call { function, args } = &expr.kind {
            let name = catalogue::lookup(&function.text)?.name;
            return match (name, args.as_slice()) {
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
        ExprKind::Decimal(decimal) => operators::decimal(*decimal),
        ExprKind::String(text) => Value::String(text.value.clone()),
        ExprKind::Boolean(flag) => Value::Bool(*flag),
        ExprKind::Null => Value::Null,
        _ => return None,
    })
}

fn literal(expr: &Expr) -> Option<Literal> {
    match &expr.kind {
        ExprKind::Integer(int) => Some(Literal::Int(*int)),
        ExprKind::Decimal(decimal) if decimal.is_finite() => Some(Literal::Decimal(*decimal)),
        ExprKind::String(text) => Some(Literal::Text(text.value.clone())),
        ExprKind::Boolean(flag) => Some(Literal::Bool(*flag)),
        ExprKind::Unary { op: UnaryOp::Neg, operand } => match operand.kind {
            ExprKind::Integer(int) => int.checked_neg().map(Literal::Int),
            ExprKind::Decimal(decimal) if decimal.is_finite() => Some(Literal::Decimal(-decimal)),
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
