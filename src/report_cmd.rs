//! `tracemesh report merge DIR... [--output DIR]`: the reports of a load's
//! shards (`tracemesh run --shard I/N`) combined into one.
//!
//! Reads each directory's `verdict.json`, hands them to
//! `tracemesh_harness::report::merge` (which says what is combined how,
//! and which inconsistencies are refused and which fail the `shards`
//! check), writes the merged report with the same renderers as `run`, and
//! prints the summary. Exit 0 if every check passed, 1 if one failed, 2
//! for a directory or verdict.json that cannot be read, or shards that
//! cannot be merged (the file or the shards named).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tracemesh_harness::report::merge::{self, ShardReport};
use tracemesh_harness::report::{self, RunReport, VERDICT_FILE, json, terminal};

use crate::Failure;
use crate::cli::MergeArgs;

pub fn merge(args: MergeArgs) -> Result<(), Failure> {
    let mut shards = Vec::new();
    for dir in &args.dirs {
        shards.push(ShardReport {
            origin: dir.display().to_string(),
            report: read_verdict(dir)?,
        });
    }
    let output = args.output.clone().unwrap_or_else(default_output);
    refuse_overwriting_a_shard(&output, &args.dirs)?;
    for shard in &shards {
        let r = &shard.report;
        if let Some(record) = &r.shard {
            eprintln!(
                "shard {}/{}: {} ({} requests, seed {}, base seed {}) {}",
                record.index,
                record.count,
                shard.origin,
                r.load.requests,
                r.config.seed,
                record.base_seed,
                if r.passed() { "passed" } else { "FAILED" }
            );
        }
    }
    let merged = merge::merge(shards).map_err(|e| Failure::Usage(e.to_string()))?;
    let written = report::write_all(&merged, &output).map_err(|e| {
        Failure::Runtime(format!(
            "cannot write the merged report to {}: {e}",
            output.display()
        ))
    })?;
    let live = std::io::stdout().is_terminal();
    println!(
        "{}",
        terminal::summary_with_reports(&merged, live, &written)
    );
    if merged.passed() {
        Ok(())
    } else {
        Err(Failure::ChecksFailed)
    }
}

/// A shard's report, or a usage error naming the directory or the file.
fn read_verdict(dir: &Path) -> Result<RunReport, Failure> {
    if !dir.is_dir() {
        return Err(Failure::Usage(format!(
            "{}: not a report directory (no such directory)",
            dir.display()
        )));
    }
    let file = dir.join(VERDICT_FILE);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Failure::Usage(format!("{}: cannot read it: {e}", file.display())))?;
    json::from_json(&text).map_err(|e| {
        Failure::Usage(format!(
            "{}: not a tracemesh verdict file: {e}",
            file.display()
        ))
    })
}

/// Writing the merged report into a shard's directory would replace the
/// shard's own verdict.json.
fn refuse_overwriting_a_shard(output: &Path, dirs: &[PathBuf]) -> Result<(), Failure> {
    let Ok(output) = output.canonicalize() else {
        // Not there yet: it cannot be a shard's directory.
        return Ok(());
    };
    for dir in dirs {
        if dir.canonicalize().is_ok_and(|d| d == output) {
            return Err(Failure::Usage(format!(
                "--output {}: that is a shard's report directory; give another",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// `reports/merged-<date-time>`, beside the runs' own `reports/<date-time>`.
fn default_output() -> PathBuf {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stamp = tracemesh_runtime::time_format::rfc3339_utc(
        SystemTime::UNIX_EPOCH + Duration::from_secs(now),
    );
    PathBuf::from("reports").join(format!("merged-{}", stamp.replace(':', "-")))
}
