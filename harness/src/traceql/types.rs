//! The static type rules Tempo checks before running a query
//! (`pkg/traceql/ast_validate.go`, `enum_statics.go`, `enum_operators.go`):
//! an operator's operands must be of one type (numbers of any kind count
//! as one; an attribute's type is unknown until a span is read, so it
//! matches anything), and each type allows only some operators. A query
//! that breaks them, `{ name = 200 }` say, is an error, while a span whose
//! attribute turns out to be of another type simply does not match.

use super::ast::{BinOp, Intrinsic, Static};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// An attribute: its type is the span's business.
    Any,
    Str,
    Int,
    Float,
    Duration,
    Bool,
    Status,
    Kind,
    Nil,
}

impl Ty {
    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Duration)
    }

    pub fn name(self) -> &'static str {
        match self {
            Ty::Any => "attribute",
            Ty::Str => "string",
            Ty::Int => "integer",
            Ty::Float => "float",
            Ty::Duration => "duration",
            Ty::Bool => "boolean",
            Ty::Status => "status",
            Ty::Kind => "kind",
            Ty::Nil => "nil",
        }
    }

    /// The name with its article: "an integer", "a string".
    pub fn a(self) -> String {
        let name = self.name();
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {name}")
    }

    pub fn of_static(value: &Static) -> Ty {
        match value {
            Static::Str(_) => Ty::Str,
            Static::Int(_) => Ty::Int,
            Static::Float(_) => Ty::Float,
            Static::Duration(_) => Ty::Duration,
            Static::Bool(_) => Ty::Bool,
            Static::Status(_) => Ty::Status,
            Static::Kind(_) => Ty::Kind,
            Static::Nil => Ty::Nil,
        }
    }

    pub fn of_intrinsic(intrinsic: Intrinsic) -> Ty {
        match intrinsic {
            Intrinsic::Duration | Intrinsic::TraceDuration => Ty::Duration,
            Intrinsic::Name
            | Intrinsic::StatusMessage
            | Intrinsic::RootName
            | Intrinsic::RootServiceName
            | Intrinsic::TraceId
            | Intrinsic::SpanId
            | Intrinsic::ParentId => Ty::Str,
            Intrinsic::Status => Ty::Status,
            Intrinsic::Kind => Ty::Kind,
            Intrinsic::ChildCount => Ty::Int,
        }
    }
}

/// Whether two types can meet in one binary operation (`isMatchingOperand`).
pub fn operands_match(a: Ty, b: Ty) -> bool {
    a == Ty::Any
        || b == Ty::Any
        || a == b
        || (a.is_numeric() && b.is_numeric())
        || a == Ty::Nil
        || b == Ty::Nil
}

/// Whether `op` applies to a value of type `t` (`binaryTypeValid`).
pub fn op_allows(op: BinOp, t: Ty) -> bool {
    use BinOp::*;
    match t {
        Ty::Any => true,
        Ty::Bool => matches!(op, And | Or | Eq | Ne),
        Ty::Int | Ty::Float | Ty::Duration => op.is_comparison() || op.is_arithmetic(),
        Ty::Str => op.is_comparison(),
        Ty::Nil | Ty::Status | Ty::Kind => matches!(op, Eq | Ne),
    }
}

/// The type of `lhs op rhs` once it type-checked (`impliedType`).
pub fn result_of(op: BinOp, lhs: Ty, rhs: Ty) -> Ty {
    if !op.is_arithmetic() {
        Ty::Bool
    } else if lhs == Ty::Any {
        rhs
    } else {
        lhs
    }
}
