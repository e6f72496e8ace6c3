//! A real mesh for the integration tests: the `tracemesh up` binary as a
//! child process, exporting to a collector running inside the test.

#![allow(dead_code)] // each test file uses a part of this module

pub mod load;
pub mod proxy;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracemesh_harness::SpanRecord;
use tracemesh_harness::collector::{self, CollectorConfig, RunningCollector};

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

pub struct Mesh {
    pub gateway: String,
    pub collector: RunningCollector,
    pub data_dir: tempfile::TempDir,
    /// pid of each service, from `up`'s banner.
    pub pids: Vec<(String, u32)>,
    /// Admin URL of each service (`http://host:port/admin/faults`).
    pub admin: Vec<(String, String)>,
    /// Everything `up` and the services wrote to stderr (their logs).
    pub logs: Arc<Mutex<Vec<String>>>,
    /// Everything `up` wrote to stdout: the banner, then restart lines.
    pub stdout: Arc<Mutex<Vec<String>>>,
    up: Child,
}

impl Mesh {
    /// Starts a collector in this test and `tracemesh up` exporting to it.
    pub async fn start(extra_args: &[&str]) -> Mesh {
        Mesh::start_with(extra_args, &[]).await
    }

    /// As [`Mesh::start`], with extra environment variables for every service.
    pub async fn start_with(extra_args: &[&str], env: &[(&str, &str)]) -> Mesh {
        let collector = collector::start(CollectorConfig {
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            ..CollectorConfig::default()
        })
        .await
        .expect("collector starts");
        let data_dir = tempfile::tempdir().unwrap();
        let mut up = Command::new(env!("CARGO_BIN_EXE_tracemesh"))
            .args(["up", "--gateway-port", "0", "--data-dir"])
            .arg(data_dir.path())
            .args(extra_args)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.grpc_endpoint())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            // Export often, so the test waits less for spans.
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("TRACEMESH_LOG_FORMAT", "json")
            .env("RUST_LOG", "info,tracemesh_runtime=debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tracemesh up starts");

        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = up.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });

        // Read the banner until "press ctrl-c": the gateway URL and the pids.
        // Later lines (`restarted <service> pid <pid>`) go to `stdout`.
        let stdout = up.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout_lines = Arc::new(Mutex::new(Vec::new()));
        let stdout_sink = stdout_lines.clone();
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let done = line.starts_with("press ctrl-c");
                stdout_sink.lock().unwrap().push(line.clone());
                lines.push(line);
                if done {
                    let _ = tx.send(lines.clone());
                }
            }
            let _ = tx.send(lines);
        });
        let banner = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "tracemesh up printed no banner; logs: {:?}",
                    logs.lock().unwrap()
                )
            });
        assert!(
            banner.iter().any(|l| l.starts_with("press ctrl-c")),
            "tracemesh up did not come up: {banner:?}\nlogs: {:#?}",
            logs.lock().unwrap()
        );
        let mut gateway = None;
        let mut pids = Vec::new();
        let mut admin = Vec::new();
        for line in &banner {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let (Some(name), Some(pid_at)) =
                (words.first(), words.iter().position(|w| *w == "pid"))
            {
                pids.push((name.to_string(), words[pid_at + 1].parse().unwrap()));
                if let Some(at) = words.iter().position(|w| *w == "admin") {
                    admin.push((name.to_string(), words[at + 1].to_string()));
                }
                if *name == "gateway" {
                    gateway = Some(words[1].to_string());
                }
            }
        }
        assert_eq!(pids.len(), 5, "five services in the banner: {banner:?}");
        Mesh {
            gateway: gateway.expect("gateway URL in the banner"),
            collector,
            data_dir,
            pids,
            admin,
            logs,
            stdout: stdout_lines,
            up,
        }
    }

    /// Waits for `up --restart` to say it restarted `service` (the
    /// `restarts`-th time, counting from 1), records the new pid and
    /// returns it.
    pub async fn wait_for_restart(&mut self, service: &str, restarts: usize) -> u32 {
        let prefix = format!("restarted {service} pid ");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let pids: Vec<u32> = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .filter_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
                .collect();
            if let Some(pid) = pids.get(restarts - 1) {
                for (name, old) in &mut self.pids {
                    if name == service {
                        *old = *pid;
                    }
                }
                return *pid;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "up did not restart {service} within 60 s; stdout: {:?}",
                self.stdout.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The pid of `service`.
    pub fn pid(&self, service: &str) -> u32 {
        self.pids
            .iter()
            .find(|(n, _)| n == service)
            .map(|(_, p)| *p)
            .unwrap()
    }

    /// Replaces `service`'s faults through its admin endpoint.
    pub async fn set_faults(&self, service: &str, yaml: &str) {
        let url = &self.admin.iter().find(|(n, _)| n == service).unwrap().1;
        let response = reqwest::Client::new()
            .put(url)
            .body(yaml.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
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
        let http = reqwest::Client::new();
        let mut total = tracemesh_runtime::export_stats::ExportSnapshot::default();
        for (service, faults_url) in &self.admin {
            let url = faults_url.replace("/admin/faults", "/admin/telemetry/flush");
            let response = http.post(&url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{service}: {url}");
            total += response.json().await.unwrap();
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

    /// Sends SIGTERM to `up` and waits for it; returns its exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.up.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.up.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tracemesh up did not stop within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        // A failed assertion must not leave the mesh running.
        if self.up.try_wait().ok().flatten().is_none() {
            let _ = self.up.kill();
            let _ = self.up.wait();
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
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = header.split('-').collect();
    assert_eq!(parts.len(), 4, "traceresponse {header:?}");
    assert_eq!(parts[1].len(), 32, "traceresponse {header:?}");
    parts[1].to_owned()
}

pub fn checkout_body(user: &str, sku: &str, quantity: i64, card: &str) -> serde_json::Value {
    serde_json::json!({
        "user_id": user,
        "items": [{"sku": sku, "quantity": quantity}],
        "card": {"number": card, "exp_month": 12, "exp_year": 2031, "cvc": "123"}
    })
}
