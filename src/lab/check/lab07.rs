//! Lab 7, load runs and reports: a run whose `junit.xml` a CI can read, a
//! run with goose options of the learner's own (`--users`, `--run-time`
//! other than the defaults), and a run with `--baseline` (its comparison
//! is in the report).

use super::reports::{self, Report};
use super::{Context, Requirement};

/// `tracemesh run`'s defaults: `--users` (when the scenario names none) and
/// `--run-time 20s`.
const DEFAULT_USERS: usize = 8;
const DEFAULT_RUN_TIME_SECS: f64 = 20.0;

fn custom_load(report: &Report) -> bool {
    let config = &report.report.config;
    config.users != DEFAULT_USERS || (config.run_time_secs - DEFAULT_RUN_TIME_SECS).abs() > 1e-9
}

pub fn check(cx: &Context<'_>) -> Vec<Requirement> {
    let m = cx.messages;
    let all = reports::read_all(&cx.dir);
    let junit = all.iter().rev().find(|r| r.has_junit());
    let custom = all.iter().rev().find(|r| custom_load(r));
    let compared = all.iter().rev().find(|r| r.report.baseline.is_some());
    vec![
        Requirement::new(
            junit.is_some(),
            reports::naming(m, &cx.dir, m.t("lab7.junit"), junit),
            m.t("lab7.junit.hint"),
        ),
        Requirement::new(
            custom.is_some(),
            reports::naming(m, &cx.dir, m.t("lab7.custom"), custom),
            m.t("lab7.custom.hint"),
        ),
        Requirement::new(
            compared.is_some(),
            reports::naming(m, &cx.dir, m.t("lab7.baseline"), compared),
            m.t("lab7.baseline.hint"),
        ),
    ]
}
