//! A typed client of the services' admin endpoints: replace a service's
//! faults, flush its spans and read its export counters, read its metrics.
//!
//! The paths come from [`tracemesh_runtime::admin::paths`], the same
//! constants the endpoint's router serves, so the two sides cannot drift.
//! The token, when the services require one (off loopback, in containers),
//! goes with every call as `Authorization: Bearer`.

use std::time::Duration;

use tracemesh_runtime::admin::paths;
use tracemesh_runtime::export_stats::ExportSnapshot;
use tracemesh_runtime::topology::Service;

use crate::error::AdminError;

/// Where one service's admin endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEndpoint {
    pub service: Service,
    /// `http://host:port`, without a path.
    pub base_url: String,
}

impl AdminEndpoint {
    pub fn new(service: Service, base_url: impl Into<String>) -> AdminEndpoint {
        let base_url: String = base_url.into();
        AdminEndpoint {
            service,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// Calls admin endpoints, with the services' token if they need one.
#[derive(Debug, Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    token: Option<String>,
}

impl AdminClient {
    /// Each call may take up to `timeout` (a flush waits for an export).
    pub fn new(token: Option<String>, timeout: Duration) -> AdminClient {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            // Only a broken TLS backend fails here, and reqwest is built
            // without one; fall back to the default client all the same.
            .unwrap_or_default();
        AdminClient { http, token }
    }

    /// `PUT /admin/faults`: replaces the service's faults with `body` (the
    /// fault file's YAML or JSON; empty clears them).
    pub async fn put_faults(
        &self,
        endpoint: &AdminEndpoint,
        body: String,
    ) -> Result<(), AdminError> {
        let url = endpoint.url(paths::FAULTS);
        self.send(endpoint, &url, self.http.put(&url).body(body))
            .await
            .map(drop)
    }

    /// `POST /admin/telemetry/flush`: the service exports what it has
    /// queued, then answers its final export counters.
    pub async fn flush(&self, endpoint: &AdminEndpoint) -> Result<ExportSnapshot, AdminError> {
        let url = endpoint.url(paths::TELEMETRY_FLUSH);
        let response = self.send(endpoint, &url, self.http.post(&url)).await?;
        response
            .json()
            .await
            .map_err(|source| AdminError::BadAnswer {
                service: endpoint.service,
                url,
                source,
            })
    }

    /// `GET /metrics`: the service's metrics as OpenMetrics text, with
    /// exemplars.
    pub async fn metrics(&self, endpoint: &AdminEndpoint) -> Result<String, AdminError> {
        let url = endpoint.url(paths::METRICS);
        let response = self.send(endpoint, &url, self.http.get(&url)).await?;
        response
            .text()
            .await
            .map_err(|source| AdminError::BadAnswer {
                service: endpoint.service,
                url,
                source,
            })
    }

    async fn send(
        &self,
        endpoint: &AdminEndpoint,
        url: &str,
        mut request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AdminError> {
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|source| AdminError::Unreachable {
                service: endpoint.service,
                url: url.to_owned(),
                source,
            })?;
        if !response.status().is_success() {
            return Err(AdminError::Refused {
                service: endpoint.service,
                url: url.to_owned(),
                status: response.status(),
                body: response.text().await.unwrap_or_default(),
            });
        }
        Ok(response)
    }
}
