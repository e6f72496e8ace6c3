//! "Repeated calls under one parent": the N+1 shape, which the latency
//! sections do not rank because each call is cheap (`run::repeated`).

use std::fmt::Write;

use crate::report::escape::markup;
use crate::report::model::RepeatedCall;
use crate::report::outcome::ms;
use crate::run::repeated::MIN_REPEATS;

/// The section: what an N+1 is, then one row per repeated call.
pub fn section(calls: &[RepeatedCall]) -> String {
    let mut html = String::from("<h2>Repeated calls under one parent (N+1 queries)</h2>\n");
    let _ = writeln!(
        html,
        r#"<p class="muted">An N+1: one call fetches a list, then one more call per item fetches what a single query (a join, a batch) could have returned with it. Each call is short, so the time sections above barely show it; the symptom is the count: the same CLIENT call {MIN_REPEATS} or more times under one parent span, and growing with the list.</p>"#
    );
    if calls.is_empty() {
        let _ = writeln!(
            html,
            "<p>No call was repeated {MIN_REPEATS} or more times under one parent.</p>"
        );
        return html;
    }
    html.push_str(
        r#"<table><tr><th>service</th><th>call</th><th>under parent</th><th class="num">repeats (median)</th><th class="num">traces</th><th class="num">time in them per trace (median)</th></tr>"#,
    );
    for c in calls {
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="num">×{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            markup(&c.service),
            markup(&c.name),
            markup(&c.parent),
            c.count_p50,
            c.traces,
            ms(c.time_p50_ms)
        );
    }
    html.push_str("</table>\n");
    html
}
