//! Error status: does every span that failed say so, the way the semantic
//! conventions ask, and does the failure show on the whole way back up?
//!
//! Two rules, over every span of every trace given:
//!
//! 1. **A span's status agrees with its answer.** The runtime's own rules
//!    decide what an error is (one home: `tracemesh_runtime::grpc_span::is_error`
//!    and the HTTP rule next to `http_server`): a gRPC SERVER span fails on
//!    the codes that mean the server failed (UNAVAILABLE, INTERNAL, ...), a
//!    gRPC CLIENT span on any non-OK code; an HTTP SERVER span on 5xx, an
//!    HTTP CLIENT span on 4xx and 5xx. Such a span must have status Error
//!    and `error.type`. And the converse: a span with status Error whose
//!    answer is not an error by those rules (a SERVER span marked failed for
//!    NOT_FOUND, a client's mistake) is reported too.
//! 2. **The failing path.** In a trace whose root answered 5xx, every
//!    SERVER and CLIENT span between an injected error and the root must be
//!    an error: the error travelled that way, so each hop it crossed failed.
//!    A hop that lost its status breaks the chain a reader follows from the
//!    gateway's 503 down to its cause.
//!
//! Rule 1 catches a service that answers UNAVAILABLE but ends its span
//! Unset; rule 2 also catches one that answers OK while its caller saw the
//! failure (a status lost in the span, not just in its attributes).

use tracemesh_runtime::contract::attr;
use tracemesh_runtime::grpc_span::{self, Side};

use super::Verdict;
use crate::model::{SpanKind, SpanRecord, StatusCode};
use crate::trace::TraceTree;
use crate::trace::label::kind_label;

/// The check's name in verdicts.
pub const CHECK: &str = "error_status";

/// Reasons listed before the rest are only counted.
const LISTED: usize = 20;

/// The attribute every failed span must carry.
const ERROR_TYPE: &str = "error.type";

/// Checks rule 1 on every span and rule 2 on every trace whose root
/// answered 5xx. Figures: `traces`, `spans_checked` (spans with an answer),
/// `error_spans`, `wrong_status`, `failing_paths`, `broken_paths`.
pub fn check_error_status<'a>(traces: impl IntoIterator<Item = &'a TraceTree>) -> Verdict {
    let mut verdict = Verdict::new(CHECK);
    let mut findings: Vec<String> = Vec::new();
    let (mut spans_checked, mut error_spans, mut wrong_status) = (0u64, 0u64, 0u64);
    let (mut failing_paths, mut broken_paths) = (0u64, 0u64);
    for tree in traces {
        verdict.examine();
        for span in tree.spans() {
            let Some(answer) = Answer::of(span) else {
                continue;
            };
            spans_checked += 1;
            let failed = answer.is_error(span.kind);
            error_spans += u64::from(failed);
            if let Some(problem) = status_problem(span, &answer, failed) {
                wrong_status += 1;
                findings.push(format!(
                    "trace {}: {} {} [{}] {problem}",
                    tree.trace_id(),
                    span.service_name,
                    span.name,
                    kind_label(span.kind)
                ));
            }
        }
        let Some(root) = tree.root() else {
            continue;
        };
        let root_failed = tree
            .span(root)
            .attr_i64("http.response.status_code")
            .is_some_and(|s| s >= 500);
        if !root_failed {
            continue;
        }
        for origin in (0..tree.len()).filter(|&i| injected_error(tree.span(i))) {
            failing_paths += 1;
            let silent: Vec<String> = tree
                .ancestry(origin)
                .into_iter()
                .map(|i| tree.span(i))
                .filter(|s| matches!(s.kind, SpanKind::Server | SpanKind::Client))
                .filter(|s| s.status.code != StatusCode::Error)
                .map(|s| format!("{} {} [{}]", s.service_name, s.name, kind_label(s.kind)))
                .collect();
            if !silent.is_empty() {
                broken_paths += 1;
                findings.push(format!(
                    "trace {}: the root answered {} because {} {} failed (injected), but on the \
                     way up {} did not end in error",
                    tree.trace_id(),
                    tree.span(root)
                        .attr_i64("http.response.status_code")
                        .unwrap_or(0),
                    tree.span(origin).service_name,
                    tree.span(origin).name,
                    silent.join(", ")
                ));
            }
        }
    }
    let listed = findings.len().min(LISTED);
    let unlisted = findings.len() - listed;
    for reason in findings.into_iter().take(LISTED) {
        verdict.fail(reason);
    }
    if unlisted > 0 {
        verdict.fail(format!("... and {unlisted} more spans with a wrong status"));
    }
    verdict.figure("spans_checked", spans_checked);
    verdict.figure("error_spans", error_spans);
    verdict.figure("wrong_status", wrong_status);
    verdict.figure("failing_paths", failing_paths);
    verdict.figure("broken_paths", broken_paths);
    verdict.finish()
}

/// What a span says it answered: a gRPC status code or an HTTP status.
enum Answer {
    Grpc(tonic::Code),
    Http(i64),
}

impl Answer {
    fn of(span: &SpanRecord) -> Option<Answer> {
        if let Some(code) = span.attr_i64("rpc.grpc.status_code") {
            return Some(Answer::Grpc(tonic::Code::from(
                i32::try_from(code).unwrap_or(i32::MAX),
            )));
        }
        span.attr_i64("http.response.status_code").map(Answer::Http)
    }

    /// The semantic conventions' rule for this side of the call.
    fn is_error(&self, kind: SpanKind) -> bool {
        match (self, kind) {
            (Answer::Grpc(code), SpanKind::Server) => grpc_span::is_error(Side::Server, *code),
            (Answer::Grpc(code), _) => grpc_span::is_error(Side::Client, *code),
            (Answer::Http(status), SpanKind::Server) => *status >= 500,
            (Answer::Http(status), _) => *status >= 400,
        }
    }

    fn describe(&self) -> String {
        match self {
            Answer::Grpc(code) => grpc_span::code_name(*code).to_owned(),
            Answer::Http(status) => format!("HTTP {status}"),
        }
    }
}

/// What is wrong with a span's status given its answer, if anything.
fn status_problem(span: &SpanRecord, answer: &Answer, failed: bool) -> Option<String> {
    let is_error = span.status.code == StatusCode::Error;
    let has_type = span.attributes.contains_key(ERROR_TYPE);
    match (failed, is_error, has_type) {
        (true, true, true) | (false, false, false) => None,
        (true, false, _) => Some(format!(
            "answered {} but its status is {:?}{}: a failed call must end in Error",
            answer.describe(),
            span.status.code,
            if has_type {
                ""
            } else {
                " and it has no error.type"
            }
        )),
        (true, true, false) => Some(format!(
            "answered {} and is an error, but has no error.type",
            answer.describe()
        )),
        (false, _, _) => Some(format!(
            "answered {}, which is not an error for a {} span, yet it is marked failed \
             (status {:?}{})",
            answer.describe(),
            kind_label(span.kind),
            span.status.code,
            if has_type { ", error.type set" } else { "" }
        )),
    }
}

/// A span that carries an injected error.
fn injected_error(span: &SpanRecord) -> bool {
    span.injected_fault() == Some(attr::FAULT_KIND_ERROR)
}
