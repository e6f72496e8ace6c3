//! Fault scenarios: what to inject into which service during a run, and
//! what the harness must then report.
//!
//! A scenario is a YAML file (see `scenarios/` at the repository root):
//!
//! ```yaml
//! name: slow-inventory
//! description: Inventory's Reserve takes 40 ms longer, every other 4 seconds.
//! seed: 7
//! faults:                      # per service: its fault configuration
//!   inventory:
//!     operations:
//!       Reserve:
//!         latency: {distribution: fixed, ms: 40}
//!         schedule: {on_secs: 4, off_secs: 4}
//! expect:                      # the outcome the harness should report
//!   latency: {service: inventory, ms: 40, tolerance: 0.10}
//!   unexpected_statuses: none  # or explained_by_faults
//!   budgets:                   # latency limits, see checks::budget
//!     - {endpoint: POST /api/checkout, p90_ms: 250}
//!     - {service: inventory, operation: warehouse.check, p50_ms: 40}
//! ```
//!
//! The faults are applied through each service's admin endpoint when the
//! run starts; the `expect` section becomes checks of the run.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tracemesh_runtime::fault::FaultConfig;
use tracemesh_runtime::topology::Service;

use crate::checks::budget::Budget;
use crate::checks::traceql::{Outcome, TraceqlAssertion};

/// The services a scenario may name.
pub const SERVICES: [&str; 5] = ["gateway", "user", "order", "inventory", "payment"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Seeds every service's fault decisions (overrides their own seeds).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Service name to its faults.
    #[serde(default)]
    pub faults: BTreeMap<String, FaultConfig>,
    #[serde(default)]
    pub expect: Expectations,
    /// The load this scenario needs, unless the command line says otherwise.
    #[serde(default)]
    pub load: LoadShape,
}

/// Load settings a scenario may need (the planted bottleneck needs many
/// users with little think time to build a queue).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadShape {
    #[serde(default)]
    pub users: Option<usize>,
    #[serde(default)]
    pub think_time_ms: Option<[u64; 2]>,
}

/// What the harness must report for the scenario.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Latency injected into one service must be attributed to it.
    #[serde(default)]
    pub latency: Option<ExpectedLatency>,
    /// May requests answer other than the mesh does without faults?
    #[serde(default)]
    pub unexpected_statuses: UnexpectedStatuses,
    /// The operation with the most critical-path time over the run.
    #[serde(default)]
    pub dominant_operation: Option<Operation>,
    /// Spans that may arrive outside the run's traces (the orphans check
    /// fails on any other).
    #[serde(default)]
    pub background: Vec<crate::checks::orphans::Background>,
    /// Latency limits, each its own check (see [`crate::checks::budget`]).
    #[serde(default)]
    pub budgets: Vec<Budget>,
    /// TraceQL assertions, each with `in:` naming whose traces (see
    /// [`crate::checks::traceql`]).
    #[serde(default)]
    pub traceql: Vec<TraceqlAssertion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedLatency {
    pub service: String,
    /// Check the span of this name too (e.g. the gRPC method's span).
    #[serde(default)]
    pub operation: Option<String>,
    pub ms: f64,
    /// Allowed error, as a fraction of `ms`.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
}

fn default_tolerance() -> f64 {
    0.10
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnexpectedStatuses {
    /// Every request answers as the mesh does without faults.
    #[default]
    None,
    /// Requests may fail, but each failure's trace must hold the injected
    /// error that caused it.
    ExplainedByFaults,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub service: String,
    /// The span name.
    pub name: String,
}

/// A scenario file that cannot be used; says which file and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ScenarioError {
    pub file: String,
    pub problem: String,
}

impl Scenario {
    /// The scenario of a run without faults.
    pub fn baseline() -> Scenario {
        Scenario::parse(BASELINE, "baseline (built in)").expect("the built-in baseline parses")
    }

    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: origin.clone(),
            problem: format!("cannot read: {e}"),
        })?;
        Scenario::parse(&text, &origin)
    }

    /// Parses and validates: unknown services, bad faults and bad
    /// expectations are errors naming the file.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let error = |problem: String| ScenarioError {
            file: origin.to_owned(),
            problem,
        };
        let scenario: Scenario = serde_yaml::from_str(text).map_err(|e| error(e.to_string()))?;
        if scenario.name.trim().is_empty() {
            return Err(error("name must not be empty".into()));
        }
        for (service, faults) in &scenario.faults {
            if !SERVICES.contains(&service.as_str()) {
                return Err(error(format!(
                    "faults: unknown service {service:?}; expected one of {}",
                    SERVICES.join(", ")
                )));
            }
            faults
                .validate()
                .and_then(|()| match service.parse::<Service>() {
                    Ok(caller) => faults.check_hops(caller),
                    Err(_) => Ok(()),
                })
                .map_err(|e| error(format!("faults.{service}: {e}")))?;
        }
        if scenario.load.users == Some(0) {
            return Err(error("load.users must be at least 1".into()));
        }
        if let Some([min, max]) = scenario.load.think_time_ms
            && min > max
        {
            return Err(error(format!("load.think_time_ms: {min} is above {max}")));
        }
        if let Some(latency) = &scenario.expect.latency {
            if !SERVICES.contains(&latency.service.as_str()) {
                return Err(error(format!(
                    "expect.latency: unknown service {:?}",
                    latency.service
                )));
            }
            if !(latency.ms.is_finite() && latency.ms > 0.0) {
                return Err(error(format!(
                    "expect.latency.ms: {} is not a positive latency",
                    latency.ms
                )));
            }
            if !(latency.tolerance.is_finite()
                && latency.tolerance > 0.0
                && latency.tolerance < 1.0)
            {
                return Err(error(format!(
                    "expect.latency.tolerance: {} is not a fraction between 0 and 1",
                    latency.tolerance
                )));
            }
        }
        for (i, assertion) in scenario.expect.traceql.iter().enumerate() {
            let place = format!("expect.traceql[{i}]");
            let outcome = assertion.outcome.as_deref().ok_or_else(|| {
                error(format!(
                    "{place}: say whose traces with `in:` (`POST /api/checkout 201`, or `all`)"
                ))
            })?;
            Outcome::parse(outcome).map_err(|e| error(format!("{place}: {e}")))?;
            assertion
                .validate()
                .map_err(|e| error(format!("{place}: {e}")))?;
        }
        for (i, budget) in scenario.expect.budgets.iter().enumerate() {
            budget
                .validate(&SERVICES)
                .map_err(|e| error(format!("expect.budgets[{i}]: {e}")))?;
        }
        Ok(scenario)
    }

    /// The faults of `service` with the scenario's seed applied.
    pub fn faults_for(&self, service: &str) -> Option<FaultConfig> {
        self.faults.get(service).map(|config| {
            let mut config = config.clone();
            if let Some(seed) = self.seed {
                config.seed = Some(seed);
            }
            config
        })
    }
}

const BASELINE: &str =
    "name: baseline\ndescription: No faults, every request answers as designed.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_in_the_module_documentation_parses() {
        let s = Scenario::parse(
            "name: slow-inventory\nseed: 7\nfaults:\n  inventory:\n    operations:\n      Reserve:\n        \
             latency: {distribution: fixed, ms: 40}\n        schedule: {on_secs: 4, off_secs: 4}\n\
             expect:\n  latency: {service: inventory, ms: 40, tolerance: 0.10}\n  unexpected_statuses: none\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(s.expect.latency.as_ref().unwrap().service, "inventory");
        assert_eq!(s.faults_for("inventory").unwrap().seed, Some(7));
        assert!(s.faults_for("user").is_none());
    }

    #[test]
    fn mistakes_name_the_file_and_the_problem() {
        let err = Scenario::parse("name: x\nfaults: {warehouse: {}}\n", "bad.yaml").unwrap_err();
        assert_eq!(err.file, "bad.yaml");
        assert!(
            err.problem.contains("unknown service \"warehouse\""),
            "{err}"
        );
        let err = Scenario::parse(
            "name: x\nfaults: {payment: {operations: {'POST /v1/charges': {error_rate: 2}}}}\n",
            "bad.yaml",
        )
        .unwrap_err();
        assert!(err.problem.contains("faults.payment"), "{err}");
        let err = Scenario::parse("name: x\nexpekt: {}\n", "bad.yaml").unwrap_err();
        assert!(err.problem.contains("expekt"), "{err}");
        assert!(
            Scenario::parse(
                "name: x\nexpect: {latency: {service: user, ms: 5, tolerance: 3}}\n",
                "b"
            )
            .is_err()
        );
        assert!(Scenario::parse(": : :", "b").is_err());
        let err = Scenario::parse(
            "name: x\nexpect:\n  budgets:\n    - {endpoint: checkout, p90_ms: 250}\n    - {service: inventory, p95_ms: 3}\n",
            "budgets.yaml",
        )
        .unwrap_err();
        assert_eq!(err.file, "budgets.yaml");
        assert!(err.problem.contains("p95_ms"), "{err}");
        let err = Scenario::parse(
            "name: x\nexpect:\n  budgets:\n    - {endpoint: checkout, p90_ms: 250}\n    - {service: inventory}\n",
            "budgets.yaml",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("budgets.yaml: expect.budgets[1]: give a limit"),
            "{err}"
        );
    }

    #[test]
    fn budgets_parse() {
        let s = Scenario::parse(
            "name: x\nexpect:\n  budgets:\n    - {endpoint: POST /api/checkout, p90_ms: 250}\n    \
             - {service: inventory, operation: warehouse.check, p50_ms: 40}\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(s.expect.budgets.len(), 2);
        assert_eq!(s.expect.budgets[1].subject(), "inventory warehouse.check");
    }

    #[test]
    fn the_built_in_baseline_expects_no_unexpected_status() {
        let s = Scenario::baseline();
        assert_eq!(s.name, "baseline");
        assert_eq!(s.expect.unexpected_statuses, UnexpectedStatuses::None);
        assert!(s.faults.is_empty());
    }

    #[test]
    fn a_telemetry_fault_on_a_hop_the_service_never_calls_is_refused() {
        let text =
            "name: x\nfaults:\n  order:\n    telemetry:\n      - {kind: drop_context, hop: user}\n";
        let err = Scenario::parse(text, "x.yaml").unwrap_err();
        assert!(
            err.problem.contains(
                "faults.order: invalid fault configuration: telemetry[0] (drop_context): \
                           order never calls user; its hops are inventory, payment"
            ),
            "{err}"
        );
        let ok = "name: x\nfaults:\n  order:\n    telemetry:\n      - {kind: drop_context, hop: payment}\n";
        assert!(Scenario::parse(ok, "x.yaml").is_ok());
    }

    #[test]
    fn every_shipped_scenario_parses() {
        // scenarios/ and scenarios/broken/ (the telemetry faults).
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut count = 0;
        for dir in [dir.clone(), dir.join("broken")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                    count += 1;
                }
            }
        }
        assert!(count >= 12, "found {count} scenarios in {}", dir.display());
    }
}
