//! Tempo's tag endpoints over the store (`store::tags`), in the shapes of the
//! Tempo HTTP API docs ("Search tags", "Search tags V2", "Search tag values",
//! "Search tag values V2"); Grafana's query editor autocompletes from them.
//!
//! | Endpoint | Answer |
//! |---|---|
//! | `GET /api/search/tags` | `{"tagNames":[..],"metrics":{"inspectedBytes":".."}}` |
//! | `GET /api/v2/search/tags` | `{"scopes":[{"name":"resource","tags":[..]},{"name":"span",..},{"name":"intrinsic",..}],"metrics":{..}}` |
//! | `GET /api/search/tag/{tag}/values` | `{"tagValues":["a","b"],"metrics":{..}}` |
//! | `GET /api/v2/search/tag/{tag}/values` | `{"tagValues":[{"type":"string","value":"a"},..],"metrics":{..}}` |
//!
//! Parameters: `scope` (`resource`, `span`, `intrinsic`; absent, `all` or
//! `none` for all three; `event`, `link`, `instrumentation` answer 501),
//! `start`/`end` (unix seconds), `limit`, and on v2 `q`: a TraceQL query
//! whose matching spans alone are listed. As Tempo documents, a `q` that does
//! not parse is ignored (the whole list), not an error. `maxStaleValues`
//! only saves Tempo work and is accepted and ignored.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::query_params::{limit_param, window_params};
use crate::store::{INTRINSIC_TAGS, ScanMetrics, TagRef, TraceStore, TraceWindow};
use crate::traceql;

#[derive(Debug, Default, Deserialize)]
pub(super) struct TagParams {
    scope: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<String>,
    q: Option<String>,
}

/// The scopes a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scopes {
    resource: bool,
    span: bool,
    intrinsic: bool,
}

impl Scopes {
    fn parse(scope: Option<&str>, all: Scopes) -> Result<Scopes, ApiError> {
        let only = |resource, span, intrinsic| Scopes {
            resource,
            span,
            intrinsic,
        };
        match scope.unwrap_or("") {
            "" | "all" | "none" => Ok(all),
            "resource" => Ok(only(true, false, false)),
            "span" => Ok(only(false, true, false)),
            "intrinsic" => Ok(only(false, false, true)),
            unsupported @ ("event" | "link" | "instrumentation") => Err(ApiError::NotImplemented(
                format!("tag scope {unsupported:?} (events, links and scopes are not indexed)"),
            )),
            other => Err(ApiError::BadRequest(format!(
                "parameter scope: {other:?} is not one of resource, span, intrinsic, event, link, instrumentation"
            ))),
        }
    }
}

/// What every tag request shares once its parameters are read.
struct TagRequest {
    window: TraceWindow,
    limit: usize,
    filter: Option<traceql::Query>,
}

fn tag_request(
    params: Result<Query<TagParams>, QueryRejection>,
) -> Result<(TagParams, TagRequest), ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))?;
    let window = window_params(params.start.as_deref(), params.end.as_deref())?;
    let limit = limit_param(params.limit.as_deref())?;
    // Tempo's documented leniency: an unparsable filter lists everything.
    let filter = params
        .q
        .as_deref()
        .filter(|q| !q.trim().is_empty())
        .and_then(|q| traceql::parse(q).ok());
    Ok((
        params,
        TagRequest {
            window,
            limit,
            filter,
        },
    ))
}

fn metrics(scan: ScanMetrics) -> Value {
    json!({ "inspectedBytes": scan.inspected_bytes.to_string() })
}

/// v1 lists span and resource names together unless `scope` narrows it.
pub(super) async fn tag_names_v1(
    State(store): State<TraceStore>,
    params: Result<Query<TagParams>, QueryRejection>,
) -> Response {
    let all = Scopes {
        resource: true,
        span: true,
        intrinsic: false,
    };
    let result = tag_request(params).and_then(|(params, request)| {
        let scopes = Scopes::parse(params.scope.as_deref(), all)?;
        let names = store.tag_names(&request.window, None, request.limit);
        let mut tag_names: Vec<String> = Vec::new();
        if scopes.resource {
            tag_names.extend(names.resource);
        }
        if scopes.span {
            tag_names.extend(names.span);
        }
        if scopes.intrinsic {
            tag_names.extend(INTRINSIC_TAGS.iter().map(|t| t.to_string()));
        }
        tag_names.sort();
        tag_names.dedup();
        Ok(json!({ "tagNames": tag_names, "metrics": metrics(names.metrics) }))
    });
    respond(result)
}

pub(super) async fn tag_names_v2(
    State(store): State<TraceStore>,
    params: Result<Query<TagParams>, QueryRejection>,
) -> Response {
    let all = Scopes {
        resource: true,
        span: true,
        intrinsic: true,
    };
    let result = tag_request(params).and_then(|(params, request)| {
        let scopes = Scopes::parse(params.scope.as_deref(), all)?;
        let names = store.tag_names(&request.window, request.filter.as_ref(), request.limit);
        let mut listed = Vec::new();
        if scopes.resource {
            listed.push(json!({ "name": "resource", "tags": names.resource }));
        }
        if scopes.span {
            listed.push(json!({ "name": "span", "tags": names.span }));
        }
        if scopes.intrinsic {
            listed.push(json!({ "name": "intrinsic", "tags": INTRINSIC_TAGS }));
        }
        Ok(json!({ "scopes": listed, "metrics": metrics(names.metrics) }))
    });
    respond(result)
}

/// v1 takes a bare key (`service.name`, `http.route`, `name`, `status`)
/// with the tag-based search's meaning, and answers untyped strings.
pub(super) async fn tag_values_v1(
    State(store): State<TraceStore>,
    Path(tag): Path<String>,
    params: Result<Query<TagParams>, QueryRejection>,
) -> Response {
    let result = tag_request(params).map(|(_, request)| {
        let found = store.tag_values(&TagRef::Plain(tag), &request.window, None, request.limit);
        let values: Vec<String> = found.values.into_iter().map(|v| v.value).collect();
        json!({ "tagValues": values, "metrics": metrics(found.metrics) })
    });
    respond(result)
}

/// v2 takes a TraceQL identifier (`resource.service.name`, `span.http.route`,
/// `.foo`, `status`) and answers typed values.
pub(super) async fn tag_values_v2(
    State(store): State<TraceStore>,
    Path(tag): Path<String>,
    params: Result<Query<TagParams>, QueryRejection>,
) -> Response {
    let result = tag_request(params).and_then(|(_, request)| {
        let tag_ref = TagRef::parse_traceql(&tag).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "tag {tag:?} is not a TraceQL identifier: expected span.<key>, resource.<key>, .<key> or an intrinsic such as status"
            ))
        })?;
        let found = store.tag_values(&tag_ref, &request.window, request.filter.as_ref(), request.limit);
        let values: Vec<Value> = found
            .values
            .into_iter()
            .map(|v| json!({ "type": v.kind, "value": v.value }))
            .collect();
        Ok(json!({ "tagValues": values, "metrics": metrics(found.metrics) }))
    });
    respond(result)
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_default_to_all_and_refuse_what_is_not_indexed() {
        let all = Scopes {
            resource: true,
            span: true,
            intrinsic: true,
        };
        assert_eq!(Scopes::parse(None, all).unwrap(), all);
        assert_eq!(Scopes::parse(Some("none"), all).unwrap(), all);
        assert!(Scopes::parse(Some("span"), all).unwrap().span);
        assert!(!Scopes::parse(Some("span"), all).unwrap().resource);
        let error = Scopes::parse(Some("event"), all).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::NOT_IMPLEMENTED);
        let error = Scopes::parse(Some("bogus"), all).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
    }
}
