//! When is a trace "all here"? Deciding without fixed sleeps.
//!
//! Spans reach a backend asynchronously: each service's batch processor
//! exports on its own timer, so the spans of one request trickle in from
//! five processes. Checking too early reports spans "missing" that were
//! merely late; sleeping a fixed time is either too short (flaky) or too
//! long (slow). A [`ReadinessPolicy`] says instead:
//!
//! - ready as soon as the expected span count has arrived ([`Readiness::Complete`]);
//! - or, when the count is unknown or never reached, once the count has not
//!   changed for a quiet period ([`Readiness::Stable`]);
//! - and never later than a deadline ([`Readiness::TimedOut`], with the count).
//!
//! Two ways to watch the count: [`wait_for_trace`] on the embedded
//! [`TraceStore`] sleeps until an insert wakes it (no polling), and
//! [`wait_polling`] asks any async `count()` function — a remote backend
//! such as Tempo can only be polled — at a short interval.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::store::TraceStore;

/// How long to wait for a trace, and what counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadinessPolicy {
    /// Ready as soon as this many spans have arrived, if known.
    pub expected_spans: Option<usize>,
    /// Ready once the count (at least one span) has not changed for this long.
    pub quiet: Duration,
    /// Give up after this long.
    pub deadline: Duration,
}

impl Default for ReadinessPolicy {
    /// No expected count; 500 ms quiet — longer than the mesh's batch export
    /// delay in tests, so a quiet period means no exporter still holds
    /// spans; 10 s deadline.
    fn default() -> Self {
        ReadinessPolicy {
            expected_spans: None,
            quiet: Duration::from_millis(500),
            deadline: Duration::from_secs(10),
        }
    }
}

impl ReadinessPolicy {
    /// The default policy, ready as soon as `spans` spans have arrived.
    pub fn expecting(spans: usize) -> ReadinessPolicy {
        ReadinessPolicy {
            expected_spans: Some(spans),
            ..ReadinessPolicy::default()
        }
    }
}

/// Why the wait ended, and with how many spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Readiness {
    /// The expected span count (or more) arrived.
    Complete { spans: usize },
    /// The count stopped changing for the quiet period (it may still be
    /// below an expected count: the check that follows will say so).
    Stable { spans: usize },
    /// The deadline passed first. Zero spans here means nothing arrived.
    TimedOut { spans: usize },
}

impl Readiness {
    pub fn spans(&self) -> usize {
        match self {
            Readiness::Complete { spans }
            | Readiness::Stable { spans }
            | Readiness::TimedOut { spans } => *spans,
        }
    }

    /// Complete or stable: worth checking now.
    pub fn is_ready(&self) -> bool {
        !matches!(self, Readiness::TimedOut { .. })
    }
}

/// Waits for trace `trace_id` in the embedded store, woken by its inserts.
pub async fn wait_for_trace(
    store: &TraceStore,
    trace_id: &str,
    policy: &ReadinessPolicy,
) -> Readiness {
    let mut watch = CountWatch::new(*policy, Instant::now());
    loop {
        let count = store.span_count(trace_id);
        let now = Instant::now();
        if let Some(readiness) = watch.observe(count, now) {
            return readiness;
        }
        // Sleep until the count changes or a decision falls due (quiet
        // period over, or deadline), whichever comes first.
        let until_decision = watch.next_decision_at().saturating_duration_since(now);
        store
            .wait_until(|s| s.span_count(trace_id) != count, until_decision)
            .await;
    }
}

/// Waits on any async span counter, asking it every `poll_interval`.
///
/// `count` is called at least once and again after each interval; a
/// backend error should be reported as the last count it knew (or 0), since
/// readiness is about arrival, not about the backend's health.
pub async fn wait_polling<F, Fut>(
    mut count: F,
    policy: &ReadinessPolicy,
    poll_interval: Duration,
) -> Readiness
where
    F: FnMut() -> Fut,
    Fut: Future<Output = usize>,
{
    let mut watch = CountWatch::new(*policy, Instant::now());
    loop {
        let observed = count().await;
        let now = Instant::now();
        if let Some(readiness) = watch.observe(observed, now) {
            return readiness;
        }
        let wake_at = watch.next_decision_at().min(now + poll_interval);
        tokio::time::sleep_until(wake_at).await;
    }
}

/// The decision, separated from the waiting so it is the same for both
/// ways of watching (and testable without a clock).
#[derive(Debug)]
struct CountWatch {
    policy: ReadinessPolicy,
    started: Instant,
    last_count: Option<usize>,
    last_change: Instant,
}

impl CountWatch {
    fn new(policy: ReadinessPolicy, started: Instant) -> CountWatch {
        CountWatch {
            policy,
            started,
            last_count: None,
            last_change: started,
        }
    }

    fn observe(&mut self, count: usize, now: Instant) -> Option<Readiness> {
        if self.last_count != Some(count) {
            self.last_count = Some(count);
            self.last_change = now;
        }
        if self.policy.expected_spans.is_some_and(|n| count >= n) {
            return Some(Readiness::Complete { spans: count });
        }
        // Zero spans is never "stable": a trace that has not started
        // arriving is not ready, however long nothing happens. Only the
        // deadline ends that wait.
        if count > 0 && now >= self.last_change + self.policy.quiet {
            return Some(Readiness::Stable { spans: count });
        }
        if now >= self.started + self.policy.deadline {
            return Some(Readiness::TimedOut { spans: count });
        }
        None
    }

    /// When `observe` could next decide without a change in the count.
    fn next_decision_at(&self) -> Instant {
        let deadline = self.started + self.policy.deadline;
        if self.last_count.unwrap_or(0) > 0 {
            deadline.min(self.last_change + self.policy.quiet)
        } else {
            deadline
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(expected: Option<usize>) -> ReadinessPolicy {
        ReadinessPolicy {
            expected_spans: expected,
            quiet: Duration::from_millis(100),
            deadline: Duration::from_secs(1),
        }
    }

    #[test]
    fn complete_as_soon_as_the_expected_count_arrives() {
        let t0 = Instant::now();
        let mut watch = CountWatch::new(policy(Some(3)), t0);
        assert_eq!(watch.observe(2, t0), None);
        assert_eq!(
            watch.observe(3, t0 + Duration::from_millis(1)),
            Some(Readiness::Complete { spans: 3 })
        );
    }

    #[test]
    fn stable_once_the_count_stops_changing_for_the_quiet_period() {
        let t0 = Instant::now();
        let mut watch = CountWatch::new(policy(Some(10)), t0);
        assert_eq!(watch.observe(4, t0), None);
        assert_eq!(watch.observe(5, t0 + Duration::from_millis(90)), None);
        // 100 ms after the first count, but only 20 ms after the change.
        assert_eq!(watch.observe(5, t0 + Duration::from_millis(110)), None);
        assert_eq!(
            watch.observe(5, t0 + Duration::from_millis(190)),
            Some(Readiness::Stable { spans: 5 })
        );
    }

    #[test]
    fn zero_spans_are_never_stable_only_timed_out() {
        let t0 = Instant::now();
        let mut watch = CountWatch::new(policy(None), t0);
        assert_eq!(watch.observe(0, t0 + Duration::from_millis(500)), None);
        assert_eq!(watch.next_decision_at(), t0 + Duration::from_secs(1));
        assert_eq!(
            watch.observe(0, t0 + Duration::from_secs(1)),
            Some(Readiness::TimedOut { spans: 0 })
        );
    }

    #[test]
    fn times_out_with_the_count_when_spans_keep_coming() {
        let t0 = Instant::now();
        let mut watch = CountWatch::new(policy(None), t0);
        // A new span every 50 ms: never quiet for 100 ms.
        for step in 0..20u64 {
            let now = t0 + Duration::from_millis(50 * step);
            assert_eq!(watch.observe(step as usize + 1, now), None, "step {step}");
        }
        assert_eq!(
            watch.observe(99, t0 + Duration::from_secs(1)),
            Some(Readiness::TimedOut { spans: 99 })
        );
    }
}
