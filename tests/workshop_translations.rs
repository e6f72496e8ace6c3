//! The workshop's Traditional Chinese text is generated from the Simplified
//! one by `scripts/workshop-zh-hant.py` (OpenCC `s2twp`), never edited by
//! hand; this test fails when the generated files are stale, missing, or
//! have no source, and shows on a scratch tree that `--check` catches each.
//!
//! The script needs Python with the `opencc` package: the interpreter is
//! `TRACEMESH_PYTHON` (default `python3`; CI gives its venv's). Without
//! opencc the tests skip, saying why, unless `TRACEMESH_REQUIRE_OPENCC=1`.

use std::path::Path;
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> String {
    std::env::var("TRACEMESH_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Whether the interpreter has opencc; if not, says why it skips (or
/// fails, when CI requires it).
fn opencc_or_skip() -> bool {
    let python = python();
    let probe = Command::new(&python).args(["-c", "import opencc"]).output();
    let why = match probe {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "{python} cannot import opencc: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => format!("{python} does not run: {e}"),
    };
    assert!(
        std::env::var("TRACEMESH_REQUIRE_OPENCC").as_deref() != Ok("1"),
        "{why}, and TRACEMESH_REQUIRE_OPENCC=1 (pip install opencc, set TRACEMESH_PYTHON)"
    );
    println!("skipped: {why} (pip install opencc, or set TRACEMESH_PYTHON)");
    false
}

fn script(args: &[&str]) -> Output {
    Command::new(python())
        .arg(repo().join("scripts/workshop-zh-hant.py"))
        .args(args)
        .output()
        .expect("the script runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_generated_traditional_chinese_is_up_to_date() {
    if !repo().join("workshop/zh-Hans").is_dir() {
        let why = "workshop/zh-Hans does not exist yet";
        assert!(
            std::env::var("TRACEMESH_REQUIRE_WORKSHOP").as_deref() != Ok("1"),
            "{why}, and TRACEMESH_REQUIRE_WORKSHOP=1"
        );
        println!("skipped: {why}");
        return;
    }
    if !opencc_or_skip() {
        return;
    }
    let out = script(&["--check"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn check_finds_missing_stale_and_sourceless_files() {
    if !opencc_or_skip() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let workshop = root.path().join("workshop");
    std::fs::create_dir_all(workshop.join("zh-Hans")).unwrap();
    std::fs::create_dir_all(workshop.join("messages")).unwrap();
    std::fs::write(
        workshop.join("zh-Hans/01-first-trace.md"),
        "# 实验 1 · 你的第一条链路\n\n打开[术语表](术语.md)。\n\n```console\n$ echo 软件 \\\n  信息\n软件信息\n```\n",
    )
    .unwrap();
    std::fs::write(
        workshop.join("messages/zh-Hans.yaml"),
        "lab.hint: \"请打开软件\"\n",
    )
    .unwrap();
    let root_arg = root.path().to_str().unwrap();
    let check = || script(&["--root", root_arg, "--check"]);

    let out = check();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("missing: workshop/zh-Hant/01-first-trace.md"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("missing: workshop/messages/zh-Hant.yaml"),
        "{}",
        text(&out)
    );

    let out = script(&["--root", root_arg]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(check().status.success(), "{}", text(&check()));
    let lab = std::fs::read_to_string(workshop.join("zh-Hant/01-first-trace.md")).unwrap();
    assert!(
        lab.starts_with(
            "<!-- GENERATED from workshop/zh-Hans/01-first-trace.md by scripts/workshop-zh-hant.py"
        ),
        "{lab}"
    );
    assert!(
        lab.contains("# 實驗 1 · 你的第一條鏈路"),
        "prose converted: {lab}"
    );
    assert!(lab.contains("(术语.md)"), "link targets kept: {lab}");
    assert!(
        lab.contains("$ echo 软件 \\\n  信息\n軟體資訊\n"),
        "commands kept, output converted: {lab}"
    );
    let messages = std::fs::read_to_string(workshop.join("messages/zh-Hant.yaml")).unwrap();
    assert!(
        messages.starts_with("# GENERATED from workshop/messages/zh-Hans.yaml"),
        "{messages}"
    );
    assert!(messages.contains("lab.hint: \"請開啟軟體\""), "{messages}");

    // A hand edit of a generated file, and a file without a source.
    std::fs::write(
        workshop.join("zh-Hant/01-first-trace.md"),
        lab.replace("實驗", "实验"),
    )
    .unwrap();
    std::fs::write(workshop.join("zh-Hant/99-orphan.md"), "").unwrap();
    let out = check();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("stale: workshop/zh-Hant/01-first-trace.md"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("no zh-Hans source: workshop/zh-Hant/99-orphan.md"),
        "{}",
        text(&out)
    );
}
