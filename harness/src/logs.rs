//! Log lines tied to traces: the one [`LogLine`] every reader shares, and
//! its two sources.
//!
//! - OTLP log records, as the services export them through the appender
//!   bridge ([`LogLine::from_otlp`], used by the collector's log store);
//! - the services' stderr JSON lines, as `tracemesh run` writes them into
//!   its report directory ([`RUN_LOG_FILE`], [`read_run_logs`]), read by
//!   `tracemesh logs --dir` and by the run's HTML report.
//!
//! A line without a trace id (start-up, shutdown) is never shown by trace,
//! so both sources skip it. [`attach_run_logs`] puts a run's lines under
//! the report's waterfalls.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::{Deserialize, Serialize};
use tracemesh_runtime::time_format::rfc3339_utc;

use crate::model::{
    AttrValue, SERVICE_NAME_KEY, UNKNOWN_SERVICE, attributes_to_map, hex_encode, is_valid_id,
};
use crate::report::model::{Waterfall, WaterfallLog};

/// The file of a run's report directory the five services write their
/// stderr to (one JSON object per line, each with its `service`).
pub const RUN_LOG_FILE: &str = "services.log";

/// One log line of one service, tied to a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// When it was logged, nanoseconds since the Unix epoch (for ordering
    /// and for the offset from a trace's start).
    pub time_unix_nano: u64,
    /// The same instant, RFC 3339 UTC.
    pub time: String,
    pub service: String,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`.
    pub severity: String,
    /// The message.
    pub body: String,
    pub trace_id: String,
    /// The span it was logged in.
    #[serde(default)]
    pub span_id: Option<String>,
    /// The event's other fields.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// Why an OTLP log record was refused: its ids have the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLogRecord {
    #[error("invalid trace_id (must be empty or 16 bytes)")]
    TraceId,
    #[error("invalid span_id (must be empty or 8 bytes)")]
    SpanId,
}

impl LogLine {
    /// Converts one OTLP record sent under `resource`. `Ok(None)`: a valid
    /// record without a trace id (the logs.proto allows it), which no trace
    /// query can ask for.
    pub fn from_otlp(
        resource: Option<&Resource>,
        record: &LogRecord,
    ) -> Result<Option<LogLine>, InvalidLogRecord> {
        if !(record.trace_id.is_empty() || record.trace_id.len() == 16) {
            return Err(InvalidLogRecord::TraceId);
        }
        if !(record.span_id.is_empty() || record.span_id.len() == 8) {
            return Err(InvalidLogRecord::SpanId);
        }
        if !is_valid_id(&record.trace_id, 16) {
            return Ok(None);
        }
        let service = resource
            .map(|r| attributes_to_map(&r.attributes))
            .and_then(|attrs| match attrs.get(SERVICE_NAME_KEY) {
                Some(AttrValue::String(name)) => Some(name.clone()),
                _ => None,
            })
            .unwrap_or_else(|| UNKNOWN_SERVICE.to_string());
        // The time of the event, else when the SDK observed it.
        let time_unix_nano = if record.time_unix_nano != 0 {
            record.time_unix_nano
        } else {
            record.observed_time_unix_nano
        };
        let severity = if record.severity_text.is_empty() {
            severity_of_number(record.severity_number).to_string()
        } else {
            record.severity_text.to_ascii_uppercase()
        };
        let body = match AttrValue::from_otlp(record.body.as_ref()) {
            AttrValue::String(text) => text,
            AttrValue::Empty => String::new(),
            other => serde_json::to_string(&other).unwrap_or_default(),
        };
        let attributes = attributes_to_map(&record.attributes)
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or_default()))
            .collect();
        Ok(Some(LogLine {
            time_unix_nano,
            time: rfc3339_of_nanos(time_unix_nano),
            service,
            severity,
            body,
            trace_id: hex_encode(&record.trace_id),
            span_id: is_valid_id(&record.span_id, 8).then(|| hex_encode(&record.span_id)),
            attributes,
        }))
    }

    /// Parses one stderr JSON line (`services/runtime/src/logs.rs`'s
    /// shape); `None` for anything else, or a line without a trace id.
    pub fn from_json_line(line: &str) -> Option<LogLine> {
        let serde_json::Value::Object(mut fields) = serde_json::from_str(line.trim()).ok()? else {
            return None;
        };
        let mut take = |key: &str| match fields.remove(key) {
            Some(serde_json::Value::String(s)) => Some(s),
            _ => None,
        };
        let trace_id = take("trace_id")?;
        let time = take("timestamp")?;
        let time_unix_nano = parse_rfc3339_utc(&time)?;
        let service = take("service").unwrap_or_else(|| UNKNOWN_SERVICE.to_string());
        let severity = take("level").unwrap_or_default().to_ascii_uppercase();
        let span_id = take("span_id");
        let body = take("message").unwrap_or_default();
        fields.remove("target");
        Some(LogLine {
            time_unix_nano,
            time,
            service,
            severity,
            body,
            trace_id,
            span_id,
            attributes: fields.into_iter().collect(),
        })
    }

    /// The fields as `key=value` pairs, strings unquoted.
    pub fn fields_text(&self) -> String {
        self.attributes
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The log lines of `trace_id` (32 lowercase hex digits) in the run's log
/// text, in time order.
pub fn lines_of_trace(text: &str, trace_id: &str) -> Vec<LogLine> {
    let mut lines: Vec<LogLine> = text
        .lines()
        // Cheap test first: most lines belong to other traces.
        .filter(|line| line.contains(trace_id))
        .filter_map(LogLine::from_json_line)
        .filter(|line| line.trace_id == trace_id)
        .collect();
    sort_by_time(&mut lines);
    lines
}

/// The log lines of `trace_id` that the services of a run wrote into
/// `report_dir` ([`RUN_LOG_FILE`]), in time order.
pub fn read_run_logs(report_dir: &Path, trace_id: &str) -> io::Result<Vec<LogLine>> {
    let text = std::fs::read_to_string(report_dir.join(RUN_LOG_FILE))?;
    Ok(lines_of_trace(&text, trace_id))
}

/// Fills each waterfall's `logs` with its trace's lines from the run's log
/// file in `report_dir`, offset from the trace's start. No log file (a run
/// against a remote mesh writes none) leaves them empty.
pub fn attach_run_logs(waterfalls: &mut [Waterfall], report_dir: &Path) -> io::Result<()> {
    let text = match std::fs::read_to_string(report_dir.join(RUN_LOG_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for waterfall in waterfalls {
        waterfall.logs = waterfall_logs(
            &lines_of_trace(&text, &waterfall.trace_id),
            waterfall.start_unix_nanos,
        );
    }
    Ok(())
}

/// Log lines as a waterfall's, offset from the trace's start (the report's
/// and the collector page's log table).
pub fn waterfall_logs(lines: &[LogLine], start_unix_nanos: u64) -> Vec<WaterfallLog> {
    lines
        .iter()
        .map(|line| WaterfallLog {
            offset_ms: (line.time_unix_nano as f64 - start_unix_nanos as f64) / 1e6,
            service: line.service.clone(),
            level: line.severity.clone(),
            message: line.body.clone(),
            fields: line.fields_text(),
            span_id: line.span_id.clone(),
        })
        .collect()
}

/// Time order; lines logged in the same microsecond keep their order.
pub fn sort_by_time(lines: &mut [LogLine]) {
    lines.sort_by_key(|line| line.time_unix_nano);
}

/// The OTLP severity number's short name (logs.proto's ranges).
fn severity_of_number(number: i32) -> &'static str {
    match number {
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        21..=24 => "FATAL",
        _ => "UNSPECIFIED",
    }
}

fn rfc3339_of_nanos(nanos: u64) -> String {
    rfc3339_utc(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos))
}

/// Reads the one date format the services write (`time_format::rfc3339_utc`:
/// `2026-11-22T10:04:05.123456Z`, any number of fraction digits).
pub fn parse_rfc3339_utc(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (date.next()??, date.next()??, date.next()??);
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, fraction),
        None => (time, ""),
    };
    let mut clock = clock.splitn(3, ':').map(|p| p.parse::<u64>().ok());
    let (hh, mm, ss) = (clock.next()??, clock.next()??, clock.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    if !fraction.chars().all(|c| c.is_ascii_digit()) || fraction.len() > 9 {
        return None;
    }
    let nanos_part: u64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().ok()?
    };
    let days = u64::try_from(days_from_civil(y, m, d)).ok()?;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000_000) + nanos_part)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm, the
/// inverse of `time_format::civil_from_days`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_services_date_format_reads_back() {
        for nanos in [0u64, 1_700_000_000_000_001_000, 1_764_556_000_123_456_000] {
            let text = rfc3339_utc(UNIX_EPOCH + Duration::from_nanos(nanos));
            assert_eq!(parse_rfc3339_utc(&text), Some(nanos), "{text}");
        }
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-01-01 00:00:00Z",
            "x",
            "2026-01-01T00:00:00",
        ] {
            assert_eq!(parse_rfc3339_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_stderr_line_becomes_a_log_line_and_lines_of_other_traces_are_skipped() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let text = format!(
            concat!(
                r#"{{"timestamp":"2026-11-22T10:04:05.000002Z","level":"WARN","service":"order","target":"tracemesh_order","trace_id":"{t}","span_id":"00f067aa0ba902b7","message":"card declined","order_id":17}}"#,
                "\n",
                r#"{{"timestamp":"2026-11-22T10:04:05.000001Z","level":"INFO","service":"gateway","target":"tracemesh_gateway","trace_id":"{t}","message":"checkout"}}"#,
                "\nnot json\n",
                r#"{{"timestamp":"2026-11-22T10:04:05Z","level":"INFO","service":"user","trace_id":"0af7651916cd43dd8448eb211c80319c","message":"other"}}"#,
                "\n",
                r#"{{"timestamp":"2026-11-22T10:04:05Z","level":"INFO","service":"user","message":"no trace {t}"}}"#,
            ),
            t = trace
        );
        let lines = lines_of_trace(&text, trace);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].service, "gateway");
        assert_eq!(lines[1].severity, "WARN");
        assert_eq!(lines[1].span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(lines[1].fields_text(), "order_id=17");
    }

    #[test]
    fn otlp_records_with_bad_ids_are_refused_and_untraced_ones_skipped() {
        let record = |trace_id: Vec<u8>, span_id: Vec<u8>| LogRecord {
            trace_id,
            span_id,
            time_unix_nano: 5,
            severity_number: 13,
            ..Default::default()
        };
        assert_eq!(
            LogLine::from_otlp(None, &record(vec![1; 3], vec![])),
            Err(InvalidLogRecord::TraceId)
        );
        assert_eq!(
            LogLine::from_otlp(None, &record(vec![1; 16], vec![1; 4])),
            Err(InvalidLogRecord::SpanId)
        );
        assert_eq!(LogLine::from_otlp(None, &record(vec![], vec![])), Ok(None));
        let line = LogLine::from_otlp(None, &record(vec![1; 16], vec![2; 8]))
            .unwrap()
            .unwrap();
        assert_eq!(line.severity, "WARN");
        assert_eq!(line.span_id.as_deref(), Some("0202020202020202"));
    }
}
