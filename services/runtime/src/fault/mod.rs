//! Fault and latency injection, per operation, reproducible from one seed.
//!
//! A [`FaultConfig`] says, per operation name, what to add: a latency (fixed
//! or drawn from a distribution) and an error rate with the error to return.
//! [`Faults`] holds the current configuration (replaceable at runtime through
//! the admin endpoint, see [`crate::admin`]) and a seeded random generator.
//! The server layers call [`Faults::apply`] once per request, so no handler
//! knows about faults. Every injected delay or error is marked on the span
//! that incurred it (the keys are in [`crate::contract::attr`]), which
//! is how the harness tells planted latency from real latency.
//!
//! Operation names: a gRPC method's short name (`Reserve`), or an HTTP
//! route as `METHOD /route` (`POST /v1/charges`); `*` matches every operation.
//!
//! The configuration's `telemetry:` list plants defects in the telemetry
//! instead of the service ([`telemetry`]): dropped or corrupted context,
//! dropped spans and attributes, lost error status, a sampler that ignores
//! its parent, unmarked latency, exemplars naming the wrong or an
//! unsampled trace, missed observations. [`Faults`] shares them, through one
//! [`TelemetryFaults`] handle, with the span processor ([`span_processor`]),
//! the sampler ([`sampler`]) and the clients ([`crate::propagation::Hop`]),
//! so replacing the configuration replaces them everywhere at once.

pub mod sampler;
pub mod span_processor;
pub mod telemetry;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::contract::attr;
use crate::propagation::Hop;
use crate::topology::Service;

pub use telemetry::{ContextFault, MetricFaults, TelemetryFault, TelemetryFaults};

/// The faults of one service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// Seeds the generator that draws latencies and error decisions.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Operation name (or `*`) to its fault.
    #[serde(default)]
    pub operations: BTreeMap<String, OperationFault>,
    /// Defects planted in the telemetry rather than the service, applied in
    /// list order (see [`telemetry`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub telemetry: Vec<TelemetryFault>,
}

/// What to inject into one operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationFault {
    #[serde(default)]
    pub latency: Option<Latency>,
    /// Probability in [0, 1] that a request fails with `error`.
    #[serde(default)]
    pub error_rate: f64,
    /// The error returned when the request fails; `unavailable` by default.
    #[serde(default)]
    pub error: InjectedErrorKind,
    /// When set, the fault is on for `on_secs`, then off for `off_secs`,
    /// repeating, counted from when the configuration was applied.
    #[serde(default)]
    pub schedule: Option<Schedule>,
}

/// An on/off cycle for a fault: a run sees both the faulty and the healthy
/// mesh, so one run holds its own baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub on_secs: f64,
    pub off_secs: f64,
}

impl Schedule {
    /// Whether the fault is on `elapsed` after the configuration was applied.
    pub fn is_on(&self, elapsed: Duration) -> bool {
        let period = self.on_secs + self.off_secs;
        period <= 0.0 || elapsed.as_secs_f64() % period < self.on_secs
    }

    fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && (0.0..=86_400.0).contains(&v);
        if !ok(self.on_secs) || !ok(self.off_secs) || self.on_secs + self.off_secs <= 0.0 {
            return Err(format!(
                "schedule on_secs {} / off_secs {} must be between 0 and 86400, not both 0",
                self.on_secs, self.off_secs
            ));
        }
        Ok(())
    }
}

/// An added latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    Fixed {
        ms: f64,
    },
    Uniform {
        min_ms: f64,
        max_ms: f64,
    },
    /// Truncated at zero.
    Normal {
        mean_ms: f64,
        stddev_ms: f64,
    },
    Exponential {
        mean_ms: f64,
    },
}

impl Latency {
    fn sample(&self, rng: &mut StdRng) -> Duration {
        let ms = match *self {
            Latency::Fixed { ms } => ms,
            Latency::Uniform { min_ms, max_ms } => {
                if max_ms > min_ms {
                    rng.random_range(min_ms..max_ms)
                } else {
                    min_ms
                }
            }
            Latency::Normal { mean_ms, stddev_ms } => {
                // Box-Muller: two uniforms give one standard normal draw.
                let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                let u2: f64 = rng.random();
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                mean_ms + stddev_ms * z
            }
            Latency::Exponential { mean_ms } => {
                let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                -mean_ms * u.ln()
            }
        };
        Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }

    fn validate(&self) -> Result<(), String> {
        let values: &[f64] = match self {
            Latency::Fixed { ms } => &[*ms],
            Latency::Uniform { min_ms, max_ms } => {
                if min_ms > max_ms {
                    return Err(format!("min_ms {min_ms} is above max_ms {max_ms}"));
                }
                &[*min_ms, *max_ms]
            }
            Latency::Normal { mean_ms, stddev_ms } => &[*mean_ms, *stddev_ms],
            Latency::Exponential { mean_ms } => &[*mean_ms],
        };
        // One minute is far beyond any deadline in the mesh; larger values are typos.
        match values
            .iter()
            .find(|v| !v.is_finite() || **v < 0.0 || **v > 60_000.0)
        {
            Some(v) => Err(format!("{v} ms is not a latency between 0 and 60000 ms")),
            None => Ok(()),
        }
    }
}

/// The kinds of error an injected fault can return; each transport maps
/// them to its own status (see [`InjectedErrorKind::grpc_code`] and
/// [`InjectedErrorKind::http_status`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectedErrorKind {
    #[default]
    Unavailable,
    Internal,
    DeadlineExceeded,
    ResourceExhausted,
}

impl InjectedErrorKind {
    pub fn grpc_code(self) -> tonic::Code {
        match self {
            InjectedErrorKind::Unavailable => tonic::Code::Unavailable,
            InjectedErrorKind::Internal => tonic::Code::Internal,
            InjectedErrorKind::DeadlineExceeded => tonic::Code::DeadlineExceeded,
            InjectedErrorKind::ResourceExhausted => tonic::Code::ResourceExhausted,
        }
    }

    pub fn http_status(self) -> http::StatusCode {
        match self {
            InjectedErrorKind::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
            InjectedErrorKind::Internal => http::StatusCode::INTERNAL_SERVER_ERROR,
            InjectedErrorKind::DeadlineExceeded => http::StatusCode::GATEWAY_TIMEOUT,
            InjectedErrorKind::ResourceExhausted => http::StatusCode::TOO_MANY_REQUESTS,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InjectedErrorKind::Unavailable => "unavailable",
            InjectedErrorKind::Internal => "internal",
            InjectedErrorKind::DeadlineExceeded => "deadline_exceeded",
            InjectedErrorKind::ResourceExhausted => "resource_exhausted",
        }
    }
}

/// A fault configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault configuration: {0}")]
pub struct FaultConfigError(pub String);

impl FaultConfig {
    /// Parses YAML (or JSON, which is YAML) and validates every value.
    pub fn parse(text: &str) -> Result<Self, FaultConfigError> {
        let config: FaultConfig = if text.trim().is_empty() {
            FaultConfig::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| FaultConfigError(e.to_string()))?
        };
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), FaultConfigError> {
        for (op, fault) in &self.operations {
            if !(0.0..=1.0).contains(&fault.error_rate) {
                return Err(FaultConfigError(format!(
                    "operation {op:?}: error_rate {} is not between 0 and 1",
                    fault.error_rate
                )));
            }
            if let Some(latency) = &fault.latency {
                latency
                    .validate()
                    .map_err(|e| FaultConfigError(format!("operation {op:?}: {e}")))?;
            }
            if let Some(schedule) = &fault.schedule {
                schedule
                    .validate()
                    .map_err(|e| FaultConfigError(format!("operation {op:?}: {e}")))?;
            }
        }
        for (index, fault) in self.telemetry.iter().enumerate() {
            fault.validate().map_err(|e| {
                FaultConfigError(format!("telemetry[{index}] ({}): {e}", fault.kind()))
            })?;
        }
        Ok(())
    }

    /// Checks that every hop a telemetry fault names is one `caller`
    /// calls (by the topology): `drop_context` with `hop: user` in order's
    /// configuration would otherwise be accepted and never fire.
    pub fn check_hops(&self, caller: Service) -> Result<(), FaultConfigError> {
        let callees = caller.spec().callees;
        for (index, fault) in self.telemetry.iter().enumerate() {
            let Some(hop) = fault.hop() else { continue };
            if !callees.iter().any(|c| c.service == hop) {
                let names: Vec<&str> = callees.iter().map(|c| c.service.name()).collect();
                return Err(FaultConfigError(format!(
                    "telemetry[{index}] ({}): {caller} never calls {hop}; its hops are {}",
                    fault.kind(),
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }

    fn fault_for(&self, operation: &str) -> Option<&OperationFault> {
        self.operations
            .get(operation)
            .or_else(|| self.operations.get("*"))
    }
}

/// An injected error, returned by [`Faults::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("injected fault: {}", kind.as_str())]
pub struct InjectedError {
    pub kind: InjectedErrorKind,
}

/// The live fault configuration of a service and its seeded generator.
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Arc<Mutex<FaultsInner>>,
    /// The configuration's `telemetry` list, as the span processor, the
    /// sampler and the clients read it: kept in step by [`Faults::replace`].
    telemetry: TelemetryFaults,
}

#[derive(Debug)]
struct FaultsInner {
    config: FaultConfig,
    rng: StdRng,
    /// When the configuration was applied: schedules count from here.
    applied: std::time::Instant,
}

/// One decision: what to do to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Decision {
    delay: Option<Duration>,
    error: Option<InjectedErrorKind>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(FaultConfig::default())
    }
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let rng = rng_for(&config);
        Faults {
            telemetry: TelemetryFaults::new(config.telemetry.clone()),
            inner: Arc::new(Mutex::new(FaultsInner {
                config,
                rng,
                applied: std::time::Instant::now(),
            })),
        }
    }

    /// The handle on the telemetry faults, for [`crate::telemetry::init`]
    /// (span processor and sampler). It follows every [`Faults::replace`].
    pub fn telemetry(&self) -> TelemetryFaults {
        self.telemetry.clone()
    }

    /// The outgoing side of calls to `callee`, for a traced client: where
    /// `drop_context` and `corrupt_context` apply.
    pub fn hop(&self, callee: Service) -> Hop {
        Hop::to(callee, &self.telemetry)
    }

    /// The configuration in force.
    pub fn config(&self) -> FaultConfig {
        self.lock().config.clone()
    }

    /// Replaces the configuration; the generator is re-seeded, so the same
    /// configuration replays the same sequence of decisions.
    pub fn replace(&self, config: FaultConfig) {
        let mut inner = self.lock();
        inner.rng = rng_for(&config);
        // Under the same lock, so two replacements cannot interleave and
        // leave the telemetry list of one beside the operations of the other.
        self.telemetry.replace(config.telemetry.clone());
        inner.config = config;
        inner.applied = std::time::Instant::now();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultsInner> {
        // A panic while holding this lock cannot leave the config half-written
        // (every write is one assignment), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn decide(&self, operation: &str) -> Decision {
        let mut inner = self.lock();
        let FaultsInner {
            config,
            rng,
            applied,
        } = &mut *inner;
        let none = Decision {
            delay: None,
            error: None,
        };
        let Some(fault) = config.fault_for(operation) else {
            return none;
        };
        if let Some(schedule) = fault.schedule
            && !schedule.is_on(applied.elapsed())
        {
            return none;
        }
        let delay = fault.latency.map(|l| l.sample(rng));
        let error = (fault.error_rate > 0.0 && rng.random::<f64>() < fault.error_rate)
            .then_some(fault.error);
        Decision { delay, error }
    }

    /// Applies the faults configured for `operation` to the current request:
    /// sleeps for the injected latency, then returns the injected error if
    /// this request is one that fails. Both are recorded on the current span.
    ///
    /// A telemetry fault's `unmarked_latency` is slept first and marked
    /// nowhere: that is the fault.
    pub async fn apply(&self, operation: &str) -> Result<(), InjectedError> {
        if let Some(delay) = self.telemetry.unmarked_latency(operation) {
            tokio::time::sleep(delay).await;
        }
        let decision = self.decide(operation);
        if decision.delay.is_none() && decision.error.is_none() {
            return Ok(());
        }
        // Each attribute is set once: a span keeps every value it is given.
        let span = tracing::Span::current();
        span.set_attribute(attr::FAULT_INJECTED, true);
        // A request may get both a delay and an error; the error is what the
        // caller sees, so it names the kind.
        let kind = if decision.error.is_some() {
            attr::FAULT_KIND_ERROR
        } else {
            attr::FAULT_KIND_LATENCY
        };
        span.set_attribute(attr::FAULT_KIND, kind);
        if let Some(delay) = decision.delay {
            span.set_attribute(attr::FAULT_DELAY_MS, delay.as_secs_f64() * 1000.0);
            tokio::time::sleep(delay).await;
        }
        match decision.error {
            None => Ok(()),
            Some(kind) => {
                span.set_attribute(attr::FAULT_ERROR, kind.as_str());
                Err(InjectedError { kind })
            }
        }
    }
}

fn rng_for(config: &FaultConfig) -> StdRng {
    match config.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yaml_with_each_distribution() {
        let config = FaultConfig::parse(
            "seed: 7\noperations:\n  Reserve:\n    latency: {distribution: fixed, ms: 40}\n  \
             GetStock:\n    latency: {distribution: uniform, min_ms: 1, max_ms: 5}\n    \
             error_rate: 0.5\n    error: internal\n",
        )
        .unwrap();
        assert_eq!(config.seed, Some(7));
        assert_eq!(
            config.operations["Reserve"].latency,
            Some(Latency::Fixed { ms: 40.0 })
        );
        assert_eq!(
            config.operations["GetStock"].error,
            InjectedErrorKind::Internal
        );
    }

    #[test]
    fn rejects_an_error_rate_above_one_and_a_negative_latency() {
        let err = FaultConfig::parse("operations: {Reserve: {error_rate: 1.5}}").unwrap_err();
        assert!(err.0.contains("Reserve"), "{err}");
        assert!(
            FaultConfig::parse("operations: {Reserve: {latency: {distribution: fixed, ms: -1}}}")
                .is_err()
        );
    }

    #[test]
    fn rejects_unknown_fields_so_typos_are_not_ignored() {
        assert!(FaultConfig::parse("operations: {Reserve: {eror_rate: 0.5}}").is_err());
    }

    #[test]
    fn the_same_seed_gives_the_same_decisions() {
        let config =
            FaultConfig::parse("seed: 42\noperations: {'*': {error_rate: 0.3, latency: {distribution: exponential, mean_ms: 10}}}")
                .unwrap();
        let a = Faults::new(config.clone());
        let b = Faults::new(config);
        let run = |f: &Faults| (0..200).map(|_| f.decide("X")).collect::<Vec<_>>();
        assert_eq!(run(&a), run(&b));
    }

    #[test]
    fn the_error_rate_is_honoured_within_sampling_error() {
        let faults = Faults::new(
            FaultConfig::parse("seed: 1\noperations: {Charge: {error_rate: 0.2}}").unwrap(),
        );
        let n = 10_000;
        let errors = (0..n)
            .filter(|_| faults.decide("Charge").error.is_some())
            .count();
        // 0.2 +/- 4.9 standard deviations (sd = 0.004 for n = 10,000).
        assert!((1_800..=2_200).contains(&errors), "{errors} errors of {n}");
        assert_eq!(faults.decide("Other").error, None);
    }

    #[test]
    fn an_exact_operation_wins_over_the_wildcard() {
        let faults = Faults::new(
            FaultConfig::parse(
                "operations: {'*': {error_rate: 1.0}, Reserve: {latency: {distribution: fixed, ms: 3}}}",
            )
            .unwrap(),
        );
        let d = faults.decide("Reserve");
        assert_eq!(d.error, None);
        assert_eq!(d.delay, Some(Duration::from_millis(3)));
        assert!(faults.decide("Release").error.is_some());
    }

    #[test]
    fn a_schedule_turns_the_fault_on_and_off() {
        let schedule = Schedule {
            on_secs: 2.0,
            off_secs: 3.0,
        };
        assert!(schedule.is_on(Duration::from_secs_f64(0.0)));
        assert!(schedule.is_on(Duration::from_secs_f64(1.9)));
        assert!(!schedule.is_on(Duration::from_secs_f64(2.1)));
        assert!(!schedule.is_on(Duration::from_secs_f64(4.9)));
        assert!(schedule.is_on(Duration::from_secs_f64(5.1)));
    }

    #[test]
    fn a_schedule_that_is_never_on_or_off_is_rejected() {
        assert!(
            FaultConfig::parse(
                "operations: {Reserve: {error_rate: 1, schedule: {on_secs: 0, off_secs: 0}}}"
            )
            .is_err()
        );
        assert!(
            FaultConfig::parse(
                "operations: {Reserve: {error_rate: 1, schedule: {on_secs: -1, off_secs: 5}}}"
            )
            .is_err()
        );
    }

    #[test]
    fn an_off_schedule_injects_nothing() {
        // On for 0 s of every 1000 s: always off.
        let faults = Faults::new(
            FaultConfig::parse(
                "operations: {Reserve: {error_rate: 1.0, schedule: {on_secs: 0, off_secs: 1000}}}",
            )
            .unwrap(),
        );
        assert_eq!(faults.decide("Reserve").error, None);
    }

    #[test]
    fn replace_replaces_the_telemetry_faults_too() {
        let faults =
            Faults::new(FaultConfig::parse("telemetry: [{kind: ignore_parent_sampling}]").unwrap());
        let handle = faults.telemetry();
        assert!(handle.ignores_parent_sampling());
        faults.replace(FaultConfig::parse("telemetry: [{kind: drop_context, hop: user}]").unwrap());
        assert!(!handle.ignores_parent_sampling());
        assert_eq!(
            handle.context_fault(Service::User),
            Some(ContextFault::Drop)
        );
        assert_eq!(faults.config().telemetry, handle.list());
    }

    #[tokio::test]
    async fn unmarked_latency_sleeps_without_an_operation_fault() {
        let faults = Faults::new(
            FaultConfig::parse("telemetry: [{kind: unmarked_latency, operation: Reserve, ms: 20}]")
                .unwrap(),
        );
        let started = tokio::time::Instant::now();
        faults.apply("Reserve").await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(20));
        // Nothing was decided as an operation fault, so nothing is marked
        // (tests/telemetry_faults.rs checks the span itself).
        assert_eq!(
            faults.decide("Reserve"),
            Decision {
                delay: None,
                error: None
            }
        );
        let started = tokio::time::Instant::now();
        faults.apply("Release").await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(20));
    }

    #[tokio::test]
    async fn apply_sleeps_and_then_fails() {
        let faults = Faults::new(
            FaultConfig::parse(
                "operations: {Reserve: {error_rate: 1.0, error: deadline_exceeded, latency: {distribution: fixed, ms: 5}}}",
            )
            .unwrap(),
        );
        let started = tokio::time::Instant::now();
        let err = faults.apply("Reserve").await.unwrap_err();
        assert_eq!(err.kind.grpc_code(), tonic::Code::DeadlineExceeded);
        assert!(started.elapsed() >= Duration::from_millis(5));
    }
}
