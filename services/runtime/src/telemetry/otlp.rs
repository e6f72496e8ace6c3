//! The OTLP exporter's settings, from the standard `OTEL_EXPORTER_OTLP_*`
//! variables, and the exporter built from them.
//!
//! Every setting has a generic variable and one per signal (`_TRACES_`,
//! `_LOGS_`); the signal-specific one wins, as the OTLP exporter
//! specification says ([`Signal`] picks which):
//!
//! | setting | variables | default |
//! |---|---|---|
//! | protocol | `OTEL_EXPORTER_OTLP_[TRACES_\|LOGS_]PROTOCOL` | `http/protobuf` |
//! | endpoint | `OTEL_EXPORTER_OTLP_[TRACES_\|LOGS_]ENDPOINT` | `localhost:4318` / `:4317` |
//! | headers | `OTEL_EXPORTER_OTLP_[TRACES_\|LOGS_]HEADERS` | none |
//! | timeout | `OTEL_EXPORTER_OTLP_[TRACES_\|LOGS_]TIMEOUT` (ms) | the batch processor's export timeout |
//! | compression | `OTEL_EXPORTER_OTLP_[TRACES_\|LOGS_]COMPRESSION` | none |
//!
//! Why read them here when `opentelemetry-otlp` reads some itself: the SDK
//! reads the process environment directly and skips a bad value with a
//! debug-level message, so `OTEL_EXPORTER_OTLP_COMPRESSION=gzipp` exports
//! uncompressed without a word. Read here, through [`Env`], a bad value
//! stops the service naming the variable, tests pass a map, and the values
//! are handed to the builder explicitly, which takes precedence over the
//! SDK's own reading (for headers the SDK then sets the same values again).
//!
//! Header values are secrets (an `Authorization` token): [`OtlpHeaders`]'s
//! `Debug` shows the names only, and nothing logs a value.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry_otlp::{
    Compression, LogExporter, Protocol, RetryPolicy, SpanExporter, WithExportConfig,
    WithHttpConfig, WithTonicConfig,
};

use crate::config::{ConfigError, Env, parse_key_values, parse_var};

/// Which wire protocol the OTLP exporter speaks (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

impl OtlpProtocol {
    fn parse(var: &str, raw: &str) -> Result<Self, ConfigError> {
        match raw.trim() {
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            "http/json" => Ok(OtlpProtocol::HttpJson),
            _ => Err(ConfigError::new(
                var,
                raw,
                "expected grpc, http/protobuf or http/json",
            )),
        }
    }

    /// The endpoint the specification gives as default for this protocol.
    fn default_endpoint(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "http://localhost:4317",
            OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => "http://localhost:4318",
        }
    }
}

/// Extra headers sent with every export (`OTEL_EXPORTER_OTLP_HEADERS`),
/// typically `authorization=Bearer%20<token>`. Values percent-decoded.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OtlpHeaders(Vec<(String, String)>);

impl OtlpHeaders {
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Names only: the values hold credentials.
impl std::fmt::Debug for OtlpHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

/// Which signal an exporter carries: it picks the signal-specific variables
/// and the HTTP path appended to a generic endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Logs,
}

impl Signal {
    /// The infix of the signal's variables (`OTEL_EXPORTER_OTLP_TRACES_...`).
    fn infix(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES_",
            Signal::Logs => "LOGS_",
        }
    }

    /// The OTLP/HTTP path of the signal.
    fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Logs => "/v1/logs",
        }
    }
}

/// Everything the OTLP exporter is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    pub signal: Signal,
    pub protocol: OtlpProtocol,
    /// The full URL the signal is sent to (for HTTP it ends in
    /// `/v1/traces` or `/v1/logs`).
    pub endpoint: String,
    pub headers: OtlpHeaders,
    /// Bounds each export call; `None`: `OTEL_BSP_EXPORT_TIMEOUT`'s value.
    pub timeout: Option<Duration>,
    /// `true` for `gzip`.
    pub gzip: bool,
}

/// The value of the signal's form of `generic` (`_TRACES_`, `_LOGS_`) if
/// set, else of `generic`, with the name of the variable it came from.
fn signal_var(env: &dyn Env, signal: Signal, generic: &str) -> Option<(String, String)> {
    let specific = generic.replacen(
        "OTEL_EXPORTER_OTLP_",
        &format!("OTEL_EXPORTER_OTLP_{}", signal.infix()),
        1,
    );
    env.get(&specific)
        .map(|v| (specific, v))
        .or_else(|| env.get(generic).map(|v| (generic.to_string(), v)))
}

impl OtlpConfig {
    /// The traces exporter's settings.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Self::for_signal(env, Signal::Traces)
    }

    /// The settings of `signal`'s exporter.
    pub fn for_signal(env: &dyn Env, signal: Signal) -> Result<Self, ConfigError> {
        let protocol = match signal_var(env, signal, "OTEL_EXPORTER_OTLP_PROTOCOL") {
            Some((var, raw)) => OtlpProtocol::parse(&var, &raw)?,
            // The specification's default; the embedded collector serves both.
            None => OtlpProtocol::HttpProtobuf,
        };
        Ok(OtlpConfig {
            signal,
            protocol,
            endpoint: endpoint(env, signal, protocol)?,
            headers: headers(env, signal)?,
            timeout: match signal_var(env, signal, "OTEL_EXPORTER_OTLP_TIMEOUT") {
                Some((var, _)) => parse_var::<u64>(env, &var)?.map(Duration::from_millis),
                None => None,
            },
            gzip: match signal_var(env, signal, "OTEL_EXPORTER_OTLP_COMPRESSION") {
                None => false,
                Some((var, raw)) => match raw.trim() {
                    "gzip" => true,
                    "none" => false,
                    _ => return Err(ConfigError::new(&var, &raw, "expected gzip or none")),
                },
            },
        })
    }

    /// The span exporter these settings describe. `batch_timeout` is
    /// `OTEL_BSP_EXPORT_TIMEOUT`, used when no OTLP timeout is set.
    pub fn exporter(
        &self,
        batch_timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<SpanExporter, String> {
        let built = match self.protocol {
            OtlpProtocol::Grpc => self
                .tonic(SpanExporter::builder().with_tonic(), batch_timeout, retry)?
                .build(),
            OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => self
                .http(SpanExporter::builder().with_http(), batch_timeout, retry)
                .build(),
        };
        built.map_err(|e| e.to_string())
    }

    /// The log exporter these settings describe; `batch_timeout` as for
    /// [`OtlpConfig::exporter`].
    pub fn log_exporter(
        &self,
        batch_timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<LogExporter, String> {
        let built = match self.protocol {
            OtlpProtocol::Grpc => self
                .tonic(LogExporter::builder().with_tonic(), batch_timeout, retry)?
                .build(),
            OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => self
                .http(LogExporter::builder().with_http(), batch_timeout, retry)
                .build(),
        };
        built.map_err(|e| e.to_string())
    }

    /// The gRPC settings, on any signal's tonic builder.
    fn tonic<B: WithExportConfig + WithTonicConfig>(
        &self,
        builder: B,
        batch_timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<B, String> {
        let mut metadata = tonic::metadata::MetadataMap::new();
        for (name, value) in self.headers.pairs() {
            // Checked in `headers`, so these conversions succeed.
            let name = tonic::metadata::AsciiMetadataKey::from_bytes(name.as_bytes())
                .map_err(|e| e.to_string())?;
            let value = value.parse().map_err(|_| "invalid header value")?;
            metadata.insert(name, value);
        }
        let mut builder = builder
            .with_endpoint(&self.endpoint)
            .with_timeout(self.timeout.unwrap_or(batch_timeout))
            .with_retry_policy(retry)
            .with_metadata(metadata);
        if self.gzip {
            builder = builder.with_compression(Compression::Gzip);
        }
        Ok(builder)
    }

    /// The HTTP settings, on any signal's HTTP builder.
    fn http<B: WithExportConfig + WithHttpConfig>(
        &self,
        builder: B,
        batch_timeout: Duration,
        retry: RetryPolicy,
    ) -> B {
        let protocol = if self.protocol == OtlpProtocol::HttpJson {
            Protocol::HttpJson
        } else {
            Protocol::HttpBinary
        };
        let headers: HashMap<String, String> = self.headers.pairs().iter().cloned().collect();
        let mut builder = builder
            .with_protocol(protocol)
            .with_endpoint(&self.endpoint)
            .with_timeout(self.timeout.unwrap_or(batch_timeout))
            .with_retry_policy(retry)
            .with_headers(headers);
        if self.gzip {
            builder = builder.with_compression(Compression::Gzip);
        }
        builder
    }
}

/// `OTEL_EXPORTER_OTLP_[<SIGNAL>_]HEADERS`: `name=value,...`, values
/// percent-decoded, names lower-cased. A name or value HTTP cannot carry is an
/// error, which shows the names only, never the values.
fn headers(env: &dyn Env, signal: Signal) -> Result<OtlpHeaders, ConfigError> {
    let Some((var, _)) = signal_var(env, signal, "OTEL_EXPORTER_OTLP_HEADERS") else {
        return Ok(OtlpHeaders::default());
    };
    // The raw value is a secret too: errors carry a placeholder instead.
    const HIDDEN: &str = "<hidden>";
    let pairs = parse_key_values(env, &var).map_err(|_| {
        ConfigError::new(
            &var,
            HIDDEN,
            "expected name=value pairs separated by commas",
        )
    })?;
    let mut checked = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        // Header names are case-insensitive; HTTP/2 (gRPC) sends them in
        // lower case, so store them that way.
        let name = name.to_ascii_lowercase();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ConfigError::new(
                &var,
                HIDDEN,
                format!("{name:?} is not an HTTP header name"),
            ));
        }
        // gRPC metadata values must be visible ASCII (or a tab or space).
        if http::HeaderValue::from_str(&value).is_err() || !value.is_ascii() {
            return Err(ConfigError::new(
                &var,
                HIDDEN,
                format!("the value of {name:?} is not a valid ASCII header value"),
            ));
        }
        checked.push((name, value));
    }
    Ok(OtlpHeaders(checked))
}

/// The signal's own `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` is used as given;
/// the generic `OTEL_EXPORTER_OTLP_ENDPOINT` is a base URL to which HTTP
/// appends the signal's path, `/v1/traces` or `/v1/logs` (both as the OTLP
/// exporter specification says).
fn endpoint(env: &dyn Env, signal: Signal, protocol: OtlpProtocol) -> Result<String, ConfigError> {
    let specific = format!("OTEL_EXPORTER_OTLP_{}ENDPOINT", signal.infix());
    let (var, url, append) = if let Some(url) = env.get(&specific) {
        (specific.as_str(), url, false)
    } else if let Some(url) = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        ("OTEL_EXPORTER_OTLP_ENDPOINT", url, true)
    } else {
        ("", protocol.default_endpoint().to_string(), true)
    };
    let url = url.trim().to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::new(
            var,
            &url,
            "expected an http:// or https:// URL",
        ));
    }
    Ok(match protocol {
        OtlpProtocol::Grpc => url,
        _ if append => format!("{}{}", url.trim_end_matches('/'), signal.http_path()),
        _ => url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;

    fn config(pairs: &[(&str, &str)]) -> Result<OtlpConfig, ConfigError> {
        OtlpConfig::from_env(&MapEnv::new(pairs.iter().copied()))
    }

    #[test]
    fn defaults_follow_the_specification() {
        let c = config(&[]).unwrap();
        assert_eq!(c.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(c.endpoint, "http://localhost:4318/v1/traces");
        assert!(c.headers.is_empty() && !c.gzip && c.timeout.is_none());
    }

    #[test]
    fn grpc_uses_the_endpoint_as_given() {
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ])
        .unwrap();
        assert_eq!(c.endpoint, "http://collector:4317");
    }

    #[test]
    fn http_appends_the_signal_path_to_the_generic_endpoint_only() {
        let c = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]).unwrap();
        assert_eq!(c.endpoint, "http://c:4318/v1/traces");
        let c = config(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:9/custom")]).unwrap();
        assert_eq!(c.endpoint, "http://c:9/custom");
    }

    #[test]
    fn the_signal_specific_variable_wins() {
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=generic"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "authorization=Bearer%20abc,x-team=a",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "250"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ])
        .unwrap();
        assert_eq!(
            c.headers.pairs(),
            [
                ("authorization".to_string(), "Bearer abc".to_string()),
                ("x-team".to_string(), "a".to_string())
            ]
        );
        assert_eq!(c.timeout, Some(Duration::from_millis(250)));
        assert!(c.gzip);
        assert_eq!(c.protocol, OtlpProtocol::Grpc);
        let c = config(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]).unwrap();
        assert!(c.gzip);
    }

    #[test]
    fn bad_values_name_the_variable_and_never_show_a_header_value() {
        for (var, value) in [
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzipp"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-1"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "token-without-name"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "bad name=secret123"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=secret123%0A"),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            if var.contains("HEADERS") {
                assert!(!err.to_string().contains("secret123"), "{err}");
            }
        }
    }

    #[test]
    fn logs_read_their_own_variables_and_their_own_path() {
        let env = MapEnv::new([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "700"),
        ]);
        let logs = OtlpConfig::for_signal(&env, Signal::Logs).unwrap();
        assert_eq!(logs.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(logs.endpoint, "http://c:4318/v1/logs");
        assert!(logs.gzip);
        assert_eq!(logs.timeout, Some(Duration::from_millis(700)));
        let traces = OtlpConfig::from_env(&env).unwrap();
        assert_eq!(traces.protocol, OtlpProtocol::Grpc);
        assert!(!traces.gzip);
        let env = MapEnv::new([("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://c:9/logs")]);
        let logs = OtlpConfig::for_signal(&env, Signal::Logs).unwrap();
        assert_eq!(logs.endpoint, "http://c:9/logs");
        for (var, value) in [
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "udp"),
            ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "bad name=x"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "c:4318"),
        ] {
            let err = OtlpConfig::for_signal(&MapEnv::new([(var, value)]), Signal::Logs);
            assert_eq!(err.unwrap_err().var, var, "{value}");
        }
    }

    #[test]
    fn debug_output_hides_header_values() {
        let c = config(&[("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=secret123")]).unwrap();
        assert_eq!(c.headers.pairs()[0].0, "authorization");
        let shown = format!("{c:?}");
        assert!(
            shown.contains("authorization") && !shown.contains("secret123"),
            "{shown}"
        );
    }
}
