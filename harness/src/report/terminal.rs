//! The terminal summary: what the traces proved, on one screen.
//!
//! At most [`MAX_LINES`] lines of at most [`MAX_COLUMNS`] columns, so it is
//! read at a glance after a run without scrolling: the headline, the load
//! and what set its rate, the traces, the sampling ratio, where the time
//! went, the most widespread call repeated under one parent, one line per
//! check, and where the full reports are. Everything longer (all reasons,
//! all figures, waterfalls) lives in the HTML report.

use std::path::PathBuf;

use super::RunReport;
use super::escape;
use super::outcome::{Outcome, SamplingFigures, first_reason, ms};
use crate::run::repeated::MIN_REPEATS;

/// The summary never grows past one screen.
pub const MAX_LINES: usize = 40;
/// Nor wider than a common terminal; longer lines end in `…`.
pub const MAX_COLUMNS: usize = 100;
/// Services shown in "where the time went".
const TOP_SERVICES: usize = 3;
/// Report paths listed at most; more would crowd out the checks.
const MAX_REPORT_LINES: usize = 8;
/// Rows of the baseline comparison shown (failed first, then the largest
/// growth); the HTML report has them all.
const BASELINE_ROWS: usize = 3;
/// Width of the row names in the baseline table.
const BASELINE_NAME_WIDTH: usize = 36;
/// A repeated call's parent is cut to no less than this (its method's
/// name, at least), even if the line is then cut too.
const PARENT_MIN_WIDTH: usize = 24;

/// The summary of `report`, listing the goose reports from `report.files`.
/// ANSI colours only when `color` (never into a file or a pipe).
pub fn summary(report: &RunReport, color: bool) -> String {
    summary_with_reports(report, color, &[])
}

/// The summary, listing `reports` (the files [`super::write_all`] wrote)
/// before the other files of the run.
pub fn summary_with_reports(report: &RunReport, color: bool, reports: &[PathBuf]) -> String {
    let paint = Paint { color };
    let mut head = vec![headline(report, paint), settings(report), endpoints(report)];
    head.extend(fixes(report));
    head.extend(shard(report));
    head.extend([String::new(), load(report)]);
    head.extend(bottleneck(report));
    head.push(traces(report));
    head.extend(sdk_export(report));
    head.push(sampling(report, paint));
    head.extend(exemplar(report));
    head.push(String::new());
    head.extend(time_spent(report));
    head.push(repeated(report));
    head.extend(baseline(report, paint));
    head.push(String::new());
    head.push("Checks".to_string());

    let mut tail = vec![String::new()];
    tail.extend(where_reports_are(report, reports));

    let room = MAX_LINES.saturating_sub(head.len() + tail.len());
    let mut lines = head;
    lines.extend(checks(report, paint, room));
    lines.extend(tail);

    let mut out = String::new();
    for line in lines {
        out.push_str(&fit(&line, MAX_COLUMNS));
        out.push('\n');
    }
    out
}

fn headline(report: &RunReport, paint: Paint) -> String {
    let outcome = Outcome::of(report);
    let word = match outcome {
        Outcome::Pass => paint.green(outcome.word()),
        Outcome::Fail => paint.red(outcome.word()),
        Outcome::Partial => paint.yellow(outcome.word()),
    };
    format!("tracemesh run: {word} — {}", Outcome::sentence(report))
}

fn settings(report: &RunReport) -> String {
    let c = &report.config;
    escape::terminal(&format!(
        "scenario {} · {} users · {}s of load · sampler ratio {} · took {:.1}s",
        c.scenario, c.users, c.run_time_secs, c.sampler_ratio, report.duration_secs
    ))
}

fn endpoints(report: &RunReport) -> String {
    let c = &report.config;
    escape::terminal(&format!(
        "target {} · traces from {} · seed {}",
        c.target, c.trace_source, c.seed
    ))
}

/// The planted bottlenecks the run's mesh was started without; no line
/// when it had them all (or the mesh was not the run's).
fn fixes(report: &RunReport) -> Option<String> {
    let c = &report.config;
    (!c.fixes.is_empty()).then(|| {
        escape::terminal(&format!(
            "fixes {} (planted bottlenecks removed)",
            c.fixes_text()
        ))
    })
}

/// A sharded run's place in its load (`run --shard I/N`).
fn shard(report: &RunReport) -> Option<String> {
    let s = report.shard.as_ref()?;
    Some(format!(
        "shard {}/{} of a load with base seed {}",
        s.index, s.count, s.base_seed
    ))
}

fn load(report: &RunReport) -> String {
    let l = &report.load;
    let failure_percent = if l.requests > 0 {
        format!(" ({:.2}%)", l.failures as f64 * 100.0 / l.requests as f64)
    } else {
        String::new()
    };
    format!(
        "Load      {} requests, {} failures{failure_percent}, {:.1} req/s, p50 {}, p99 {}",
        l.requests,
        l.failures,
        l.requests_per_sec,
        ms(l.p50_ms),
        ms(l.p99_ms)
    )
}

/// What set the load's rate, with the CPU figures the rule used (its
/// sentence is in the HTML report and verdict.json).
fn bottleneck(report: &RunReport) -> Option<String> {
    report.bottleneck.as_ref().map(|b| {
        let services = match &b.services {
            Some(services) => {
                let total: f64 = services.iter().map(|s| s.cpu_percent).sum();
                let busiest = services
                    .iter()
                    .max_by(|a, b| a.cpu_percent.total_cmp(&b.cpu_percent))
                    .map_or_else(String::new, |s| {
                        format!(" ({} {:.0}%)", s.name, s.cpu_percent)
                    });
                format!("services {total:.0}%{busiest}")
            }
            None => "services unknown".to_owned(),
        };
        let machine = b
            .machine_percent
            .map_or_else(String::new, |m| format!(" · machine {m:.0}%"));
        escape::terminal(&format!(
            "Bottleneck {} · generator {:.0}% · {services}{machine} of {}% CPU",
            b.verdict.label(),
            b.generator.cpu_percent,
            b.cores * 100
        ))
    })
}

fn traces(report: &RunReport) -> String {
    let t = &report.traces;
    format!(
        "Traces    expected {}, found {}, complete {} · {} unsampled · ready p50 {}, p99 {}",
        t.expected,
        t.found,
        t.complete,
        t.unsampled,
        ms(t.readiness_p50_ms),
        ms(t.readiness_p99_ms)
    )
}

/// The services' own span counts, when the run could ask them.
fn sdk_export(report: &RunReport) -> Option<String> {
    report.traces.sdk_export.map(|e| {
        format!(
            "Export    {} spans ended in the services · {} exported · {} failed · {} dropped (queue full)",
            e.spans_ended, e.spans_exported, e.spans_failed, e.spans_dropped
        )
    })
}

fn sampling(report: &RunReport, paint: Paint) -> String {
    match SamplingFigures::of(report) {
        Some(figures) => format!(
            "Sampling  {} {}",
            paint.mark(figures.passed),
            escape::terminal(&figures.describe())
        ),
        None => "Sampling  no root sampling check in this run".to_string(),
    }
}

/// From a slow bucket to its trace: the exemplar a user would click.
fn exemplar(report: &RunReport) -> Option<String> {
    report.exemplar_jump.as_ref().map(|j| {
        escape::terminal(&format!(
            "Exemplar  slowest {} (bucket le={} s): {} {} -> trace {}",
            ms(j.value_ms),
            j.bucket_s.1,
            j.service,
            j.span_name,
            j.trace_id
        ))
    })
}

/// The services the most critical-path time went to, with their self time.
fn time_spent(report: &RunReport) -> Vec<String> {
    if report.attribution.is_empty() {
        return vec!["Services  no latency attribution in this run".to_string()];
    }
    let mut lines = vec![format!(
        "Services  top {TOP_SERVICES} by critical-path p50 {:>19} {:>10} {:>10}",
        "critical p50", "self p50", "self p99"
    )];
    // `attribution` is sorted by critical-path p50 already: render, don't re-sort.
    for service in report.attribution.iter().take(TOP_SERVICES) {
        lines.push(format!(
            "          {:<33} {:>13} {:>10} {:>10}",
            escape::terminal(&service.service),
            ms(service.critical_p50_ms),
            ms(service.self_p50_ms),
            ms(service.self_p99_ms)
        ));
    }
    lines
}

/// The most widespread repeated call under one parent (an N+1's shape),
/// which time alone does not rank; the HTML report lists them all. A long
/// parent name keeps its end (the method), so the line fits.
fn repeated(report: &RunReport) -> String {
    let Some(call) = report.repeated_calls.first() else {
        return format!("Repeated  none (no call {MIN_REPEATS}+ times under one parent)");
    };
    let line = |parent: &str| {
        escape::terminal(&format!(
            "Repeated  {} {} ×{} under {parent} in {} traces (an N+1?)",
            call.service, call.name, call.count_p50, call.traces
        ))
    };
    let over = visible_width(&line(&call.parent)).saturating_sub(MAX_COLUMNS);
    let room = (call.parent.chars().count().saturating_sub(over)).max(PARENT_MIN_WIDTH);
    line(&short_name(&call.parent, room))
}

/// The comparison with `--baseline`, when there was one: a count line,
/// the first rows (p50 and p90, baseline → now and the growth, in ms),
/// and the notes. Nothing without a baseline.
fn baseline(report: &RunReport, paint: Paint) -> Vec<String> {
    let Some(b) = &report.baseline else {
        return Vec::new();
    };
    let judged = b.rows.iter().filter(|r| r.judged()).count();
    let failed = b.rows.iter().filter(|r| r.failed()).count();
    let mut lines = vec![
        String::new(),
        escape::terminal(&format!(
            "Baseline  {} · {judged} judged, {failed} failed, {} not judged · tolerance +{} ms or {}%",
            b.origin,
            b.rows.len() - judged,
            b.tolerance_ms,
            b.tolerance_pct
        )),
    ];
    let shown: Vec<_> = b
        .rows
        .iter()
        .filter(|r| r.judged())
        .take(BASELINE_ROWS)
        .collect();
    if !shown.is_empty() {
        lines.push(format!(
            "          {:<w$} {:>22}  {:>22}",
            "critical-path self time, latency",
            "p50 ms base → now   Δ",
            "p90 ms base → now   Δ",
            w = BASELINE_NAME_WIDTH
        ));
    }
    for row in shown {
        let cell = |base: Option<f64>, now: Option<f64>| match (base, now) {
            (Some(base), Some(now)) => format!("{base:>6.1} → {now:>6.1} {:>+6.1}", now - base),
            _ => "–".to_string(),
        };
        lines.push(format!(
            "        {} {:<w$} {:>22}  {:>22}",
            paint.mark(!row.failed()),
            escape::terminal(&short_name(
                &crate::checks::baseline::row_name(row.measure, &row.subject),
                BASELINE_NAME_WIDTH
            )),
            cell(row.baseline_p50_ms, row.p50_ms),
            cell(row.baseline_p90_ms, row.p90_ms),
            w = BASELINE_NAME_WIDTH
        ));
    }
    if let Some(note) = b.notes.first() {
        lines.push(escape::terminal(&format!("          note: {note}")));
    }
    lines
}

/// A row name cut to `width` characters, keeping its end: the service,
/// then `…` and the end of the span name (`inventory …Service/Reserve`).
fn short_name(name: &str, width: usize) -> String {
    let count = name.chars().count();
    if count <= width {
        return name.to_string();
    }
    let (head, tail) = match name.split_once(' ') {
        Some((service, op)) if service.chars().count() + 2 < width => (format!("{service} "), op),
        _ => (String::new(), name),
    };
    let keep = width - head.chars().count() - 1;
    let tail: String = tail.chars().skip(tail.chars().count() - keep).collect();
    format!("{head}…{tail}")
}

/// One line per verdict; if they do not all fit in `room` lines, the
/// failed ones are kept (they are what the reader must act on) and the
/// rest are counted on a last line.
fn checks(report: &RunReport, paint: Paint, room: usize) -> Vec<String> {
    let line = |v: &crate::checks::Verdict| {
        if v.passed {
            format!("  {} {}", paint.mark(true), escape::terminal(&v.check))
        } else {
            format!(
                "  {} {}: {}",
                paint.mark(false),
                escape::terminal(&v.check),
                escape::terminal(first_reason(v))
            )
        }
    };
    if report.verdicts.is_empty() {
        return vec!["  (none)".to_string()];
    }
    if report.verdicts.len() <= room {
        return report.verdicts.iter().map(line).collect();
    }
    // Too many for a line each: every failure keeps its line (with its
    // reason), the passed checks share lines.
    let failed: Vec<_> = report.verdicts.iter().filter(|v| !v.passed).collect();
    let mut lines: Vec<String> = failed.iter().map(|v| line(v)).collect();
    let mut row = String::from(" ");
    for v in report.verdicts.iter().filter(|v| v.passed) {
        let item = format!(" {} {}", paint.mark(true), escape::terminal(&v.check));
        if row.len() > 1 && visible_width(&row) + visible_width(&item) > MAX_COLUMNS {
            lines.push(std::mem::replace(&mut row, String::from(" ")));
        }
        row.push_str(&item);
    }
    if row.len() > 1 {
        lines.push(row);
    }
    if lines.len() <= room {
        return lines;
    }
    let shown_room = room.saturating_sub(1);
    let mut lines: Vec<String> = failed.iter().take(shown_room).map(|v| line(v)).collect();
    let hidden_failed = failed.len() - lines.len();
    let passed = report.verdicts.len() - failed.len();
    let more_failed = if hidden_failed > 0 {
        format!(" and {hidden_failed} more failed")
    } else {
        String::new()
    };
    lines.push(format!(
        "  … {passed} passed{more_failed} not shown (see verdict.json)"
    ));
    lines
}

fn where_reports_are(report: &RunReport, reports: &[PathBuf]) -> Vec<String> {
    let all: Vec<String> = reports
        .iter()
        .map(|p| p.display().to_string())
        .chain(report.files.iter().cloned())
        .map(|p| escape::terminal(&p))
        .collect();
    if all.is_empty() {
        return vec!["Reports   (none written)".to_string()];
    }
    let mut lines: Vec<String> = all
        .iter()
        .take(MAX_REPORT_LINES)
        .enumerate()
        .map(|(i, path)| {
            let label = if i == 0 { "Reports" } else { "" };
            format!("{label:<10}{path}")
        })
        .collect();
    if all.len() > MAX_REPORT_LINES {
        lines.push(format!(
            "          … and {} more",
            all.len() - MAX_REPORT_LINES
        ));
    }
    lines
}

/// Cuts `line` to `width` visible columns, ending it in `…` when cut.
/// ANSI colour sequences take no column, and a cut inside coloured text
/// resets the colour so it does not bleed into the next line.
pub fn fit(line: &str, width: usize) -> String {
    if visible_width(line) <= width {
        return line.to_string();
    }
    let mut out = String::new();
    let mut columns = 0;
    let mut chars = line.chars().peekable();
    let mut coloured = false;
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Copy the whole `ESC [ ... m` sequence; it has no width.
            out.push(c);
            for d in chars.by_ref() {
                out.push(d);
                if d == 'm' {
                    break;
                }
            }
            coloured = true;
            continue;
        }
        if columns + 1 == width {
            break;
        }
        out.push(c);
        columns += 1;
    }
    out.push('…');
    if coloured {
        out.push_str(RESET);
    }
    out
}

/// Columns `line` takes on a terminal: characters outside ANSI sequences.
/// (Wide CJK characters count as one; the mesh's names are ASCII.)
pub fn visible_width(line: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in line.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

const RESET: &str = "\u{1b}[0m";

/// Colours when asked for, plain text otherwise.
#[derive(Clone, Copy)]
struct Paint {
    color: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}{RESET}")
        } else {
            text.to_string()
        }
    }
    fn green(self, text: &str) -> String {
        self.wrap("1;32", text)
    }
    fn red(self, text: &str) -> String {
        self.wrap("1;31", text)
    }
    fn yellow(self, text: &str) -> String {
        self.wrap("1;33", text)
    }
    fn mark(self, passed: bool) -> String {
        if passed {
            self.green("✓")
        } else {
            self.red("✗")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_long_lines_and_counts_no_width_for_colour() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abcd", 4), "abcd");
        let red = "\u{1b}[31mabcdef\u{1b}[0m";
        assert_eq!(visible_width(red), 6);
        let cut = fit(red, 4);
        assert_eq!(visible_width(&cut), 4);
        assert!(cut.ends_with(RESET), "{cut:?}");
    }

    #[test]
    fn long_row_names_keep_the_service_and_the_end() {
        let name = "inventory tracemesh.inventory.v1.InventoryService/Reserve";
        let short = short_name(name, 36);
        assert_eq!(short.chars().count(), 36);
        assert!(short.starts_with("inventory …") && short.ends_with("InventoryService/Reserve"));
        assert_eq!(short_name("endpoint checkout", 36), "endpoint checkout");
    }
}
