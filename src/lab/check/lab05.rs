//! Lab 5, bottlenecks: a run with the three bottlenecks planted (no
//! `--fix-*`), and a run with all three fixed and `--baseline` pointing at
//! the planted run, whose comparison shows the checkout faster.
//!
//! Which fixes a run used is `config.fixes` in its verdict.json (e.g.
//! `["inventory-lock", "catalog-queries", "payment-pool"]`); a report
//! without the field used none.

use tracemesh_harness::report::model::ComparedMeasure;

use super::reports::{self, Report};
use super::{Context, Requirement};

pub const FIXES: [&str; 3] = ["inventory-lock", "catalog-queries", "payment-pool"];
const CHECKOUT: &str = "checkout";

fn all_fixed(report: &Report) -> bool {
    let fixes = report.config_list("fixes");
    FIXES.iter().all(|f| fixes.iter().any(|g| g == f))
}

/// The checkout's p50 latency, now below the baseline's.
fn checkout_faster(report: &Report) -> bool {
    report.report.baseline.as_ref().is_some_and(|b| {
        b.rows.iter().any(|row| {
            row.measure == ComparedMeasure::Endpoint
                && row.subject == CHECKOUT
                && row.delta_p50_ms().is_some_and(|d| d < 0.0)
        })
    })
}

pub fn check(cx: &Context<'_>) -> Vec<Requirement> {
    let m = cx.messages;
    let all = reports::read_all(&cx.dir);
    let planted: Vec<&Report> = all
        .iter()
        .filter(|r| r.config_list("fixes").is_empty())
        .collect();
    let fixed: Vec<&Report> = all.iter().filter(|r| all_fixed(r)).collect();
    // Compared with a planted run: its baseline started when one of them did.
    let compared: Vec<&&Report> = fixed
        .iter()
        .filter(|r| {
            r.report.baseline.as_ref().is_some_and(|b| {
                planted
                    .iter()
                    .any(|p| p.report.started_at == b.baseline_started_at)
            })
        })
        .collect();
    let faster = compared.iter().rev().find(|r| checkout_faster(r));
    let named = |text: String, report: Option<&Report>| reports::naming(m, &cx.dir, text, report);
    vec![
        Requirement::new(
            !planted.is_empty(),
            named(m.t("lab5.planted"), planted.last().copied()),
            m.t("lab5.planted.hint"),
        ),
        Requirement::new(
            !fixed.is_empty(),
            named(m.t("lab5.fixed"), fixed.last().copied()),
            m.t("lab5.fixed.hint"),
        ),
        Requirement::new(
            !compared.is_empty(),
            named(m.t("lab5.compared"), compared.last().map(|r| **r)),
            m.t("lab5.compared.hint"),
        ),
        Requirement::new(
            faster.is_some(),
            named(m.t("lab5.faster"), faster.map(|r| **r)),
            m.t("lab5.faster.hint"),
        ),
    ]
}
