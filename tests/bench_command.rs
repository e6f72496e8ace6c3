//! `tracemesh bench` end to end, at its smallest size: every part runs
//! against real processes and the report is a well-formed table. A
//! benchmark's figures depend on the machine, so nothing here asserts a
//! timing or a rate: only that each figure is there, in its place.

use std::process::{Command, Output};

use tempfile::TempDir;

const START: &str = "<!-- tracemesh bench: results start -->";
const END: &str = "<!-- tracemesh bench: results end -->";

fn tracemesh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracemesh"))
        .arg("bench")
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("tracemesh runs")
}

/// Whether Debian's `wrk` can be started (the loadgen part needs it).
fn wrk_installed() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// The rows of the markdown table in `text`, as cells, header excluded.
fn table_rows(text: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
    assert!(lines.len() >= 2, "no table in:\n{text}");
    assert_eq!(lines[0], "| part | measurement | result | target | met |");
    assert_eq!(lines[1], "|---|---|---|---|---|");
    lines[2..]
        .iter()
        .map(|line| {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect();
            assert_eq!(cells.len(), 5, "row with other than 5 cells: {line}");
            cells
        })
        .collect()
}

#[test]
fn a_minimal_bench_measures_every_part_and_rewrites_the_results_table() {
    let dir = TempDir::new().unwrap();
    let output = dir.path().join("bench.md");
    let benchmarks = dir.path().join("BENCHMARKS.md");
    std::fs::write(
        &benchmarks,
        format!("# Benchmarks\n\nprose stays\n\n{START}\nold table\n{END}\n\nafter stays\n"),
    )
    .unwrap();

    let out = tracemesh(&[
        "--rounds",
        "1",
        "--round-secs",
        "1",
        "--clients",
        "2",
        "--output",
        output.to_str().unwrap(),
        "--update-benchmarks",
        benchmarks.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );

    // Every part has its figures, and every figure with a target says
    // whether it was met.
    let rows = table_rows(&stdout);
    for part in ["overhead", "efficiency", "ingest", "readiness", "loadgen"] {
        assert!(
            rows.iter().any(|r| r[0] == part),
            "no {part} row:\n{stdout}"
        );
    }
    for row in &rows {
        assert!(!row[2].is_empty(), "empty result: {row:?}");
        if !row[3].is_empty() {
            assert!(row[4] == "yes" || row[4] == "**no**", "{row:?}");
        }
    }
    let measured = |needle: &str| {
        rows.iter()
            .any(|r| r[1].contains(needle) && r[2].chars().any(|c| c.is_ascii_digit()))
    };
    assert!(measured("throughput lost to tracing"), "{stdout}");
    for shape in ["open loop at", "closed loop,"] {
        let ratio = rows
            .iter()
            .find(|r| r[1].starts_with("services' CPU per checkout") && r[1].contains(shape));
        assert!(
            ratio.is_some_and(|r| !r[3].is_empty()),
            "{shape}:\n{stdout}"
        );
    }
    assert!(measured("load generator"), "{stdout}");
    assert!(measured("collector process CPU"), "{stdout}");
    assert!(measured("hops per checkout"), "{stdout}");
    assert!(measured("OTEL_BSP_SCHEDULE_DELAY=5000"), "{stdout}");
    assert!(measured("OTEL_BSP_SCHEDULE_DELAY=500 "), "{stdout}");
    assert!(
        measured("spans stored per collector CPU-second"),
        "{stdout}"
    );
    assert!(measured("spans lost at saturation"), "{stdout}");
    assert!(measured("collector RSS"), "{stdout}");
    // The load generator's ceiling needs wrk; without it the row says how
    // to install it and the other parts still ran.
    if wrk_installed() {
        assert!(measured("goose / wrk requests/s"), "{stdout}");
        assert!(measured("goose as `tracemesh run` drives it"), "{stdout}");
        assert!(stdout.contains("loadgen: goose "), "{stdout}");
    } else {
        assert!(
            rows.iter()
                .any(|r| r[0] == "loadgen" && r[2].contains("apt-get install -y wrk")),
            "{stdout}"
        );
    }
    // A checkout crosses five services, each handling one request.
    let hops = rows
        .iter()
        .find(|r| r[1].starts_with("hops per checkout"))
        .unwrap();
    assert!(hops[2].starts_with("5 "), "{hops:?}");
    // The headline ratios come first.
    for ratio in [
        "overhead:",
        "efficiency:",
        "ingest OTLP/gRPC:",
        "ingest OTLP/HTTP protobuf:",
        "readiness at",
    ] {
        assert!(stdout.contains(ratio), "no {ratio} line:\n{stdout}");
    }

    // --output holds what was printed; --update-benchmarks replaced only
    // the text between its markers.
    // (goose itself prints "All N users launched." on stdout during the
    // loadgen part, before the results.)
    let written = std::fs::read_to_string(&output).unwrap();
    assert!(stdout.ends_with(&written), "{stdout}\n---\n{written}");
    let before = &stdout[..stdout.len() - written.len()];
    assert!(
        before
            .lines()
            .all(|l| l.is_empty() || l.ends_with("users launched.")),
        "{before}"
    );
    let updated = std::fs::read_to_string(&benchmarks).unwrap();
    assert!(updated.starts_with("# Benchmarks\n\nprose stays\n\n"));
    assert!(updated.ends_with(&format!("{END}\n\nafter stays\n")));
    assert!(!updated.contains("old table"));
    let between = &updated[updated.find(START).unwrap()..updated.find(END).unwrap()];
    assert_eq!(table_rows(between).len(), rows.len());
}

#[test]
fn one_part_alone_reports_only_that_part() {
    let out = tracemesh(&["--only", "ingest", "--rounds", "1", "--round-secs", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = table_rows(&stdout);
    assert!(rows.iter().all(|r| r[0] == "ingest"), "{stdout}");
    assert!(stdout.contains("--only ingest"), "{stdout}");
}

#[test]
fn usage_mistakes_exit_2_naming_the_flag() {
    let dir = TempDir::new().unwrap();
    let no_markers = dir.path().join("plain.md");
    std::fs::write(&no_markers, "# no markers here\n").unwrap();
    let missing_dir = dir.path().join("nope").join("out.md");
    let cases: [(&[&str], &str); 6] = [
        (&["--rate", "0"], "--rate"),
        (&["--only", "everything"], "--only"),
        (&["--rounds", "0"], "--rounds"),
        (&["--clients", "many"], "--clients"),
        (
            &["--update-benchmarks", no_markers.to_str().unwrap()],
            "--update-benchmarks",
        ),
        (&["--output", missing_dir.to_str().unwrap()], "--output"),
    ];
    for (args, flag) in cases {
        let out = tracemesh(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(flag),
            "{args:?} should name {flag}: {stderr}"
        );
    }
}
