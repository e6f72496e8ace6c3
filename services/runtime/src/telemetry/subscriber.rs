//! The `tracing` subscriber a service installs: which layer sees which span
//! and event, and the one rule every per-layer filter here follows.
//!
//! Three layers share one registry, each with its own filter:
//!
//! - the OpenTelemetry span layer ([`super::span_layer`]): every span of our
//!   own crates, and their events where `RUST_LOG` logs them;
//! - the OTLP log bridge, when logs are exported: our events that pass
//!   `RUST_LOG`;
//! - the log lines on stderr: whatever passes `RUST_LOG`.
//!
//! ## Why every filter is asked on every call ([`AskEachTime`])
//!
//! `tracing-subscriber` hands a per-layer filter's decision from
//! `enabled()` to the `new_span()` that follows through a thread-local
//! bitmap. A callsite every filter accepts outright gets `Interest::always`,
//! and then the `tracing` macros skip `enabled()` and go straight to
//! `new_span()`, which reads whatever bits the *previous* `enabled()` on
//! that thread left. Anything that asks without making a span or event
//! after it leaves its bits behind: `log::log_enabled!` through the
//! `log` → `tracing` bridge `try_init` installs, a `tracing::enabled!` whose
//! branch logs nothing. The next span on that thread, a request's SERVER
//! span, then reaches no layer at all: no trace, and no `traceresponse`
//! header (tokio-rs/tracing#2519, still open). `tests/subscriber.rs` shows
//! it: three requests after such a question, three answers without a trace.
//! The container sampling test once saw exactly that symptom, one answer in
//! 400 without `traceresponse`; which question came before it there is not
//! known.
//!
//! Capping every filter's callsite interest at `sometimes` makes the macros
//! call `enabled()` before each span and event, so the bits are always the
//! current one's. That costs one filter pass per span: 188 instructions,
//! 1.6% of a span through this subscriber (callgrind, the `spans` bench's
//! "span via the services' subscriber"; BENCHMARKS.md).

use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracer;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber, span};
use tracing_subscriber::filter::{self, FilterExt, LevelFilter};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

use super::{TelemetryConfig, log_export};
use crate::config::ConfigError;
use crate::logs;

/// The services' subscriber (see the file comment), not yet installed:
/// [`super::init`] installs it process-wide, a test sets it as its default.
/// `logger` is the OTLP logger provider, if logs are exported.
pub fn services(
    config: &TelemetryConfig,
    tracer: SdkTracer,
    logger: Option<&SdkLoggerProvider>,
) -> Result<impl Subscriber + Send + Sync + 'static, ConfigError> {
    // Only our own crates' spans become OpenTelemetry spans. Without this
    // filter the exporter's own hyper/tonic/h2/reqwest spans would be traced
    // and exported, which makes more spans to export: a loop. An event
    // becomes a span event only where `RUST_LOG` lets it be a log line: the
    // access log's `debug` line of every request was otherwise formatted
    // into every HTTP SERVER span, written nowhere else.
    let spans = super::span_layer(tracer).with_filter(AskEachTime(
        ours().and(
            filter::filter_fn(|meta| meta.is_span())
                .or(filter::filter_fn(|meta| meta.is_event()).and(log_filter(config)?)),
        ),
    ));
    // Log records for OTLP pass the same `RUST_LOG` filter as the stderr
    // lines, so both say the same things.
    let bridge = match logger {
        Some(logger) => Some(
            log_export::bridge(logger).with_filter(AskEachTime(ours().and(log_filter(config)?))),
        ),
        None => None,
    };
    let lines = logs::layer(config.log_format, &config.service_name)
        .with_filter(AskEachTime(log_filter(config)?));
    Ok(tracing_subscriber::registry()
        .with(spans)
        .with(bridge)
        .with(lines))
}

/// The subscriber with `OTEL_SDK_DISABLED=true`: the log lines alone.
pub fn lines_only(
    config: &TelemetryConfig,
) -> Result<impl Subscriber + Send + Sync + 'static, ConfigError> {
    let lines = logs::layer(config.log_format, &config.service_name)
        .with_filter(AskEachTime(log_filter(config)?));
    Ok(tracing_subscriber::registry().with(lines))
}

/// Spans and events of our own crates (`tracemesh_*`), not our dependencies'.
fn ours<S>() -> impl Filter<S> {
    filter::filter_fn(|meta| meta.target().starts_with("tracemesh"))
}

/// `RUST_LOG` as a filter. One per layer: an `EnvFilter` keeps per-span
/// state of its own, so two layers must not share one.
fn log_filter(config: &TelemetryConfig) -> Result<EnvFilter, ConfigError> {
    EnvFilter::try_new(&config.log_filter)
        .map_err(|e| ConfigError::new("RUST_LOG", &config.log_filter, e.to_string()))
}

/// A per-layer filter whose callsite interest is never `always`, so it is
/// asked on every span and event (see the file comment). Everything else is
/// the wrapped filter's.
pub struct AskEachTime<F>(pub F);

impl<S, F> Filter<S> for AskEachTime<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    F: Filter<S>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        self.0.enabled(meta, cx)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        let interest = self.0.callsite_enabled(meta);
        if interest.is_always() {
            Interest::sometimes()
        } else {
            interest
        }
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, cx: &Context<'_, S>) -> bool {
        self.0.event_enabled(event, cx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.0.max_level_hint()
    }

    // An `EnvFilter` tracks the spans it has seen: pass every notice on.
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, cx: Context<'_, S>) {
        self.0.on_new_span(attrs, id, cx)
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, cx: Context<'_, S>) {
        self.0.on_record(id, values, cx)
    }

    fn on_enter(&self, id: &span::Id, cx: Context<'_, S>) {
        self.0.on_enter(id, cx)
    }

    fn on_exit(&self, id: &span::Id, cx: Context<'_, S>) {
        self.0.on_exit(id, cx)
    }

    fn on_close(&self, id: span::Id, cx: Context<'_, S>) {
        self.0.on_close(id, cx)
    }
}
