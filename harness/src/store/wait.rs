//! Waiting for spans without sleep-and-hope.
//!
//! Spans reach the store asynchronously (batch processors flush on a timer),
//! so a test that checks right after its request races the exporter. Instead
//! of sleeping a fixed time, tests wait on the store: every insert wakes the
//! waiters (a `tokio::sync::Notify`), which re-check their condition, and a
//! deadline bounds the wait.

use std::time::{Duration, Instant};

use super::TraceStore;

impl TraceStore {
    /// Waits until `predicate` holds, re-checking after every insert.
    /// Returns `false` if it still does not hold when `deadline` has passed.
    pub async fn wait_until<F>(&self, predicate: F, deadline: Duration) -> bool
    where
        F: Fn(&TraceStore) -> bool,
    {
        let give_up_at = tokio::time::Instant::now() + deadline;
        loop {
            let inserted = self.shared.inserted.notified();
            tokio::pin!(inserted);
            // Register for the wake-up *before* checking: an insert landing
            // between the check and the await would otherwise be missed.
            inserted.as_mut().enable();
            if predicate(self) {
                return true;
            }
            if tokio::time::timeout_at(give_up_at, inserted).await.is_err() {
                return predicate(self);
            }
        }
    }

    /// Waits until at least `count` spans are stored.
    pub async fn wait_for_spans(&self, count: usize, deadline: Duration) -> bool {
        self.wait_until(|store| store.total_spans() >= count, deadline)
            .await
    }

    /// Waits until no span has been accepted for `quiet` (measured from the
    /// last accepted span, or from the store's creation if none came yet).
    /// Useful when the expected count is unknown: "everything has arrived"
    /// becomes "nothing new for a while". Returns `false` at the deadline.
    pub async fn wait_for_quiet(&self, quiet: Duration, deadline: Duration) -> bool {
        let give_up_at = Instant::now() + deadline;
        loop {
            let inserted = self.shared.inserted.notified();
            tokio::pin!(inserted);
            inserted.as_mut().enable();

            let last_activity = self
                .lock()
                .last_accepted_at
                .unwrap_or(self.shared.created_at);
            let quiet_at = last_activity + quiet;
            let now = Instant::now();
            if now >= quiet_at {
                return true;
            }
            if now >= give_up_at {
                return false;
            }
            // Sleep exactly until the store would be quiet (or we give up),
            // unless an insert comes first and moves the goal.
            let wake_at = tokio::time::Instant::from_std(quiet_at.min(give_up_at));
            tokio::select! {
                _ = &mut inserted => {}
                _ = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::batch;

    #[tokio::test]
    async fn wait_until_wakes_on_insert() {
        let started = Instant::now();
        let store = TraceStore::new(100);
        let writer = store.clone();
        let waiter =
            tokio::spawn(async move { store.wait_for_spans(2, Duration::from_secs(10)).await });
        tokio::task::yield_now().await;
        writer.insert(vec![batch("a", &[(1, 1)])]);
        writer.insert(vec![batch("a", &[(1, 2)])]);
        assert!(waiter.await.unwrap());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "woken by the insert, not the deadline"
        );
    }

    #[tokio::test]
    async fn wait_until_gives_up_at_the_deadline() {
        let store = TraceStore::new(100);
        assert!(!store.wait_for_spans(1, Duration::from_millis(20)).await);
    }

    #[tokio::test]
    async fn wait_for_quiet_returns_once_nothing_arrives() {
        let store = TraceStore::new(100);
        store.insert(vec![batch("a", &[(1, 1)])]);
        assert!(
            store
                .wait_for_quiet(Duration::from_millis(30), Duration::from_secs(10))
                .await
        );
    }

    #[tokio::test]
    async fn wait_for_quiet_fails_when_spans_keep_arriving() {
        let store = TraceStore::new(100);
        let writer = store.clone();
        let feeding = tokio::spawn(async move {
            for i in 0..40u8 {
                writer.insert(vec![batch("a", &[(1, i + 1)])]);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        assert!(
            !store
                .wait_for_quiet(Duration::from_millis(150), Duration::from_millis(100))
                .await
        );
        feeding.await.unwrap();
    }
}
