//! Lab 10, scale: a merged report (`tracemesh report merge`) of at least
//! two shards (`run --shard 1/2`, `--shard 2/2`) under `reports/`. The
//! merge adds a `shards` verdict whose `shard_count` figure is N.

use tracemesh_harness::report::merge::SHARDS_CHECK;

use super::reports::{self, Report};
use super::{Context, Requirement};

fn shard_count(report: &Report) -> u64 {
    report
        .verdict(SHARDS_CHECK)
        .and_then(|v| v.figures.get("shard_count"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

pub fn check(cx: &Context<'_>) -> Vec<Requirement> {
    let m = cx.messages;
    let all = reports::read_all(&cx.dir);
    let shards = all.iter().rev().find(|r| r.report.shard.is_some());
    let merged = all.iter().rev().find(|r| shard_count(r) >= 2);
    vec![
        Requirement::new(
            shards.is_some(),
            reports::naming(m, &cx.dir, m.t("lab10.shard"), shards),
            m.t("lab10.shard.hint"),
        ),
        Requirement::new(
            merged.is_some(),
            reports::naming(m, &cx.dir, m.t("lab10.merged"), merged),
            m.t("lab10.merged.hint"),
        ),
    ]
}
