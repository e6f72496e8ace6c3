//! Field expressions evaluated over one span: the value of an attribute or
//! intrinsic, and Tempo's runtime operator rules (`BinaryOperation.execute`
//! in `pkg/traceql/ast_execute.go`):
//!
//! - operands of different types (a string attribute compared with `200`)
//!   make `false`, not an error; a missing attribute is nil, and any
//!   comparison with nil is `false` (`!=` too: use `!= nil` for existence);
//! - numbers compare by value across int, float and duration (nanoseconds);
//!   strings compare lexically; booleans, statuses and kinds by equality;
//! - an array attribute matches when one element does (`=`, `<`, `=~`, ...)
//!   or when every element does (`!=`, `!~`);
//! - int arithmetic stays int (overflow or division by zero gives nil),
//!   any other numeric arithmetic is float.

use std::cmp::Ordering;

use super::ast::{BinOp, Field, Intrinsic, Scope, Static};
use super::eval::TraceView;
use crate::model::{AttrValue, SpanKind, StatusCode};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Nil,
    Str(&'a str),
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
    Bool(bool),
    Status(StatusCode),
    Kind(SpanKind),
    Array(&'a [AttrValue]),
}

impl<'a> Value<'a> {
    fn of_static(value: &'a Static) -> Value<'a> {
        match value {
            Static::Str(s) => Value::Str(s),
            Static::Int(i) => Value::Int(*i),
            Static::Float(f) => Value::Float(*f),
            Static::Duration(d) => Value::Duration(*d),
            Static::Bool(b) => Value::Bool(*b),
            Static::Status(s) => Value::Status(*s),
            Static::Kind(k) => Value::Kind(*k),
            Static::Nil => Value::Nil,
        }
    }

    /// Attribute values TraceQL can compare; maps and bytes are nil to it.
    fn of_attr(value: &'a AttrValue) -> Value<'a> {
        match value {
            AttrValue::String(s) => Value::Str(s),
            AttrValue::Bool(b) => Value::Bool(*b),
            AttrValue::Int(i) => Value::Int(*i),
            AttrValue::Double(d) => Value::Float(*d),
            AttrValue::Array(items) => Value::Array(items),
            AttrValue::Map(_) | AttrValue::Bytes(_) | AttrValue::Empty => Value::Nil,
        }
    }

    /// The value as a number, for comparisons and aggregates.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Value::Int(i) | Value::Duration(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    fn as_bool(self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A key that is equal for equal values, for `by(..)`.
    pub fn group_key(self) -> String {
        match self {
            Value::Float(f) => format!("Float({})", f.to_bits()),
            other => format!("{other:?}"),
        }
    }
}

/// Evaluates `field` for span `index` of `trace`.
pub fn evaluate<'a>(field: &'a Field, trace: &TraceView<'a>, index: usize) -> Value<'a> {
    match field {
        Field::Static(value) => Value::of_static(value),
        Field::Intrinsic(intrinsic) => intrinsic_value(*intrinsic, trace, index),
        Field::Attribute { scope, name } => {
            let span = &trace.spans[index];
            let found = match scope {
                Scope::Span => span.attributes.get(name),
                Scope::Resource => span.resource_attributes.get(name),
                Scope::Unscoped => span
                    .attributes
                    .get(name)
                    .or_else(|| span.resource_attributes.get(name)),
            };
            found.map_or(Value::Nil, Value::of_attr)
        }
        Field::Binary { op, lhs, rhs } => {
            let left = evaluate(lhs, trace, index);
            // && and || decide on the left side when they can, like Tempo.
            match (op, left) {
                (BinOp::And, Value::Bool(false)) => return Value::Bool(false),
                (BinOp::Or, Value::Bool(true)) => return Value::Bool(true),
                _ => {}
            }
            binary(*op, left, evaluate(rhs, trace, index))
        }
        Field::Regex {
            negated,
            lhs,
            pattern,
        } => {
            let matches = |v: Value| match v {
                Value::Str(s) => Some(pattern.regex.is_match(s) != *negated),
                _ => None,
            };
            Value::Bool(match evaluate(lhs, trace, index) {
                Value::Array(items) => {
                    let mut results = items.iter().filter_map(|i| matches(Value::of_attr(i)));
                    // `!~` on an array: no element matches
                    if *negated {
                        results.all(|m| m)
                    } else {
                        results.any(|m| m)
                    }
                }
                value => matches(value).unwrap_or(false),
            })
        }
        Field::Not(inner) => match evaluate(inner, trace, index) {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Nil,
        },
        Field::Neg(inner) => match evaluate(inner, trace, index) {
            Value::Int(i) => i.checked_neg().map_or(Value::Nil, Value::Int),
            Value::Float(f) => Value::Float(-f),
            Value::Duration(d) => d.checked_neg().map_or(Value::Nil, Value::Duration),
            _ => Value::Nil,
        },
        Field::Exists { field, exists } => {
            let present = !matches!(evaluate(field, trace, index), Value::Nil);
            Value::Bool(present == *exists)
        }
    }
}

fn intrinsic_value<'a>(intrinsic: Intrinsic, trace: &TraceView<'a>, index: usize) -> Value<'a> {
    let span = &trace.spans[index];
    let root = trace.root.map(|r| &trace.spans[r]);
    match intrinsic {
        Intrinsic::Duration => Value::Duration(nanos(span.duration_nanos())),
        Intrinsic::Name => Value::Str(&span.name),
        Intrinsic::Status => Value::Status(span.status.code),
        Intrinsic::StatusMessage => Value::Str(&span.status.message),
        Intrinsic::Kind => Value::Kind(span.kind),
        Intrinsic::ChildCount => Value::Int(trace.child_count[index] as i64),
        Intrinsic::SpanId => Value::Str(&span.span_id),
        Intrinsic::ParentId => span
            .parent_span_id
            .as_deref()
            .map_or(Value::Nil, Value::Str),
        Intrinsic::TraceId => Value::Str(&span.trace_id),
        Intrinsic::RootName => root.map_or(Value::Nil, |r| Value::Str(&r.name)),
        Intrinsic::RootServiceName => root.map_or(Value::Nil, |r| Value::Str(&r.service_name)),
        Intrinsic::TraceDuration => Value::Duration(nanos(trace.duration_nanos)),
    }
}

fn nanos(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// `lhs op rhs` for everything but regexes.
pub fn binary<'a>(op: BinOp, lhs: Value<'a>, rhs: Value<'a>) -> Value<'a> {
    match (lhs, rhs) {
        (Value::Nil, _) | (_, Value::Nil) => Value::Bool(false),
        (Value::Array(items), scalar) => array(op, items, scalar, false),
        (scalar, Value::Array(items)) => array(op, items, scalar, true),
        _ if op == BinOp::And || op == BinOp::Or => match (lhs.as_bool(), rhs.as_bool()) {
            (Some(l), Some(r)) if op == BinOp::And => Value::Bool(l && r),
            (Some(l), Some(r)) => Value::Bool(l || r),
            _ => Value::Bool(false),
        },
        _ if op.is_arithmetic() => arithmetic(op, lhs, rhs),
        _ => Value::Bool(compare(op, lhs, rhs)),
    }
}

/// An array attribute against a scalar: any element for most operators,
/// every element for `!=`. `flipped` when the array is on the right.
fn array<'a>(op: BinOp, items: &'a [AttrValue], scalar: Value<'a>, flipped: bool) -> Value<'a> {
    if !op.is_comparison() {
        return Value::Bool(false);
    }
    let mut results = items.iter().map(|item| {
        let element = Value::of_attr(item);
        if flipped {
            compare(op, scalar, element)
        } else {
            compare(op, element, scalar)
        }
    });
    Value::Bool(if op == BinOp::Ne {
        results.all(|r| r)
    } else {
        results.any(|r| r)
    })
}

/// A comparison; `false` when the operands' types do not meet.
fn compare(op: BinOp, lhs: Value, rhs: Value) -> bool {
    let ordering = match (lhs, rhs) {
        (Value::Str(l), Value::Str(r)) => Some(l.cmp(r)),
        (Value::Int(l) | Value::Duration(l), Value::Int(r) | Value::Duration(r)) => Some(l.cmp(&r)),
        (Value::Bool(l), Value::Bool(r)) if matches!(op, BinOp::Eq | BinOp::Ne) => Some(l.cmp(&r)),
        (Value::Status(l), Value::Status(r)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
            Some(if l == r {
                Ordering::Equal
            } else {
                Ordering::Less
            })
        }
        (Value::Kind(l), Value::Kind(r)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
            Some(if l == r {
                Ordering::Equal
            } else {
                Ordering::Less
            })
        }
        _ => match (lhs.as_f64(), rhs.as_f64()) {
            (Some(l), Some(r)) => l.partial_cmp(&r),
            _ => None,
        },
    };
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        BinOp::Eq => ordering == Ordering::Equal,
        BinOp::Ne => ordering != Ordering::Equal,
        BinOp::Lt => ordering == Ordering::Less,
        BinOp::Le => ordering != Ordering::Greater,
        BinOp::Gt => ordering == Ordering::Greater,
        BinOp::Ge => ordering != Ordering::Less,
        _ => false,
    }
}

fn arithmetic<'a>(op: BinOp, lhs: Value<'a>, rhs: Value<'a>) -> Value<'a> {
    if let (Value::Int(l), Value::Int(r)) = (lhs, rhs) {
        let result = match op {
            BinOp::Add => l.checked_add(r),
            BinOp::Sub => l.checked_sub(r),
            BinOp::Mul => l.checked_mul(r),
            BinOp::Div => l.checked_div(r),
            BinOp::Mod => l.checked_rem(r),
            BinOp::Pow => u32::try_from(r).ok().and_then(|r| l.checked_pow(r)),
            _ => None,
        };
        return result.map_or(Value::Nil, Value::Int);
    }
    let (Some(l), Some(r)) = (lhs.as_f64(), rhs.as_f64()) else {
        return Value::Nil;
    };
    Value::Float(match op {
        BinOp::Add => l + r,
        BinOp::Sub => l - r,
        BinOp::Mul => l * r,
        BinOp::Div => l / r,
        BinOp::Mod => l % r,
        BinOp::Pow => l.powf(r),
        _ => return Value::Nil,
    })
}
