//! A real Prometheus: its HTTP API as the checks read it, and a server this
//! process starts and stops, scraping the mesh.
//!
//! [`PrometheusApi`] reads the contract's families at one instant
//! (`/api/v1/query`) and the exemplars stored over a window
//! (`/api/v1/query_exemplars`), both turned into the same
//! [`Sample`]s an exposition gives, so one [`MetricsSnapshot`] serves both
//! sources. [`PrometheusServer::start`] runs the `prometheus` binary (Debian
//! ships 2.42) on a free loopback port with a generated scrape
//! configuration, one job per service, and `--enable-feature=exemplar-storage`
//! (without it Prometheus drops exemplars at scrape time).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::Value;
use tracemesh_runtime::contract::metric::{COUNTERS, HISTOGRAMS};

use super::openmetrics::{Exemplar, Sample};
use super::snapshot::MetricsSnapshot;
use crate::sources::SourceError;
use crate::sources::http::{client_with_timeout, endpoint, get, malformed, parse_json};

/// How often the started server scrapes: short, so the last scrape after a
/// run is at most this far behind.
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);

/// Prometheus' HTTP API.
#[derive(Debug, Clone)]
pub struct PrometheusApi {
    base_url: String,
    http: Client,
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
    /// before every target was scraped once: counts read after this time
    /// include everything the services had counted by then.
    pub async fn oldest_last_scrape(&self, jobs: usize) -> Result<Option<f64>, SourceError> {
        let samples = self.instant("timestamp(up == 1)").await?;
        if samples.len() < jobs {
            return Ok(None);
        }
        Ok(samples
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
            tokio::time::sleep(SCRAPE_INTERVAL / 4).await;
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

/// What the started Prometheus scrapes: one job per service.
#[derive(Debug, Clone)]
pub struct ScrapeTarget {
    /// The job name: the service's topology name.
    pub job: String,
    /// `host:port` of its metrics endpoint.
    pub address: String,
}

/// A Prometheus this process started; stopped on [`PrometheusServer::stop`]
/// or, failing that, killed when dropped.
pub struct PrometheusServer {
    child: tokio::process::Child,
    api: PrometheusApi,
    jobs: usize,
    _dir: tempfile::TempDir,
}

/// Why a Prometheus could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "cannot run {binary}: {error} (install Debian's `prometheus` package, or give its path)"
    )]
    Spawn {
        binary: String,
        error: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("prometheus did not become ready within {waited:?}; its log ({log}) ends: {tail}")]
    NotReady {
        waited: Duration,
        log: String,
        tail: String,
    },
}

impl PrometheusServer {
    /// Starts `binary` scraping `targets` every [`SCRAPE_INTERVAL`], with
    /// the admin `token` when the services need one, and waits until it is
    /// ready. Its data and log live in a temporary directory (the log's
    /// path is in any error).
    pub async fn start(
        binary: &Path,
        targets: &[ScrapeTarget],
        token: Option<&str>,
    ) -> Result<PrometheusServer, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("tracemesh-prometheus")
            .tempdir()?;
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, scrape_config(targets, token))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log_path = dir.path().join("prometheus.log");
        let log = std::fs::File::create(&log_path)?;
        let child = tokio::process::Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--enable-feature=exemplar-storage")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| StartError::Spawn {
                binary: binary.display().to_string(),
                error,
            })?;
        let server = PrometheusServer {
            child,
            api: PrometheusApi::new(format!("http://127.0.0.1:{port}")),
            jobs: targets.len(),
            _dir: dir,
        };
        let waited = Duration::from_secs(30);
        let started = Instant::now();
        let ready = endpoint(server.api.base_url(), "/-/ready").ok();
        while started.elapsed() < waited {
            if let Some(url) = &ready
                && let Ok(Some(_)) = get(&server.api.http, url).await
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: String = text.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        Err(StartError::NotReady {
            waited,
            log: log_path.display().to_string(),
            tail,
        })
    }

    pub fn api(&self) -> &PrometheusApi {
        &self.api
    }

    /// How many targets it scrapes.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// Stops it: SIGTERM by killing the child (Prometheus keeps nothing we
    /// need once the run has read it).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The `prometheus` binary on PATH, if there is one.
pub fn binary_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("prometheus"))
        .find(|candidate| candidate.is_file())
}

/// The scrape configuration: one job per target, OpenMetrics at
/// `/metrics`, the admin token as a bearer credential.
pub fn scrape_config(targets: &[ScrapeTarget], token: Option<&str>) -> String {
    let interval = format!("{}s", SCRAPE_INTERVAL.as_secs().max(1));
    let mut yaml = format!(
        "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\nscrape_configs:\n"
    );
    for target in targets {
        yaml.push_str(&format!(
            "  - job_name: {job}\n    metrics_path: {path}\n    static_configs:\n      - targets: [\"{address}\"]\n",
            job = target.job,
            path = tracemesh_runtime::admin::paths::METRICS,
            address = target.address,
        ));
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            yaml.push_str(&format!(
                "    authorization:\n      type: Bearer\n      credentials: {}\n",
                serde_json::to_string(token).unwrap_or_default()
            ));
        }
    }
    yaml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scrape_config_has_one_job_per_service_with_the_token() {
        let targets = [
            ScrapeTarget {
                job: "gateway".into(),
                address: "127.0.0.1:9001".into(),
            },
            ScrapeTarget {
                job: "order".into(),
                address: "127.0.0.1:9002".into(),
            },
        ];
        let yaml = scrape_config(&targets, Some("s3cr\"et"));
        let parsed: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        let jobs = parsed["scrape_configs"].as_sequence().unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[1]["static_configs"][0]["targets"][0], "127.0.0.1:9002");
        assert_eq!(jobs[0]["metrics_path"], "/metrics");
        assert_eq!(jobs[0]["authorization"]["credentials"], "s3cr\"et");
        assert!(
            scrape_config(&targets, None)
                .find("authorization")
                .is_none()
        );
    }

    #[test]
    fn the_selector_names_every_family() {
        let selector = families_selector();
        for family in HISTOGRAMS {
            assert!(selector.contains(&format!("{}_bucket", family.exposed)));
        }
        assert!(selector.contains("tracemesh_orders_placed_total"));
    }
}
