//! Builders shared by the black-box tests: OTLP spans and log records, and
//! a collector on ephemeral ports.

#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use tonic::transport::Channel;
use tracemesh_harness::collector::{self, CollectorConfig, RunningCollector};

/// Generous: only reached when a test is about to fail anyway.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A start time safely in the past and after 2020, in unix nanos.
pub const START: u64 = 1_700_000_000_000_000_000;

pub fn trace_id(byte: u8) -> Vec<u8> {
    vec![byte; 16]
}

pub fn trace_hex(byte: u8) -> String {
    format!("{byte:02x}").repeat(16)
}

pub fn span_id(byte: u8) -> Vec<u8> {
    vec![byte; 8]
}

pub fn string_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

pub fn int_attr(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// A span of trace `trace` with id `id`, child of `parent`, lasting `millis`.
pub fn span(trace: u8, id: u8, parent: Option<u8>, name: &str, millis: u64) -> Span {
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        parent_span_id: parent.map(span_id).unwrap_or_default(),
        name: name.into(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: START,
        end_time_unix_nano: START + millis * 1_000_000,
        ..Default::default()
    }
}

pub fn server_span(trace: u8, id: u8, name: &str, millis: u64) -> Span {
    Span {
        kind: span::SpanKind::Server as i32,
        ..span(trace, id, None, name, millis)
    }
}

pub fn error_status(message: &str) -> Option<Status> {
    Some(Status {
        message: message.into(),
        code: status::StatusCode::Error as i32,
    })
}

pub fn resource_spans(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![string_attr("service.name", service)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "tracemesh-test".into(),
                ..Default::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

pub fn request(batches: Vec<ResourceSpans>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: batches,
    }
}

pub async fn start_collector() -> RunningCollector {
    start_with(CollectorConfig::ephemeral()).await
}

pub async fn start_with(config: CollectorConfig) -> RunningCollector {
    collector::start(config)
        .await
        .expect("collector starts on ephemeral ports")
}

pub async fn grpc_client(collector: &RunningCollector) -> TraceServiceClient<Channel> {
    TraceServiceClient::connect(collector.grpc_endpoint())
        .await
        .expect("gRPC connects")
}

pub fn url(collector: &RunningCollector, path: &str) -> String {
    format!("{}{path}", collector.http_endpoint())
}

/// One OTLP log record of trace `trace` in span `span` (0: no span id).
pub fn log_record(trace: u8, span: u8, body: &str, millis: u64) -> LogRecord {
    LogRecord {
        time_unix_nano: START + millis * 1_000_000,
        severity_number: 13,
        severity_text: "WARN".into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        attributes: vec![int_attr("order_id", 17)],
        trace_id: trace_id(trace),
        span_id: if span == 0 { Vec::new() } else { span_id(span) },
        ..Default::default()
    }
}

/// An OTLP logs export of `service`'s `records`.
pub fn log_request(service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![string_attr("service.name", service)],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

pub async fn logs_grpc_client(collector: &RunningCollector) -> LogsServiceClient<Channel> {
    LogsServiceClient::connect(collector.grpc_endpoint())
        .await
        .expect("gRPC connects")
}
