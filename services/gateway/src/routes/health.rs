//! `GET /healthz` (liveness) and `GET /readyz` (readiness).
//!
//! Liveness says the process answers, and nothing else: it never calls
//! downstream, or a slow dependency would get a healthy gateway restarted.
//! Readiness says whether requests can be served now: every downstream
//! answers its gRPC health check.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::model::ReadinessView;

pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<ReadinessView>) {
    let unavailable = state.readiness.unavailable().await;
    if unavailable.is_empty() {
        let view = ReadinessView {
            status: "ready".to_owned(),
            unavailable: Vec::new(),
        };
        (StatusCode::OK, Json(view))
    } else {
        let view = ReadinessView {
            status: "not_ready".to_owned(),
            unavailable: unavailable.into_iter().map(str::to_owned).collect(),
        };
        (StatusCode::SERVICE_UNAVAILABLE, Json(view))
    }
}
