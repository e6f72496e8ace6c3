//! A real mesh for the integration tests: the five services as processes of
//! the `tracemesh` binary, started by the mesh library (as `up` starts
//! them), exporting to a collector running inside the test.

#![allow(dead_code)] // each test file uses a part of this module

pub mod lab;
pub mod load;
pub mod proxy;
pub mod yaml;

use std::time::Duration;

use tracemesh_harness::SpanRecord;
use tracemesh_harness::collector::{self, CollectorConfig, RunningCollector};
pub use tracemesh_mesh::Service;
use tracemesh_mesh::{AdminClient, Event, MeshOptions, Supervisor};

/// `tracemesh <args>` (this build's binary), with `env` added to its
/// environment; what it printed and how it exited.
pub async fn tracemesh(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tracemesh"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("tracemesh runs")
}

/// A command's stdout and stderr, as text.
pub fn output_text(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// An async lock: it is held across awaits (a tokio mutex does not poison,
/// so a failed test does not stop the next one).
static ONE_MESH_UNDER_LOAD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Held by a test that loads a mesh: the tests of one file then take turns,
/// so two loads on two cores do not measure each other.
pub async fn one_load_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_MESH_UNDER_LOAD.lock().await
}

/// A test card that the payment service accepts.
pub const GOOD_CARD: &str = "4242424242424242";
/// A test card that the payment service declines.
pub const DECLINED_CARD: &str = "4000000000000002";

/// How the services export to the test's collector.
#[derive(Debug, Clone, Copy)]
pub enum Export {
    /// OTLP/gRPC, as `up` and `run` wire them.
    Grpc,
    /// OTLP/HTTP with this `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`
    /// or `http/json`).
    Http(&'static str),
}

pub struct Mesh {
    pub gateway: String,
    pub collector: RunningCollector,
    pub data_dir: tempfile::TempDir,
    /// The five service processes (the mesh library, as `up` uses it).
    pub services: tracemesh_mesh::Mesh,
    /// Restarts a crashed service when a test waits for it.
    supervisor: Supervisor,
    admin: AdminClient,
    /// Where the services write their logs.
    log_dir: tempfile::TempDir,
}

impl Mesh {
    /// Starts a collector in this test and the five services exporting to it.
    pub async fn start() -> Mesh {
        Mesh::start_with(&[]).await
    }

    /// As [`Mesh::start`], with extra environment variables for every service.
    pub async fn start_with(env: &[(&str, &str)]) -> Mesh {
        Mesh::start_exporting(Export::Grpc, env).await
    }

    /// As [`Mesh::start_with`], the services exporting over `export`.
    pub async fn start_exporting(export: Export, env: &[(&str, &str)]) -> Mesh {
        let collector = collector::start(CollectorConfig::ephemeral())
            .await
            .expect("collector starts");
        let data_dir = tempfile::tempdir().unwrap();
        let log_dir = tempfile::tempdir().unwrap();
        let mut all_env = match export {
            // What `up` and `run` set.
            Export::Grpc => tracemesh_mesh::collector::telemetry_env(&collector),
            Export::Http(protocol) => vec![
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                    collector.http_endpoint(),
                ),
                (
                    "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
                    protocol.to_owned(),
                ),
            ],
        };
        all_env.extend(
            [
                // Export often, so the test waits less for spans.
                ("OTEL_BSP_SCHEDULE_DELAY", "100"),
                ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
                ("TRACEMESH_LOG_FORMAT", "json"),
                ("RUST_LOG", "info,tracemesh_runtime=debug"),
            ]
            .iter()
            .chain(env)
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let token = env
            .iter()
            .find(|(k, _)| *k == "TRACEMESH_ADMIN_TOKEN")
            .map(|(_, v)| v.to_string());
        let options = MeshOptions {
            program: Some(env!("CARGO_BIN_EXE_tracemesh").into()),
            env: all_env,
            ready_timeout: Duration::from_secs(60),
            log_file: Some(log_dir.path().join("services.log")),
            ..MeshOptions::new(data_dir.path())
        };
        let services = match tracemesh_mesh::Mesh::start(&options).await {
            Ok(services) => services,
            Err(e) => panic!(
                "the mesh did not start: {e}\nlogs:\n{}",
                std::fs::read_to_string(log_dir.path().join("services.log")).unwrap_or_default()
            ),
        };
        Mesh {
            gateway: services.gateway_url(),
            collector,
            data_dir,
            services,
            supervisor: Supervisor::new(true),
            admin: AdminClient::new(token, Duration::from_secs(15)),
            log_dir,
        }
    }

    /// Waits until the supervisor has restarted `service` after it exited
    /// (as `up --restart` does) and returns the new pid.
    pub async fn wait_for_restart(&mut self, service: Service) -> u32 {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            for event in self.supervisor.check(&mut self.services) {
                if let Event::Restarted { service: s, pid } = event
                    && s == service
                {
                    return pid;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{service} was not restarted within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The pid of `service`.
    pub fn pid(&self, service: Service) -> u32 {
        self.services.pid(service).expect("the service runs")
    }

    /// Replaces `service`'s faults through its admin endpoint.
    pub async fn set_faults(&self, service: Service, yaml: &str) {
        let endpoint = self.services.admin(service);
        if let Err(e) = self.admin.put_faults(&endpoint, yaml.to_owned()).await {
            panic!("{e}");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    /// Places an order; returns the response status, its JSON, and the trace
    /// id from the `traceresponse` header.
    pub async fn checkout(
        &self,
        client: &reqwest::Client,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value, String) {
        let response = client
            .post(self.url("/api/checkout"))
            .json(&body)
            .send()
            .await
            .expect("the gateway answers");
        let status = response.status().as_u16();
        let trace_id = trace_id_of(&response);
        let json = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, json, trace_id)
    }

    /// Waits until the trace has spans from each of `services`, then until
    /// no span has arrived for a quiet second; returns its spans.
    pub async fn wait_for_trace(&self, trace_id: &str, services: &[&str]) -> Vec<SpanRecord> {
        let store = self.collector.store();
        let complete = store
            .wait_until(
                |s| {
                    let spans = s.trace(trace_id).unwrap_or_default();
                    services
                        .iter()
                        .all(|svc| spans.iter().any(|sp| sp.service_name == *svc))
                },
                Duration::from_secs(20),
            )
            .await;
        store
            .wait_for_quiet(Duration::from_millis(600), Duration::from_secs(10))
            .await;
        let spans = store.trace(trace_id).unwrap_or_default();
        assert!(
            complete,
            "trace {trace_id} did not reach all of {services:?} within 20 s; it has {:#?}",
            spans
                .iter()
                .map(|s| (&s.service_name, &s.name))
                .collect::<Vec<_>>()
        );
        spans
    }

    /// Waits until the trace is ready (no new span for a quiet period) and
    /// returns its spans; no fixed sleep.
    pub async fn ready_trace(&self, trace_id: &str) -> Vec<SpanRecord> {
        let policy = tracemesh_harness::trace::ReadinessPolicy {
            expected_spans: None,
            quiet: Duration::from_millis(500),
            deadline: Duration::from_secs(20),
        };
        let store = self.collector.store();
        let readiness = tracemesh_harness::trace::wait_for_trace(store, trace_id, &policy).await;
        assert!(
            !matches!(
                readiness,
                tracemesh_harness::trace::Readiness::TimedOut { .. }
            ),
            "trace {trace_id} not ready: {readiness:?}"
        );
        store.trace(trace_id).unwrap_or_default()
    }

    /// Asks every service to flush its spans and adds up their export
    /// counters (`POST /admin/telemetry/flush`).
    pub async fn flushed_export_counts(&self) -> tracemesh_runtime::export_stats::ExportSnapshot {
        let mut total = tracemesh_runtime::export_stats::ExportSnapshot::default();
        for endpoint in self.services.admin_endpoints() {
            match self.admin.flush(&endpoint).await {
                Ok(counts) => total += counts,
                Err(e) => panic!("{e}"),
            }
        }
        total
    }

    /// Distinct spans in the collector's store (a retried export may
    /// deliver a span twice; it is one span).
    pub fn distinct_stored_spans(&self) -> u64 {
        let spans = self.collector.store().all_spans();
        spans
            .iter()
            .map(|s| (&s.trace_id, &s.span_id))
            .collect::<std::collections::HashSet<_>>()
            .len() as u64
    }

    /// Waits up to 20 s for `expected` distinct spans in the store (after a
    /// flush they may still be on the wire); returns how many there are.
    pub async fn wait_for_distinct_spans(&self, expected: u64) -> u64 {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.distinct_stored_spans() < expected && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.distinct_stored_spans()
    }

    /// Stops every service (SIGTERM, then SIGKILL after a grace period);
    /// true when each one drained and exited with status 0.
    pub async fn stop(&mut self) -> bool {
        let stopped = self.services.stop().await;
        for (service, how) in &stopped {
            println!("{service}: {how}");
        }
        stopped.iter().all(|(_, how)| how.is_clean())
    }

    /// Everything the services logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The file the services log to: the same `services.log` a `tracemesh
    /// run` writes into its report directory.
    pub fn log_path(&self) -> std::path::PathBuf {
        self.log_dir.path().join("services.log")
    }

    /// Asks every service to flush (spans and log records) without reading
    /// the counters.
    pub async fn flush(&self) {
        let _ = self.flushed_export_counts().await;
    }
}

/// The services' log lines a failing test prints (see `Drop for Mesh`).
const LOG_TAIL_LINES: usize = 80;

/// A test that fails with a mesh running prints the services' last log
/// lines: the log directory goes with the mesh, and a failure seen once in
/// CI must carry its own evidence (which downstream call failed, and why).
impl Drop for Mesh {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        eprintln!(
            "--- the services' last {} of {} log lines ---",
            tail.len(),
            lines.len()
        );
        for line in tail {
            eprintln!("{line}");
        }
    }
}

/// Waits until process `pid` is gone after a SIGKILL (dead, or a zombie
/// not yet reaped by `up`): the signal is delivered asynchronously.
pub fn wait_until_gone(pid: u32) {
    let stat = format!("/proc/{pid}/stat");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&stat).is_ok_and(|s| !s.contains(") Z ")) {
        assert!(
            std::time::Instant::now() < deadline,
            "pid {pid} survived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The trace id in a `traceresponse: 00-<trace>-<span>-<flags>` header.
pub fn trace_id_of(response: &reqwest::Response) -> String {
    let header = response
        .headers()
        .get("traceresponse")
        .expect("the gateway sends traceresponse")
        .to_str()
        .unwrap();
    match tracemesh_runtime::w3c::TraceParent::parse(header) {
        Ok(traceresponse) => traceresponse.trace_id,
        Err(e) => panic!("{e}"),
    }
}

pub fn checkout_body(user: &str, sku: &str, quantity: i64, card: &str) -> serde_json::Value {
    serde_json::json!({
        "user_id": user,
        "items": [{"sku": sku, "quantity": quantity}],
        "card": {"number": card, "exp_month": 12, "exp_year": 2031, "cvc": "123"}
    })
}
