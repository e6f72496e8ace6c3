//! "From a slow bucket to its trace": the highest-valued exemplar the run
//! followed to its span, shown the way a dashboard user meets it (a series,
//! a bucket, a value) and linked to the trace's waterfall below, the jump
//! Grafana makes when an exemplar dot is clicked.

use std::fmt::Write;

use crate::report::escape::markup;
use crate::report::model::ExemplarJump;
use crate::report::outcome::ms;

/// The anchor of a trace's waterfall, which this section links to.
pub fn waterfall_anchor(trace_id: &str) -> String {
    format!(
        "trace-{}",
        trace_id
            .chars()
            .filter(char::is_ascii_hexdigit)
            .collect::<String>()
    )
}

/// The section, or nothing when the run read no exemplar it could follow.
pub fn section(jump: Option<&ExemplarJump>) -> String {
    let Some(j) = jump else {
        return String::new();
    };
    let mut html = String::from("<h2>From a slow bucket to its trace</h2>\n");
    let _ = writeln!(
        html,
        r##"<p>The highest observation that carried an exemplar ({}): <strong>{}</strong> in the bucket ({} s, {} s] of <code>{}</code>, recorded by <strong>{}</strong>.</p>
<p>Its exemplar names trace <a href="#{}"><code>{}</code></a>, span <code>{}</code> <em>{}</em>: the waterfall below shows where that time went.</p>"##,
        markup(&j.origin),
        ms(j.value_ms),
        j.bucket_s.0,
        j.bucket_s.1,
        markup(&j.series),
        markup(&j.service),
        waterfall_anchor(&j.trace_id),
        markup(&j.trace_id),
        markup(&j.span_id),
        markup(&j.span_name),
    );
    html
}
