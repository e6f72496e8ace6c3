//! The HTML report: self-contained, escaped, one SVG per chart and per
//! waterfall, and it renders in a real browser without a page error.

mod report_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use report_support::*;
use tracemesh_harness::report::RunReport;
use tracemesh_harness::report::html::to_html;

/// Every `<svg …>…</svg>` of the page.
fn svgs(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").expect("an unclosed <svg>") + start + 6;
        found.push(&rest[start..end]);
        rest = &rest[end..];
    }
    found
}

#[test]
fn html_makes_no_network_fetch() {
    let html = to_html(&realistic_report());
    for external in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "src='http",
        "//cdn",
    ] {
        assert!(!html.contains(external), "found {external:?}");
    }
    // The only links are to the run's own files, relative.
    assert!(html.contains(r#"<a href="goose-report.html">"#));
}

#[test]
fn a_file_with_a_scheme_is_shown_but_not_linked() {
    let mut report = realistic_report();
    report.files = vec!["http://example.com/x".into(), "javascript:alert(1)".into()];
    let html = to_html(&report);
    assert!(!html.contains("href=\"http"));
    assert!(!html.contains("href=\"javascript"));
    assert!(html.contains("<li>http://example.com/x</li>"));
}

#[test]
fn every_piece_of_text_is_escaped() {
    let html = to_html(&realistic_report());
    // The hostile reason shows as text, never as a script element.
    assert!(html.contains(
        "span &quot;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot; &amp; its parent are missing"
    ));
    assert!(!html.contains("<script>alert"));
    // Span names (in the waterfall labels and tooltips) and waterfall titles too.
    assert!(html.contains("render &lt;cart&gt; &amp; &quot;totals&quot;"));
    assert!(!html.contains("<cart>"));
    assert!(html.contains("checkout answered 503 &lt;payment &amp; provider&gt;"));
    // Exactly the page's two scripts, nothing injected.
    assert_eq!(html.matches("<script>").count(), 2);
}

#[test]
fn a_waterfall_shows_its_trace_log_lines_in_order_escaped() {
    let html = to_html(&realistic_report());
    let payment = html
        .find("charge failed &lt;provider down&gt; &amp; retried")
        .expect("the payment line, escaped");
    let gateway = html
        .find("<td>+119 ms</td><td>gateway</td>")
        .expect("the gateway line");
    assert!(payment < gateway, "time order");
    assert!(html.contains("<td>+102 ms</td><td>payment</td><td>WARN</td>"));
    assert!(html.contains("code=provider_unavailable"));
    assert!(!html.contains("<provider down>"));
    // The slowest trace logged nothing: said so, no empty table.
    assert!(html.contains("No log lines of this trace"));
}

#[test]
fn one_svg_per_chart_and_per_waterfall_each_well_formed() {
    let report = realistic_report();
    let html = to_html(&report);
    let svgs = svgs(&html);
    // attribution chart, critical-path chart, one per waterfall
    assert_eq!(svgs.len(), 2 + report.waterfalls.len());
    for svg in &svgs {
        roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    }
    // The waterfalls: a bar per span, faults marked, errors red, critical outlined.
    for (svg, waterfall) in svgs[2..].iter().zip(&report.waterfalls) {
        let doc = roxmltree::Document::parse(svg).unwrap();
        let bars: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("span")))
            .collect();
        assert_eq!(bars.len(), waterfall.spans.len());
        for (bar, span) in bars.iter().zip(&waterfall.spans) {
            assert_eq!(
                bar.attribute("fill") == Some("#d62728"),
                span.error,
                "{span:?}"
            );
            assert_eq!(bar.attribute("stroke").is_some(), span.critical, "{span:?}");
        }
        let faults = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("fault-mark"))
            .count();
        assert_eq!(faults, waterfall.spans.iter().filter(|s| s.fault).count());
        assert!(faults > 0);
        assert!(svg.contains(">0 ms</text>"), "a time axis from 0");
    }
}

#[test]
fn a_service_has_one_colour_in_every_chart() {
    let html = to_html(&realistic_report());
    let svgs = svgs(&html);
    let inventory = "#b07aa1";
    assert!(html.contains(&format!(
        r#"<span class="swatch" style="background:{inventory}"></span>inventory"#
    )));
    for svg in &svgs {
        assert!(svg.contains(&format!("fill=\"{inventory}\"")), "{svg}");
    }
}

#[test]
fn the_page_has_its_banner_sections_and_render_markers() {
    let html = to_html(&realistic_report());
    assert!(
        html.contains(r#"<header class="banner fail"><h1>FAIL</h1><p>1 of 5 checks failed</p>"#)
    );
    for section in [
        "<h2>Settings</h2>",
        "<h2>Checks</h2>",
        "<h2>Load per endpoint</h2>",
        "<h2>Where the latency went</h2>",
        "<h2>Critical-path breakdown</h2>",
        "<h2>Waterfalls</h2>",
        "<h2>What set the rate</h2>",
    ] {
        assert!(html.contains(section), "no {section}");
    }
    assert!(html.contains("Bottleneck: <strong>mesh</strong>"));
    assert!(
        html.contains("<tr><th>fixes (--fix-*)</th><td>inventory-lock, payment-pool</td></tr>")
    );
    assert!(html.contains(
        r#"<tr><td>inventory</td><td class="num">105</td><td class="num">62.0%</td></tr>"#
    ));
    assert!(html.contains("<details><summary>figures"));
    assert!(html.contains("<td>checkout</td>"));
    assert!(html.contains("201 × 392, 503 × 8"));
    // onerror first in <body>, the rendered marker last.
    let body = html.find("<body>").unwrap();
    assert!(
        html[body..]
            .trim_start_matches("<body>")
            .trim_start()
            .starts_with("<script>window.onerror")
    );
    assert!(
        html.trim_end().ends_with(
            "<script>document.body.dataset.rendered = \"ok\";</script>\n</body>\n</html>"
        )
    );

    let mut partial = passing_report();
    partial.partial = true;
    assert!(to_html(&partial).contains(r#"<header class="banner partial"><h1>PARTIAL</h1>"#));
    assert!(to_html(&passing_report()).contains(r#"<header class="banner pass"><h1>PASS</h1>"#));
}

#[test]
fn an_empty_run_renders_without_charts() {
    let mut report = realistic_report();
    report.attribution.clear();
    report.critical_path.clear();
    report.waterfalls.clear();
    report.load.p50_ms = f64::NAN;
    let html = to_html(&report);
    assert!(svgs(&html).is_empty());
    assert!(html.contains("No trace to show."));
    assert!(html.contains("No latency attribution in this run."));
    assert!(!html.contains("NaN"));
}

/// The sample a person can open: `target/report-sample.html`.
fn write_sample(report: &RunReport) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/report-sample.html");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, to_html(report)).unwrap();
    path
}

fn chromium_installed() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .any(|dir| dir.join("chromium").is_file() || dir.join("chromium-browser").is_file())
}

fn check_html(file: &Path) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check-html.sh");
    Command::new("bash").arg(script).arg(file).output().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracemesh-report-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn check_html_script_says_when_the_file_is_missing() {
    let out = check_html(Path::new("/nonexistent/report.html"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
}

#[test]
fn report_html_renders_in_chromium() {
    let sample = write_sample(&realistic_report());
    if !chromium_installed() {
        println!("skipped: chromium not installed (apt-get install chromium)");
        return;
    }
    let out = check_html(&sample);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The check itself must fail on planted defects, with the right reason.
    let thrower = scratch("throws.html");
    let page = to_html(&realistic_report()).replace(
        "<main>",
        "<main><script>throw new Error(\"planted defect\");</script>",
    );
    std::fs::write(&thrower, page).unwrap();
    let out = check_html(&thrower);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("page error") && stderr.contains("planted defect"),
        "{stderr}"
    );

    let unfinished = scratch("unfinished.html");
    let page = to_html(&realistic_report()).replace("document.body.dataset.rendered = \"ok\";", "");
    std::fs::write(&unfinished, page).unwrap();
    let out = check_html(&unfinished);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not finish rendering"), "{stderr}");

    std::fs::remove_dir_all(thrower.parent().unwrap()).unwrap();
}

#[test]
fn repeated_calls_have_their_section_and_say_the_count_is_the_symptom() {
    let mut report = realistic_report();
    report.repeated_calls[0].parent = HOSTILE_SPAN.into();
    let html = to_html(&report);
    let section = html
        .split("<h2>Repeated calls under one parent (N+1 queries)</h2>")
        .nth(1)
        .expect("the section")
        .split("<h2>")
        .next()
        .unwrap();
    assert!(section.contains("the symptom is the count"), "{section}");
    assert!(section.contains("<td>SELECT stock</td>"), "{section}");
    assert!(section.contains("×8"), "{section}");
    assert!(section.contains(">111<"), "{section}");
    assert!(!section.contains(HOSTILE_SPAN), "{section}");

    report.repeated_calls.clear();
    let html = to_html(&report);
    assert!(html.contains("No call was repeated 3 or more times"));
}
