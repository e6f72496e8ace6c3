//! The load generator's ceiling: how many requests per second goose, driven
//! exactly as `tracemesh run` drives it, sends to a server that costs next
//! to nothing, against `wrk` (Debian's package) on the same server, cores,
//! connections and duration. The ratio says how far goose's own figures
//! can be trusted: a mesh answering faster than goose can ask is measured
//! as goose's ceiling, not the mesh's.
//!
//! - The server is the axum hello world (`crate::hello`, one worker) as
//!   its own process, `tracemesh bench --serve-hello 127.0.0.1:0`, so its CPU is
//!   its own; with two cores or more and `taskset`, it is pinned to core 1
//!   and both load generators to core 0 (this process for goose, `taskset
//!   -c 0 wrk` for wrk).
//! - Goose: `tracemesh_harness::load::run_load` with a one-route plan
//!   (`Workload::Get`, `GET /`): the same users, sessions, seeded
//!   `traceparent` on half the requests, answer reading and record as a
//!   run, `--clients` users, no think time, all started at once.
//! - wrk: `wrk -t<threads> -c<clients> -d<round>s`, one thread per core it
//!   may use; its requests/s is its own `Requests/sec` line.
//! - Rounds alternate (goose then wrk, reversed every other round); each
//!   figure is the median over rounds, with every round's value.
//! - CPU: utime + stime over the round's wall time, from `/proc`: this
//!   process for goose (nothing else runs in it during the round), wrk's
//!   pid (read once it has exited and before it is reaped, so its last
//!   tick counts), and the hello world's, so a reader sees which side was
//!   full.
//!
//! Without `wrk` the part says how to install it and measures nothing; the
//! other parts still run.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tracemesh_harness::load::{self, LoadPlan, Workload};
use tracemesh_harness::stats::median;

use super::announce;
use super::pinning::{can_pin, on_core_zero, tracemesh_command};
use super::report::{Results, Row};
use super::round_order;
use crate::hello::HelloServer;
use crate::procfs;
use crate::suite::BenchError;

/// `tracemesh run`'s defaults for the trace context it sends: half the
/// requests without a traceparent, half of the others sampled.
const ROOTLESS_SHARE: f64 = 0.5;
const PARENTED_SAMPLED_SHARE: f64 = 0.5;
/// Users started per second: all of them within a few milliseconds, so the
/// round measures the users at full speed rather than their ramp.
const START_RATE: f64 = 10_000.0;
/// The hello world's worker threads: one core's worth.
const HELLO_WORKERS: usize = 1;
const INSTALL_WRK: &str = "apt-get install -y wrk";
/// The target: goose at a quarter of wrk on the same core or better, still
/// several times the checkouts/s the mesh serves here (BENCHMARKS.md's
/// Targets).
const MIN_RATIO: f64 = 0.25;
const TARGET_TEXT: &str = ">= 0.25 x wrk";

/// What `--serve-hello` prints before the address it serves on.
const HELLO_LISTENS: &str = "hello world listening on";

/// `tracemesh bench --serve-hello ADDR`: the hello world until this
/// process's stdin closes (the bench process that started it ended or
/// dropped it), so it never outlives the bench.
pub async fn serve_hello(addr: std::net::SocketAddr) -> Result<(), BenchError> {
    let server = HelloServer::start_on(addr, HELLO_WORKERS)
        .map_err(|e| BenchError::Runtime(format!("--serve-hello {addr}: {e}")))?;
    // The bench started it on port 0 and reads the port here.
    println!("{HELLO_LISTENS} http://{}", server.addr);
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while stdin.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
    Ok(())
}

/// The hello-world process the part measures against.
struct HelloProcess {
    child: tokio::process::Child,
    pid: u32,
    /// `http://127.0.0.1:<port>`, no trailing slash (goose's host).
    base: String,
}

impl HelloProcess {
    async fn start(core: Option<&str>) -> Result<HelloProcess, BenchError> {
        const WHAT: &str = "the hello world";
        let mut command = tracemesh_command(core)?;
        command
            .args(["bench", "--serve-hello", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| BenchError::Runtime(format!("cannot start {WHAT}: {e}")))?;
        let mut base = announce::announced(&mut child, WHAT, &[HELLO_LISTENS]).await?;
        let hello = HelloProcess {
            // taskset execs the server, so the pid is the server's.
            pid: child.id().unwrap_or_default(),
            child,
            base: base.remove(0),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !client
            .get(format!("{}/", hello.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            if Instant::now() > deadline {
                return Err(BenchError::Runtime(
                    "the hello world did not answer within 20 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(hello)
    }
}

/// One round of one load generator.
#[derive(Debug, Clone, Copy)]
struct Round {
    requests_per_sec: f64,
    /// Answers other than 200, and requests with no answer.
    unexpected: u64,
    /// The load generator's CPU over the round, percent of one core.
    generator_percent: f64,
    /// The hello world's.
    server_percent: f64,
}

impl Round {
    /// Requests per CPU-second of the load generator: what it costs per
    /// request, whatever share of its core a busy machine left it.
    fn per_cpu_second(&self) -> f64 {
        self.requests_per_sec / (self.generator_percent / 100.0).max(1e-9)
    }
}

pub async fn run(
    rounds: usize,
    round: Duration,
    clients: usize,
    results: &mut Results,
) -> Result<(), BenchError> {
    if !wrk_installed() {
        let line = format!(
            "loadgen: wrk is not installed, so the load generator's ceiling was not measured: `{INSTALL_WRK}` (Debian's package)"
        );
        // The headline lines are printed first: the one line a user sees.
        results.ratios.push(line);
        results.rows.push(Row::info(
            "loadgen",
            "goose against wrk on an axum hello world",
            format!("not measured: wrk is not installed (`{INSTALL_WRK}`)"),
        ));
        return Ok(());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = can_pin();
    on_core_zero(
        pinned,
        measure(rounds, round, clients, pinned, cores, results),
    )
    .await
}

async fn measure(
    rounds: usize,
    round: Duration,
    clients: usize,
    pinned: bool,
    cores: usize,
    results: &mut Results,
) -> Result<(), BenchError> {
    let mut hello = HelloProcess::start(pinned.then_some("1")).await?;
    // wrk gets one thread per core the load generators may use, as goose
    // gets a tokio worker per core.
    let (generator_core, wrk_threads) = if pinned {
        (Some("0"), 1)
    } else {
        (None, cores)
    };
    let ticks = procfs::clock_ticks_per_second();
    eprintln!(
        "bench: loadgen, {rounds} x {round:?}: goose vs wrk, {clients} connections, GET {}/ (hello world pid {}, {})",
        hello.base,
        hello.pid,
        if pinned {
            "pinned to core 1, load generators to core 0"
        } else {
            "not pinned"
        }
    );
    let (mut goose_rounds, mut wrk_rounds) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        for variant in round_order(2, r) {
            let done = if variant == 0 {
                goose_round(&hello, clients, round, r as u64, ticks).await?
            } else {
                wrk_round(&hello, clients, round, generator_core, wrk_threads, ticks).await?
            };
            eprintln!(
                "bench: round {}/{rounds} loadgen {:<5} {:>8.0} req/s, load generator at {:.0}% of a core, hello world at {:.0}%",
                r + 1,
                if variant == 0 { "goose" } else { "wrk" },
                done.requests_per_sec,
                done.generator_percent,
                done.server_percent
            );
            if variant == 0 {
                goose_rounds.push(done);
            } else {
                wrk_rounds.push(done);
            }
        }
    }
    let _ = hello.child.kill().await;
    let setup = if pinned {
        format!(
            "hello world (1 worker) on core 1, load generator on core 0; {clients} connections, rounds of {:.0} s",
            round.as_secs_f64()
        )
    } else {
        format!(
            "not pinned (one core or no taskset): hello world (1 worker) and load generator share {cores} cores; {clients} connections, rounds of {:.0} s",
            round.as_secs_f64()
        )
    };
    report(&setup, &goose_rounds, &wrk_rounds, results);
    Ok(())
}

/// Goose as `tracemesh run` drives it, on the one route.
async fn goose_round(
    hello: &HelloProcess,
    clients: usize,
    round: Duration,
    seed: u64,
    ticks: u64,
) -> Result<Round, BenchError> {
    let plan = LoadPlan {
        gateway: hello.base.clone(),
        users: clients,
        increase_rate: START_RATE,
        run_time: round,
        rootless_share: ROOTLESS_SHARE,
        parented_sampled_share: PARENTED_SAMPLED_SHARE,
        think_time_min: Duration::ZERO,
        think_time_max: Duration::ZERO,
        seed,
        goose_reports: Vec::new(),
        workload: Workload::Get {
            path: "/".to_owned(),
        },
    };
    let me = std::process::id();
    let (cpu_from, server_from) = (
        procfs::cpu_time(me, ticks),
        procfs::cpu_time(hello.pid, ticks),
    );
    let started = Instant::now();
    let outcome = load::run_load(&plan, |_| {})
        .await
        .map_err(|e| BenchError::Runtime(format!("goose against the hello world: {e}")))?;
    let wall = started.elapsed();
    let share = |from: Option<Duration>, pid: u32| {
        let used = procfs::cpu_time(pid, ticks)
            .zip(from)
            .map_or(Duration::ZERO, |(to, from)| to.saturating_sub(from));
        used.as_secs_f64() / wall.as_secs_f64() * 100.0
    };
    // The rate over the time requests were in flight: goose's start and
    // stop are not the server's business.
    let requests = &outcome.requests;
    let first = requests.iter().map(|r| r.sent_unix_nanos).min();
    let last = requests.iter().map(|r| r.answered_unix_nanos).max();
    let span_secs = first
        .zip(last)
        .map_or(0.0, |(first, last)| last.saturating_sub(first) as f64 / 1e9);
    Ok(Round {
        requests_per_sec: requests.len() as f64 / span_secs.max(1e-9),
        unexpected: requests.iter().filter(|r| r.status != Some(200)).count() as u64,
        generator_percent: share(cpu_from, me),
        server_percent: share(server_from, hello.pid),
    })
}

fn wrk_installed() -> bool {
    // `wrk --version` exits 1 after printing it: being able to start it is
    // what counts.
    std::process::Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// One wrk run, on its own thread (it blocks until wrk ends).
async fn wrk_round(
    hello: &HelloProcess,
    clients: usize,
    round: Duration,
    core: Option<&'static str>,
    threads: usize,
    ticks: u64,
) -> Result<Round, BenchError> {
    let url = format!("{}/", hello.base);
    let server_pid = hello.pid;
    tokio::task::spawn_blocking(move || {
        run_wrk(&url, clients, round, core, threads, server_pid, ticks)
    })
    .await
    .map_err(|e| BenchError::Runtime(format!("the wrk round failed: {e}")))?
}

fn run_wrk(
    url: &str,
    clients: usize,
    round: Duration,
    core: Option<&str>,
    threads: usize,
    server_pid: u32,
    ticks: u64,
) -> Result<Round, BenchError> {
    let mut command = match core {
        Some(core) => {
            let mut c = std::process::Command::new("taskset");
            c.args(["-c", core, "wrk"]);
            c
        }
        None => std::process::Command::new("wrk"),
    };
    command
        // wrk needs at least as many connections as threads.
        .arg(format!("-t{}", threads.min(clients)))
        .arg(format!("-c{clients}"))
        .arg(format!("-d{}s", round.as_secs().max(1)))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let server_from = procfs::cpu_time(server_pid, ticks);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| BenchError::Runtime(format!("cannot start wrk: {e}")))?;
    let pid = child.id();
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    // wrk has closed its output; its CPU time is final once it is a zombie,
    // and readable until it is reaped by `wait` below.
    let cpu = zombie_cpu_time(pid, ticks);
    let wall = started.elapsed();
    let server = procfs::cpu_time(server_pid, ticks)
        .zip(server_from)
        .map_or(Duration::ZERO, |(to, from)| to.saturating_sub(from));
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    let status = child
        .wait()
        .map_err(|e| BenchError::Runtime(format!("wrk: {e}")))?;
    let requests_per_sec = parse_wrk_rate(&stdout).ok_or_else(|| {
        BenchError::Runtime(format!(
            "wrk ({status}) printed no Requests/sec line:\n{stdout}{stderr}"
        ))
    })?;
    let percent = |used: Duration| used.as_secs_f64() / wall.as_secs_f64() * 100.0;
    Ok(Round {
        requests_per_sec,
        unexpected: parse_wrk_errors(&stdout),
        generator_percent: percent(cpu.unwrap_or_default()),
        server_percent: percent(server),
    })
}

/// The CPU time of `pid` once it has exited (its `/proc` state `Z`),
/// waiting for that; `None` if it was gone.
fn zombie_cpu_time(pid: u32, ticks: u64) -> Option<Duration> {
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat[stat.rfind(')')? + 2..].chars().next()?;
        if state == 'Z' {
            return procfs::cpu_time(pid, ticks);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// wrk's `Requests/sec:   12345.67` line.
fn parse_wrk_rate(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))?
        .trim()
        .parse()
        .ok()
}

/// Non-2xx/3xx answers plus socket errors (connect, read, write, timeout).
fn parse_wrk_errors(stdout: &str) -> u64 {
    let numbers = |text: &str| -> u64 {
        text.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse::<u64>().ok())
            .sum()
    };
    stdout
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            l.strip_prefix("Non-2xx or 3xx responses:")
                .or_else(|| l.strip_prefix("Socket errors:"))
        })
        .map(numbers)
        .sum()
}

fn report(setup: &str, goose: &[Round], wrk: &[Round], results: &mut Results) {
    let rates =
        |rounds: &[Round]| -> Vec<f64> { rounds.iter().map(|r| r.requests_per_sec).collect() };
    let list = |values: &[f64], digits: usize| {
        values
            .iter()
            .map(|v| format!("{v:.digits$}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ratios: Vec<f64> = goose
        .iter()
        .zip(wrk)
        .map(|(g, w)| g.requests_per_sec / w.requests_per_sec.max(1e-9))
        .collect();
    let ratio = median(&ratios);
    let count = goose.len();
    let describe = |rounds: &[Round]| {
        let generator: Vec<f64> = rounds.iter().map(|r| r.generator_percent).collect();
        let server: Vec<f64> = rounds.iter().map(|r| r.server_percent).collect();
        let per_cpu: Vec<f64> = rounds.iter().map(Round::per_cpu_second).collect();
        format!(
            "{:.0} req/s (median of {count} rounds: {}); load generator at {:.0}% of a core (rounds {}), {:.0} requests per its CPU-second; hello world at {:.0}%; {} unexpected answers or errors",
            median(&rates(rounds)),
            list(&rates(rounds), 0),
            median(&generator),
            list(&generator, 0),
            median(&per_cpu),
            median(&server),
            rounds.iter().map(|r| r.unexpected).sum::<u64>()
        )
    };
    results.rows.push(Row::info(
        "loadgen",
        format!(
            "goose as `tracemesh run` drives it (GET / of an axum hello world, no think time); {setup}"
        ),
        describe(goose),
    ));
    results.rows.push(Row::info(
        "loadgen",
        "wrk, same server, cores, connections and duration (CPU: wrk's pid)",
        describe(wrk),
    ));
    results.rows.push(Row::target(
        "loadgen",
        "goose / wrk requests/s (median of per-round ratios)",
        format!("{ratio:.3} (rounds {})", list(&ratios, 3)),
        TARGET_TEXT,
        ratio >= MIN_RATIO,
    ));
    let per_cpu =
        |rounds: &[Round]| median(&rounds.iter().map(Round::per_cpu_second).collect::<Vec<_>>());
    results.ratios.push(format!(
        "loadgen: goose {:.0} req/s vs wrk {:.0} req/s = {ratio:.3} of wrk's (rounds {}); goose at {:.0}% of a core, wrk at {:.0}%; {:.0} vs {:.0} requests per CPU-second",
        median(&rates(goose)),
        median(&rates(wrk)),
        list(&ratios, 3),
        median(&goose.iter().map(|r| r.generator_percent).collect::<Vec<_>>()),
        median(&wrk.iter().map(|r| r.generator_percent).collect::<Vec<_>>()),
        per_cpu(goose),
        per_cpu(wrk),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK_OUTPUT: &str = "Running 2s test @ http://127.0.0.1:40123/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   563.43us  180.27us   4.74ms   79.06%
    Req/Sec    56.91k     2.56k   60.47k    75.00%
  113284 requests in 2.00s, 14.26MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  56623.77
Transfer/sec:      7.13MB
";

    #[test]
    fn wrk_output_gives_its_rate_and_its_errors() {
        assert_eq!(parse_wrk_rate(WRK_OUTPUT), Some(56623.77));
        assert_eq!(parse_wrk_errors(WRK_OUTPUT), 7);
        assert_eq!(parse_wrk_rate("unable to connect to 127.0.0.1:1"), None);
        assert_eq!(parse_wrk_errors("Requests/sec: 1.0"), 0);
    }

    #[test]
    fn an_exited_child_is_read_before_it_is_reaped() {
        let ticks = procfs::clock_ticks_per_second();
        let mut child = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"])
            .spawn()
            .unwrap();
        let cpu = zombie_cpu_time(child.id(), ticks);
        child.wait().unwrap();
        assert!(cpu.is_some_and(|t| t > Duration::ZERO), "{cpu:?}");
        // Reaped: nothing to read.
        assert_eq!(zombie_cpu_time(child.id(), ticks), None);
    }
}
