//! `--baseline` through the report: a baseline written by `write_all`,
//! read back by `checks::baseline::load`, compared, and rendered in the
//! terminal summary and the HTML report.

mod report_support;

use report_support::*;
use tracemesh_harness::checks::baseline::{self, Baseline};
use tracemesh_harness::report::html::to_html;
use tracemesh_harness::report::terminal::{MAX_COLUMNS, MAX_LINES, summary, visible_width};
use tracemesh_harness::report::{self, VERDICT_FILE};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tracemesh-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_written_report_is_a_baseline_and_30_ms_more_fails_naming_the_operation() {
    let dir = scratch("baseline-roundtrip");
    let before = with_operations(1.1, 40.0);
    report::write_all(&before, &dir).unwrap();
    for path in [dir.clone(), dir.join(VERDICT_FILE)] {
        let loaded = baseline::load(&path).unwrap();
        assert_eq!(loaded.operations, before.operations);
    }
    let loaded = baseline::load(&dir).unwrap();
    let same = with_operations(1.1, 40.0);
    let (_, verdict) = baseline::compare(&same, &Baseline::new(&loaded, dir.display().to_string()));
    assert!(verdict.passed, "{:#?}", verdict.reasons);

    let now = with_operations(31.2, 40.0);
    let (comparison, verdict) =
        baseline::compare(&now, &Baseline::new(&loaded, dir.display().to_string()));
    assert!(!verdict.passed);
    assert!(
        verdict.reasons.contains(&format!(
            "inventory {RESERVE}: critical-path self time p50 31.2 ms against 1.1 ms in the \
             baseline (+30.1 ms, tolerance +20 ms or 35%)"
        )),
        "{:#?}",
        verdict.reasons
    );
    // payment's charge has 8 traces a side: listed, not judged.
    let charge = comparison
        .rows
        .iter()
        .find(|r| r.subject == "payment POST /v1/charges")
        .unwrap();
    assert!(!charge.judged() && !charge.failed());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_terminal_summary_shows_the_failing_rows_within_one_screen() {
    let report = baseline_regression();
    let text = summary(&report, false);
    println!("{text}");
    assert!(text.lines().count() <= MAX_LINES, "{text}");
    assert!(
        text.lines().all(|l| visible_width(l) <= MAX_COLUMNS),
        "{text}"
    );
    assert!(
        text.contains("Baseline  reports/2026-11-22T16-00-00Z ·"),
        "{text}"
    );
    let reserve = text
        .lines()
        .find(|l| l.contains("InventoryService/Reserve"))
        .expect("the Reserve row");
    assert!(
        reserve.contains('✗') && reserve.contains("1.1 →   31.2  +30.1"),
        "{reserve}"
    );
    assert!(text.contains("✗ baseline: "), "{text}");
    // Nothing about a baseline in a run without one.
    assert!(!summary(&realistic_report(), false).contains("Baseline"));
}

#[test]
fn the_html_report_has_the_table_and_the_chart_escaped() {
    let html = to_html(&baseline_regression());
    assert!(html.contains("<h2>Against the baseline</h2>"));
    assert!(html.contains(r#"<tr class="fail"><td>✗</td><td>inventory tracemesh.inventory.v1.InventoryService/Reserve"#));
    assert!(html.contains("not judged: 8 traces now, 8 in the baseline; 20 needed on each side"));
    assert!(html.contains("baseline p50") && html.contains("this run, beyond tolerance"));
    assert!(
        !html.contains(HOSTILE_SPAN),
        "a span name reached the page unescaped"
    );
    assert!(!to_html(&realistic_report()).contains("Against the baseline"));
}
