//! Lab 4, sampling: a run at `--sampler-ratio 0.25` whose sampling checks
//! all passed, and a run of `scenarios/broken/ignored-sampling.yaml` whose
//! `sampling.parent` check failed (inventory ignored its parent's flag).

use super::reports::{self, Report};
use super::{Context, Requirement};

const RATIO: f64 = 0.25;
const IGNORED_SAMPLING: &str = "ignored-sampling";
const PARENT_CHECK: &str = "sampling.parent";

fn sampling_passed(report: &Report) -> bool {
    let mut sampling = report
        .report
        .verdicts
        .iter()
        .filter(|v| v.check.starts_with("sampling"))
        .peekable();
    sampling.peek().is_some() && sampling.all(|v| v.passed)
}

pub fn check(cx: &Context<'_>) -> Vec<Requirement> {
    let m = cx.messages;
    let all = reports::read_all(&cx.dir);
    let at_ratio: Vec<&Report> = all
        .iter()
        .filter(|r| (r.report.config.sampler_ratio - RATIO).abs() < 1e-9)
        .collect();
    let passed = at_ratio.iter().rev().find(|r| sampling_passed(r));
    let ignored: Vec<&Report> = all
        .iter()
        .filter(|r| r.report.config.scenario == IGNORED_SAMPLING)
        .collect();
    let caught = ignored
        .iter()
        .rev()
        .find(|r| r.verdict(PARENT_CHECK).is_some_and(|v| !v.passed));
    let named = |text: String, report: Option<&Report>| reports::naming(m, &cx.dir, text, report);
    vec![
        Requirement::new(
            !at_ratio.is_empty(),
            named(m.t("lab4.ratio_run"), at_ratio.last().copied()),
            m.t("lab4.ratio_run.hint"),
        ),
        Requirement::new(
            passed.is_some(),
            named(m.t("lab4.ratio_passed"), passed.copied()),
            m.t("lab4.ratio_passed.hint"),
        ),
        Requirement::new(
            !ignored.is_empty(),
            named(m.t("lab4.ignored_run"), ignored.last().copied()),
            m.t("lab4.ignored_run.hint"),
        ),
        Requirement::new(
            caught.is_some(),
            named(m.t("lab4.parent_failed"), caught.copied()),
            m.t("lab4.parent_failed.hint"),
        ),
    ]
}
