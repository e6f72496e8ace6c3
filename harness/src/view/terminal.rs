//! A trace and a trace list for a terminal: `tracemesh trace` and
//! `tracemesh traces` print these.
//!
//! Every line fits the width given (names are cut with `…`, bars shrink,
//! narrow terminals lose the start column; nothing wraps), and without
//! colour there is not one escape byte. Text from spans goes through
//! [`escape::terminal`](crate::report::escape::terminal): a span name with
//! an escape byte must not recolour the user's terminal.
//!
//! A waterfall row:
//!
//! ```text
//! *   POST /api/checkout        gateway   ████████████████████   0.00 ms  45.0 ms   1.0 ms
//! *!^   tracemesh.order…        order        ██████████████       7.0 ms  37.0 ms   3.0 ms
//! ```
//!
//! Marks: `*` on the critical path, `!` an error, `^` an injected fault.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{TraceRow, TraceView, start_time as time_of};
use crate::model::{AttrValue, StatusCode};
use crate::report::escape::terminal;
use crate::report::model::WaterfallSpan;
use crate::report::outcome::ms;
use crate::trace::label::nanos_to_ms;

/// How the output may look: its width in columns, and whether it may use
/// ANSI colours (a terminal, and `NO_COLOR` unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub width: usize,
    pub color: bool,
}

/// What a waterfall shows under each span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Detail {
    /// The span's attributes (and its status message, when it has one).
    pub attributes: bool,
    /// The resource's attributes too.
    pub resource: bool,
}

/// Below this width the start column goes: the bar already shows when a
/// span started.
const WIDE: usize = 80;
/// Right-aligned figure columns (`12345 ms` is 8).
const FIGURE: usize = 8;
const MARKS: usize = 3;
const MIN_BAR: usize = 4;
const MIN_NAME: usize = 6;
const MAX_SERVICE: usize = 12;
const BAR: char = '█';
const LEGEND: &str = "* critical path   ! error   ^ injected fault";

/// ANSI SGR codes. Fixed colours for the mesh's services (the report's
/// palette, as near as eight colours get), the bright ones for others.
const KNOWN: [(&str, &str); 5] = [
    ("gateway", "34"),
    ("user", "32"),
    ("order", "33"),
    ("inventory", "35"),
    ("payment", "36"),
];
const SPARE: [&str; 5] = ["94", "92", "93", "95", "96"];
const RED: &str = "31";
const BOLD: &str = "1";
const DIM: &str = "2";

/// The trace as a waterfall: a header, one row per span in tree order
/// (with its attributes under it when asked), and the marks' legend.
pub fn waterfall(view: &TraceView, style: Style, detail: Detail) -> String {
    let w = &view.waterfall;
    let paint = Painter::new(style.color, w.spans.iter().map(|s| s.service.as_str()));
    let root = view.tree.span(view.rows[0]);
    let mut out = String::new();
    let header = format!(
        "trace {}  {} {}  {}  {} spans  {}",
        w.trace_id,
        terminal(&root.service_name),
        terminal(&root.name),
        ms(w.duration_ms),
        w.spans.len(),
        time_of(w.start_unix_nanos),
    );
    line(&mut out, &paint.on(BOLD, &fit(&header, style.width)));

    let layout = Layout::new(&w.spans, style.width);
    line(&mut out, &paint.on(DIM, &layout.heading()));
    let end = w
        .spans
        .iter()
        .map(|s| s.start_ms + s.duration_ms)
        .chain([w.duration_ms])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    for (row, span) in w.spans.iter().enumerate() {
        line(&mut out, &layout.row(span, end, &paint));
        if detail.attributes || detail.resource {
            for text in details(view, row, detail) {
                let indent = " ".repeat(MARKS + 1 + 2 * (span.depth + 1));
                line(
                    &mut out,
                    &paint.on(DIM, &fit(&format!("{indent}{text}"), style.width)),
                );
            }
        }
    }
    line(&mut out, &paint.on(DIM, &fit(LEGEND, style.width)));
    out
}

/// The list of traces: id, root service and name, start, duration, span
/// count, and `!` when any span is an error.
pub fn trace_table(rows: &[TraceRow], style: Style) -> String {
    let paint = Painter::new(style.color, rows.iter().map(|r| r.root_service.as_str()));
    let with_start = style.width >= 100;
    let service_w = rows
        .iter()
        .map(|r| r.root_service.chars().count())
        .chain(["service".len()])
        .max()
        .unwrap_or(0)
        .min(MAX_SERVICE);
    // id, service, [start,] duration, spans, error: the name takes the rest.
    let fixed = 32 + 1 + service_w + 1 + if with_start { 21 } else { 0 } + 11 + 6 + 2;
    let name_w = style.width.saturating_sub(fixed).max(MIN_NAME);
    let mut out = String::new();
    let heading = format!(
        "{:<32} {:<service_w$} {:<name_w$}{} {:>10} {:>5} {}",
        "trace id",
        "service",
        "root span",
        if with_start {
            format!(" {:<20}", "start")
        } else {
            String::new()
        },
        "duration",
        "spans",
        "!"
    );
    line(&mut out, &paint.on(DIM, &fit(&heading, style.width)));
    for row in rows {
        let service = pad(&cut(&terminal(&row.root_service), service_w), service_w);
        let name = pad(&cut(&terminal(&row.root_name), name_w), name_w);
        let start = if with_start {
            format!(" {:<20}", time_of(row.start_unix_nanos))
        } else {
            String::new()
        };
        let spans = row.span_count.map_or("?".to_owned(), |n| n.to_string());
        let error = match row.error {
            Some(true) => "!",
            Some(false) => " ",
            None => "?",
        };
        let plain_width =
            32 + 1 + service_w + 1 + name_w + start.chars().count() + 1 + 10 + 1 + 5 + 2;
        let text = format!(
            "{} {} {}{} {:>10} {:>5} {}",
            row.trace_id,
            paint.service(&row.root_service, &service),
            name,
            start,
            fmt_nanos_short(row.duration_nanos),
            spans,
            if row.error == Some(true) {
                paint.on(RED, error)
            } else {
                error.to_owned()
            },
        );
        if plain_width <= style.width {
            line(&mut out, &text);
        } else {
            // Too narrow even for the id and figures: cut the plain line.
            let plain = format!(
                "{} {} {}{} {:>10} {:>5} {error}",
                row.trace_id,
                service,
                name,
                start,
                fmt_nanos_short(row.duration_nanos),
                spans
            );
            line(&mut out, &fit(&plain, style.width));
        }
    }
    out
}

/// The columns of a waterfall at one width.
struct Layout {
    width: usize,
    name_w: usize,
    service_w: usize,
    bar_w: usize,
    with_start: bool,
}

impl Layout {
    fn new(spans: &[WaterfallSpan], width: usize) -> Layout {
        let with_start = width >= WIDE;
        let service_w = spans
            .iter()
            .map(|s| s.service.chars().count())
            .chain(["service".len()])
            .max()
            .unwrap_or(0)
            .min(MAX_SERVICE);
        let figures = if with_start { 3 } else { 2 } * (FIGURE + 1);
        // marks, name, service, bar, figures, with a space between each.
        let room = width.saturating_sub(MARKS + 1 + service_w + 1 + 1 + figures);
        let longest = spans
            .iter()
            .map(|s| 2 * s.depth + s.name.chars().count())
            .max()
            .unwrap_or(0);
        let bar_reserve = (room * 2 / 5).max(MIN_BAR);
        let name_w = longest.min(room.saturating_sub(bar_reserve)).max(MIN_NAME);
        let bar_w = room.saturating_sub(name_w).max(MIN_BAR);
        Layout {
            width,
            name_w,
            service_w,
            bar_w,
            with_start,
        }
    }

    fn heading(&self) -> String {
        let mut text = format!(
            "{:MARKS$} {:<name$} {:<service$} {:<bar$}",
            "",
            "span",
            "service",
            "timeline",
            name = self.name_w,
            service = self.service_w,
            bar = self.bar_w,
        );
        if self.with_start {
            let _ = write!(text, " {:>FIGURE$}", "start");
        }
        let _ = write!(text, " {:>FIGURE$} {:>FIGURE$}", "duration", "self");
        fit(&text, self.width)
    }

    fn row(&self, span: &WaterfallSpan, end_ms: f64, paint: &Painter) -> String {
        let marks = [
            (span.critical, '*', BOLD),
            (span.error, '!', RED),
            (span.fault, '^', "33;1"),
        ];
        let mut text: String = marks
            .iter()
            .map(|&(on, mark, code)| {
                if on {
                    paint.on(code, &mark.to_string())
                } else {
                    " ".to_owned()
                }
            })
            .collect();
        let name = pad(&indented_name(span, self.name_w), self.name_w);
        let name = if span.critical {
            paint.on(BOLD, &name)
        } else {
            name
        };
        let service = pad(
            &cut(&terminal(&span.service), self.service_w),
            self.service_w,
        );
        let bar = bar(span, end_ms, self.bar_w);
        let bar_color = if span.error {
            RED
        } else {
            paint.code(&span.service)
        };
        let _ = write!(
            text,
            " {name} {} {}",
            paint.service(&span.service, &service),
            paint.on(bar_color, &bar)
        );
        if self.with_start {
            let _ = write!(text, " {:>FIGURE$}", ms(span.start_ms));
        }
        let _ = write!(
            text,
            " {:>FIGURE$} {:>FIGURE$}",
            ms(span.duration_ms),
            ms(span.self_ms)
        );
        let plain_width = MARKS
            + 1
            + self.name_w
            + 1
            + self.service_w
            + 1
            + self.bar_w
            + if self.with_start { 3 } else { 2 } * (FIGURE + 1);
        if plain_width <= self.width || !paint.color {
            if paint.color {
                text
            } else {
                fit(&text, self.width)
            }
        } else {
            // Narrower than the minimum columns: lose the colours rather
            // than wrap (cutting a coloured line could cut an escape).
            Layout::row(self, span, end_ms, &Painter::plain())
        }
    }
}

/// The span's bar: `width` cells for the trace's whole duration, the span
/// at least one cell wide.
fn bar(span: &WaterfallSpan, end_ms: f64, width: usize) -> String {
    let end = if end_ms > 0.0 { end_ms } else { 1.0 };
    let cell = |ms: f64| (ms.clamp(0.0, end) / end * width as f64).round() as usize;
    let first = cell(span.start_ms).min(width.saturating_sub(1));
    let last = cell(span.start_ms + span.duration_ms).clamp(first + 1, width);
    (0..width)
        .map(|i| if (first..last).contains(&i) { BAR } else { ' ' })
        .collect()
}

/// The lines under a span with `--attributes`: status message, attributes,
/// resource attributes, `key = value`, escaped.
fn details(view: &TraceView, row: usize, detail: Detail) -> Vec<String> {
    let span = view.span(row);
    let mut lines = Vec::new();
    if span.status.code == StatusCode::Error {
        lines.push(format!(
            "status = error{}",
            if span.status.message.is_empty() {
                String::new()
            } else {
                format!(": {}", terminal(&span.status.message))
            }
        ));
    }
    if let Some(kind) = span.injected_fault() {
        lines.push(format!("injected fault = {}", terminal(kind)));
    }
    let pairs = |prefix: &str, map: &BTreeMap<String, AttrValue>| -> Vec<String> {
        map.iter()
            .map(|(k, v)| format!("{prefix}{} = {}", terminal(k), terminal(&v.to_string())))
            .collect()
    };
    if detail.attributes {
        lines.push(format!("span id = {}", span.span_id));
        lines.extend(pairs("", &span.attributes));
    }
    if detail.resource {
        lines.extend(pairs("resource ", &span.resource_attributes));
    }
    lines
}

/// Colours by service, or none at all.
struct Painter {
    color: bool,
    codes: BTreeMap<String, &'static str>,
}

impl Painter {
    fn new<'a>(color: bool, services: impl Iterator<Item = &'a str>) -> Painter {
        let mut codes: BTreeMap<String, &'static str> =
            services.map(|s| (s.to_owned(), "")).collect();
        // Name order makes the spare colours the same on every run.
        let mut spare = SPARE.iter().cycle();
        for (service, code) in codes.iter_mut() {
            *code = match KNOWN.iter().find(|(name, _)| name == service) {
                Some((_, known)) => known,
                None => spare.next().copied().unwrap_or("39"),
            };
        }
        Painter { color, codes }
    }

    fn plain() -> Painter {
        Painter {
            color: false,
            codes: BTreeMap::new(),
        }
    }

    fn code(&self, service: &str) -> &'static str {
        self.codes.get(service).copied().unwrap_or("39")
    }

    /// `text` in SGR `code`, reset after; `text` itself when colourless.
    fn on(&self, code: &str, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn service(&self, service: &str, text: &str) -> String {
        self.on(self.code(service), text)
    }
}

/// The span's name indented by its depth, within `width` characters. A
/// gRPC name keeps its end (`…/UserService/ValidateUser`): the package
/// prefix is what every row shares.
fn indented_name(span: &WaterfallSpan, width: usize) -> String {
    let indent = "  ".repeat(span.depth);
    let name = terminal(&span.name);
    let room = width.saturating_sub(indent.len());
    let fits = name.chars().count() <= room;
    match name.rfind('/').and_then(|slash| name[..slash].rfind('.')) {
        Some(dot) if !fits && room > 8 => {
            let tail: Vec<char> = name[dot + 1..].chars().collect();
            let keep = tail.len().min(room - 1);
            let tail: String = tail[tail.len() - keep..].iter().collect();
            format!("{indent}…{tail}")
        }
        _ => cut(&format!("{indent}{name}"), width),
    }
}

fn line(out: &mut String, text: &str) {
    out.push_str(text.trim_end());
    out.push('\n');
}

/// `text` cut to `width` characters with an ellipsis.
fn fit(text: &str, width: usize) -> String {
    cut(text.trim_end(), width)
}

fn cut(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

fn pad(text: &str, width: usize) -> String {
    format!("{text:<width$}")
}

/// A trace duration as people read it (`45.0 ms`).
fn fmt_nanos_short(nanos: u64) -> String {
    ms(nanos_to_ms(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::synthetic::{CheckoutDelays, checkout};

    /// The synthetic checkout with an error and an injected fault planted on
    /// payment's server span.
    fn checkout_view() -> TraceView {
        let mut trace = checkout(0xabc, CheckoutDelays::default());
        let charge = trace
            .spans()
            .iter()
            .position(|s| s.name == "POST /v1/charges")
            .unwrap();
        trace
            .error(charge, "402")
            .attr(charge, "fault.injected", true)
            .attr(charge, "fault.kind", "error");
        let id = trace.trace_id().to_owned();
        TraceView::of(&id, trace.into_spans()).unwrap()
    }

    fn render(width: usize, color: bool, detail: Detail) -> String {
        waterfall(&checkout_view(), Style { width, color }, detail)
    }

    fn span_rows(text: &str) -> Vec<&str> {
        // Header, column heading, spans..., legend.
        let lines: Vec<&str> = text.lines().collect();
        lines[2..lines.len() - 1].to_vec()
    }

    #[test]
    fn rows_follow_the_tree_with_indented_names() {
        let view = checkout_view();
        let text = waterfall(
            &view,
            Style {
                width: 120,
                color: false,
            },
            Detail::default(),
        );
        let rows = span_rows(&text);
        assert_eq!(rows.len(), view.waterfall.spans.len(), "{text}");
        let name_w = Layout::new(&view.waterfall.spans, 120).name_w;
        for (row, span) in rows.iter().zip(&view.waterfall.spans) {
            let indented = format!("{}{}", "  ".repeat(span.depth), span.name);
            let cell: String = row.chars().skip(MARKS + 1).take(name_w).collect();
            let cell = cell.trim_end();
            match cell
                .strip_suffix('…')
                .or_else(|| cell.split_once('…').map(|(a, _)| a))
            {
                // Cut: what is shown is the indented name's start or end.
                Some(kept) => assert!(indented.starts_with(kept), "{row}"),
                None => assert_eq!(cell, indented, "{row}"),
            }
            if let Some((_, tail)) = cell.split_once('…') {
                assert!(indented.ends_with(tail), "{row}");
            }
            assert!(row.contains(&span.service), "{row}");
        }
        assert!(rows[0].contains("POST /api/checkout"), "{text}");
        assert!(rows.last().unwrap().contains("INSERT orders"), "{text}");
    }

    /// Not a test of anything: `cargo test -p tracemesh-harness print_checkout
    /// -- --nocapture --ignored` shows the rendering at both widths.
    #[test]
    #[ignore]
    fn print_checkout() {
        for width in [120, 60] {
            println!("{}", render(width, true, Detail::default()));
            println!(
                "{}",
                render(
                    width,
                    false,
                    Detail {
                        attributes: true,
                        resource: false
                    }
                )
            );
        }
    }

    #[test]
    fn critical_path_error_and_fault_are_marked() {
        let view = checkout_view();
        let text = waterfall(
            &view,
            Style {
                width: 120,
                color: false,
            },
            Detail::default(),
        );
        for (row, span) in span_rows(&text).iter().zip(&view.waterfall.spans) {
            let marks: Vec<char> = row.chars().take(MARKS).collect();
            assert_eq!(marks[0] == '*', span.critical, "{row}");
            assert_eq!(marks[1] == '!', span.error, "{row}");
            assert_eq!(marks[2] == '^', span.fault, "{row}");
        }
        assert!(view.waterfall.spans.iter().any(|s| s.critical));
        let charge = span_rows(&text)
            .into_iter()
            .find(|r| r.contains("POST /v1/charges"))
            .unwrap();
        assert!(
            charge[..MARKS].contains('!') && charge[..MARKS].contains('^'),
            "{charge}"
        );
        assert!(text.contains(LEGEND));
    }

    #[test]
    fn fits_120_and_60_columns_without_wrapping() {
        for width in [120, 60] {
            let text = render(
                width,
                false,
                Detail {
                    attributes: true,
                    resource: true,
                },
            );
            for line in text.lines() {
                assert!(line.chars().count() <= width, "{width}: {line:?}");
            }
        }
        let narrow = render(60, false, Detail::default());
        // Long gRPC names are cut with an ellipsis, every span still has a bar.
        assert!(narrow.contains('…'), "{narrow}");
        for row in span_rows(&narrow) {
            assert!(row.contains(BAR), "{row}");
        }
        // The start column is gone, duration and self stay.
        assert!(
            !narrow.lines().nth(1).unwrap().contains("start"),
            "{narrow}"
        );
        assert!(
            render(120, false, Detail::default())
                .lines()
                .nth(1)
                .unwrap()
                .contains("start")
        );
    }

    #[test]
    fn bars_shrink_with_the_width() {
        let bar_cells = |text: &str| span_rows(text)[0].chars().filter(|&c| c == BAR).count();
        let wide = bar_cells(&render(120, false, Detail::default()));
        let narrow = bar_cells(&render(60, false, Detail::default()));
        assert!(narrow >= MIN_BAR && narrow < wide, "{narrow} vs {wide}");
    }

    #[test]
    fn no_escape_codes_without_colour_and_colours_with_it() {
        for width in [120, 60] {
            let plain = render(
                width,
                false,
                Detail {
                    attributes: true,
                    resource: true,
                },
            );
            assert!(!plain.contains('\x1b'), "{plain}");
        }
        let coloured = render(120, true, Detail::default());
        assert!(coloured.contains("\x1b[34m"), "gateway is blue: {coloured}");
        assert!(
            coloured.contains("\x1b[31m"),
            "the error is red: {coloured}"
        );
        // Without its escapes, the coloured output is the plain one.
        let stripped = strip_ansi(&coloured);
        assert_eq!(stripped, render(120, false, Detail::default()));
    }

    #[test]
    fn attributes_show_under_their_span_with_a() {
        let text = render(
            120,
            false,
            Detail {
                attributes: true,
                resource: false,
            },
        );
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains("POST /v1/charges"))
            .unwrap();
        let under: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|l| l.starts_with("    "))
            .copied()
            .collect();
        assert!(
            under.iter().any(|l| l.contains("http.route = /v1/charges")),
            "{text}"
        );
        assert!(under.iter().any(|l| l.contains("status = error")), "{text}");
        assert!(
            under.iter().any(|l| l.contains("injected fault = error")),
            "{text}"
        );
        assert!(!text.contains("resource service.name"), "{text}");
        let with_resource = render(
            120,
            false,
            Detail {
                attributes: true,
                resource: true,
            },
        );
        assert!(
            with_resource.contains("resource service.name = payment"),
            "{with_resource}"
        );
        assert!(!render(120, false, Detail::default()).contains("http.route"));
    }

    #[test]
    fn a_span_name_cannot_reach_the_terminal_with_an_escape() {
        let mut trace = checkout(0xdef, CheckoutDelays::default());
        trace.attr(0, "evil", "\x1b[2Jboom");
        let mut spans = trace.into_spans();
        spans[1].name = "\x1b[31mred".into();
        let view = TraceView::of(&format!("{:032x}", 0xdef), spans).unwrap();
        let text = waterfall(
            &view,
            Style {
                width: 120,
                color: false,
            },
            Detail {
                attributes: true,
                resource: false,
            },
        );
        assert!(!text.contains('\x1b'), "{text:?}");
    }

    #[test]
    fn the_trace_table_fits_and_marks_errors() {
        let row = |n: u8, error| TraceRow {
            trace_id: format!("{n:032x}"),
            root_service: "gateway".into(),
            root_name: "POST /api/checkout/with/a/rather/long/route/name".into(),
            start_unix_nanos: 1_700_000_000_000_000_000,
            duration_nanos: 45_000_000,
            span_count: Some(17),
            error: Some(error),
        };
        let rows = [row(1, false), row(2, true)];
        let wide = trace_table(
            &rows,
            Style {
                width: 120,
                color: false,
            },
        );
        assert!(wide.contains("2023-11-14T22:13:20Z"), "{wide}");
        let lines: Vec<&str> = wide.lines().collect();
        assert!(
            lines[1].starts_with(&rows[0].trace_id) && !lines[1].ends_with('!'),
            "{wide}"
        );
        assert!(
            lines[2].ends_with('!') && lines[2].contains("45.0 ms"),
            "{wide}"
        );
        for width in [120, 60] {
            let text = trace_table(
                &rows,
                Style {
                    width,
                    color: false,
                },
            );
            assert!(!text.contains('\x1b'));
            for line in text.lines() {
                assert!(line.chars().count() <= width, "{width}: {line:?}");
            }
        }
        let coloured = trace_table(
            &rows,
            Style {
                width: 120,
                color: true,
            },
        );
        assert_eq!(strip_ansi(&coloured), wide);
    }

    fn strip_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
