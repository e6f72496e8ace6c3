//! `POST /test`, only with `--w3c-test-endpoint`: the service endpoint the
//! W3C trace-context test suite (github.com/w3c/trace-context, `test/`)
//! drives to check our propagation.
//!
//! The suite POSTs a JSON list of `{"url", "arguments"}`; for each entry, in
//! order, we POST `arguments` as JSON to `url`, then answer 200. The suite
//! reads the `traceparent`/`tracestate` that arrive at `url` and checks them
//! against what it sent us. Nothing here handles headers: the runtime's
//! middleware extracted the incoming context into the SERVER span, and
//! [`TracedHttpClient`] injects it into each outbound call, which is
//! exactly what the suite tests.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use tracemesh_runtime::http_client::TracedHttpClient;

use crate::error::ApiError;
use crate::model::{Forward, ForwardBody};

/// Says who the outbound calls go to, in errors and logs.
const CALLEE: &str = "trace-context test harness";

/// The `/test` route, with its client as state, to merge into any router.
pub fn router<S>(client: TracedHttpClient) -> Router<S> {
    Router::new()
        .route("/test", post(forward))
        .with_state(client)
}

async fn forward(
    State(client): State<TracedHttpClient>,
    body: Result<Json<Vec<ForwardBody>>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(body) = body?;
    // Every URL is checked before the first call: a bad list makes none.
    for forward in Forward::parse_all(body)? {
        let request = client
            .inner()
            .post(forward.url)
            .json(&forward.arguments)
            .build()
            .map_err(|e| ApiError::InvalidArgument(format!("cannot build the request: {e}")))?;
        client
            .send(request)
            .await
            .map_err(|e| ApiError::BadGateway {
                service: CALLEE,
                detail: e.to_string(),
            })?;
    }
    Ok(StatusCode::OK)
}
