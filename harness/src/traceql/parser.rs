//! The parser: tokens -> [`Pipeline`], by recursive descent with
//! precedence climbing, checking types as it builds (see `types.rs`).
//!
//! Precedence, lowest first, as in Tempo's `expr.y`: `|`; then `&&` and
//! `||` together (left-associative, so `a || b && c` is `(a || b) && c`);
//! then the comparisons and the structural operators; `+ -`; prefix `!`;
//! `* / %`; `^` (right-associative); prefix `-`. Between spansets `&&`/`||`
//! bind looser than `>`, `>>`, `~`, ...
//!
//! Valid TraceQL that is not supported here (metrics functions, hints,
//! `parent.`/`event.`/`link.`/`instrumentation.` scopes, comparing two
//! pipelines, arithmetic on aggregates) is refused with `unsupported: true`
//! and the feature's name; anything else that does not parse is a syntax
//! error saying what was expected at which column.

use super::QueryError;
use super::ast::{
    Aggregate, BinOp, Field, Intrinsic, Pattern, Pipeline, Relation, RelationMode, ScalarFilter,
    Scope, SpansetExpr, SpansetOp, Stage, Static,
};
use super::lexer::{Token, TokenKind, tokenize};
use super::types::{Ty, op_allows, operands_match, result_of};
use crate::model::{SpanKind, StatusCode};

/// How deep parentheses and operator chains may nest; deeper queries are
/// refused so that neither parsing nor evaluating can exhaust the stack.
pub const MAX_NESTING: usize = 128;

/// Regex programs larger than this are refused (a query is small; this
/// bounds what a hostile pattern can make the compiler build).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Metrics functions (TraceQL metrics queries), named so that refusing
/// them says what they are.
const METRICS_FUNCTIONS: &[&str] = &[
    "rate",
    "count_over_time",
    "min_over_time",
    "max_over_time",
    "avg_over_time",
    "sum_over_time",
    "quantile_over_time",
    "histogram_over_time",
    "compare",
    "topk",
    "bottomk",
];

pub fn parse(text: &str) -> Result<Pipeline, QueryError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        pos: 0,
        depth: 0,
    };
    let (pipeline, _) = parser.pipeline()?;
    let token = parser.peek().clone();
    match &token.kind {
        TokenKind::End => Ok(pipeline),
        TokenKind::Ident(w) if w == "with" => Err(unsupported(
            token.column,
            "query hints `with(...)` are not supported",
        )),
        _ => Err(syntax(
            token.column,
            format!(
                "expected an operator, `|` or the end of the query, found {}",
                describe(&token.kind)
            ),
        )),
    }
}

fn syntax(column: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        column,
        message: message.into(),
        unsupported: false,
    }
}

fn unsupported(column: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        column,
        message: message.into(),
        unsupported: true,
    }
}

fn too_deep(column: usize) -> QueryError {
    unsupported(
        column,
        format!("expressions nested more than {MAX_NESTING} levels deep are not supported"),
    )
}

/// A token as an error message names it.
fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Str(s) => format!("string {s:?}"),
        TokenKind::Int(i) => format!("number {i}"),
        TokenKind::Float(f) => format!("number {f}"),
        TokenKind::Duration(_) => "a duration".to_owned(),
        TokenKind::Ident(w) => format!("`{w}`"),
        TokenKind::Attribute { scope, name } => format!("attribute `{scope}.{name}`"),
        TokenKind::ScopeColon(s) => format!("`{s}:`"),
        TokenKind::Op(o) => format!("`{o}`"),
        TokenKind::End => "the end of the query".to_owned(),
    }
}

/// A field expression being built, with what the checks need.
struct Parsed {
    field: Field,
    ty: Ty,
    /// Height of the expression tree (a leaf is 1).
    height: usize,
    column: usize,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Current recursion depth of the descent.
    depth: usize,
}

fn field_op(op: &str) -> Option<(BinOp, u8)> {
    Some(match op {
        "&&" => (BinOp::And, 1),
        "||" => (BinOp::Or, 1),
        "=" => (BinOp::Eq, 2),
        "!=" => (BinOp::Ne, 2),
        "<" => (BinOp::Lt, 2),
        "<=" => (BinOp::Le, 2),
        ">" => (BinOp::Gt, 2),
        ">=" => (BinOp::Ge, 2),
        "+" => (BinOp::Add, 3),
        "-" => (BinOp::Sub, 3),
        "*" => (BinOp::Mul, 5),
        "/" => (BinOp::Div, 5),
        "%" => (BinOp::Mod, 5),
        "^" => (BinOp::Pow, 6),
        _ => return None,
    })
}

/// Regex operators sit with the comparisons (level 2).
fn regex_op(op: &str) -> Option<bool> {
    match op {
        "=~" => Some(false),
        "!~" => Some(true),
        _ => None,
    }
}

fn spanset_op(op: &str) -> Option<(SpansetOp, u8)> {
    use Relation::*;
    use RelationMode::*;
    let structural = |r, m| Some((SpansetOp::Structural(r, m), 2));
    match op {
        "&&" => Some((SpansetOp::And, 1)),
        "||" => Some((SpansetOp::Or, 1)),
        ">" => structural(Child, Plain),
        "<" => structural(Parent, Plain),
        ">>" => structural(Descendant, Plain),
        "<<" => structural(Ancestor, Plain),
        "~" => structural(Sibling, Plain),
        "!>" => structural(Child, Not),
        "!<" => structural(Parent, Not),
        "!>>" => structural(Descendant, Not),
        "!<<" => structural(Ancestor, Not),
        // between spansets `!~` is "not sibling", inside a filter "no regex match"
        "!~" => structural(Sibling, Not),
        "&>" => structural(Child, Union),
        "&<" => structural(Parent, Union),
        "&>>" => structural(Descendant, Union),
        "&<<" => structural(Ancestor, Union),
        "&~" => structural(Sibling, Union),
        _ => None,
    }
}

fn comparison(op: &str) -> Option<BinOp> {
    field_op(op)
        .map(|(op, _)| op)
        .filter(|op| op.is_comparison())
}

fn references_span(field: &Field) -> bool {
    match field {
        Field::Static(_) => false,
        Field::Intrinsic(_) | Field::Attribute { .. } => true,
        Field::Binary { lhs, rhs, .. } => references_span(lhs) || references_span(rhs),
        Field::Regex { lhs, .. } => references_span(lhs),
        Field::Not(f) | Field::Neg(f) => references_span(f),
        Field::Exists { field, .. } => references_span(field),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        // `tokenize` always ends with End, and nothing advances past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.pos += 1;
        }
        token
    }

    fn peek_op(&self) -> Option<&'static str> {
        match self.peek().kind {
            TokenKind::Op(op) => Some(op),
            _ => None,
        }
    }

    fn expect(&mut self, op: &str, context: &str) -> Result<Token, QueryError> {
        if self.peek_op() == Some(op) {
            return Ok(self.advance());
        }
        let token = self.peek();
        Err(syntax(
            token.column,
            format!("expected `{op}` {context}, found {}", describe(&token.kind)),
        ))
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(too_deep(self.peek().column));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- pipelines and spansets ----

    fn pipeline(&mut self) -> Result<(Pipeline, usize), QueryError> {
        self.enter()?;
        let mut stages = Vec::new();
        let mut height = 0;
        loop {
            let (stage, h) = self.stage(stages.is_empty())?;
            stages.push(stage);
            height = height.max(h);
            if self.peek_op() != Some("|") {
                break;
            }
            self.advance();
        }
        self.leave();
        Ok((Pipeline { stages }, height + 1))
    }

    fn stage(&mut self, first: bool) -> Result<(Stage, usize), QueryError> {
        let token = self.peek().clone();
        match &token.kind {
            TokenKind::Op("{" | "(") => {
                let (expr, h) = self.spanset_expr(1)?;
                Ok((Stage::Spanset(expr), h))
            }
            TokenKind::Ident(word) => match word.as_str() {
                "by" => {
                    self.advance();
                    self.expect("(", "after `by`")?;
                    let field = self.field_expr(1)?;
                    self.expect(")", "to close `by(`")?;
                    if !references_span(&field.field) {
                        return Err(syntax(
                            field.column,
                            "by() needs an expression that reads the span (an attribute or an intrinsic)",
                        ));
                    }
                    Ok((Stage::By(field.field), field.height + 1))
                }
                "coalesce" if !first => {
                    self.advance();
                    self.expect("(", "after `coalesce`")?;
                    self.expect(")", "after `coalesce(`: it takes no arguments")?;
                    Ok((Stage::Coalesce, 1))
                }
                "select" => {
                    self.advance();
                    self.expect("(", "after `select`")?;
                    let mut fields = Vec::new();
                    loop {
                        let field = self.field_expr(1)?;
                        if !matches!(field.field, Field::Intrinsic(_) | Field::Attribute { .. }) {
                            return Err(syntax(
                                field.column,
                                "select() takes attributes and intrinsics",
                            ));
                        }
                        fields.push(field.field);
                        if self.peek_op() != Some(",") {
                            break;
                        }
                        self.advance();
                    }
                    self.expect(")", "to close `select(`")?;
                    Ok((Stage::Select(fields), 2))
                }
                "count" | "avg" | "min" | "max" | "sum" => self.scalar_filter(),
                w if METRICS_FUNCTIONS.contains(&w) => Err(unsupported(
                    token.column,
                    format!("metrics function `{w}()`: TraceQL metrics queries are not supported"),
                )),
                _ => Err(self.stage_expected(&token, first)),
            },
            _ => Err(self.stage_expected(&token, first)),
        }
    }

    fn stage_expected(&self, token: &Token, first: bool) -> QueryError {
        let what = if first {
            "a spanset filter `{ ... }`"
        } else {
            "a spanset filter `{ ... }`, an aggregate (`count()`, `avg(..)`, ...), `by(..)`, `select(..)` or `coalesce()` after `|`"
        };
        syntax(
            token.column,
            format!("expected {what}, found {}", describe(&token.kind)),
        )
    }

    /// `count() > 2`, `avg(duration) >= 100ms`, ...
    fn scalar_filter(&mut self) -> Result<(Stage, usize), QueryError> {
        let name_token = self.advance();
        let TokenKind::Ident(name) = &name_token.kind else {
            unreachable!("called on an aggregate's name")
        };
        self.expect("(", &format!("after `{name}`"))?;
        let mut height = 1;
        let aggregate = if name == "count" {
            self.expect(")", "after `count(`: it takes no arguments")?;
            Aggregate::Count
        } else {
            let field = self.field_expr(1)?;
            self.expect(")", &format!("to close `{name}(`"))?;
            if field.ty != Ty::Any && !field.ty.is_numeric() {
                return Err(syntax(
                    field.column,
                    format!("{name}() needs a number, found {}", field.ty.a()),
                ));
            }
            if !references_span(&field.field) {
                return Err(syntax(
                    field.column,
                    format!("{name}() needs an expression that reads the span"),
                ));
            }
            height += field.height;
            match name.as_str() {
                "avg" => Aggregate::Avg(field.field),
                "min" => Aggregate::Min(field.field),
                "max" => Aggregate::Max(field.field),
                _ => Aggregate::Sum(field.field),
            }
        };
        let next = self.peek().clone();
        let op = match &next.kind {
            TokenKind::Op(op) if comparison(op).is_some() => comparison(op).unwrap_or(BinOp::Eq),
            TokenKind::Op("+" | "-" | "*" | "/" | "%" | "^") => {
                return Err(unsupported(
                    next.column,
                    "arithmetic on aggregates is not supported",
                ));
            }
            TokenKind::Op(")") => {
                return Err(unsupported(
                    next.column,
                    "comparing the aggregates of two pipelines is not supported",
                ));
            }
            other => {
                return Err(syntax(
                    next.column,
                    format!(
                        "expected a comparison (=, !=, <, <=, >, >=) after `{name}(..)`, found {}",
                        describe(other)
                    ),
                ));
            }
        };
        self.advance();
        let value = self.scalar_value()?;
        if let Some("+" | "-" | "*" | "/" | "%" | "^") = self.peek_op() {
            return Err(unsupported(
                self.peek().column,
                "arithmetic in an aggregate's comparison is not supported",
            ));
        }
        Ok((
            Stage::Scalar(ScalarFilter {
                aggregate,
                op,
                value,
            }),
            height + 1,
        ))
    }

    /// The number an aggregate is compared with; durations in nanoseconds.
    fn scalar_value(&mut self) -> Result<f64, QueryError> {
        let negative = self.peek_op() == Some("-");
        if negative {
            self.advance();
        }
        let token = self.advance();
        let value = match &token.kind {
            TokenKind::Int(i) => *i as f64,
            TokenKind::Float(f) => *f,
            TokenKind::Duration(d) => *d as f64,
            TokenKind::Ident(w) if ["count", "avg", "min", "max", "sum"].contains(&w.as_str()) => {
                return Err(unsupported(
                    token.column,
                    "comparing an aggregate with another aggregate is not supported",
                ));
            }
            other => {
                return Err(syntax(
                    token.column,
                    format!(
                        "an aggregate is compared with a number or a duration, found {}",
                        describe(other)
                    ),
                ));
            }
        };
        Ok(if negative { -value } else { value })
    }

    fn spanset_expr(&mut self, min_prec: u8) -> Result<(SpansetExpr, usize), QueryError> {
        self.enter()?;
        let (mut lhs, mut height) = self.spanset_primary()?;
        while let Some((op, prec)) = self.peek_op().and_then(spanset_op) {
            if prec < min_prec {
                break;
            }
            let column = self.advance().column;
            let (rhs, rhs_height) = self.spanset_expr(prec + 1)?;
            height = height.max(rhs_height) + 1;
            if height > MAX_NESTING {
                return Err(too_deep(column));
            }
            lhs = SpansetExpr::Op {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        self.leave();
        Ok((lhs, height))
    }

    fn spanset_primary(&mut self) -> Result<(SpansetExpr, usize), QueryError> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Op("{") => {
                self.advance();
                if self.peek_op() == Some("}") {
                    self.advance();
                    return Ok((SpansetExpr::Filter(Field::Static(Static::Bool(true))), 1));
                }
                let field = self.field_expr(1)?;
                self.expect("}", "to close the spanset filter")?;
                if field.ty != Ty::Bool && field.ty != Ty::Any {
                    return Err(syntax(
                        field.column,
                        format!(
                            "a spanset filter needs a condition (true or false), found {} expression",
                            field.ty.a()
                        ),
                    ));
                }
                Ok((SpansetExpr::Filter(field.field), field.height + 1))
            }
            TokenKind::Op("(") => {
                self.advance();
                let (mut pipeline, height) = self.pipeline()?;
                self.expect(")", "to close `(`")?;
                if let [Stage::Spanset(_)] = pipeline.stages.as_slice()
                    && let Some(Stage::Spanset(expr)) = pipeline.stages.pop()
                {
                    return Ok((expr, height));
                }
                Ok((SpansetExpr::Pipeline(pipeline), height))
            }
            other => Err(syntax(
                token.column,
                format!(
                    "expected a spanset filter `{{ ... }}` or `(`, found {}",
                    describe(&other)
                ),
            )),
        }
    }

    // ---- field expressions ----

    fn field_expr(&mut self, min_prec: u8) -> Result<Parsed, QueryError> {
        self.enter()?;
        let mut lhs = self.field_prefix()?;
        while let Some(op) = self.peek_op() {
            if let Some(negated) = regex_op(op) {
                if 2 < min_prec {
                    break;
                }
                let column = self.advance().column;
                let rhs = self.field_expr(3)?;
                lhs = self.regex(negated, lhs, rhs, column)?;
                continue;
            }
            let Some((bin, prec)) = field_op(op) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            let column = self.advance().column;
            // `^` is right-associative, the others left.
            let next = if bin == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.field_expr(next)?;
            lhs = self.binary(bin, op, lhs, rhs, column)?;
        }
        self.leave();
        Ok(lhs)
    }

    fn field_prefix(&mut self) -> Result<Parsed, QueryError> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Op("!") => {
                self.advance();
                // Tempo ranks `!` between `+` and `*`: `!a * b` is `!(a * b)`.
                let operand = self.field_expr(5)?;
                if operand.ty != Ty::Any && operand.ty != Ty::Bool {
                    return Err(syntax(
                        token.column,
                        format!("`!` needs a boolean, found {}", operand.ty.a()),
                    ));
                }
                self.unary(
                    Field::Not(Box::new(operand.field)),
                    Ty::Bool,
                    operand.height,
                    token.column,
                )
            }
            TokenKind::Op("-") => {
                self.advance();
                let operand = self.field_expr(7)?;
                let folded = match operand.field {
                    Field::Static(Static::Int(i)) => Some(Static::Int(-i)),
                    Field::Static(Static::Float(f)) => Some(Static::Float(-f)),
                    Field::Static(Static::Duration(d)) => Some(Static::Duration(-d)),
                    _ => None,
                };
                if let Some(value) = folded {
                    return Ok(Parsed {
                        field: Field::Static(value),
                        ty: operand.ty,
                        height: 1,
                        column: token.column,
                    });
                }
                if operand.ty != Ty::Any && !operand.ty.is_numeric() {
                    return Err(syntax(
                        token.column,
                        format!("`-` needs a number, found {}", operand.ty.a()),
                    ));
                }
                let ty = operand.ty;
                self.unary(
                    Field::Neg(Box::new(operand.field)),
                    ty,
                    operand.height,
                    token.column,
                )
            }
            _ => self.field_primary(),
        }
    }

    fn unary(
        &self,
        field: Field,
        ty: Ty,
        height: usize,
        column: usize,
    ) -> Result<Parsed, QueryError> {
        if height + 1 > MAX_NESTING {
            return Err(too_deep(column));
        }
        Ok(Parsed {
            field,
            ty,
            height: height + 1,
            column,
        })
    }

    fn field_primary(&mut self) -> Result<Parsed, QueryError> {
        let token = self.advance();
        let column = token.column;
        let leaf = |field: Field, ty: Ty| {
            Ok(Parsed {
                field,
                ty,
                height: 1,
                column,
            })
        };
        let value = |v: Static| {
            let ty = Ty::of_static(&v);
            leaf(Field::Static(v), ty)
        };
        match token.kind {
            TokenKind::Op("(") => {
                let mut inner = self.field_expr(1)?;
                self.expect(")", "to close `(`")?;
                inner.column = column;
                Ok(inner)
            }
            TokenKind::Str(s) => value(Static::Str(s)),
            TokenKind::Int(i) => value(Static::Int(i)),
            TokenKind::Float(f) => value(Static::Float(f)),
            TokenKind::Duration(d) => value(Static::Duration(d)),
            TokenKind::Ident(word) => {
                if let Some(v) = keyword_static(&word) {
                    return value(v);
                }
                if let Some(i) = unscoped_intrinsic(&word) {
                    return leaf(Field::Intrinsic(i), Ty::of_intrinsic(i));
                }
                match word.as_str() {
                    "parent" | "nestedSetLeft" | "nestedSetRight" | "nestedSetParent" => Err(
                        unsupported(column, format!("the `{word}` intrinsic is not supported")),
                    ),
                    _ => Err(syntax(
                        column,
                        format!(
                            "unknown identifier `{word}`: expected a value, an intrinsic (name, status, kind, duration, ...) or an attribute (`span.{word}`, `resource.{word}`, `.{word}`)"
                        ),
                    )),
                }
            }
            TokenKind::ScopeColon(scope) => {
                let name_token = self.advance();
                let TokenKind::Ident(name) = &name_token.kind else {
                    return Err(syntax(
                        name_token.column,
                        format!(
                            "expected an intrinsic's name after `{scope}:`, found {}",
                            describe(&name_token.kind)
                        ),
                    ));
                };
                match scoped_intrinsic(&scope, name) {
                    Some(i) => leaf(Field::Intrinsic(i), Ty::of_intrinsic(i)),
                    None if scope == "event" || scope == "link" || scope == "instrumentation" => {
                        Err(unsupported(
                            column,
                            format!("`{scope}:` intrinsics are not supported"),
                        ))
                    }
                    None => Err(syntax(
                        name_token.column,
                        format!("unknown intrinsic `{scope}:{name}`"),
                    )),
                }
            }
            TokenKind::Attribute { scope, name } => {
                let scope = match scope.as_str() {
                    "" => Scope::Unscoped,
                    "span" => Scope::Span,
                    "resource" => Scope::Resource,
                    other => {
                        return Err(unsupported(
                            column,
                            format!("`{other}.` attributes are not supported"),
                        ));
                    }
                };
                leaf(Field::Attribute { scope, name }, Ty::Any)
            }
            other => Err(syntax(
                column,
                format!(
                    "expected a value, an intrinsic or an attribute, found {}",
                    describe(&other)
                ),
            )),
        }
    }

    fn binary(
        &self,
        op: BinOp,
        text: &str,
        lhs: Parsed,
        rhs: Parsed,
        column: usize,
    ) -> Result<Parsed, QueryError> {
        let height = lhs.height.max(rhs.height) + 1;
        if height > MAX_NESTING {
            return Err(too_deep(column));
        }
        let start = lhs.column;
        // `x != nil` asks whether x exists, `x = nil` whether it does not.
        if matches!(op, BinOp::Eq | BinOp::Ne) && (lhs.ty == Ty::Nil || rhs.ty == Ty::Nil) {
            let (nil, other) = if rhs.ty == Ty::Nil {
                (rhs, lhs)
            } else {
                (lhs, rhs)
            };
            let _ = nil;
            if other.ty == Ty::Nil {
                return Ok(Parsed {
                    field: Field::Static(Static::Bool(false)),
                    ty: Ty::Bool,
                    height: 1,
                    column: start,
                });
            }
            if op == BinOp::Eq && matches!(other.field, Field::Intrinsic(_)) {
                return Err(syntax(
                    column,
                    "`= nil` cannot hold for an intrinsic: intrinsics always have a value",
                ));
            }
            return Ok(Parsed {
                field: Field::Exists {
                    field: Box::new(other.field),
                    exists: op == BinOp::Ne,
                },
                ty: Ty::Bool,
                height,
                column: start,
            });
        }
        if !operands_match(lhs.ty, rhs.ty) {
            return Err(syntax(
                column,
                format!(
                    "`{text}` between {} and {}: both sides must be of one type",
                    lhs.ty.a(),
                    rhs.ty.a()
                ),
            ));
        }
        for ty in [lhs.ty, rhs.ty] {
            if !op_allows(op, ty) {
                return Err(syntax(
                    column,
                    format!("`{text}` cannot be applied to {}", ty.a()),
                ));
            }
        }
        Ok(Parsed {
            ty: result_of(op, lhs.ty, rhs.ty),
            field: Field::Binary {
                op,
                lhs: Box::new(lhs.field),
                rhs: Box::new(rhs.field),
            },
            height,
            column: start,
        })
    }

    fn regex(
        &self,
        negated: bool,
        lhs: Parsed,
        rhs: Parsed,
        column: usize,
    ) -> Result<Parsed, QueryError> {
        let text = if negated { "!~" } else { "=~" };
        if lhs.ty != Ty::Any && lhs.ty != Ty::Str {
            return Err(syntax(
                column,
                format!("`{text}` needs a string on its left, found {}", lhs.ty.a()),
            ));
        }
        let Field::Static(Static::Str(source)) = rhs.field else {
            return Err(syntax(
                rhs.column,
                format!("the right side of `{text}` must be a string (the regular expression)"),
            ));
        };
        let pattern = compile_regex(&source).map_err(|message| syntax(rhs.column, message))?;
        let height = lhs.height + 1;
        if height > MAX_NESTING {
            return Err(too_deep(column));
        }
        Ok(Parsed {
            field: Field::Regex {
                negated,
                lhs: Box::new(lhs.field),
                pattern,
            },
            ty: Ty::Bool,
            height,
            column: lhs.column,
        })
    }
}

/// Compiles a regex to match whole values, as Tempo does (Prometheus's
/// `FastRegexMatcher` anchors the pattern as `^(?s:...)$`).
fn compile_regex(source: &str) -> Result<Pattern, String> {
    let build = |pattern: &str| {
        regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
    };
    // Checked alone first, so that `a)|(b` cannot close the anchoring group.
    build(source).map_err(|e| {
        let reason = e.to_string();
        let last = reason.lines().last().unwrap_or("").trim().to_owned();
        format!("invalid regular expression {source:?}: {last}")
    })?;
    let regex = build(&format!("^(?s:{source})$"))
        .map_err(|_| format!("invalid regular expression {source:?}"))?;
    Ok(Pattern {
        source: source.to_owned(),
        regex,
    })
}

fn keyword_static(word: &str) -> Option<Static> {
    Some(match word {
        "true" => Static::Bool(true),
        "false" => Static::Bool(false),
        "nil" => Static::Nil,
        "ok" => Static::Status(StatusCode::Ok),
        "error" => Static::Status(StatusCode::Error),
        "unset" => Static::Status(StatusCode::Unset),
        "unspecified" => Static::Kind(SpanKind::Unspecified),
        "internal" => Static::Kind(SpanKind::Internal),
        "server" => Static::Kind(SpanKind::Server),
        "client" => Static::Kind(SpanKind::Client),
        "producer" => Static::Kind(SpanKind::Producer),
        "consumer" => Static::Kind(SpanKind::Consumer),
        _ => return None,
    })
}

fn unscoped_intrinsic(word: &str) -> Option<Intrinsic> {
    Some(match word {
        "duration" => Intrinsic::Duration,
        "name" => Intrinsic::Name,
        "status" => Intrinsic::Status,
        "statusMessage" => Intrinsic::StatusMessage,
        "kind" => Intrinsic::Kind,
        "rootName" => Intrinsic::RootName,
        "rootServiceName" => Intrinsic::RootServiceName,
        "traceDuration" => Intrinsic::TraceDuration,
        _ => return None,
    })
}

fn scoped_intrinsic(scope: &str, name: &str) -> Option<Intrinsic> {
    Some(match (scope, name) {
        ("trace", "duration") => Intrinsic::TraceDuration,
        ("trace", "rootName") => Intrinsic::RootName,
        ("trace", "rootService") => Intrinsic::RootServiceName,
        ("trace", "id") => Intrinsic::TraceId,
        ("span", "duration") => Intrinsic::Duration,
        ("span", "name") => Intrinsic::Name,
        ("span", "kind") => Intrinsic::Kind,
        ("span", "status") => Intrinsic::Status,
        ("span", "statusMessage") => Intrinsic::StatusMessage,
        ("span", "id") => Intrinsic::SpanId,
        ("span", "parentID") => Intrinsic::ParentId,
        ("span", "childCount") => Intrinsic::ChildCount,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parse tree with every operation parenthesised.
    fn render(field: &Field) -> String {
        match field {
            Field::Static(Static::Int(i)) => i.to_string(),
            Field::Static(s) => format!("{s:?}"),
            Field::Intrinsic(i) => format!("{i:?}"),
            Field::Attribute { name, .. } => format!(".{name}"),
            Field::Binary { op, lhs, rhs } => {
                format!("({} {op:?} {})", render(lhs), render(rhs))
            }
            Field::Regex { lhs, pattern, .. } => format!("({} =~ {})", render(lhs), pattern.source),
            Field::Not(f) => format!("!{}", render(f)),
            Field::Neg(f) => format!("-{}", render(f)),
            Field::Exists { field, exists } => format!("({} exists={exists})", render(field)),
        }
    }

    fn filter(text: &str) -> String {
        let pipeline = parse(text).unwrap();
        match pipeline.stages.as_slice() {
            [Stage::Spanset(SpansetExpr::Filter(field))] => render(field),
            other => panic!("not one filter: {other:?}"),
        }
    }

    fn shape(expr: &SpansetExpr) -> String {
        match expr {
            SpansetExpr::Filter(_) => "F".into(),
            SpansetExpr::Op { op, lhs, rhs } => format!("({} {op:?} {})", shape(lhs), shape(rhs)),
            SpansetExpr::Pipeline(p) => format!("P{}", p.stages.len()),
        }
    }

    fn spansets(text: &str) -> String {
        match parse(text).unwrap().stages.as_slice() {
            [Stage::Spanset(expr)] => shape(expr),
            other => panic!("not one spanset stage: {other:?}"),
        }
    }

    /// (column, message) of a syntax error.
    fn syntax_error(text: &str) -> (usize, String) {
        let e = parse(text).unwrap_err();
        assert!(!e.unsupported, "{text}: {e}");
        (e.column, e.message)
    }

    /// (column, message) of a refusal.
    fn refused(text: &str) -> (usize, String) {
        let e = parse(text).unwrap_err();
        assert!(e.unsupported, "{text}: {e}");
        (e.column, e.message)
    }

    #[test]
    fn field_precedence_follows_tempo() {
        // && and || share one level, left-associative
        assert_eq!(filter("{ .a || .b && .c }"), "((.a Or .b) And .c)");
        assert_eq!(
            filter("{ .a + .b * .c = 1 }"),
            "((.a Add (.b Mul .c)) Eq 1)"
        );
        assert_eq!(
            filter("{ .a ^ .b ^ .c = 1 }"),
            "((.a Pow (.b Pow .c)) Eq 1)"
        );
        assert_eq!(
            filter("{ .a - .b - .c = 1 }"),
            "(((.a Sub .b) Sub .c) Eq 1)"
        );
        assert_eq!(filter("{ !.a && .b }"), "(!.a And .b)");
        assert_eq!(filter("{ (.a || .b) && .c }"), "((.a Or .b) And .c)");
        assert_eq!(filter("{ .x > -1 }"), "(.x Gt -1)");
        assert_eq!(filter("{ .x != nil }"), "(.x exists=true)");
        assert_eq!(filter("{ nil = .x }"), "(.x exists=false)");
        assert_eq!(filter("{ name =~ \"a.*\" }"), "(Name =~ a.*)");
        assert_eq!(
            filter("{ span:duration > 1s }"),
            "(Duration Gt Duration(1000000000))"
        );
        assert_eq!(
            filter("{ trace:rootService = \"a\" }"),
            "(RootServiceName Eq Str(\"a\"))"
        );
    }

    #[test]
    fn spanset_precedence_follows_tempo() {
        assert_eq!(
            spansets("{ } && { } >> { }"),
            "(F And (F Structural(Descendant, Plain) F))"
        );
        assert_eq!(
            spansets("{ } >> { } || { }"),
            "((F Structural(Descendant, Plain) F) Or F)"
        );
        assert_eq!(
            spansets("{ } > { } ~ { }"),
            "((F Structural(Child, Plain) F) Structural(Sibling, Plain) F)"
        );
        assert_eq!(spansets("{ } !~ { }"), "(F Structural(Sibling, Not) F)");
        assert_eq!(spansets("{ } &<< { }"), "(F Structural(Ancestor, Union) F)");
        assert_eq!(spansets("({ } | count() > 1) && { }"), "(P2 And F)");
        assert_eq!(spansets("(({ }))"), "F");
    }

    #[test]
    fn pipelines_parse_into_stages() {
        let p = parse(
            "{ } | by(resource.service.name) | count() >= 2 | coalesce() | select(span.a, name)",
        )
        .unwrap();
        assert_eq!(p.stages.len(), 5);
        assert!(matches!(
            &p.stages[2],
            Stage::Scalar(ScalarFilter { aggregate: Aggregate::Count, op: BinOp::Ge, value }) if *value == 2.0
        ));
        let p = parse("{ } | avg(duration) > 1.5ms").unwrap();
        assert!(matches!(
            &p.stages[1],
            Stage::Scalar(ScalarFilter { aggregate: Aggregate::Avg(_), op: BinOp::Gt, value }) if *value == 1_500_000.0
        ));
    }

    #[test]
    fn syntax_errors_point_at_the_offending_token() {
        assert_eq!(
            syntax_error(""),
            (
                1,
                "expected a spanset filter `{ ... }`, found the end of the query".into()
            )
        );
        assert_eq!(
            syntax_error("{ name = }"),
            (
                10,
                "expected a value, an intrinsic or an attribute, found `}`".into()
            )
        );
        assert_eq!(
            syntax_error("{ name = \"x\""),
            (
                13,
                "expected `}` to close the spanset filter, found the end of the query".into()
            )
        );
        assert_eq!(
            syntax_error("{ name = 200 }"),
            (
                8,
                "`=` between a string and an integer: both sides must be of one type".into()
            )
        );
        assert_eq!(syntax_error("{ foo = 1 }").0, 3);
        assert!(syntax_error("{ foo = 1 }").1.contains("`span.foo`"));
        assert_eq!(
            syntax_error("{ } | count() >"),
            (
                16,
                "an aggregate is compared with a number or a duration, found the end of the query"
                    .into()
            )
        );
        assert_eq!(syntax_error("{ } | nope()").0, 7);
        assert_eq!(syntax_error("{ name =~ \"(\" }").0, 11);
        assert_eq!(
            syntax_error("{ 1 }"),
            (
                3,
                "a spanset filter needs a condition (true or false), found an integer expression"
                    .into()
            )
        );
        assert_eq!(
            syntax_error("{ } }"),
            (
                5,
                "expected an operator, `|` or the end of the query, found `}`".into()
            )
        );
        assert_eq!(syntax_error("{ duration = nil }").0, 12);
        assert_eq!(
            syntax_error("{ span:foo = 1 }"),
            (8, "unknown intrinsic `span:foo`".into())
        );
        assert_eq!(syntax_error("{ kind = ok }").0, 8);
        assert_eq!(syntax_error("{ status > error }").0, 10);
        assert_eq!(syntax_error("{ .a =~ .b }").0, 9);
        assert_eq!(syntax_error("{ } | count() > \"x\"").0, 17);
        assert_eq!(syntax_error("{ } | avg(name) > 1").0, 11);
        assert_eq!(syntax_error("{ } | by(1)").0, 10);
        assert_eq!(syntax_error("coalesce()").0, 1);
        assert_eq!(syntax_error("{ .a } >> ").0, 11);
        assert_eq!(syntax_error("{ .a >> .b }").0, 6);
    }

    #[test]
    fn unsupported_features_are_named() {
        let cases = [
            ("{ } | rate()", 7, "rate()"),
            (
                "{ } | quantile_over_time(duration, .9)",
                7,
                "quantile_over_time()",
            ),
            ("{ } with(sample=true)", 5, "with(...)"),
            ("{ parent.foo = 1 }", 3, "`parent.`"),
            ("{ event.name = \"x\" }", 3, "`event.`"),
            ("{ link.foo = 1 }", 3, "`link.`"),
            ("{ instrumentation.name = \"x\" }", 3, "`instrumentation.`"),
            ("{ event:name = \"x\" }", 3, "`event:`"),
            ("{ parent = nil }", 3, "`parent`"),
            ("({ } | count()) > ({ } | count())", 15, "two pipelines"),
            ("{ } | count() + 1 > 2", 15, "arithmetic"),
            ("{ } | count() > count()", 17, "another aggregate"),
        ];
        for (text, column, feature) in cases {
            let (got_column, message) = refused(text);
            assert_eq!(got_column, column, "{text}: {message}");
            assert!(message.contains(feature), "{text}: {message}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let parens = format!("{}{{ }}{}", "(".repeat(500), ")".repeat(500));
        assert!(refused(&parens).1.contains("nested"));
        let chain = format!("{{ {} }}", vec![".a = 1"; 500].join(" || "));
        assert!(refused(&chain).1.contains("nested"));
        let spansets = vec!["{ }"; 500].join(" && ");
        assert!(refused(&spansets).1.contains("nested"));
        let nots = format!("{{ {}true }}", "!".repeat(500));
        assert!(refused(&nots).1.contains("nested"));
        // well within the limit
        parse(&format!("{{ {} }}", vec![".a = 1"; 100].join(" || "))).unwrap();
    }
}
