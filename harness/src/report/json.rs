//! The verdict file, `verdict.json`: the whole [`RunReport`] as pretty JSON
//! with a top-level `"passed"` first, so a script can decide with
//! `jq .passed verdict.json` and a person sees the answer on line 2.

use serde::Serialize;

use super::RunReport;

/// The file's shape: `passed` then every field of the report, flattened.
#[derive(Serialize)]
struct VerdictFile<'a> {
    passed: bool,
    #[serde(flatten)]
    report: &'a RunReport,
}

/// The report as pretty JSON with a top-level `"passed"`.
///
/// Non-finite numbers (a percentile of no requests) become `null`, as
/// serde_json writes them; the file still parses everywhere.
pub fn to_json(report: &RunReport) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&VerdictFile {
        passed: report.passed(),
        report,
    })
}

/// Reads a verdict file back (`passed` is derived, so it is ignored).
pub fn from_json(text: &str) -> serde_json::Result<RunReport> {
    serde_json::from_str(text)
}
