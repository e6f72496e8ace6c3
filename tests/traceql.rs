//! TraceQL end to end on a real mesh: a varied set of requests (checkouts
//! that succeed, are declined, run out of stock or name an unknown user;
//! product, user and order lookups), then a table of queries each answered
//! three ways: the collector's `/api/search?q=` (trace ids, and every
//! matching span id with `matched`), `tracemesh traces QUERY` and the
//! collector's page `/?q=`. The expected answer of each query is worked out
//! here from the stored spans by plain Rust, never by the `traceql` module,
//! and restricted to the traces this test made.
//!
//! The queries README's "TraceQL" section shows are in the table with
//! `readme: true`; `readme_shows_the_examples_this_test_runs` keeps the two
//! lists equal.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{DECLINED_CARD, GOOD_CARD, Mesh, checkout_body};
use tracemesh_harness::SpanRecord;
use tracemesh_harness::model::{AttrValue, SpanKind, StatusCode};

const MS: u64 = 1_000_000;

/// One stored trace, with the tree relations the expected answers need.
struct Trace {
    spans: Vec<SpanRecord>,
}

impl Trace {
    /// The indices of the spans `keep` accepts.
    fn spans_where(&self, keep: impl Fn(usize) -> bool) -> Vec<usize> {
        (0..self.spans.len()).filter(|&i| keep(i)).collect()
    }

    fn filter(&self, keep: impl Fn(&SpanRecord) -> bool) -> Vec<usize> {
        self.spans_where(|i| keep(&self.spans[i]))
    }

    fn root(&self) -> &SpanRecord {
        self.spans
            .iter()
            .find(|s| s.parent_span_id.is_none())
            .expect("a complete trace has its root")
    }

    /// Earliest start to latest end.
    fn duration(&self) -> u64 {
        let start = self.spans.iter().map(|s| s.start_unix_nanos).min();
        let end = self.spans.iter().map(|s| s.end_unix_nanos).max();
        end.unwrap_or(0) - start.unwrap_or(0)
    }

    fn parent(&self, i: usize) -> Option<usize> {
        let parent = self.spans[i].parent_span_id.as_deref()?;
        self.spans.iter().position(|s| s.span_id == parent)
    }

    fn ancestors(&self, i: usize) -> Vec<usize> {
        let mut found = Vec::new();
        let mut current = i;
        while let Some(p) = self.parent(current) {
            found.push(p);
            current = p;
        }
        found
    }

    /// Other spans with the same parent.
    fn siblings(&self, i: usize) -> Vec<usize> {
        let parent = &self.spans[i].parent_span_id;
        self.spans_where(|j| j != i && parent.is_some() && self.spans[j].parent_span_id == *parent)
    }
}

fn duration(span: &SpanRecord) -> u64 {
    span.end_unix_nanos - span.start_unix_nanos
}

fn service(span: &SpanRecord) -> &str {
    &span.service_name
}

fn int(span: &SpanRecord, key: &str) -> Option<i64> {
    match span.attributes.get(key)? {
        AttrValue::Int(i) => Some(*i),
        _ => None,
    }
}

fn string<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a str> {
    match span.attributes.get(key)? {
        AttrValue::String(s) => Some(s),
        _ => None,
    }
}

/// An unscoped `.key`: the span's attribute, else its resource's.
fn unscoped<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a AttrValue> {
    span.attributes
        .get(key)
        .or_else(|| span.resource_attributes.get(key))
}

fn is_error(span: &SpanRecord) -> bool {
    span.status.code == StatusCode::Error
}

fn sqlite(span: &SpanRecord) -> bool {
    string(span, "db.system.name") == Some("sqlite")
}

/// Whether the query must match some of this test's traces, none, or
/// either (a threshold on time that a slow machine may cross).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Matches,
    Empty,
    Either,
}

struct Case {
    query: &'static str,
    /// The matching spans of one trace (its spanset; empty: no match).
    expect: fn(&Trace) -> Vec<usize>,
    outcome: Outcome,
    /// README's "TraceQL" section shows it.
    readme: bool,
}

fn case(query: &'static str, outcome: Outcome, expect: fn(&Trace) -> Vec<usize>) -> Case {
    Case {
        query,
        expect,
        outcome,
        readme: false,
    }
}

fn readme(query: &'static str, outcome: Outcome, expect: fn(&Trace) -> Vec<usize>) -> Case {
    Case {
        readme: true,
        ..case(query, outcome, expect)
    }
}

fn cases() -> Vec<Case> {
    use Outcome::{Either, Empty, Matches};
    vec![
        // README's examples.
        readme(r#"{ status = error }"#, Matches, |t| t.filter(is_error)),
        readme(
            r#"{ span.http.route = "/api/checkout" && span.http.response.status_code >= 400 }"#,
            Matches,
            |t| {
                t.filter(|s| {
                    string(s, "http.route") == Some("/api/checkout")
                        && int(s, "http.response.status_code").is_some_and(|c| c >= 400)
                })
            },
        ),
        readme(
            r#"{ resource.service.name = "inventory" && duration > 10ms }"#,
            Matches,
            |t| t.filter(|s| service(s) == "inventory" && duration(s) > 10 * MS),
        ),
        readme(r#"{ statusMessage =~ ".*declined.*" }"#, Matches, |t| {
            t.filter(|s| s.status.message.contains("declined"))
        }),
        readme(
            r#"{ resource.service.name = "order" && kind = client } > { resource.service.name = "payment" }"#,
            Matches,
            |t| {
                t.spans_where(|i| {
                    service(&t.spans[i]) == "payment"
                        && t.parent(i).is_some_and(|p| {
                            service(&t.spans[p]) == "order" && t.spans[p].kind == SpanKind::Client
                        })
                })
            },
        ),
        readme(
            r#"{ name = "warehouse.check" } ~ { name = "BATCH stock" }"#,
            Matches,
            |t| {
                t.spans_where(|i| {
                    t.spans[i].name == "BATCH stock"
                        && t.siblings(i)
                            .iter()
                            .any(|&j| t.spans[j].name == "warehouse.check")
                })
            },
        ),
        readme(
            r#"{ span.db.system.name = "sqlite" } | count() > 3"#,
            Matches,
            |t| {
                let set = t.filter(sqlite);
                if set.len() > 3 { set } else { Vec::new() }
            },
        ),
        readme(
            r#"{ rootServiceName = "gateway" && kind = server } | avg(duration) > 5ms"#,
            Either,
            |t| {
                let set = t.filter(|s| s.kind == SpanKind::Server);
                let total: u64 = set.iter().map(|&i| duration(&t.spans[i])).sum();
                let gateway_root = service(t.root()) == "gateway";
                if gateway_root && !set.is_empty() && total as f64 / set.len() as f64 > 5e6 {
                    set
                } else {
                    Vec::new()
                }
            },
        ),
        // Intrinsics.
        case(r#"{ name = "POST /api/checkout" }"#, Matches, |t| {
            t.filter(|s| s.name == "POST /api/checkout")
        }),
        case(r#"{ kind = internal && status != error }"#, Matches, |t| {
            t.filter(|s| s.kind == SpanKind::Internal && !is_error(s))
        }),
        case(r#"{ duration > 1h }"#, Empty, |t| {
            t.filter(|s| duration(s) > 3_600_000 * MS)
        }),
        case(r#"{ duration >= 1.5ms && duration < 2s }"#, Either, |t| {
            t.filter(|s| duration(s) * 10 >= 15 * MS && duration(s) < 2_000 * MS)
        }),
        case(r#"{ rootName = "GET /api/products" }"#, Matches, |t| {
            // A trace-level intrinsic: every span of the trace matches.
            if t.root().name == "GET /api/products" {
                t.filter(|_| true)
            } else {
                Vec::new()
            }
        }),
        case(r#"{ rootServiceName = "payment" }"#, Empty, |t| {
            if service(t.root()) == "payment" {
                t.filter(|_| true)
            } else {
                Vec::new()
            }
        }),
        case(
            r#"{ traceDuration > 10ms && kind = server }"#,
            Either,
            |t| {
                if t.duration() > 10 * MS {
                    t.filter(|s| s.kind == SpanKind::Server)
                } else {
                    Vec::new()
                }
            },
        ),
        // gRPC's percent-encoded grpc-message, decoded on the span.
        case(r#"{ statusMessage = "no user u-9999" }"#, Matches, |t| {
            t.filter(|s| s.status.message == "no user u-9999")
        }),
        case(r#"{ statusMessage = "Payment Required" }"#, Matches, |t| {
            t.filter(|s| s.status.message == "Payment Required")
        }),
        // Attributes: scoped, unscoped, typed.
        case(
            r#"{ span.http.response.status_code = 201 }"#,
            Matches,
            |t| t.filter(|s| int(s, "http.response.status_code") == Some(201)),
        ),
        case(
            // A string is not the int attribute: no match, not an error.
            r#"{ span.http.response.status_code = "201" }"#,
            Empty,
            |t| t.filter(|s| string(s, "http.response.status_code") == Some("201")),
        ),
        case(r#"{ .http.response.status_code >= 500 }"#, Empty, |t| {
            t.filter(|s| int(s, "http.response.status_code").is_some_and(|c| c >= 500))
        }),
        case(r#"{ span.db.system.name = "sqlite" }"#, Matches, |t| {
            t.filter(sqlite)
        }),
        case(r#"{ .rpc.method = "Reserve" }"#, Matches, |t| {
            t.filter(|s| unscoped(s, "rpc.method") == Some(&AttrValue::String("Reserve".into())))
        }),
        case(r#"{ .rpc.method =~ "Get.*" }"#, Matches, |t| {
            t.filter(|s| {
                matches!(unscoped(s, "rpc.method"), Some(AttrValue::String(m)) if m.starts_with("Get"))
            })
        }),
        case(
            r#"{ name =~ "SELECT .*" && resource.service.name !~ "user|order" }"#,
            Matches,
            |t| {
                t.filter(|s| {
                    s.name.starts_with("SELECT ") && !["user", "order"].contains(&service(s))
                })
            },
        ),
        case(
            r#"{ (kind = client || kind = server) && resource.service.name = "inventory" && span.rpc.grpc.status_code != 0 }"#,
            Matches,
            |t| {
                t.filter(|s| {
                    matches!(s.kind, SpanKind::Client | SpanKind::Server)
                        && service(s) == "inventory"
                        && int(s, "rpc.grpc.status_code").is_some_and(|c| c != 0)
                })
            },
        ),
        case(
            r#"{ span.http.response.status_code != nil && kind = client }"#,
            Matches,
            |t| {
                t.filter(|s| {
                    s.attributes.contains_key("http.response.status_code")
                        && s.kind == SpanKind::Client
                })
            },
        ),
        case(
            r#"{ resource.service.name = "user" && span.http.route != nil }"#,
            Empty,
            |t| t.filter(|s| service(s) == "user" && s.attributes.contains_key("http.route")),
        ),
        // Structure.
        case(
            r#"{ resource.service.name = "gateway" } >> { resource.service.name = "payment" }"#,
            Matches,
            |t| {
                t.spans_where(|i| {
                    service(&t.spans[i]) == "payment"
                        && t.ancestors(i)
                            .iter()
                            .any(|&a| service(&t.spans[a]) == "gateway")
                })
            },
        ),
        case(
            r#"{ resource.service.name = "payment" } >> { resource.service.name = "gateway" }"#,
            Empty,
            |t| {
                t.spans_where(|i| {
                    service(&t.spans[i]) == "gateway"
                        && t.ancestors(i)
                            .iter()
                            .any(|&a| service(&t.spans[a]) == "payment")
                })
            },
        ),
        // Spanset operators: the union of both sides' spans.
        case(
            r#"{ resource.service.name = "payment" } && { status = error }"#,
            Matches,
            |t| {
                let payment = t.filter(|s| service(s) == "payment");
                let errors = t.filter(is_error);
                if payment.is_empty() || errors.is_empty() {
                    Vec::new()
                } else {
                    t.spans_where(|i| payment.contains(&i) || errors.contains(&i))
                }
            },
        ),
        case(
            r#"{ rootName = "GET /api/products" } || { span.http.response.status_code = 404 }"#,
            Matches,
            |t| {
                t.filter(|s| {
                    t.root().name == "GET /api/products"
                        || int(s, "http.response.status_code") == Some(404)
                })
            },
        ),
        case(
            r#"{ resource.service.name = "payment" } && { resource.service.name = "nowhere" }"#,
            Empty,
            |_| Vec::new(),
        ),
        // Pipelines.
        case(r#"{ } | count() > 12"#, Matches, |t| {
            if t.spans.len() > 12 {
                t.filter(|_| true)
            } else {
                Vec::new()
            }
        }),
        case(r#"{ } | count() > 100"#, Empty, |t| {
            if t.spans.len() > 100 {
                t.filter(|_| true)
            } else {
                Vec::new()
            }
        }),
    ]
}

/// The trace this test made and what each one is.
struct Made {
    id: String,
    what: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceql_queries_agree_with_the_spans_on_the_api_the_cli_and_the_page() {
    let _turn = common::one_load_at_a_time().await;
    let mut mesh = Mesh::start().await;
    let made = drive(&mesh).await;
    mesh.flush().await;
    mesh.collector
        .store()
        .wait_for_quiet(
            std::time::Duration::from_millis(600),
            std::time::Duration::from_secs(10),
        )
        .await;
    let traces: BTreeMap<String, Trace> = made
        .iter()
        .map(|m| {
            let spans = mesh.collector.store().trace(&m.id).unwrap_or_default();
            (m.id.clone(), Trace { spans })
        })
        .collect();
    let collector = mesh.collector.http_endpoint();
    let http = reqwest::Client::new();

    let mut mismatches = Vec::new();
    let (mut some, mut none) = (0, 0);
    for case in cases() {
        let expected: BTreeMap<&str, BTreeSet<&str>> = traces
            .iter()
            .filter_map(|(id, trace)| {
                let spans = (case.expect)(trace);
                let ids = spans.iter().map(|&i| trace.spans[i].span_id.as_str());
                (!spans.is_empty()).then(|| (id.as_str(), ids.collect()))
            })
            .collect();
        let expected_ids: BTreeSet<&str> = expected.keys().copied().collect();
        match (case.outcome, expected.is_empty()) {
            (Outcome::Matches, true) => mismatches.push(format!(
                "{}: expected to match some of {}, matches none: the test's data changed",
                case.query,
                describe(&made)
            )),
            (Outcome::Empty, false) => mismatches.push(format!(
                "{}: expected to match none, matches {expected_ids:?}",
                case.query
            )),
            _ => {}
        }
        if expected.is_empty() {
            none += 1;
        } else {
            some += 1;
        }

        let api = api_search(&http, &collector, case.query).await;
        let api: BTreeMap<&str, &ApiHit> = api
            .iter()
            .filter(|(id, _)| traces.contains_key(id.as_str()))
            .map(|(id, hit)| (id.as_str(), hit))
            .collect();
        let api_ids: BTreeSet<&str> = api.keys().copied().collect();
        if api_ids != expected_ids {
            mismatches.push(format!(
                "API {}: expected {expected_ids:?}, got {api_ids:?}",
                case.query
            ));
        }
        for (id, want) in &expected {
            let Some(hit) = api.get(id) else { continue };
            let got: BTreeSet<&str> = hit.spans.iter().map(String::as_str).collect();
            if &got != want || hit.matched != want.len() {
                mismatches.push(format!(
                    "API {} in {id}: expected spans {want:?}, got {got:?} (matched {})",
                    case.query, hit.matched
                ));
            }
        }

        let cli = cli_search(&collector, case.query).await;
        let cli: BTreeSet<&str> = cli
            .iter()
            .map(String::as_str)
            .filter(|id| traces.contains_key(*id))
            .collect();
        if cli != expected_ids {
            mismatches.push(format!(
                "tracemesh traces {}: expected {expected_ids:?}, got {cli:?}",
                case.query
            ));
        }

        let page = page_search(&http, &collector, case.query).await;
        let page: BTreeSet<&str> = page
            .iter()
            .map(String::as_str)
            .filter(|id| traces.contains_key(*id))
            .collect();
        if page != expected_ids {
            mismatches.push(format!(
                "page /?q={}: expected {expected_ids:?}, got {page:?}",
                case.query
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches over {}:\n{}",
        mismatches.len(),
        describe(&made),
        mismatches.join("\n")
    );
    assert!(some >= 15 && none >= 5, "{some} matching, {none} empty");

    refusals(&http, &collector).await;
    assert!(mesh.stop().await);
}

fn describe(made: &[Made]) -> String {
    made.iter()
        .map(|m| format!("{} {}", m.id, m.what))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The requests, each waited for until its trace is complete.
async fn drive(mesh: &Mesh) -> Vec<Made> {
    const ALL: &[&str] = &["gateway", "user", "order", "inventory", "payment"];
    let http = reqwest::Client::new();
    let mut made = Vec::new();
    let checkouts = [
        ("u-1001", "KEY-001", GOOD_CARD, 201, "checkout", ALL),
        ("u-1002", "MOU-002", GOOD_CARD, 201, "checkout", ALL),
        (
            "u-1003",
            "KEY-001",
            DECLINED_CARD,
            402,
            "declined checkout",
            ALL,
        ),
        (
            "u-1001",
            "CHR-007",
            GOOD_CARD,
            409,
            "out of stock",
            &["gateway", "user", "order", "inventory"][..],
        ),
        (
            "u-9999",
            "KEY-001",
            GOOD_CARD,
            422,
            "unknown user's checkout",
            &["gateway", "user"][..],
        ),
    ];
    let mut order_id = String::new();
    for (user, sku, card, want, what, services) in checkouts {
        let (status, body, id) = mesh
            .checkout(&http, checkout_body(user, sku, 1, card))
            .await;
        assert_eq!(status, want, "{what}: {body}");
        if status == 201 {
            order_id = body["id"].as_str().expect("an order id").to_owned();
        }
        mesh.wait_for_trace(&id, services).await;
        made.push(Made { id, what });
    }
    let order = format!("/api/orders/{order_id}");
    let lookups = [
        (
            "/api/products",
            200,
            "products",
            &["gateway", "inventory"][..],
        ),
        ("/api/users/u-1002", 200, "user", &["gateway", "user"][..]),
        (
            "/api/users/u-9999",
            404,
            "unknown user",
            &["gateway", "user"],
        ),
        (order.as_str(), 200, "order", &["gateway", "order"]),
        (
            "/api/orders/ord_none",
            404,
            "unknown order",
            &["gateway", "order"],
        ),
    ];
    for (path, want, what, services) in lookups {
        let response = http.get(mesh.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), want, "{what}");
        let id = common::trace_id_of(&response);
        mesh.wait_for_trace(&id, services).await;
        made.push(Made { id, what });
    }
    made
}

/// What the API answered for one trace: the span ids of all its spansets,
/// and the sum of their `matched`.
struct ApiHit {
    spans: Vec<String>,
    matched: usize,
}

async fn api_search(
    http: &reqwest::Client,
    collector: &str,
    query: &str,
) -> BTreeMap<String, ApiHit> {
    let url = reqwest::Url::parse_with_params(
        &format!("{collector}/api/search"),
        [("q", query), ("limit", "1000"), ("spss", "1000")],
    )
    .unwrap();
    let response = http.get(url).send().await.unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{query}: {body}");
    let traces = body["traces"].as_array().expect("traces");
    traces
        .iter()
        .map(|trace| {
            let sets = trace["spanSets"].as_array().expect("spanSets");
            let hit = ApiHit {
                spans: sets
                    .iter()
                    .flat_map(|set| set["spans"].as_array().expect("spans"))
                    .map(|span| span["spanID"].as_str().expect("spanID").to_owned())
                    .collect(),
                matched: sets
                    .iter()
                    .map(|set| set["matched"].as_u64().expect("matched") as usize)
                    .sum(),
            };
            (trace["traceID"].as_str().expect("traceID").to_owned(), hit)
        })
        .collect()
}

/// The trace ids `tracemesh traces QUERY` lists (each row starts with one).
async fn cli_search(collector: &str, query: &str) -> Vec<String> {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracemesh"))
        .args(["traces", query, "--collector", collector, "--limit", "1000"])
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("tracemesh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tracemesh traces {query}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| is_trace_id(word))
        .map(str::to_owned)
        .collect()
}

/// The trace ids the collector's page `/?q=` links to.
async fn page_search(http: &reqwest::Client, collector: &str, query: &str) -> Vec<String> {
    let url = reqwest::Url::parse_with_params(&format!("{collector}/"), [("q", query)]).unwrap();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "/?q={query}");
    let html = response.text().await.unwrap();
    html.split("href=\"/trace/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| is_trace_id(id))
        .map(str::to_owned)
        .collect()
}

fn is_trace_id(word: &str) -> bool {
    word.len() == 32 && word.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A wrong query and an unsupported one: 400, JSON, saying which and where.
async fn refusals(http: &reqwest::Client, collector: &str) {
    for (query, says) in [
        ("{ name = }", ["column 10", "invalid"]),
        ("{ } | rate()", ["rate()", "not supported"]),
    ] {
        let url =
            reqwest::Url::parse_with_params(&format!("{collector}/api/search"), [("q", query)])
                .unwrap();
        let response = http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().await.expect("a JSON error body");
        let message = body["error"].as_str().expect("an error message");
        for word in says {
            assert!(message.contains(word), "{query}: {message}");
        }
    }
}

/// README's TraceQL examples are exactly the `readme` queries above, so
/// the documented examples are the tested ones.
#[test]
fn readme_shows_the_examples_this_test_runs() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("\n### TraceQL\n")
        .nth(1)
        .expect("README has a \"### TraceQL\" section");
    // Up to the next heading of README's, not a `#` comment in a code block.
    let end = ["\n## ", "\n### "]
        .iter()
        .filter_map(|h| section.find(h))
        .min()
        .unwrap_or(section.len());
    let section = &section[..end];
    let shown: BTreeSet<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("- `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|code| code.starts_with('{'))
        .collect();
    let tested: BTreeSet<&str> = cases()
        .iter()
        .filter(|c| c.readme)
        .map(|c| c.query)
        .collect();
    assert_eq!(
        shown, tested,
        "README's examples and the tested ones differ"
    );
    assert!((6..=8).contains(&tested.len()), "{tested:?}");
}
