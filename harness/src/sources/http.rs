//! The HTTP plumbing Tempo's, Jaeger's and Prometheus' clients share: one GET, its answer
//! sorted into "here is the body", "not found" and the [`SourceError`]s.

use std::error::Error as _;
use std::time::Duration;

use reqwest::{Client, StatusCode, Url};

use super::SourceError;

/// How much of an error body to quote in a [`SourceError`]: enough for the
/// backend's message, not a whole HTML error page.
const QUOTED_BODY_CHARS: usize = 300;

/// A reqwest client with a whole-request timeout, so a hung backend becomes
/// an `Unreachable` error instead of a hung check.
pub(crate) fn client_with_timeout(timeout: Duration) -> Client {
    Client::builder()
        .timeout(timeout)
        .build()
        // Building fails only when the TLS backend cannot initialise, and
        // this reqwest is built without TLS; the default client is the same.
        .unwrap_or_default()
}

/// Joins a base URL typed by a person (`http://tempo:3200`, maybe with a path
/// prefix and maybe with a trailing slash) and an API path.
pub(crate) fn endpoint(base_url: &str, path: &str) -> Result<Url, SourceError> {
    let joined = format!(
        "{}/{}",
        base_url.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    Url::parse(&joined).map_err(|e| SourceError::Unreachable {
        url: joined.clone(),
        reason: format!("not a valid URL: {e}"),
    })
}

/// GETs `url` expecting JSON. `Ok(None)` on 404; any other non-2xx status is
/// [`SourceError::HttpStatus`] quoting the body.
pub(crate) async fn get(client: &Client, url: &Url) -> Result<Option<Vec<u8>>, SourceError> {
    let response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| unreachable(url, &e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| unreachable(url, &e))?;
    if status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(SourceError::HttpStatus {
            url: url.to_string(),
            status: status.as_u16(),
            body: quote(&body),
        });
    }
    Ok(Some(body.to_vec()))
}

/// Parses a body as one JSON value, or says where it stopped being JSON.
pub(crate) fn parse_json(url: &Url, body: &[u8]) -> Result<serde_json::Value, SourceError> {
    serde_json::from_slice(body)
        .map_err(|e| malformed(url, format!("not JSON ({e}): {}", quote(body))))
}

pub(crate) fn malformed(url: &Url, reason: impl Into<String>) -> SourceError {
    SourceError::Malformed {
        url: url.to_string(),
        reason: reason.into(),
    }
}

/// reqwest's own message is "error sending request for url (..)"; the cause
/// that helps ("Connection refused", "operation timed out") is further down
/// the chain, so the whole chain goes into the reason.
fn unreachable(url: &Url, error: &reqwest::Error) -> SourceError {
    let mut reason = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        reason.push_str(": ");
        reason.push_str(&inner.to_string());
        cause = inner.source();
    }
    SourceError::Unreachable {
        url: url.to_string(),
        reason,
    }
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(QUOTED_BODY_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}
