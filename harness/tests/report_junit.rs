//! JUnit XML: parses as XML, counts what CI counts, escapes what it quotes.

mod report_support;

use report_support::*;
use roxmltree::{Document, Node};
use tracemesh_harness::report::junit::{CLASSNAME, PARTIAL_CASE, to_junit};

fn cases<'a>(doc: &'a Document<'a>) -> Vec<Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect()
}

#[test]
fn junit_parses_and_its_counts_match_the_verdicts() {
    let report = realistic_report();
    let xml = to_junit(&report);
    let doc = Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));

    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.attribute("name"), Some("tracemesh"));
    assert_eq!(suite.attribute("tests"), Some("5"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    assert_eq!(suite.attribute("time"), Some("21.400"));
    assert_eq!(suite.attribute("timestamp"), Some("2026-11-22T16:20:00"));
    assert_eq!(root.attribute("tests"), Some("5"));
    assert_eq!(root.attribute("failures"), Some("1"));

    let cases = cases(&doc);
    let names: Vec<_> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
    assert_eq!(
        names,
        [
            "full_tree",
            "completeness",
            "sampling.root.ratio",
            "sampling.parent",
            "attribution"
        ]
    );
    assert!(
        cases
            .iter()
            .all(|c| c.attribute("classname") == Some(CLASSNAME))
    );
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].parent().unwrap().attribute("name"),
        Some("completeness")
    );
}

#[test]
fn failure_message_is_the_first_reason_and_the_body_every_reason_escaped() {
    let report = realistic_report();
    let xml = to_junit(&report);
    let doc = Document::parse(&xml).unwrap();
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    // The parser un-escapes: the reason comes back exactly.
    assert_eq!(failure.attribute("message"), Some(HOSTILE_REASON));
    assert_eq!(
        failure.text(),
        Some(report.verdicts[1].reasons.join("\n").as_str())
    );
    // And in the raw file it was escaped, not injected.
    assert!(xml.contains("&quot;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot; &amp; its"));
    assert!(!xml.contains("<script>"));
}

#[test]
fn figures_appear_as_properties_and_in_system_out() {
    let xml = to_junit(&realistic_report());
    let doc = Document::parse(&xml).unwrap();
    let sampling = cases(&doc)
        .into_iter()
        .find(|c| c.attribute("name") == Some("sampling.root.ratio"))
        .unwrap();
    let property = |name: &str| {
        sampling
            .descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
    };
    assert_eq!(property("ratio"), Some("0.25"));
    assert_eq!(
        property("interval"),
        Some(r#"{"high":0.3052,"low":0.1834}"#)
    );
    let out = sampling
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(out.contains("observed_ratio: 0.2387"), "{out}");
    // Suite properties carry the settings.
    let scenario = doc
        .descendants()
        .find(|n| n.has_tag_name("property") && n.attribute("name") == Some("scenario"))
        .unwrap();
    assert_eq!(scenario.attribute("value"), Some("slow-inventory"));
}

#[test]
fn a_partial_run_adds_a_failing_run_complete_case() {
    let mut report = passing_report();
    report.partial = true;
    let xml = to_junit(&report);
    let doc = Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("tests"), Some("5"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    let partial = cases(&doc)
        .into_iter()
        .find(|c| c.attribute("name") == Some(PARTIAL_CASE))
        .expect("a run.complete test case");
    let failure = partial
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .contains("interrupted")
    );

    // A complete run has no such case.
    let complete = to_junit(&passing_report());
    assert!(!complete.contains(PARTIAL_CASE));
}

#[test]
fn control_characters_and_non_ascii_still_give_well_formed_xml() {
    let mut report = realistic_report();
    report.verdicts[1].check = "completeness «ünïcødé» <&>".into();
    report.verdicts[1].reasons[0] = "ANSI \u{1b}[31mred\u{1b}[0m and a NUL \u{0} byte".into();
    let xml = to_junit(&report);
    let doc = Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(
        failure.attribute("message"),
        Some("ANSI \u{FFFD}[31mred\u{FFFD}[0m and a NUL \u{FFFD} byte")
    );
    assert_eq!(
        failure.parent().unwrap().attribute("name"),
        Some("completeness «ünïcødé» <&>")
    );
}
