//! The admin endpoint: read and change a service's faults at runtime, and
//! read what happened to its spans.
//!
//! `GET /admin/faults` shows the configuration in force, `PUT /admin/faults`
//! replaces it (YAML or JSON body, validated first), `DELETE /admin/faults`
//! clears it; the telemetry faults (the configuration's `telemetry:` list)
//! are planted and removed the same way. `GET /admin/telemetry` shows the export counters
//! ([`crate::export_stats`]); `POST /admin/telemetry/flush` exports what is
//! queued first, so the counters are final. `GET /metrics` is the
//! process's metrics as OpenMetrics text with exemplars ([`crate::metrics`]),
//! for Prometheus to scrape. It listens on its own address, loopback by default; on any
//! other address it refuses to start without a token, and with a token every
//! request must carry `Authorization: Bearer <token>`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error_body::ErrorBody;
use crate::fault::{FaultConfig, Faults};
use crate::telemetry::TelemetryHandle;

/// The admin API's paths: the router serves them and the mesh's admin
/// client calls them, so a renamed route is a compile error on both sides.
pub mod paths {
    /// `GET` the faults in force, `PUT` new ones, `DELETE` them.
    pub const FAULTS: &str = "/admin/faults";
    /// `GET` the export counters.
    pub const TELEMETRY: &str = "/admin/telemetry";
    /// `POST`: export what is queued, then answer the final counters.
    pub const TELEMETRY_FLUSH: &str = "/admin/telemetry/flush";
    /// `GET` the service's metrics as OpenMetrics text, exemplars included
    /// (`contract::metric`); the path Prometheus scrapes by default.
    pub const METRICS: &str = "/metrics";
}

#[derive(Debug, Clone)]
struct AdminState {
    faults: Faults,
    telemetry: TelemetryHandle,
    token: Option<String>,
}

/// Checks the admin address and token together: a non-loopback admin
/// endpoint without a token would let anyone on the network break the mesh.
pub fn check_exposure(addr: SocketAddr, token: Option<&str>) -> Result<(), String> {
    if !addr.ip().is_loopback() && token.is_none_or(str::is_empty) {
        return Err(format!(
            "--admin-listen {addr} is not a loopback address: set --admin-token \
             (TRACEMESH_ADMIN_TOKEN) to expose the admin endpoint"
        ));
    }
    Ok(())
}

/// The admin router.
pub fn router(faults: Faults, telemetry: TelemetryHandle, token: Option<String>) -> Router {
    let state = AdminState {
        faults,
        telemetry,
        token,
    };
    Router::new()
        .route(
            paths::FAULTS,
            get(show_faults).put(replace_faults).delete(clear_faults),
        )
        .route(paths::TELEMETRY, get(show_telemetry))
        .route(paths::TELEMETRY_FLUSH, post(flush_telemetry))
        .route(paths::METRICS, get(show_metrics))
        .fallback(crate::http_server::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

async fn require_token(State(state): State<AdminState>, req: Request, next: Next) -> Response {
    if let Some(expected) = state.token.as_deref().filter(|t| !t.is_empty()) {
        let given = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                ErrorBody::new("unauthorized", "missing or wrong admin token"),
            )
                .into_response();
        }
    }
    next.run(req).await
}

/// Compares without returning early, so response time does not reveal how
/// much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn show_faults(State(state): State<AdminState>) -> Response {
    axum::Json(state.faults.config()).into_response()
}

async fn replace_faults(State(state): State<AdminState>, body: String) -> Response {
    match FaultConfig::parse(&body) {
        Ok(config) => {
            tracing::info!(faults = ?config, "fault configuration replaced");
            state.faults.replace(config);
            axum::Json(state.faults.config()).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            ErrorBody::new("invalid_fault_config", e.to_string()),
        )
            .into_response(),
    }
}

async fn show_telemetry(State(state): State<AdminState>) -> Response {
    axum::Json(state.telemetry.snapshot()).into_response()
}

async fn flush_telemetry(State(state): State<AdminState>) -> Response {
    // The flush blocks until the batch processor's thread has exported.
    let telemetry = state.telemetry.clone();
    match tokio::task::spawn_blocking(move || telemetry.flush_and_snapshot()).await {
        Ok(snapshot) => axum::Json(snapshot).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorBody::new("flush_failed", e.to_string()),
        )
            .into_response(),
    }
}

async fn show_metrics() -> Response {
    (
        [(
            http::header::CONTENT_TYPE,
            crate::contract::metric::OPENMETRICS_CONTENT_TYPE,
        )],
        crate::metrics::global().encode(),
    )
        .into_response()
}

async fn clear_faults(State(state): State<AdminState>) -> Response {
    state.faults.replace(FaultConfig::default());
    tracing::info!("fault configuration cleared");
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    fn request(method: &str, token: Option<&str>, body: &str) -> Request {
        let mut builder = Request::builder().method(method).uri("/admin/faults");
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.body(Body::from(body.to_owned())).unwrap()
    }

    #[tokio::test]
    async fn a_request_without_the_token_is_refused() {
        let app = router(
            Faults::default(),
            TelemetryHandle::default(),
            Some("s3cret".into()),
        );
        let res = app.clone().oneshot(request("GET", None, "")).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = app
            .clone()
            .oneshot(request("GET", Some("wrong"), ""))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = app
            .oneshot(request("GET", Some("s3cret"), ""))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn put_replaces_the_faults_and_rejects_bad_ones() {
        let faults = Faults::default();
        let app = router(faults.clone(), TelemetryHandle::default(), None);
        let res = app
            .clone()
            .oneshot(request(
                "PUT",
                None,
                "operations: {Reserve: {latency: {distribution: fixed, ms: 40}}}",
            ))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(faults.config().operations.contains_key("Reserve"));

        let res = app
            .clone()
            .oneshot(request(
                "PUT",
                None,
                "operations: {Reserve: {error_rate: 7}}",
            ))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(
            faults.config().operations.contains_key("Reserve"),
            "kept the old config"
        );

        let res = app.oneshot(request("DELETE", None, "")).await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert!(faults.config().operations.is_empty());
    }

    async fn body_text(res: Response) -> String {
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn telemetry_faults_are_planted_shown_and_removed_through_the_endpoint() {
        use crate::fault::ContextFault;
        use crate::topology::Service;

        let faults = Faults::default();
        let handle = faults.telemetry();
        let app = router(faults.clone(), TelemetryHandle::default(), None);
        let res = app
            .clone()
            .oneshot(request(
                "PUT",
                None,
                "telemetry: [{kind: drop_context, hop: payment}, {kind: drop_span, span: INSERT orders}]",
            ))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        // The live handle the clients and the span processor read changed.
        assert_eq!(
            handle.context_fault(Service::Payment),
            Some(ContextFault::Drop)
        );

        let res = app.clone().oneshot(request("GET", None, "")).await.unwrap();
        let shown = body_text(res).await;
        assert!(
            shown.contains(r#""telemetry":[{"kind":"drop_context","hop":"payment"},"#),
            "{shown}"
        );

        let res = app
            .clone()
            .oneshot(request(
                "PUT",
                None,
                "telemetry: [{kind: drop_context, hop: billing}]",
            ))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let refused = body_text(res).await;
        assert!(refused.contains("telemetry[0] (drop_context)"), "{refused}");
        assert_eq!(handle.list().len(), 2, "kept the old config");

        let res = app.oneshot(request("DELETE", None, "")).await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(handle.context_fault(Service::Payment), None);
        assert!(handle.list().is_empty());
    }

    #[tokio::test]
    async fn metrics_are_served_as_openmetrics_behind_the_token() {
        let app = router(
            Faults::default(),
            TelemetryHandle::default(),
            Some("s3cret".into()),
        );
        let get = |token: Option<&str>| {
            let mut builder = Request::builder().uri(paths::METRICS);
            if let Some(token) = token {
                builder = builder.header("authorization", format!("Bearer {token}"));
            }
            builder.body(Body::empty()).unwrap()
        };
        let res = app.clone().oneshot(get(None)).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = app.clone().oneshot(get(Some("wrong"))).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

        let res = app.oneshot(get(Some("s3cret"))).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[http::header::CONTENT_TYPE],
            crate::contract::metric::OPENMETRICS_CONTENT_TYPE
        );
        let text = body_text(res).await;
        assert!(text.ends_with("# EOF\n"), "{text}");
        // Counters are always there; a histogram once it has a series.
        for family in crate::contract::metric::COUNTERS {
            assert!(
                text.contains(&format!("# TYPE {} counter\n", family.exposed)),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn a_loopback_admin_without_a_token_serves_metrics_to_anyone() {
        let app = router(Faults::default(), TelemetryHandle::default(), None);
        let res = app
            .oneshot(
                Request::builder()
                    .uri(paths::METRICS)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[test]
    fn a_public_admin_address_needs_a_token() {
        let public: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert!(check_exposure(public, None).is_err());
        assert!(check_exposure(public, Some("")).is_err());
        assert!(check_exposure(public, Some("t")).is_ok());
        assert!(check_exposure(local, None).is_ok());
    }
}
