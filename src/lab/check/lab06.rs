//! Lab 6, a trace test: the learner's expected tree (`--file`, or a
//! `*.yaml` of the working directory that parses as one, read by the
//! harness's own loader), a run with `--expect FILE` whose `full_tree
//! <name>` verdict passed, and a run with `--expect FILE --scenario
//! scenarios/broken/<any>.yaml` whose same verdict failed.
//!
//! The files a run was given are `config.expectations` in its verdict.json.

use std::path::{Path, PathBuf};

use tracemesh_harness::checks::expect::ExpectedTree;

use super::reports::{self, Report};
use super::{Context, Requirement};

/// The learner's tree: the given file, else the first `*.yaml` of the
/// directory that parses. `Err` carries the loader's message (the file and
/// the place) for a file that looks like a tree (`root:`) and does not parse.
fn learner_tree(cx: &Context<'_>) -> Result<PathBuf, Option<String>> {
    if let Some(file) = &cx.file {
        return ExpectedTree::load(&cx.dir.join(file))
            .map(|_| file.clone())
            .map_err(|e| Some(e.to_string()));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cx.dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml") && p.is_file());
    files.sort();
    let mut attempt = None;
    for path in files {
        match ExpectedTree::load(&path) {
            Ok(_) => return Ok(PathBuf::from(path.file_name().unwrap_or_default())),
            Err(e) if attempt.is_none() && looks_like_a_tree(&path) => {
                attempt = Some(e.to_string());
            }
            Err(_) => {}
        }
    }
    Err(attempt)
}

fn looks_like_a_tree(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.lines().any(|l| l.starts_with("root:")))
}

/// The run was given `file` and judged it: its `full_tree <stem>` verdict.
fn tree_verdict(report: &Report, file: &Path) -> Option<bool> {
    let name = file.file_name()?.to_str()?;
    let stem = name.trim_end_matches(".yaml");
    let given = report
        .config_list("expectations")
        .iter()
        .any(|e| Path::new(e).file_name().and_then(|n| n.to_str()) == Some(name));
    if !given {
        return None;
    }
    report
        .report
        .verdicts
        .iter()
        .find(|v| {
            v.check
                .strip_prefix("full_tree ")
                .is_some_and(|n| n.trim_end_matches(".yaml").ends_with(stem))
        })
        .map(|v| v.passed)
}

/// The `name:` of every scenario under `scenarios/broken/`.
fn broken_scenarios(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("scenarios/broken")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|text| serde_yaml::from_str::<serde_yaml::Value>(&text).ok())
        .filter_map(|yaml| yaml["name"].as_str().map(str::to_owned))
        .collect()
}

pub fn check(cx: &Context<'_>) -> Vec<Requirement> {
    let m = cx.messages;
    let tree = learner_tree(cx);
    let all = reports::read_all(&cx.dir);
    let broken = broken_scenarios(&cx.dir);
    let is_broken = |r: &Report| broken.contains(&r.report.config.scenario);
    let (passed, failed) = match &tree {
        Ok(file) => (
            all.iter()
                .rev()
                .find(|r| !is_broken(r) && tree_verdict(r, file) == Some(true)),
            all.iter()
                .rev()
                .find(|r| is_broken(r) && tree_verdict(r, file) == Some(false)),
        ),
        Err(_) => (None, None),
    };
    let file = tree
        .as_ref()
        .map_or_else(|_| "FILE".to_owned(), |f| f.display().to_string());
    let parses = match &tree {
        Ok(_) => Requirement::new(true, m.f("lab6.tree", &[("file", &file)]), String::new()),
        Err(why) => Requirement::new(
            false,
            m.t("lab6.tree_not"),
            match why {
                Some(why) => m.f("lab6.tree.hint_error", &[("why", why)]),
                None => m.t("lab6.tree.hint"),
            },
        ),
    };
    vec![
        parses,
        Requirement::new(
            passed.is_some(),
            reports::naming(m, &cx.dir, m.f("lab6.passes", &[("file", &file)]), passed),
            m.f("lab6.passes.hint", &[("file", &file)]),
        ),
        Requirement::new(
            failed.is_some(),
            reports::naming(m, &cx.dir, m.f("lab6.fails", &[("file", &file)]), failed),
            m.f("lab6.fails.hint", &[("file", &file)]),
        ),
    ]
}
