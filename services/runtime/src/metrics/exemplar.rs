//! Which span an observation's exemplar names, if any.
//!
//! The rule: an observation made in a *sampled* span carries that span's
//! trace and span ids, so a click on a histogram bucket in Grafana opens a
//! trace that exists; an unsampled span's trace was never exported, so its
//! observation carries none. The metric telemetry faults
//! (`exemplar_wrong_trace`, `exemplar_unsampled`) break exactly this rule.

use std::sync::Mutex;

use opentelemetry::trace::{SpanContext, TraceId};

use super::labels::ExemplarLabels;
use crate::fault::MetricFaults;
use crate::w3c::lower_hex;

/// Chooses exemplars; holds the one piece of state a fault needs.
#[derive(Debug, Default)]
pub(super) struct Exemplars {
    /// The trace of the previous sampled observation, kept only while
    /// `exemplar_wrong_trace` is planted (the healthy path never locks).
    previous_trace: Mutex<Option<TraceId>>,
}

impl Exemplars {
    /// The exemplar of an observation made in `span`, under `faults`.
    pub(super) fn for_context(
        &self,
        span_context: &SpanContext,
        faults: Option<MetricFaults>,
    ) -> Option<ExemplarLabels> {
        // No OpenTelemetry layer, or a span that was disabled: nothing to name.
        if !span_context.is_valid() {
            return None;
        }
        let faults = faults.unwrap_or_default();
        if !span_context.is_sampled() && !faults.exemplar_unsampled {
            return None;
        }
        let mut trace_id = span_context.trace_id();
        if faults.exemplar_wrong_trace && span_context.is_sampled() {
            let mut previous = self
                .previous_trace
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            // The first observation has no previous trace: no exemplar
            // rather than a right one, so every exemplar under the fault
            // is wrong.
            trace_id = previous.replace(trace_id)?;
        }
        Some(labels(trace_id, span_context))
    }
}

fn labels(trace_id: TraceId, span_context: &SpanContext) -> ExemplarLabels {
    // Lower-case hex, the W3C and OpenMetrics form.
    ExemplarLabels {
        trace_id: lower_hex(&trace_id.to_bytes()),
        span_id: lower_hex(&span_context.span_id().to_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceState};

    fn context(trace: u128, span: u64, sampled: bool) -> SpanContext {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            flags,
            false,
            TraceState::default(),
        )
    }

    #[test]
    fn only_a_sampled_span_gets_an_exemplar_in_lower_case_hex() {
        let exemplars = Exemplars::default();
        let got = exemplars
            .for_context(&context(0xABC, 0xDEF, true), None)
            .unwrap();
        assert_eq!(got.trace_id, format!("{:032x}", 0xABC));
        assert_eq!(got.span_id, format!("{:016x}", 0xDEF));
        assert!(
            exemplars
                .for_context(&context(0xABC, 0xDEF, false), None)
                .is_none()
        );
        assert!(
            exemplars
                .for_context(&SpanContext::empty_context(), None)
                .is_none()
        );
    }

    #[test]
    fn exemplar_unsampled_attaches_unsampled_spans_too() {
        let faults = Some(MetricFaults {
            exemplar_unsampled: true,
            ..MetricFaults::default()
        });
        let got = Exemplars::default()
            .for_context(&context(7, 8, false), faults)
            .unwrap();
        assert_eq!(got.trace_id, format!("{:032x}", 7));
    }

    #[test]
    fn exemplar_wrong_trace_names_the_previous_trace_and_the_current_span() {
        let faults = Some(MetricFaults {
            exemplar_wrong_trace: true,
            ..MetricFaults::default()
        });
        let exemplars = Exemplars::default();
        assert!(
            exemplars
                .for_context(&context(1, 10, true), faults)
                .is_none()
        );
        // Unsampled observations neither get one nor become "previous".
        assert!(
            exemplars
                .for_context(&context(2, 20, false), faults)
                .is_none()
        );
        let got = exemplars
            .for_context(&context(3, 30, true), faults)
            .unwrap();
        assert_eq!(got.trace_id, format!("{:032x}", 1));
        assert_eq!(got.span_id, format!("{:016x}", 30));
        let got = exemplars
            .for_context(&context(4, 40, true), faults)
            .unwrap();
        assert_eq!(got.trace_id, format!("{:032x}", 3));
    }
}
