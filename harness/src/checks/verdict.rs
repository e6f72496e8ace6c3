//! The result of one check: never a bare bool.
//!
//! A [`Verdict`] carries its reasons (why it failed, in sentences a workshop
//! attendee can act on) and its figures (what was measured). A check that
//! examined nothing fails: "0 of 0 traces complete" proves nothing, so
//! [`Verdict::finish`] turns an empty check into a failure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The check's name, e.g. `full_tree`, `sampling`, `attribution`.
    pub check: String,
    pub passed: bool,
    /// Why it failed (empty when it passed), most important first.
    pub reasons: Vec<String>,
    /// What was measured: counts, ratios, intervals, durations.
    pub figures: BTreeMap<String, serde_json::Value>,
    /// How many items (traces, spans, requests) the check examined.
    pub examined: usize,
}

impl Verdict {
    /// A verdict that passes until a reason to fail is added.
    pub fn new(check: impl Into<String>) -> Self {
        Verdict {
            check: check.into(),
            passed: true,
            reasons: Vec::new(),
            figures: BTreeMap::new(),
            examined: 0,
        }
    }

    /// Records a reason and marks the verdict failed.
    pub fn fail(&mut self, reason: impl Into<String>) {
        self.passed = false;
        self.reasons.push(reason.into());
    }

    /// Records a figure.
    pub fn figure(&mut self, key: impl Into<String>, value: impl Serialize) {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.figures.insert(key.into(), value);
    }

    /// Counts one examined item.
    pub fn examine(&mut self) {
        self.examined += 1;
    }

    /// Ends the check: a check that examined nothing fails.
    pub fn finish(mut self) -> Self {
        if self.examined == 0 {
            self.fail(format!(
                "{}: nothing was examined, so nothing was proved",
                self.check
            ));
        }
        self.figure("examined", self.examined);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_that_examined_nothing_fails() {
        let v = Verdict::new("full_tree").finish();
        assert!(!v.passed);
        assert!(v.reasons[0].contains("nothing was examined"));
    }

    #[test]
    fn a_reason_fails_the_verdict_and_figures_are_kept() {
        let mut v = Verdict::new("sampling");
        v.examine();
        v.figure("ratio", 0.25);
        v.fail("trace 42 was sampled but should not have been");
        let v = v.finish();
        assert!(!v.passed);
        assert_eq!(v.figures["ratio"], serde_json::json!(0.25));
        assert_eq!(v.figures["examined"], serde_json::json!(1));
    }
}
