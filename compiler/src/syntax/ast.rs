//! The syntax tree of one IoT SQL statement.
//!
//! INVARIANT: no expression is nested more than [`MAX_DEPTH`] levels deep. The parser replaces
//! anything deeper with [`ExprKind::Error`] and reports it, so every recursive walk over the
//! tree, including `Drop`, runs in bounded stack.

use crate::span::Span;

/// The deepest expression the parser builds.
pub const MAX_DEPTH: u32 = 512;

/// `[SET ...] SELECT ... [FROM ...] [WHERE ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The `SET` keyword, when there is a SET clause.
    pub set_keyword: Option<Span>,
    pub set: Vec<Assignment>,
    pub select: Select,
    pub from: Option<Expr>,
    pub where_clause: Option<Expr>,
    pub span: Span,
}

/// `@name = value` in a SET clause.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub variable: Name,
    pub value: Expr,
}

/// The SELECT list of a statement or a nested query.
#[derive(Clone, Debug, PartialEq)]
pub enum Select {
    /// `SELECT item, item, ...`.
    Items(Vec<SelectItem>),
    /// `SELECT VALUE expr`.
    Value(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub enum SelectItem {
    /// `expr [AS a.b.c]`; a bare `*` is `ExprKind::Payload`.
    /// Boxed, so that the list of a statement with millions of items stays small while it grows
    /// (16 bytes an item).
    Expr { expr: Box<Expr>, alias: Option<Box<Alias>> },
    /// An item the parser could not read; already reported.
    Error(Span),
}

/// `AS name` or the dotted `AS state.reported`, which builds nested output objects.
#[derive(Clone, Debug, PartialEq)]
pub struct Alias {
    pub path: Vec<Name>,
    pub span: Span,
}

/// An identifier with its place in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// A string literal: its text after escapes, and the quoted source it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringLit {
    pub value: String,
    pub span: Span,
}

#[derive(Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    depth: u32,
}

/// Names, argument lists and the rarer literals are boxed, and attribute names of up to 23
/// bytes are kept inline, so that an expression stays small (56 bytes with its span) and a
/// one-letter attribute costs one allocation: a 10 MB statement holds millions of them.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Integer(i64),
    /// A number with a fraction or an exponent, or an integer past 64 bits; `None` when it is
    /// outside the Decimal range (reported, and Undefined when evaluated).
    Decimal(Option<Box<crate::decimal::Decimal>>),
    String(Box<StringLit>),
    Boolean(bool),
    Null,
    /// `*`: the whole payload.
    Payload,
    /// A top-level payload attribute.
    Attribute(smol_str::SmolStr),
    /// `@name`.
    Variable(String),
    /// `base.name`.
    Field {
        base: Box<Expr>,
        name: Box<Name>,
    },
    /// `base[index]`: parsed to explain that IoT SQL uses `get()` instead.
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Call {
        function: Box<Name>,
        args: Box<[Expr]>,
    },
    /// `function(value AS target)`; only `cast` takes this form.
    Cast {
        function: Box<Name>,
        value: Box<Expr>,
        target: Box<Name>,
    },
    /// `CASE subject WHEN ... THEN ... [ELSE ...] END`.
    Case(Box<Case>),
    Object(Vec<(StringLit, Expr)>),
    Array(Vec<Expr>),
    /// `(SELECT ... FROM source [AS alias] [WHERE ...])`, or the same without parentheses as
    /// a function's argument.
    Query(Box<Query>),
    /// Input the parser could not read; already reported.
    Error,
}

/// `CASE subject WHEN ... THEN ... [ELSE ...] END`; a missing subject is reported.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub subject: Option<Box<Expr>>,
    pub branches: Vec<(Expr, Expr)>,
    pub otherwise: Option<Box<Expr>>,
}

/// A nested object query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub select: Select,
    pub from: Expr,
    /// `FROM source AS alias`: the name of the element being read.
    pub alias: Option<Name>,
    pub where_clause: Option<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `x IN array`: whether an element of the array equals `x`.
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub const fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "IN",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    /// How tightly the operator binds; the higher binds first. `NOT` binds between `AND` and
    /// the comparisons, and the unary minus above `*`.
    pub const fn binding(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::In => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 6,
        }
    }
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expr").field("kind", &self.kind).field("span", &self.span).finish()
    }
}

impl Expr {
    /// A leaf expression.
    pub fn leaf(kind: ExprKind, span: Span) -> Self {
        Self { kind, span, depth: 1 }
    }

    /// An expression one level above children at most `child_depth` deep; `None` when it would
    /// nest deeper than [`MAX_DEPTH`].
    pub fn node(kind: ExprKind, span: Span, child_depth: u32) -> Option<Self> {
        let depth = child_depth.saturating_add(1);
        (depth <= MAX_DEPTH).then_some(Self { kind, span, depth })
    }

    pub fn error(span: Span) -> Self {
        Self::leaf(ExprKind::Error, span)
    }

    /// How many levels of expressions this one spans.
    pub fn depth(&self) -> u32 {
        self.depth
    }
}

impl Query {
    /// Expressions directly inside the query, for depth accounting.
    pub fn children(&self) -> impl Iterator<Item = &Expr> {
        let select: Vec<&Expr> = match &self.select {
            Select::Value(expr) => vec![expr],
            Select::Items(items) => items
                .iter()
                .filter_map(|item| match item {
                    SelectItem::Expr { expr, .. } => Some(&**expr),
                    SelectItem::Error(_) => None,
                })
                .collect(),
        };
        select.into_iter().chain(std::iter::once(&self.from)).chain(self.where_clause.as_ref())
    }
}
