//! `tracemesh trace <trace-id>`: one trace as a waterfall in the terminal,
//! from the embedded collector (default), a Tempo or a Jaeger. The layout
//! is the harness's (`tracemesh_harness::view`); this only fetches and
//! prints.
//!
//! Exit 2: a malformed id or URL, named. Exit 1: the store is unreachable,
//! or has no such trace (the message says where it looked).

use tracemesh_harness::model::normalize_trace_id;
use tracemesh_harness::view::TraceView;
use tracemesh_harness::view::terminal::{Detail, waterfall};

use crate::Failure;
use crate::cli::TraceArgs;
use crate::view_source::{Store, terminal_style};

pub async fn run(args: TraceArgs) -> Result<(), Failure> {
    let trace_id = normalize_trace_id(&args.trace_id).ok_or_else(|| {
        Failure::Usage(format!(
            "<TRACE_ID> {:?}: expected 1 to 32 hex digits",
            args.trace_id
        ))
    })?;
    let store = Store::from_args(&args.store)?;
    let spans = store
        .source()
        .trace(&trace_id)
        .await
        .map_err(|e| Failure::Runtime(format!("{}: {e}", store.flag_and_url())))?
        .ok_or_else(|| {
            Failure::Runtime(format!(
                "trace {trace_id} not found in {} ({})",
                store.source().describe(),
                store.flag_and_url()
            ))
        })?;
    let view = TraceView::of(&trace_id, spans).map_err(|e| Failure::Runtime(e.to_string()))?;
    let detail = Detail {
        attributes: args.attributes,
        resource: args.resource,
    };
    print!("{}", waterfall(&view, terminal_style(), detail));
    Ok(())
}
