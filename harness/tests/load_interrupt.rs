//! Ctrl-c during a load run: the load stops early, `run_load` still
//! returns what was sent, marked interrupted, and no ctrl-c kills the
//! process (goose's own handler would exit on the second one).
//!
//! A real SIGINT is sent to this test process, so this file holds one test:
//! its own process, nothing else to disturb.

mod load_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use load_support::FixtureGateway;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tracemesh_harness::load::{interrupt, run_load};

fn ctrl_c() {
    kill(Pid::this(), Signal::SIGINT).expect("SIGINT sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_ends_the_load_early_keeps_the_requests_and_never_kills_the_process() {
    let gateway = FixtureGateway::start().await;
    let mut plan = load_support::plan(&gateway.url);
    // Far longer than the test: only the ctrl-c can end it in time.
    plan.run_time = Duration::from_secs(600);
    let mut interrupts = interrupt::interrupts();

    // Ctrl-c twice, as an impatient user would, once requests are flowing.
    let pressed = Arc::new(AtomicBool::new(false));
    let outcome = run_load(&plan, move |progress| {
        if progress.requests > 0 && !pressed.swap(true, Ordering::SeqCst) {
            ctrl_c();
            ctrl_c();
        }
    })
    .await
    .expect("an interrupted run is still a run");

    assert!(outcome.interrupted);
    assert!(!outcome.requests.is_empty());
    // Everything recorded was sent, and everything sent was recorded.
    assert_eq!(outcome.requests.len(), gateway.received().len());

    // After the run goose's killswitch is still tripped: goose's handler
    // would now exit(1) on any ctrl-c. Ours counts it, and we live on.
    interrupts.mark_unchanged();
    let before = *interrupts.borrow();
    ctrl_c();
    tokio::time::timeout(Duration::from_secs(30), interrupts.changed())
        .await
        .expect("the ctrl-c was counted")
        .unwrap();
    assert!(*interrupts.borrow() > before);
}
