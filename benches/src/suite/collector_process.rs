//! `tracemesh collector` as its own process on free ports, for the mesh
//! parts: its CPU time is then its own in `/proc`, apart from the bench
//! process's (the load generator's), and the services' exports cross a
//! real socket to another process, as in a deployment.
//!
//! The ingest part starts its collectors here too, pinned to a core with
//! `taskset` and with a store bound.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tracemesh_harness::collector::{ANNOUNCE_GRPC, ANNOUNCE_HTTP, TRACES_PATH};

use crate::suite::BenchError;
use crate::suite::announce;
use crate::suite::pinning::tracemesh_command;

/// The collector process; killed when dropped.
pub struct CollectorProcess {
    pub child: tokio::process::Child,
    pub pid: u32,
    /// `http://127.0.0.1:<port>` of OTLP/gRPC.
    pub grpc: String,
    /// `http://127.0.0.1:<port>` of OTLP/HTTP and the query API.
    pub http: String,
}

impl CollectorProcess {
    /// Starts this executable's `collector` subcommand on ports the kernel
    /// picks (read back from what it prints, `announce`), pinned to `core`
    /// (`taskset -c`) when given, with a store bound of `max_spans` when
    /// given, and waits until it answers `/ready`.
    pub async fn start(
        core: Option<&str>,
        max_spans: Option<usize>,
    ) -> Result<CollectorProcess, BenchError> {
        const WHAT: &str = "`tracemesh collector`";
        let mut command = tracemesh_command(core)?;
        command
            .args(["collector", "--grpc-port", "0", "--http-port", "0"])
            .args(max_spans.map(|n| format!("--max-spans={n}")))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| BenchError::Runtime(format!("cannot start {WHAT}: {e}")))?;
        let endpoints =
            announce::announced(&mut child, WHAT, &[ANNOUNCE_GRPC, ANNOUNCE_HTTP]).await?;
        let [grpc, http_traces] = &endpoints[..] else {
            unreachable!("one endpoint per prefix");
        };
        let http = http_traces.strip_suffix(TRACES_PATH).ok_or_else(|| {
            BenchError::Runtime(format!(
                "{WHAT} printed an OTLP/HTTP endpoint without {TRACES_PATH}: {http_traces}"
            ))
        })?;
        // taskset execs the collector, so the pid is the collector's.
        let process = CollectorProcess {
            pid: child.id().unwrap_or_default(),
            child,
            grpc: grpc.clone(),
            http: http.to_owned(),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if client
                .get(format!("{}/ready", process.http))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(process);
            }
            if Instant::now() > deadline {
                return Err(BenchError::Runtime(format!(
                    "{WHAT} listens on {} but did not answer /ready within 20 s",
                    process.http
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The environment that makes a service export to this collector over
    /// OTLP/gRPC (traces and logs, as `tracemesh_mesh::collector::telemetry_env`).
    pub fn telemetry_env(&self) -> Vec<(String, String)> {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), self.grpc.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(), "grpc".to_owned()),
        ]
    }

    /// The store's and receivers' counters (`/api/stats`).
    pub async fn stats(&self) -> Result<serde_json::Value, BenchError> {
        reqwest::get(format!("{}/api/stats", self.http))
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| BenchError::Runtime(format!("cannot read the collector's stats: {e}")))?
            .json()
            .await
            .map_err(|e| BenchError::Runtime(format!("the collector's stats are not JSON: {e}")))
    }

    /// Spans the store has received so far.
    pub async fn spans_received(&self) -> Result<u64, BenchError> {
        Ok(self.stats().await?["spans_received"]
            .as_u64()
            .unwrap_or_default())
    }

    /// Waits until `spans_received` has not moved for `quiet` (the services'
    /// exporters have sent what they held), or `limit` passes.
    pub async fn wait_for_quiet(&self, quiet: Duration, limit: Duration) -> u64 {
        let deadline = Instant::now() + limit;
        let mut last = self.spans_received().await.unwrap_or_default();
        let mut since = Instant::now();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.spans_received().await.unwrap_or(last);
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() >= quiet {
                break;
            }
        }
        last
    }
}
