//! WHERE clauses the JIT compiles: comparisons of payload fields with number literals,
//! combined with AND, OR and NOT, in IoT SQL's three-valued logic (true, false, Undefined).

use crate::eval::access_plan::static_path;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, UnaryOp};

/// The most distinct payload fields one compiled clause reads.
pub(crate) const MAX_SLOTS: usize = 1 << 16;

/// A predicate over payload slots.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Predicate {
    Constant(bool),
    /// `slot op literal`, operands already in that order.
    Compare {
        op: BinaryOp,
        slot: usize,
        literal: Literal,
    },
    And(Box<Predicate>, Box<Predicate>),
    Or(Box<Predicate>, Box<Predicate>),
    Not(Box<Predicate>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Literal {
    Int(i64),
    Decimal(f64),
}

/// Lowers a WHERE clause, adding the payload paths it reads to `slots`; `Err` names the
/// first construct outside what the JIT compiles.
pub(crate) fn lower(expr: &Expr, slots: &mut Vec<Vec<String>>) -> Result<Predicate, String> {
    match &expr.kind {
        ExprKind::Boolean(flag) => Ok(Predicate::Constant(*flag)),
        ExprKind::Unary { op: UnaryOp::Not, operand } => Ok(Predicate::Not(Box::new(lower(operand, slots)?))),
        ExprKind::Binary { op: BinaryOp::And, lhs, rhs } => {
            Ok(Predicate::And(Box::new(lower(lhs, slots)?), Box::new(lower(rhs, slots)?)))
        }
        ExprKind::Binary { op: BinaryOp::Or, lhs, rhs } => {
            Ok(Predicate::Or(Box::new(lower(lhs, slots)?), Box::new(lower(rhs, slots)?)))
        }
        ExprKind::Binary { op, lhs, rhs } if is_comparison(*op) => {
            let (slot_side, literal, op) = match (literal(rhs), literal(lhs)) {
                (Some(literal), _) => (lhs, literal, *op),
                (None, Some(literal)) => (rhs, literal, mirror(*op)),
                (None, None) => return Err("a comparison between two non-literals".to_owned()),
            };
            let path =
                static_path(slot_side).filter(|path| !path.is_empty()).ok_or("a comparison of a computed value")?;
            let path: Vec<String> = path.into_iter().map(str::to_owned).collect();
            let slot = match slots.iter().position(|known| *known == path) {
                Some(slot) => slot,
                // Slot offsets must fit the 32-bit displacement of a load.
                None if slots.len() >= MAX_SLOTS => return Err("more payload fields than the JIT takes".to_owned()),
                None => {
                    slots.push(path);
                    slots.len() - 1
                }
            };
            Ok(Predicate::Compare { op, slot, literal })
        }
        _ => Err("an expression other than comparisons of fields with numbers, AND, OR and NOT".to_owned()),
    }
}

fn literal(expr: &Expr) -> Option<Literal> {
    match expr.kind {
        ExprKind::Integer(int) => Some(Literal::Int(int)),
        ExprKind::Decimal(decimal) if decimal.is_finite() => Some(Literal::Decimal(decimal)),
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
