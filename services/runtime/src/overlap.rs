//! How many callers are inside a section at once, and the most there have
//! ever been. The planted bottlenecks (inventory's warehouse lock, order's
//! pool of one to payment) count their callers with it, so their tests see
//! the mechanism itself (a peak of 1 while planted, more once fixed)
//! instead of timing anything.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The count and its peak; shared as `Arc<Overlap>`.
#[derive(Debug, Default)]
pub struct Overlap {
    current: AtomicUsize,
    max: AtomicUsize,
}

impl Overlap {
    /// Counts one caller in until the returned guard is dropped.
    pub fn enter(self: &Arc<Self>) -> Inside {
        let now = self.current.fetch_add(1, Ordering::Relaxed) + 1;
        self.max.fetch_max(now, Ordering::Relaxed);
        Inside(self.clone())
    }

    /// Callers inside now.
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// The most callers that have been inside at the same moment.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }
}

/// Leaves the count when dropped, including when the caller's future is
/// cancelled half-way.
#[derive(Debug)]
pub struct Inside(Arc<Overlap>);

impl Drop for Inside {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_callers_inside_and_keeps_the_peak() {
        let overlap = Arc::new(Overlap::default());
        let a = overlap.enter();
        let b = overlap.enter();
        assert_eq!((overlap.current(), overlap.max()), (2, 2));
        drop(a);
        drop(b);
        let _c = overlap.enter();
        assert_eq!((overlap.current(), overlap.max()), (1, 2));
    }
}
