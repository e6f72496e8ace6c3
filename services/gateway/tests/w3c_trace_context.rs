//! The W3C Trace Context rules through the gateway's real middleware and
//! its `POST /test` endpoint, as the W3C test suite drives them: a caller
//! sends `traceparent` and `tracestate` header fields (repeated ones too),
//! the gateway calls a fake harness, and we look at what the harness
//! received and at the `traceresponse` the caller got back.
//!
//! The rules themselves are `tracemesh_runtime::w3c`'s (`incoming.rs`,
//! `tracestate.rs`); this file checks they hold on the wire, where a
//! request really can carry a header twice.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use common::{Gateway, init_telemetry};
use reqwest::header::{HeaderName, HeaderValue};
use tracemesh_runtime::w3c::TraceParent;

const TRACE: &str = "12345678901234567890123456789012";
const TRACEPARENT: &str = "00-12345678901234567890123456789012-1234567890123456-01";

/// What the fake harness received on one callback: every `traceparent`
/// and every `tracestate` field.
#[derive(Debug, Clone, Default)]
struct Callback {
    traceparent: Vec<String>,
    tracestate: Vec<String>,
}

type Received = Arc<Mutex<Vec<Callback>>>;

fn all(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn record(State(received): State<Received>, headers: HeaderMap) {
    received.lock().unwrap().push(Callback {
        traceparent: all(&headers, "traceparent"),
        tracestate: all(&headers, "tracestate"),
    });
}

/// A gateway with `--w3c-test-endpoint` and a fake harness beside it.
struct Setup {
    gateway: Gateway,
    harness_url: String,
    received: Received,
}

impl Setup {
    async fn start() -> Setup {
        init_telemetry();
        let received = Received::default();
        let harness = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let harness_url = format!("http://{}/callback", harness.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/callback", post(record))
            .with_state(received.clone());
        tokio::spawn(async move { axum::serve(harness, app).await });
        let mut config = common::config(&common::dead_url().await);
        config.w3c_test_endpoint = true;
        Setup {
            gateway: Gateway::start(config).await,
            harness_url,
            received,
        }
    }

    /// Sends `fields` (repeated names kept, in order) to `POST /test`, which
    /// calls the harness once. Returns what the harness received, the
    /// `traceresponse` parsed, and the `tracestate` forwarded (`None` when
    /// no such header was sent on).
    async fn send(&self, fields: &[(&str, &str)]) -> (TraceParent, TraceParent, Option<String>) {
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in fields {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let response = reqwest::Client::new()
            .post(self.gateway.url("/test"))
            .headers(headers)
            .json(&serde_json::json!([{"url": self.harness_url, "arguments": []}]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{fields:?}");
        let traceresponse = parse(response.headers()["traceresponse"].to_str().unwrap());
        let callback = self.received.lock().unwrap().pop().expect("no callback");
        assert_eq!(callback.traceparent.len(), 1, "{callback:?}");
        assert!(callback.tracestate.len() <= 1, "{callback:?}");
        let forwarded = parse(&callback.traceparent[0]);
        // The harness hears from a child of the span the caller is told about.
        assert_eq!(forwarded.trace_id, traceresponse.trace_id, "{fields:?}");
        (
            forwarded,
            traceresponse,
            callback.tracestate.first().cloned(),
        )
    }

    async fn stop(self) {
        self.gateway.stop().await;
    }
}

fn parse(value: &str) -> TraceParent {
    TraceParent::parse(value).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_traceparent_fields_restart_the_trace() {
    let setup = Setup::start().await;
    let other = "00-12345678901234567890123456789011-1234567890123456-01";
    for fields in [
        vec![("traceparent", other), ("traceparent", TRACEPARENT)],
        vec![("traceparent", TRACEPARENT), ("traceparent", TRACEPARENT)],
        vec![
            ("traceparent", TRACEPARENT),
            ("TraceParent", other),
            ("tracestate", "foo=1"),
        ],
    ] {
        let (forwarded, traceresponse, tracestate) = setup.send(&fields).await;
        assert_ne!(forwarded.trace_id, TRACE, "{fields:?}");
        assert_ne!(forwarded.trace_id, &other[3..35], "{fields:?}");
        assert_ne!(traceresponse.trace_id, TRACE);
        // A restarted trace carries no vendor entries of the old one.
        assert_eq!(tracestate, None, "{fields:?}");
    }
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_tracestate_fields_are_forwarded_as_one_list_in_order() {
    let setup = Setup::start().await;
    let cases: [(&[&str], &str); 4] = [
        (
            &["foo=1,bar=2", "rojo=1,congo=2", "baz=3"],
            "foo=1,bar=2,rojo=1,congo=2,baz=3",
        ),
        (&["foo=1", ""], "foo=1"),
        (&["", "foo=1"], "foo=1"),
        (&["foo=1", "foo=2"], "foo=1"),
    ];
    for (tracestate, expected) in cases {
        let mut fields = vec![("traceparent", TRACEPARENT)];
        fields.extend(tracestate.iter().map(|v| ("tracestate", *v)));
        let (forwarded, traceresponse, sent) = setup.send(&fields).await;
        assert_eq!(forwarded.trace_id, TRACE, "{tracestate:?}");
        assert_eq!(traceresponse.trace_id, TRACE);
        assert_eq!(sent.as_deref(), Some(expected), "{tracestate:?}");
    }
    // 32 members over four fields: all of them.
    let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
    let field = |range: std::ops::Range<usize>| members[range].join(",");
    let (a, b, c) = (field(0..10), field(10..20), field(20..30));
    let mut fields = vec![("traceparent", TRACEPARENT)];
    let last = field(30..32);
    for value in [&a, &b, &c, &last] {
        fields.push(("tracestate", value));
    }
    let (_, _, sent) = setup.send(&fields).await;
    assert_eq!(sent, Some(members[..32].join(",")));
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_with_at_signs_and_256_characters_are_forwarded() {
    let setup = Setup::start().await;
    for key in [
        "foo@".to_string(),
        "foo@@bar".to_string(),
        "foo@bar@baz".to_string(),
        format!("t@{}", "v".repeat(15)),
        format!("{}@{}", "t".repeat(241), "v".repeat(14)),
        "z".repeat(256),
    ] {
        let member = format!("{key}=1");
        let fields = [
            ("traceparent", TRACEPARENT),
            ("tracestate", "foo=1"),
            ("tracestate", member.as_str()),
        ];
        let (_, _, sent) = setup.send(&fields).await;
        assert_eq!(sent, Some(format!("foo=1,{member}")), "{} chars", key.len());
    }
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_tracestate_is_dropped_and_the_trace_continued() {
    let setup = Setup::start().await;
    let too_long_key = format!("foo=1,{}=1", "z".repeat(257));
    let thirty_three = (1..=33)
        .map(|i| format!("bar{i:02}={i:02}"))
        .collect::<Vec<_>>()
        .join(",");
    for tracestate in [
        "@foo=1,bar=2",
        "foo =1",
        "FOO=1",
        "foo.bar=1",
        too_long_key.as_str(),
        "foo=bar=baz",
        "foo=,bar=3",
        "foo",
        thirty_three.as_str(),
        // Empty: accepted, and not sent on (an empty list has no header).
        "",
    ] {
        let fields = [("traceparent", TRACEPARENT), ("tracestate", tracestate)];
        let (forwarded, traceresponse, sent) = setup.send(&fields).await;
        assert_eq!(forwarded.trace_id, TRACE, "{tracestate:?}");
        assert_eq!(traceresponse.trace_id, TRACE, "{tracestate:?}");
        assert_eq!(sent, None, "{tracestate:?}");
    }
    // One bad field spoils the list all the fields make.
    let fields = [
        ("traceparent", TRACEPARENT),
        ("tracestate", "foo=1"),
        ("tracestate", "Bad=2"),
    ];
    assert_eq!(setup.send(&fields).await.2, None);
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracestate_without_a_valid_traceparent_is_discarded() {
    let setup = Setup::start().await;
    for fields in [
        vec![("tracestate", "foo=1,bar=2")],
        vec![
            (
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-0x",
            ),
            ("tracestate", "foo=1"),
        ],
    ] {
        let (forwarded, _, sent) = setup.send(&fields).await;
        assert_ne!(forwarded.trace_id, TRACE, "{fields:?}");
        assert_eq!(sent, None, "{fields:?}");
    }
    setup.stop().await;
}
