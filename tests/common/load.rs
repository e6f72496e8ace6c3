//! A small closed-loop checkout load for the fault and endurance tests:
//! `clients` tasks, each placing one order after another until told to stop,
//! every answer recorded with its status, error code, order id, trace id and
//! time taken. goose drives the real load runs (`tracemesh run`); here each
//! individual answer matters more than the rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{GOOD_CARD, checkout_body};

/// CAB-004 has 5000 in stock: enough that no test runs out.
pub const PLENTIFUL_SKU: &str = "CAB-004";
/// Longer than any deadline in the mesh: a request still open after this
/// long is a hang.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct Outcome {
    /// `None`: no HTTP answer (connection refused or reset, or timed out).
    pub status: Option<u16>,
    pub transport_error: Option<String>,
    pub timed_out: bool,
    /// `error.code` of a JSON error body; `None` if the body had none.
    pub error_code: Option<String>,
    pub order_id: Option<String>,
    pub trace_id: Option<String>,
    pub started: Instant,
    pub elapsed: Duration,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Outcome>>>,
    pub sent: Arc<AtomicU64>,
}

impl Load {
    /// Starts `clients` closed-loop clients against `gateway`, buying
    /// [`PLENTIFUL_SKU`].
    pub fn start(gateway: &str, clients: usize) -> Load {
        Load::start_buying(gateway, clients, &[PLENTIFUL_SKU])
    }

    /// As [`Load::start`]; client `i` buys `skus[i % skus.len()]`.
    pub fn start_buying(gateway: &str, clients: usize, skus: &[&'static str]) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let http = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .build()
            .unwrap();
        let tasks = (0..clients)
            .map(|i| {
                let (stop, sent, http) = (stop.clone(), sent.clone(), http.clone());
                let url = format!("{gateway}/api/checkout");
                let user = format!("u-100{}", i % 5 + 1);
                let sku = skus[i % skus.len()];
                tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        sent.fetch_add(1, Ordering::Relaxed);
                        let body = checkout_body(&user, sku, 1, GOOD_CARD);
                        outcomes.push(checkout(&http, &url, &body).await);
                    }
                    outcomes
                })
            })
            .collect();
        Load { stop, tasks, sent }
    }

    /// Stops the clients and returns every outcome, in no particular order.
    pub async fn finish(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for task in self.tasks {
            all.extend(task.await.unwrap());
        }
        all
    }
}

async fn checkout(http: &reqwest::Client, url: &str, body: &serde_json::Value) -> Outcome {
    let started = Instant::now();
    match http.post(url).json(body).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let trace_id = response
                .headers()
                .get("traceresponse")
                .and_then(|v| v.to_str().ok())
                .and_then(tracemesh_runtime::w3c::TraceParent::trace_id_of)
                .map(str::to_owned);
            let json: serde_json::Value = response.json().await.unwrap_or_default();
            Outcome {
                status: Some(status),
                transport_error: None,
                timed_out: false,
                error_code: json["error"]["code"].as_str().map(str::to_owned),
                order_id: (status == 201)
                    .then(|| json["id"].as_str().map(str::to_owned))
                    .flatten(),
                trace_id,
                started,
                elapsed: started.elapsed(),
            }
        }
        Err(e) => Outcome {
            status: None,
            transport_error: Some(e.to_string()),
            timed_out: e.is_timeout(),
            error_code: None,
            order_id: None,
            trace_id: None,
            started,
            elapsed: started.elapsed(),
        },
    }
}

/// The confirmed orders in `order.db`, by id.
pub fn stored_order_ids(data_dir: &std::path::Path) -> Vec<String> {
    let db = rusqlite::Connection::open(data_dir.join("order.db")).unwrap();
    let mut statement = db.prepare("SELECT id FROM orders").unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Open file descriptors of a process (sockets included).
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Resident memory of a process, in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// Median and 99th percentile of the answers' times.
pub fn p50_p99(outcomes: &[&Outcome]) -> (Duration, Duration) {
    let mut times: Vec<Duration> = outcomes.iter().map(|o| o.elapsed).collect();
    times.sort();
    if times.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}
