//! Fuzzes the expected-tree parser (`ExpectedTree::from_yaml`, what reads
//! `harness/expectations/*.yaml`). The input is the file's text; non-UTF-8
//! inputs are skipped, as reading the file would fail first. An accepted
//! tree must also survive `to_yaml` and parse to the same tree, as the
//! round-trip test in `harness/tests/trees_full_tree.rs` promises for the
//! shipped trees.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemesh_harness::checks::expect::ExpectedTree;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(tree) = ExpectedTree::from_yaml(text, "fuzz input") else {
        return;
    };
    tree.validate().expect("a parsed tree is valid");
    let yaml = tree.to_yaml();
    let again = ExpectedTree::from_yaml(&yaml, "round trip")
        .unwrap_or_else(|e| panic!("to_yaml wrote a tree that does not parse: {e}\n{yaml}"));
    // Compared as YAML rather than with `==`: a `.nan` attribute value is
    // written and read back faithfully but is never equal to itself.
    assert_eq!(
        again.to_yaml(),
        yaml,
        "the tree changed on the way through YAML"
    );
});
