//! The compose demo, run for real: docker-compose.yml with the offline
//! override (docker-compose.local.yml) brings the five services up as
//! containers, exporting to the harness's collector in its own container;
//! requests go through the published gateway port, and their traces are
//! read back through the collector's Tempo API (`TempoSource`) and checked
//! against the expected trees in harness/expectations/.
//!
//! Needs Docker, a compose CLI (`docker-compose` or `docker compose`) and the
//! image (`scripts/build-images.sh` builds tracemesh:local, or set
//! TRACEMESH_IMAGE). Without them the test says why and skips, unless
//! TRACEMESH_REQUIRE_IMAGES=1 (CI), where that is a failure.
//!
//! Nothing is left behind: a unique project name (`tracemesh-test-<random>`),
//! free host ports, and `down -v --remove-orphans` in a Drop guard, which
//! runs on a failed assertion too.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{Read, Seek};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tracemesh_harness::checks::expect::ExpectedTree;
use tracemesh_harness::checks::full_tree::check_trace;
use tracemesh_harness::sources::{TempoSource, TraceSource};
use tracemesh_harness::trace::{ReadinessPolicy, wait_polling};

/// `up` returns once every service the gateway depends on is healthy; this
/// bounds it (the images are local: nothing is pulled).
const UP_TIMEOUT: Duration = Duration::from_secs(180);
/// After `up`: until the gateway's /readyz and the collector's /ready answer.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// `down` stops containers (10 s grace each) and removes network and volumes.
const DOWN_TIMEOUT: Duration = Duration::from_secs(120);

const GOOD_CARD: &str = "4242424242424242";
const DECLINED_CARD: &str = "4000000000000002";

fn images_required() -> bool {
    std::env::var("TRACEMESH_REQUIRE_IMAGES").is_ok_and(|v| v == "1")
}

/// Skips the test with `reason`, or fails it when CI requires images.
macro_rules! skip_or_fail {
    ($($reason:tt)*) => {{
        let reason = format!($($reason)*);
        assert!(!images_required(), "TRACEMESH_REQUIRE_IMAGES=1 but {reason}");
        eprintln!("skipped: {reason}");
        return;
    }};
}

/// `docker-compose` (1.x) or `docker compose` (v2), whichever is installed.
fn compose_cli() -> Option<Vec<String>> {
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if works("docker-compose", &["version"]) {
        Some(vec!["docker-compose".into()])
    } else if works("docker", &["compose", "version"]) {
        Some(vec!["docker".into(), "compose".into()])
    } else {
        None
    }
}

/// `count` free TCP ports on loopback, held together so they differ, then
/// released for the containers' published ports.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// What a bounded command printed.
struct Finished {
    success: bool,
    output: String,
}

/// Runs `command` for at most `timeout`, killing it past that. Output goes
/// to a file rather than a pipe, so a chatty command cannot block on a full
/// pipe while we wait.
fn run_bounded(mut command: Command, timeout: Duration) -> Finished {
    let mut log = tempfile::tempfile().expect("a temporary file");
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log.try_clone().unwrap());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut output = String::new();
    log.rewind().unwrap();
    log.read_to_string(&mut output).unwrap();
    if status.is_none() {
        output.push_str(&format!("\n(killed after {timeout:?})"));
    }
    Finished {
        success: status.is_some_and(|s| s.success()),
        output,
    }
}

/// One compose project: both files, a unique name, the test's ports. Its
/// Drop takes everything down.
struct Project {
    cli: Vec<String>,
    name: String,
    env: Vec<(&'static str, String)>,
    down: bool,
}

impl Project {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.cli[0]);
        command
            .args(&self.cli[1..])
            .args(["-p", &self.name])
            .args(["-f", "docker-compose.yml", "-f", "docker-compose.local.yml"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            // The user's own compose settings must not change what runs.
            .env_remove("COMPOSE_PROFILES")
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME")
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        command
    }

    /// `down -v --remove-orphans`: containers, network and volumes.
    fn down(&mut self) -> Finished {
        self.down = true;
        run_bounded(
            self.command(&["down", "-v", "--remove-orphans", "--timeout", "10"]),
            DOWN_TIMEOUT,
        )
    }

    /// Whatever Docker still holds that carries this project's label.
    fn leftovers(&self) -> Vec<String> {
        let label = format!("label=com.docker.compose.project={}", self.name);
        let mut left = Vec::new();
        for kind in [["ps", "-a"], ["network", "ls"], ["volume", "ls"]] {
            let output = Command::new("docker")
                .args(kind)
                .args(["--quiet", "--filter", &label])
                .output()
                .expect("docker runs");
            left.extend(
                String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .map(|id| format!("{} {id}", kind[0])),
            );
        }
        left
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if self.down {
            return;
        }
        if std::thread::panicking() {
            // What the containers said, to explain the failure.
            let logs = run_bounded(
                self.command(&["logs", "--no-color", "--tail", "30"]),
                Duration::from_secs(30),
            );
            eprintln!("--- logs of {} ---\n{}", self.name, logs.output);
        }
        let finished = self.down();
        if !finished.success {
            eprintln!(
                "warning: `down` of compose project {} failed; remove it with \
                 `docker-compose -p {} down -v`:\n{}",
                self.name, self.name, finished.output
            );
        }
    }
}

fn expected(file: &str) -> ExpectedTree {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("harness/expectations")
        .join(file);
    ExpectedTree::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The trace id and sampled flag of a `traceresponse` header.
fn traceresponse(response: &reqwest::Response) -> (String, bool) {
    let header = response
        .headers()
        .get("traceresponse")
        .expect("the gateway answers traceresponse")
        .to_str()
        .unwrap();
    let traceresponse =
        tracemesh_runtime::w3c::TraceParent::parse(header).unwrap_or_else(|e| panic!("{e}"));
    let sampled = traceresponse.sampled();
    (traceresponse.trace_id, sampled)
}

fn checkout(user: &str, sku: &str, card: &str) -> serde_json::Value {
    serde_json::json!({
        "user_id": user,
        "items": [{"sku": sku, "quantity": 1}],
        "card": {"number": card, "exp_month": 12, "exp_year": 2031, "cvc": "123"}
    })
}

/// Polls `url` until it answers 2xx or `deadline` passes.
async fn wait_until_ok(client: &reqwest::Client, url: &str, deadline: Instant) -> bool {
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[test]
fn the_compose_mesh_traces_requests_end_to_end() {
    let Some(cli) = compose_cli() else {
        skip_or_fail!("neither docker-compose nor `docker compose` is installed");
    };
    let docker_up = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !docker_up {
        skip_or_fail!("the Docker daemon is not reachable (`docker info` fails)");
    }
    let image = std::env::var("TRACEMESH_IMAGE").unwrap_or_else(|_| "tracemesh:local".into());
    let image_present = Command::new("docker")
        .args(["image", "inspect", &image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !image_present {
        skip_or_fail!("image {image} is absent: build it with scripts/build-images.sh");
    }

    let started = Instant::now();
    let [gateway_port, grpc_port, http_port] = free_ports(3)[..] else {
        unreachable!()
    };
    let suffix = RandomState::new().hash_one(std::process::id()) & 0xffff_ffff;
    let mut project = Project {
        cli,
        name: format!("tracemesh-test-{suffix:08x}"),
        env: vec![
            ("TRACEMESH_IMAGE", image.clone()),
            ("TRACEMESH_GATEWAY_PORT", gateway_port.to_string()),
            ("TRACEMESH_OTLP_GRPC_PORT", grpc_port.to_string()),
            ("TRACEMESH_OTLP_HTTP_PORT", http_port.to_string()),
            // Every new trace sampled: each request of the test has a trace.
            ("TRACEMESH_SAMPLER_RATIO", "1.0".into()),
        ],
        down: false,
    };

    // --no-build: test the image that is there, never a fresh build.
    let up = run_bounded(project.command(&["up", "-d", "--no-build"]), UP_TIMEOUT);
    assert!(up.success, "compose up failed:\n{}", up.output);
    let up_secs = started.elapsed().as_secs_f64();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let gateway = format!("http://127.0.0.1:{gateway_port}");
        let store = format!("http://127.0.0.1:{http_port}");
        let deadline = Instant::now() + READY_TIMEOUT;
        assert!(
            wait_until_ok(&http, &format!("{gateway}/readyz"), deadline).await,
            "the gateway was not ready within {READY_TIMEOUT:?}"
        );
        assert!(
            wait_until_ok(&http, &format!("{store}/ready"), deadline).await,
            "the collector's Tempo API was not ready within {READY_TIMEOUT:?}"
        );
        let ready_secs = started.elapsed().as_secs_f64();

        let requests = [
            (
                http.get(format!("{gateway}/api/products")),
                200,
                "products.yaml",
            ),
            (
                http.post(format!("{gateway}/api/checkout"))
                    .json(&checkout("u-1001", "KEY-001", GOOD_CARD)),
                201,
                "checkout-succeeds.yaml",
            ),
            (
                http.post(format!("{gateway}/api/checkout")).json(&checkout(
                    "u-1004",
                    "MOU-002",
                    DECLINED_CARD,
                )),
                402,
                "checkout-card-declined.yaml",
            ),
        ];
        let mut traces = Vec::new();
        for (request, status, file) in requests {
            let response = request.send().await.expect("the gateway answers");
            assert_eq!(response.status().as_u16(), status, "{file}");
            let (trace_id, sampled) = traceresponse(&response);
            assert!(sampled, "{file}: the gateway did not sample {trace_id}");
            traces.push((trace_id, file));
        }

        // Read each trace back the way a user of Tempo would. The services
        // export every second (OTEL_BSP_SCHEDULE_DELAY=1000): a trace is
        // complete once its span count has held for a few of those.
        let source = TempoSource::new(store.clone());
        let policy = ReadinessPolicy {
            expected_spans: None,
            quiet: Duration::from_millis(2500),
            deadline: Duration::from_secs(30),
        };
        for (trace_id, file) in &traces {
            let count = || async {
                source
                    .trace(trace_id)
                    .await
                    .ok()
                    .flatten()
                    .map_or(0, |spans| spans.len())
            };
            let readiness = wait_polling(count, &policy, Duration::from_millis(250)).await;
            assert!(
                readiness.is_ready() && readiness.spans() > 0,
                "{file}: trace {trace_id} not ready in {}: {readiness:?}",
                source.describe()
            );
            let spans = source
                .trace(trace_id)
                .await
                .unwrap_or_else(|e| panic!("{file}: {e}"))
                .unwrap_or_default();
            let verdict = check_trace(&expected(file), trace_id, spans);
            assert!(
                verdict.passed,
                "{file}: trace {trace_id}: {:#?}\nfigures: {:#?}",
                verdict.reasons, verdict.figures
            );
        }
        eprintln!(
            "compose demo: up in {up_secs:.1} s, gateway ready at {ready_secs:.1} s, \
             {} traces checked at {:.1} s",
            traces.len(),
            started.elapsed().as_secs_f64()
        );
    });

    // Explicitly, to check that nothing is left; the Drop guard does the same
    // on a failure.
    let down = project.down();
    assert!(down.success, "compose down failed:\n{}", down.output);
    let left = project.leftovers();
    assert!(left.is_empty(), "left behind by {}: {left:?}", project.name);
    eprintln!(
        "compose demo: down; {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}
