//! The shared record of a load run: every [`SentRequest`], plus two
//! counters the progress line reads without taking the lock.
//!
//! Goose runs each user as its own tokio task, so the record is shared
//! (`Arc<Recorder>`) and the list sits behind a mutex. Pushing one entry is
//! cheap and never held across an await, so a plain `std::sync::Mutex`
//! fits.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::model::SentRequest;

#[derive(Debug, Default)]
pub(crate) struct Recorder {
    requests: Mutex<Vec<SentRequest>>,
    answered: AtomicU64,
    unexpected: AtomicU64,
}

impl Recorder {
    /// Adds one finished request (answered or not).
    pub(crate) fn record(&self, request: SentRequest) {
        let expected = request.status == Some(request.kind.expected_status());
        // A panicking user task cannot leave a half-pushed Vec behind, so a
        // poisoned lock still holds a consistent list: keep recording.
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        requests.push(request);
        self.answered.fetch_add(1, Ordering::Relaxed);
        if !expected {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests recorded so far, and how many of them did not get the
    /// kind's expected status (no answer counts as unexpected).
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.answered.load(Ordering::Relaxed),
            self.unexpected.load(Ordering::Relaxed),
        )
    }

    /// Everything recorded, in completion order; leaves the record empty.
    pub(crate) fn take(&self) -> Vec<SentRequest> {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *requests)
    }
}
