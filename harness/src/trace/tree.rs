//! One trace as a tree: spans indexed by id, children listed per parent,
//! and the structural defects found on the way.
//!
//! The tree is built from a parent -> children index in a few linear passes,
//! and every walk over it is iterative (an explicit stack), never recursive.
//! A trace can be arbitrarily deep — a retry loop, a recursive service, a
//! corrupted parent chain — and a recursive walk would overflow the stack on
//! exactly the traces that most need checking. (A helper published in
//! opentelemetry-rust's test utilities nests only one level of children;
//! that is the mistake this module exists not to repeat.)
//!
//! Spans are addressed by their position (`usize`) in [`TraceTree::spans`].
//! Spans of another trace and second copies of a duplicated span id are
//! reported as defects and left out of the tree, so every span in it has a
//! unique id and belongs to the trace.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::defects::StructuralDefect;
use super::label::describe;
use crate::model::SpanRecord;

/// How strict the structural checks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeOptions {
    /// How far a child may start before, or end after, its parent before
    /// that is a defect.
    ///
    /// Why any slack at all: the mesh's processes run on one machine and
    /// share its clock, but each span is timestamped where its code happens
    /// to call the clock — a gRPC client span starts a little before the
    /// request is encoded, the server span after it is decoded; a handler's
    /// span can end a moment after the response bytes left. Those offsets are
    /// microseconds to a millisecond or two under load. A few milliseconds of
    /// tolerance absorbs them and still catches real defects, such as work
    /// left running after the response (tens of ms and more).
    pub clock_tolerance: Duration,
}

/// The default [`TreeOptions::clock_tolerance`].
pub const DEFAULT_CLOCK_TOLERANCE: Duration = Duration::from_millis(5);

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions {
            clock_tolerance: DEFAULT_CLOCK_TOLERANCE,
        }
    }
}

/// One trace, assembled. See the module documentation.
#[derive(Debug, Clone)]
pub struct TraceTree {
    trace_id: String,
    spans: Vec<SpanRecord>,
    parent: Vec<Option<usize>>,
    /// Children of each span, ordered by start time (then span id, so equal
    /// start times still give one stable order).
    children: Vec<Vec<usize>>,
    /// Spans without a parent id, by start time.
    roots: Vec<usize>,
    /// Spans whose parent id is not in the trace, by start time.
    orphans: Vec<usize>,
    defects: Vec<StructuralDefect>,
}

impl TraceTree {
    /// Assembles the spans of trace `trace_id` (32 hex characters, any
    /// case) and records every structural defect.
    pub fn build(trace_id: &str, spans: Vec<SpanRecord>, options: &TreeOptions) -> TraceTree {
        let trace_id = trace_id.to_ascii_lowercase();
        let mut defects = Vec::new();
        let spans = drop_foreign_spans(&trace_id, spans, &mut defects);
        let spans = drop_duplicate_ids(spans, &mut defects);

        let position: HashMap<&str, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.as_str(), i))
            .collect();
        let mut parent = vec![None; spans.len()];
        let mut children = vec![Vec::new(); spans.len()];
        let (mut roots, mut orphans) = (Vec::new(), Vec::new());
        for (i, span) in spans.iter().enumerate() {
            match &span.parent_span_id {
                None => roots.push(i),
                Some(parent_id) => match position.get(parent_id.as_str()) {
                    Some(&p) => {
                        parent[i] = Some(p);
                        children[p].push(i);
                    }
                    None => orphans.push(i),
                },
            }
        }
        let by_start = |a: &usize, b: &usize| {
            let (a, b) = (&spans[*a], &spans[*b]);
            (a.start_unix_nanos, &a.span_id).cmp(&(b.start_unix_nanos, &b.span_id))
        };
        for list in &mut children {
            list.sort_by(by_start);
        }
        roots.sort_by(by_start);
        orphans.sort_by(by_start);

        let mut tree = TraceTree {
            trace_id,
            spans,
            parent,
            children,
            roots,
            orphans,
            defects,
        };
        tree.find_linkage_defects();
        tree.find_timing_defects(options);
        tree
    }

    /// Like [`build`](Self::build), taking the trace id most spans carry
    /// (ties: the first span's). For spans fetched by trace id, prefer
    /// `build` with the id asked for.
    pub fn build_inferred(spans: Vec<SpanRecord>, options: &TreeOptions) -> TraceTree {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for span in &spans {
            *counts.entry(span.trace_id.as_str()).or_default() += 1;
        }
        let mut trace_id = spans
            .first()
            .map(|s| s.trace_id.clone())
            .unwrap_or_default();
        let mut best = counts.get(trace_id.as_str()).copied().unwrap_or(0);
        for (id, count) in &counts {
            if *count > best {
                best = *count;
                trace_id = (*id).to_string();
            }
        }
        TraceTree::build(&trace_id, spans, options)
    }

    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The spans in the tree (foreign spans and duplicate copies excluded).
    pub fn spans(&self) -> &[SpanRecord] {
        &self.spans
    }

    pub fn span(&self, index: usize) -> &SpanRecord {
        &self.spans[index]
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn parent(&self, index: usize) -> Option<usize> {
        self.parent[index]
    }

    /// Children of `index`, ordered by start time.
    pub fn children(&self, index: usize) -> &[usize] {
        &self.children[index]
    }

    /// Spans without a parent id, by start time. A healthy trace has one.
    pub fn roots(&self) -> &[usize] {
        &self.roots
    }

    /// The single root, if there is exactly one.
    pub fn root(&self) -> Option<usize> {
        match self.roots.as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }

    /// The span the whole trace hangs from: its single root or, when it has
    /// no root and a single orphan, that orphan. The second case is a trace
    /// continued from a caller outside it (a request that arrived with a
    /// `traceparent` from a client that exports nowhere): its top span's
    /// parent is remote, not missing. Tempo lists such a trace as "root span
    /// not yet received" and still draws it; so do we.
    pub fn top(&self) -> Option<usize> {
        match (self.roots.as_slice(), self.orphans.as_slice()) {
            ([only], _) | ([], [only]) => Some(*only),
            _ => None,
        }
    }

    /// Spans whose parent id is not in the trace, by start time.
    pub fn orphans(&self) -> &[usize] {
        &self.orphans
    }

    /// Everything found wrong with the structure; empty for a sound trace.
    pub fn defects(&self) -> &[StructuralDefect] {
        &self.defects
    }

    pub fn is_sound(&self) -> bool {
        self.defects.is_empty()
    }

    /// Pre-order walk (parent before children, children by start time) from
    /// every root, then from every orphan: `(index, depth)` pairs. Spans
    /// caught in a parent cycle are not reachable and not listed.
    pub fn depth_first(&self) -> Vec<(usize, usize)> {
        let mut order = Vec::with_capacity(self.spans.len());
        for &top in self.roots.iter().chain(&self.orphans) {
            let mut stack = vec![(top, 0usize)];
            while let Some((index, depth)) = stack.pop() {
                order.push((index, depth));
                // Reversed so the earliest child is popped (visited) first.
                for &child in self.children[index].iter().rev() {
                    stack.push((child, depth + 1));
                }
            }
        }
        order
    }

    /// The deepest depth in the tree (a lone root has depth 0).
    pub fn max_depth(&self) -> usize {
        self.depth_first()
            .into_iter()
            .map(|(_, depth)| depth)
            .max()
            .unwrap_or(0)
    }

    /// The spans from the top of `index`'s subtree (a root, or an orphan)
    /// down to `index` itself.
    pub fn ancestry(&self, index: usize) -> Vec<usize> {
        let mut path = vec![index];
        let mut current = index;
        // Bounded by the span count, so a cycle cannot loop forever.
        while let Some(parent) = self.parent[current] {
            if path.len() > self.spans.len() {
                break;
            }
            path.push(parent);
            current = parent;
        }
        path.reverse();
        path
    }

    /// Where a span sits, for reports:
    /// `gateway POST /api/checkout [server] > gateway tracemesh.order.v1.OrderService/PlaceOrder [client]`.
    /// Long paths keep their first and last few steps.
    pub fn path_label(&self, index: usize) -> String {
        const KEEP_EACH_END: usize = 4;
        let steps: Vec<String> = self
            .ancestry(index)
            .into_iter()
            .map(|i| describe(&self.spans[i]))
            .collect();
        if steps.len() <= 2 * KEEP_EACH_END + 1 {
            return steps.join(" > ");
        }
        let hidden = steps.len() - 2 * KEEP_EACH_END;
        format!(
            "{} > … {hidden} more … > {}",
            steps[..KEEP_EACH_END].join(" > "),
            steps[steps.len() - KEEP_EACH_END..].join(" > ")
        )
    }

    /// An indented outline of the tree, one span a line with its duration,
    /// at most `max_lines` lines: what a report shows as "found".
    pub fn outline(&self, max_lines: usize) -> String {
        use std::fmt::Write;
        let walk = self.depth_first();
        let mut out = String::new();
        for &(index, depth) in walk.iter().take(max_lines) {
            let span = &self.spans[index];
            // Indentation is capped so a 10,000-deep chain stays printable.
            let indent = "  ".repeat(depth.min(40));
            let marker = if self.orphans.contains(&index) {
                " (parent missing)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{indent}{} {}{marker}",
                describe(span),
                super::label::fmt_nanos(span.duration_nanos())
            );
        }
        if walk.len() > max_lines {
            let _ = writeln!(out, "… {} more spans", walk.len() - max_lines);
        }
        out
    }

    /// Orphans, root count, and cycles: anything the parent links get wrong.
    fn find_linkage_defects(&mut self) {
        for &orphan in &self.orphans {
            let span = &self.spans[orphan];
            self.defects.push(StructuralDefect::MissingParent {
                span: describe(span),
                span_id: span.span_id.clone(),
                parent_span_id: span.parent_span_id.clone().unwrap_or_default(),
            });
        }
        if self.roots.len() > 1 {
            self.defects.push(StructuralDefect::SeveralRoots {
                roots: self
                    .roots
                    .iter()
                    .map(|&i| describe(&self.spans[i]))
                    .collect(),
            });
        }
        if self.roots.is_empty() && !self.spans.is_empty() {
            self.defects.push(StructuralDefect::NoRoot);
        }
        // Whatever a walk from the roots and orphans cannot reach hangs off
        // a loop of parent links.
        let reachable: HashSet<usize> = self.depth_first().into_iter().map(|(i, _)| i).collect();
        if reachable.len() < self.spans.len() {
            let spans = (0..self.spans.len())
                .filter(|i| !reachable.contains(i))
                .map(|i| describe(&self.spans[i]))
                .collect();
            self.defects.push(StructuralDefect::Cycle { spans });
        }
    }

    /// Children outside their parent's time span, and negative durations.
    fn find_timing_defects(&mut self, options: &TreeOptions) {
        let tolerance = u64::try_from(options.clock_tolerance.as_nanos()).unwrap_or(u64::MAX);
        for (index, span) in self.spans.iter().enumerate() {
            if span.end_unix_nanos < span.start_unix_nanos {
                self.defects.push(StructuralDefect::EndsBeforeStart {
                    span: describe(span),
                    by_nanos: span.start_unix_nanos - span.end_unix_nanos,
                });
            }
            let Some(parent_index) = self.parent[index] else {
                continue;
            };
            let parent = &self.spans[parent_index];
            let early = parent
                .start_unix_nanos
                .saturating_sub(span.start_unix_nanos);
            let late = span.end_unix_nanos.saturating_sub(parent.end_unix_nanos);
            if early > tolerance || late > tolerance {
                self.defects.push(StructuralDefect::ChildOutsideParent {
                    child: describe(span),
                    parent: describe(parent),
                    starts_early_by_nanos: early,
                    ends_late_by_nanos: late,
                    tolerance_nanos: tolerance,
                });
            }
        }
    }
}

fn drop_foreign_spans(
    trace_id: &str,
    spans: Vec<SpanRecord>,
    defects: &mut Vec<StructuralDefect>,
) -> Vec<SpanRecord> {
    let (own, foreign): (Vec<_>, Vec<_>) = spans
        .into_iter()
        .partition(|s| s.trace_id.eq_ignore_ascii_case(trace_id));
    for span in foreign {
        defects.push(StructuralDefect::ForeignSpan {
            span: describe(&span),
            span_id: span.span_id,
            trace_id: span.trace_id,
        });
    }
    own
}

/// Keeps the first copy of each span id (in arrival order) and reports the
/// others, once per duplicated id.
fn drop_duplicate_ids(
    spans: Vec<SpanRecord>,
    defects: &mut Vec<StructuralDefect>,
) -> Vec<SpanRecord> {
    let mut first_copy: HashMap<String, usize> = HashMap::new();
    // Per duplicated id, keyed by where its first copy was kept:
    // (copies seen, every copy identical to the first).
    let mut duplicated: HashMap<usize, (usize, bool)> = HashMap::new();
    let mut kept: Vec<SpanRecord> = Vec::with_capacity(spans.len());
    for span in spans {
        match first_copy.get(&span.span_id) {
            Some(&kept_at) => {
                let identical = kept[kept_at] == span;
                let entry = duplicated.entry(kept_at).or_insert((1, true));
                entry.0 += 1;
                entry.1 &= identical;
            }
            None => {
                first_copy.insert(span.span_id.clone(), kept.len());
                kept.push(span);
            }
        }
    }
    let mut duplicated: Vec<_> = duplicated.into_iter().collect();
    duplicated.sort_unstable();
    for (kept_at, (copies, identical)) in duplicated {
        let span = &kept[kept_at];
        defects.push(StructuralDefect::DuplicateSpanId {
            span: describe(span),
            span_id: span.span_id.clone(),
            copies,
            identical,
        });
    }
    kept
}
