//! The warehouse check that every Reserve makes before touching stock.
//!
//! ===========================================================================
//! PLANTED BOTTLENECK (on purpose, for teaching; HotROD-style)
//!
//! The "check" stands for a call to a slow warehouse system and is simulated
//! by a sleep of `--warehouse-check-ms`. By default it runs while holding ONE
//! GLOBAL LOCK, so concurrent Reserves queue behind each other: with N
//! requests in flight the last one waits about N x the check time, and
//! latency grows with load while the CPU sits idle. In a trace this shows as
//! a long `warehouse.lock.wait` span before a short `warehouse.check` span.
//!
//! `--fix-inventory-lock` (TRACEMESH_FIX_INVENTORY_LOCK) removes the lock:
//! checks then run concurrently. Nothing relies on the lock for correctness;
//! stock is protected by the database transaction (see [`crate::store`]).
//! ===========================================================================

use std::sync::Arc;
use std::time::Duration;
use tracemesh_runtime::overlap::Overlap;

use tracing::Instrument;

use crate::Config;

/// Whether the planted lock is in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// The default: one check at a time, process-wide.
    Planted,
    /// `--fix-inventory-lock`: checks run concurrently.
    Fixed,
}

/// The warehouse check, shared by every request (clones share the lock).
#[derive(Debug, Clone)]
pub struct Warehouse {
    check_time: Duration,
    /// `Some` while the planted lock is in place.
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
    overlap: Arc<Overlap>,
}

impl Warehouse {
    pub fn new(check_time: Duration, mode: LockMode) -> Warehouse {
        let lock = match mode {
            LockMode::Planted => Some(Arc::new(tokio::sync::Mutex::new(()))),
            LockMode::Fixed => None,
        };
        Warehouse {
            check_time,
            lock,
            overlap: Arc::default(),
        }
    }

    pub fn from_config(config: &Config) -> Warehouse {
        let mode = if config.fix_inventory_lock {
            LockMode::Fixed
        } else {
            LockMode::Planted
        };
        Warehouse::new(Duration::from_millis(config.warehouse_check_ms), mode)
    }

    /// Runs one check: behind the planted lock, or straight away once fixed.
    /// If the caller gives up (deadline), dropping this future releases the
    /// lock and leaves the queue.
    pub async fn check(&self) {
        match &self.lock {
            Some(lock) => {
                // The span covers only the wait: that is the time the lock
                // costs, and what a reader of the trace should notice.
                let _held = lock
                    .lock()
                    .instrument(tracing::info_span!(
                        "warehouse.lock.wait",
                        otel.kind = "internal"
                    ))
                    .await;
                self.run_check().await;
            }
            None => self.run_check().await,
        }
    }

    async fn run_check(&self) {
        let _in_check = self.overlap.enter();
        tokio::time::sleep(self.check_time)
            .instrument(tracing::info_span!(
                "warehouse.check",
                otel.kind = "internal",
                warehouse.lock_held = self.lock.is_some()
            ))
            .await;
    }

    /// The most checks that have run at the same moment since start: 1 with
    /// the planted lock however heavy the load, more once fixed. This is how
    /// tests see the mechanism without timing anything.
    pub fn max_concurrent_checks(&self) -> usize {
        self.overlap.max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `n` checks concurrently on one task. Time is paused, so no
    /// sleep ends before every check that can start has started: the
    /// overlap counted does not depend on this machine's speed.
    async fn check_concurrently(warehouse: &Warehouse, n: usize) {
        futures::future::join_all((0..n).map(|_| warehouse.check())).await;
    }

    #[tokio::test(start_paused = true)]
    async fn with_the_planted_lock_checks_run_one_at_a_time() {
        let warehouse = Warehouse::new(Duration::from_millis(15), LockMode::Planted);
        check_concurrently(&warehouse, 10).await;
        assert_eq!(warehouse.max_concurrent_checks(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn with_the_lock_fixed_checks_run_concurrently() {
        let warehouse = Warehouse::new(Duration::from_millis(15), LockMode::Fixed);
        check_concurrently(&warehouse, 10).await;
        assert_eq!(warehouse.max_concurrent_checks(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn the_lock_is_planted_unless_the_fix_flag_is_set() {
        let planted = Warehouse::from_config(&Config {
            warehouse_check_ms: 15,
            fix_inventory_lock: false,
            fix_catalog_queries: false,
        });
        check_concurrently(&planted, 5).await;
        assert_eq!(planted.max_concurrent_checks(), 1);

        let fixed = Warehouse::from_config(&Config {
            warehouse_check_ms: 15,
            fix_inventory_lock: true,
            fix_catalog_queries: false,
        });
        check_concurrently(&fixed, 5).await;
        assert_eq!(fixed.max_concurrent_checks(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_check_leaves_the_queue_and_the_count() {
        let warehouse = Warehouse::new(Duration::from_millis(15), LockMode::Planted);
        // Start a check and abandon it mid-sleep, as a caller hitting its
        // deadline would.
        let abandoned = tokio::time::timeout(Duration::from_millis(5), warehouse.check()).await;
        assert!(abandoned.is_err());
        assert_eq!(warehouse.overlap.current(), 0);
        // The lock was released: the next check runs.
        check_concurrently(&warehouse, 1).await;
        assert_eq!(warehouse.max_concurrent_checks(), 1);
    }
}
