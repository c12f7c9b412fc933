//! Lowering a checked statement to what the JIT compiles: a WHERE predicate in IoT SQL's
//! three-valued logic and a SELECT projection that writes its output straight into bytes.
//! Anything else is refused with the construct named, and the rule stays on the interpreter.

use crate::check::functions as catalogue;
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
#[derive(Clone, Debug, PartialEq)]
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
}

/// What one output member (or the whole output of `SELECT VALUE`) is written from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Source {
    Operand(Operand),
    /// The payload object as a whole.
    Payload,
    /// A constant, already written as JSON; `None` when it is Undefined and writes nothing.
    Constant(Option<Vec<u8>>),
}

/// One output member: its key, already written as `"key":` (empty under `SELECT VALUE`).
#[derive(Clone, Debug, PartialEq)]
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
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Lowered {
    pub(crate) predicate: Option<Predicate>,
    /// The output is an object of `items`; otherwise the one item's value is the output.
    pub(crate) object: bool,
    pub(crate) items: Vec<Item>,
    /// The payload paths `Operand::Path` indexes.
    pub(crate) paths: Vec<Vec<String>>,
    /// The statement's span, for what code generation might still refuse.
    pub(crate) span: Span,
}

/// Lowers `statement`, or names the first construct the JIT does not compile.
pub(crate) fn lower(statement: &Statement, version: SqlVersion) -> Result<Lowered, Unsupported> {
    // SET runs before WHERE and may fail; such rules keep the interpreter's order.
    if !statement.set.is_empty() {
        return Err(unsupported(statement.set_keyword.unwrap_or(statement.span), "a SET clause"));
    }
    let mut lowered =
        Lowered { predicate: None, object: true, items: Vec::new(), paths: Vec::new(), span: statement.span };
    if let Some(condition) = &statement.where_clause {
        lowered.predicate = Some(lowered.predicate(condition)?);
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
    fn predicate(&mut self, expr: &Expr) -> Result<Predicate, Unsupported> {
        match &expr.kind {
            ExprKind::Boolean(flag) => Ok(Predicate::Constant(*flag)),
            ExprKind::Unary { op: UnaryOp::Not, operand } => Ok(Predicate::Not(Box::new(self.predicate(operand)?))),
            ExprKind::Binary { op: BinaryOp::And, lhs, rhs } => {
                Ok(Predicate::And(Box::new(self.predicate(lhs)?), Box::new(self.predicate(rhs)?)))
            }
            ExprKind::Binary { op: BinaryOp::Or, lhs, rhs } => {
                Ok(Predicate::Or(Box::new(self.predicate(lhs)?), Box::new(self.predicate(rhs)?)))
            }
            ExprKind::Binary { op, lhs, rhs } if is_comparison(*op) => {
                let (operand_side, literal, op) = match (literal(rhs), literal(lhs)) {
                    (Some(literal), _) => (lhs, literal, *op),
                    (None, Some(literal)) => (rhs, literal, mirror(*op)),
                    (None, None) => return Err(unsupported(expr.span, "a comparison between two non-literals")),
                };
                let operand = self
                    .operand(operand_side)
                    .ok_or_else(|| unsupported(operand_side.span, "a comparison of a computed value"))?;
                let supported = match (&literal, operand) {
                    (Literal::Int(_) | Literal::Decimal(_), Operand::Path(_)) => true,
                    (Literal::Text(_) | Literal::Bool(_), Operand::Path(_)) => {
                        matches!(op, BinaryOp::Eq | BinaryOp::Ne)
                    }
                    (Literal::Text(_), Operand::Timestamp) => false,
                    (Literal::Text(_), _) => matches!(op, BinaryOp::Eq | BinaryOp::Ne),
                    _ => false,
                };
                if !supported {
                    return Err(unsupported(
                        expr.span,
                        "an ordering of strings or Booleans, or a topic or client id compared with a number",
                    ));
                }
                Ok(Predicate::Compare { op, operand, literal })
            }
            _ => {
                Err(unsupported(expr.span, "a WHERE expression other than comparisons with literals, AND, OR and NOT"))
            }
        }
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
        self.operand(expr).map(Source::Operand).ok_or_else(|| {
            unsupported(
                expr.span,
                "a SELECT expression other than payload fields, literals and the message's topic, client id, principal, \
                 source IP, account id or timestamp",
            )
        })
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
