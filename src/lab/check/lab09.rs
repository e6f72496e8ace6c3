//! Lab 9, the compose demo (offline variant): the stack's gateway answers
//! at http://127.0.0.1:8080 (`--gateway`), the stack's collector (`--collector`, default
//! http://127.0.0.1:4318) holds traces of service `gateway`, and a report
//! under `reports/` of a `tracemesh run --gateway http://127.0.0.1:8080
//! --tempo http://127.0.0.1:4318 ...` passed.

use std::time::Duration;

use tracemesh_harness::sources::TraceQuery;

use super::reports::{self, Report};
use super::{Context, Requirement};

/// A read every gateway answers without side effects.
const PRODUCTS: &str = "/api/products";

/// A run against the stack: its load went to the stack's gateway and its
/// traces were read from a store, not from a mesh the run started itself.
fn against_the_stack(report: &Report, gateway: &str) -> bool {
    let config = &report.report.config;
    config.target.trim_end_matches('/') == gateway && config.trace_source != "embedded"
}

pub async fn check(cx: &Context<'_>) -> Vec<Requirement> {
    let m = cx.messages;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let gateway = client
        .get(format!("{}{PRODUCTS}", cx.gateway))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success());
    let reachable = cx.collector_answers().await;
    let gateway_traces = !cx
        .collector
        .traces(&[], TraceQuery::service("gateway").limit(1))
        .await
        .is_empty();
    let all = reports::read_all(&cx.dir);
    let runs: Vec<&Report> = all
        .iter()
        .filter(|r| against_the_stack(r, &cx.gateway))
        .collect();
    let passed = runs.iter().rev().find(|r| r.report.passed()).copied();
    vec![
        Requirement::new(
            gateway,
            m.f("lab9.gateway", &[("url", &cx.gateway)]),
            m.t("lab9.gateway.hint"),
        ),
        reachable,
        Requirement::new(gateway_traces, m.t("lab9.traces"), m.t("lab9.traces.hint")),
        Requirement::new(
            !runs.is_empty(),
            reports::naming(m, &cx.dir, m.t("lab9.run"), runs.last().copied()),
            m.t("lab9.run.hint"),
        ),
        Requirement::new(
            passed.is_some(),
            reports::naming(m, &cx.dir, m.t("lab9.passed"), passed),
            m.t("lab9.passed.hint"),
        ),
    ]
}
