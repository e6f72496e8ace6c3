//! A load split over processes: three `tracemesh run --shard I/3` side by
//! side against one mesh, reading traces through the Tempo API of the
//! test's collector (as pods read Tempo), then `tracemesh report merge`
//! over their report directories, and over copies of them with planted
//! defects: a failed check, a missing shard, a shard given twice, trace
//! ids started by two shards, a corrupt verdict.json.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{Mesh, output_text, tracemesh};
use serde_json::Value;

/// The whole load's seed: every shard derives its own from it.
const BASE_SEED: &str = "20261201";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_of_one_load_merge_into_one_report() {
    let mut mesh = Mesh::start().await;
    let reports = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| reports.path().join(format!("shard-{i}")))
        .collect();
    let runs = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| run_shard(&mesh, i, dir));
    let outputs = futures::future::join_all(runs).await;
    mesh.stop().await;

    let shards: Vec<Value> = dirs.iter().map(|d| verdict(d)).collect();
    for ((output, shard), i) in outputs.iter().zip(&shards).zip(0..) {
        let (stdout, stderr) = output_text(output);
        assert!(
            output.status.success(),
            "shard {i}/3 failed: {:#?}\n{stdout}\n{stderr}",
            failed_checks(shard)
        );
        assert_eq!(shard["shard"]["index"], i);
        assert_eq!(shard["shard"]["count"], 3);
        assert_eq!(shard["shard"]["base_seed"].to_string(), BASE_SEED);
        // --users 5 over 3 shards: 2, 2, 1.
        assert_eq!(shard["config"]["users"], [2, 2, 1][i]);
        assert!(
            stdout.contains(&format!("shard {i}/3 of a load with base seed {BASE_SEED}")),
            "{stdout}"
        );
    }
    let seeds: BTreeSet<String> = shards
        .iter()
        .map(|s| s["config"]["seed"].to_string())
        .collect();
    assert_eq!(seeds.len(), 3, "every shard its own seed: {seeds:?}");
    // Each shard started (and checked) traces of its own.
    let ids: Vec<BTreeSet<String>> = shards
        .iter()
        .map(|s| {
            s["shard"]["trace_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| id.as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    for (i, a) in ids.iter().enumerate() {
        assert!(!a.is_empty());
        for b in &ids[i + 1..] {
            assert!(a.is_disjoint(b), "shards share trace ids");
        }
    }

    // The merge of the three.
    let merged_dir = reports.path().join("merged");
    let out = merge(&dirs, &merged_dir).await;
    let (stdout, stderr) = output_text(&out);
    let merged = verdict(&merged_dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{:#?}\n{stdout}\n{stderr}",
        failed_checks(&merged)
    );
    assert_eq!(merged["passed"], true);
    let sum = |pointer: &str| -> u64 {
        shards
            .iter()
            .map(|s| s.pointer(pointer).and_then(Value::as_u64).unwrap())
            .sum()
    };
    let merged_u64 = |pointer: &str| merged.pointer(pointer).and_then(Value::as_u64).unwrap();
    for pointer in [
        "/load/requests",
        "/load/failures",
        "/traces/expected",
        "/traces/complete",
    ] {
        assert_eq!(merged_u64(pointer), sum(pointer), "{pointer}");
    }
    assert!(merged_u64("/load/requests") > 0);
    assert_eq!(merged["config"]["seed"].to_string(), BASE_SEED);
    assert_eq!(merged["config"]["users"], 5);
    let ratio = |report: &Value, figure: &str| -> u64 {
        check(report, "sampling.root.ratio")["figures"][figure]
            .as_u64()
            .unwrap()
    };
    for figure in ["requests", "sampled"] {
        let shards_sum: u64 = shards.iter().map(|s| ratio(s, figure)).sum();
        assert_eq!(ratio(&merged, figure), shards_sum, "sampling {figure}");
    }
    let shards_check = check(&merged, "shards");
    assert_eq!(shards_check["passed"], true);
    assert_eq!(shards_check["examined"], 3);
    // The orphans each shard left to the merge are the other shards' traces.
    assert_eq!(
        check(&merged, "orphans")["figures"]["orphan_traces_between_shards"],
        0
    );
    let unclaimed: usize = shards
        .iter()
        .map(|s| {
            check(s, "orphans")["figures"]["unclaimed_trace_ids"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert!(
        unclaimed > 0,
        "the shards ran side by side, so each saw the others' traces"
    );
    assert_junit(&merged_dir, &merged);
    assert!(merged_dir.join("report.html").is_file());
    assert!(merged_dir.join("summary.txt").is_file());
    assert!(stdout.contains("PASS"), "{stdout}");

    planted_defects(reports.path(), &dirs).await;
}

#[tokio::test]
async fn a_bad_shard_exits_2_naming_the_flag() {
    for (args, env) in [
        (vec!["run", "--shard", "3/3"], vec![]),
        (vec!["run"], vec![("TRACEMESH_SHARD", "1-3")]),
    ] {
        let out = tracemesh(&args, &env).await;
        let (_, stderr) = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--shard <I/N>"), "{stderr}");
    }
}

/// Merges of copies of the shards' reports, each with one defect.
async fn planted_defects(root: &Path, dirs: &[PathBuf]) {
    let out_dir = root.join("defect-out");

    // A check failed in one shard: the load fails, the shard is named.
    let failed = copy_shard(&dirs[1], &root.join("failed-1"));
    edit_verdict(&failed, |v| {
        let tree = v["verdicts"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|c| c["check"] == "completeness")
            .unwrap();
        tree["passed"] = false.into();
        tree["reasons"] = serde_json::json!(["planted: trace 42 lost its payment span"]);
    });
    let out = merge(&[dirs[0].clone(), failed, dirs[2].clone()], &out_dir).await;
    let (stdout, _) = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let completeness = check(&verdict(&out_dir), "completeness").clone();
    assert_eq!(completeness["passed"], false);
    assert_eq!(
        completeness["reasons"],
        serde_json::json!(["shard 1/3: planted: trace 42 lost its payment span"])
    );
    assert!(stdout.contains("shard 1/3: planted"), "{stdout}");

    // A missing shard: the report is written, and fails its shards check.
    let out = merge(&[dirs[0].clone(), dirs[2].clone()], &out_dir).await;
    assert_eq!(out.status.code(), Some(1));
    let merged = verdict(&out_dir);
    let shards = check(&merged, "shards");
    assert_eq!(shards["passed"], false);
    assert!(
        shards["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("shard(s) 1/3 missing"),
        "{shards}"
    );

    // The same shard twice: refused, both places named.
    let twice = copy_shard(&dirs[1], &root.join("copy-of-1"));
    let out = merge(
        &[
            dirs[0].clone(),
            dirs[1].clone(),
            twice.clone(),
            dirs[2].clone(),
        ],
        &out_dir,
    )
    .await;
    let (_, stderr) = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("shard 1/3 given twice"), "{stderr}");
    assert!(stderr.contains(&twice.display().to_string()), "{stderr}");

    // Trace ids started by two shards: the shards check fails.
    let overlapping = copy_shard(&dirs[2], &root.join("overlapping-2"));
    let borrowed = verdict(&dirs[0])["shard"]["trace_ids"][0].clone();
    edit_verdict(&overlapping, |v| {
        v["shard"]["trace_ids"]
            .as_array_mut()
            .unwrap()
            .push(borrowed.clone());
    });
    let out = merge(&[dirs[0].clone(), dirs[1].clone(), overlapping], &out_dir).await;
    assert_eq!(out.status.code(), Some(1));
    let shards = check(&verdict(&out_dir), "shards").clone();
    assert!(
        shards["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("shards 0/3 and 2/3 both started 1 trace(s)"),
        "{shards}"
    );

    // A corrupt verdict.json: refused, the file named.
    let corrupt = copy_shard(&dirs[2], &root.join("corrupt-2"));
    std::fs::write(corrupt.join("verdict.json"), "{\"passed\": tru").unwrap();
    let out = merge(
        &[dirs[0].clone(), dirs[1].clone(), corrupt.clone()],
        &out_dir,
    )
    .await;
    let (_, stderr) = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let file = corrupt.join("verdict.json").display().to_string();
    assert!(
        stderr.contains(&format!("{file}: not a tracemesh verdict file")),
        "{stderr}"
    );
}

/// `tracemesh run --shard i/3` against the mesh, traces read through Tempo's API.
async fn run_shard(mesh: &Mesh, index: usize, dir: &Path) -> std::process::Output {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline.yaml");
    let tempo = mesh.collector.http_endpoint();
    let shard = format!("{index}/3");
    tracemesh(
        &[
            "run",
            "--run-time",
            "5s",
            "--users",
            "5",
            "--shard",
            &shard,
            "--gateway",
            &mesh.gateway,
            "--tempo",
            &tempo,
            // The test's mesh samples everything (parentbased_always_on).
            "--sampler-ratio",
            "1",
            "--scenario",
            scenario.to_str().unwrap(),
            "--report-dir",
            dir.to_str().unwrap(),
        ],
        &[("TRACEMESH_SEED", BASE_SEED)],
    )
    .await
}

async fn merge(dirs: &[PathBuf], output: &Path) -> std::process::Output {
    let mut args = vec!["report".to_owned(), "merge".to_owned()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    args.extend(["--output".to_owned(), output.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tracemesh(&args, &[]).await
}

fn verdict(dir: &Path) -> Value {
    let file = dir.join("verdict.json");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap()
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["check"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {:#?}", failed_checks(report)))
}

fn failed_checks(report: &Value) -> Vec<String> {
    report["verdicts"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|v| v["passed"] == false)
                .map(|v| format!("{}: {}", v["check"], v["reasons"]))
                .collect()
        })
        .unwrap_or_default()
}

/// The merged junit.xml parses, with one test case per merged check.
fn assert_junit(dir: &Path, merged: &Value) {
    let xml = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let cases: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    let checks: Vec<&str> = merged["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["check"].as_str())
        .collect();
    assert_eq!(cases, checks);
    assert_eq!(cases[0], "shards");
}

/// A copy of a shard's report directory (its verdict.json is all the merge reads).
fn copy_shard(from: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("verdict.json"), to.join("verdict.json")).unwrap();
    to.to_path_buf()
}

fn edit_verdict(dir: &Path, change: impl FnOnce(&mut Value)) {
    let mut v = verdict(dir);
    change(&mut v);
    std::fs::write(dir.join("verdict.json"), serde_json::to_string(&v).unwrap()).unwrap();
}
