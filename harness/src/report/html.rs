//! The HTML report: one self-contained file a workshop attendee opens in a
//! browser — the verdict, the load, where the latency went, and waterfalls
//! of the traces that matter.
//!
//! Self-contained means no network fetch of any kind: the CSS is inlined
//! (`html/page.css`), the charts are inline SVG drawn here
//! (`html/charts.rs`, `html/waterfall.rs`; `html/baseline.rs`,
//! `html/bottleneck.rs`, `html/repeated.rs` and `html/exemplar.rs` draw
//! their sections), fonts are the system's, and
//! the only script marks the page as rendered (and records any page error)
//! so a headless browser can tell a good render from a broken one
//! (`scripts/check-html.sh`). Every piece of text from the report goes
//! through [`markup`]: span names and reasons may contain `<`, `&`, quotes.

mod baseline;
mod bottleneck;
mod charts;
pub(crate) mod colors;
mod exemplar;
mod repeated;
mod svg;
pub(crate) mod waterfall;

use std::fmt::Write;

use super::RunReport;
use super::escape::markup;
use super::outcome::{Outcome, SamplingFigures, ms};
use crate::checks::Verdict;
use colors::ServiceColors;

pub(crate) const CSS: &str = include_str!("html/page.css");

/// Records any script error on `<body>` for the headless check; first in
/// `<body>` so it is installed before anything else could fail.
pub(crate) const ON_ERROR_SCRIPT: &str = r#"<script>window.onerror = function (message, source, line) { document.body.dataset.pageError = String(message) + " (line " + line + ")"; };</script>"#;
/// Last in `<body>`: reached only if the whole page parsed and ran.
pub(crate) const RENDERED_SCRIPT: &str =
    r#"<script>document.body.dataset.rendered = "ok";</script>"#;

/// The report as one HTML document.
pub fn to_html(report: &RunReport) -> String {
    let colors = ServiceColors::for_report(report);
    let outcome = Outcome::of(report);
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tracemesh run: {} — {}</title>
<style>
{CSS}</style>
</head>
<body>
{ON_ERROR_SCRIPT}
"#,
        outcome.word(),
        markup(&report.config.scenario)
    );
    banner(&mut html, report, outcome);
    html.push_str("<main>\n");
    settings(&mut html, report);
    at_a_glance(&mut html, report);
    verdicts(&mut html, &report.verdicts);
    load_table(&mut html, report);
    html.push_str(&bottleneck::section(report.bottleneck.as_ref()));
    attribution(&mut html, report, &colors);
    html.push_str(&baseline::section(report.baseline.as_ref()));
    critical_path(&mut html, report, &colors);
    html.push_str(&repeated::section(&report.repeated_calls));
    html.push_str(&exemplar::section(report.exemplar_jump.as_ref()));
    waterfalls(&mut html, report, &colors);
    files(&mut html, report);
    html.push_str("</main>\n");
    html.push_str(RENDERED_SCRIPT);
    html.push_str("\n</body>\n</html>\n");
    html
}

fn banner(html: &mut String, report: &RunReport, outcome: Outcome) {
    let class = outcome.word().to_ascii_lowercase();
    let _ = writeln!(
        html,
        r#"<header class="banner {class}"><h1>{}</h1><p>{}</p><p>tracemesh {} · started {} · took {:.1} s</p></header>"#,
        outcome.word(),
        markup(&Outcome::sentence(report)),
        markup(&report.tracemesh_version),
        markup(&report.started_at),
        report.duration_secs
    );
}

fn settings(html: &mut String, report: &RunReport) {
    let c = &report.config;
    html.push_str("<h2>Settings</h2>\n<table>\n");
    for (name, value) in [
        ("fault scenario", c.scenario.clone()),
        ("users", c.users.to_string()),
        ("run time", format!("{} s", c.run_time_secs)),
        ("sampler ratio", c.sampler_ratio.to_string()),
        ("fixes (--fix-*)", c.fixes_text()),
        ("target", c.target.clone()),
        ("trace source", c.trace_source.clone()),
        ("load seed", c.seed.to_string()),
    ] {
        let _ = writeln!(html, "<tr><th>{name}</th><td>{}</td></tr>", markup(&value));
    }
    if let Some(s) = &report.shard {
        let value = format!("{}/{} (base seed {})", s.index, s.count, s.base_seed);
        let _ = writeln!(html, "<tr><th>shard</th><td>{}</td></tr>", markup(&value));
    }
    html.push_str("</table>\n");
}

/// Load, traces and sampling side by side: the terminal summary's figures.
fn at_a_glance(html: &mut String, report: &RunReport) {
    let l = &report.load;
    let t = &report.traces;
    let sampling = match SamplingFigures::of(report) {
        Some(s) => format!(
            "{} {}",
            if s.passed { "✓" } else { "✗" },
            markup(&s.describe())
        ),
        None => "no root sampling check in this run".to_string(),
    };
    let _ = writeln!(
        html,
        r#"<h2>At a glance</h2>
<div class="cards">
<div class="card"><h3>Load</h3>{} requests, {} failures<br>{:.1} req/s · p50 {} · p99 {}</div>
<div class="card"><h3>Traces</h3>expected {} · found {} · complete {}<br>{} unsampled · {} spans received<br>ready p50 {} · p99 {}</div>
<div class="card"><h3>Sampling</h3>{sampling}</div>
</div>"#,
        l.requests,
        l.failures,
        l.requests_per_sec,
        ms(l.p50_ms),
        ms(l.p99_ms),
        t.expected,
        t.found,
        t.complete,
        t.unsampled,
        t.spans_received,
        ms(t.readiness_p50_ms),
        ms(t.readiness_p99_ms)
    );
}

fn verdicts(html: &mut String, verdicts: &[Verdict]) {
    html.push_str("<h2>Checks</h2>\n");
    if verdicts.is_empty() {
        html.push_str("<p>No check ran, so nothing was proved.</p>\n");
    }
    for verdict in verdicts {
        let (class, mark) = if verdict.passed {
            ("pass", "✓")
        } else {
            ("fail", "✗")
        };
        let _ = write!(
            html,
            r#"<div class="verdict {class}"><span class="mark">{mark}</span><strong>{}</strong> <span class="muted">· {} examined</span>"#,
            markup(&verdict.check),
            verdict.examined
        );
        if !verdict.reasons.is_empty() {
            html.push_str("<ul>");
            for reason in &verdict.reasons {
                let _ = write!(html, "<li>{}</li>", markup(reason));
            }
            html.push_str("</ul>");
        }
        if !verdict.figures.is_empty() {
            let figures = serde_json::to_string_pretty(&verdict.figures)
                .unwrap_or_else(|e| format!("figures could not be shown: {e}"));
            let _ = write!(
                html,
                "<details><summary>figures ({})</summary><pre>{}</pre></details>",
                verdict.figures.len(),
                markup(&figures)
            );
        }
        html.push_str("</div>\n");
    }
}

fn load_table(html: &mut String, report: &RunReport) {
    html.push_str("<h2>Load per endpoint</h2>\n");
    if report.load.by_endpoint.is_empty() {
        html.push_str("<p>No request was recorded.</p>\n");
        return;
    }
    html.push_str(
        r#"<table><tr><th>request</th><th class="num">requests</th><th class="num">failures</th><th class="num">p50</th><th class="num">p99</th><th>statuses</th></tr>"#,
    );
    for e in &report.load.by_endpoint {
        let statuses: Vec<String> = e
            .statuses
            .iter()
            .map(|(status, count)| format!("{status} × {count}"))
            .collect();
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            markup(&e.name),
            e.requests,
            e.failures,
            ms(e.p50_ms),
            ms(e.p99_ms),
            markup(&statuses.join(", "))
        );
    }
    html.push_str("</table>\n");
}

fn attribution(html: &mut String, report: &RunReport, colors: &ServiceColors) {
    html.push_str(
        "<h2>Where the latency went</h2>\n<p class=\"muted\">Self time: a span's duration minus the time its children covered. \
         Critical path: the chain of spans the request actually waited on.</p>\n",
    );
    if report.attribution.is_empty() {
        html.push_str("<p>No latency attribution in this run.</p>\n");
        return;
    }
    html.push_str(
        r#"<table><tr><th>service</th><th class="num">self p50</th><th class="num">self p90</th><th class="num">self p99</th><th class="num">critical p50</th><th class="num">critical p90</th><th class="num">critical p99</th></tr>"#,
    );
    for a in &report.attribution {
        let _ = write!(
            html,
            r#"<tr><td><span class="swatch" style="background:{}"></span>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            colors.of(&a.service),
            markup(&a.service),
            ms(a.self_p50_ms),
            ms(a.self_p90_ms),
            ms(a.self_p99_ms),
            ms(a.critical_p50_ms),
            ms(a.critical_p90_ms),
            ms(a.critical_p99_ms)
        );
    }
    html.push_str("</table>\n");
    html.push_str(&charts::attribution_chart(&report.attribution, colors));
    html.push('\n');
}

fn critical_path(html: &mut String, report: &RunReport, colors: &ServiceColors) {
    html.push_str("<h2>Critical-path breakdown</h2>\n");
    if report.critical_path.is_empty() {
        html.push_str("<p>No critical path in this run.</p>\n");
        return;
    }
    html.push_str(
        "<p class=\"muted\">Each service's share of the summed critical paths of all traces.</p>\n",
    );
    html.push_str(&charts::critical_path_chart(&report.critical_path, colors));
    html.push('\n');
}

fn waterfalls(html: &mut String, report: &RunReport, colors: &ServiceColors) {
    html.push_str("<h2>Waterfalls</h2>\n");
    if report.waterfalls.is_empty() {
        html.push_str("<p>No trace to show.</p>\n");
        return;
    }
    html.push_str(&format!(
        r#"<p class="legend"><span><span class="swatch" style="background:{}"></span>error</span><span><span class="swatch" style="border:2px solid #111"></span>on the critical path</span><span><span class="swatch" style="background:#ffd400;border:1px solid #333"></span>injected fault (▲)</span><span>hover a bar for its figures</span></p>"#,
        colors::ERROR
    ));
    html.push('\n');
    for w in &report.waterfalls {
        let _ = writeln!(
            html,
            r#"<h3 id="{}">{}</h3><p class="muted">trace <code>{}</code> · {} · {} spans</p>"#,
            exemplar::waterfall_anchor(&w.trace_id),
            markup(&w.title),
            markup(&w.trace_id),
            ms(w.duration_ms),
            w.spans.len()
        );
        html.push_str(&waterfall::waterfall_chart(w, colors));
        html.push('\n');
        html.push_str(&waterfall::log_table(w));
    }
}

/// The run's other files (goose's reports), linked relative to this file.
fn files(html: &mut String, report: &RunReport) {
    if report.files.is_empty() {
        return;
    }
    html.push_str("<h2>Other files of this run</h2>\n<ul>\n");
    for file in &report.files {
        // Relative paths only: anything with a scheme (`http:`, `javascript:`)
        // or a protocol-relative `//host` would leave the report.
        if file.contains(':') || file.starts_with("//") {
            let _ = writeln!(html, "<li>{}</li>", markup(file));
        } else {
            let _ = writeln!(
                html,
                r#"<li><a href="{}">{}</a></li>"#,
                markup(file),
                markup(file)
            );
        }
    }
    html.push_str("</ul>\n");
}
