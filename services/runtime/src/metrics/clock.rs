//! One clock for a span and its histogram observation, so an exemplar's
//! value *is* its span's duration, not a second measurement of it.
//!
//! tracing-opentelemetry stamps a span's start when the `tracing` span is
//! created and its end at its last exit; the layers time the observation
//! with their own clock reads a few statements away. On a loaded machine a
//! thread can be preempted between the two reads, and the exemplar then
//! differs from its span by whole milliseconds (measured: 1 to 3 ms, on two
//! busy cores). So the layer's reading is the one both use:
//!
//! 1. a layer starts a [`SpanClock`] as it opens its span, and
//!    [`SpanClock::stop`]s it where the span ends, giving a [`Measured`];
//! 2. [`super::Metrics`] observes `Measured::elapsed` and, for a sampled
//!    span, keeps `(start, end)` by span id in [`MeasuredTimes`];
//! 3. [`WriteMeasuredTimes`], the first step of the span processor chain
//!    (`telemetry::chain`; [`MeasuredTimesProcessor`] is the same step
//!    alone), takes those times and writes them onto the finished span
//!    before anything exports it.
//!
//! A span no layer measured (an internal span, a probe) keeps the SDK's
//! times. The table is bounded; if it is ever full, a span keeps the SDK's
//! times too (and its exemplar may then differ by that preemption).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::SpanData;

use crate::telemetry::chain::{Link, SpanStep};

/// More spans than are ever open at once between their observation and
/// their end (microseconds apart), with room to spare.
const CAPACITY: usize = 65_536;

/// Started as a layer opens its span.
#[derive(Debug, Clone, Copy)]
pub struct SpanClock {
    start: SystemTime,
    started: Instant,
}

impl SpanClock {
    pub fn start() -> SpanClock {
        SpanClock {
            start: SystemTime::now(),
            started: Instant::now(),
        }
    }

    /// Read where the span ends.
    pub fn stop(&self) -> Measured {
        Measured {
            start: self.start,
            elapsed: self.started.elapsed(),
        }
    }
}

/// A span's start and duration, as its layer measured them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub start: SystemTime,
    pub elapsed: Duration,
}

/// The measured times of sampled spans, until their end is exported.
///
/// Every finished span looks itself up here, measured or not, so the
/// lookup is on every span's path: keyed by the span id's 64 bits, hashed
/// by [`SpanIdHasher`], which uses them as they are. Measured in the
/// `spans` bench ("span via the services' tracer provider", callgrind): 72
/// instructions a lookup, lock included, against 216 with the standard
/// library's SipHash, which is built to resist keys chosen by an attacker;
/// span ids are random numbers this process drew itself.
#[derive(Debug, Default)]
pub struct MeasuredTimes {
    times: Mutex<HashMap<u64, Measured, BuildHasherDefault<SpanIdHasher>>>,
}

impl MeasuredTimes {
    /// The process's table.
    pub fn global() -> &'static MeasuredTimes {
        static TIMES: OnceLock<MeasuredTimes> = OnceLock::new();
        TIMES.get_or_init(MeasuredTimes::default)
    }

    pub fn keep(&self, span_id: SpanId, measured: Measured) {
        let mut times = self.times.lock().unwrap_or_else(|p| p.into_inner());
        if times.len() < CAPACITY {
            times.insert(key(span_id), measured);
        }
    }

    pub fn take(&self, span_id: SpanId) -> Option<Measured> {
        let mut times = self.times.lock().unwrap_or_else(|p| p.into_inner());
        times.remove(&key(span_id))
    }
}

fn key(span_id: SpanId) -> u64 {
    u64::from_be_bytes(span_id.to_bytes())
}

/// Hashes a [`MeasuredTimes`] key to itself. The SDK draws span ids at
/// random, so their bits are already spread as a hash's would be; a span id
/// made otherwise (counting up, say) still finds its entry, only after a
/// longer probe.
#[derive(Debug, Default)]
pub struct SpanIdHasher(u64);

impl Hasher for SpanIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; this keeps the hasher correct
        // for anything else all the same.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
}

/// Writes the measured times onto each finished span, then hands it on.
pub type MeasuredTimesProcessor<P> = Link<WriteMeasuredTimes, P>;

impl<P> MeasuredTimesProcessor<P> {
    pub fn new(inner: P) -> Self {
        Link::wrap(WriteMeasuredTimes::new(), inner)
    }
}

/// The step of [`MeasuredTimesProcessor`].
#[derive(Debug)]
pub struct WriteMeasuredTimes {
    times: &'static MeasuredTimes,
}

impl WriteMeasuredTimes {
    /// Writes the times kept in the process's table.
    pub fn new() -> Self {
        WriteMeasuredTimes {
            times: MeasuredTimes::global(),
        }
    }
}

impl Default for WriteMeasuredTimes {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanStep for WriteMeasuredTimes {
    fn on_end(&self, span: &mut SpanData) -> bool {
        if let Some(measured) = self.times.take(span.span_context.span_id()) {
            span.start_time = measured.start;
            span.end_time = measured.start + measured.elapsed;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(ms: u64) -> Measured {
        Measured {
            start: SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
            elapsed: Duration::from_millis(ms),
        }
    }

    #[test]
    fn a_kept_time_is_taken_once_by_its_span_id_only() {
        let times = MeasuredTimes::default();
        let id = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        let other = SpanId::from_hex("00f067aa0ba902b8").unwrap();
        times.keep(id, measured(7));
        assert_eq!(times.take(other), None);
        assert_eq!(times.take(id), Some(measured(7)));
        assert_eq!(times.take(id), None);
    }

    #[test]
    fn ids_that_count_up_are_all_found() {
        // Not random, unlike the SDK's: the identity hash must still work.
        let times = MeasuredTimes::default();
        for n in 1..=1000u64 {
            times.keep(SpanId::from(n), measured(n));
        }
        for n in (1..=1000u64).rev() {
            assert_eq!(times.take(SpanId::from(n)), Some(measured(n)));
        }
    }
}
