//! A real Prometheus's HTTP API, as the checks read it (the mesh crate's
//! `prometheus` module starts one).
//!
//! [`PrometheusApi`] reads the contract's families at one instant
//! (`/api/v1/query`) and the exemplars stored over a window
//! (`/api/v1/query_exemplars`), both turned into the same
//! [`Sample`]s an exposition gives, so one [`MetricsSnapshot`] serves both
//! sources.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::Value;
use tracemesh_runtime::contract::metric::{COUNTERS, HISTOGRAMS};

use super::openmetrics::{Exemplar, Sample};
use super::snapshot::MetricsSnapshot;
use crate::sources::SourceError;
use crate::sources::http::{client_with_timeout, endpoint, get, malformed, parse_json};

/// How long to wait between two looks at the targets' last scrapes.
const SCRAPE_POLL: Duration = Duration::from_millis(250);

/// Prometheus' HTTP API.
#[derive(Debug, Clone)]
pub struct PrometheusApi {
    base_url: String,
    http: Client,
}

impl PrometheusApi {
    /// Whether it answers `/-/ready` with 2xx.
    pub async fn ready(&self) -> bool {
        match endpoint(&self.base_url, "/-/ready") {
            Ok(url) => matches!(get(&self.http, &url).await, Ok(Some(_))),
            Err(_) => false,
        }
    }
}

impl PrometheusApi {
    pub fn new(base_url: impl Into<String>) -> PrometheusApi {
        PrometheusApi {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            http: client_with_timeout(Duration::from_secs(10)),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every series of the contract's families, as of now.
    pub async fn snapshot(&self) -> Result<MetricsSnapshot, SourceError> {
        let mut snapshot = MetricsSnapshot::default();
        snapshot.add_samples(&self.instant(&families_selector()).await?);
        Ok(snapshot)
    }

    /// The exemplars stored for the contract's histograms between two unix
    /// times (seconds).
    pub async fn exemplars(&self, start: f64, end: f64) -> Result<Vec<Sample>, SourceError> {
        let names: Vec<String> = HISTOGRAMS
            .iter()
            .map(|f| format!("{}_bucket", f.exposed))
            .collect();
        let query = format!("{{__name__=~\"{}\"}}", names.join("|"));
        let url = self.url(
            "/api/v1/query_exemplars",
            &[
                ("query", query.as_str()),
                ("start", &start.to_string()),
                ("end", &end.to_string()),
            ],
        )?;
        let data = self.data(&url).await?;
        let mut samples = Vec::new();
        for series in data.as_array().into_iter().flatten() {
            let labels = string_map(&series["seriesLabels"]);
            let name = labels.get("__name__").cloned().unwrap_or_default();
            for exemplar in series["exemplars"].as_array().into_iter().flatten() {
                let value = number(&exemplar["value"])
                    .ok_or_else(|| malformed(&url, "an exemplar without a value"))?;
                samples.push(Sample {
                    name: name.clone(),
                    labels: labels.clone(),
                    // Not a count: the exemplar query gives none.
                    value: f64::NAN,
                    exemplar: Some(Exemplar {
                        labels: string_map(&exemplar["labels"]),
                        value,
                        timestamp: number(&exemplar["timestamp"]),
                    }),
                });
            }
        }
        Ok(samples)
    }

    /// The unix time of the oldest of the targets' last scrapes, `None`
    /// until `jobs` targets were each scraped successfully: counts read
    /// after this time include everything the services had counted by then.
    pub async fn oldest_last_scrape(&self, jobs: usize) -> Result<Option<f64>, SourceError> {
        let up = self.instant("up").await?;
        if up.iter().filter(|s| s.value == 1.0).count() < jobs || up.iter().any(|s| s.value != 1.0)
        {
            return Ok(None);
        }
        // `timestamp(up)`: each target's last scrape. (`timestamp(up == 1)`
        // would be the evaluation time: a comparison makes new samples.)
        let scraped = self.instant("timestamp(up)").await?;
        Ok(scraped
            .iter()
            .map(|s| s.value)
            .min_by(|a, b| a.total_cmp(b)))
    }

    /// Waits until every one of `jobs` targets was scraped after `unix`.
    pub async fn wait_scraped_after(
        &self,
        jobs: usize,
        unix: f64,
        deadline: Duration,
    ) -> Result<(), SourceError> {
        let started = Instant::now();
        loop {
            if let Some(oldest) = self.oldest_last_scrape(jobs).await?
                && oldest > unix
            {
                return Ok(());
            }
            if started.elapsed() > deadline {
                return Err(SourceError::Unreachable {
                    url: self.base_url.clone(),
                    reason: format!(
                        "not every one of the {jobs} targets was scraped within {deadline:?}"
                    ),
                });
            }
            tokio::time::sleep(SCRAPE_POLL).await;
        }
    }

    async fn instant(&self, query: &str) -> Result<Vec<Sample>, SourceError> {
        let url = self.url("/api/v1/query", &[("query", query)])?;
        let data = self.data(&url).await?;
        let mut samples = Vec::new();
        for item in data["result"].as_array().into_iter().flatten() {
            let labels = string_map(&item["metric"]);
            let value = number(&item["value"][1])
                .ok_or_else(|| malformed(&url, "a sample without a value"))?;
            samples.push(Sample {
                name: labels.get("__name__").cloned().unwrap_or_default(),
                labels,
                value,
                exemplar: None,
            });
        }
        Ok(samples)
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url, SourceError> {
        let mut url = endpoint(&self.base_url, path)?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    /// GETs an API URL and returns its `data`, or the API's own error.
    async fn data(&self, url: &reqwest::Url) -> Result<Value, SourceError> {
        let body = get(&self.http, url)
            .await?
            .ok_or_else(|| malformed(url, "404: is this a Prometheus?"))?;
        let json = parse_json(url, &body)?;
        if json["status"] != "success" {
            return Err(malformed(
                url,
                format!("{}: {}", json["errorType"], json["error"]),
            ));
        }
        Ok(json["data"].clone())
    }
}

/// A selector for every series of the contract's families.
fn families_selector() -> String {
    let mut names: Vec<String> = Vec::new();
    for family in HISTOGRAMS {
        for suffix in ["_bucket", "_count", "_sum"] {
            names.push(format!("{}{suffix}", family.exposed));
        }
    }
    for family in COUNTERS {
        names.push(format!("{}_total", family.exposed));
    }
    format!("{{__name__=~\"{}\"}}", names.join("|"))
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// Prometheus writes sample values as strings and times as numbers.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::String(s) => s.parse().ok(),
        other => other.as_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selector_names_every_family() {
        let selector = families_selector();
        for family in HISTOGRAMS {
            assert!(selector.contains(&format!("{}_bucket", family.exposed)));
        }
        assert!(selector.contains("tracemesh_orders_placed_total"));
    }
}
