//! The workshop's labs run as documentation that cannot rot: every lab file
//! of `workshop/en` and `workshop/zh-Hans`, in lab order, one language after
//! the other, executed the way a learner works through it, with the binary
//! under test first on PATH (the conventions: `workshop/` spec, "Blocks the
//! CI runner executes"; the parts: `workshop/markdown.rs` reads the blocks,
//! `shell.rs` keeps the learner's terminals, `excerpt.rs` compares output,
//! `lab.rs` runs a lab and its Catch up, `report.rs` prints the summary).
//!
//! An own runner rather than `trycmd`: the labs keep `tracemesh up` running
//! in a second terminal while later steps talk to it, keep shell variables
//! (a trace id) and the working directory between commands, write the files
//! the learner writes, and end with a Catch up run in a fresh directory;
//! trycmd runs each command on its own.
//!
//! `TRACEMESH_WORKSHOP_ONLY=en/03` (a prefix or a glob of `LANG/FILE`, comma
//! separated) runs a subset. Without lab files the test skips, saying why,
//! unless `TRACEMESH_REQUIRE_WORKSHOP=1` (CI), which fails. The labs bind the
//! fixed ports (8080, 4317, 4318, 9100-9104): one lab at a time, under the
//! port lock `/tmp/tracemesh-ports.lock`, and never beside this binary's
//! other tests (they run fixture labs of plain shell commands).

mod workshop {
    pub mod excerpt;
    pub mod lab;
    pub mod markdown;
    pub mod report;
    pub mod shell;
}

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use workshop::lab::{self, Lab, Options};
use workshop::report::Summary;

/// The languages CI runs (zh-Hant is generated and only checked to be fresh).
const LANGUAGES: &[(&str, &str)] = &[("en", "en_US.UTF-8"), ("zh-Hans", "zh_CN.UTF-8")];

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The lab files (`NN-*.md`) of a language, in lab order.
fn lab_files(language: &str) -> Vec<PathBuf> {
    let dir = repo().join("workshop").join(language);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        name.ends_with(".md") && name.starts_with(|c: char| c.is_ascii_digit())
    });
    files.sort();
    files
}

/// `TRACEMESH_WORKSHOP_ONLY`: `en/03` (a prefix) or `*/03-*` (a glob).
fn selected(label: &str, only: Option<&str>) -> bool {
    only.is_none_or(|only| {
        only.split(',')
            .map(str::trim)
            .any(|p| label.starts_with(p) || glob(p.as_bytes(), label.as_bytes()))
    })
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.split_first(), text.split_first()) {
        (None, _) => text.is_empty(),
        (Some((b'*', rest)), _) => {
            glob(rest, text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some((b'?', rest)), Some((_, t))) => glob(rest, t),
        (Some((p, rest)), Some((c, t))) => p == c && glob(rest, t),
        (Some(_), None) => false,
    }
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_tracemesh"))
        .parent()
        .expect("the binary's directory")
        .to_path_buf()
}

#[test]
fn every_lab_runs_in_english_and_chinese() {
    let _alone = exclusive();
    let english = lab_files("en");
    if english.is_empty() {
        let why = "workshop/en has no lab files (NN-*.md)";
        assert!(
            std::env::var("TRACEMESH_REQUIRE_WORKSHOP").as_deref() != Ok("1"),
            "{why}, and TRACEMESH_REQUIRE_WORKSHOP=1"
        );
        println!("skipped: {why}");
        return;
    }
    let only = std::env::var("TRACEMESH_WORKSHOP_ONLY").ok();
    // Another process on this machine may hold the fixed ports.
    let lock = std::fs::File::create("/tmp/tracemesh-ports.lock").expect("the port lock file");
    lock.lock().expect("the port lock");
    let mut summary = Summary::default();
    for (language, lang) in LANGUAGES {
        let files = lab_files(language);
        // The languages are peers: the same labs under the same names.
        for missing in english
            .iter()
            .filter(|e| !files.iter().any(|f| f.file_name() == e.file_name()))
        {
            let name = missing.file_name().unwrap_or_default().to_string_lossy();
            summary
                .failures
                .push(format!("{language}/{name}: missing (en has it)"));
        }
        let options = Options::new(repo(), &bin_dir(), lang);
        for file in files {
            let label = format!(
                "{language}/{}",
                file.file_name().unwrap_or_default().to_string_lossy()
            );
            if !selected(&label, only.as_deref()) {
                continue;
            }
            summary.labs.push(label.clone());
            let outcome =
                Lab::read(&file, &label).and_then(|lab| lab::run(&lab, &options, &mut summary));
            if let Err(failure) = outcome {
                summary.failures.push(failure);
            }
        }
    }
    summary.print();
    assert!(
        !summary.labs.is_empty(),
        "TRACEMESH_WORKSHOP_ONLY={only:?} selects no lab"
    );
    assert!(
        summary.failures.is_empty(),
        "{}",
        summary.failures.join("\n\n")
    );
}

#[test]
fn only_selects_by_prefix_or_glob() {
    assert!(selected("en/03-errors.md", None));
    assert!(selected("en/03-errors.md", Some("en/03")));
    assert!(selected("zh-Hans/03-errors.md", Some("en/01, */03-*")));
    assert!(!selected("zh-Hans/03-errors.md", Some("en/03")));
    assert!(selected("en/10-scale.md", Some("en/1?-*.md")));
    assert!(!selected("en/01-first-trace.md", Some("en/1?-*.md")));
}

// The runner itself, on fixture labs of plain shell commands, with a
// stand-in `tracemesh` whose `lab check N` passes once `done-N` exists.

/// Runs one fixture; the short bounds keep the failing ones fast.
fn fixture(name: &str) -> (Result<(), String>, Summary) {
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("tracemesh");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         # stand-in: `lab check N` passes once the lab's work (done-N) exists\n\
         [ \"$1 $2\" = \"lab check\" ] || { echo \"unexpected: $*\" >&2; exit 2; }\n\
         if [ -f \"done-$3\" ]; then echo \"lab $3: PASS\"; exit 0; fi\n\
         echo \"lab $3: not yet\"; echo \"  hint: write done-$3\"; exit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut options = Options::new(repo(), bin.path(), "en_US.UTF-8");
    options.background_wait = Duration::from_secs(3);
    options.stop_grace = Duration::from_secs(5);
    let path = repo().join("tests/workshop/fixtures").join(name);
    let mut summary = Summary::default();
    let outcome = Lab::read(&path, &format!("fixtures/{name}"))
        .and_then(|lab| lab::run(&lab, &options, &mut summary));
    summary.print();
    (outcome, summary)
}

fn fails_with(name: &str, parts: &[&str]) {
    let (outcome, _) = fixture(name);
    let failure = outcome.expect_err("the fixture must fail");
    for part in parts {
        assert!(failure.contains(part), "{part:?} not in:\n{failure}");
    }
}

#[test]
fn a_passing_lab_keeps_variables_cwd_files_and_a_second_terminal() {
    let _alone = exclusive();
    let (outcome, summary) = fixture("01-passes.md");
    outcome.unwrap();
    assert_eq!(summary.skipped, ["fixtures/01-passes.md:50"]);
    assert_eq!(summary.blocks_run, 8, "{summary:?}");
    assert_eq!(summary.commands, 16, "{summary:?}");
}

#[test]
fn a_missing_excerpt_line_names_file_line_command_and_output() {
    let _alone = exclusive();
    fails_with(
        "02-missing-excerpt.md",
        &[
            "fixtures/02-missing-excerpt.md:7: `echo hello`",
            "not found (in order): goodbye",
            "| hello",
        ],
    );
}

#[test]
fn a_wrong_exit_code_fails() {
    let _alone = exclusive();
    fails_with(
        "03-wrong-exit.md",
        &[
            "03-wrong-exit.md:7: `ls no-such-file`",
            "exited 2, expected 0",
            "No such file",
        ],
    );
}

#[test]
fn a_background_excerpt_that_never_appears_fails_in_bounded_time() {
    let _alone = exclusive();
    fails_with(
        "04-background-never.md",
        &[
            "04-background-never.md:9: `echo starting; sleep 30`",
            "did not print within 3 s: ready",
            "| starting",
        ],
    );
}

#[test]
fn ci_skip_is_only_for_building_registries_and_clusters() {
    let _alone = exclusive();
    fails_with(
        "05-skip-reason.md",
        &["05-skip-reason.md:13: `echo too slow` is in a ci=skip block"],
    );
}

#[test]
fn a_lab_without_its_parts_names_the_missing_one() {
    let _alone = exclusive();
    fails_with(
        "06-no-first-check.md",
        &["must start with `tracemesh lab check 6` expecting [exit 1]"],
    );
    fails_with(
        "07-no-passing-check.md",
        &["no passing `tracemesh lab check 7`"],
    );
    fails_with("08-no-catch-up.md", &["no `console catch-up` block"]);
}

#[test]
fn a_catch_up_that_does_not_reach_the_end_state_fails() {
    let _alone = exclusive();
    fails_with(
        "09-catch-up-short.md",
        &[
            "after the Catch up blocks, `tracemesh lab check 9` exited 1",
            "hint: write done-9",
        ],
    );
}

#[test]
fn a_command_past_its_timeout_is_stopped() {
    let _alone = exclusive();
    fails_with(
        "10-timeout.md",
        &["10-timeout.md:9: `sleep 30`", "still running after 1 s"],
    );
}

#[test]
fn a_file_block_may_not_write_into_the_repository() {
    let _alone = exclusive();
    fails_with(
        "11-file-into-repo.md",
        &["file=scenarios/mine.yaml: scenarios links into the repository"],
    );
}

#[test]
fn a_command_bash_cannot_parse_is_named_not_run() {
    let _alone = exclusive();
    fails_with(
        "12-unclosed-quote.md",
        &[
            "12-unclosed-quote.md:6: `echo \"unclosed`",
            "not a valid bash command",
        ],
    );
}
