//! The in-process store as a [`TraceSource`]: what tests and `tracemesh run`
//! use when the harness is its own collector. No I/O, so it never fails
//! except on a malformed id.

use async_trait::async_trait;

use super::{SourceError, TraceHit, TraceQuery, TraceSource, trace_key};
use crate::model::{SERVICE_NAME_KEY, SpanRecord};
use crate::store::{SearchQuery, TraceStore, TraceSummary, TraceWindow};
use crate::traceql;

#[derive(Debug, Clone)]
pub struct EmbeddedSource {
    store: TraceStore,
}

impl EmbeddedSource {
    /// Reads `store` (a cheap clone of the handle; all clones see the same data).
    pub fn new(store: TraceStore) -> EmbeddedSource {
        EmbeddedSource { store }
    }
}

#[async_trait]
impl TraceSource for EmbeddedSource {
    fn describe(&self) -> String {
        "the embedded trace store".to_string()
    }

    async fn trace(&self, trace_id: &str) -> Result<Option<Vec<SpanRecord>>, SourceError> {
        let key = trace_key(trace_id)?;
        Ok(self.store.trace(&key))
    }

    async fn find(&self, query: &TraceQuery) -> Result<Vec<TraceHit>, SourceError> {
        if let Some(text) = &query.traceql {
            let parsed = traceql::parse(text).map_err(|e| SourceError::QueryRefused {
                source_name: self.describe(),
                message: e.to_string(),
            })?;
            let window = TraceWindow {
                start_unix_secs: query.start_unix_secs,
                end_unix_secs: query.end_unix_secs,
                ..TraceWindow::default()
            };
            let (hits, _) = self.store.traceql(&parsed, &window, query.limit);
            return Ok(hits.into_iter().map(|hit| hit_of(hit.summary)).collect());
        }
        // The store's search already has Tempo's tag semantics; service and
        // span name are just two more tags on the same span.
        let mut tags = Vec::new();
        if let Some(service) = &query.service_name {
            tags.push((SERVICE_NAME_KEY.to_string(), service.clone()));
        }
        if let Some(name) = &query.span_name {
            tags.push(("name".to_string(), name.clone()));
        }
        tags.extend(query.attributes.iter().cloned());
        let hits = self.store.search(&SearchQuery {
            tags,
            start_unix_secs: query.start_unix_secs,
            end_unix_secs: query.end_unix_secs,
            limit: query.limit,
            ..SearchQuery::default()
        });
        Ok(hits.into_iter().map(hit_of).collect())
    }
}

fn hit_of(summary: TraceSummary) -> TraceHit {
    TraceHit {
        trace_id: summary.trace_id,
        root_service_name: summary.root_service_name,
        root_span_name: summary.root_span_name,
        start_unix_nanos: summary.start_unix_nanos,
        duration_nanos: summary.duration_nanos,
    }
}
