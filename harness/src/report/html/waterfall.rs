//! A trace as a waterfall chart, in inline SVG: one row per span in
//! depth-first order, the span's name indented by its depth on the left,
//! a bar from its start for its duration on a shared time axis.
//!
//! Error spans are red, critical-path spans are outlined in black, spans
//! with an injected fault carry a yellow triangle; every bar has a tooltip
//! with its figures. Service colours match the other charts.
//!
//! Under the chart, [`log_table`]: the trace's log lines from every service,
//! in time order, each at its offset from the trace's start.

use std::fmt::Write;

use super::colors::{ERROR, ServiceColors};
use super::svg::{clamp, cut, num, tick_label, tick_step};
use crate::report::escape::markup;
use crate::report::model::{Waterfall, WaterfallLog, WaterfallSpan};
use crate::report::outcome::ms;

const WIDTH: f64 = 960.0;
/// Left column for the indented `service name` labels.
const LABEL_WIDTH: f64 = 330.0;
const TIMELINE_X: f64 = LABEL_WIDTH + 10.0;
/// The timeline leaves room on the right for the last bar's duration.
const TIMELINE_WIDTH: f64 = WIDTH - TIMELINE_X - 70.0;
const AXIS_HEIGHT: f64 = 24.0;
const ROW: f64 = 20.0;
const BAR: f64 = 12.0;
const INDENT: f64 = 12.0;
/// Average width of a label character at 12px, for cutting labels.
const CHAR_WIDTH: f64 = 6.6;

/// The waterfall of one trace.
pub fn waterfall_chart(waterfall: &Waterfall, colors: &ServiceColors) -> String {
    // Spans may end after the root (a late async child): scale to whichever is later.
    let end = waterfall
        .spans
        .iter()
        .map(|s| s.start_ms + s.duration_ms)
        .chain([waterfall.duration_ms])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let end = if end > 0.0 { end } else { 1.0 };
    let x_of = |ms: f64| TIMELINE_X + clamp(ms, end) / end * TIMELINE_WIDTH;
    let height = AXIS_HEIGHT + waterfall.spans.len() as f64 * ROW + 6.0;

    let mut svg = format!(
        r#"<svg class="waterfall" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{}">"#,
        markup(&format!("Waterfall of trace {}", waterfall.trace_id)),
        w = num(WIDTH),
        h = num(height),
    );
    // Alternate row shading, under everything else.
    for i in (0..waterfall.spans.len()).step_by(2) {
        let _ = write!(
            svg,
            r##"<rect x="0" y="{}" width="{}" height="{}" fill="#f4f5f7"/>"##,
            num(AXIS_HEIGHT + i as f64 * ROW),
            num(WIDTH),
            num(ROW)
        );
    }
    axis(&mut svg, end, height, &x_of);
    for (i, span) in waterfall.spans.iter().enumerate() {
        row(&mut svg, span, AXIS_HEIGHT + i as f64 * ROW, colors, &x_of);
    }
    svg.push_str("</svg>");
    svg
}

/// The trace's log lines as a table (offset, service, level, message and
/// fields), every text escaped: messages and fields come from requests.
pub fn log_table(waterfall: &Waterfall) -> String {
    if waterfall.logs.is_empty() {
        return "<p class=\"muted\">No log lines of this trace at the run's log level.</p>\n"
            .to_owned();
    }
    let mut html = String::from(
        "<table class=\"logs\"><thead><tr><th>offset</th><th>service</th><th>level</th>\
         <th>message</th></tr></thead><tbody>\n",
    );
    for line in &waterfall.logs {
        let _ = writeln!(html, "{}", log_row(line));
    }
    html.push_str("</tbody></table>\n");
    html
}

fn log_row(line: &WaterfallLog) -> String {
    let level = line.level.to_ascii_lowercase();
    let class = match level.as_str() {
        "error" | "warn" => level.as_str(),
        _ => "",
    };
    let fields = if line.fields.is_empty() {
        String::new()
    } else {
        format!(r#" <span class="muted">{}</span>"#, markup(&line.fields))
    };
    let sign = if line.offset_ms >= 0.0 { "+" } else { "" };
    format!(
        r#"<tr class="{class}"><td>{sign}{}</td><td>{}</td><td>{}</td><td>{}{fields}</td></tr>"#,
        markup(&ms(line.offset_ms)),
        markup(&line.service),
        markup(&line.level),
        markup(&line.message),
    )
}

/// Ticks and grid lines every 1, 2 or 5 × 10ⁿ ms.
fn axis(svg: &mut String, end: f64, height: f64, x_of: &dyn Fn(f64) -> f64) {
    let step = tick_step(end, 8);
    let mut tick = 0.0;
    while tick <= end + step * 1e-9 {
        let x = x_of(tick);
        let _ = write!(
            svg,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#d0d4da" stroke-width="1"/><text x="{x}" y="14" text-anchor="middle" class="small">{} ms</text>"##,
            num(AXIS_HEIGHT - 4.0),
            num(height),
            tick_label(tick),
            x = num(x),
        );
        tick += step;
    }
}

fn row(
    svg: &mut String,
    span: &WaterfallSpan,
    top: f64,
    colors: &ServiceColors,
    x_of: &dyn Fn(f64) -> f64,
) {
    let color = colors.of(&span.service);
    let indent = 6.0 + span.depth as f64 * INDENT;
    // Deep spans get less room; never less than a few characters.
    let room = ((LABEL_WIDTH - indent) / CHAR_WIDTH).max(6.0) as usize;
    let service = cut(&span.service, room);
    let name_room = room.saturating_sub(service.chars().count() + 1).max(3);
    let tooltip = tooltip(span);
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" class="label"><tspan fill="{color}" font-weight="bold">{}</tspan> {}<title>{}</title></text>"#,
        num(indent.min(LABEL_WIDTH - 40.0)),
        num(top + 14.0),
        markup(&service),
        markup(&cut(&span.name, name_room)),
        markup(&tooltip)
    );

    let x = x_of(span.start_ms);
    let width = (x_of(span.start_ms + span.duration_ms) - x).max(1.5);
    let fill = if span.error { ERROR } else { color };
    let outline = if span.critical {
        r##" stroke="#111111" stroke-width="2""##
    } else {
        ""
    };
    let class = match (span.error, span.fault) {
        (true, true) => "span error fault",
        (true, false) => "span error",
        (false, true) => "span fault",
        (false, false) => "span",
    };
    let _ = write!(
        svg,
        r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}" rx="2" fill="{fill}"{outline}><title>{}</title></rect>"#,
        num(x),
        num(top + (ROW - BAR) / 2.0),
        num(width),
        num(BAR),
        markup(&tooltip)
    );
    if span.fault {
        // A warning triangle just left of the bar.
        let (tx, ty) = (x - 3.0, top + 3.0);
        let _ = write!(
            svg,
            r##"<polygon class="fault-mark" points="{},{} {},{} {},{}" fill="#ffd400" stroke="#333333" stroke-width="1"><title>injected fault</title></polygon>"##,
            num(tx - 6.0),
            num(ty + 14.0),
            num(tx),
            num(ty),
            num(tx + 6.0),
            num(ty + 14.0)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" class="small">{}</text>"#,
        num(x + width + 4.0),
        num(top + 14.0),
        ms(span.duration_ms)
    );
}

/// Everything about a span, for hovering.
fn tooltip(span: &WaterfallSpan) -> String {
    let mut text = format!(
        "{} {} ({}): {} from {}, self {}",
        span.service,
        span.name,
        span.kind,
        ms(span.duration_ms),
        ms(span.start_ms),
        ms(span.self_ms)
    );
    for (flag, what) in [
        (span.error, "error"),
        (span.critical, "on the critical path"),
        (span.fault, "injected fault"),
    ] {
        if flag {
            text.push_str("; ");
            text.push_str(what);
        }
    }
    text
}
