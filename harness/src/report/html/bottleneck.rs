//! "What set the rate": the load generator's and each service's CPU over
//! the load window, and the bottleneck the run named from them
//! (`load::bottleneck`), so the load's figures are read as the mesh's or
//! as the load generator's.

use std::fmt::Write;

use crate::report::escape::markup;
use crate::report::model::BottleneckReport;

/// The section, or nothing in a report written before it existed.
pub fn section(bottleneck: Option<&BottleneckReport>) -> String {
    let Some(b) = bottleneck else {
        return String::new();
    };
    let mut html = String::from("<h2>What set the rate</h2>\n");
    let _ = writeln!(
        html,
        r#"<p>Bottleneck: <strong>{}</strong>: {}.</p>
<p class="muted">CPU over the {:.1} s load window: utime + stime from <code>/proc</code> over wall time, 100% = one core, {} cores = {}%. The load generator is the <code>tracemesh run</code> process (goose, and the embedded collector when the run started the mesh).</p>"#,
        markup(b.verdict.label()),
        markup(&b.reason),
        b.window_secs,
        b.cores,
        b.cores * 100,
    );
    html.push_str(
        r#"<table><tr><th>process</th><th class="num">pid</th><th class="num">CPU</th></tr>"#,
    );
    let row = |html: &mut String, name: &str, pid: String, percent: String| {
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td class="num">{pid}</td><td class="num">{percent}</td></tr>"#,
            markup(name)
        );
    };
    let g = &b.generator;
    row(
        &mut html,
        &format!("{} (load generator)", g.name),
        g.pid.to_string(),
        format!("{:.1}%", g.cpu_percent),
    );
    match &b.services {
        Some(services) => {
            for s in services {
                row(
                    &mut html,
                    &s.name,
                    s.pid.to_string(),
                    format!("{:.1}%", s.cpu_percent),
                );
            }
            let total: f64 = services.iter().map(|s| s.cpu_percent).sum();
            row(
                &mut html,
                "the mesh's services together",
                String::new(),
                format!("{total:.1}%"),
            );
        }
        None => row(
            &mut html,
            "the mesh's services: unknown (a mesh this run did not start)",
            String::new(),
            "?".to_owned(),
        ),
    }
    if let Some(machine) = b.machine_percent {
        row(
            &mut html,
            "every process of the machine",
            String::new(),
            format!("{machine:.1}%"),
        );
    }
    html.push_str("</table>\n");
    html
}
