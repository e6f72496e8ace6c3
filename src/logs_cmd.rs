//! `tracemesh logs <trace-id>`: one trace's log lines from every service,
//! in time order, one line each:
//!
//! ```text
//! 2026-11-22T10:04:05.000123Z order     WARN  span=00f067aa0ba902b7 card declined order_id=17
//! ```
//!
//! From one of two sources, exactly one of which is given:
//!
//! - `--dir <report dir>`: the services' stderr JSON lines a `tracemesh run`
//!   wrote there (`tracemesh_harness::logs::read_run_logs`);
//! - `--collector <url>`: the records the services exported over OTLP to
//!   the embedded collector, from its `GET /api/logs/{trace_id}`.
//!
//! A bad trace id, a missing directory or an unusable URL is exit 2, named;
//! a collector that cannot be reached is exit 1.

use std::time::Duration;

use tracemesh_harness::logs::{LogLine, RUN_LOG_FILE, read_run_logs};
use tracemesh_harness::model::normalize_trace_id;

use crate::Failure;
use crate::cli::LogsArgs;

pub async fn run(args: LogsArgs) -> Result<(), Failure> {
    let trace_id = normalize_trace_id(&args.trace_id).ok_or_else(|| {
        Failure::Usage(format!(
            "<TRACE_ID> {:?}: expected 1 to 32 hex digits",
            args.trace_id
        ))
    })?;
    let lines = match (&args.dir, &args.collector) {
        (Some(dir), None) => from_dir(dir, &trace_id)?,
        (None, Some(url)) => from_collector(url, &trace_id).await?,
        // clap's argument group allows exactly one.
        _ => return Err(Failure::Usage("give either --dir or --collector".into())),
    };
    if lines.is_empty() {
        eprintln!("no log lines for trace {trace_id}");
    }
    for line in &lines {
        println!("{}", format_line(line));
    }
    Ok(())
}

/// One line: time, service, level, span id, message, fields.
pub fn format_line(line: &LogLine) -> String {
    let fields = line.fields_text();
    format!(
        "{} {:<9} {:<5} span={} {}{}{}",
        line.time,
        line.service,
        line.severity,
        line.span_id.as_deref().unwrap_or("-"),
        line.body,
        if fields.is_empty() { "" } else { " " },
        fields
    )
}

fn from_dir(dir: &std::path::Path, trace_id: &str) -> Result<Vec<LogLine>, Failure> {
    if !dir.is_dir() {
        return Err(Failure::Usage(format!(
            "--dir {}: not a directory",
            dir.display()
        )));
    }
    read_run_logs(dir, trace_id).map_err(|e| {
        Failure::Usage(format!(
            "--dir {}: cannot read {RUN_LOG_FILE} ({e}); is it a `tracemesh run` report directory?",
            dir.display()
        ))
    })
}

pub(crate) async fn from_collector(base: &str, trace_id: &str) -> Result<Vec<LogLine>, Failure> {
    let url = reqwest::Url::parse(base)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .and_then(|u| u.join(&format!("api/logs/{trace_id}")).ok())
        .ok_or_else(|| {
            Failure::Usage(format!(
                "--collector {base:?}: expected an http:// URL such as http://127.0.0.1:4318"
            ))
        })?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| Failure::Runtime(format!("--collector: GET {url}: {e}")))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| Failure::Runtime(format!("--collector: GET {url}: {e}")))?;
    if !status.is_success() {
        return Err(Failure::Runtime(format!(
            "--collector: GET {url} answered {status}: {body}"
        )));
    }
    let not_logs = |e: serde_json::Error| {
        Failure::Runtime(format!("--collector: GET {url}: not a logs answer: {e}"))
    };
    let mut answer: serde_json::Value = serde_json::from_str(&body).map_err(not_logs)?;
    serde_json::from_value(answer["records"].take()).map_err(not_logs)
}
