//! Looking at traces without Grafana, end to end on a real mesh:
//! `tracemesh trace` and `tracemesh traces` against the collector in the
//! test, their mistakes exiting 2, and the collector's web page rendered by
//! headless Chromium (`apt-get install chromium`; `.ci/run` installs it):
//! no page error, one waterfall row per span in tree order, a screenshot of
//! the expected size.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{DECLINED_CARD, GOOD_CARD, Mesh, checkout_body, output_text as text, tracemesh};
use tracemesh_harness::view::TraceView;

const SERVICES: [&str; 5] = ["gateway", "user", "order", "inventory", "payment"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_traces_and_the_web_page_show_a_real_checkout() {
    let _turn = common::one_load_at_a_time().await;
    let mut mesh = Mesh::start().await;
    let client = reqwest::Client::new();
    let (status, body, good) = mesh
        .checkout(&client, checkout_body("u-1001", "KEY-001", 1, GOOD_CARD))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body, declined) = mesh
        .checkout(
            &client,
            checkout_body("u-1001", "KEY-001", 1, DECLINED_CARD),
        )
        .await;
    assert_eq!(status, 402, "{body}");
    let spans = mesh.wait_for_trace(&good, &SERVICES).await;
    mesh.wait_for_trace(&declined, &SERVICES).await;
    mesh.flush().await;
    let view = TraceView::of(&good, spans).expect("a rooted trace");
    let collector = mesh.collector.http_endpoint();

    terminal_waterfall(&collector, &good, &view).await;
    terminal_list(&collector, &good, &declined).await;
    cli_mistakes(&collector).await;
    web_page(&collector, &good, &view).await;
    assert!(mesh.stop().await);
}

async fn terminal_waterfall(collector: &str, trace_id: &str, view: &TraceView) {
    let plain = [("NO_COLOR", "1"), ("COLUMNS", "120")];
    let output = tracemesh(&["trace", trace_id, "--collector", collector], &plain).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(!stdout.contains('\x1b'), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    // Header, column heading, one row per span, legend.
    assert_eq!(lines.len(), view.waterfall.spans.len() + 3, "{stdout}");
    assert!(lines[0].contains(trace_id) && lines[0].contains("POST /api/checkout"));
    for (row, span) in lines[2..].iter().zip(&view.waterfall.spans) {
        assert!(row.contains(&span.service), "{row}");
        assert_eq!(row.starts_with('*'), span.critical, "{row}");
    }
    assert!(lines[2].contains("POST /api/checkout"), "{stdout}");

    let output = tracemesh(
        &[
            "trace",
            trace_id,
            "--collector",
            collector,
            "-a",
            "--resource",
        ],
        &[("NO_COLOR", "1"), ("COLUMNS", "60")],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("http.route = /api/checkout"), "{stdout}");
    assert!(
        stdout.contains("resource service.name = payment"),
        "{stdout}"
    );
    for line in stdout.lines() {
        assert!(line.chars().count() <= 60, "{line:?}");
    }
}

async fn terminal_list(collector: &str, good: &str, declined: &str) {
    let output = tracemesh(
        &["traces", "--collector", collector, "--limit", "5"],
        &[("NO_COLOR", "1"), ("COLUMNS", "140")],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(!stdout.contains('\x1b'), "{stdout}");
    let row = |id: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not listed: {stdout}"))
            .to_owned()
    };
    let good_row = row(good);
    assert!(good_row.contains("gateway") && good_row.contains("POST /api/checkout"));
    assert!(!good_row.ends_with('!'), "{good_row}");
    // The declined card is an error on payment's span and the order's.
    assert!(row(declined).ends_with('!'), "{stdout}");
    // Newest first.
    let position = |id: &str| stdout.find(id).unwrap();
    assert!(position(declined) < position(good), "{stdout}");
}

async fn cli_mistakes(collector: &str) {
    let output = tracemesh(&["trace", "not-hex", "--collector", collector], &[]).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not-hex"), "{stderr}");

    let absent = "0123456789abcdef0123456789abcdef";
    let output = tracemesh(&["trace", absent, "--collector", collector], &[]).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not found") && stderr.contains(collector),
        "{stderr}"
    );

    let output = tracemesh(&["trace", absent, "--tempo", "localhost:3200"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("--tempo"));

    let output = tracemesh(
        &["traces", "--jaeger", "http://127.0.0.1:16686", "{ }"],
        &[],
    )
    .await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Jaeger"), "{stderr}");

    // A query the store refuses: its message, exit 2.
    let output = tracemesh(&["traces", "--collector", collector, "{ status = "], &[]).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("query refused by --collector"), "{stderr}");
}

async fn web_page(collector: &str, trace_id: &str, view: &TraceView) {
    let dir = tempfile::tempdir().unwrap();
    let index = chromium_dom(&format!("{collector}/"), dir.path()).await;
    assert!(
        index.contains(&format!("href=\"/trace/{trace_id}\"")),
        "{index}"
    );

    let page = format!("{collector}/trace/{trace_id}");
    let dom = chromium_dom(&page, dir.path()).await;
    let rows = waterfall_rows(&dom);
    assert_eq!(rows.len(), view.waterfall.spans.len(), "{rows:#?}");
    for ((service, name), span) in rows.iter().zip(&view.waterfall.spans) {
        assert_eq!(service, &span.service);
        let shown = name.trim_end_matches('…');
        assert!(
            span.name.starts_with(shown),
            "{name:?} is not {:?}",
            span.name
        );
    }
    assert_eq!(
        dom.matches("<details class=\"span\"").count(),
        view.waterfall.spans.len()
    );
    assert!(dom.contains("http.route"), "attributes under the chart");

    // A wrong query shows the parser's message with its column.
    let answer = reqwest::get(format!("{collector}/?q=%7B%20status%20%3D%20"))
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(answer.text().await.unwrap().contains("column "));

    for (url, name) in [
        (page.as_str(), "trace"),
        (&format!("{collector}/"), "index"),
    ] {
        let (width, height) = screenshot(url, name, dir.path()).await;
        assert_eq!((width, height), (1200, 900), "{url}");
    }
}

/// `(service, name)` of each waterfall row, from the SVG's label texts.
fn waterfall_rows(dom: &str) -> Vec<(String, String)> {
    dom.split("class=\"label\">")
        .skip(1)
        .map(|label| {
            let service = between(label, ">", "</tspan>");
            let name = between(label, "</tspan> ", "<title>");
            (unescape(service), unescape(name))
        })
        .collect()
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).map_or(0, |i| i + open.len());
    let end = text[start..].find(close).map_or(text.len(), |i| start + i);
    &text[start..end]
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn chromium() -> tokio::process::Command {
    let browser = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| {
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("no Chromium installed (apt-get install chromium)");
    let mut command = tokio::process::Command::new(browser);
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
    ]);
    command.kill_on_drop(true);
    command
}

/// The DOM after the page ran, failing on a page error or a render that
/// never finished (the report's `data-page-error` / `data-rendered`).
async fn chromium_dom(url: &str, profile: &Path) -> String {
    let mut command = chromium();
    command
        .arg(format!("--user-data-dir={}", profile.join("dom").display()))
        .args(["--dump-dom", url]);
    let output = run_browser(command).await;
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    let body = between(&dom, "<body", ">");
    assert!(
        !body.contains("data-page-error"),
        "page error on {url}: {body}"
    );
    assert!(
        body.contains("data-rendered=\"ok\""),
        "{url} did not finish rendering: {dom}"
    );
    dom
}

/// Screenshots `url` at 1200x900 and returns the PNG's size from its
/// header. `TRACEMESH_KEEP_SCREENSHOTS=<dir>` keeps it there as `<name>.png`,
/// to look at.
async fn screenshot(url: &str, name: &str, dir: &Path) -> (u32, u32) {
    let path = dir.join(format!("{name}.png"));
    let mut command = chromium();
    command
        .arg(format!("--user-data-dir={}", dir.join(name).display()))
        .arg(format!("--screenshot={}", path.display()))
        .args(["--window-size=1200,900", url]);
    run_browser(command).await;
    let png = std::fs::read(&path).expect("a screenshot");
    if let Ok(keep) = std::env::var("TRACEMESH_KEEP_SCREENSHOTS") {
        std::fs::copy(&path, Path::new(&keep).join(format!("{name}.png"))).unwrap();
    }
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert!(
        png.len() > 10_000,
        "a blank image is smaller: {} bytes",
        png.len()
    );
    (be(16), be(20))
}

async fn run_browser(mut command: tokio::process::Command) -> Output {
    // A hung browser fails the test instead of hanging it.
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("Chromium finished within 3 minutes")
        .expect("Chromium runs");
    assert!(
        output.status.success(),
        "Chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
