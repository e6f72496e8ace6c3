//! A closed loop of N concurrent HTTP clients: each sends its next request
//! as soon as the previous one is answered, so the server is kept saturated
//! and the rate measured is what it can serve. Connections are kept alive
//! (one per client, as reqwest's pool does for HTTP/1.1).

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

/// An HTTP client for load: keep-alive, no proxy, a generous timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(90))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a plain HTTP client always builds")
}
