//! TraceQL over realistic traces: the synthetic checkout and a hand-built
//! failing checkout, each query's answer worked out by hand from the
//! builders (indices in build order, listed below), never by running the
//! evaluator. Then a seeded stream of grammar-shaped and arbitrary inputs
//! that must never panic, parsing or evaluating.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::parse;
use crate::SpanRecord;
use crate::model::{AttrValue, SpanKind, StatusCode};
use crate::trace::synthetic::{Attr, CheckoutDelays, SyntheticTrace, checkout};

/// `checkout(1, default)`, times in ms, parents in brackets:
///
/// ```text
///  0 gateway   POST /api/checkout          server    0-45   status_code 201
///  1 gateway   UserService/ValidateUser    client    1-6    [0]
///  2 user      UserService/ValidateUser    server  1.5-5.5  [1]
///  3 user      SELECT users                client    2-4    [2]  db
///  4 gateway   OrderService/PlaceOrder     client    7-44   [0]
///  5 order     OrderService/PlaceOrder     server  7.5-43.5 [4]
///  6 order     SELECT orders               client    8-9    [5]  db
///  7 order     InventoryService/Reserve    client  9.5-30   [5]
///  8 inventory InventoryService/Reserve    server   10-29.5 [7]
///  9 inventory warehouse.lock.wait         internal 10.5-11.5 [8]
/// 10 inventory warehouse.check             internal 11.5-26.5 [8]
/// 11 inventory BATCH stock                 client   27-29   [8]  db
/// 12 order     POST                        client 30.5-40.5 [5]  status_code 201
/// 13 payment   POST /v1/charges            server   31-40   [12] status_code 201
/// 14 payment   provider.authorize          internal 31.5-39.5 [13]
/// 15 order     INSERT orders               client   41-43   [5]  db
/// ```
fn ok_trace() -> Vec<SpanRecord> {
    checkout(1, CheckoutDelays::default()).into_spans()
}

/// A checkout that failed in payment:
///
/// ```text
/// 0 gateway POST /api/checkout      server 0-120   error "upstream", status_code 502
/// 1 order   PlaceOrder              server 5-115   [0] error "payment_failed"
/// 2 order   POST                    client 10-110  [1] error "timeout", status_code 503,
///                                                      retry.count 2, sampling.ratio 0.5,
///                                                      peer.tags ["a", "b"]
/// 3 payment POST /v1/charges        server 12-108  [2] error "timeout", fault.injected true,
///                                                      "foo bar" = "quoted", resource region "eu"
/// 4 order   SELECT orders           client 6-7.5   [1] status ok, span region "local"
/// ```
fn failed_trace() -> Vec<SpanRecord> {
    use SpanKind::{Client, Server};
    let mut t = SyntheticTrace::new(2);
    let root = t.span(None, "gateway", "POST /api/checkout", Server, 0.0, 120.0);
    t.attr(root, "http.response.status_code", 502)
        .error(root, "upstream");
    let order = t.span(
        Some(root),
        "order",
        "tracemesh.order.v1.OrderService/PlaceOrder",
        Server,
        5.0,
        115.0,
    );
    t.error(order, "payment_failed");
    let charge = t.span(Some(order), "order", "POST", Client, 10.0, 110.0);
    t.attr(charge, "http.response.status_code", 503)
        .attr(charge, "retry.count", 2)
        .attr(charge, "sampling.ratio", 0.5)
        .attr(
            charge,
            "peer.tags",
            Attr(AttrValue::Array(vec![
                AttrValue::String("a".into()),
                AttrValue::String("b".into()),
            ])),
        )
        .error(charge, "timeout");
    let pay = t.span(
        Some(charge),
        "payment",
        "POST /v1/charges",
        Server,
        12.0,
        108.0,
    );
    t.attr(pay, "fault.injected", true)
        .attr(pay, "foo bar", "quoted")
        .error(pay, "timeout");
    let sql = t.span(Some(order), "order", "SELECT orders", Client, 6.0, 7.5);
    t.attr(sql, "region", "local");
    let mut spans = t.into_spans();
    spans[pay]
        .resource_attributes
        .insert("region".into(), AttrValue::String("eu".into()));
    spans[sql].status.code = StatusCode::Ok;
    spans
}

const ALL_OK: &[usize] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// (query, which trace, expected spansets' spans)
fn cases() -> Vec<(&'static str, char, Vec<Vec<usize>>)> {
    let one = |s: &[usize]| vec![s.to_vec()];
    let none = Vec::new;
    vec![
        ("{}", 'c', one(ALL_OK)),
        ("{ }", 'f', one(&[0, 1, 2, 3, 4])),
        (r#"{ name = "SELECT users" }"#, 'c', one(&[3])),
        (r#"{ span:name = `POST` }"#, 'c', one(&[12])),
        (
            r#"{ span.db.system.name = "sqlite" }"#,
            'c',
            one(&[3, 6, 11, 15]),
        ),
        (
            r#"{ resource.service.name = "inventory" }"#,
            'c',
            one(&[8, 9, 10, 11]),
        ),
        (r#"{ .service.name = "payment" }"#, 'c', one(&[13, 14])),
        ("{ kind = server }", 'c', one(&[0, 2, 5, 8, 13])),
        ("{ span:kind = internal }", 'c', one(&[9, 10, 14])),
        ("{ kind = consumer }", 'c', none()),
        // 10 lasts exactly 15ms: not more than 15ms
        ("{ duration > 15ms }", 'c', one(&[0, 4, 5, 7, 8])),
        (
            "{ span:duration >= 15ms && kind = internal }",
            'c',
            one(&[10]),
        ),
        ("{ duration < 1.5ms }", 'c', one(&[6, 9])),
        ("{ duration > 1ms * 20 }", 'c', one(&[0, 4, 5, 7])),
        (
            "{ span.http.response.status_code = 201 }",
            'c',
            one(&[0, 12, 13]),
        ),
        // a string literal never equals an int attribute
        (r#"{ span.http.response.status_code = "201" }"#, 'c', none()),
        // an int attribute against a float literal compares numerically
        (
            "{ span.http.response.status_code > 200.5 }",
            'c',
            one(&[0, 12, 13]),
        ),
        (
            "{ span.http.response.status_code >= 500 }",
            'f',
            one(&[0, 2]),
        ),
        ("{ status = error }", 'f', one(&[0, 1, 2, 3])),
        ("{ span:status = ok }", 'f', one(&[4])),
        ("{ status != error }", 'c', one(ALL_OK)),
        (r#"{ statusMessage = "timeout" }"#, 'f', one(&[2, 3])),
        (r#"{ span:statusMessage =~ "pay.*" }"#, 'f', one(&[1])),
        // regexes match the whole value
        (r#"{ name =~ "SELECT" }"#, 'c', none()),
        (r#"{ name =~ "SELECT.*" }"#, 'c', one(&[3, 6])),
        (
            r#"{ name !~ ".*Service/.*" }"#,
            'c',
            one(&[0, 3, 6, 9, 10, 11, 12, 13, 14, 15]),
        ),
        (r#"{ rootName = "POST /api/checkout" }"#, 'c', one(ALL_OK)),
        (
            r#"{ trace:rootService = "gateway" && name = "POST" }"#,
            'c',
            one(&[12]),
        ),
        (r#"{ rootServiceName = "order" }"#, 'c', none()),
        ("{ traceDuration > 100ms }", 'c', none()),
        ("{ trace:duration > 100ms }", 'f', one(&[0, 1, 2, 3, 4])),
        ("{ span.retry.count != nil }", 'f', one(&[2])),
        (
            "{ span.retry.count = nil && kind = client }",
            'f',
            one(&[4]),
        ),
        (r#"{ span."foo bar" = "quoted" }"#, 'f', one(&[3])),
        (r#"{ .region = "eu" }"#, 'f', one(&[3])),
        (r#"{ span.region = "eu" }"#, 'f', none()),
        (r#"{ .region = "local" }"#, 'f', one(&[4])),
        ("{ span.fault.injected = true }", 'f', one(&[3])),
        ("{ span.sampling.ratio < 1 }", 'f', one(&[2])),
        (r#"{ span.peer.tags = "b" }"#, 'f', one(&[2])),
        (r#"{ span.peer.tags != "c" }"#, 'f', one(&[2])),
        (r#"{ span.peer.tags != "a" }"#, 'f', none()),
        ("{ span:childCount > 2 }", 'c', one(&[5, 8])),
        (
            r#"{ !(kind = client) && resource.service.name = "order" }"#,
            'c',
            one(&[5]),
        ),
        // && and || share a level: (a || b) && server
        (
            r#"{ name = "a" || name = "SELECT users" && kind = server }"#,
            'c',
            none(),
        ),
        (
            r#"{ kind = server && (name =~ ".*checkout" || name =~ ".*charges") }"#,
            'c',
            one(&[0, 13]),
        ),
        // structural operators return the right-hand side's spans
        (
            r#"{ resource.service.name = "payment" } >> { kind = internal }"#,
            'c',
            one(&[14]),
        ),
        (
            r#"{ resource.service.name = "order" } > { resource.service.name = "inventory" }"#,
            'c',
            one(&[8]),
        ),
        (r#"{ name = "warehouse.check" } ~ { }"#, 'c', one(&[9, 11])),
        (
            r#"{ name = "SELECT orders" } ~ { kind = client }"#,
            'c',
            one(&[7, 12, 15]),
        ),
        (
            "{ kind = server } << { kind = client }",
            'c',
            one(&[1, 4, 7, 12]),
        ),
        (r#"{ name = "BATCH stock" } < { }"#, 'c', one(&[8])),
        (
            r#"{ resource.service.name = "user" } !>> { span.db.system.name != nil }"#,
            'c',
            one(&[6, 11, 15]),
        ),
        (r#"{ name = "POST" } &> { }"#, 'c', one(&[12, 13])),
        ("{ span.fault.injected = true } > { }", 'f', none()),
        // spanset && / ||: both / either matched, the union of their spans
        (
            "{ status = error } && { span:status = ok }",
            'f',
            one(&[0, 1, 2, 3, 4]),
        ),
        (r#"{ name = "nope" } && { }"#, 'c', none()),
        (
            r#"{ name = "nope" } || { kind = internal }"#,
            'c',
            one(&[9, 10, 14]),
        ),
        // pipelines
        ("{ kind = internal } | count() > 2", 'c', one(&[9, 10, 14])),
        ("{ kind = internal } | count() > 3", 'c', none()),
        // inventory's durations 19.5, 1, 15, 2: average 9.375ms
        (
            r#"{ resource.service.name = "inventory" } | avg(duration) > 9ms"#,
            'c',
            one(&[8, 9, 10, 11]),
        ),
        (
            r#"{ resource.service.name = "inventory" } | avg(duration) > 10ms"#,
            'c',
            none(),
        ),
        (
            "{ kind = client } | max(duration) = 37ms",
            'c',
            one(&[1, 3, 4, 6, 7, 11, 12, 15]),
        ),
        ("{ } | min(duration) < 1.5ms", 'c', one(ALL_OK)),
        (
            "{ } | sum(span.http.response.status_code) = 603",
            'c',
            one(ALL_OK),
        ),
        (
            "{ } | by(resource.service.name)",
            'c',
            vec![
                vec![0, 1, 4],
                vec![2, 3],
                vec![5, 6, 7, 12, 15],
                vec![8, 9, 10, 11],
                vec![13, 14],
            ],
        ),
        (
            "{ } | by(resource.service.name) | count() > 3",
            'c',
            vec![vec![5, 6, 7, 12, 15], vec![8, 9, 10, 11]],
        ),
        (
            "{ } | by(resource.service.name) | count() > 3 | coalesce()",
            'c',
            one(&[5, 6, 7, 8, 9, 10, 11, 12, 15]),
        ),
        (
            "{ kind = server } | select(span.http.route, name)",
            'c',
            one(&[0, 2, 5, 8, 13]),
        ),
        ("{ kind = server } | { duration > 30ms }", 'c', one(&[0, 5])),
        (
            r#"({ kind = server } | count() > 4) && { name = "POST" }"#,
            'c',
            one(&[0, 2, 5, 8, 12, 13]),
        ),
        (
            r#"({ kind = server } | count() > 5) && { name = "POST" }"#,
            'c',
            none(),
        ),
    ]
}

#[test]
fn queries_over_realistic_traces_return_the_hand_worked_spans() {
    let ok = ok_trace();
    let failed = failed_trace();
    assert_eq!(ok.len(), 16);
    let cases = cases();
    assert!(cases.len() >= 40);
    for (text, which, expected) in cases {
        let trace = if which == 'c' { &ok } else { &failed };
        let query = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got: Vec<Vec<usize>> = query.evaluate(trace).into_iter().map(|s| s.spans).collect();
        assert_eq!(got, expected, "{text}");
        assert_eq!(query.matches(trace), !expected.is_empty(), "{text}");
        assert_eq!(query.text(), text);
    }
}

#[test]
fn aggregates_are_reported_with_the_spanset() {
    let ok = ok_trace();
    let aggregate = |text: &str| -> Vec<Option<f64>> {
        parse(text)
            .unwrap()
            .evaluate(&ok)
            .into_iter()
            .map(|s| s.aggregate)
            .collect()
    };
    assert_eq!(
        aggregate("{ kind = internal } | count() > 2"),
        vec![Some(3.0)]
    );
    assert_eq!(
        aggregate(r#"{ resource.service.name = "inventory" } | avg(duration) > 9ms"#),
        vec![Some(9_375_000.0)]
    );
    assert_eq!(
        aggregate("{ kind = client } | max(duration) = 37ms"),
        vec![Some(37_000_000.0)]
    );
    assert_eq!(aggregate("{ kind = internal }"), vec![None]);
}

#[test]
fn an_empty_trace_matches_nothing() {
    assert!(!parse("{}").unwrap().matches(&[]));
}

/// Pieces of TraceQL, valid and not, to assemble at random.
const VOCABULARY: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "|",
    "&&",
    "||",
    "!",
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "=~",
    "!~",
    ">>",
    "<<",
    "~",
    "!>",
    "&>>",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    ",",
    "name",
    "status",
    "kind",
    "duration",
    "rootName",
    "rootServiceName",
    "traceDuration",
    "statusMessage",
    "span:name",
    "span:duration",
    "trace:rootService",
    "span:childCount",
    "span.http.response.status_code",
    "resource.service.name",
    ".service.name",
    "span.\"a b\"",
    "span.",
    "parent.x",
    "event:name",
    "ok",
    "error",
    "unset",
    "server",
    "client",
    "internal",
    "nil",
    "true",
    "false",
    "200",
    "1.5",
    "-3",
    "100ms",
    "1h30m",
    "2µs",
    "\"SELECT.*\"",
    "\"(\"",
    "`raw`",
    "\"unterminated",
    "count()",
    "avg(duration)",
    "min(",
    "max",
    "sum(span.x)",
    "by(name)",
    "coalesce()",
    "select(name)",
    "rate()",
    "with(x=1)",
    "0",
    "99999999999999999999",
    "é",
    "\\",
    "&",
    "#",
    ".",
];

fn random_query(rng: &mut StdRng) -> String {
    let n = rng.random_range(1..24);
    let mut text = String::new();
    for _ in 0..n {
        text.push_str(VOCABULARY[rng.random_range(0..VOCABULARY.len())]);
        if rng.random_bool(0.7) {
            text.push(' ');
        }
    }
    text
}

/// A query built from the grammar, so most of them parse and run.
fn grammatical_query(rng: &mut StdRng) -> String {
    const FIELDS: &[&str] = &[
        "name",
        "duration",
        "status",
        "kind",
        "span.http.response.status_code",
        ".region",
        "resource.service.name",
        "span.peer.tags",
        "traceDuration",
        "span:childCount",
    ];
    const OPS: &[&str] = &["=", "!=", ">", ">=", "<", "<=", "=~", "!~"];
    const VALUES: &[&str] = &[
        "\"POST\"", "\".*\"", "200", "1.5", "10ms", "error", "server", "nil", "true", "-1",
    ];
    const SPANSET_OPS: &[&str] = &["&&", "||", ">", ">>", "<", "<<", "~", "!>>", "&>", "!~"];
    const STAGES: &[&str] = &[
        "count() > 1",
        "avg(duration) > 1ms",
        "max(span.http.response.status_code) >= 0",
        "by(resource.service.name)",
        "coalesce()",
        "select(name)",
        "{ kind = client }",
    ];
    let pick = |rng: &mut StdRng, from: &[&str]| from[rng.random_range(0..from.len())].to_owned();
    let filter = |rng: &mut StdRng| {
        let mut text = String::from("{ ");
        for i in 0..rng.random_range(0..3) {
            if i > 0 {
                text.push_str(if rng.random_bool(0.5) { " && " } else { " || " });
            }
            text.push_str(&format!(
                "{} {} {}",
                pick(rng, FIELDS),
                pick(rng, OPS),
                pick(rng, VALUES)
            ));
        }
        text.push_str(" }");
        text
    };
    let mut text = filter(rng);
    for _ in 0..rng.random_range(0..3) {
        text = format!("{text} {} {}", pick(rng, SPANSET_OPS), filter(rng));
    }
    for _ in 0..rng.random_range(0..3) {
        text = format!("{text} | {}", pick(rng, STAGES));
    }
    text
}

#[test]
fn thousands_of_generated_inputs_never_panic() {
    let mut rng = StdRng::seed_from_u64(15);
    let ok = ok_trace();
    let failed = failed_trace();
    let mut parsed = 0;
    for round in 0..6000 {
        let text = if round % 2 == 0 {
            grammatical_query(&mut rng)
        } else if round % 4 == 3 {
            // arbitrary characters, some multi-byte
            (0..rng.random_range(0..40))
                .map(|_| char::from_u32(rng.random_range(0..0x3000)).unwrap_or('x'))
                .collect()
        } else {
            random_query(&mut rng)
        };
        match parse(&text) {
            Ok(query) => {
                parsed += 1;
                query.evaluate(&ok);
                query.evaluate(&failed);
            }
            Err(e) => {
                let columns = text.chars().count() + 1;
                assert!(
                    (1..=columns).contains(&e.column),
                    "{text:?}: column {} outside 1..={columns}",
                    e.column
                );
                assert!(!e.message.is_empty());
            }
        }
    }
    // the generator reaches the evaluator, not only the error paths
    assert!(parsed > 500, "only {parsed} generated queries parsed");
}
