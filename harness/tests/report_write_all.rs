//! `write_all`: the four report files, in a directory it creates.

mod report_support;

use report_support::*;
use tracemesh_harness::report::json::from_json;
use tracemesh_harness::report::write_all;

#[test]
fn write_all_creates_the_directory_and_the_four_files() {
    let dir = std::env::temp_dir()
        .join(format!("tracemesh-report-write-{}", std::process::id()))
        .join("nested/reports");
    let _ = std::fs::remove_dir_all(&dir);
    let report = realistic_report();

    let written = write_all(&report, &dir).unwrap();
    let names: Vec<_> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["verdict.json", "junit.xml", "report.html", "summary.txt"]
    );
    assert!(written.iter().all(|p| p.parent() == Some(dir.as_path())));

    let verdict = std::fs::read_to_string(&written[0]).unwrap();
    assert_eq!(from_json(&verdict).unwrap(), report);
    roxmltree::Document::parse(&std::fs::read_to_string(&written[1]).unwrap()).unwrap();
    assert!(
        std::fs::read_to_string(&written[2])
            .unwrap()
            .contains("<h1>FAIL</h1>")
    );

    let summary = std::fs::read_to_string(&written[3]).unwrap();
    assert!(!summary.contains('\u{1b}'), "no colour in a file");
    assert!(
        summary.contains(&written[2].display().to_string()),
        "{summary}"
    );
    assert!(summary.contains("goose-report.html"), "{summary}");

    std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap()).unwrap();
}
