//! The learner's progress: `.tracemesh-lab.json` in the working directory,
//! the labs passed and when.
//!
//! ```json
//! { "passed": { "1": "2026-12-01T10:04:05Z", "3": "2026-12-01T10:40:12Z" } }
//! ```
//!
//! A file that cannot be read is never overwritten (it may hold work the
//! learner wants) and never a panic: the caller says what is wrong with it
//! and how to start afresh.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const PROGRESS_FILE: &str = ".tracemesh-lab.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// Lab number to the time (RFC 3339, UTC) it first passed.
    pub passed: BTreeMap<u8, String>,
}

/// The progress file could not be read or written; the message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressError(pub String);

impl Progress {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(PROGRESS_FILE)
    }

    /// The progress in `dir`; none yet when there is no file.
    pub fn load(dir: &Path) -> Result<Progress, ProgressError> {
        let path = Progress::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Progress::default()),
            Err(e) => return Err(ProgressError(format!("{}: {e}", path.display()))),
        };
        serde_json::from_str(&text)
            .map_err(|e| ProgressError(format!("{}: not a progress file: {e}", path.display())))
    }

    /// Records lab `number` as passed at `now` (kept: the first pass).
    pub fn record(&mut self, number: u8, now: String) {
        self.passed.entry(number).or_insert(now);
    }

    pub fn save(&self, dir: &Path) -> Result<(), ProgressError> {
        let path = Progress::path(dir);
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| ProgressError(format!("{}: {e}", path.display())))?;
        std::fs::write(&path, text + "\n")
            .map_err(|e| ProgressError(format!("{}: {e}", path.display())))
    }

    /// Loads, records and saves: a pass noted in `dir`'s file.
    pub fn record_pass(dir: &Path, number: u8) -> Result<(), ProgressError> {
        let mut progress = Progress::load(dir)?;
        progress.record(number, now_rfc3339());
        progress.save(dir)
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_survives_a_round_trip_and_the_first_time_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Progress::load(dir.path()).unwrap(), Progress::default());
        Progress::record_pass(dir.path(), 3).unwrap();
        let first = Progress::load(dir.path()).unwrap();
        assert!(first.passed.contains_key(&3));
        Progress::record_pass(dir.path(), 1).unwrap();
        Progress::record_pass(dir.path(), 3).unwrap();
        let second = Progress::load(dir.path()).unwrap();
        assert_eq!(second.passed.keys().copied().collect::<Vec<_>>(), [1, 3]);
        assert_eq!(second.passed[&3], first.passed[&3]);
    }

    #[test]
    fn a_corrupt_file_is_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = Progress::path(dir.path());
        for corrupt in [
            "{ not json",
            "[]",
            r#"{"passed": {"x": 1}}"#,
            r#"{"pased": {}}"#,
        ] {
            std::fs::write(&path, corrupt).unwrap();
            let ProgressError(message) = Progress::load(dir.path()).unwrap_err();
            assert!(message.contains(PROGRESS_FILE), "{message}");
            assert!(message.contains("not a progress file"), "{message}");
            assert!(Progress::record_pass(dir.path(), 1).is_err());
            assert_eq!(std::fs::read_to_string(&path).unwrap(), corrupt);
        }
    }
}
