//! A real Prometheus, started from the `prometheus` binary (Debian ships
//! 2.42) beside a mesh: a generated scrape configuration, one job per
//! service, every [`SCRAPE_INTERVAL`], on a free loopback port, with
//! `--enable-feature=exemplar-storage` (without it Prometheus drops
//! exemplars at scrape time). `tracemesh up --prometheus start` and `run
//! --prometheus start` use it; the harness reads it through
//! [`PrometheusApi`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;
use tracemesh_harness::metrics::prometheus::PrometheusApi;

use crate::process::ask_for_sigterm_when_parent_dies;

/// How often it scrapes: short, so the last scrape after a run is at most
/// this far behind.
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);

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
        let mut command = Command::new(binary);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--enable-feature=exemplar-storage")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        // Like the services: gone with this process, even after a SIGKILL.
        ask_for_sigterm_when_parent_dies(&mut command);
        let child = command.spawn().map_err(|error| StartError::Spawn {
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
        while started.elapsed() < waited {
            if server.api.ready().await {
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
}
