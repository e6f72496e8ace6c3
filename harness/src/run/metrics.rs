//! A run's metrics: what they counted during the run, the `exemplars` and
//! `metrics_agree` verdicts over them, and the exemplar the report follows
//! from its slow bucket to its trace.
//!
//! The metrics are read twice, before the load and after the traces
//! settled, by whoever the run chose (the services' `/metrics`, or a
//! Prometheus scraping them): the checks compare the difference with the
//! load, so a mesh that served traffic before the run is judged on the run
//! alone.

use std::collections::BTreeMap;

use crate::SpanRecord;
use crate::checks::Verdict;
use crate::checks::exemplars::{ExemplarInput, check_exemplars};
use crate::checks::metrics_agree::check_metrics_agree;
use crate::load::SentRequest;
use crate::metrics::MetricsSnapshot;
use crate::report::model::ExemplarJump;
use crate::sources::TraceSource;

/// The metrics a run read, or why it could not.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    /// Where they were read: `the services' /metrics`, `prometheus at ..`.
    pub origin: String,
    /// Before the load and after it, or the error that stopped the reading.
    pub readings: Result<(MetricsSnapshot, MetricsSnapshot), String>,
}

/// The metric verdicts, and the exemplar to follow in the report.
pub struct MetricVerdicts {
    pub verdicts: Vec<Verdict>,
    pub jump: Option<ExemplarJump>,
}

/// Both metric checks over the run. `traces` are the sampled traces the
/// analysis fetched; `window` the run's unix seconds.
pub async fn check(
    metrics: &RunMetrics,
    requests: &[SentRequest],
    traces: &BTreeMap<String, Vec<SpanRecord>>,
    source: &dyn TraceSource,
    window: (f64, f64),
) -> MetricVerdicts {
    let (before, after) = match &metrics.readings {
        Ok(readings) => readings,
        Err(e) => {
            let verdicts = ["exemplars", "metrics_agree"]
                .into_iter()
                .map(|name| {
                    let mut v = Verdict::new(name);
                    v.fail(format!(
                        "the metrics could not be read from {}: {e}",
                        metrics.origin
                    ));
                    v.finish()
                })
                .collect();
            return MetricVerdicts {
                verdicts,
                jump: None,
            };
        }
    };
    let traffic = after.since(before);
    let mut exemplars = check_exemplars(
        &ExemplarInput {
            exemplars: &after.exemplars,
            traffic: &traffic,
            requests,
            traces,
            window,
        },
        source,
    )
    .await;
    exemplars
        .verdict
        .figure("read_from", metrics.origin.clone());
    let mut agree = check_metrics_agree(&traffic, requests);
    agree.figure("read_from", metrics.origin.clone());
    let jump = exemplars
        .resolved
        .iter()
        .max_by(|a, b| a.value.total_cmp(&b.value))
        .and_then(|e| {
            let span = traces
                .get(&e.trace_id)?
                .iter()
                .find(|s| s.span_id == e.span_id)?;
            Some(ExemplarJump {
                service: e.series.service().to_owned(),
                series: e.series.to_string(),
                bucket_s: e.bucket,
                value_ms: e.value * 1e3,
                trace_id: e.trace_id.clone(),
                span_id: e.span_id.clone(),
                span_name: span.name.clone(),
                origin: metrics.origin.clone(),
            })
        });
    MetricVerdicts {
        verdicts: vec![exemplars.verdict, agree],
        jump,
    }
}
