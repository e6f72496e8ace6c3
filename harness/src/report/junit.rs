//! JUnit XML, the format every CI system's test reporter reads (Jenkins'
//! junit step, GitLab's `artifacts:reports:junit`, GitHub test-reporter
//! actions): each check is a test case, so a failed check shows up in CI
//! as a failed test with its reason.
//!
//! The shape, the common subset those readers agree on:
//!
//! ```xml
//! <testsuites name="tracemesh" tests="3" failures="1" errors="0" time="21.4">
//!   <testsuite name="tracemesh" tests="3" failures="1" errors="0" skipped="0"
//!              time="21.4" timestamp="2026-11-22T16:20:00">
//!     <properties><property name="scenario" value="slow-inventory"/>…</properties>
//!     <testcase classname="tracemesh.checks" name="full_tree" time="0">
//!       <properties><property name="traces" value="310"/>…</properties>
//!       <failure message="first reason" type="check failed">every reason</failure>
//!       <system-out>figures, one per line</system-out>
//!     </testcase>
//!   </testsuite>
//! </testsuites>
//! ```
//!
//! A partial run adds a failing test case `run.complete`, so CI cannot
//! mistake an interrupted run whose checks passed for a green one.

use std::fmt::Write;

use super::RunReport;
use super::escape::markup;
use super::outcome::first_reason;
use crate::checks::Verdict;

/// The `classname` of every check's test case.
pub const CLASSNAME: &str = "tracemesh.checks";
/// The extra failing test case of an interrupted run.
pub const PARTIAL_CASE: &str = "run.complete";

/// The report as a JUnit XML document.
pub fn to_junit(report: &RunReport) -> String {
    let mut cases: Vec<Case> = report.verdicts.iter().map(Case::of_verdict).collect();
    if report.partial {
        cases.push(Case::partial());
    }
    let tests = cases.len();
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let time = seconds(report.duration_secs);

    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // `write!` into a String cannot fail; `let _` says we know.
    let _ = writeln!(
        xml,
        r#"<testsuites name="tracemesh" tests="{tests}" failures="{failures}" errors="0" time="{time}">"#
    );
    let _ = writeln!(
        xml,
        r#"  <testsuite name="tracemesh" tests="{tests}" failures="{failures}" errors="0" skipped="0" time="{time}" timestamp="{}">"#,
        markup(&junit_timestamp(&report.started_at))
    );
    xml.push_str("    <properties>\n");
    for (name, value) in settings(report) {
        property(&mut xml, "      ", &name, &value);
    }
    xml.push_str("    </properties>\n");
    for case in &cases {
        case.write(&mut xml);
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// The run's settings as suite properties, so CI shows what was run.
fn settings(report: &RunReport) -> Vec<(String, String)> {
    let c = &report.config;
    let mut settings = vec![
        ("tracemesh.version".into(), report.tracemesh_version.clone()),
        ("started_at".into(), report.started_at.clone()),
        ("scenario".into(), c.scenario.clone()),
        ("users".into(), c.users.to_string()),
        ("run_time_secs".into(), c.run_time_secs.to_string()),
        ("sampler_ratio".into(), c.sampler_ratio.to_string()),
        ("fixes".into(), c.fixes.join(",")),
        ("target".into(), c.target.clone()),
        ("trace_source".into(), c.trace_source.clone()),
        ("partial".into(), report.partial.to_string()),
        ("requests".into(), report.load.requests.to_string()),
        ("traces.expected".into(), report.traces.expected.to_string()),
        ("traces.complete".into(), report.traces.complete.to_string()),
    ];
    if let Some(shard) = &report.shard {
        settings.extend([
            ("shard".into(), format!("{}/{}", shard.index, shard.count)),
            ("seed".into(), c.seed.to_string()),
            ("base_seed".into(), shard.base_seed.to_string()),
        ]);
    }
    settings
}

/// One test case, ready to write.
struct Case {
    name: String,
    /// `(message, body)` when the case failed.
    failure: Option<(String, String)>,
    /// Figure name to its value as text.
    figures: Vec<(String, String)>,
}

impl Case {
    fn of_verdict(verdict: &Verdict) -> Case {
        let failure = (!verdict.passed).then(|| {
            (
                first_reason(verdict).to_string(),
                verdict.reasons.join("\n"),
            )
        });
        let figures = verdict
            .figures
            .iter()
            .map(|(name, value)| {
                // Strings as themselves, everything else as compact JSON.
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (name.clone(), text)
            })
            .collect();
        Case {
            name: verdict.check.clone(),
            failure,
            figures,
        }
    }

    fn partial() -> Case {
        let message = "the run was interrupted: the report covers only what was done";
        Case {
            name: PARTIAL_CASE.to_string(),
            failure: Some((
                message.to_string(),
                format!("{message}; run it to the end for a verdict on the whole load"),
            )),
            figures: Vec::new(),
        }
    }

    fn write(&self, xml: &mut String) {
        let _ = writeln!(
            xml,
            r#"    <testcase classname="{CLASSNAME}" name="{}" time="0">"#,
            markup(&self.name)
        );
        if !self.figures.is_empty() {
            xml.push_str("      <properties>\n");
            for (name, value) in &self.figures {
                property(xml, "        ", name, value);
            }
            xml.push_str("      </properties>\n");
        }
        if let Some((message, body)) = &self.failure {
            let _ = writeln!(
                xml,
                r#"      <failure message="{}" type="check failed">{}</failure>"#,
                markup(message),
                markup(body)
            );
        }
        // The same figures as readable text: many CI views show system-out
        // but not test-case properties.
        if !self.figures.is_empty() {
            let text: Vec<String> = self
                .figures
                .iter()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            let _ = writeln!(
                xml,
                "      <system-out>{}</system-out>",
                markup(&text.join("\n"))
            );
        }
        xml.push_str("    </testcase>\n");
    }
}

fn property(xml: &mut String, indent: &str, name: &str, value: &str) {
    let _ = writeln!(
        xml,
        r#"{indent}<property name="{}" value="{}"/>"#,
        markup(name),
        markup(value)
    );
}

/// Seconds with millisecond precision; `0` for a non-finite duration.
fn seconds(secs: f64) -> String {
    if secs.is_finite() {
        format!("{:.3}", secs.max(0.0))
    } else {
        "0".to_string()
    }
}

/// JUnit's schema (Ant's `junit.xsd`) types `timestamp` as a date-time
/// *without* a zone: `2026-11-22T16:20:00`. Our RFC 3339 UTC time loses
/// only its `Z` and fraction; anything unexpected passes through as is.
fn junit_timestamp(rfc3339: &str) -> String {
    let bytes = rfc3339.as_bytes();
    let looks_like_date_time = bytes.len() >= 19
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && rfc3339.is_char_boundary(19);
    if looks_like_date_time {
        rfc3339[..19].to_string()
    } else {
        rfc3339.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_loses_zone_and_fraction_only() {
        assert_eq!(
            junit_timestamp("2026-11-22T16:20:00.123Z"),
            "2026-11-22T16:20:00"
        );
        assert_eq!(
            junit_timestamp("2026-11-22T16:20:00Z"),
            "2026-11-22T16:20:00"
        );
        assert_eq!(junit_timestamp("yesterday"), "yesterday");
    }
}
