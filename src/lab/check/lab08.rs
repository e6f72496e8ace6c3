//! Lab 8, metrics, exemplars and logs: `--trace ID` names a trace the
//! learner reached from an exemplar. It must be the `trace_id` of an
//! exemplar on some service's `/metrics` (read from the admin endpoints,
//! 9100-9104 by default, with the harness's OpenMetrics reader), be in the
//! collector, and have log lines there (`/api/logs/ID`).

use std::collections::BTreeSet;
use std::time::Duration;

use tracemesh_harness::metrics::openmetrics;
use tracemesh_harness::model::normalize_trace_id;
use tracemesh_mesh::AdminClient;
use tracemesh_runtime::contract::metric::EXEMPLAR_TRACE_ID;

use super::{Context, Requirement};

/// Every exemplar trace id on the admin endpoints that answered, and how
/// many answered.
async fn exemplar_trace_ids(cx: &Context<'_>) -> (BTreeSet<String>, usize) {
    let token = std::env::var("TRACEMESH_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let client = AdminClient::new(token, Duration::from_secs(5));
    let (mut ids, mut answered) = (BTreeSet::new(), 0);
    for endpoint in &cx.admin {
        let Ok(text) = client.metrics(endpoint).await else {
            continue;
        };
        answered += 1;
        for sample in openmetrics::parse(&text).unwrap_or_default() {
            if let Some(id) = sample
                .exemplar
                .as_ref()
                .and_then(|e| e.labels.get(EXEMPLAR_TRACE_ID))
                .and_then(|id| normalize_trace_id(id))
            {
                ids.insert(id);
            }
        }
    }
    (ids, answered)
}

pub async fn check(cx: &Context<'_>) -> Vec<Requirement> {
    let m = cx.messages;
    let reachable = cx.collector_answers().await;
    let Some(id) = cx.traces.first().and_then(|t| normalize_trace_id(t)) else {
        return vec![
            reachable,
            Requirement::new(false, m.t("lab8.given_not"), m.t("lab8.given.hint")),
        ];
    };
    let (exemplars, answered) = exemplar_trace_ids(cx).await;
    let ports = cx
        .admin
        .iter()
        .map(|e| e.base_url.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let in_collector = cx.collector.trace(&id).await.is_some();
    let logs = cx.collector.log_lines(&id).await.unwrap_or(0);
    vec![
        reachable,
        Requirement::new(
            answered > 0,
            m.f("lab8.admin", &[("urls", &ports)]),
            m.t("lab8.admin.hint"),
        ),
        Requirement::new(
            exemplars.contains(&id),
            m.f("lab8.exemplar", &[("id", &id)]),
            m.f(
                "lab8.exemplar.hint",
                &[("count", &exemplars.len().to_string())],
            ),
        ),
        Requirement::new(
            in_collector,
            m.f("lab8.trace", &[("id", &id)]),
            m.t("lab8.trace.hint"),
        ),
        Requirement::new(
            logs > 0,
            m.f("lab8.logs", &[("count", &logs.to_string())]),
            m.f("lab8.logs.hint", &[("id", &id)]),
        ),
    ]
}
