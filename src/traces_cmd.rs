//! `tracemesh traces [QUERY]`: the latest traces as a table (id, root
//! service and span, start, duration, span count, error mark), optionally
//! those a TraceQL query matches, from the embedded collector (default) or
//! a Tempo (`/api/search?q=..&limit=..`); from a Jaeger without a query.
//!
//! Search answers carry no span count or error flag (Tempo's search hit
//! has neither), so each listed trace is fetched once to fill them.
//!
//! Exit 2: a bad flag, a query for Jaeger, or a query the store refused
//! (its message, with its column). Exit 1: the store cannot be reached.

use tracemesh_harness::sources::{SourceError, TraceQuery};
use tracemesh_harness::view::TraceRow;
use tracemesh_harness::view::terminal::trace_table;

use crate::Failure;
use crate::cli::TracesArgs;
use crate::view_source::{Store, terminal_style};

pub async fn run(args: TracesArgs) -> Result<(), Failure> {
    let store = Store::from_args(&args.store)?;
    let query = args
        .query
        .or(args.query_flag)
        .filter(|q| !q.trim().is_empty());
    let limit = args.limit as usize;
    let where_ = store.flag_and_url();
    let hits = match (&store, &query) {
        (Store::Jaeger(_), Some(_)) => {
            return Err(Failure::Usage(
                "a TraceQL query needs --collector or --tempo: Jaeger's API has no TraceQL \
                 (list without a query, or read the same traces from Tempo)"
                    .into(),
            ));
        }
        (_, Some(q)) => store
            .source()
            .find(&TraceQuery::traceql(q.as_str()).limit(limit))
            .await
            .map_err(|e| search_failure(&where_, e))?,
        (_, None) => store
            .source()
            .find(&TraceQuery::default().limit(limit))
            .await
            .map_err(|e| search_failure(&where_, e))?,
    };
    let mut rows = Vec::with_capacity(hits.len());
    for hit in hits {
        let spans = store.source().trace(&hit.trace_id).await;
        rows.push(match spans {
            Ok(Some(spans)) => TraceRow::from(hit).with_spans(&spans),
            // Evicted since the search, or a store hiccup: unknown, not fatal.
            _ => TraceRow::from(hit),
        });
    }
    if rows.is_empty() {
        eprintln!("no traces in {where_}");
        return Ok(());
    }
    print!("{}", trace_table(&rows, terminal_style()));
    Ok(())
}

/// A refused query is the user's to fix (exit 2, the store's message with
/// its column); anything else is the store's failure.
fn search_failure(where_: &str, error: SourceError) -> Failure {
    match error {
        SourceError::QueryRefused { message, .. } => {
            Failure::Usage(format!("query refused by {where_}: {message}"))
        }
        other => Failure::Runtime(format!("{where_}: {other}")),
    }
}
