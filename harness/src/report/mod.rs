//! A run's reports: one [`RunReport`] rendered four ways.
//!
//! - [`model`]: the report's data, computed once by the run.
//! - [`terminal`]: the one-screen summary printed after a run.
//! - [`json`]: `verdict.json`, the whole report plus `"passed"`.
//! - [`junit`]: `junit.xml`, each check a test case for CI.
//! - [`html`]: `report.html`, self-contained, with charts and waterfalls.
//! - [`merge`]: the reports of a load's shards (`run --shard I/N`) as
//!   one report, which the renderers above then write.
//! - [`outcome`] and [`escape`]: what every renderer shares — the headline
//!   and sampling figures read from the report, and escaping of untrusted
//!   text.
//!
//! [`write_all`] writes the four files into the run's report directory.

pub mod escape;
pub mod html;
pub mod json;
pub mod junit;
pub mod merge;
pub mod model;
pub mod outcome;
pub mod terminal;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use model::RunReport;
pub use outcome::Outcome;

/// The files [`write_all`] writes, in the order it returns them.
pub const VERDICT_FILE: &str = "verdict.json";
pub const JUNIT_FILE: &str = "junit.xml";
pub const HTML_FILE: &str = "report.html";
pub const SUMMARY_FILE: &str = "summary.txt";

/// Writes `verdict.json`, `junit.xml`, `report.html` and `summary.txt`
/// (the terminal summary without colour) into `dir`, creating it, and
/// returns their paths in that order.
pub fn write_all(report: &RunReport, dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let path = |name: &str| dir.join(name);
    let written = vec![
        path(VERDICT_FILE),
        path(JUNIT_FILE),
        path(HTML_FILE),
        path(SUMMARY_FILE),
    ];
    let verdict = json::to_json(report).map_err(io::Error::other)?;
    fs::write(&written[0], verdict)?;
    fs::write(&written[1], junit::to_junit(report))?;
    fs::write(&written[2], html::to_html(report))?;
    // The summary lists the files just written, so `cat summary.txt` says
    // where to look next.
    let summary = terminal::summary_with_reports(report, false, &written);
    fs::write(&written[3], summary)?;
    Ok(written)
}
