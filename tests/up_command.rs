//! `tracemesh up` itself, as a user runs it: the one place the binary's
//! own start, signal handling and clean-up are tested (every other
//! end-to-end test starts its mesh through the mesh library).
//!
//! The gateway's port is chosen by the test, and the service processes are
//! found as `up`'s children in /proc; only the Prometheus test reads `up`'s
//! banner, for the URL of the Prometheus it started.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// `tracemesh up` on free ports, with its own embedded collector.
fn start_up(data_dir: &std::path::Path) -> (Child, u16) {
    start_up_with(data_dir, &[])
}

/// As [`start_up`], with `extra` flags.
fn start_up_with(data_dir: &std::path::Path, extra: &[String]) -> (Child, u16) {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_tracemesh"))
        .args(["up", "--gateway-port", &port.to_string()])
        .args(["--collector-grpc-port", "0", "--collector-http-port", "0"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("TRACEMESH_ADMIN_PORT_BASE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tracemesh up starts");
    (child, port)
}

/// Processes whose parent is `parent` (field 4 of /proc/<pid>/stat).
fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may hold spaces; the fields after its ')' do not.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
        if after.split_whitespace().nth(1) == Some(&parent.to_string()) {
            children.push(pid);
        }
    }
    children
}

/// Running: exists and is not a zombie.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Waits until the gateway answers `/readyz` and `up` has five service
/// children; returns their pids.
async fn wait_until_up(up: &mut Child, port: u16) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let http = reqwest::Client::new();
    loop {
        assert!(up.try_wait().unwrap().is_none(), "tracemesh up exited");
        let ready = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let services: Vec<u32> = children_of(up.id())
            .into_iter()
            .filter(|pid| cmdline(*pid).contains(" service "))
            .collect();
        if ready && services.len() == 5 {
            return services;
        }
        assert!(Instant::now() < deadline, "tracemesh up not ready in 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn wait_until_all_gone(pids: &[u32], within: Duration) -> Vec<u32> {
    let deadline = Instant::now() + within;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|p| running(*p)).collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_stops_every_service_on_sigterm_and_exits_zero() {
    let data = tempfile::tempdir().unwrap();
    let (mut up, port) = start_up(data.path());
    let services = wait_until_up(&mut up, port).await;
    for name in ["gateway", "user", "order", "inventory", "payment"] {
        assert!(
            services
                .iter()
                .any(|p| cmdline(*p).contains(&format!(" service {name} "))),
            "no {name} among up's children"
        );
    }
    kill(Pid::from_raw(up.id() as i32), Signal::SIGTERM).unwrap();
    let status = up.wait().unwrap();
    assert!(status.success(), "tracemesh up exited with {status}");
    let left = wait_until_all_gone(&services, Duration::from_secs(5));
    assert!(left.is_empty(), "services outlived up: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_stop_when_up_is_killed() {
    let data = tempfile::tempdir().unwrap();
    let (mut up, port) = start_up(data.path());
    let services = wait_until_up(&mut up, port).await;
    // SIGKILL: up runs no clean-up at all; the kernel's parent-death signal
    // must stop the children by itself.
    up.kill().unwrap();
    up.wait().unwrap();
    let left = wait_until_all_gone(&services, Duration::from_secs(15));
    assert!(
        left.is_empty(),
        "orphaned services after up was killed: {left:?}"
    );
}

/// Five consecutive ports free right now (bound, checked, released): the
/// test's own, never the fixed 9100.
fn five_free_ports() -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = first.local_addr().unwrap().port();
        let Some(last) = base.checked_add(4) else {
            continue;
        };
        let rest: Vec<_> = (base + 1..=last)
            .map_while(|p| TcpListener::bind(("127.0.0.1", p)).ok())
            .collect();
        if rest.len() == 4 {
            return base;
        }
    }
    panic!("no five consecutive free ports in 100 tries");
}

/// `up --admin-port-base PORT`: each service's admin endpoint at PORT plus
/// its place in the topology table, answering there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_sit_at_the_base_in_topology_order() {
    let data = tempfile::tempdir().unwrap();
    let base = five_free_ports();
    let (mut up, port) = start_up_with(
        data.path(),
        &["--admin-port-base".to_owned(), base.to_string()],
    );
    let services = wait_until_up(&mut up, port).await;
    let http = reqwest::Client::new();
    for (offset, name) in ["gateway", "order", "user", "inventory", "payment"]
        .into_iter()
        .enumerate()
    {
        let admin = format!("127.0.0.1:{}", base + offset as u16);
        let pid = services
            .iter()
            .find(|p| cmdline(**p).contains(&format!(" service {name} ")))
            .unwrap_or_else(|| panic!("no {name} among up's children"));
        assert!(
            cmdline(*pid).contains(&format!("--admin-listen {admin} ")),
            "{name}: {}",
            cmdline(*pid)
        );
        let metrics = http
            .get(format!("http://{admin}/metrics"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}'s admin endpoint at {admin}: {e}"));
        assert_eq!(metrics.status(), 200, "{name} at {admin}");
    }
    kill(Pid::from_raw(up.id() as i32), Signal::SIGTERM).unwrap();
    assert!(up.wait().unwrap().success());
    let left = wait_until_all_gone(&services, Duration::from_secs(5));
    assert!(left.is_empty(), "services outlived up: {left:?}");
}

/// A base without room for five ports is a usage error naming the flag or
/// its variable, before anything starts.
#[test]
fn a_base_without_room_for_five_admin_ports_exits_2_naming_the_flag() {
    for (args, env) in [
        (vec!["up", "--admin-port-base", "65532"], None),
        (vec!["up", "--admin-port-base", "0"], None),
        (vec!["up"], Some("65535")),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tracemesh"));
        command.args(&args).env_remove("TRACEMESH_ADMIN_PORT_BASE");
        if let Some(value) = env {
            command.env("TRACEMESH_ADMIN_PORT_BASE", value);
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains("--admin-port-base"), "{stderr}");
        assert!(stderr.contains("65531"), "{stderr}");
    }
}

/// `up --prometheus start`: a real Prometheus (Debian's binary; CI installs
/// it) scrapes the five services, keeps the exemplar of a request's sampled
/// trace, and stops with `up`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_starts_a_prometheus_that_keeps_a_requests_exemplar() {
    if tracemesh_mesh::prometheus::binary_on_path().is_none() {
        assert!(
            std::env::var_os("TRACEMESH_REQUIRE_PROMETHEUS").is_none(),
            "TRACEMESH_REQUIRE_PROMETHEUS is set but no `prometheus` is on PATH"
        );
        eprintln!("skipped: no `prometheus` binary on PATH (apt-get install prometheus)");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut up = Command::new(env!("CARGO_BIN_EXE_tracemesh"))
        .args(["up", "--gateway-port", &port.to_string()])
        .args(["--collector-grpc-port", "0", "--collector-http-port", "0"])
        .args(["--prometheus", "start"])
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tracemesh up starts");
    let lines = {
        let stdout = up.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        rx
    };
    let url = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("up prints a banner naming its prometheus");
        if let Some(at) = line.find("prometheus at ") {
            break line[at + "prometheus at ".len()..].trim().to_owned();
        }
    };
    wait_until_up(&mut up, port).await;

    // One sampled request, its trace id chosen here.
    let trace_id = format!(
        "{:032x}",
        0x5eed_u128 << 64 | u128::from(std::process::id())
    );
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/products"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());

    let api = tracemesh_harness::metrics::prometheus::PrometheusApi::new(url.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    loop {
        let exemplars = api.exemplars(now() - 600.0, now() + 60.0).await.unwrap();
        let kept = exemplars.iter().any(|s| {
            s.labels.get("service_name").map(String::as_str) == Some("gateway")
                && s.exemplar
                    .as_ref()
                    .is_some_and(|e| e.labels.get("trace_id") == Some(&trace_id))
        });
        if kept {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{url} kept no gateway exemplar of trace {trace_id} in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Prometheus spreads its targets' first scrapes over the interval: the
    // gateway's exemplar can be in before every target was scraped once.
    api.wait_scraped_after(5, 0.0, Duration::from_secs(30))
        .await
        .expect("all five services scraped and up within 30 s");

    let prometheus: Vec<u32> = children_of(up.id())
        .into_iter()
        .filter(|pid| cmdline(*pid).contains("--enable-feature=exemplar-storage"))
        .collect();
    assert_eq!(prometheus.len(), 1, "one prometheus among up's children");
    kill(Pid::from_raw(up.id() as i32), Signal::SIGTERM).unwrap();
    let status = up.wait().unwrap();
    assert!(status.success(), "tracemesh up exited with {status}");
    let left = wait_until_all_gone(&prometheus, Duration::from_secs(10));
    assert!(left.is_empty(), "prometheus outlived up: {left:?}");
}
