//! `ignore_parent_sampling`: a sampler that, while the fault is planted,
//! ignores the sampled flag of a *remote* parent and decides as a root would.
//!
//! That is a classic misconfiguration (a service set to `traceidratio`
//! where `parentbased_traceidratio` was meant): the service keeps spans of
//! traces its caller dropped, and drops spans of traces its caller kept,
//! which the harness's parent-obedience check catches.
//!
//! Only a remote parent is ignored: the spans a service makes under its own
//! SERVER span still follow it, so the damage is at the hop, as in the real
//! bug, and not inside the service's own tree.

use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingResult, ShouldSample};

use super::telemetry::TelemetryFaults;

/// The configured sampler, and the root decision used instead of it for a
/// remote parent while the fault is planted.
#[derive(Debug, Clone)]
pub struct TelemetryFaultSampler {
    configured: Sampler,
    own_decision: Sampler,
    faults: TelemetryFaults,
}

impl TelemetryFaultSampler {
    /// `ratio` is the configured sampler's ratio, if it has one: the root
    /// decision is then the same trace-id ratio; without one, always on.
    pub fn new(configured: Sampler, ratio: Option<f64>, faults: TelemetryFaults) -> Self {
        let own_decision = match ratio {
            Some(ratio) => Sampler::TraceIdRatioBased(ratio),
            None => Sampler::AlwaysOn,
        };
        TelemetryFaultSampler {
            configured,
            own_decision,
            faults,
        }
    }
}

impl ShouldSample for TelemetryFaultSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let remote_parent = parent_context
            .is_some_and(|cx| cx.has_active_span() && cx.span().span_context().is_remote());
        // The fault is read only for a remote parent: one span per request.
        let sampler = if remote_parent && self.faults.ignores_parent_sampling() {
            &self.own_decision
        } else {
            &self.configured
        };
        // Both keep the parent's tracestate, as the SDK's samplers do.
        sampler.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultConfig;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::SamplingDecision;

    fn remote_parent(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            flags,
            true,
            TraceState::default(),
        ))
    }

    fn decide(sampler: &TelemetryFaultSampler, parent: Option<&Context>) -> SamplingDecision {
        sampler
            .should_sample(
                parent,
                TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
                "span",
                &SpanKind::Server,
                &[],
                &[],
            )
            .decision
    }

    fn parent_based_always_on(telemetry: &str) -> (TelemetryFaultSampler, TelemetryFaults) {
        let faults = TelemetryFaults::new(FaultConfig::parse(telemetry).unwrap().telemetry);
        let sampler = TelemetryFaultSampler::new(
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            None,
            faults.clone(),
        );
        (sampler, faults)
    }

    #[test]
    fn without_the_fault_a_remote_parent_is_followed() {
        let (sampler, _) = parent_based_always_on("");
        assert_eq!(
            decide(&sampler, Some(&remote_parent(false))),
            SamplingDecision::Drop
        );
        assert_eq!(
            decide(&sampler, Some(&remote_parent(true))),
            SamplingDecision::RecordAndSample
        );
    }

    #[test]
    fn with_the_fault_an_unsampled_remote_parent_is_ignored() {
        let (sampler, faults) =
            parent_based_always_on("telemetry: [{kind: ignore_parent_sampling}]");
        assert_eq!(
            decide(&sampler, Some(&remote_parent(false))),
            SamplingDecision::RecordAndSample
        );
        // Removed at run time: the parent is obeyed again.
        faults.replace(Vec::new());
        assert_eq!(
            decide(&sampler, Some(&remote_parent(false))),
            SamplingDecision::Drop
        );
    }

    #[test]
    fn the_own_decision_uses_the_configured_ratio() {
        let faults = TelemetryFaults::new(
            FaultConfig::parse("telemetry: [{kind: ignore_parent_sampling}]")
                .unwrap()
                .telemetry,
        );
        // Ratio 0: a sampled parent is now dropped, as a root would be.
        let sampler = TelemetryFaultSampler::new(
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.0))),
            Some(0.0),
            faults,
        );
        assert_eq!(
            decide(&sampler, Some(&remote_parent(true))),
            SamplingDecision::Drop
        );
    }

    #[test]
    fn a_local_parent_is_still_followed() {
        let (sampler, _) = parent_based_always_on("telemetry: [{kind: ignore_parent_sampling}]");
        let local = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(1),
            SpanId::from(1),
            TraceFlags::default(),
            false,
            TraceState::default(),
        ));
        assert_eq!(decide(&sampler, Some(&local)), SamplingDecision::Drop);
        assert_eq!(decide(&sampler, None), SamplingDecision::RecordAndSample);
    }
}
