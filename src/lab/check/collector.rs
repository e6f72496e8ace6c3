//! The collector as the lab checks read it: the Tempo API of the embedded
//! collector (or a Tempo), through the harness's [`TempoSource`], and its
//! logs endpoint through `tracemesh logs`' reader.
//!
//! A check judges traces by what they are, not by how they were found: with
//! `--trace ID` the learner's traces are judged; without, the newest traces a
//! search returns. Errors after [`Collector::reachable`] read as "nothing
//! found": the reachability requirement already says why.

use tracemesh_harness::model::normalize_trace_id;
use tracemesh_harness::sources::{TempoSource, TraceQuery, TraceSource};
use tracemesh_harness::trace::{TraceTree, TreeOptions};

/// How many traces a search looks at: the learner's are among the newest.
pub const SEARCH_LIMIT: usize = 50;

pub struct Collector {
    url: String,
    source: TempoSource,
}

impl Collector {
    /// `url`: an http(s) URL without a trailing slash (checked by the caller).
    pub fn new(url: &str) -> Collector {
        Collector {
            url: url.to_owned(),
            source: TempoSource::new(url),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Does the collector answer a search?
    pub async fn reachable(&self) -> Result<(), String> {
        self.source
            .find(&TraceQuery::default().limit(1))
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// One trace, assembled; `None` when the collector has none (or cannot say).
    pub async fn trace(&self, trace_id: &str) -> Option<TraceTree> {
        let id = normalize_trace_id(trace_id)?;
        let spans = self.source.trace(&id).await.ok()??;
        Some(TraceTree::build(&id, spans, &TreeOptions::default()))
    }

    /// The traces to judge: the `given` ones (`--trace`), else the newest
    /// [`SEARCH_LIMIT`] that `query` finds.
    pub async fn traces(&self, given: &[String], query: TraceQuery) -> Vec<TraceTree> {
        let ids: Vec<String> = if given.is_empty() {
            match self.source.find(&query.limit(SEARCH_LIMIT)).await {
                Ok(hits) => hits.into_iter().map(|h| h.trace_id).collect(),
                Err(_) => Vec::new(),
            }
        } else {
            given.to_vec()
        };
        let mut trees = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(tree) = self.trace(&id).await {
                trees.push(tree);
            }
        }
        trees
    }

    /// How many log lines the collector holds for the trace; `Err` says why
    /// it could not tell.
    pub async fn log_lines(&self, trace_id: &str) -> Result<usize, String> {
        match crate::logs_cmd::from_collector(&self.url, trace_id).await {
            Ok(lines) => Ok(lines.len()),
            Err(crate::Failure::Usage(why) | crate::Failure::Runtime(why)) => Err(why),
            Err(crate::Failure::ChecksFailed) => Err(String::new()),
        }
    }
}

/// The root span of a tree: the one span without a parent, if there is
/// exactly one and nothing is orphaned.
pub fn sole_root(tree: &TraceTree) -> Option<&tracemesh_harness::SpanRecord> {
    match (tree.roots(), tree.orphans()) {
        ([root], []) => Some(tree.span(*root)),
        _ => None,
    }
}
