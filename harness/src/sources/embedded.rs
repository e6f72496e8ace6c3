//! The in-process store as a [`TraceSource`]: what tests and `tracemesh run`
//! use when the harness is its own collector. No I/O, so it never fails
//! except on a malformed id.

use async_trait::async_trait;

use super::{SourceError, TraceHit, TraceQuery, TraceSource, trace_key};
use crate::model::{SERVICE_NAME_KEY, SpanRecord};
use crate::store::{SearchQuery, TraceStore};

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
        Ok(hits
            .into_iter()
            .map(|hit| TraceHit {
                trace_id: hit.trace_id,
                root_service_name: hit.root_service_name,
                root_span_name: hit.root_span_name,
                start_unix_nanos: hit.start_unix_nanos,
                duration_nanos: hit.duration_nanos,
            })
            .collect())
    }
}
