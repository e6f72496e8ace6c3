//! Hand-built traces: the clean inputs that checks are proven on, and the
//! material their planted defects are planted into.
//!
//! "Every check must be shown to fail on a planted defect": planting needs a
//! realistic clean trace first. [`SyntheticTrace`] builds spans by hand
//! (times in milliseconds from the trace's start), and [`checkout`] builds
//! the trace the mesh produces for a successful `POST /api/checkout`, with
//! the span names, kinds and semantic-convention attributes the services
//! emit, and knobs to add latency in one service.

use std::collections::BTreeMap;

use super::{TraceTree, TreeOptions};
use crate::model::{AttrValue, SpanKind, SpanRecord, SpanStatus, StatusCode};

/// A fixed, realistic epoch (2023-11-14) so timestamps look like real ones;
/// no check may depend on absolute time, and tests prove they do not.
const EPOCH_NANOS: u64 = 1_700_000_000_000_000_000;

/// A trace under construction.
#[derive(Debug, Clone)]
pub struct SyntheticTrace {
    trace_id: String,
    spans: Vec<SpanRecord>,
}

impl SyntheticTrace {
    /// A trace whose id is `number` in hex, zero-padded to 32 characters.
    /// `number` must not be 0 (an all-zero trace id is invalid in OTLP).
    pub fn new(number: u128) -> SyntheticTrace {
        assert_ne!(number, 0, "an all-zero trace id is invalid");
        SyntheticTrace {
            trace_id: format!("{number:032x}"),
            spans: Vec::new(),
        }
    }

    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// Adds a span from `start_ms` to `end_ms` (milliseconds after the
    /// trace's epoch) under `parent` (an index this method returned), and
    /// returns its index. Span ids are derived from the trace id and the
    /// index, so they are unique across synthetic traces too.
    pub fn span(
        &mut self,
        parent: Option<usize>,
        service: &str,
        name: &str,
        kind: SpanKind,
        start_ms: f64,
        end_ms: f64,
    ) -> usize {
        let index = self.spans.len();
        let trace_low = u32::from_str_radix(&self.trace_id[24..], 16).unwrap_or(0);
        let span_id = format!("{trace_low:08x}{:08x}", index + 1);
        let parent_span_id = parent.map(|p| self.spans[p].span_id.clone());
        let mut resource_attributes = BTreeMap::new();
        resource_attributes.insert(
            crate::model::SERVICE_NAME_KEY.to_string(),
            AttrValue::String(service.to_string()),
        );
        self.spans.push(SpanRecord {
            trace_id: self.trace_id.clone(),
            span_id,
            parent_span_id,
            name: name.to_string(),
            kind,
            service_name: service.to_string(),
            start_unix_nanos: at_ms(start_ms),
            end_unix_nanos: at_ms(end_ms),
            status: SpanStatus {
                code: StatusCode::Unset,
                message: String::new(),
            },
            attributes: BTreeMap::new(),
            resource_attributes,
            events: Vec::new(),
            scope_name: "tracemesh".to_string(),
        });
        index
    }

    /// Sets an attribute on span `index`.
    pub fn attr(&mut self, index: usize, key: &str, value: impl Into<Attr>) -> &mut Self {
        self.spans[index]
            .attributes
            .insert(key.to_string(), value.into().0);
        self
    }

    /// Marks span `index` failed, the way the services do: status Error and
    /// an `error.type` attribute.
    pub fn error(&mut self, index: usize, error_type: &str) -> &mut Self {
        self.spans[index].status = SpanStatus {
            code: StatusCode::Error,
            message: error_type.to_string(),
        };
        self.attr(index, "error.type", error_type)
    }

    /// The span id of span `index`.
    pub fn span_id(&self, index: usize) -> &str {
        &self.spans[index].span_id
    }

    pub fn spans(&self) -> &[SpanRecord] {
        &self.spans
    }

    pub fn into_spans(self) -> Vec<SpanRecord> {
        self.spans
    }

    /// The spans assembled into a [`TraceTree`].
    pub fn into_tree(self, options: &TreeOptions) -> TraceTree {
        TraceTree::build(&self.trace_id, self.spans, options)
    }
}

/// An attribute value for [`SyntheticTrace::attr`]: `"text"`, `200`, `true`, `1.5`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attr(pub AttrValue);

impl From<&str> for Attr {
    fn from(value: &str) -> Self {
        Attr(AttrValue::String(value.to_string()))
    }
}
impl From<i64> for Attr {
    fn from(value: i64) -> Self {
        Attr(AttrValue::Int(value))
    }
}
impl From<bool> for Attr {
    fn from(value: bool) -> Self {
        Attr(AttrValue::Bool(value))
    }
}
impl From<f64> for Attr {
    fn from(value: f64) -> Self {
        Attr(AttrValue::Double(value))
    }
}

/// Milliseconds after the synthetic epoch, in unix nanoseconds.
pub fn at_ms(ms: f64) -> u64 {
    EPOCH_NANOS + (ms * 1_000_000.0).round() as u64
}

/// Extra time spent in one place of the checkout, in milliseconds: how
/// tests model injected latency (and latency that went somewhere else).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CheckoutDelays {
    /// Spent in order's PlaceOrder handler itself, before it calls inventory.
    pub order_ms: f64,
    /// Spent in inventory's Reserve handler itself, before the warehouse.
    pub inventory_ms: f64,
    /// Added to the `warehouse.check` span inside inventory.
    pub warehouse_check_ms: f64,
}

/// The full trace of a successful checkout, as the mesh emits it:
///
/// ```text
/// gateway   POST /api/checkout [server]
///   gateway   UserService/ValidateUser [client] > user [server] > SELECT users [client]
///   gateway   OrderService/PlaceOrder [client]
///     order     OrderService/PlaceOrder [server]
///       order     SELECT orders [client]             (the idempotency-key lookup)
///       order     InventoryService/Reserve [client]
///         inventory InventoryService/Reserve [server]
///           warehouse.lock.wait, warehouse.check [internal], BATCH stock [client]
///       order     POST [client] > payment POST /v1/charges [server] > provider.authorize
///       order     INSERT orders [client]
/// ```
pub fn checkout(number: u128, delays: CheckoutDelays) -> SyntheticTrace {
    use SpanKind::{Client, Internal, Server};
    const USER: &str = "tracemesh.user.v1.UserService/ValidateUser";
    const ORDER: &str = "tracemesh.order.v1.OrderService/PlaceOrder";
    const RESERVE: &str = "tracemesh.inventory.v1.InventoryService/Reserve";
    let o = delays.order_ms;
    let i = o + delays.inventory_ms;
    let s = i + delays.warehouse_check_ms;

    let mut t = SyntheticTrace::new(number);
    let root = t.span(None, "gateway", "POST /api/checkout", Server, 0.0, 45.0 + s);
    t.attr(root, "http.request.method", "POST")
        .attr(root, "http.route", "/api/checkout")
        .attr(root, "http.response.status_code", 201)
        .attr(root, "url.path", "/api/checkout");

    let user_call = t.span(Some(root), "gateway", USER, Client, 1.0, 6.0);
    grpc(
        &mut t,
        user_call,
        "tracemesh.user.v1.UserService",
        "ValidateUser",
    );
    let user = t.span(Some(user_call), "user", USER, Server, 1.5, 5.5);
    grpc(
        &mut t,
        user,
        "tracemesh.user.v1.UserService",
        "ValidateUser",
    );
    let users = t.span(Some(user), "user", "SELECT users", Client, 2.0, 4.0);
    db(
        &mut t,
        users,
        "SELECT",
        "SELECT id, name FROM users WHERE id = ?1",
    );

    let order_call = t.span(Some(root), "gateway", ORDER, Client, 7.0, 44.0 + s);
    grpc(
        &mut t,
        order_call,
        "tracemesh.order.v1.OrderService",
        "PlaceOrder",
    );
    let order = t.span(Some(order_call), "order", ORDER, Server, 7.5, 43.5 + s);
    grpc(
        &mut t,
        order,
        "tracemesh.order.v1.OrderService",
        "PlaceOrder",
    );
    let lookup = t.span(Some(order), "order", "SELECT orders", Client, 8.0, 9.0);
    db(
        &mut t,
        lookup,
        "SELECT",
        "SELECT * FROM orders WHERE idempotency_key = ?1",
    );

    let reserve_call = t.span(Some(order), "order", RESERVE, Client, 9.5 + o, 30.0 + s);
    grpc(
        &mut t,
        reserve_call,
        "tracemesh.inventory.v1.InventoryService",
        "Reserve",
    );
    let reserve = t.span(
        Some(reserve_call),
        "inventory",
        RESERVE,
        Server,
        10.0 + o,
        29.5 + s,
    );
    grpc(
        &mut t,
        reserve,
        "tracemesh.inventory.v1.InventoryService",
        "Reserve",
    );
    t.span(
        Some(reserve),
        "inventory",
        "warehouse.lock.wait",
        Internal,
        10.5 + i,
        11.5 + i,
    );
    t.span(
        Some(reserve),
        "inventory",
        "warehouse.check",
        Internal,
        11.5 + i,
        26.5 + s,
    );
    let batch = t.span(
        Some(reserve),
        "inventory",
        "BATCH stock",
        Client,
        27.0 + s,
        29.0 + s,
    );
    db(
        &mut t,
        batch,
        "BATCH",
        "UPDATE stock SET available = available - ?1 WHERE sku = ?2",
    );

    let charge_call = t.span(Some(order), "order", "POST", Client, 30.5 + s, 40.5 + s);
    t.attr(charge_call, "http.request.method", "POST")
        .attr(charge_call, "url.full", "http://127.0.0.1:8084/v1/charges")
        .attr(charge_call, "http.response.status_code", 201);
    let charge = t.span(
        Some(charge_call),
        "payment",
        "POST /v1/charges",
        Server,
        31.0 + s,
        40.0 + s,
    );
    t.attr(charge, "http.request.method", "POST")
        .attr(charge, "http.route", "/v1/charges")
        .attr(charge, "http.response.status_code", 201)
        .attr(charge, "url.path", "/v1/charges");
    t.span(
        Some(charge),
        "payment",
        "provider.authorize",
        Internal,
        31.5 + s,
        39.5 + s,
    );

    let insert = t.span(
        Some(order),
        "order",
        "INSERT orders",
        Client,
        41.0 + s,
        43.0 + s,
    );
    db(
        &mut t,
        insert,
        "INSERT",
        "INSERT INTO orders (id, user_id) VALUES (?1, ?2)",
    );
    t
}

fn grpc(t: &mut SyntheticTrace, span: usize, service: &str, method: &str) {
    t.attr(span, "rpc.system", "grpc")
        .attr(span, "rpc.service", service)
        .attr(span, "rpc.method", method)
        .attr(span, "rpc.grpc.status_code", 0);
}

fn db(t: &mut SyntheticTrace, span: usize, operation: &str, query: &str) {
    t.attr(span, "db.system.name", "sqlite")
        .attr(span, "db.operation.name", operation)
        .attr(span, "db.query.text", query);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_checkout_is_a_sound_tree() {
        let trace = checkout(7, CheckoutDelays::default());
        let tree = trace.into_tree(&TreeOptions::default());
        assert!(tree.is_sound(), "{:?}", tree.defects());
        assert_eq!(tree.len(), 16);
        assert_eq!(tree.roots().len(), 1);
        assert_eq!(tree.max_depth(), 5);
    }

    #[test]
    fn delays_lengthen_the_trace_by_their_sum() {
        let base = checkout(1, CheckoutDelays::default()).into_spans();
        let slow = checkout(
            1,
            CheckoutDelays {
                order_ms: 1.0,
                inventory_ms: 2.0,
                warehouse_check_ms: 3.0,
            },
        )
        .into_spans();
        assert_eq!(
            slow[0].duration_nanos() - base[0].duration_nanos(),
            6_000_000
        );
    }
}
