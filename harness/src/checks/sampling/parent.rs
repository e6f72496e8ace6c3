//! The parent-obedience check: requests that arrive with a `traceparent`
//! must be sampled exactly as the caller's flag says, by every service.
//! With `parentbased_*` samplers no service decides on its own: sampled=1
//! means the whole trace is recorded, sampled=0 means not one span is.

use std::collections::HashMap;

use super::{CompletenessRule, Findings, TraceParent, services_of};
use crate::checks::Verdict;
use crate::sources::TraceSource;

/// The verdict's check name.
const CHECK: &str = "sampling.parent";

/// One request sent with a `traceparent` the caller chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentedRequest {
    /// Names the request in reasons.
    pub label: String,
    /// The context sent as `traceparent`: trace id, the caller's span id,
    /// and the sampled flag.
    pub sent: TraceParent,
}

impl ParentedRequest {
    pub fn new(label: impl Into<String>, sent: TraceParent) -> ParentedRequest {
        ParentedRequest {
            label: label.into(),
            sent,
        }
    }
}

/// Checks that every service obeyed the caller's sampled flag.
///
/// Fails, with reasons naming the trace and request, when: a sampled trace
/// is missing, incomplete by `completeness`, or has no span whose parent is
/// the caller's span (the context was not continued); an unsampled trace
/// has any span in `source`; two requests share a trace id; no request of
/// one flag was sent at all (that half of the rule would pass untested);
/// `source` fails.
///
/// Figures: `requests`, `sampled_requests`, `unsampled_requests`,
/// `missing`, `incomplete`, `not_continued`, `leaked`, `duplicate_trace_ids`.
pub async fn check_parent_obedience(
    requests: &[ParentedRequest],
    source: &dyn TraceSource,
    completeness: &dyn CompletenessRule,
) -> Verdict {
    let mut verdict = Verdict::new(CHECK);
    let mut duplicates = Findings::new("duplicate_trace_ids");
    let mut missing = Findings::new("missing");
    let mut incomplete = Findings::new("incomplete");
    let mut not_continued = Findings::new("not_continued");
    let mut leaked = Findings::new("leaked");
    let mut source_error = None;
    let mut first_request_of: HashMap<&str, &str> = HashMap::new();

    for ParentedRequest { label, sent } in requests {
        verdict.examine();
        let id = sent.trace_id.as_str();
        if let Some(first) = first_request_of.insert(id, label) {
            duplicates.add(format!(
                "trace {id} was sent by both request {first} and request {label}: \
                 each request needs its own trace to be checked"
            ));
            continue;
        }
        let spans = match source.trace(id).await {
            Ok(spans) => spans,
            Err(error) => {
                source_error = Some(format!(
                    "could not read trace {id} from {}: {error}; later traces were not looked up",
                    source.describe()
                ));
                break;
            }
        };
        match (sent.sampled(), spans) {
            (true, None) => missing.add(format!(
                "trace {id} (request {label}) was sent with sampled=1 but {} has no span of it",
                source.describe()
            )),
            (true, Some(spans)) => {
                if let Some(why) = completeness.missing(&spans) {
                    incomplete.add(format!(
                        "trace {id} (request {label}) was sent with sampled=1 but is incomplete: {why}"
                    ));
                }
                let continues_caller = spans
                    .iter()
                    .any(|s| s.parent_span_id.as_deref() == Some(sent.parent_id.as_str()));
                if !continues_caller {
                    not_continued.add(format!(
                        "trace {id} (request {label}): no span is a child of the caller's span {}, \
                         so the caller's context was not continued",
                        sent.parent_id
                    ));
                }
            }
            (false, Some(spans)) => leaked.add(format!(
                "trace {id} (request {label}) was sent with sampled=0, yet {} span(s) of it were \
                 stored, from {}",
                spans.len(),
                services_of(&spans)
            )),
            (false, None) => {}
        }
    }

    let sampled_requests = requests.iter().filter(|r| r.sent.sampled()).count();
    let unsampled_requests = requests.len() - sampled_requests;
    verdict.figure("requests", requests.len());
    verdict.figure("sampled_requests", sampled_requests);
    verdict.figure("unsampled_requests", unsampled_requests);
    for findings in [duplicates, missing, incomplete, not_continued, leaked] {
        findings.report(&mut verdict);
    }
    if !requests.is_empty() {
        for (count, flag) in [(sampled_requests, 1), (unsampled_requests, 0)] {
            if count == 0 {
                verdict.fail(format!(
                    "no request was sent with sampled={flag}, so obedience to that flag was not tested"
                ));
            }
        }
    }
    if let Some(reason) = source_error {
        verdict.fail(reason);
    }
    verdict.finish()
}
