//! The expected trees shipped in `harness/expectations/`, compiled into the
//! binary so `tracemesh run` finds them from any directory, and looked up
//! by the endpoint and status a request answered with.

use std::collections::BTreeSet;

use crate::checks::expect::{ExpectedSpan, ExpectedTree};

/// (file name, contents) of every shipped expectation.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "products.yaml",
        include_str!("../../expectations/products.yaml"),
    ),
    (
        "products-inventory-down.yaml",
        include_str!("../../expectations/products-inventory-down.yaml"),
    ),
    (
        "user-found.yaml",
        include_str!("../../expectations/user-found.yaml"),
    ),
    (
        "user-not-found.yaml",
        include_str!("../../expectations/user-not-found.yaml"),
    ),
    (
        "checkout-succeeds.yaml",
        include_str!("../../expectations/checkout-succeeds.yaml"),
    ),
    (
        "checkout-invalid-input.yaml",
        include_str!("../../expectations/checkout-invalid-input.yaml"),
    ),
    (
        "checkout-unknown-user.yaml",
        include_str!("../../expectations/checkout-unknown-user.yaml"),
    ),
    (
        "checkout-out-of-stock.yaml",
        include_str!("../../expectations/checkout-out-of-stock.yaml"),
    ),
    (
        "checkout-card-declined.yaml",
        include_str!("../../expectations/checkout-card-declined.yaml"),
    ),
    (
        "order-found.yaml",
        include_str!("../../expectations/order-found.yaml"),
    ),
    (
        "order-not-found.yaml",
        include_str!("../../expectations/order-not-found.yaml"),
    ),
];

/// An expected tree with the request it describes.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub file: &'static str,
    pub endpoint: String,
    pub status: u16,
    pub tree: ExpectedTree,
}

/// Every shipped expectation. They are checked by the test suite, so a
/// failure here is a build defect, reported rather than panicking.
pub fn built_in() -> Result<Vec<Expectation>, String> {
    BUILT_IN
        .iter()
        .map(|(file, text)| {
            let tree = ExpectedTree::from_yaml(text, file).map_err(|e| e.to_string())?;
            let endpoint = tree
                .endpoint
                .clone()
                .ok_or_else(|| format!("{file}: no endpoint"))?;
            // `outcome` starts with the status: "201, order placed and paid".
            let status = tree
                .outcome
                .as_deref()
                .and_then(|o| o.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|digits| digits.parse().ok())
                .ok_or_else(|| format!("{file}: outcome does not start with a status"))?;
            Ok(Expectation {
                file,
                endpoint,
                status,
                tree,
            })
        })
        .collect()
}

/// The expectation for a request to `endpoint` that answered `status`.
pub fn find<'a>(all: &'a [Expectation], endpoint: &str, status: u16) -> Option<&'a Expectation> {
    all.iter()
        .find(|e| e.endpoint == endpoint && e.status == status)
}

/// The services a trace matching `tree` must contain: those of every
/// node that is neither optional nor allowed a count of zero.
pub fn required_services(tree: &ExpectedTree) -> BTreeSet<String> {
    let mut services = BTreeSet::new();
    let mut stack: Vec<&ExpectedSpan> = vec![&tree.root];
    while let Some(span) = stack.pop() {
        if span.optional || span.count.min == 0 {
            continue;
        }
        services.insert(span.service.clone());
        stack.extend(span.children.iter());
    }
    services
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_file_is_built_in_and_parses() {
        let all = built_in().unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("expectations");
        let on_disk = std::fs::read_dir(dir).unwrap().count();
        assert_eq!(
            all.len(),
            on_disk,
            "a file in harness/expectations is missing from BUILT_IN"
        );
        let checkout = find(&all, "POST /api/checkout", 201).unwrap();
        assert_eq!(checkout.file, "checkout-succeeds.yaml");
        assert_eq!(
            required_services(&checkout.tree),
            ["gateway", "inventory", "order", "payment", "user"]
                .map(String::from)
                .into()
        );
        assert!(find(&all, "POST /api/checkout", 503).is_none());
    }
}
