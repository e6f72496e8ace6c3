//! The run reports under the working directory's `reports/`, as the lab
//! checks read them: each directory's `verdict.json`, read through the
//! harness's report model ([`RunReport`]), and kept as JSON too, for the
//! fields a newer `tracemesh run` adds (`config.fixes`,
//! `config.expectations`) that this model may not have yet.
//!
//! A directory without a readable verdict (a run still going, one that
//! crashed) is not a report; it is skipped, not an error.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tracemesh_harness::report::model::RunReport;
use tracemesh_harness::report::{JUNIT_FILE, VERDICT_FILE, json};

/// Where `tracemesh run` writes by default, under the working directory.
pub const REPORTS_DIR: &str = "reports";

#[derive(Debug, Clone)]
pub struct Report {
    pub dir: PathBuf,
    pub report: RunReport,
    /// The same verdict.json, as JSON.
    pub json: Value,
}

impl Report {
    /// `config.<field>` as a list of strings (a field the report may lack:
    /// then empty).
    pub fn config_list(&self, field: &str) -> Vec<String> {
        self.json["config"][field]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The verdict of `check`, if the run had it.
    pub fn verdict(&self, check: &str) -> Option<&tracemesh_harness::checks::Verdict> {
        self.report.verdicts.iter().find(|v| v.check == check)
    }

    pub fn has_junit(&self) -> bool {
        self.dir.join(JUNIT_FILE).is_file()
    }

    /// `reports/2026-12-01T10-04-05`, for messages.
    pub fn name(&self, working_dir: &Path) -> String {
        self.dir
            .strip_prefix(working_dir)
            .unwrap_or(&self.dir)
            .display()
            .to_string()
    }
}

/// Every report under `dir/reports/`, oldest first.
pub fn read_all(dir: &Path) -> Vec<Report> {
    let Ok(entries) = std::fs::read_dir(dir.join(REPORTS_DIR)) else {
        return Vec::new();
    };
    let mut reports: Vec<Report> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| read_one(&entry.path()))
        .collect();
    reports.sort_by(|a, b| a.report.started_at.cmp(&b.report.started_at));
    reports
}

fn read_one(dir: &Path) -> Option<Report> {
    let text = std::fs::read_to_string(dir.join(VERDICT_FILE)).ok()?;
    Some(Report {
        dir: dir.to_path_buf(),
        report: json::from_json(&text).ok()?,
        json: serde_json::from_str(&text).ok()?,
    })
}

/// `text`, naming the report that meets it when there is one.
pub fn naming(
    m: &crate::lab::messages::Messages,
    working_dir: &Path,
    text: String,
    report: Option<&Report>,
) -> String {
    match report {
        Some(r) => m.f(
            "check.in_report",
            &[("what", &text), ("report", &r.name(working_dir))],
        ),
        None => text,
    }
}
