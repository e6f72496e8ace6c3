//! "Against the baseline": the `--baseline` comparison as a chart (baseline
//! vs now, p50, per judged row; failed rows first) and a table of every
//! row, failing rows marked, rows not judged with the reason.

use std::fmt::Write;

use super::svg::{clamp, cut, num};
use crate::checks::baseline::row_name;
use crate::report::escape::markup;
use crate::report::model::{BaselineComparison, ComparisonRow};
use crate::report::outcome::ms;

const WIDTH: f64 = 760.0;
const LABEL_WIDTH: f64 = 250.0;
const VALUE_ROOM: f64 = 120.0;
const BAR_HEIGHT: f64 = 10.0;
const GROUP_GAP: f64 = 10.0;
const LEGEND_HEIGHT: f64 = 26.0;
/// Rows drawn at most; the table has them all.
const CHART_ROWS: usize = 24;
const BASELINE_COLOR: &str = "#9aa5b1";
const NOW_COLOR: &str = "#3b6fb6";
const FAILED_COLOR: &str = "#c62828";

/// The section, or nothing when the run had no baseline.
pub fn section(comparison: Option<&BaselineComparison>) -> String {
    let Some(b) = comparison else {
        return String::new();
    };
    let mut html = String::from("<h2>Against the baseline</h2>\n");
    let judged = b.rows.iter().filter(|r| r.judged()).count();
    let failed = b.rows.iter().filter(|r| r.failed()).count();
    let _ = writeln!(
        html,
        r#"<p>Compared with <code>{}</code> (started {}): {judged} rows judged, {failed} failed, {} not judged. A figure fails when it grows by more than {} ms <em>and</em> more than {}% of the baseline's. Only traces and requests without an injected fault count; a row needs {} samples on each side.</p>"#,
        markup(&b.origin),
        markup(&b.baseline_started_at),
        b.rows.len() - judged,
        b.tolerance_ms,
        b.tolerance_pct,
        b.min_samples
    );
    if !b.notes.is_empty() {
        html.push_str("<ul class=\"muted\">");
        for note in &b.notes {
            let _ = write!(html, "<li>{}</li>", markup(note));
        }
        html.push_str("</ul>\n");
    }
    let drawn: Vec<&ComparisonRow> = b
        .rows
        .iter()
        .filter(|r| r.judged())
        .take(CHART_ROWS)
        .collect();
    if !drawn.is_empty() {
        html.push_str(&chart(&drawn));
        html.push('\n');
    }
    table(&mut html, &b.rows);
    html
}

fn table(html: &mut String, rows: &[ComparisonRow]) {
    html.push_str(
        r#"<table class="baseline"><tr><th></th><th>critical-path self time (service, operation) or latency (endpoint)</th><th class="num">samples base / now</th><th class="num">p50 base</th><th class="num">p50 now</th><th class="num">Δ p50</th><th class="num">p90 base</th><th class="num">p90 now</th><th class="num">Δ p90</th></tr>"#,
    );
    for row in rows {
        let (class, mark) = if row.failed() {
            ("fail", "✗")
        } else if row.judged() {
            ("pass", "✓")
        } else {
            ("unjudged", "–")
        };
        let cell = |v: Option<f64>| v.map_or("–".to_string(), ms);
        let delta = |v: Option<f64>| v.map_or("–".to_string(), signed_ms);
        let _ = write!(
            html,
            r#"<tr class="{class}"><td>{mark}</td><td>{}{}</td><td class="num">{} / {}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            markup(&row_name(row.measure, &row.subject)),
            row.not_judged
                .as_deref()
                .map_or(String::new(), |why| format!(
                    r#"<br><span class="muted">not judged: {}</span>"#,
                    markup(why)
                )),
            row.baseline_samples,
            row.samples,
            cell(row.baseline_p50_ms),
            cell(row.p50_ms),
            delta(row.delta_p50_ms()),
            cell(row.baseline_p90_ms),
            cell(row.p90_ms),
            delta(row.delta_p90_ms())
        );
    }
    html.push_str("</table>\n");
}

/// Two bars per row on one scale: the baseline's p50 (grey) above this
/// run's (blue, red when the row failed).
fn chart(rows: &[&ComparisonRow]) -> String {
    let max = rows
        .iter()
        .flat_map(|r| [r.baseline_p50_ms, r.p50_ms])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let bar_room = WIDTH - LABEL_WIDTH - VALUE_ROOM;
    let group = 2.0 * BAR_HEIGHT + GROUP_GAP;
    let height = LEGEND_HEIGHT + rows.len() as f64 * group;
    let mut svg = format!(
        r#"<svg class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="p50 of the baseline and of this run per service, operation and endpoint, in milliseconds">"#,
        w = num(WIDTH),
        h = num(height)
    );
    let _ = write!(
        svg,
        r#"<rect x="{x}" y="6" width="14" height="10" fill="{BASELINE_COLOR}"/><text x="{}" y="15" class="small">baseline p50</text><rect x="{}" y="6" width="14" height="10" fill="{NOW_COLOR}"/><text x="{}" y="15" class="small">this run p50</text><rect x="{}" y="6" width="14" height="10" fill="{FAILED_COLOR}"/><text x="{}" y="15" class="small">this run, beyond tolerance</text>"#,
        num(LABEL_WIDTH + 19.0),
        num(LABEL_WIDTH + 130.0),
        num(LABEL_WIDTH + 149.0),
        num(LABEL_WIDTH + 260.0),
        num(LABEL_WIDTH + 279.0),
        x = num(LABEL_WIDTH)
    );
    for (i, row) in rows.iter().enumerate() {
        let top = LEGEND_HEIGHT + i as f64 * group;
        let name = row_name(row.measure, &row.subject);
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" class="label">{}<title>{}</title></text>"#,
            num(LABEL_WIDTH - 8.0),
            num(top + BAR_HEIGHT + 4.0),
            markup(&cut_front(&name, 38)),
            markup(&name)
        );
        let now_color = if row.failed() {
            FAILED_COLOR
        } else {
            NOW_COLOR
        };
        for (j, (label, value, color)) in [
            ("baseline", row.baseline_p50_ms, BASELINE_COLOR),
            ("now", row.p50_ms, now_color),
        ]
        .into_iter()
        .enumerate()
        {
            let value = value.unwrap_or(0.0);
            let y = top + j as f64 * BAR_HEIGHT;
            let width = clamp(value / max * bar_room, bar_room);
            let _ = write!(
                svg,
                r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{color}"><title>{}: {label} p50 {}</title></rect><text x="{}" y="{}" class="small">{}</text>"#,
                num(LABEL_WIDTH),
                num(y),
                num(width.max(1.0)),
                num(BAR_HEIGHT - 1.0),
                markup(&name),
                ms(value),
                num(LABEL_WIDTH + width.max(1.0) + 5.0),
                num(y + BAR_HEIGHT - 1.5),
                ms(value)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Long span names keep their end (`…InventoryService/Reserve`), which
/// tells them apart; [`cut`] keeps the start.
fn cut_front(text: &str, max_chars: usize) -> String {
    let count = text.chars().count();
    if count <= max_chars {
        return cut(text, max_chars);
    }
    let tail: String = text.chars().skip(count + 1 - max_chars).collect();
    format!("…{tail}")
}

fn signed_ms(value: f64) -> String {
    if value > 0.0 {
        format!("+{}", ms(value))
    } else {
        ms(value)
    }
}
