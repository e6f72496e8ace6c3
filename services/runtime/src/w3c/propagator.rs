//! The OpenTelemetry propagators: which header formats a service reads and
//! writes, chosen once here.
//!
//! Two entry points:
//!
//! - [`propagator`]: W3C Trace Context, then W3C Baggage, always. The
//!   harness (which reads and writes `traceparent` itself), the benches and
//!   the fuzz targets use it: they exercise the W3C headers, whatever a
//!   service is configured with.
//! - [`Propagators`]: what `OTEL_PROPAGATORS` asks for (`tracecontext`,
//!   `baggage`, `b3`, `b3multi`, `jaeger` or `none`, a comma list in the
//!   order given; default `tracecontext,baggage`). `telemetry::init` parses
//!   it and [`Propagators::install`] makes it process-wide.
//!
//! [`install_propagator`] installs the W3C default, for tests and benches
//! that need propagation without the rest of the telemetry.
//!
//! The B3 propagator is `opentelemetry-zipkin`'s; the Jaeger one is ours
//! ([`super::jaeger`]), because `opentelemetry-jaeger-propagator` has no
//! release for opentelemetry 0.33 (its latest, 0.32.0, implements 0.32's
//! `TextMapPropagator`, another trait).

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
// opentelemetry-zipkin 0.33 marks the whole crate deprecated, the B3
// propagator included, though the notice is about its Zipkin *exporter*
// ("use the OTLP exporter instead"); the B3 headers themselves are still
// what Zipkin-instrumented callers send, and this is upstream's propagator
// for them. The two places that name it allow the deprecation.
#[allow(deprecated)]
use opentelemetry_zipkin::{B3Encoding, Propagator as B3Propagator};

use super::jaeger::JaegerPropagator;
use crate::config::{ConfigError, Env};

/// The variable [`Propagators::from_env`] reads.
pub const PROPAGATORS_VAR: &str = "OTEL_PROPAGATORS";

/// W3C trace context (`traceparent`, `tracestate`) and W3C baggage: the
/// default of every service, and what the harness, benches and fuzz
/// targets always use.
pub fn propagator() -> TextMapCompositePropagator {
    Propagators::default().composite()
}

/// Makes [`propagator`] the global one, which [`crate::propagation`]'s
/// `extract` and `inject` use. Installing it again replaces it with an
/// identical one, so tests may call this in any order.
pub fn install_propagator() {
    Propagators::default().install();
}

/// One header format of `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagatorKind {
    /// W3C `traceparent` and `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// B3 single header (`b3: {trace}-{span}-{sampled}`) on the way out.
    B3,
    /// B3 multiple headers (`x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`).
    B3Multi,
    /// Jaeger's `uber-trace-id: {trace}:{span}:{parent}:{flags}`.
    Jaeger,
}

impl PropagatorKind {
    /// The name `OTEL_PROPAGATORS` gives it.
    pub fn name(self) -> &'static str {
        match self {
            PropagatorKind::TraceContext => "tracecontext",
            PropagatorKind::Baggage => "baggage",
            PropagatorKind::B3 => "b3",
            PropagatorKind::B3Multi => "b3multi",
            PropagatorKind::Jaeger => "jaeger",
        }
    }

    #[allow(deprecated)] // opentelemetry-zipkin's, see the import
    fn build(self) -> Box<dyn TextMapPropagator + Send + Sync> {
        match self {
            PropagatorKind::TraceContext => Box::new(TraceContextPropagator::new()),
            PropagatorKind::Baggage => Box::new(BaggagePropagator::new()),
            // Both B3 flavours *extract* either encoding (the B3 spec asks
            // for it); they differ in what they inject.
            PropagatorKind::B3 => Box::new(B3Propagator::with_encoding(B3Encoding::SingleHeader)),
            PropagatorKind::B3Multi => {
                Box::new(B3Propagator::with_encoding(B3Encoding::MultipleHeader))
            }
            PropagatorKind::Jaeger => Box::new(JaegerPropagator),
        }
    }
}

const ALL: [PropagatorKind; 5] = [
    PropagatorKind::TraceContext,
    PropagatorKind::Baggage,
    PropagatorKind::B3,
    PropagatorKind::B3Multi,
    PropagatorKind::Jaeger,
];

/// The propagators a service uses, in order (empty for `none`). On the way
/// in each extracts in turn over what the previous ones found, so with
/// `tracecontext,b3` a request carrying both continues the B3 parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagators(Vec<PropagatorKind>);

impl Default for Propagators {
    /// `tracecontext,baggage`, the specification's default.
    fn default() -> Self {
        Propagators(vec![PropagatorKind::TraceContext, PropagatorKind::Baggage])
    }
}

impl Propagators {
    /// Reads `OTEL_PROPAGATORS`. An unknown name, or `none` beside another
    /// name, is an error naming the variable; a name given twice counts once.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let Some(raw) = env.get(PROPAGATORS_VAR) else {
            return Ok(Propagators::default());
        };
        let names: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if names.contains(&"none") {
            return if names.iter().all(|n| *n == "none") {
                Ok(Propagators(Vec::new()))
            } else {
                Err(ConfigError::new(
                    PROPAGATORS_VAR,
                    &raw,
                    "none cannot be combined with other propagators",
                ))
            };
        }
        let mut kinds = Vec::new();
        for name in names {
            let kind = ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
                let reason = match name {
                    "xray" | "ottrace" => format!("{name} is not supported by this build; "),
                    _ => format!("unknown propagator {name:?}; "),
                };
                ConfigError::new(
                    PROPAGATORS_VAR,
                    &raw,
                    reason
                        + "expected a comma list of tracecontext, baggage, b3, b3multi, \
                              jaeger, or none",
                )
            })?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(Propagators(kinds))
    }

    /// The propagators, in order.
    pub fn kinds(&self) -> &[PropagatorKind] {
        &self.0
    }

    /// One propagator doing all of them in order (none at all for `none`:
    /// nothing is read or written, every request starts a new trace).
    pub fn composite(&self) -> TextMapCompositePropagator {
        TextMapCompositePropagator::new(self.0.iter().map(|k| k.build()).collect())
    }

    /// Makes [`Propagators::composite`] the global propagator, which
    /// [`crate::propagation`] uses on every hop, HTTP and gRPC alike.
    pub fn install(&self) {
        opentelemetry::global::set_text_map_propagator(self.composite());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;
    use opentelemetry::Context;
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
    use std::collections::HashMap;

    fn parse(value: &str) -> Result<Propagators, ConfigError> {
        Propagators::from_env(&MapEnv::new([(PROPAGATORS_VAR, value)]))
    }

    fn injected(value: &str) -> HashMap<String, String> {
        let cx = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            TraceFlags::SAMPLED,
            false,
            Default::default(),
        ));
        let mut headers = HashMap::new();
        parse(value)
            .unwrap()
            .composite()
            .inject_context(&cx, &mut headers);
        headers
    }

    #[test]
    fn the_default_is_trace_context_then_baggage() {
        let unset = Propagators::from_env(&MapEnv::default()).unwrap();
        assert_eq!(unset, Propagators::default());
        assert_eq!(
            unset.kinds(),
            [PropagatorKind::TraceContext, PropagatorKind::Baggage]
        );
    }

    #[test]
    fn a_list_keeps_its_order_and_counts_a_repeat_once() {
        let p = parse(" jaeger, b3multi ,tracecontext,jaeger").unwrap();
        assert_eq!(
            p.kinds(),
            [
                PropagatorKind::Jaeger,
                PropagatorKind::B3Multi,
                PropagatorKind::TraceContext
            ]
        );
        assert!(parse("none").unwrap().kinds().is_empty());
    }

    #[test]
    fn unknown_names_and_none_with_others_name_the_variable() {
        for bad in ["w3c", "b3,xray", "none,b3", "B3"] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.var, PROPAGATORS_VAR, "{bad}");
        }
    }

    #[test]
    fn each_format_injects_its_own_headers() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let span = "00f067aa0ba902b7";
        assert_eq!(injected("b3")["b3"], format!("{trace}-{span}-1"));
        let multi = injected("b3multi");
        assert_eq!(multi["x-b3-traceid"], trace);
        assert_eq!(multi["x-b3-spanid"], span);
        assert_eq!(multi["x-b3-sampled"], "1");
        assert!(!multi.contains_key("b3"));
        assert_eq!(
            injected("jaeger")["uber-trace-id"],
            format!("{trace}:{span}:0:1")
        );
        assert_eq!(
            injected("tracecontext")["traceparent"],
            format!("00-{trace}-{span}-01")
        );
        assert!(injected("none").is_empty());
    }
}
