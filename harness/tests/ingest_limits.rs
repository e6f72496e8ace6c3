//! The collector's limits, black-box: hostile exports over OTLP/HTTP and
//! OTLP/gRPC against a real collector in this process, each refused or cut
//! with a clear status, the collector's memory measured (VmRSS of this
//! process, which runs the collector) and the collector still serving.
//!
//! Requests that the prost types cannot even represent (invalid UTF-8, a
//! 10,000-level nesting, a million spans without a million structs in the
//! test's own memory) are written as raw protobuf bytes and, for gRPC, sent
//! as raw frames through a tonic `Channel`.
//!
//! The tests take one lock: RSS is per process, so two measuring tests must
//! not run at once. Each prints its figures (`--nocapture` shows them).

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use flate2::{Compress, Compression, Crc, FlushCompress};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use prost::Message;
use reqwest::StatusCode;
use tonic::Code;
use tonic::codegen::{Service, http};
use tonic::transport::Channel;
use tracemesh_harness::collector::{
    CollectorConfig, DEFAULT_MAX_ATTRIBUTE_BYTES, DEFAULT_MAX_BODY_BYTES, RunningCollector,
};
use tracemesh_harness::model::{AttrValue, MAX_ATTRIBUTE_DEPTH, NESTED_TOO_DEEP};

/// RSS is per process: measuring tests run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MIB: u64 = 1024 * 1024;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

/// RSS and time around one step; prints them and returns the RSS growth.
struct Measure {
    what: String,
    rss: u64,
    started: Instant,
}

impl Measure {
    fn start(what: impl Into<String>) -> Measure {
        Measure {
            what: what.into(),
            rss: rss_bytes(),
            started: Instant::now(),
        }
    }

    fn finish(self) -> u64 {
        let elapsed = self.started.elapsed();
        let after = rss_bytes();
        let growth = after.saturating_sub(self.rss);
        eprintln!(
            "[limits] {}: RSS {:.1} -> {:.1} MiB (+{:.1} MiB), {:.0} ms",
            self.what,
            self.rss as f64 / MIB as f64,
            after as f64 / MIB as f64,
            growth as f64 / MIB as f64,
            elapsed.as_secs_f64() * 1000.0
        );
        growth
    }
}

// ---- raw protobuf, for requests the prost types cannot hold ----

fn varint_len(mut value: usize) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

fn put_varint(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Tag (field < 16, wire type 2) and length of a length-delimited field.
fn put_header(out: &mut Vec<u8>, field: u8, len: usize) {
    out.push(field << 3 | 2);
    put_varint(out, len);
}

fn put_field(out: &mut Vec<u8>, field: u8, content: &[u8]) {
    put_header(out, field, content.len());
    out.extend_from_slice(content);
}

/// Bytes a length-delimited field takes, around `content` bytes.
fn field_len(content: usize) -> usize {
    1 + varint_len(content) + content
}

/// A `KeyValue` with an already encoded `AnyValue`.
fn raw_attribute(key: &[u8], any_value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(any_value.len() + key.len() + 12);
    put_field(&mut out, 1, key);
    put_field(&mut out, 2, any_value);
    out
}

/// A span of trace `trace` (16 bytes of it), span id `id`, with raw fields.
fn raw_span(trace: u8, id: u8, name: &[u8], attributes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    put_field(&mut out, 1, &trace_id(trace));
    put_field(&mut out, 2, &span_id(id));
    put_field(&mut out, 5, name);
    for attribute in attributes {
        put_field(&mut out, 9, attribute);
    }
    out
}

/// `ExportTraceServiceRequest{ResourceSpans{service.name, ScopeSpans{spans}}}`.
fn raw_request(spans: &[Vec<u8>]) -> Vec<u8> {
    let mut name = Vec::new();
    put_field(&mut name, 1, b"limits-test");
    let mut resource = Vec::new();
    put_field(&mut resource, 1, &raw_attribute(b"service.name", &name));
    let mut scope_spans = Vec::new();
    for span in spans {
        put_field(&mut scope_spans, 2, span);
    }
    let mut resource_spans = Vec::new();
    put_field(&mut resource_spans, 1, &resource);
    put_field(&mut resource_spans, 2, &scope_spans);
    let mut request = Vec::new();
    put_field(&mut request, 1, &resource_spans);
    request
}

/// An `AnyValue`: `levels` arrays (or kvlists) around the string "leaf",
/// written top-down from lengths computed bottom-up, so 10,000 levels cost
/// one buffer and no recursion.
fn raw_nested_value(levels: usize, kvlist: bool) -> Vec<u8> {
    let mut leaf = Vec::new();
    put_field(&mut leaf, 1, b"leaf");
    // (key "k" is 3 bytes: tag, length 1, 'k')
    let sizes = |inner: usize| {
        if kvlist {
            let key_value = 3 + field_len(inner);
            let list = field_len(key_value);
            (key_value, list, field_len(list))
        } else {
            let array = field_len(inner);
            (0, array, field_len(array))
        }
    };
    let mut lens = vec![leaf.len()];
    for level in 1..=levels {
        lens.push(sizes(lens[level - 1]).2);
    }
    let mut out = Vec::with_capacity(lens[levels]);
    for level in (1..=levels).rev() {
        let inner = lens[level - 1];
        let (key_value, list, _) = sizes(inner);
        if kvlist {
            put_header(&mut out, 6, list);
            put_header(&mut out, 1, key_value);
            put_field(&mut out, 1, b"k");
            put_header(&mut out, 2, inner);
        } else {
            put_header(&mut out, 5, list);
            put_header(&mut out, 1, inner);
        }
    }
    out.extend_from_slice(&leaf);
    assert_eq!(out.len(), lens[levels]);
    out
}

/// Bytes of one minimal span inside `ScopeSpans`: 16-byte trace id and
/// 8-byte span id, nothing else (30 bytes with the field header).
const MINIMAL_SPAN_BYTES: usize = 30;

/// `count` minimal spans, each its own trace (ids `first`, `first + 1`, ..),
/// written straight into one buffer (a million prost `Span`s would cost the
/// test ~300 MB itself).
fn minimal_spans_request(count: usize, first: u64) -> Vec<u8> {
    let scope_len = count * MINIMAL_SPAN_BYTES;
    let resource_len = field_len(scope_len);
    let mut out = Vec::with_capacity(field_len(resource_len));
    put_header(&mut out, 1, resource_len);
    put_header(&mut out, 2, scope_len);
    for id in first..first + count as u64 {
        let mut trace = [0u8; 16];
        trace[8..].copy_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&[2 << 3 | 2, 28]);
        put_field(&mut out, 1, &trace);
        put_field(&mut out, 2, &id.to_be_bytes());
    }
    assert_eq!(out.len(), field_len(resource_len));
    out
}

/// The largest number of minimal spans whose request fits `limit` bytes.
fn spans_fitting(limit: usize) -> usize {
    let mut count = limit / MINIMAL_SPAN_BYTES;
    while field_len(field_len(count * MINIMAL_SPAN_BYTES)) > limit {
        count -= 1;
    }
    count
}

// ---- a gzip bomb, built in milliseconds ----

/// A valid single-member gzip stream of `mib` MiB of zeros, about 1 KiB per
/// MiB. Compressing a GiB takes ~30 s in a debug build, so one MiB is
/// compressed with a sync flush (which byte-aligns the output), the
/// steady-state block is repeated, and the CRC is combined arithmetically.
fn gzip_bomb(mib: usize) -> Vec<u8> {
    fn deflate(compress: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
        let start = compress.total_in();
        let mut out = Vec::with_capacity(64 * 1024);
        loop {
            let consumed = (compress.total_in() - start) as usize;
            out.reserve(64 * 1024);
            compress
                .compress_vec(&input[consumed..], &mut out, flush)
                .unwrap();
            let consumed = (compress.total_in() - start) as usize;
            if consumed == input.len() && out.len() < out.capacity() {
                return out;
            }
        }
    }
    assert!(mib >= 2);
    let zeros = vec![0u8; MIB as usize];
    let mut compress = Compress::new(Compression::best(), false);
    let first = deflate(&mut compress, &zeros, FlushCompress::Sync);
    let steady = deflate(&mut compress, &zeros, FlushCompress::Sync);
    let again = deflate(&mut compress, &zeros, FlushCompress::Sync);
    assert_eq!(steady, again, "the repeated block is stable");
    let finish = deflate(&mut compress, &[], FlushCompress::Finish);

    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    gz.extend_from_slice(&first);
    for _ in 1..mib {
        gz.extend_from_slice(&steady);
    }
    gz.extend_from_slice(&finish);
    let mut one = Crc::new();
    one.update(&zeros);
    let mut crc = Crc::new();
    for _ in 0..mib {
        crc.combine(&one);
    }
    gz.extend_from_slice(&crc.sum().to_le_bytes());
    gz.extend_from_slice(&((mib as u64 * MIB) as u32).to_le_bytes());
    gz
}

// ---- clients ----

async fn post_raw(
    collector: &RunningCollector,
    content_type: &str,
    gzip: bool,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url(collector, "/v1/traces"))
        .header("content-type", content_type);
    if gzip {
        request = request.header("content-encoding", "gzip");
    }
    request.body(body).send().await.expect("request sent")
}

async fn error_message(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.expect("error body is JSON");
    body["error"].as_str().expect("error field").to_string()
}

async fn api_stats(collector: &RunningCollector) -> serde_json::Value {
    reqwest::get(url(collector, "/api/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends `message` (already encoded, and gzipped when `gzip`) as one gRPC
/// frame to `TraceService/Export`; the answer or the status.
async fn grpc_raw(
    channel: &mut Channel,
    message: Vec<u8>,
    gzip: bool,
) -> Result<ExportTraceServiceResponse, tonic::Status> {
    let mut frame = Vec::with_capacity(message.len() + 5);
    frame.push(u8::from(gzip));
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&message);
    drop(message);
    let mut request = http::Request::builder()
        .method("POST")
        .uri("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if gzip {
        request = request.header("grpc-encoding", "gzip");
    }
    let request = request
        .body(tonic::body::Body::new(http_body_util::Full::new(
            Bytes::from(frame),
        )))
        .unwrap();
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .expect("channel ready");
    let response = channel.call(request).await.expect("HTTP/2 response");
    // A refusal before the handler is "trailers-only": status in the headers.
    if let Some(status) = tonic::Status::from_header_map(response.headers()) {
        return Err(status);
    }
    let collected = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body");
    let status = collected
        .trailers()
        .and_then(tonic::Status::from_header_map)
        .expect("grpc-status in the trailers");
    if status.code() != Code::Ok {
        return Err(status);
    }
    let body = collected.to_bytes();
    assert!(body.len() >= 5 && body[0] == 0, "one uncompressed frame");
    Ok(ExportTraceServiceResponse::decode(&body[5..]).expect("response decodes"))
}

async fn channel(collector: &RunningCollector) -> Channel {
    Channel::from_shared(collector.grpc_endpoint())
        .unwrap()
        .connect()
        .await
        .expect("gRPC connects")
}

/// Exports one ordinary span over each transport and checks both arrive:
/// the collector survived what came before.
async fn still_serving(collector: &RunningCollector, trace: u8) {
    let body = request(vec![resource_spans(
        "svc",
        vec![span(trace, 1, None, "after", 1)],
    )]);
    let response = post_raw(
        collector,
        "application/x-protobuf",
        false,
        body.encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    grpc_client(collector)
        .await
        .export(request(vec![resource_spans(
            "svc",
            vec![span(trace, 2, None, "after", 1)],
        )]))
        .await
        .expect("gRPC still serving");
    assert_eq!(collector.store().span_count(&trace_hex(trace)), 2);
}

fn limited(max_body_bytes: usize) -> CollectorConfig {
    CollectorConfig {
        max_body_bytes,
        ..CollectorConfig::ephemeral()
    }
}

// ---- a. huge bodies and gzip bombs ----

#[tokio::test]
async fn a_body_over_the_limit_is_refused_unread_413_over_http_and_out_of_range_over_grpc() {
    let _serial = SERIAL.lock().await;
    let collector = start_collector().await;
    assert_eq!(DEFAULT_MAX_BODY_BYTES, 4 * MIB as usize);
    // One span whose name alone is 16 MiB: four times the default limit.
    let huge = raw_request(&[raw_span(1, 1, &vec![b'x'; 16 * MIB as usize], &[])]);

    let copy = huge.clone();
    let measure = Measure::start("a. 16 MiB body over HTTP");
    let response = post_raw(&collector, "application/x-protobuf", false, copy).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let message = error_message(response).await;
    assert!(
        message.contains(&DEFAULT_MAX_BODY_BYTES.to_string()),
        "{message}"
    );
    assert!(measure.finish() < 64 * MIB);

    let measure = Measure::start("a. 16 MiB message over gRPC");
    let status = grpc_raw(&mut channel(&collector).await, huge, false)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("too large"), "{status:?}");
    assert!(measure.finish() < 64 * MIB);

    assert_eq!(collector.store().stats().spans_received, 0);
    still_serving(&collector, 2).await;
    collector.shutdown().await.unwrap();
}

#[test]
fn the_gzip_bomb_is_a_valid_gzip_stream() {
    let _serial = SERIAL.blocking_lock();
    let bomb = gzip_bomb(8);
    assert!(bomb.len() < 16 * 1024, "{} bytes", bomb.len());
    // GzDecoder checks the CRC and size trailer at the end.
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&bomb[..])
        .read_to_end(&mut inflated)
        .expect("valid gzip");
    assert_eq!(inflated.len(), 8 * MIB as usize);
    assert!(inflated.iter().all(|b| *b == 0));
}

#[tokio::test]
async fn a_1_gib_gzip_bomb_is_refused_without_inflating_it() {
    let _serial = SERIAL.lock().await;
    let collector = start_collector().await;
    let bomb = gzip_bomb(1024);
    assert!(
        bomb.len() < DEFAULT_MAX_BODY_BYTES / 2,
        "the bomb passes the wire limit: {} bytes",
        bomb.len()
    );
    eprintln!("[limits] a. gzip bomb: {} bytes -> 1 GiB", bomb.len());

    let copy = bomb.clone();
    let measure = Measure::start("a. 1 GiB gzip bomb over HTTP");
    let response = post_raw(&collector, "application/x-protobuf", true, copy).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let message = error_message(response).await;
    assert!(message.contains("exceeds the limit"), "{message}");
    assert!(measure.finish() < 64 * MIB);

    let measure = Measure::start("a. 1 GiB gzip bomb over gRPC");
    let status = grpc_raw(&mut channel(&collector).await, bomb, true)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("size limit"), "{status:?}");
    assert!(measure.finish() < 64 * MIB);

    assert_eq!(collector.store().stats().spans_received, 0);
    still_serving(&collector, 3).await;
    collector.shutdown().await.unwrap();
}

// ---- b. deep nesting ----

/// Follows single-element arrays down; how many were passed, and what is below.
fn descend(mut value: &AttrValue) -> (usize, &AttrValue) {
    let mut levels = 0;
    while let AttrValue::Array(items) = value {
        value = &items[0];
        levels += 1;
    }
    (levels, value)
}

fn nested_json(trace: u8, levels: usize, kvlist: bool) -> String {
    let (open, close) = if kvlist {
        (r#"{"kvlistValue":{"values":[{"key":"k","value":"#, "}]}}")
    } else {
        (r#"{"arrayValue":{"values":["#, "]}}")
    };
    format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{}","spanId":"{}","name":"deep","attributes":[{{"key":"deep","value":{}{{"stringValue":"leaf"}}{}}}]}}]}}]}}]}}"#,
        trace_hex(trace),
        format!("{trace:02x}").repeat(8),
        open.repeat(levels),
        close.repeat(levels),
    )
}

/// `levels` arrays around "leaf", as prost structs (fine at a depth prost decodes).
fn nested_arrays(levels: usize) -> AnyValue {
    let mut value = AnyValue {
        value: Some(any_value::Value::StringValue("leaf".into())),
    };
    for _ in 0..levels {
        value = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![value],
            })),
        };
    }
    value
}

#[tokio::test]
async fn values_nested_10000_deep_are_refused_naming_the_recursion_limit() {
    let _serial = SERIAL.lock().await;
    let collector = start_collector().await;
    let mut grpc = channel(&collector).await;
    for kvlist in [false, true] {
        let kind = if kvlist { "kvlist" } else { "array" };
        let value = raw_nested_value(10_000, kvlist);
        let body = raw_request(&[raw_span(4, 1, b"deep", &[raw_attribute(b"deep", &value)])]);
        eprintln!(
            "[limits] b. 10,000-deep {kind}: {} bytes of protobuf",
            body.len()
        );

        let measure = Measure::start(format!("b. 10,000-deep {kind} over HTTP protobuf"));
        let response = post_raw(&collector, "application/x-protobuf", false, body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{kind}");
        let message = error_message(response).await;
        assert!(message.contains("recursion limit"), "{kind}: {message}");
        measure.finish();

        let measure = Measure::start(format!("b. 10,000-deep {kind} over gRPC"));
        let status = grpc_raw(&mut grpc, body, false).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{kind}: {status:?}");
        assert!(
            status.message().contains("recursion limit"),
            "{kind}: {status:?}"
        );
        measure.finish();

        let measure = Measure::start(format!("b. 10,000-deep {kind} over HTTP JSON"));
        let json = nested_json(4, 10_000, kvlist);
        let response = post_raw(&collector, "application/json", false, json.into_bytes()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{kind}");
        let message = error_message(response).await;
        assert!(message.contains("recursion limit"), "{kind}: {message}");
        measure.finish();
    }
    assert_eq!(collector.store().stats().spans_received, 0);
    still_serving(&collector, 5).await;
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn values_nested_past_32_levels_that_decode_are_stored_cut_to_a_marker() {
    let _serial = SERIAL.lock().await;
    let collector = start_collector().await;
    let deep_attribute = |levels| KeyValue {
        key: "deep".into(),
        value: Some(nested_arrays(levels)),
        ..Default::default()
    };
    // 40 arrays: within prost's 100 nested messages (2 per level, 5 above).
    let mut over_http = span(6, 1, None, "deep", 1);
    over_http.attributes = vec![deep_attribute(40)];
    let body = request(vec![resource_spans("svc", vec![over_http])]).encode_to_vec();
    let response = post_raw(&collector, "application/x-protobuf", false, body).await;
    assert_eq!(response.status(), StatusCode::OK);

    let mut over_grpc = span(6, 2, None, "deep", 1);
    over_grpc.attributes = vec![deep_attribute(40)];
    grpc_client(&collector)
        .await
        .export(request(vec![resource_spans("svc", vec![over_grpc])]))
        .await
        .expect("40 levels decode");

    // 36 arrays: within serde_json's 128 levels (3 per array, 10 above).
    let json = nested_json(7, 36, false);
    let response = post_raw(&collector, "application/json", false, json.into_bytes()).await;
    assert_eq!(response.status(), StatusCode::OK);

    let marker = AttrValue::String(NESTED_TOO_DEEP.into());
    for trace in [6, 7] {
        for record in collector.store().trace(&trace_hex(trace)).unwrap() {
            let deep = record.attributes.get("deep").expect("attribute kept");
            assert_eq!(
                descend(deep),
                (MAX_ATTRIBUTE_DEPTH, &marker),
                "trace {trace}"
            );
        }
    }
    // The query API re-emits the stored OTLP (depth as received) and answers.
    let answer = reqwest::get(url(&collector, &format!("/api/traces/{}", trace_hex(6))))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    still_serving(&collector, 8).await;
    collector.shutdown().await.unwrap();
}

// ---- c. enormous attribute values ----

#[tokio::test]
async fn a_4_mib_attribute_value_is_cut_to_64_kib_and_counted() {
    let _serial = SERIAL.lock().await;
    // A body limit the 4 MiB values fit under, so the value limit is what acts.
    let collector = start_with(limited(12 * MIB as usize)).await;
    assert_eq!(DEFAULT_MAX_ATTRIBUTE_BYTES, 64 * 1024);
    // '€' is 3 bytes: 64 KiB falls inside a character, so the cut is at 65,535.
    let euros = "€".repeat(4 * MIB as usize / 3);
    let enormous = |id| {
        let mut s = span(9, id, None, "enormous", 1);
        s.attributes = vec![
            string_attr("big.string", &euros),
            KeyValue {
                key: "big.bytes".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::BytesValue(vec![0xab; 4 * MIB as usize])),
                }),
                ..Default::default()
            },
            string_attr("small", "kept"),
        ];
        request(vec![resource_spans("svc", vec![s])])
    };

    let body = enormous(1).encode_to_vec();
    assert!(body.len() < 12 * MIB as usize);
    let measure = Measure::start("c. 8 MiB of attribute values over HTTP");
    let response = post_raw(&collector, "application/x-protobuf", false, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    measure.finish();

    let measure = Measure::start("c. 8 MiB of attribute values over gRPC");
    grpc_client(&collector)
        .await
        .max_encoding_message_size(16 * MIB as usize)
        .export(enormous(2))
        .await
        .expect("accepted, values cut");
    measure.finish();

    for record in collector.store().trace(&trace_hex(9)).unwrap() {
        let kept = record.attr_str("big.string").unwrap();
        assert_eq!(kept.len(), 65_535);
        assert!(kept.chars().all(|c| c == '€'));
        assert_eq!(
            record.attributes.get("big.bytes"),
            Some(&AttrValue::Bytes(vec![0xab; DEFAULT_MAX_ATTRIBUTE_BYTES]))
        );
        assert_eq!(record.attr_str("small"), Some("kept"));
    }
    assert_eq!(collector.ingest_stats().attributes_truncated, 4);
    let stats = api_stats(&collector).await;
    assert_eq!(stats["attributes_truncated"], 4, "{stats}");
    assert_eq!(
        stats["spans_received"], 2,
        "store counters still there: {stats}"
    );
    collector.shutdown().await.unwrap();
}

// ---- d. millions of tiny spans ----

#[tokio::test]
async fn a_million_minimal_spans_over_the_default_limit_are_refused_and_the_largest_fitting_batch_is_bounded_by_eviction()
 {
    let _serial = SERIAL.lock().await;
    let config = CollectorConfig {
        max_spans: 50_000,
        ..CollectorConfig::ephemeral()
    };
    let collector = start_with(config).await;
    let mut grpc = channel(&collector).await;

    let million = minimal_spans_request(1_000_000, 1);
    eprintln!(
        "[limits] d. 1,000,000 minimal spans: {} bytes",
        million.len()
    );
    assert!(million.len() > DEFAULT_MAX_BODY_BYTES);
    let copy = million.clone();
    let measure = Measure::start("d. 1,000,000 spans over HTTP (default limit)");
    let response = post_raw(&collector, "application/x-protobuf", false, copy).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    measure.finish();
    let measure = Measure::start("d. 1,000,000 spans over gRPC (default limit)");
    let status = grpc_raw(&mut grpc, million, false).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    measure.finish();

    let count = spans_fitting(DEFAULT_MAX_BODY_BYTES);
    let fitting = minimal_spans_request(count, 1);
    eprintln!(
        "[limits] d. largest batch under 4 MiB: {count} spans, {} bytes",
        fitting.len()
    );
    let measure = Measure::start(format!("d. {count} spans over HTTP"));
    let response = post_raw(&collector, "application/x-protobuf", false, fitting).await;
    assert_eq!(response.status(), StatusCode::OK);
    let http_growth = measure.finish();
    // New traces, so that the second batch evicts the rest of the first.
    let fitting = minimal_spans_request(count, 1 + count as u64);
    let measure = Measure::start(format!("d. {count} spans over gRPC"));
    let answer = grpc_raw(&mut grpc, fitting, false).await.expect("accepted");
    assert_eq!(answer.partial_success, None);
    let grpc_growth = measure.finish();

    let stats = collector.store().stats();
    let sent = 2 * count as u64;
    assert_eq!(stats.spans_received, sent);
    assert_eq!(stats.spans_stored, 50_000, "the span bound holds");
    assert_eq!(stats.spans_evicted, sent - 50_000, "evictions counted");
    assert_eq!(stats.traces_evicted, sent - 50_000);
    assert!(http_growth < 256 * MIB && grpc_growth < 256 * MIB);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_million_minimal_spans_in_one_request_under_a_raised_limit_keep_the_span_bound() {
    let _serial = SERIAL.lock().await;
    let config = CollectorConfig {
        max_body_bytes: 32 * MIB as usize,
        max_spans: 100_000,
        ..CollectorConfig::ephemeral()
    };
    let collector = start_with(config).await;
    let million = minimal_spans_request(1_000_000, 1);
    let measure = Measure::start("d. 1,000,000 spans over HTTP (32 MiB limit)");
    let response = post_raw(&collector, "application/x-protobuf", false, million).await;
    assert_eq!(response.status(), StatusCode::OK);
    let growth = measure.finish();
    let stats = collector.store().stats();
    assert_eq!(stats.spans_received, 1_000_000);
    assert_eq!(stats.spans_stored, 100_000);
    assert_eq!(stats.spans_evicted, 900_000);
    // The decoded request is ~10x its wire size while it is stored; the
    // bound is what a 32 MiB limit allows, not what a million spans would
    // cost if the store kept them.
    assert!(growth < 1024 * MIB, "{growth}");
    collector.shutdown().await.unwrap();
}

// ---- e. invalid UTF-8 ----

#[tokio::test]
async fn invalid_utf8_in_a_string_field_is_a_400_and_invalid_argument_naming_the_decode_failure() {
    let _serial = SERIAL.lock().await;
    let collector = start_collector().await;
    let mut grpc = channel(&collector).await;
    let mut invalid_value = Vec::new();
    put_field(&mut invalid_value, 1, &[b'o', b'k', 0xff, 0xfe]);
    let cases = [
        (
            "span name",
            raw_request(&[raw_span(10, 1, &[0xff, 0xfe], &[])]),
        ),
        (
            "attribute value",
            raw_request(&[raw_span(
                10,
                1,
                b"op",
                &[raw_attribute(b"k", &invalid_value)],
            )]),
        ),
    ];
    for (field, body) in cases {
        let measure = Measure::start(format!("e. invalid UTF-8 in the {field}"));
        let response = post_raw(&collector, "application/x-protobuf", false, body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{field}");
        let message = error_message(response).await;
        assert!(message.contains("invalid OTLP protobuf body"), "{message}");
        assert!(message.contains("UTF-8"), "{field}: {message}");

        let status = grpc_raw(&mut grpc, body, false).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(status.message().contains("UTF-8"), "{field}: {status:?}");
        measure.finish();
    }
    // The same bytes in OTLP/JSON are not JSON at all.
    let mut json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a","spanId":"0101010101010101","name":""#.to_vec();
    json.extend_from_slice(&[0xff, 0xfe]);
    json.extend_from_slice(br#""}]}]}]}"#);
    let response = post_raw(&collector, "application/json", false, json).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let message = error_message(response).await;
    assert!(message.contains("invalid OTLP/JSON body"), "{message}");

    assert_eq!(collector.store().stats().spans_received, 0);
    still_serving(&collector, 11).await;
    collector.shutdown().await.unwrap();
}

/// A garbage gzip stream over gRPC is tonic's INTERNAL "Error decompressing",
/// which the collector also answers INVALID_ARGUMENT: the request's fault.
#[tokio::test]
async fn corrupt_grpc_gzip_is_invalid_argument_too() {
    let _serial = SERIAL.lock().await;
    let collector = start_collector().await;
    let started = Instant::now();
    let status = grpc_raw(&mut channel(&collector).await, b"not gzip".to_vec(), true)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("decompressing"), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    still_serving(&collector, 12).await;
    collector.shutdown().await.unwrap();
}
