//! Running a [`Pipeline`] over one trace, as Tempo's engine does
//! (`pkg/traceql/ast_execute.go`): the first stage gets one spanset holding
//! every span; a spanset filter keeps the spans that match and drops a
//! spanset left empty; `{L} op {R}` evaluates both sides over the same
//! input spanset and keeps R's spans in the relation (both sides' with the
//! `&` forms, R's outside it with the `!` forms); `&&` / `||` keep the union
//! when both / either side matched; an aggregate stage keeps the spansets
//! whose value passes and remembers it; `by` splits, `coalesce` merges,
//! `select` only names attributes to return.
//!
//! The tree (parents, children, the root) is worked out once per trace in
//! [`TraceView`]; relations walk parent links, never more steps than there
//! are spans, so a malformed trace with a parent cycle still terminates.

use std::collections::HashMap;

use super::SpanSet;
use super::ast::{
    Aggregate, BinOp, Field, Pipeline, Relation, RelationMode, ScalarFilter, SpansetExpr,
    SpansetOp, Stage,
};
use super::value::{Value, evaluate};
use crate::SpanRecord;

/// One trace's spans and the tree they form.
pub struct TraceView<'a> {
    pub spans: &'a [SpanRecord],
    /// The index of each span's parent, when the parent is in the trace.
    pub parent: Vec<Option<usize>>,
    pub child_count: Vec<usize>,
    /// The root: the first span without a parent, else the first whose
    /// parent is not in the trace.
    pub root: Option<usize>,
    /// Latest end minus earliest start.
    pub duration_nanos: u64,
}

impl<'a> TraceView<'a> {
    pub fn new(spans: &'a [SpanRecord]) -> TraceView<'a> {
        let by_id: HashMap<&str, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.as_str(), i))
            .collect();
        let parent: Vec<Option<usize>> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let p = by_id.get(s.parent_span_id.as_deref()?).copied()?;
                (p != i).then_some(p)
            })
            .collect();
        let mut child_count = vec![0; spans.len()];
        for p in parent.iter().flatten() {
            child_count[*p] += 1;
        }
        let root = spans
            .iter()
            .position(|s| s.parent_span_id.is_none())
            .or_else(|| parent.iter().position(Option::is_none));
        let start = spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0);
        let end = spans.iter().map(|s| s.end_unix_nanos).max().unwrap_or(0);
        TraceView {
            spans,
            parent,
            child_count,
            root,
            duration_nanos: end.saturating_sub(start),
        }
    }

    /// The ancestors of `index`, nearest first (at most one lap of a cycle).
    fn ancestors(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let mut current = index;
        let mut steps = 0;
        std::iter::from_fn(move || {
            steps += 1;
            if steps > self.spans.len() {
                return None;
            }
            current = self.parent[current]?;
            Some(current)
        })
    }
}

/// A spanset while the pipeline runs: span indices in trace order.
#[derive(Debug, Clone)]
struct Set {
    spans: Vec<usize>,
    aggregate: Option<f64>,
}

/// Runs `pipeline` over `trace`.
pub fn run(pipeline: &Pipeline, trace: &[SpanRecord]) -> Vec<SpanSet> {
    if trace.is_empty() {
        return Vec::new();
    }
    let view = TraceView::new(trace);
    let all = Set {
        spans: (0..trace.len()).collect(),
        aggregate: None,
    };
    run_pipeline(pipeline, &view, vec![all])
        .into_iter()
        .map(|set| SpanSet {
            spans: set.spans,
            aggregate: set.aggregate,
        })
        .collect()
}

fn run_pipeline(pipeline: &Pipeline, view: &TraceView, mut sets: Vec<Set>) -> Vec<Set> {
    for stage in &pipeline.stages {
        if sets.is_empty() {
            break;
        }
        sets = match stage {
            Stage::Spanset(expr) => sets
                .iter()
                .flat_map(|set| spanset(expr, view, set))
                .collect(),
            Stage::Scalar(filter) => sets
                .into_iter()
                .filter_map(|set| scalar_filter(filter, view, set))
                .collect(),
            Stage::By(field) => sets
                .iter()
                .flat_map(|set| group(field, view, set))
                .collect(),
            Stage::Coalesce => {
                let mut spans: Vec<usize> = sets.into_iter().flat_map(|s| s.spans).collect();
                spans.sort_unstable();
                spans.dedup();
                vec![Set {
                    spans,
                    aggregate: None,
                }]
            }
            Stage::Select(_) => sets,
        };
    }
    sets
}

fn matches(field: &Field, view: &TraceView, index: usize) -> bool {
    evaluate(field, view, index) == Value::Bool(true)
}

/// The spansets `expr` returns for one input spanset.
fn spanset(expr: &SpansetExpr, view: &TraceView, input: &Set) -> Vec<Set> {
    let keep = |spans: Vec<usize>| {
        if spans.is_empty() {
            Vec::new()
        } else {
            vec![Set {
                spans,
                aggregate: input.aggregate,
            }]
        }
    };
    match expr {
        SpansetExpr::Filter(field) => keep(
            input
                .spans
                .iter()
                .copied()
                .filter(|&i| matches(field, view, i))
                .collect(),
        ),
        SpansetExpr::Pipeline(pipeline) => run_pipeline(pipeline, view, vec![input.clone()]),
        SpansetExpr::Op { op, lhs, rhs } => {
            let left = mask(view, spanset(lhs, view, input));
            let right = mask(view, spanset(rhs, view, input));
            let result = match op {
                SpansetOp::And if any(&left) && any(&right) => union(&left, &right),
                SpansetOp::Or if any(&left) || any(&right) => union(&left, &right),
                SpansetOp::And | SpansetOp::Or => Vec::new(),
                SpansetOp::Structural(relation, mode) => {
                    structural(view, *relation, *mode, &left, &right)
                }
            };
            keep(indices(&result))
        }
    }
}

/// The spans of `sets` as a per-span flag (several spansets, as `by`
/// makes, count as their union).
fn mask(view: &TraceView, sets: Vec<Set>) -> Vec<bool> {
    let mut flags = vec![false; view.spans.len()];
    for index in sets.iter().flat_map(|s| &s.spans) {
        flags[*index] = true;
    }
    flags
}

fn any(flags: &[bool]) -> bool {
    flags.iter().any(|f| *f)
}

fn union(a: &[bool], b: &[bool]) -> Vec<bool> {
    a.iter().zip(b).map(|(x, y)| *x || *y).collect()
}

fn indices(flags: &[bool]) -> Vec<usize> {
    flags
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.then_some(i))
        .collect()
}

/// The relation's inverse: `{L} > {R}` pairs are `{R} < {L}` pairs.
fn inverse(relation: Relation) -> Relation {
    match relation {
        Relation::Child => Relation::Parent,
        Relation::Parent => Relation::Child,
        Relation::Descendant => Relation::Ancestor,
        Relation::Ancestor => Relation::Descendant,
        Relation::Sibling => Relation::Sibling,
    }
}

fn structural(
    view: &TraceView,
    relation: Relation,
    mode: RelationMode,
    left: &[bool],
    right: &[bool],
) -> Vec<bool> {
    let related_right = related(view, relation, left);
    match mode {
        RelationMode::Plain => related_right
            .iter()
            .zip(right)
            .map(|(r, in_right)| *r && *in_right)
            .collect(),
        RelationMode::Not => related_right
            .iter()
            .zip(right)
            .map(|(r, in_right)| !*r && *in_right)
            .collect(),
        RelationMode::Union => {
            let related_left = related(view, inverse(relation), right);
            (0..view.spans.len())
                .map(|i| (related_right[i] && right[i]) || (related_left[i] && left[i]))
                .collect()
        }
    }
}

/// For every span S: whether some span L in `from` makes `{L} relation {S}`
/// hold (for `Descendant`: S has an ancestor in `from`).
fn related(view: &TraceView, relation: Relation, from: &[bool]) -> Vec<bool> {
    let n = view.spans.len();
    let mut out = vec![false; n];
    match relation {
        Relation::Child => {
            for (s, flag) in out.iter_mut().enumerate() {
                *flag = view.parent[s].is_some_and(|p| from[p]);
            }
        }
        Relation::Parent => {
            for l in indices(from) {
                if let Some(p) = view.parent[l] {
                    out[p] = true;
                }
            }
        }
        Relation::Descendant => {
            for (s, flag) in out.iter_mut().enumerate() {
                *flag = view.ancestors(s).any(|a| from[a]);
            }
        }
        Relation::Ancestor => {
            for l in indices(from) {
                for a in view.ancestors(l) {
                    out[a] = true;
                }
            }
        }
        Relation::Sibling => {
            // How many `from` spans each parent has; S is a sibling of one
            // of them unless S is the only one.
            let mut per_parent = vec![0usize; n];
            for l in indices(from) {
                if let Some(p) = view.parent[l] {
                    per_parent[p] += 1;
                }
            }
            for (s, flag) in out.iter_mut().enumerate() {
                if let Some(p) = view.parent[s] {
                    let own = usize::from(from[s]);
                    *flag = per_parent[p] > own;
                }
            }
        }
    }
    out
}

fn scalar_filter(filter: &ScalarFilter, view: &TraceView, set: Set) -> Option<Set> {
    let value = aggregate(&filter.aggregate, view, &set.spans)?;
    let passes = match filter.op {
        BinOp::Eq => value == filter.value,
        BinOp::Ne => value != filter.value,
        BinOp::Lt => value < filter.value,
        BinOp::Le => value <= filter.value,
        BinOp::Gt => value > filter.value,
        BinOp::Ge => value >= filter.value,
        _ => false,
    };
    passes.then_some(Set {
        spans: set.spans,
        aggregate: Some(value),
    })
}

/// The aggregate over `spans`; `None` when no span has a numeric value
/// (Tempo then drops the spanset).
fn aggregate(aggregate: &Aggregate, view: &TraceView, spans: &[usize]) -> Option<f64> {
    let field = match aggregate {
        Aggregate::Count => return Some(spans.len() as f64),
        Aggregate::Avg(f) | Aggregate::Min(f) | Aggregate::Max(f) | Aggregate::Sum(f) => f,
    };
    let values: Vec<f64> = spans
        .iter()
        .filter_map(|&i| evaluate(field, view, i).as_f64())
        .collect();
    if values.is_empty() {
        return None;
    }
    let sum: f64 = values.iter().sum();
    Some(match aggregate {
        Aggregate::Avg(_) => sum / values.len() as f64,
        Aggregate::Min(_) => values.iter().copied().fold(f64::INFINITY, f64::min),
        Aggregate::Max(_) => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        _ => sum,
    })
}

/// `by(field)`: one spanset per distinct value (nil included), in the
/// order the values first appear.
fn group(field: &Field, view: &TraceView, set: &Set) -> Vec<Set> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for &i in &set.spans {
        let key = evaluate(field, view, i).group_key();
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(i);
    }
    order
        .into_iter()
        .filter_map(|key| groups.remove(&key))
        .map(|spans| Set {
            spans,
            aggregate: None,
        })
        .collect()
}
