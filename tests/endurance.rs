//! A sustained load on one mesh: nothing lost, nothing leaking, nothing
//! oversold. The length is `TRACEMESH_ENDURANCE_SECS` (default 60, what CI
//! runs); RELIABILITY.md quotes a longer run of the same test.
//!
//! Checked at the end: every answer was 201 or an honest 409 out_of_stock;
//! the orders stored are exactly the orders acknowledged; per product, the
//! stock taken equals the quantity ordered and never goes below zero; every
//! span the services ended is in the store (their own counts, after a
//! flush); and from the end of a 10 s warm-up to the end, no service grew by
//! more than [`RSS_GROWTH_BOUND`] of resident memory or [`FD_GROWTH_BOUND`]
//! descriptors.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use common::load::{Load, open_fds, rss_bytes, stored_order_ids};
use common::{Mesh, Service};

/// Products with stock in the thousands (8,000 units in all), one per
/// client; a run longer than about two minutes sells them out, and from then
/// on 409 out_of_stock is the right answer (a full path through gateway,
/// user, order and inventory, without payment).
const SKUS: [&str; 4] = ["CAB-004", "KEY-001", "MOU-002", "HDP-005"];
const WARM_UP: Duration = Duration::from_secs(10);
const RSS_GROWTH_BOUND: u64 = 32 * 1024 * 1024;
const FD_GROWTH_BOUND: usize = 8;

fn duration() -> Duration {
    let secs = std::env::var("TRACEMESH_ENDURANCE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs).max(WARM_UP + Duration::from_secs(10))
}

async fn stock(mesh: &Mesh) -> BTreeMap<String, i64> {
    let products: serde_json::Value = reqwest::get(mesh.url("/api/products"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    products["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["sku"].as_str().unwrap().to_owned(),
                p["stock"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sustained_load_loses_nothing_leaks_nothing_and_oversells_nothing() {
    let run_for = duration();
    let mut mesh = Mesh::start().await;
    let stock_before = stock(&mesh).await;
    let started = Instant::now();
    let load = Load::start_buying(&mesh.gateway, SKUS.len(), &SKUS);

    tokio::time::sleep(WARM_UP).await;
    let pids: Vec<u32> = Service::ALL.iter().map(|s| mesh.pid(*s)).collect();
    let rss_warm: Vec<u64> = pids.iter().map(|p| rss_bytes(*p)).collect();
    let fds_warm: Vec<usize> = pids.iter().map(|p| open_fds(*p)).collect();
    let (mut rss_peak, mut fds_peak) = (rss_warm.clone(), fds_warm.clone());
    while started.elapsed() < run_for {
        tokio::time::sleep(Duration::from_secs(5)).await;
        for (i, pid) in pids.iter().enumerate() {
            rss_peak[i] = rss_peak[i].max(rss_bytes(*pid));
            fds_peak[i] = fds_peak[i].max(open_fds(*pid));
        }
    }
    let outcomes = load.finish().await;
    let elapsed = started.elapsed();

    // Answers: created, or sold out.
    let mut acknowledged = HashSet::new();
    let mut sold_out = 0;
    for o in &outcomes {
        match (o.status, o.error_code.as_deref()) {
            (Some(201), _) => {
                acknowledged.insert(o.order_id.clone().expect("201 carries an order id"));
            }
            (Some(409), Some("out_of_stock")) => sold_out += 1,
            _ => panic!("unexpected answer under steady load: {o:?}"),
        }
    }

    // Orders: stored exactly as acknowledged.
    let stored = stored_order_ids(mesh.data_dir.path());
    let stored_set: HashSet<String> = stored.iter().cloned().collect();
    assert_eq!(stored_set.len(), stored.len(), "an order id stored twice");
    assert_eq!(
        stored_set, acknowledged,
        "stored orders differ from acknowledged ones"
    );

    // Stock: taken == ordered, never negative.
    let stock_after = stock(&mesh).await;
    let db = rusqlite::Connection::open(mesh.data_dir.path().join("order.db")).unwrap();
    for sku in SKUS {
        let ordered: i64 = db
            .query_row(
                "SELECT COALESCE(SUM(quantity), 0) FROM order_lines WHERE sku = ?1",
                [sku],
                |row| row.get(0),
            )
            .unwrap();
        let (before, after) = (stock_before[sku], stock_after[sku]);
        assert!(after >= 0, "{sku} oversold: {after} available");
        assert_eq!(
            before - after,
            ordered,
            "{sku}: stock taken != quantity ordered"
        );
    }

    // Spans: every span ended is stored.
    let counts = mesh.flushed_export_counts().await;
    let stored_spans = mesh.wait_for_distinct_spans(counts.spans_ended).await;
    assert_eq!(
        counts.spans_failed + counts.spans_not_exported,
        0,
        "{counts:?}"
    );
    assert_eq!(stored_spans, counts.spans_ended, "spans lost: {counts:?}");

    // Memory and descriptors: bounded growth after the warm-up.
    let mut growth = Vec::new();
    for (i, service) in Service::ALL.iter().enumerate() {
        let rss_growth = rss_peak[i].saturating_sub(rss_warm[i]);
        let fd_growth = fds_peak[i].saturating_sub(fds_warm[i]);
        growth.push(format!(
            "{service} RSS {:.1} -> peak {:.1} MiB, fds {} -> peak {}",
            rss_warm[i] as f64 / 1048576.0,
            rss_peak[i] as f64 / 1048576.0,
            fds_warm[i],
            fds_peak[i]
        ));
        assert!(
            rss_growth <= RSS_GROWTH_BOUND,
            "{service} grew by {} bytes of RSS after the warm-up",
            rss_growth
        );
        assert!(
            fd_growth <= FD_GROWTH_BOUND,
            "{service} opened {fd_growth} more descriptors after the warm-up"
        );
    }
    println!(
        "endurance: {:.0} s, {} checkouts ({:.1}/s), {} acknowledged and stored, {sold_out} sold out; \
         {} spans ended, {stored_spans} stored, 0 lost\n  {}",
        elapsed.as_secs_f64(),
        outcomes.len(),
        outcomes.len() as f64 / elapsed.as_secs_f64(),
        acknowledged.len(),
        counts.spans_ended,
        growth.join("\n  ")
    );
    mesh.stop().await;
}
