//! Ctrl-c during a load run: stop the load, keep what was sent.
//!
//! What goose 0.19 does on its own: when a run starts it installs a
//! process-wide ctrl-c handler (the `ctrlc` crate, SIGINT only). The first
//! ctrl-c trips goose's global *killswitch*: users finish the transaction
//! in flight, goose writes its reports and `execute` returns its metrics.
//! A second ctrl-c, or any ctrl-c after a run ended while the killswitch is
//! still tripped, calls `std::process::exit(1)`: `tracemesh run` would die
//! before writing its partial report or stopping its child services.
//!
//! What we do instead: `ctrlc` takes one handler per process, and goose
//! shrugs when one is there already (it logs "reset ctrl-c handler" at
//! info level and carries on). So [`claim_ctrl_c`], called by `run_load`
//! before goose starts, installs ours first. On every ctrl-c it
//!
//! 1. trips goose's killswitch, which stops a run in progress exactly as
//!    goose's own first ctrl-c would (and does nothing between runs);
//! 2. counts the ctrl-c, so `run_load` can say the run was interrupted and
//!    anyone can wait for it with [`interrupts`].
//!
//! It never exits the process: stopping is the caller's decision.
//!
//! A side effect to know: `ctrlc` *replaces* the process's SIGINT handler.
//! A `tokio::signal::ctrl_c()` registered before the claim stops firing; one
//! registered after it still fires (tokio's signal registry chains to the
//! handler it found). A binary that also waits for ctrl-c elsewhere should
//! call [`claim_ctrl_c`] at startup, or wait on [`interrupts`].

use std::sync::OnceLock;

use tokio::sync::watch;

/// How many ctrl-c arrived since the claim. `None` until claimed.
static INTERRUPTS: OnceLock<watch::Sender<u64>> = OnceLock::new();

/// Installs the ctrl-c handler described above, once per process; later
/// calls do nothing. If some other `ctrlc` handler was installed first, ctrl-c
/// stays with it (a warning says so) and load runs still stop on goose's
/// killswitch if that handler trips it.
pub fn claim_ctrl_c() {
    INTERRUPTS.get_or_init(|| {
        let (sender, _) = watch::channel(0u64);
        let counter = sender.clone();
        let installed = ctrlc::set_handler(move || {
            goose::trigger_killswitch("ctrl-c");
            // `send_modify` stores even when nobody is subscribed yet.
            counter.send_modify(|count| *count += 1);
        });
        if let Err(error) = installed {
            tracing::warn!(%error, "ctrl-c is handled elsewhere; load runs rely on that handler");
        }
        sender
    });
}

/// A receiver of the ctrl-c count: `changed().await` wakes on the next
/// ctrl-c. Claims ctrl-c if nobody has yet.
pub fn interrupts() -> watch::Receiver<u64> {
    claim_ctrl_c();
    INTERRUPTS
        .get()
        .expect("claim_ctrl_c initialises the counter")
        .subscribe()
}

/// How many ctrl-c arrived so far (0 before the claim).
pub fn interrupt_count() -> u64 {
    INTERRUPTS.get().map_or(0, |sender| *sender.borrow())
}
