//! Span limits (`OTEL_SPAN_*_LIMIT`, `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`):
//! how much one span may carry.
//!
//! The counts are the SDK's: [`SpanLimitsConfig::to_sdk`] goes to
//! `SdkTracerProvider::builder().with_span_limits`, and the SDK drops
//! what is over (recording how many in `dropped_attributes_count` and the
//! like). The SDK reads the three count variables itself too, but skips a
//! bad value silently; read here, a bad value stops the service naming it.
//!
//! The SDK has no attribute *value length* limit at all (0.33: no field in
//! `SpanLimits`), so [`ValueLengthLimit`] cuts values in our processor
//! chain: a wrapper that edits each finished span before the processors it
//! wraps see it (`telemetry::build_provider` shows the chain). As the
//! specification says, it cuts string values and each string in an array,
//! to at most that many characters, on span and event attributes; other
//! types are left alone.

use opentelemetry::trace::Event;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanLimits};

use super::chain::{Link, SpanStep};

use crate::config::{ConfigError, Env, parse_var};

/// The limits, each `None` when unset (the SDK's default of 128 applies to
/// the counts; values are not cut).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpanLimitsConfig {
    /// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, else `OTEL_ATTRIBUTE_COUNT_LIMIT`.
    pub attributes: Option<u32>,
    /// `OTEL_SPAN_EVENT_COUNT_LIMIT`.
    pub events: Option<u32>,
    /// `OTEL_SPAN_LINK_COUNT_LIMIT`.
    pub links: Option<u32>,
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`: characters per string value.
    pub value_length: Option<usize>,
}

/// The first of `vars` that is set, parsed.
fn first<T>(env: &dyn Env, vars: &[&str]) -> Result<Option<T>, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    for var in vars {
        if let Some(value) = parse_var(env, var)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

impl SpanLimitsConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(SpanLimitsConfig {
            attributes: first(
                env,
                &[
                    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
                    "OTEL_ATTRIBUTE_COUNT_LIMIT",
                ],
            )?,
            events: parse_var(env, "OTEL_SPAN_EVENT_COUNT_LIMIT")?,
            links: parse_var(env, "OTEL_SPAN_LINK_COUNT_LIMIT")?,
            value_length: first(
                env,
                &[
                    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                ],
            )?,
        })
    }

    /// The SDK's limits: ours where set, its defaults elsewhere.
    pub fn to_sdk(self) -> SpanLimits {
        let default = SpanLimits::default();
        SpanLimits {
            max_attributes_per_span: self.attributes.unwrap_or(default.max_attributes_per_span),
            max_events_per_span: self.events.unwrap_or(default.max_events_per_span),
            max_links_per_span: self.links.unwrap_or(default.max_links_per_span),
            ..default
        }
    }
}

/// Cuts string attribute values to `max_chars` characters, then hands the
/// span to the processor it wraps.
pub type ValueLengthLimit<P> = Link<CutValues, P>;

impl<P> ValueLengthLimit<P> {
    /// `None`: no limit, spans pass untouched.
    pub fn new(max_chars: Option<usize>, inner: P) -> Self {
        Link::wrap(CutValues::new(max_chars), inner)
    }
}

/// The step of [`ValueLengthLimit`].
#[derive(Debug)]
pub struct CutValues {
    max_chars: Option<usize>,
}

impl CutValues {
    /// `None`: no limit, spans pass untouched.
    pub fn new(max_chars: Option<usize>) -> Self {
        CutValues { max_chars }
    }
}

impl SpanStep for CutValues {
    fn on_end(&self, span: &mut SpanData) -> bool {
        if let Some(max) = self.max_chars {
            cut_all(&mut span.attributes, max);
            for event in span.events.events.iter_mut() {
                let Event { attributes, .. } = event;
                cut_all(attributes, max);
            }
        }
        true
    }
}

fn cut_all(attributes: &mut [KeyValue], max: usize) {
    for kv in attributes {
        match &mut kv.value {
            Value::String(s) => {
                if let Some(cut) = cut(s.as_str(), max) {
                    *s = StringValue::from(cut);
                }
            }
            Value::Array(Array::String(items)) => {
                for s in items {
                    if let Some(cut) = cut(s.as_str(), max) {
                        *s = StringValue::from(cut);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `s`'s first `max` characters, `None` when it is no longer than that.
fn cut(s: &str, max: usize) -> Option<String> {
    let (end, _) = s.char_indices().nth(max)?;
    Some(s[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;
    use opentelemetry::trace::{Span as _, Tracer, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};

    #[test]
    fn the_span_specific_variables_win_and_bad_values_name_theirs() {
        let env = MapEnv::new([
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "50"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "5"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "2"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "1"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "8"),
        ]);
        let limits = SpanLimitsConfig::from_env(&env).unwrap();
        assert_eq!(
            limits,
            SpanLimitsConfig {
                attributes: Some(5),
                events: Some(2),
                links: Some(1),
                value_length: Some(8),
            }
        );
        assert_eq!(limits.to_sdk().max_attributes_per_event, 128);
        for var in [
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_SPAN_EVENT_COUNT_LIMIT",
            "OTEL_SPAN_LINK_COUNT_LIMIT",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        ] {
            let err = SpanLimitsConfig::from_env(&MapEnv::new([(var, "-3")])).unwrap_err();
            assert_eq!(err.var, var);
        }
    }

    #[test]
    fn strings_and_string_arrays_are_cut_by_characters() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(ValueLengthLimit::new(
                Some(3),
                SimpleSpanProcessor::new(exporter.clone()),
            ))
            .build();
        let mut span = provider.tracer("t").start("s");
        span.set_attribute(KeyValue::new("short", "abc"));
        span.set_attribute(KeyValue::new("long", "ééééé"));
        span.set_attribute(KeyValue::new(
            "list",
            Value::Array(Array::String(vec!["abcdef".into(), "x".into()])),
        ));
        span.set_attribute(KeyValue::new("number", 123456_i64));
        span.add_event("e", vec![KeyValue::new("detail", "abcdef")]);
        span.end();
        let spans = exporter.get_finished_spans().unwrap();
        let get = |key: &str| {
            spans[0]
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .unwrap()
                .value
                .clone()
        };
        assert_eq!(get("short"), Value::from("abc"));
        assert_eq!(get("long"), Value::from("ééé"));
        assert_eq!(
            get("list"),
            Value::Array(Array::String(vec!["abc".into(), "x".into()]))
        );
        assert_eq!(get("number"), Value::I64(123456));
        assert_eq!(spans[0].events[0].attributes[0].value, Value::from("abc"));
    }
}
