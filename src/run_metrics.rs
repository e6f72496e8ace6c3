//! Where `tracemesh run` reads the mesh's metrics: each service's own
//! `/metrics` (the default: no Prometheus needed), a Prometheus it starts
//! from the `prometheus` binary on PATH (`--prometheus start`), or one
//! already scraping the target (`--prometheus URL`).
//!
//! Whichever it is, the run reads a snapshot before the load and one after
//! the traces settled; a Prometheus is first waited for until it has
//! scraped every target after the load ended, so its counts are as exact
//! as the services' own.

use std::time::{Duration, SystemTime};

use tracemesh_harness::metrics::MetricsSnapshot;
use tracemesh_harness::metrics::openmetrics;
use tracemesh_harness::metrics::prometheus::PrometheusApi;
use tracemesh_harness::run::metrics::RunMetrics;
use tracemesh_mesh::prometheus::{self, PrometheusServer, SCRAPE_INTERVAL, ScrapeTarget};
use tracemesh_mesh::{AdminClient, AdminEndpoint};

use crate::Failure;

/// `--prometheus`: start one, or use the one at a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrometheusChoice {
    Start,
    Url(String),
}

/// How long to wait for a Prometheus to scrape every target once more.
const SCRAPE_DEADLINE: Duration = Duration::from_secs(30);

pub enum MetricsReader {
    /// GET each service's `/metrics` through its admin endpoint.
    Services {
        client: AdminClient,
        endpoints: Vec<AdminEndpoint>,
    },
    /// Query a Prometheus; `server` when this run started it.
    Prometheus {
        api: PrometheusApi,
        jobs: usize,
        server: Option<Box<PrometheusServer>>,
    },
}

impl MetricsReader {
    /// The reader `choice` asks for; `None` when there is nothing to read
    /// (a remote mesh given neither admin endpoints nor a Prometheus).
    pub async fn choose(
        choice: Option<&PrometheusChoice>,
        client: &AdminClient,
        endpoints: &[AdminEndpoint],
        token: Option<&str>,
    ) -> Result<Option<MetricsReader>, Failure> {
        match choice {
            None if endpoints.is_empty() => Ok(None),
            None => Ok(Some(MetricsReader::Services {
                client: client.clone(),
                endpoints: endpoints.to_vec(),
            })),
            Some(PrometheusChoice::Url(url)) => Ok(Some(MetricsReader::Prometheus {
                api: PrometheusApi::new(url.clone()),
                jobs: endpoints.len().max(1),
                server: None,
            })),
            Some(PrometheusChoice::Start) => {
                let binary = prometheus::binary_on_path().ok_or_else(|| {
                    Failure::Usage(
                        "--prometheus start: no `prometheus` binary on PATH \
                         (install Debian's `prometheus` package, or give --prometheus URL)"
                            .into(),
                    )
                })?;
                let targets: Vec<ScrapeTarget> = endpoints
                    .iter()
                    .map(|e| ScrapeTarget {
                        job: e.service.name().to_owned(),
                        address: e
                            .base_url
                            .trim_start_matches("http://")
                            .trim_start_matches("https://")
                            .to_owned(),
                    })
                    .collect();
                let server = PrometheusServer::start(&binary, &targets, token)
                    .await
                    .map_err(|e| Failure::Runtime(format!("--prometheus start: {e}")))?;
                eprintln!(
                    "prometheus: {} (started, scraping {} services every {:?})",
                    server.api().base_url(),
                    targets.len(),
                    SCRAPE_INTERVAL
                );
                Ok(Some(MetricsReader::Prometheus {
                    api: server.api().clone(),
                    jobs: targets.len(),
                    server: Some(Box::new(server)),
                }))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            MetricsReader::Services { .. } => "the services' /metrics".to_owned(),
            MetricsReader::Prometheus { api, .. } => format!("prometheus at {}", api.base_url()),
        }
    }

    /// The metrics now, with their exemplars. With a Prometheus, once every
    /// target was scraped after this call began.
    pub async fn snapshot(&self, exemplars_since: f64) -> Result<MetricsSnapshot, String> {
        match self {
            MetricsReader::Services { client, endpoints } => {
                let mut snapshot = MetricsSnapshot::default();
                for endpoint in endpoints {
                    let text = client.metrics(endpoint).await.map_err(|e| e.to_string())?;
                    let samples = openmetrics::parse(&text)
                        .map_err(|e| format!("{} /metrics: {e}", endpoint.service))?;
                    snapshot.add_samples(&samples);
                }
                Ok(snapshot)
            }
            MetricsReader::Prometheus { api, jobs, .. } => {
                let now = unix_now();
                api.wait_scraped_after(*jobs, now, SCRAPE_DEADLINE)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut snapshot = api.snapshot().await.map_err(|e| e.to_string())?;
                let exemplars = api
                    .exemplars(exemplars_since, unix_now())
                    .await
                    .map_err(|e| e.to_string())?;
                snapshot.add_samples(&exemplars);
                Ok(snapshot)
            }
        }
    }

    /// The readings for the analysis.
    pub fn readings(
        &self,
        before: Result<MetricsSnapshot, String>,
        after: Result<MetricsSnapshot, String>,
    ) -> RunMetrics {
        RunMetrics {
            origin: self.describe(),
            readings: before.and_then(|b| after.map(|a| (b, a))),
        }
    }

    pub async fn stop(self) {
        if let MetricsReader::Prometheus {
            server: Some(server),
            ..
        } = self
        {
            server.stop().await;
        }
    }
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
