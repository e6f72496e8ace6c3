//! A small web page over the store, on the collector's HTTP port: look at
//! traces without Grafana.
//!
//! - `GET /`: the latest traces (a table, each linking to its page), and a
//!   TraceQL search box, a plain GET form (`/?q=..`): the page is rendered
//!   here, no script needed. A query the parser refuses shows its message
//!   with its column (and answers 400).
//! - `GET /trace/{id}`: the trace as the run report's SVG waterfall
//!   (`report/html/waterfall.rs`, from the same [`TraceView`] the terminal
//!   draws), each span's attributes in a `<details>` under it, and the
//!   trace's log lines the collector received (the report's log table).
//!
//! Self-contained like the report: the report's CSS inlined plus
//! `viewer.css`, no external script, font or style; the only scripts are
//! the report's two that record a page error and a finished render, for a
//! headless browser's check. Everything from the store goes through
//! [`markup`].

use std::fmt::Write;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode as HttpStatus;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::logs::waterfall_logs;
use crate::model::{AttrValue, SpanRecord, StatusCode, normalize_trace_id};
use crate::report::escape::markup;
use crate::report::html::colors::ServiceColors;
use crate::report::html::waterfall::{log_table, waterfall_chart};
use crate::report::html::{CSS, ON_ERROR_SCRIPT, RENDERED_SCRIPT};
use crate::report::outcome::ms;
use crate::store::{LogStore, SearchQuery, TraceStore, TraceWindow};
use crate::view::{TraceRow, TraceView, start_time as time_of};

const VIEWER_CSS: &str = include_str!("viewer.css");
/// How many traces the front page lists.
const LIST_LIMIT: usize = 50;

#[derive(Clone)]
struct ViewerState {
    store: TraceStore,
    logs: LogStore,
}

/// `GET /` and `GET /trace/{id}`.
pub fn router(store: TraceStore, logs: LogStore) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/trace/{trace_id}", get(trace_page))
        .with_state(ViewerState { store, logs })
}

#[derive(Debug, Default, Deserialize)]
struct IndexParams {
    q: Option<String>,
}

async fn index(State(state): State<ViewerState>, Query(params): Query<IndexParams>) -> Response {
    let q = params.q.unwrap_or_default();
    let query = q.trim();
    let mut body = String::new();
    let _ = writeln!(
        body,
        r#"<form class="search" method="get" action="/"><input type="text" name="q" value="{}" placeholder="TraceQL, e.g. {{ status = error }}" aria-label="TraceQL query"><button type="submit">Search</button></form>"#,
        markup(query)
    );
    let (status, rows) = if query.is_empty() {
        let hits = state.store.search(&SearchQuery {
            limit: LIST_LIMIT,
            ..SearchQuery::default()
        });
        (
            HttpStatus::OK,
            Ok(hits.iter().map(TraceRow::from).collect()),
        )
    } else {
        match search_traceql(&state.store, query, LIST_LIMIT) {
            Ok(rows) => (HttpStatus::OK, Ok(rows)),
            Err(error) => (HttpStatus::BAD_REQUEST, Err(error)),
        }
    };
    match rows {
        Ok(rows) => {
            let rows: Vec<TraceRow> = rows
                .into_iter()
                .map(|row| match state.store.trace(&row.trace_id) {
                    Some(spans) => row.with_spans(&spans),
                    None => row,
                })
                .collect();
            let _ = writeln!(
                body,
                "<h2>{}</h2>",
                if query.is_empty() {
                    "Latest traces".to_owned()
                } else {
                    format!("Traces matching <code>{}</code>", markup(query))
                }
            );
            body.push_str(&trace_list(&rows));
        }
        Err(error) => {
            let _ = writeln!(
                body,
                r#"<p class="error">{}</p>"#,
                markup(&format!(
                    "{query}\n{}^\n{error}",
                    " ".repeat(error.column.saturating_sub(1))
                ))
            );
        }
    }
    (status, page("tracemesh traces", &body)).into_response()
}

/// The newest traces `query` matches: the same search as the API's
/// `/api/search?q=` (`TraceStore::traceql`).
fn search_traceql(
    store: &TraceStore,
    query: &str,
    limit: usize,
) -> Result<Vec<TraceRow>, crate::traceql::QueryError> {
    let parsed = crate::traceql::parse(query)?;
    let (hits, _) = store.traceql(&parsed, &TraceWindow::default(), limit);
    Ok(hits
        .iter()
        .map(|hit| TraceRow::from(&hit.summary))
        .collect())
}

fn trace_list(rows: &[TraceRow]) -> String {
    if rows.is_empty() {
        return "<p class=\"muted\">No traces.</p>\n".to_owned();
    }
    let mut html = String::from(
        "<table class=\"traces\"><thead><tr><th>trace id</th><th>service</th><th>root span</th>\
         <th>start (UTC)</th><th class=\"num\">duration</th><th class=\"num\">spans</th><th>error</th></tr></thead><tbody>\n",
    );
    for row in rows {
        let error = row.error == Some(true);
        let _ = writeln!(
            html,
            r#"<tr><td class="mono"><a href="/trace/{id}">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="{}">{}</td></tr>"#,
            markup(&row.root_service),
            markup(&row.root_name),
            time_of(row.start_unix_nanos),
            ms(row.duration_nanos as f64 / 1e6),
            row.span_count.map_or("?".to_owned(), |n| n.to_string()),
            if error { "err" } else { "" },
            if error { "error" } else { "" },
            id = markup(&row.trace_id),
        );
    }
    html.push_str("</tbody></table>\n");
    html
}

async fn trace_page(State(state): State<ViewerState>, Path(raw_id): Path<String>) -> Response {
    let Some(trace_id) = normalize_trace_id(&raw_id) else {
        let body = format!(
            r#"<p class="error">malformed trace id {}: expected 1 to 32 hex characters</p>"#,
            markup(&format!("{raw_id:?}"))
        );
        return (
            HttpStatus::BAD_REQUEST,
            page("tracemesh: bad trace id", &body),
        )
            .into_response();
    };
    let Some(spans) = state.store.trace(&trace_id) else {
        let body =
            format!(r#"<p class="error">trace {trace_id} not found in this collector's store</p>"#);
        return (
            HttpStatus::NOT_FOUND,
            page("tracemesh: no such trace", &body),
        )
            .into_response();
    };
    let view = match TraceView::of(&trace_id, spans) {
        Ok(view) => view,
        Err(error) => {
            let body = format!(r#"<p class="error">{}</p>"#, markup(&error.to_string()));
            return (HttpStatus::OK, page(&format!("trace {trace_id}"), &body)).into_response();
        }
    };
    let mut waterfall = view.waterfall.clone();
    waterfall.logs = waterfall_logs(&state.logs.trace(&trace_id), waterfall.start_unix_nanos);
    let colors = ServiceColors::for_services(waterfall.spans.iter().map(|s| s.service.as_str()));
    let root = view.span(0);
    let mut body = String::new();
    let _ = writeln!(
        body,
        r#"<h2>{} {} <span class="muted">{}</span></h2>
<p class="muted"><span class="mono">{trace_id}</span> · {} spans · started {} UTC · outlined: critical path · red: error · yellow triangle: injected fault</p>"#,
        markup(&root.service_name),
        markup(&root.name),
        ms(waterfall.duration_ms),
        waterfall.spans.len(),
        time_of(waterfall.start_unix_nanos),
    );
    body.push_str(&waterfall_chart(&waterfall, &colors));
    body.push_str("\n<h2>Spans</h2>\n");
    for row in 0..view.rows.len() {
        body.push_str(&span_details(
            view.span(row),
            &waterfall.spans[row],
            &colors,
        ));
    }
    body.push_str("<h2>Log lines</h2>\n");
    body.push_str(&log_table(&waterfall));
    page(&format!("trace {trace_id}"), &body).into_response()
}

/// One span's attributes, folded: `<details>` opens without a script.
fn span_details(
    span: &SpanRecord,
    row: &crate::report::model::WaterfallSpan,
    colors: &ServiceColors,
) -> String {
    let mut html = format!(
        r#"<details class="span"><summary>{}<b style="color: {}">{}</b> {} <span class="muted">{} · {} · self {}{}</span></summary><table>"#,
        "&nbsp;&nbsp;".repeat(row.depth),
        colors.of(&span.service_name),
        markup(&span.service_name),
        markup(&span.name),
        markup(&row.kind),
        ms(row.duration_ms),
        ms(row.self_ms),
        if row.error { " · error" } else { "" },
    );
    let mut pair = |key: &str, value: &str| {
        let _ = write!(
            html,
            r#"<tr><td class="mono">{}</td><td class="mono">{}</td></tr>"#,
            markup(key),
            markup(value)
        );
    };
    pair("span id", &span.span_id);
    if span.status.code == StatusCode::Error {
        pair("status", &format!("error {}", span.status.message));
    }
    let attributes = |prefix: &str, map: &std::collections::BTreeMap<String, AttrValue>| {
        map.iter()
            .map(|(k, v)| (format!("{prefix}{k}"), v.to_string()))
            .collect::<Vec<_>>()
    };
    for (key, value) in attributes("", &span.attributes)
        .into_iter()
        .chain(attributes("resource ", &span.resource_attributes))
    {
        pair(&key, &value);
    }
    html.push_str("</table></details>\n");
    html
}

/// A whole page around `body`.
fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{}</title>
<style>
{CSS}{VIEWER_CSS}</style>
</head>
<body>
{ON_ERROR_SCRIPT}
<header class="bar"><a href="/">tracemesh traces</a></header>
<main>
{body}</main>
{RENDERED_SCRIPT}
</body>
</html>
"#,
        markup(title)
    ))
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;
    use crate::store::tests::{batch, trace_hex};

    const EVIL: &str = "<script>alert(1)</script>";

    /// A store holding one trace whose service and span name are markup.
    fn state() -> ViewerState {
        let store = TraceStore::new(1_000);
        let mut spans = batch("<b>svc</b>", &[(7, 1)]);
        spans.scope_spans[0].spans[0].name = EVIL.into();
        store.insert(vec![spans]);
        ViewerState {
            store,
            logs: LogStore::new(100),
        }
    }

    async fn html(response: Response) -> (u16, String) {
        let status = response.status().as_u16();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn store_text_is_escaped_on_both_pages() {
        let (status, list) = html(index(State(state()), Query(IndexParams::default())).await).await;
        assert_eq!(status, 200);
        assert!(
            list.contains(&format!("href=\"/trace/{}\"", trace_hex(7))),
            "{list}"
        );
        let (status, page) = html(trace_page(State(state()), Path(trace_hex(7))).await).await;
        assert_eq!(status, 200);
        for text in [list, page] {
            assert!(!text.contains(EVIL) && !text.contains("<b>svc"), "{text}");
            assert!(text.contains("&lt;script&gt;") && text.contains("dataset.rendered"));
        }
    }

    #[tokio::test]
    async fn a_bad_id_is_400_and_an_absent_trace_404() {
        let (status, page) = html(trace_page(State(state()), Path("<zz>".into())).await).await;
        assert_eq!(status, 400);
        assert!(
            page.contains("malformed trace id") && !page.contains("<zz>"),
            "{page}"
        );
        let (status, page) = html(trace_page(State(state()), Path(trace_hex(9))).await).await;
        assert_eq!(status, 404);
        assert!(page.contains("not found"), "{page}");
    }

    #[tokio::test]
    async fn a_refused_query_shows_its_column_and_keeps_the_text() {
        let params = IndexParams {
            q: Some("{ \"<q>\" ".into()),
        };
        let (status, page) = html(index(State(state()), Query(params)).await).await;
        assert_eq!(status, 400);
        assert!(page.contains("column "), "{page}");
        // Back in the search box, escaped, so the user can fix it.
        assert!(page.contains("value=\"{ &quot;&lt;q&gt;&quot;\""), "{page}");
    }
}
