//! The terminal summary: one screen, the figures that matter, one line per
//! check, and honest about failure and interruption.

mod report_support;

use report_support::*;
use tracemesh_harness::checks::Verdict;
use tracemesh_harness::report::terminal::{MAX_COLUMNS, MAX_LINES, summary, visible_width};

fn assert_fits_one_screen(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= MAX_LINES, "{} lines:\n{text}", lines.len());
    for line in &lines {
        assert!(
            visible_width(line) <= MAX_COLUMNS,
            "{} columns: {line:?}",
            visible_width(line)
        );
    }
}

#[test]
fn summary_of_a_failed_run_fits_one_screen_and_shows_the_figures() {
    let text = summary(&realistic_report(), false);
    assert_fits_one_screen(&text);

    assert!(
        text.starts_with("tracemesh run: FAIL — 1 of 5 checks failed"),
        "{text}"
    );
    for figure in [
        "1234 requests, 12 failures (0.97%), 61.7 req/s, p50 12.3 ms, p99 88.5 ms",
        "expected 310, found 309, complete 305",
        "ready p50 45.0 ms, p99 180 ms",
        "✓ ratio 0.25, observed 0.2387 (74 of 310), 99.9% interval [0.1834, 0.3052]",
        "scenario slow-inventory · 10 users · 20s of load · sampler ratio 0.25 · took 21.4s",
        "target http://127.0.0.1:8080 · traces from embedded",
        "fixes inventory-lock, payment-pool (planted bottlenecks removed)",
        "Bottleneck mesh · generator 33% · services 151% (inventory 62%) · machine 191% of 200% CPU",
    ] {
        assert!(text.contains(figure), "missing {figure:?} in\n{text}");
    }
    // Top services in the report's order (by critical-path p50), three of them.
    let inventory = text.find("inventory ").unwrap();
    let payment = text.find("payment ").unwrap();
    let order = text.find("order ").unwrap();
    assert!(inventory < payment && payment < order, "{text}");
    assert!(
        text.contains("41.3 ms") || text.contains("41.2 ms"),
        "{text}"
    );
    assert!(
        !text.contains("          user "),
        "only the top 3 services:\n{text}"
    );
}

#[test]
fn summary_has_one_line_per_check_with_the_first_reason_of_a_failure() {
    let text = summary(&realistic_report(), false);
    for passed in [
        "✓ full_tree",
        "✓ sampling.root.ratio",
        "✓ sampling.parent",
        "✓ attribution",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == passed),
            "no line {passed:?}:\n{text}"
        );
    }
    let failed = text
        .lines()
        .find(|l| l.contains("✗ completeness"))
        .expect("a line for the failed check");
    assert!(
        failed.contains("trace 4bf92f3577b34da6a3ce929d0e0e4736: span"),
        "{failed}"
    );
    assert!(
        failed.ends_with('…'),
        "a long reason is cut to the width: {failed}"
    );
    // The second reason is for the HTML report, not the one-screen summary.
    assert!(!text.contains("exporter's queue"), "{text}");
}

#[test]
fn summary_says_where_the_reports_are() {
    let text = summary(&realistic_report(), false);
    assert!(text.contains("Reports   goose-report.html"), "{text}");
    assert!(text.contains("          goose-report.json"), "{text}");
}

#[test]
fn colour_only_when_asked_and_the_width_ignores_it() {
    let report = realistic_report();
    assert!(!summary(&report, false).contains('\u{1b}'));
    let coloured = summary(&report, true);
    assert!(coloured.contains("\u{1b}[1;31mFAIL\u{1b}[0m"), "{coloured}");
    assert!(coloured.contains("\u{1b}[1;32m✓\u{1b}[0m"), "{coloured}");
    assert_fits_one_screen(&coloured);
}

#[test]
fn a_passing_run_says_pass_and_an_interrupted_one_says_partial() {
    let passing = summary(&passing_report(), true);
    assert!(
        passing.starts_with("tracemesh run: \u{1b}[1;32mPASS"),
        "{passing}"
    );
    assert!(passing.contains("all 4 checks passed"), "{passing}");

    let mut interrupted = passing_report();
    interrupted.partial = true;
    let text = summary(&interrupted, false);
    assert!(
        text.starts_with("tracemesh run: PARTIAL — the run was interrupted"),
        "{text}"
    );
    assert!(!text.contains("PASS"), "{text}");
}

#[test]
fn a_run_with_no_checks_fails_and_says_nothing_was_proved() {
    let mut report = realistic_report();
    report.verdicts.clear();
    let text = summary(&report, false);
    assert!(
        text.contains("FAIL — no check ran, so nothing was proved"),
        "{text}"
    );
    assert!(text.contains("Sampling  no root sampling check"), "{text}");
}

#[test]
fn many_checks_still_fit_and_every_failure_is_kept() {
    let mut report = realistic_report();
    for i in 0..60 {
        let mut v = Verdict::new(format!("full_tree.expectation_{i}"));
        v.examine();
        if i % 20 == 7 {
            v.fail(format!("planted failure number {i}"));
        }
        report.verdicts.push(v.finish());
    }
    let text = summary(&report, false);
    assert_fits_one_screen(&text);
    for i in [7, 27, 47] {
        assert!(
            text.contains(&format!("planted failure number {i}")),
            "{text}"
        );
    }
    assert!(text.contains("✗ completeness"), "{text}");
    assert!(
        text.contains("passed not shown (see verdict.json)"),
        "{text}"
    );
}

#[test]
fn passed_checks_share_lines_when_one_each_would_not_fit() {
    let mut report = realistic_report();
    for i in 0..14 {
        let mut v = Verdict::new(format!("traceql outcome_{i}"));
        v.examine();
        report.verdicts.push(v.finish());
    }
    let text = summary(&report, false);
    assert_fits_one_screen(&text);
    for i in 0..14 {
        assert!(text.contains(&format!("✓ traceql outcome_{i}")), "{text}");
    }
    assert!(text.contains("✗ completeness"), "{text}");
    assert!(!text.contains("not shown"), "{text}");
}

#[test]
fn hostile_text_cannot_reach_the_terminal_as_control_characters() {
    let mut report = realistic_report();
    report.config.target = format!("http://x\u{1b}[2J/{}", "long-path/".repeat(20));
    report.verdicts[1].reasons[0] = "span \u{1b}]0;pwned\u{7} failed\nsecond line".into();
    let text = summary(&report, false);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(
        text.contains("span  ]0;pwned  failed second line"),
        "{text}"
    );
    assert_fits_one_screen(&text);
}

#[test]
fn a_failed_sampling_check_is_marked_on_its_line() {
    let mut report = realistic_report();
    let sampling = report
        .verdicts
        .iter_mut()
        .find(|v| v.check == "sampling.root.ratio")
        .unwrap();
    sampling.fail("the configured ratio 0.25 lies outside its 99.9% interval");
    let text = summary(&report, false);
    let line = text.lines().find(|l| l.starts_with("Sampling")).unwrap();
    assert!(line.starts_with("Sampling  ✗ ratio 0.25"), "{line}");
    assert!(
        text.contains("✗ sampling.root.ratio: the configured ratio 0.25"),
        "{text}"
    );
}

#[test]
fn the_most_widespread_repeated_call_has_one_line_that_fits() {
    let text = summary(&realistic_report(), false);
    assert_fits_one_screen(&text);
    let line = text
        .lines()
        .find(|l| l.starts_with("Repeated  "))
        .unwrap_or_else(|| panic!("no Repeated line:\n{text}"));
    // The parent's package is cut; its method and the figures stay whole.
    assert!(
        line.starts_with("Repeated  inventory SELECT stock ×8 under …"),
        "{line}"
    );
    assert!(
        line.ends_with("InventoryService/ListProducts in 111 traces (an N+1?)"),
        "{line}"
    );

    let mut report = realistic_report();
    report.repeated_calls.clear();
    let text = summary(&report, false);
    assert!(
        text.lines().any(|l| l.starts_with("Repeated  none")),
        "{text}"
    );
}
