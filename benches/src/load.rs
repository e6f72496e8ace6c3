//! HTTP load, two shapes. Connections are kept alive (one per request in
//! flight, as reqwest's pool does for HTTP/1.1).
//!
//! - A closed loop of N concurrent clients: each sends its next request as
//!   soon as the previous one is answered, so the server is kept saturated
//!   and the rate measured is what it can serve.
//! - An open loop: requests leave on a timer at a fixed offered rate,
//!   whether or not earlier ones were answered, so the server's work per
//!   second is set by the load, not by the server's speed. In-flight
//!   requests are bounded; a tick that finds every slot busy is counted
//!   late and not sent (the server fell behind the offered rate).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Builds the request each client sends, again and again.
pub type MakeRequest = Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;

/// What one loop measured.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    /// Answers with a 2xx status.
    pub ok: u64,
    /// Other answers and transport errors.
    pub failed: u64,
    /// Open loop only: ticks not sent because every slot was busy.
    pub late: u64,
    /// The first failure, to say why.
    pub first_failure: Option<String>,
    pub elapsed: Duration,
    /// Latency of each 2xx answer, in milliseconds.
    pub latencies_ms: Vec<f64>,
}

impl LoadResult {
    /// 2xx answers per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `clients` loops of `make` against one shared client until
/// `duration` passes or `max_requests` have been sent, whichever is first.
pub async fn closed_loop(
    client: &reqwest::Client,
    make: MakeRequest,
    clients: usize,
    duration: Duration,
    max_requests: u64,
) -> LoadResult {
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let (client, make, issued) = (client.clone(), make.clone(), issued.clone());
        tasks.spawn(async move {
            let mut mine = LoadResult::default();
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max_requests
            {
                let sent = Instant::now();
                let outcome = make(&client).send().await;
                let answered = sent.elapsed();
                match outcome {
                    Ok(response) if response.status().is_success() => {
                        // Read the body: the answer is complete only then.
                        let _ = response.bytes().await;
                        mine.ok += 1;
                        mine.latencies_ms.push(answered.as_secs_f64() * 1e3);
                    }
                    Ok(response) => {
                        mine.failed += 1;
                        if mine.first_failure.is_none() {
                            let status = response.status();
                            let body = response.text().await.unwrap_or_default();
                            mine.first_failure = Some(format!("{status}: {body}"));
                        }
                    }
                    Err(e) => {
                        mine.failed += 1;
                        mine.first_failure.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            mine
        });
    }
    let mut total = LoadResult::default();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(mine) = joined {
            total.ok += mine.ok;
            total.failed += mine.failed;
            total.latencies_ms.extend(mine.latencies_ms);
            if total.first_failure.is_none() {
                total.first_failure = mine.first_failure;
            }
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// Sends `make` at `rate` requests per second, with at most `max_in_flight`
/// unanswered, until `duration` passes or `max_requests` have been due;
/// then waits for the answers still out, so the work they caused is done
/// when this returns.
pub async fn open_loop(
    client: &reqwest::Client,
    make: MakeRequest,
    rate: f64,
    duration: Duration,
    max_requests: u64,
    max_in_flight: usize,
) -> LoadResult {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1)));
    let started = Instant::now();
    let period = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let mut tasks = tokio::task::JoinSet::new();
    let mut total = LoadResult::default();
    let mut due: u64 = 0;
    while due < max_requests {
        // Request i is due at i x period from the start: a late wake-up is
        // caught up at once, so the offered count stays rate x duration.
        let at = started + period.mul_f64(due as f64);
        if at >= started + duration {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        due += 1;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            total.late += 1;
            continue;
        };
        let (client, make) = (client.clone(), make.clone());
        tasks.spawn(async move {
            let _slot = slot;
            let sent = Instant::now();
            let outcome = make(&client).send().await;
            let answered = sent.elapsed();
            match outcome {
                Ok(response) if response.status().is_success() => {
                    let _ = response.bytes().await;
                    Ok(answered.as_secs_f64() * 1e3)
                }
                Ok(response) => {
                    let status = response.status();
                    Err(format!(
                        "{status}: {}",
                        response.text().await.unwrap_or_default()
                    ))
                }
                Err(e) => Err(e.to_string()),
            }
        });
        // Reap finished requests as we go, so the set stays small.
        while let Some(joined) = tasks.try_join_next() {
            tally(&mut total, joined);
        }
    }
    while let Some(joined) = tasks.join_next().await {
        tally(&mut total, joined);
    }
    total.elapsed = started.elapsed();
    total
}

fn tally(total: &mut LoadResult, joined: Result<Result<f64, String>, tokio::task::JoinError>) {
    match joined {
        Ok(Ok(latency_ms)) => {
            total.ok += 1;
            total.latencies_ms.push(latency_ms);
        }
        Ok(Err(why)) => {
            total.failed += 1;
            total.first_failure.get_or_insert(why);
        }
        Err(e) => {
            total.failed += 1;
            total.first_failure.get_or_insert_with(|| e.to_string());
        }
    }
}

/// An HTTP client for load: keep-alive, no proxy, a generous timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(90))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a plain HTTP client always builds")
}
