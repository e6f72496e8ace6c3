//! The parsed query: a pipeline of stages over spansets, and the field
//! expressions its spanset filters and aggregates evaluate per span.
//!
//! The shapes follow Tempo's grammar (`pkg/traceql/expr.y`): a query is a
//! [`Pipeline`]; a stage is a spanset expression (filters `{ .. }` joined by
//! `&&`, `||` and the structural operators), an aggregate compared with a
//! number (`count() > 2`), `by(..)`, `coalesce()` or `select(..)`.

use crate::model::{SpanKind, StatusCode};

/// A query: stages applied left to right, each to every spanset the
/// previous one returned (the first to one spanset holding the whole trace).
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Spanset(SpansetExpr),
    /// `| count() > 2`: drops the spansets whose aggregate fails.
    Scalar(ScalarFilter),
    /// `| by(field)`: splits each spanset by the field's value.
    By(Field),
    /// `| coalesce()`: merges all spansets into one.
    Coalesce,
    /// `| select(..)`: names attributes to return; keeps every span.
    Select(Vec<Field>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum SpansetExpr {
    /// `{ field }`: the spans for which the field is `true`.
    Filter(Field),
    Op {
        op: SpansetOp,
        lhs: Box<SpansetExpr>,
        rhs: Box<SpansetExpr>,
    },
    /// `( pipeline )` used as a spanset operand.
    Pipeline(Pipeline),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpansetOp {
    /// `&&`: both sides matched; the union of their spans.
    And,
    /// `||`: either side matched; the union of their spans.
    Or,
    Structural(Relation, RelationMode),
}

/// How a right-hand span relates to a left-hand one in `{L} op {R}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// `>`: R's parent is an L span.
    Child,
    /// `<`: R is the parent of an L span.
    Parent,
    /// `>>`: an ancestor of R is an L span.
    Descendant,
    /// `<<`: R is an ancestor of an L span.
    Ancestor,
    /// `~`: R shares its parent with an L span other than itself.
    Sibling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationMode {
    /// `>`: the R spans in the relation.
    Plain,
    /// `!>`: the R spans in the relation with no L span.
    Not,
    /// `&>`: the R and the L spans in the relation.
    Union,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScalarFilter {
    pub aggregate: Aggregate,
    pub op: BinOp,
    /// The number compared with; durations in nanoseconds.
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    Count,
    Avg(Field),
    Min(Field),
    Max(Field),
    Sum(Field),
}

/// A field expression, evaluated per span.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Static(Static),
    Intrinsic(Intrinsic),
    Attribute {
        scope: Scope,
        name: String,
    },
    Binary {
        op: BinOp,
        lhs: Box<Field>,
        rhs: Box<Field>,
    },
    /// `lhs =~ "re"` / `lhs !~ "re"`; the pattern is matched whole.
    Regex {
        negated: bool,
        lhs: Box<Field>,
        pattern: Pattern,
    },
    /// `!field`
    Not(Box<Field>),
    /// `-field`
    Neg(Box<Field>),
    /// `field != nil` (exists) or `field = nil` (does not).
    Exists {
        field: Box<Field>,
        exists: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Static {
    Str(String),
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
    Bool(bool),
    Status(StatusCode),
    Kind(SpanKind),
    Nil,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intrinsic {
    Duration,
    Name,
    Status,
    StatusMessage,
    Kind,
    ChildCount,
    SpanId,
    ParentId,
    RootName,
    RootServiceName,
    TraceDuration,
    TraceId,
}

/// Where an attribute is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `.key`: the span's attributes, then its resource's.
    Unscoped,
    Span,
    Resource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }

    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow
        )
    }
}

/// A compiled regular expression, compared by its source.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: regex::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
