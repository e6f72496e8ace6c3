//! Latency budgets a scenario states (`expect.budgets`), each its own
//! verdict:
//!
//! ```yaml
//! expect:
//!   budgets:
//!     - {endpoint: POST /api/checkout, p90_ms: 250}          # every kind on the route
//!     - {endpoint: browse_products, p50_ms: 20}              # one request kind
//!     - {service: inventory, operation: warehouse.check, p50_ms: 40}
//!     - {service: payment, p90_ms: 30}                       # the whole service
//! ```
//!
//! An endpoint budget judges the latency the load generator measured; a
//! service or operation budget its critical-path self time (how long it
//! held the request up). Like `--baseline`, budgets judge only requests and
//! traces free of injected faults: a budget is about the code's own
//! latency, not the latency a scenario adds on purpose. Fewer than
//! [`super::baseline::MIN_SAMPLES`] samples judge nothing, which fails.

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::load::RequestKind;

/// One budget: an endpoint, or a service (optionally one operation of
/// it), and at least one percentile limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// A request kind (`checkout`, as in the load table) or a gateway
    /// route (`POST /api/checkout`: every kind on it).
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    /// A span name of `service`.
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub p50_ms: Option<f64>,
    #[serde(default)]
    pub p90_ms: Option<f64>,
}

/// What a budget is judged against: samples and percentiles, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    pub samples: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
}

impl Budget {
    /// Checks the shape: exactly one of `endpoint` and `service`, a known
    /// endpoint or service, `operation` only with `service`, and at least
    /// one positive limit. `services` are the names a scenario may use.
    pub fn validate(&self, services: &[&str]) -> Result<(), String> {
        match (&self.endpoint, &self.service) {
            (Some(_), Some(_)) => {
                return Err("give either endpoint or service, not both".into());
            }
            (None, None) => {
                return Err("give an endpoint, or a service (and optionally an operation)".into());
            }
            (Some(endpoint), None) => {
                if self.operation.is_some() {
                    return Err("operation goes with service, not with endpoint".into());
                }
                if !is_endpoint(endpoint) {
                    let kinds: Vec<&str> = RequestKind::ALL.iter().map(|k| k.name()).collect();
                    let mut routes: Vec<&str> =
                        RequestKind::ALL.iter().map(|k| k.endpoint()).collect();
                    routes.dedup();
                    return Err(format!(
                        "unknown endpoint {endpoint:?}; expected a request kind ({}) or a route ({})",
                        kinds.join(", "),
                        routes.join(", ")
                    ));
                }
            }
            (None, Some(service)) => {
                if !services.contains(&service.as_str()) {
                    return Err(format!(
                        "unknown service {service:?}; expected one of {}",
                        services.join(", ")
                    ));
                }
                if self
                    .operation
                    .as_deref()
                    .is_some_and(|o| o.trim().is_empty())
                {
                    return Err("operation must not be empty".into());
                }
            }
        }
        if self.p50_ms.is_none() && self.p90_ms.is_none() {
            return Err("give a limit: p50_ms, p90_ms or both".into());
        }
        for (key, limit) in [("p50_ms", self.p50_ms), ("p90_ms", self.p90_ms)] {
            if let Some(ms) = limit
                && !(ms.is_finite() && ms > 0.0)
            {
                return Err(format!(
                    "{key}: {ms} is not a positive number of milliseconds"
                ));
            }
        }
        Ok(())
    }

    /// `endpoint POST /api/checkout`, `inventory warehouse.check`, `payment`.
    pub fn subject(&self) -> String {
        match (&self.endpoint, &self.service, &self.operation) {
            (Some(endpoint), _, _) => format!("endpoint {endpoint}"),
            (None, Some(service), Some(operation)) => format!("{service} {operation}"),
            (None, Some(service), None) => service.clone(),
            (None, None, _) => "(nothing)".into(),
        }
    }

    fn measure(&self) -> &'static str {
        if self.endpoint.is_some() {
            "latency"
        } else {
            "critical-path self time"
        }
    }
}

/// A request kind's name or a gateway route.
pub fn is_endpoint(endpoint: &str) -> bool {
    RequestKind::ALL
        .iter()
        .any(|k| k.name() == endpoint || k.endpoint() == endpoint)
}

/// The request kinds a budget's endpoint covers.
pub fn kinds_of(endpoint: &str) -> Vec<RequestKind> {
    RequestKind::ALL
        .into_iter()
        .filter(|k| k.name() == endpoint || k.endpoint() == endpoint)
        .collect()
}

/// Judges one budget. `observed` is `None` when nothing fault-free went
/// through it; `seen` then lists what did (for a misspelt span name).
pub fn check_budget(
    budget: &Budget,
    observed: Option<Observed>,
    seen: &[String],
    min_samples: u64,
) -> Verdict {
    let subject = budget.subject();
    let mut v = Verdict::new(format!("budget {subject}"));
    if let Some(limit) = budget.p50_ms {
        v.figure("budget_p50_ms", limit);
    }
    if let Some(limit) = budget.p90_ms {
        v.figure("budget_p90_ms", limit);
    }
    let Some(observed) = observed else {
        let hint = if seen.is_empty() {
            String::new()
        } else {
            format!(" (seen: {})", seen.join(", "))
        };
        v.fail(format!(
            "{subject}: no request or trace free of injected faults went through it{hint}"
        ));
        return v.finish();
    };
    v.figure("samples", observed.samples);
    v.figure("p50_ms", observed.p50_ms);
    v.figure("p90_ms", observed.p90_ms);
    if observed.samples < min_samples {
        v.fail(format!(
            "{subject}: only {} samples free of injected faults, {min_samples} needed to judge \
             a budget (run longer)",
            observed.samples
        ));
        return v.finish();
    }
    v.examined = observed.samples as usize;
    for (label, limit, value) in [
        ("p50", budget.p50_ms, observed.p50_ms),
        ("p90", budget.p90_ms, observed.p90_ms),
    ] {
        let Some(limit) = limit else { continue };
        if value > limit {
            v.fail(format!(
                "{subject}: {} {label} {value:.1} ms is over its budget of {limit} ms by {:.1} ms ({:.0}%)",
                budget.measure(),
                value - limit,
                (value - limit) / limit * 100.0
            ));
        }
    }
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SERVICES;

    fn budget(yaml: &str) -> Budget {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn shapes_are_validated_with_what_to_write_instead() {
        let ok = [
            "{endpoint: POST /api/checkout, p90_ms: 250}",
            "{endpoint: checkout, p50_ms: 40, p90_ms: 80}",
            "{service: inventory, operation: warehouse.check, p50_ms: 40}",
            "{service: payment, p90_ms: 30}",
        ];
        for yaml in ok {
            budget(yaml).validate(&SERVICES).unwrap();
        }
        let bad = [
            (
                "{endpoint: checkout, service: order, p50_ms: 1}",
                "not both",
            ),
            ("{p50_ms: 1}", "give an endpoint"),
            (
                "{endpoint: POST /api/chekout, p50_ms: 1}",
                "unknown endpoint",
            ),
            (
                "{endpoint: checkout, operation: x, p50_ms: 1}",
                "operation goes with service",
            ),
            ("{service: warehouse, p50_ms: 1}", "unknown service"),
            ("{service: order}", "give a limit"),
            ("{service: order, p90_ms: -3}", "p90_ms: -3"),
        ];
        for (yaml, problem) in bad {
            let err = budget(yaml).validate(&SERVICES).unwrap_err();
            assert!(err.contains(problem), "{yaml}: {err}");
        }
        assert!(serde_yaml::from_str::<Budget>("{service: order, p99_ms: 3}").is_err());
        assert_eq!(kinds_of("POST /api/checkout").len(), 3);
        assert_eq!(kinds_of("checkout"), vec![RequestKind::Checkout]);
    }

    #[test]
    fn an_exceeded_budget_fails_naming_what_and_by_how_much() {
        let b = budget("{service: inventory, operation: warehouse.check, p50_ms: 40}");
        let observed = Observed {
            samples: 60,
            p50_ms: 52.3,
            p90_ms: 70.0,
        };
        let v = check_budget(&b, Some(observed), &[], 20);
        assert!(!v.passed);
        assert_eq!(v.check, "budget inventory warehouse.check");
        assert_eq!(
            v.reasons,
            vec![
                "inventory warehouse.check: critical-path self time p50 52.3 ms is over its \
                 budget of 40 ms by 12.3 ms (31%)"
            ]
        );
        let within = Observed {
            p50_ms: 39.0,
            ..observed
        };
        assert!(check_budget(&b, Some(within), &[], 20).passed);
    }

    #[test]
    fn too_few_samples_or_none_judge_nothing() {
        let b = budget("{endpoint: checkout, p90_ms: 250}");
        let few = Observed {
            samples: 5,
            p50_ms: 1.0,
            p90_ms: 1.0,
        };
        let v = check_budget(&b, Some(few), &[], 20);
        assert!(!v.passed);
        assert!(v.reasons[0].contains("only 5 samples"), "{:?}", v.reasons);
        let v = check_budget(
            &budget("{service: inventory, operation: warehouse.chek, p50_ms: 1}"),
            None,
            &["warehouse.check".into()],
            20,
        );
        assert!(
            v.reasons[0].contains("(seen: warehouse.check)"),
            "{:?}",
            v.reasons
        );
    }
}
