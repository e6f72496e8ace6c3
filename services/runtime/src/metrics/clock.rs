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
//! 3. [`MeasuredTimesProcessor`], the first wrapper of the span processor
//!    chain, takes those times and writes them onto the finished span
//!    before anything exports it.
//!
//! A span no layer measured (an internal span, a probe) keeps the SDK's
//! times. The table is bounded; if it is ever full, a span keeps the SDK's
//! times too (and its exemplar may then differ by that preemption).

use std::collections::HashMap;
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
#[derive(Debug, Default)]
pub struct MeasuredTimes {
    times: Mutex<HashMap<SpanId, Measured>>,
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
            times.insert(span_id, measured);
        }
    }

    pub fn take(&self, span_id: SpanId) -> Option<Measured> {
        let mut times = self.times.lock().unwrap_or_else(|p| p.into_inner());
        times.remove(&span_id)
    }
}

/// Writes the measured times onto each finished span, then hands it on.
pub type MeasuredTimesProcessor<P> = Link<WriteMeasuredTimes, P>;

impl<P> MeasuredTimesProcessor<P> {
    pub fn new(inner: P) -> Self {
        Link::wrap(
            WriteMeasuredTimes {
                times: MeasuredTimes::global(),
            },
            inner,
        )
    }
}

/// The step of [`MeasuredTimesProcessor`].
#[derive(Debug)]
pub struct WriteMeasuredTimes {
    times: &'static MeasuredTimes,
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
