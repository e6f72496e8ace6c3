//! Faults the mesh survives, against the real processes of `tracemesh up`:
//!
//! - each service SIGKILLed in turn under load, then restarted by
//!   `up --restart`: every request is answered in bounded time, failures
//!   are 5xx with a JSON body and a trace ending in an error at the hop that
//!   failed, the mesh recovers by itself, no acknowledged order is lost;
//! - a service hung with SIGSTOP: deadlines fire, nothing waits for ever,
//!   no descriptors leak once it resumes;
//! - SIGTERM to each service under load: the requests it was serving finish
//!   and their spans reach the collector.
//!
//! The collector faults (outage, slow answers) are in `collector_faults.rs`.
//! Figures are printed (`cargo test --test faults -- --nocapture`) and
//! quoted in RELIABILITY.md.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::load::{CLIENT_TIMEOUT, Load, Outcome, open_fds, stored_order_ids};
use common::{GOOD_CARD, Mesh, Service, checkout_body};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tracemesh_harness::model::{SpanKind, StatusCode};

/// Who calls each service on the checkout path: where the error span of a
/// failed checkout must sit when that service is down.
fn caller_of(service: Service) -> Service {
    match service {
        Service::User | Service::Order => Service::Gateway,
        Service::Inventory | Service::Payment => Service::Order,
        Service::Gateway => panic!("the gateway has no caller in the mesh"),
    }
}

fn signal(pid: u32, signal: Signal) {
    kill(Pid::from_raw(pid as i32), signal).unwrap();
}

/// Checks out until one succeeds; returns how long that took.
async fn wait_for_successful_checkout(mesh: &Mesh, within: Duration) -> Duration {
    let http = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .unwrap();
    let started = Instant::now();
    loop {
        let body = checkout_body("u-1001", common::load::PLENTIFUL_SKU, 1, GOOD_CARD);
        if let Ok(response) = http
            .post(mesh.url("/api/checkout"))
            .json(&body)
            .send()
            .await
            && response.status() == 201
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "no successful checkout within {within:?}: the mesh did not recover"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The answers a client may get while a service is down: the gateway's 5xx
/// with a JSON error body. Returns the failed outcomes.
fn assert_failures_are_clean(service: Service, outcomes: &[Outcome]) -> Vec<&Outcome> {
    let mut failed = Vec::new();
    for o in outcomes {
        assert!(
            !o.timed_out,
            "{service} down: a request hung for {:?}",
            o.elapsed
        );
        match o.status {
            Some(201) => {}
            Some(502..=504) => {
                assert!(
                    o.error_code.is_some(),
                    "{service} down: a {:?} without a JSON error body",
                    o.status
                );
                failed.push(o);
            }
            // The gateway itself down: nothing listens, nothing answers.
            None if service == Service::Gateway => failed.push(o),
            other => panic!(
                "{service} down: unexpected answer {other:?} ({:?}, {:?})",
                o.error_code, o.transport_error
            ),
        }
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_killed_under_load_is_restarted_and_no_order_is_lost() {
    let _alone = common::one_load_at_a_time().await;
    let mut mesh = Mesh::start().await;
    let mut acknowledged = Vec::new();
    let mut survived = 0;
    for service in [
        Service::Payment,
        Service::Inventory,
        Service::User,
        Service::Order,
        Service::Gateway,
    ] {
        let load = Load::start(&mesh.gateway, 4);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let pid = mesh.pid(service);
        let killed_at = Instant::now();
        signal(pid, Signal::SIGKILL);
        common::wait_until_gone(pid);
        let new_pid = mesh.wait_for_restart(service).await;
        assert_ne!(new_pid, pid);
        wait_for_successful_checkout(&mesh, Duration::from_secs(30)).await;
        let downtime = killed_at.elapsed();
        // Keep the load on a while after recovery: the mesh must stay healthy.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let outcomes = load.finish().await;

        let failed = assert_failures_are_clean(service, &outcomes);
        let slowest = outcomes.iter().map(|o| o.elapsed).max().unwrap_or_default();
        println!(
            "SIGKILL {service}: {} requests, {} failed, slowest answer {slowest:?}, \
             back to a successful checkout {downtime:?} after the kill",
            outcomes.len(),
            failed.len()
        );
        assert!(
            !failed.is_empty(),
            "{service} was down for about a second under load, yet no request failed"
        );
        // Every request after recovery succeeded: no lasting damage (a
        // stale pooled connection may fail the first one, hence the margin).
        let after = outcomes
            .iter()
            .filter(|o| o.started > killed_at + downtime + Duration::from_millis(200));
        for o in after {
            assert_eq!(
                o.status,
                Some(201),
                "{service}: failed after recovery: {o:?}"
            );
        }
        if service != Service::Gateway {
            assert_error_at_the_failed_hop(&mesh, service, &failed).await;
        }
        acknowledged.extend(outcomes.iter().filter_map(|o| o.order_id.clone()));
        survived += 1;
    }

    // No acknowledged order lost, none stored twice.
    let stored = stored_order_ids(mesh.data_dir.path());
    let unique: HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "an order id stored twice");
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !unique.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    println!(
        "faults survived {survived}/5; {} orders acknowledged, all stored; {} stored in all \
         (the rest were placed while their answer was lost with a killed gateway or order service)",
        acknowledged.len(),
        stored.len()
    );
    mesh.stop().await;
}

/// The trace of a few failed checkouts: an ERROR CLIENT span in the caller
/// of the service that was down.
async fn assert_error_at_the_failed_hop(mesh: &Mesh, service: Service, failed: &[&Outcome]) {
    let caller = caller_of(service);
    for o in failed.iter().filter(|o| o.trace_id.is_some()).take(3) {
        let trace_id = o.trace_id.as_deref().unwrap();
        let spans = mesh.ready_trace(trace_id).await;
        let error_at_hop = spans.iter().any(|s| {
            s.service_name == caller.name()
                && s.kind == SpanKind::Client
                && s.status.code == StatusCode::Error
        });
        assert!(
            error_at_hop,
            "{service} down: trace {trace_id} has no ERROR client span in {caller}: {:#?}",
            spans
                .iter()
                .map(|s| (&s.service_name, &s.name, s.kind, s.status.code))
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_service_makes_deadlines_fire_and_leaks_nothing() {
    let _alone = common::one_load_at_a_time().await;
    let mut mesh = Mesh::start().await;
    // Warm every connection first, so the descriptor count is steady.
    wait_for_successful_checkout(&mesh, Duration::from_secs(10)).await;
    let watched = [Service::Gateway, Service::Order];
    let fds_before: Vec<usize> = watched.iter().map(|s| open_fds(mesh.pid(*s))).collect();

    for service in [Service::Inventory, Service::Payment] {
        let load = Load::start(&mesh.gateway, 4);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let pid = mesh.pid(service);
        signal(pid, Signal::SIGSTOP);
        // Longer than the 3 s request deadline: requests must give up.
        tokio::time::sleep(Duration::from_secs(4)).await;
        signal(pid, Signal::SIGCONT);
        let recovered = wait_for_successful_checkout(&mesh, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let outcomes = load.finish().await;
        let failed = assert_failures_are_clean(service, &outcomes);
        let slowest = outcomes.iter().map(|o| o.elapsed).max().unwrap_or_default();
        println!(
            "SIGSTOP {service} for 4 s: {} requests, {} failed ({:?}), slowest answer {slowest:?}, \
             successful checkout {recovered:?} after SIGCONT",
            outcomes.len(),
            failed.len(),
            failed
                .iter()
                .map(|o| o.error_code.clone().unwrap_or_default())
                .collect::<HashSet<_>>()
        );
        assert!(
            failed.iter().any(|o| o.status == Some(504)),
            "{service} hung for 4 s, yet no deadline fired"
        );
        // The gateway's own budget is the 3 s downstream deadline, plus
        // the order service's inside it: far below the client's 15 s.
        assert!(
            slowest < Duration::from_secs(8),
            "{service} hung: an answer took {slowest:?}"
        );
    }

    // Let abandoned calls finish and idle connections close, then count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (service, before) in watched.iter().zip(fds_before) {
        let after = open_fds(mesh.pid(*service));
        println!("{service}: {before} descriptors before the hangs, {after} after");
        assert!(
            after <= before + 4,
            "{service} leaks descriptors: {before} before, {after} after"
        );
    }
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_finishes_in_flight_requests_and_flushes_their_spans() {
    let _alone = common::one_load_at_a_time().await;
    // Without the planted pool of one: it queues three of the four charges
    // in order, before their call to payment, so a SIGTERM to payment would
    // find one request in flight there, not four, and the three behind it
    // would meet a stopped process. This test is about requests in flight.
    let mut mesh = Mesh::start_with(&[("TRACEMESH_FIX_PAYMENT_POOL", "true")]).await;
    for service in [
        Service::Payment,
        Service::Inventory,
        Service::Order,
        Service::User,
        Service::Gateway,
    ] {
        // Slow the service down so that requests are surely in flight when
        // SIGTERM arrives. The restarted process starts without the fault.
        let slow = "operations:\n  \"*\":\n    latency: {distribution: fixed, ms: 400}\n";
        mesh.set_faults(service, slow).await;
        let http = reqwest::Client::new();
        let in_flight: Vec<_> = (0..4)
            .map(|i| {
                let (http, url) = (http.clone(), mesh.url("/api/checkout"));
                let body = checkout_body(
                    &format!("u-100{}", i + 1),
                    common::load::PLENTIFUL_SKU,
                    1,
                    GOOD_CARD,
                );
                tokio::spawn(async move {
                    let response = http.post(url).json(&body).send().await.unwrap();
                    (response.status().as_u16(), common::trace_id_of(&response))
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let pid = mesh.pid(service);
        signal(pid, Signal::SIGTERM);
        for task in in_flight {
            let (status, trace_id) = task.await.unwrap();
            assert_eq!(
                status, 201,
                "{service} stopping: an in-flight request failed"
            );
            // The stopping service flushed its spans of this request.
            let spans = mesh.wait_for_trace(&trace_id, &[service.name()]).await;
            assert!(spans.iter().any(|s| s.service_name == service.name()));
        }
        // `up --restart` restarts whatever exits on its own, cleanly or not.
        mesh.wait_for_restart(service).await;
        wait_for_successful_checkout(&mesh, Duration::from_secs(30)).await;
        println!("SIGTERM {service}: 4 in-flight checkouts answered 201, their spans flushed");
    }
    mesh.stop().await;
}
