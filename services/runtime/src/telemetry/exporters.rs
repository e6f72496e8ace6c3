//! `OTEL_TRACES_EXPORTER`: where finished spans go (`OTEL_LOGS_EXPORTER`
//! takes the same names for log records, read by the same [`names`]).
//!
//! - `otlp` (default): to the collector, over [`super::otlp`]'s settings,
//!   through the batch processor; the only output the export counters
//!   (`export_stats.rs`) describe.
//! - `console`: one line per span on stdout ([`super::console`]), through
//!   a simple processor, so a line appears as its span ends.
//! - `none`: no exporter at all. Spans are still made (trace ids still
//!   propagate and `traceresponse` still names the span) but nothing is
//!   sent anywhere, and the counters stay at zero: nothing was handed to
//!   an export.
//!
//! The specification allows a comma list (`otlp,console`): each output
//! gets every span ([`Fanout`]). `none` with another name is an error, and
//! so are `zipkin` (not built in) and the deprecated `logging` (use
//! `console`).

use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use crate::config::{ConfigError, Env};

const VAR: &str = "OTEL_TRACES_EXPORTER";

/// One name of `OTEL_TRACES_EXPORTER` or `OTEL_LOGS_EXPORTER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExporterKind {
    Otlp,
    Console,
}

/// A name of `OTEL_TRACES_EXPORTER`.
pub type TracesExporter = ExporterKind;
/// A name of `OTEL_LOGS_EXPORTER`.
pub type LogsExporter = ExporterKind;

/// The exporters named by `OTEL_TRACES_EXPORTER`, in order, without
/// repeats; empty for `none`.
pub fn from_env(env: &dyn Env) -> Result<Vec<TracesExporter>, ConfigError> {
    names(env, VAR)
}

/// The exporters named by `var` (`otlp` when unset, as the specification
/// says for both signals), in order, without repeats; empty for `none`.
pub fn names(env: &dyn Env, var: &str) -> Result<Vec<ExporterKind>, ConfigError> {
    let Some(raw) = env.get(var) else {
        return Ok(vec![ExporterKind::Otlp]);
    };
    let names: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let mut exporters = Vec::new();
    for name in &names {
        let exporter = match *name {
            "otlp" => ExporterKind::Otlp,
            "console" => ExporterKind::Console,
            "none" if names.len() == 1 => return Ok(Vec::new()),
            "none" => {
                return Err(ConfigError::new(
                    var,
                    &raw,
                    "none cannot be combined with other exporters",
                ));
            }
            "logging" => {
                return Err(ConfigError::new(
                    var,
                    &raw,
                    "logging is deprecated; use console",
                ));
            }
            other => {
                return Err(ConfigError::new(
                    var,
                    &raw,
                    format!("{other:?} is not supported; expected otlp, console or none"),
                ));
            }
        };
        if !exporters.contains(&exporter) {
            exporters.push(exporter);
        }
    }
    Ok(exporters)
}

/// Hands each finished span to every processor in turn (a copy to all but
/// the last). A wrapper, so that one chain in front of it (faults, value
/// limits) edits a span once for every output.
#[derive(Debug, Default)]
pub struct Fanout(pub Vec<Box<dyn SpanProcessor>>);

impl SpanProcessor for Fanout {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        for p in &self.0 {
            p.on_start(span, cx);
        }
    }

    fn on_end(&self, span: SpanData) {
        if let Some((last, rest)) = self.0.split_last() {
            for p in rest {
                p.on_end(span.clone());
            }
            last.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        first_error(self.0.iter().map(|p| p.force_flush()))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        first_error(self.0.iter().map(|p| p.shutdown_with_timeout(timeout)))
    }

    fn set_resource(&mut self, resource: &Resource) {
        for p in &mut self.0 {
            p.set_resource(resource);
        }
    }
}

/// Runs every step (one output failing must not keep the others from
/// flushing), then reports the first failure.
fn first_error(results: impl Iterator<Item = OTelSdkResult>) -> OTelSdkResult {
    let mut first = Ok(());
    for result in results {
        if first.is_ok() {
            first = result;
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;

    fn parse(value: &str) -> Result<Vec<TracesExporter>, ConfigError> {
        from_env(&MapEnv::new([(VAR, value)]))
    }

    #[test]
    fn otlp_by_default_a_list_in_order_and_none_for_nothing() {
        assert_eq!(
            from_env(&MapEnv::default()).unwrap(),
            [TracesExporter::Otlp]
        );
        assert_eq!(
            parse("console, otlp,console").unwrap(),
            [TracesExporter::Console, TracesExporter::Otlp]
        );
        assert!(parse("none").unwrap().is_empty());
    }

    #[test]
    fn logs_read_their_own_variable() {
        let env = MapEnv::new([("OTEL_LOGS_EXPORTER", "none"), (VAR, "console")]);
        assert!(names(&env, "OTEL_LOGS_EXPORTER").unwrap().is_empty());
        let env = MapEnv::new([("OTEL_LOGS_EXPORTER", "syslog")]);
        let err = names(&env, "OTEL_LOGS_EXPORTER").unwrap_err();
        assert_eq!(err.var, "OTEL_LOGS_EXPORTER");
    }

    #[test]
    fn unsupported_names_name_the_variable() {
        for bad in ["zipkin", "logging", "none,otlp", "OTLP", "jaeger"] {
            assert_eq!(parse(bad).unwrap_err().var, VAR, "{bad}");
        }
    }
}
