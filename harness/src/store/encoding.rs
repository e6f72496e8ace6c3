//! How the store holds spans: one byte buffer per trace.
//!
//! A trace's spans live back to back in one `Vec<u8>`, in arrival order,
//! each as `[origin slot][length][the OTLP span as protobuf]` (both prefixes
//! protobuf varints). The span's protobuf is prost's own encoding with the
//! trace id left out: every span of the buffer has the trace's id, which is
//! the index key, and [`TraceSpans::decode`] puts it back. The origin slot
//! indexes the trace's short list of [`SpanOrigin`]s (the resource and scope
//! the span was sent under; a checkout touches five).
//!
//! Why this shape (measured in BENCHMARKS.md, "Store encoding"): a heap
//! allocation, a fat pointer and a struct per span cost more than the span's
//! own bytes once the trace id is gone; one buffer per trace costs one
//! allocation, sized exactly when a batch of the trace's spans is appended.
//! Everything search needs per trace (times, root) is kept beside the buffer
//! by the store, so nothing else is kept per span.
//!
//! Once a trace is quiet (the store received an eighth of its bound in spans
//! since the trace's last span), its buffer is sealed: compressed as one LZ4
//! block ([`TraceSpans::seal`]). A checkout's 16 spans repeat their names,
//! attribute keys and id prefixes, so a sealed trace takes about half the
//! bytes; reads decompress it (a few microseconds per trace, small next to
//! decoding its spans), and a late span decompresses it once to append.
//!
//! Origins are interned store-wide by their protobuf encoding ([`Origins`]):
//! every export of a service repeats the same resource, and one shared copy
//! is kept while a stored span refers to it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use prost::encoding::{decode_varint, encode_varint, encoded_len_varint};

use crate::model::{hex_decode, hex_encode, normalize_trace_id};

/// A trace id as the 16 bytes it is on the wire: the index key.
pub(super) type TraceKey = [u8; 16];

/// The key for a trace id typed in any case, short ids left-padded with
/// zeros (as Tempo does). `None` when it is not hex.
pub(super) fn key_from_hex(text: &str) -> Option<TraceKey> {
    let hex = normalize_trace_id(text)?;
    hex_decode(&hex)?.try_into().ok()
}

/// The key as 32 lowercase hex characters, the form the API shows.
pub(super) fn key_to_hex(key: &TraceKey) -> String {
    hex_encode(key)
}

/// The resource and scope a span was sent under, shared by every stored
/// span that came with an equal one.
#[derive(Debug, PartialEq)]
pub(super) struct SpanOrigin {
    pub resource: Option<Resource>,
    pub resource_schema_url: String,
    pub scope: Option<InstrumentationScope>,
    pub scope_schema_url: String,
}

impl SpanOrigin {
    /// The origin of the spans of one `ScopeSpans`, with its protobuf
    /// encoding, the key it is interned by.
    pub(super) fn new(
        resource: Option<Resource>,
        resource_schema_url: String,
        scope: Option<InstrumentationScope>,
        scope_schema_url: String,
    ) -> (Vec<u8>, SpanOrigin) {
        let origin = SpanOrigin {
            resource,
            resource_schema_url,
            scope,
            scope_schema_url,
        };
        (origin.encode(), origin)
    }

    /// A `ResourceSpans` holding the origin and no span: two origins encode
    /// alike exactly when every field is equal.
    fn encode(&self) -> Vec<u8> {
        ResourceSpans {
            resource: self.resource.clone(),
            scope_spans: vec![ScopeSpans {
                scope: self.scope.clone(),
                spans: Vec::new(),
                schema_url: self.scope_schema_url.clone(),
            }],
            schema_url: self.resource_schema_url.clone(),
        }
        .encode_to_vec()
    }
}

/// The store's one copy of each origin in use, by encoding.
#[derive(Default)]
pub(super) struct Origins {
    by_encoding: HashMap<Vec<u8>, Arc<SpanOrigin>>,
    /// Entries after the last sweep; the next sweep runs at twice as many.
    live_after_sweep: usize,
}

impl Origins {
    /// The shared copy of `origin`, added if it is new.
    pub(super) fn intern(&mut self, encoding: Vec<u8>, origin: SpanOrigin) -> Arc<SpanOrigin> {
        self.by_encoding
            .entry(encoding)
            .or_insert_with(|| Arc::new(origin))
            .clone()
    }

    /// Forgets origins no stored span refers to any more. Amortised: it
    /// walks the table only when it has doubled since the last sweep.
    pub(super) fn sweep_unused(&mut self) {
        if self.by_encoding.len() <= 2 * self.live_after_sweep + 16 {
            return;
        }
        self.by_encoding
            .retain(|_, origin| Arc::strong_count(origin) > 1);
        self.live_after_sweep = self.by_encoding.len();
    }

    pub(super) fn clear(&mut self) {
        self.by_encoding.clear();
        self.live_after_sweep = 0;
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_encoding.len()
    }
}

/// The spans of one trace, encoded as the module doc describes.
#[derive(Default)]
pub(super) struct TraceSpans {
    /// The encoded spans, or once sealed an LZ4 block of them.
    bytes: Vec<u8>,
    /// 0 while `bytes` is raw; once sealed, the raw length.
    sealed_len: usize,
    origins: Vec<Arc<SpanOrigin>>,
    count: u32,
    /// The spans' own protobuf bytes, without the prefixes: what a search
    /// reports as inspected.
    protobuf_bytes: u64,
}

impl TraceSpans {
    pub(super) fn len(&self) -> usize {
        self.count as usize
    }

    pub(super) fn protobuf_bytes(&self) -> u64 {
        self.protobuf_bytes
    }

    /// Makes room for spans of these protobuf lengths, so a batch of spans
    /// costs at most one reallocation and leaves no slack (an origin slot
    /// takes one byte below 128 origins, which a trace never nears).
    pub(super) fn reserve_exact(&mut self, span_lens: impl Iterator<Item = usize>) {
        // A span arriving after its trace was sealed: rare, and it costs one
        // decompression; the store seals the trace again later.
        self.unseal();
        let bytes = span_lens
            .map(|len| 1 + encoded_len_varint(len as u64) + len)
            .sum();
        self.bytes.reserve_exact(bytes);
    }

    /// Compresses the buffer, when that makes it smaller: the store seals a
    /// trace once it is unlikely to get more spans (`State::seal_quiet_traces`).
    pub(super) fn seal(&mut self) {
        if self.sealed_len > 0 || self.bytes.is_empty() {
            return;
        }
        let mut compressed = lz4_flex::block::compress(&self.bytes);
        if compressed.len() < self.bytes.len() {
            compressed.shrink_to_fit();
            self.sealed_len = self.bytes.len();
            self.bytes = compressed;
        }
    }

    fn unseal(&mut self) {
        if self.sealed_len == 0 {
            return;
        }
        self.bytes = self.raw().into_owned();
        self.sealed_len = 0;
    }

    pub(super) fn is_sealed(&self) -> bool {
        self.sealed_len > 0
    }

    /// The encoded spans, decompressed when sealed.
    fn raw(&self) -> Cow<'_, [u8]> {
        if self.sealed_len == 0 {
            return Cow::Borrowed(&self.bytes);
        }
        // Compressed by `seal` from bytes this type wrote: a store bug if not.
        let raw = lz4_flex::block::decompress(&self.bytes, self.sealed_len)
            .expect("the store decompresses what it compressed");
        Cow::Owned(raw)
    }

    /// Appends one span's encoding (the span's protobuf, trace id left out).
    /// The buffer must be unsealed (`reserve_exact` does that).
    pub(super) fn push(&mut self, origin: &Arc<SpanOrigin>, encoded: &[u8]) {
        let slot = match self.origins.iter().position(|o| Arc::ptr_eq(o, origin)) {
            Some(slot) => slot,
            None => {
                self.origins.push(origin.clone());
                self.origins.len() - 1
            }
        };
        debug_assert!(!self.is_sealed(), "push after reserve_exact");
        encode_varint(slot as u64, &mut self.bytes);
        encode_varint(encoded.len() as u64, &mut self.bytes);
        self.bytes.extend_from_slice(encoded);
        self.count += 1;
        self.protobuf_bytes += encoded.len() as u64;
    }

    /// Heap bytes held (buffer capacity and origin list), for tests and
    /// the memory figures.
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.origins.capacity() * size_of::<Arc<SpanOrigin>>()
    }

    /// Every span, in arrival order, with its origin, as OTLP again.
    pub(super) fn decode<'a>(
        &'a self,
        trace_id: &'a TraceKey,
    ) -> impl Iterator<Item = (&'a Arc<SpanOrigin>, Span)> + 'a {
        let raw = self.raw();
        let mut at = 0;
        std::iter::from_fn(move || {
            let mut rest = raw.get(at..).filter(|rest| !rest.is_empty())?;
            let before = rest.len();
            // The bytes were written by `push` from prost's own encoding a
            // moment after a successful decode: failing here is a store bug.
            let slot = decode_varint(&mut rest).expect("a stored origin slot") as usize;
            let len = decode_varint(&mut rest).expect("a stored span length") as usize;
            let mut span = Span::decode(&rest[..len]).expect("the store decodes what it encoded");
            at += before - rest.len() + len;
            span.trace_id = trace_id.to_vec();
            Some((&self.origins[slot], span))
        })
    }

    /// A copy to decode outside the store's lock: the bytes are copied, the
    /// origins shared.
    pub(super) fn snapshot(&self) -> TraceSpans {
        TraceSpans {
            bytes: self.bytes.clone(),
            sealed_len: self.sealed_len,
            origins: self.origins.clone(),
            count: self.count,
            protobuf_bytes: self.protobuf_bytes,
        }
    }
}

/// One accepted span of an export, encoded before the store's lock is
/// taken: its bytes are `ExportEncoding::bytes[offset..offset + len]`.
pub(super) struct EncodedSpan {
    pub trace_id: TraceKey,
    /// Index into `ExportEncoding::origins`.
    pub origin: u32,
    pub offset: usize,
    pub len: usize,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub is_root: bool,
}

/// The accepted spans of one export, encoded into one buffer, and the
/// origins they came with (not yet interned).
#[derive(Default)]
pub(super) struct ExportEncoding {
    pub origins: Vec<(Vec<u8>, SpanOrigin)>,
    pub bytes: Vec<u8>,
    pub spans: Vec<EncodedSpan>,
}

impl ExportEncoding {
    /// Encodes `span` (already validated) under the origin last added.
    pub(super) fn push(&mut self, mut span: Span) {
        let trace_id: TraceKey = span
            .trace_id
            .as_slice()
            .try_into()
            .expect("validated: 16 bytes");
        // Left out of the bytes: the key says it for every span of a trace.
        span.trace_id = Vec::new();
        let offset = self.bytes.len();
        span.encode(&mut self.bytes)
            .expect("a Vec grows to fit any encoding");
        self.spans.push(EncodedSpan {
            trace_id,
            origin: (self.origins.len() - 1) as u32,
            offset,
            len: self.bytes.len() - offset,
            start_unix_nanos: span.start_time_unix_nano,
            end_unix_nanos: span.end_time_unix_nano,
            is_root: crate::model::is_root(&span),
        });
    }
}

impl EncodedSpan {
    /// This span's encoding within its export's `bytes`.
    pub(super) fn bytes<'a>(&self, export_bytes: &'a [u8]) -> &'a [u8] {
        &export_bytes[self.offset..self.offset + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::super::TraceStore;
    use super::super::tests::{batch, trace_hex};
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value,
    };
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    use opentelemetry_proto::tonic::trace::v1::{Status, status};

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    /// A span using every field the wire has, attribute values of every type.
    fn full_span() -> Span {
        let attributes = vec![
            kv("s", Value::StringValue("text".into())),
            kv("b", Value::BoolValue(true)),
            kv("i", Value::IntValue(-42)),
            kv("d", Value::DoubleValue(2.5)),
            kv("bytes", Value::BytesValue(vec![0, 1, 255])),
            kv(
                "array",
                Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(Value::IntValue(7)),
                    }],
                }),
            ),
            kv(
                "map",
                Value::KvlistValue(KeyValueList {
                    values: vec![kv("inner", Value::StringValue("v".into()))],
                }),
            ),
            KeyValue {
                key: "empty".into(),
                value: None,
                ..Default::default()
            },
        ];
        Span {
            trace_id: vec![9; 16],
            span_id: vec![3; 8],
            parent_span_id: vec![2; 8],
            trace_state: "k=v".into(),
            flags: 0x301,
            name: "GET /x".into(),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_500_000_000,
            attributes: attributes.clone(),
            dropped_attributes_count: 1,
            events: vec![Event {
                time_unix_nano: 1_700_000_000_100_000_000,
                name: "exception".into(),
                attributes,
                dropped_attributes_count: 2,
            }],
            dropped_events_count: 3,
            links: vec![Link {
                trace_id: vec![8; 16],
                span_id: vec![4; 8],
                ..Default::default()
            }],
            dropped_links_count: 4,
            status: Some(Status {
                message: "declined".into(),
                code: status::StatusCode::Error as i32,
            }),
        }
    }

    #[test]
    fn every_field_of_a_span_comes_back_as_sent() {
        let store = TraceStore::new(100);
        let mut rs = batch("svc", &[]);
        rs.schema_url = "https://opentelemetry.io/schemas/1.26.0".into();
        rs.scope_spans[0].schema_url = "scope-schema".into();
        rs.scope_spans[0].spans = vec![full_span()];
        store.insert(vec![rs.clone()]);

        // The query API gets back exactly what was sent, nesting included.
        assert_eq!(store.trace_otlp(&trace_hex(9)), Some(vec![rs]));
        // Checks get every field flattened, as from the wire.
        let record = &store.trace(&trace_hex(9)).unwrap()[0];
        let resource = Resource {
            attributes: vec![kv("service.name", Value::StringValue("svc".into()))],
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: "test".into(),
            ..Default::default()
        };
        let expected =
            crate::model::SpanRecord::from_otlp(Some(&resource), Some(&scope), &full_span())
                .unwrap();
        assert_eq!(record, &expected);
        assert_eq!(record.events.len(), 1);
        assert_eq!(record.attributes.len(), 8);
        assert_eq!(record.status.message, "declined");
    }

    #[test]
    fn spans_of_equal_origins_share_one_copy_and_unused_ones_are_swept() {
        let store = TraceStore::new(4);
        for trace in 1..=40u8 {
            // Two services per export: two origins, whatever the export count.
            store.insert(vec![batch("a", &[(trace, 1)]), batch("b", &[(trace, 2)])]);
        }
        assert_eq!(store.lock().origins.len(), 2);
        let otlp = store.trace_otlp(&trace_hex(40)).unwrap();
        assert_eq!(otlp.len(), 2, "one ResourceSpans per service");

        // Services that stopped sending: their origins go once no span needs them.
        for trace in 41..=120u8 {
            let service = format!("svc-{trace}");
            store.insert(vec![batch(&service, &[(trace, 1)])]);
        }
        let origins = store.lock().origins.len();
        assert!(
            origins <= 2 * 4 + 16 + 1,
            "{origins} origins kept for 4 spans"
        );
    }

    #[test]
    fn a_trace_is_one_buffer_without_its_trace_id() {
        let store = TraceStore::new(100);
        let spans: Vec<(u8, u8)> = (1..=16).map(|s| (5, s)).collect();
        store.insert(vec![batch("a", &spans)]);
        let state = store.lock();
        let trace = &state.traces[&[5; 16]];
        let protobuf: usize = store_spans_protobuf(&trace.spans);
        // Each span: its protobuf without the 18 bytes of trace id, plus a
        // two-byte prefix; one exactly sized buffer and the origin list.
        assert_eq!(trace.spans.bytes.len(), protobuf + 2 * 16);
        assert_eq!(trace.spans.bytes.capacity(), trace.spans.bytes.len());
        let sent = batch("a", &spans).scope_spans[0].spans[0].encoded_len();
        assert_eq!(protobuf / 16, sent - 18);
        assert!(trace.spans.heap_bytes() < 16 * sent);
    }

    #[test]
    fn a_sealed_trace_is_smaller_decodes_the_same_and_takes_late_spans() {
        // Bound 80: a trace is sealed once 10 more spans have arrived.
        let store = TraceStore::new(80);
        let spans: Vec<(u8, u8)> = (1..=16).map(|s| (5, s)).collect();
        let mut rs = batch("a", &spans);
        rs.scope_spans[0].spans[3] = Span {
            span_id: vec![4; 8],
            ..full_span()
        };
        rs.scope_spans[0].spans[3].trace_id = vec![5; 16];
        store.insert(vec![rs]);
        let before = store.trace(&trace_hex(5)).unwrap();
        let otlp_before = store.trace_otlp(&trace_hex(5)).unwrap();
        let raw_bytes = store.lock().traces[&[5; 16]].spans.bytes.len();
        assert!(!store.lock().traces[&[5; 16]].spans.is_sealed());

        store.insert(vec![batch(
            "a",
            &(1..=10).map(|s| (6, s)).collect::<Vec<_>>(),
        )]);
        {
            let state = store.lock();
            let sealed = &state.traces[&[5; 16]].spans;
            assert!(sealed.is_sealed());
            assert!(
                sealed.bytes.len() < raw_bytes,
                "{} bytes",
                sealed.bytes.len()
            );
            assert!(!state.traces[&[6; 16]].spans.is_sealed(), "still receiving");
        }
        assert_eq!(store.trace(&trace_hex(5)).unwrap(), before);
        assert_eq!(store.trace_otlp(&trace_hex(5)).unwrap(), otlp_before);

        // A late span: appended after the others, and the trace sealed again later.
        store.insert(vec![batch("b", &[(5, 17)])]);
        let after = store.trace(&trace_hex(5)).unwrap();
        assert_eq!(after.len(), 17);
        assert_eq!(after[..16], before[..]);
        assert_eq!(after[16].service_name, "b");
        store.insert(vec![batch(
            "a",
            &(1..=10).map(|s| (7, s)).collect::<Vec<_>>(),
        )]);
        assert!(store.lock().traces[&[5; 16]].spans.is_sealed());
        assert_eq!(store.trace(&trace_hex(5)).unwrap(), after);
        assert_eq!(store.stats().spans_stored, 17 + 10 + 10);
    }

    fn store_spans_protobuf(spans: &TraceSpans) -> usize {
        spans.protobuf_bytes() as usize
    }

    #[test]
    fn trace_keys_read_any_case_and_short_ids() {
        assert_eq!(key_from_hex(&"AB".repeat(16)), Some([0xab; 16]));
        let mut short = [0u8; 16];
        short[15] = 0x1f;
        assert_eq!(key_from_hex("1f"), Some(short));
        assert_eq!(key_from_hex("xyz"), None);
        assert_eq!(key_to_hex(&[0xab; 16]), "ab".repeat(16));
    }
}
