//! The two latency charts, as inline SVG: self time and critical-path time
//! per service (horizontal bars), and each service's share of the critical
//! path (one stacked bar with a legend).

use std::fmt::Write;

use super::colors::ServiceColors;
use super::svg::{clamp, cut, num};
use crate::report::escape::markup;
use crate::report::model::{CriticalPathShare, ServiceAttribution};
use crate::report::outcome::ms;

const WIDTH: f64 = 760.0;
/// Left column for service names.
const LABEL_WIDTH: f64 = 120.0;
/// Room right of the longest bar for its value.
const VALUE_ROOM: f64 = 80.0;
const BAR_HEIGHT: f64 = 12.0;
const BAR_GAP: f64 = 3.0;
const GROUP_GAP: f64 = 14.0;
const LEGEND_HEIGHT: f64 = 28.0;

/// The three measures drawn per service, and how each bar looks.
struct Measure {
    label: &'static str,
    value: fn(&ServiceAttribution) -> f64,
    /// Solid, pale, or an outline: the service colour stays the same.
    style: BarStyle,
}

#[derive(Clone, Copy)]
enum BarStyle {
    Solid,
    Pale,
    Outline,
}

const MEASURES: [Measure; 3] = [
    Measure {
        label: "self time p50",
        value: |a| a.self_p50_ms,
        style: BarStyle::Solid,
    },
    Measure {
        label: "self time p99",
        value: |a| a.self_p99_ms,
        style: BarStyle::Pale,
    },
    Measure {
        label: "critical path p50",
        value: |a| a.critical_p50_ms,
        style: BarStyle::Outline,
    },
];

/// Horizontal bars, three per service, on one scale.
pub fn attribution_chart(rows: &[ServiceAttribution], colors: &ServiceColors) -> String {
    let max = rows
        .iter()
        .flat_map(|row| MEASURES.iter().map(move |m| (m.value)(row)))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let bar_room = WIDTH - LABEL_WIDTH - VALUE_ROOM;
    let group_height = MEASURES.len() as f64 * (BAR_HEIGHT + BAR_GAP);
    let height = LEGEND_HEIGHT + rows.len() as f64 * (group_height + GROUP_GAP);

    let mut svg = open_svg(
        height,
        "Self time and critical-path time per service, in milliseconds",
    );
    // Legend: how the three bars of a service differ (grey stands for "any service").
    let mut x = LABEL_WIDTH;
    for measure in &MEASURES {
        let _ = write!(
            svg,
            r#"<rect x="{}" y="6" width="14" height="10" {}/><text x="{}" y="15" class="small">{}</text>"#,
            num(x),
            bar_paint(measure.style, "#777777"),
            num(x + 19.0),
            measure.label
        );
        x += 150.0;
    }
    for (i, row) in rows.iter().enumerate() {
        let top = LEGEND_HEIGHT + i as f64 * (group_height + GROUP_GAP);
        let color = colors.of(&row.service);
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" class="label">{}<title>{}</title></text>"#,
            num(LABEL_WIDTH - 8.0),
            num(top + group_height / 2.0 + 4.0),
            markup(&cut(&row.service, 16)),
            markup(&row.service)
        );
        for (j, measure) in MEASURES.iter().enumerate() {
            let value = (measure.value)(row);
            let y = top + j as f64 * (BAR_HEIGHT + BAR_GAP);
            let width = clamp(value / max * bar_room, bar_room);
            let _ = write!(
                svg,
                r#"<rect x="{}" y="{}" width="{}" height="{}" {}><title>{}: {} {}</title></rect>"#,
                num(LABEL_WIDTH),
                num(y),
                num(width.max(1.0)),
                num(BAR_HEIGHT),
                bar_paint(measure.style, color),
                markup(&row.service),
                measure.label,
                ms(value)
            );
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" class="small">{}</text>"#,
                num(LABEL_WIDTH + width + 5.0),
                num(y + BAR_HEIGHT - 2.0),
                ms(value)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn bar_paint(style: BarStyle, color: &str) -> String {
    match style {
        BarStyle::Solid => format!(r#"fill="{color}""#),
        BarStyle::Pale => format!(r#"fill="{color}" fill-opacity="0.45""#),
        BarStyle::Outline => {
            format!(r#"fill="{color}" fill-opacity="0.12" stroke="{color}" stroke-width="2""#)
        }
    }
}

const STACK_HEIGHT: f64 = 34.0;
const LEGEND_ROW: f64 = 20.0;

/// One bar split by each service's share of the critical path, with a
/// legend giving share and mean time per trace.
pub fn critical_path_chart(shares: &[CriticalPathShare], colors: &ServiceColors) -> String {
    // The shares sum to 1 by contract; dividing by their sum anyway keeps
    // a slightly-off report from drawing past the edge.
    let total: f64 = shares.iter().map(|s| clamp(s.share, f64::MAX)).sum::<f64>();
    let total = if total > 0.0 { total } else { 1.0 };
    let height = STACK_HEIGHT + 16.0 + shares.len() as f64 * LEGEND_ROW;
    let mut svg = open_svg(height, "Each service's share of the critical path");
    let mut x = 0.0;
    for share in shares {
        let width = clamp(share.share, f64::MAX) / total * WIDTH;
        let color = colors.of(&share.service);
        let _ = write!(
            svg,
            r#"<rect x="{}" y="0" width="{}" height="{}" fill="{color}"><title>{}: {:.1}% of the critical path, {} per trace</title></rect>"#,
            num(x),
            num(width),
            num(STACK_HEIGHT),
            markup(&share.service),
            share.share * 100.0,
            ms(share.mean_ms)
        );
        // A label only where it fits inside its segment.
        let label = format!("{} {:.0}%", share.service, share.share * 100.0);
        if width > label.chars().count() as f64 * 7.5 + 8.0 {
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" class="inbar">{}</text>"#,
                num(x + 6.0),
                num(STACK_HEIGHT / 2.0 + 4.0),
                markup(&label)
            );
        }
        x += width;
    }
    for (i, share) in shares.iter().enumerate() {
        let y = STACK_HEIGHT + 14.0 + i as f64 * LEGEND_ROW;
        let _ = write!(
            svg,
            r#"<rect x="0" y="{}" width="12" height="12" fill="{}"/><text x="18" y="{}" class="label">{} — {:.1}% · {} per trace</text>"#,
            num(y),
            colors.of(&share.service),
            num(y + 10.0),
            markup(&share.service),
            share.share * 100.0,
            ms(share.mean_ms)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn open_svg(height: f64, label: &str) -> String {
    format!(
        r#"<svg class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">"#,
        w = num(WIDTH),
        h = num(height),
        label = markup(label)
    )
}
