//! How many charges may be on their way to payment at once.
//!
//! ===========================================================================
//! PLANTED BOTTLENECK (on purpose, for teaching): a client pool of one.
//!
//! By default order keeps ONE connection slot for payment, as a client
//! whose pool was left at size 1 would: a charge takes the slot, holds it
//! until payment's answer is read, and every other charge waits for it.
//! The wait happens BEFORE the charge's CLIENT span (`POST`) starts, since
//! the span is the HTTP call and the call has not begun. So the queue is
//! not a span of its own: in order's PlaceOrder SERVER span it is a gap
//! between the end of the Reserve call and the start of the `POST`, self
//! time of order that grows with the number of checkouts in flight while
//! payment itself stays fast.
//!
//! `--fix-payment-pool` (TRACEMESH_FIX_PAYMENT_POOL) removes the limit:
//! charges then go out concurrently. Nothing relies on the limit; payment
//! is idempotent by key and takes concurrent charges.
//!
//! The wait is bounded by the charge's deadline (`--payment-timeout-ms`,
//! which covers the wait and the call), and the slot is a semaphore
//! permit: dropping a waiting or a running charge (its caller gave up)
//! leaves the queue or frees the slot, so the pool cannot be lost.
//! ===========================================================================

use std::sync::Arc;
use tracemesh_runtime::overlap::{Inside, Overlap};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::Config;

/// The size of the planted pool.
const PLANTED_POOL_SIZE: usize = 1;

/// Whether the planted limit is in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// The default: one charge at a time, process-wide.
    Planted,
    /// `--fix-payment-pool`: no limit.
    Fixed,
}

/// The slots for calls to payment, shared by every charge (clones share
/// them).
#[derive(Debug, Clone)]
pub struct PaymentPool {
    /// `Some` while the planted limit is in place.
    slots: Option<Arc<Semaphore>>,
    overlap: Arc<Overlap>,
}

/// The deadline passed while the charge was still waiting for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSlotInTime;

/// A charge's right to call payment; frees the slot when dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
    _in_call: Inside,
}

impl PaymentPool {
    pub fn new(mode: PoolMode) -> PaymentPool {
        let slots = match mode {
            PoolMode::Planted => Some(Arc::new(Semaphore::new(PLANTED_POOL_SIZE))),
            PoolMode::Fixed => None,
        };
        PaymentPool {
            slots,
            overlap: Arc::default(),
        }
    }

    pub fn from_config(config: &Config) -> PaymentPool {
        PaymentPool::new(if config.fix_payment_pool {
            PoolMode::Fixed
        } else {
            PoolMode::Planted
        })
    }

    /// Waits for a slot until `deadline`: at once when fixed, in turn
    /// behind the charges already waiting when planted (tokio's semaphore
    /// is fair: first come, first served).
    pub async fn slot(&self, deadline: Instant) -> Result<Slot, NoSlotInTime> {
        let permit = match &self.slots {
            Some(slots) => {
                let acquired = tokio::time::timeout_at(deadline, slots.clone().acquire_owned())
                    .await
                    .map_err(|_| NoSlotInTime)?;
                // The semaphore is never closed: only a bug could get here.
                Some(acquired.expect("the payment pool's semaphore is never closed"))
            }
            None => None,
        };
        Ok(Slot {
            _permit: permit,
            _in_call: self.overlap.enter(),
        })
    }

    /// The most charges that have held a slot at the same moment since
    /// start: 1 with the planted pool however heavy the load, more once
    /// fixed. How tests see the mechanism without timing anything.
    pub fn max_concurrent_calls(&self) -> usize {
        self.overlap.max()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// `n` charges of 8 ms each, concurrently on one task. Time is paused,
    /// so no sleep ends before every charge that can take a slot has taken
    /// one: the overlap counted does not depend on this machine's speed.
    async fn charge_concurrently(pool: &PaymentPool, n: usize) -> Vec<Result<(), NoSlotInTime>> {
        let deadline = Instant::now() + Duration::from_secs(2);
        futures::future::join_all((0..n).map(|_| async {
            let _slot = pool.slot(deadline).await?;
            tokio::time::sleep(Duration::from_millis(8)).await;
            Ok(())
        }))
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn with_the_planted_pool_charges_go_one_at_a_time() {
        let pool = PaymentPool::new(PoolMode::Planted);
        let results = charge_concurrently(&pool, 10).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(pool.max_concurrent_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn with_the_pool_fixed_charges_go_concurrently() {
        let pool = PaymentPool::new(PoolMode::Fixed);
        charge_concurrently(&pool, 10).await;
        assert_eq!(pool.max_concurrent_calls(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn a_charge_waits_no_longer_than_its_deadline() {
        let pool = PaymentPool::new(PoolMode::Planted);
        let held = pool.slot(Instant::now()).await.unwrap();
        let waited = pool
            .slot(Instant::now() + Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(waited, NoSlotInTime);
        // The slot was never taken from its holder; freed, it is free.
        drop(held);
        pool.slot(Instant::now()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_charge_frees_its_slot_and_leaves_the_count() {
        let pool = PaymentPool::new(PoolMode::Planted);
        // A charge abandoned mid-call, as a caller hitting its deadline
        // would abandon it.
        let abandoned = tokio::time::timeout(Duration::from_millis(5), async {
            let _slot = pool.slot(Instant::now() + Duration::from_secs(2)).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        })
        .await;
        assert!(abandoned.is_err());
        assert_eq!(pool.overlap.current(), 0);
        pool.slot(Instant::now()).await.unwrap();
    }

    #[test]
    fn the_pool_is_planted_unless_the_fix_flag_is_set() {
        let config = |fix_payment_pool| Config {
            inventory_url: String::new(),
            payment_url: String::new(),
            payment_timeout_ms: 2000,
            fix_payment_pool,
        };
        assert!(PaymentPool::from_config(&config(false)).slots.is_some());
        assert!(PaymentPool::from_config(&config(true)).slots.is_none());
    }
}
