//! Telemetry faults: defects planted in a service's *telemetry* while the
//! service itself keeps working.
//!
//! The operation faults of [`super`] break requests; these break what the
//! traces say about them, the way real instrumentation bugs do: a client
//! that forgot to inject `traceparent`, a propagator that writes garbage, a
//! span that never leaves the process, an attribute nobody sets, an error
//! the span does not show, a sampler that ignores its parent, a slowdown no
//! one marked. A workshop attendee (or CI) plants one through the same
//! fault file or admin `PUT` as any other fault, and watches the harness's
//! checks turn red.
//!
//! A [`TelemetryFault`] is one entry of the `telemetry:` list of a
//! [`super::FaultConfig`]. [`TelemetryFaults`] is the live list, shared by
//! everything that acts on it:
//!
//! | kind | applied in |
//! |---|---|
//! | `drop_context`, `corrupt_context` | [`crate::propagation::Hop::inject`] (gRPC and HTTP clients) |
//! | `drop_span`, `drop_attribute`, `lose_error_status` | [`super::span_processor::TelemetryFaultProcessor`] |
//! | `ignore_parent_sampling` | [`super::sampler::TelemetryFaultSampler`] |
//! | `unmarked_latency` | [`super::Faults::apply`] |
//! | `exemplar_wrong_trace`, `exemplar_unsampled`, `miss_count` | [`crate::metrics`] (every histogram; `miss_count` the server ones) |
//!
//! Those readers sit on hot paths (every outgoing call, every span, every
//! sampling decision), so a read is one atomic load while no telemetry fault
//! is planted, and a clone of an `Arc` otherwise; only a replacement takes
//! the write lock.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Latency, Schedule};
use crate::topology::{Service, TOPOLOGY};

/// One planted telemetry defect. In YAML, tagged by `kind`:
///
/// ```yaml
/// telemetry:
///   - {kind: drop_context, hop: payment}
///   - {kind: drop_span, span: INSERT orders, schedule: {on_secs: 10, off_secs: 10}}
/// ```
///
/// Every kind also takes an optional `schedule` (on/off, as operation
/// faults do), counted from when the configuration was applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TelemetryFault {
    /// This service's calls to `hop` carry no `traceparent`, `tracestate`
    /// or `baggage`: the callee starts a new trace. The CLIENT span is still
    /// exported, as when a real client forgot to inject.
    DropContext {
        /// The callee, by its topology name (`payment`), HTTP or gRPC alike.
        hop: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
    },
    /// This service's calls to `hop` carry a well-formed `traceparent` that
    /// names a random trace and parent, as a broken propagator would: the
    /// callee's spans land in a trace of their own whose root is missing.
    CorruptContext {
        hop: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
    },
    /// Spans of this service named `span` are never exported.
    DropSpan {
        span: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
    },
    /// `attribute` is removed from this service's spans named `span`, or
    /// from all of them when `span` is omitted.
    DropAttribute {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        span: Option<String>,
        attribute: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
    },
    /// SERVER spans of this service end with status Unset and no
    /// `error.type`, even when they failed; only `operation`'s when given
    /// (named as for operation faults; `*` or omitted: every operation).
    LoseErrorStatus {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
    },
    /// This service's sampler ignores a remote parent's sampled flag and
    /// decides as if it were the root.
    IgnoreParentSampling {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
    },
    /// Adds `ms` to `operation` without marking the span (no
    /// `fault.injected`): a regression nobody announced.
    UnmarkedLatency {
        operation: String,
        ms: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
    },
    /// This service's exemplars name the trace of the *previous* sampled
    /// observation (a real trace, the wrong one) with the current span id.
    ExemplarWrongTrace {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
    },
    /// This service's observations in unsampled spans carry exemplars too,
    /// naming traces that were never exported.
    ExemplarUnsampled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
    },
    /// Every `every`th observation of this service's server durations
    /// (HTTP and gRPC counted together) is not recorded: the histogram's
    /// count falls short of the requests served (`every: 1` loses them all).
    MissCount {
        every: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
    },
}

impl TelemetryFault {
    /// The `kind` as written in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            TelemetryFault::DropContext { .. } => "drop_context",
            TelemetryFault::CorruptContext { .. } => "corrupt_context",
            TelemetryFault::DropSpan { .. } => "drop_span",
            TelemetryFault::DropAttribute { .. } => "drop_attribute",
            TelemetryFault::LoseErrorStatus { .. } => "lose_error_status",
            TelemetryFault::IgnoreParentSampling { .. } => "ignore_parent_sampling",
            TelemetryFault::UnmarkedLatency { .. } => "unmarked_latency",
            TelemetryFault::ExemplarWrongTrace { .. } => "exemplar_wrong_trace",
            TelemetryFault::ExemplarUnsampled { .. } => "exemplar_unsampled",
            TelemetryFault::MissCount { .. } => "miss_count",
        }
    }

    pub fn schedule(&self) -> Option<Schedule> {
        match self {
            TelemetryFault::DropContext { schedule, .. }
            | TelemetryFault::CorruptContext { schedule, .. }
            | TelemetryFault::DropSpan { schedule, .. }
            | TelemetryFault::DropAttribute { schedule, .. }
            | TelemetryFault::LoseErrorStatus { schedule, .. }
            | TelemetryFault::IgnoreParentSampling { schedule }
            | TelemetryFault::UnmarkedLatency { schedule, .. }
            | TelemetryFault::ExemplarWrongTrace { schedule }
            | TelemetryFault::ExemplarUnsampled { schedule }
            | TelemetryFault::MissCount { schedule, .. } => *schedule,
        }
    }

    /// The callee of a `drop_context` or `corrupt_context` (once validated).
    pub fn hop(&self) -> Option<Service> {
        match self {
            TelemetryFault::DropContext { hop, .. }
            | TelemetryFault::CorruptContext { hop, .. } => Service::from_name(hop),
            _ => None,
        }
    }

    /// Checks the values serde cannot: names that must not be empty, a hop
    /// that is a service some service calls, a latency within bounds. The
    /// caller adds which entry it was.
    pub(super) fn validate(&self) -> Result<(), String> {
        let named = |what: &str, value: &str| {
            if value.trim().is_empty() {
                Err(format!("{what} must not be empty"))
            } else {
                Ok(())
            }
        };
        match self {
            TelemetryFault::DropContext { hop, .. }
            | TelemetryFault::CorruptContext { hop, .. } => {
                let service: Service = hop.parse().map_err(|e| format!("hop: {e}"))?;
                // A hop nobody calls would plant a fault that can never fire.
                let called = TOPOLOGY
                    .iter()
                    .any(|spec| spec.callees.iter().any(|c| c.service == service));
                if !called {
                    return Err(format!("hop: no service calls {service}"));
                }
            }
            TelemetryFault::DropSpan { span, .. } => named("span", span)?,
            TelemetryFault::DropAttribute {
                span, attribute, ..
            } => {
                if let Some(span) = span {
                    named("span", span)?;
                }
                named("attribute", attribute)?;
            }
            TelemetryFault::LoseErrorStatus { operation, .. } => {
                if let Some(operation) = operation {
                    named("operation", operation)?;
                }
            }
            TelemetryFault::IgnoreParentSampling { .. }
            | TelemetryFault::ExemplarWrongTrace { .. }
            | TelemetryFault::ExemplarUnsampled { .. } => {}
            TelemetryFault::MissCount { every, .. } => {
                if *every == 0 {
                    return Err(
                        "every must be at least 1 (every Nth observation is missed)".to_owned()
                    );
                }
            }
            TelemetryFault::UnmarkedLatency { operation, ms, .. } => {
                named("operation", operation)?;
                // The operation faults' bound, so both kinds of latency agree.
                Latency::Fixed { ms: *ms }.validate()?;
            }
        }
        if let Some(schedule) = self.schedule() {
            schedule.validate()?;
        }
        Ok(())
    }
}

/// One line, for logs and reports: `drop_context hop=payment`.
impl fmt::Display for TelemetryFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())?;
        match self {
            TelemetryFault::DropContext { hop, .. }
            | TelemetryFault::CorruptContext { hop, .. } => write!(f, " hop={hop}")?,
            TelemetryFault::DropSpan { span, .. } => write!(f, " span={span:?}")?,
            TelemetryFault::DropAttribute {
                span, attribute, ..
            } => {
                if let Some(span) = span {
                    write!(f, " span={span:?}")?;
                }
                write!(f, " attribute={attribute}")?;
            }
            TelemetryFault::LoseErrorStatus { operation, .. } => {
                if let Some(operation) = operation {
                    write!(f, " operation={operation:?}")?;
                }
            }
            TelemetryFault::IgnoreParentSampling { .. }
            | TelemetryFault::ExemplarWrongTrace { .. }
            | TelemetryFault::ExemplarUnsampled { .. } => {}
            TelemetryFault::MissCount { every, .. } => write!(f, " every={every}")?,
            TelemetryFault::UnmarkedLatency { operation, ms, .. } => {
                write!(f, " operation={operation:?} ms={ms}")?
            }
        }
        if let Some(s) = self.schedule() {
            write!(f, " schedule={}s on/{}s off", s.on_secs, s.off_secs)?;
        }
        Ok(())
    }
}

/// What happens to the context of one outgoing call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextFault {
    /// Inject nothing.
    Drop,
    /// Inject a random trace id and parent instead of the real ones.
    Corrupt,
}

/// What the metric faults in force do to an observation
/// ([`TelemetryFaults::metric_faults`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricFaults {
    /// `exemplar_wrong_trace` is on.
    pub exemplar_wrong_trace: bool,
    /// `exemplar_unsampled` is on.
    pub exemplar_unsampled: bool,
    /// `miss_count`'s `every`, the smallest when several are on.
    pub miss_every: Option<u64>,
}

/// The live telemetry faults of a service: cheap to clone, shared by the
/// span processor, the sampler, the clients and [`super::Faults`], which
/// replaces the list when the configuration changes.
#[derive(Debug, Clone, Default)]
pub struct TelemetryFaults {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// False while the list is empty: the hot paths' whole cost then.
    any: AtomicBool,
    planted: RwLock<Arc<Planted>>,
}

/// One configuration's list, and when it was applied (schedules count from
/// there).
#[derive(Debug)]
pub struct Planted {
    faults: Vec<TelemetryFault>,
    applied: Instant,
}

impl Default for Planted {
    fn default() -> Self {
        Planted {
            faults: Vec::new(),
            applied: Instant::now(),
        }
    }
}

impl TelemetryFaults {
    pub fn new(faults: Vec<TelemetryFault>) -> Self {
        let handle = TelemetryFaults::default();
        handle.replace(faults);
        handle
    }

    /// Plants `faults` instead of the current ones (an empty list removes
    /// them all). Validate first: this takes the list as it is.
    pub fn replace(&self, faults: Vec<TelemetryFault>) {
        let any = !faults.is_empty();
        let planted = Arc::new(Planted {
            faults,
            applied: Instant::now(),
        });
        *self
            .shared
            .planted
            .write()
            .unwrap_or_else(|p| p.into_inner()) = planted;
        // Set after the list is in place, so a reader that sees `any` sees
        // the list too.
        self.shared.any.store(any, Ordering::Release);
    }

    /// The faults in force, whether or not their schedule is on now.
    pub fn list(&self) -> Vec<TelemetryFault> {
        self.current().map(|p| p.faults.clone()).unwrap_or_default()
    }

    /// The current list, or `None` (one atomic load) when it is empty.
    pub fn current(&self) -> Option<Arc<Planted>> {
        if !self.shared.any.load(Ordering::Acquire) {
            return None;
        }
        let planted = self
            .shared
            .planted
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Some(planted)
    }

    /// What to do to the context of a call to `callee`; `None`: inject it.
    pub fn context_fault(&self, callee: Service) -> Option<ContextFault> {
        self.current()?.context_fault(callee)
    }

    /// Whether a remote parent's sampled flag is to be ignored now.
    pub fn ignores_parent_sampling(&self) -> bool {
        self.current().is_some_and(|p| {
            p.active()
                .any(|f| matches!(f, TelemetryFault::IgnoreParentSampling { .. }))
        })
    }

    /// The metric faults on now; `None` (one atomic load) when no
    /// telemetry fault is planted, or none of them is about metrics.
    pub fn metric_faults(&self) -> Option<MetricFaults> {
        let planted = self.current()?;
        let mut faults = MetricFaults::default();
        for fault in planted.active() {
            match fault {
                TelemetryFault::ExemplarWrongTrace { .. } => faults.exemplar_wrong_trace = true,
                TelemetryFault::ExemplarUnsampled { .. } => faults.exemplar_unsampled = true,
                TelemetryFault::MissCount { every, .. } => {
                    faults.miss_every = Some(faults.miss_every.map_or(*every, |m| m.min(*every)));
                }
                _ => {}
            }
        }
        (faults != MetricFaults::default()).then_some(faults)
    }

    /// The unmarked latency to add to `operation` (the sum of every
    /// matching entry), if any.
    pub fn unmarked_latency(&self, operation: &str) -> Option<Duration> {
        let planted = self.current()?;
        let ms: f64 = planted
            .active()
            .filter_map(|f| match f {
                TelemetryFault::UnmarkedLatency {
                    operation: op, ms, ..
                } if op == operation || op == "*" => Some(*ms),
                _ => None,
            })
            .sum();
        (ms > 0.0).then(|| Duration::from_secs_f64(ms / 1000.0))
    }
}

impl Planted {
    /// The entries whose schedule is on now (or that have none).
    pub fn active(&self) -> impl Iterator<Item = &TelemetryFault> {
        let elapsed = self.applied.elapsed();
        self.faults
            .iter()
            .filter(move |f| f.schedule().is_none_or(|s| s.is_on(elapsed)))
    }

    /// The first active entry about `callee`'s context wins.
    fn context_fault(&self, callee: Service) -> Option<ContextFault> {
        self.active().find_map(|f| match f {
            TelemetryFault::DropContext { hop, .. } if hop == callee.name() => {
                Some(ContextFault::Drop)
            }
            TelemetryFault::CorruptContext { hop, .. } if hop == callee.name() => {
                Some(ContextFault::Corrupt)
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultConfig;

    const ALL_KINDS: &str = "
telemetry:
  - kind: drop_context
    hop: payment
  - kind: corrupt_context
    hop: inventory
  - kind: drop_span
    span: INSERT orders
  - kind: drop_attribute
    span: tracemesh.user.v1.UserService/ValidateUser
    attribute: rpc.grpc.status_code
  - kind: lose_error_status
  - kind: ignore_parent_sampling
  - kind: unmarked_latency
    operation: Reserve
    ms: 30
    schedule: {on_secs: 5, off_secs: 5}
  - kind: exemplar_wrong_trace
  - kind: exemplar_unsampled
    schedule: {on_secs: 5, off_secs: 5}
  - kind: miss_count
    every: 3
";

    #[test]
    fn parses_every_kind() {
        let config = FaultConfig::parse(ALL_KINDS).unwrap();
        let kinds: Vec<&str> = config.telemetry.iter().map(|f| f.kind()).collect();
        assert_eq!(
            kinds,
            [
                "drop_context",
                "corrupt_context",
                "drop_span",
                "drop_attribute",
                "lose_error_status",
                "ignore_parent_sampling",
                "unmarked_latency",
                "exemplar_wrong_trace",
                "exemplar_unsampled",
                "miss_count"
            ]
        );
        assert_eq!(config.telemetry[0].hop(), Some(Service::Payment));
        assert_eq!(
            config.telemetry[3],
            TelemetryFault::DropAttribute {
                span: Some("tracemesh.user.v1.UserService/ValidateUser".into()),
                attribute: "rpc.grpc.status_code".into(),
                schedule: None,
            }
        );
        assert_eq!(
            config.telemetry[6].schedule(),
            Some(Schedule {
                on_secs: 5.0,
                off_secs: 5.0
            })
        );
    }

    #[test]
    fn serialises_back_to_what_it_parsed() {
        // The admin GET serialises the configuration; the harness reads it back.
        let config = FaultConfig::parse(ALL_KINDS).unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert!(
            json.contains(r#"{"kind":"ignore_parent_sampling"}"#),
            "{json}"
        );
        assert_eq!(FaultConfig::parse(&json).unwrap(), config);
    }

    fn error_of(yaml: &str) -> String {
        FaultConfig::parse(yaml).unwrap_err().0
    }

    #[test]
    fn errors_name_the_entry_and_its_kind() {
        let e =
            error_of("telemetry: [{kind: drop_span, span: x}, {kind: drop_context, hop: paymnt}]");
        assert!(e.contains("telemetry[1] (drop_context)"), "{e}");
        assert!(e.contains("\"paymnt\"") && e.contains("payment"), "{e}");

        let e = error_of("telemetry: [{kind: drop_span, span: '  '}]");
        assert!(
            e.contains("telemetry[0] (drop_span): span must not be empty"),
            "{e}"
        );

        let e = error_of("telemetry: [{kind: drop_attribute, attribute: ''}]");
        assert!(
            e.contains("telemetry[0] (drop_attribute): attribute"),
            "{e}"
        );

        let e = error_of("telemetry: [{kind: unmarked_latency, operation: Reserve, ms: 60001}]");
        assert!(e.contains("telemetry[0] (unmarked_latency)"), "{e}");
        assert!(e.contains("between 0 and 60000"), "{e}");
        assert!(
            FaultConfig::parse("telemetry: [{kind: unmarked_latency, operation: R, ms: -1}]")
                .is_err()
        );

        let e = error_of("telemetry: [{kind: lose_error_status, operation: ''}]");
        assert!(e.contains("telemetry[0] (lose_error_status)"), "{e}");

        let e = error_of(
            "telemetry: [{kind: ignore_parent_sampling, schedule: {on_secs: 0, off_secs: 0}}]",
        );
        assert!(
            e.contains("telemetry[0] (ignore_parent_sampling): schedule"),
            "{e}"
        );
    }

    #[test]
    fn metric_fault_errors_name_the_entry() {
        let e = error_of("telemetry: [{kind: drop_span, span: x}, {kind: miss_count, every: 0}]");
        assert!(
            e.contains("telemetry[1] (miss_count): every must be at least 1"),
            "{e}"
        );
        let e = error_of("telemetry: [{kind: miss_count}]");
        assert!(e.contains("every"), "{e}");
        let e = error_of("telemetry: [{kind: miss_count, every: -2}]");
        assert!(e.contains("telemetry"), "{e}");
        let e = error_of("telemetry: [{kind: exemplar_unsampled, trace: x}]");
        assert!(e.contains("trace"), "{e}");
        let e = error_of(
            "telemetry: [{kind: exemplar_wrong_trace, schedule: {on_secs: 0, off_secs: 0}}]",
        );
        assert!(
            e.contains("telemetry[0] (exemplar_wrong_trace): schedule"),
            "{e}"
        );
    }

    #[test]
    fn metric_faults_are_read_only_when_planted() {
        let handle = TelemetryFaults::default();
        assert_eq!(handle.metric_faults(), None);
        handle.replace(
            FaultConfig::parse("telemetry: [{kind: drop_span, span: x}]")
                .unwrap()
                .telemetry,
        );
        assert_eq!(handle.metric_faults(), None, "no metric fault among them");
        handle.replace(
            FaultConfig::parse(
                "telemetry: [{kind: miss_count, every: 5}, {kind: miss_count, every: 2}, {kind: exemplar_wrong_trace}]",
            )
            .unwrap()
            .telemetry,
        );
        assert_eq!(
            handle.metric_faults(),
            Some(MetricFaults {
                exemplar_wrong_trace: true,
                exemplar_unsampled: false,
                miss_every: Some(2),
            })
        );
    }

    #[test]
    fn a_hop_nobody_calls_is_refused() {
        let e = error_of("telemetry: [{kind: corrupt_context, hop: gateway}]");
        assert!(e.contains("no service calls gateway"), "{e}");
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused() {
        assert!(FaultConfig::parse("telemetry: [{kind: drop_everything}]").is_err());
        assert!(FaultConfig::parse("telemetry: [{kind: drop_span, span: x, spam: y}]").is_err());
        assert!(FaultConfig::parse("telemetry: [{kind: drop_context}]").is_err());
    }

    #[test]
    fn an_empty_handle_answers_nothing_and_a_replacement_takes_effect() {
        let handle = TelemetryFaults::default();
        assert!(handle.current().is_none());
        assert_eq!(handle.context_fault(Service::Payment), None);
        let config = FaultConfig::parse(ALL_KINDS).unwrap();
        handle.replace(config.telemetry.clone());
        assert_eq!(handle.list(), config.telemetry);
        assert_eq!(
            handle.context_fault(Service::Payment),
            Some(ContextFault::Drop)
        );
        assert_eq!(
            handle.context_fault(Service::Inventory),
            Some(ContextFault::Corrupt)
        );
        assert_eq!(handle.context_fault(Service::User), None);
        assert!(handle.ignores_parent_sampling());
        assert_eq!(
            handle.unmarked_latency("Reserve"),
            Some(Duration::from_millis(30))
        );
        assert_eq!(handle.unmarked_latency("Release"), None);
        handle.replace(Vec::new());
        assert!(handle.current().is_none());
        assert!(!handle.ignores_parent_sampling());
    }

    #[test]
    fn an_off_schedule_silences_an_entry() {
        let handle = TelemetryFaults::new(
            FaultConfig::parse(
                "telemetry: [{kind: drop_context, hop: user, schedule: {on_secs: 0, off_secs: 1000}}]",
            )
            .unwrap()
            .telemetry,
        );
        assert_eq!(handle.context_fault(Service::User), None);
    }
}
