//! The expected trees shipped in `harness/expectations/`, compiled into the
//! binary so `tracemesh run` finds them from any directory, and looked up
//! by the endpoint and status a request answered with. `tracemesh run
//! --expect FILE` adds the learner's own files ([`load_files`]): one whose
//! endpoint and status match a shipped tree replaces it for that run
//! ([`with_files`]).

use std::collections::BTreeSet;
use std::path::Path;

use crate::checks::expect::{ExpectationError, ExpectedSpan, ExpectedTree};

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
    /// Where the tree came from: a shipped file's name
    /// (`checkout-succeeds.yaml`), or an `--expect` path as given.
    pub file: String,
    pub endpoint: String,
    pub status: u16,
    pub tree: ExpectedTree,
}

impl Expectation {
    /// Reads the request a tree describes from its `endpoint:` and
    /// `outcome:` fields (which the tree check itself ignores); `file`
    /// names the source in errors.
    pub fn of(file: &str, tree: ExpectedTree) -> Result<Expectation, ExpectationError> {
        let error = |problem: &str| ExpectationError {
            file: file.to_owned(),
            problem: problem.to_owned(),
        };
        let endpoint = tree.endpoint.clone().ok_or_else(|| {
            error("endpoint: missing (the request this tree describes, e.g. `POST /api/checkout`)")
        })?;
        let outcome = tree.outcome.as_deref().ok_or_else(|| {
            error("outcome: missing (the status it answered first, e.g. `201, order placed`)")
        })?;
        // `outcome` starts with the status: "201, order placed and paid".
        let status = outcome
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(|| {
                error(&format!(
                    "outcome: `{outcome}` does not start with an HTTP status (e.g. `201, order placed`)"
                ))
            })?;
        Ok(Expectation {
            file: file.to_owned(),
            endpoint,
            status,
            tree,
        })
    }

    /// The name of this tree's verdict: `full_tree checkout-succeeds` for
    /// `checkout-succeeds.yaml` (or `my/checkout.yaml`: `full_tree checkout`).
    pub fn check_name(&self) -> String {
        let stem = Path::new(&self.file)
            .file_stem()
            .map_or_else(|| self.file.clone(), |s| s.to_string_lossy().into_owned());
        format!("full_tree {stem}")
    }
}

/// Every shipped expectation. They are checked by the test suite, so a
/// failure here is a build defect, reported rather than panicking.
pub fn built_in() -> Result<Vec<Expectation>, String> {
    BUILT_IN
        .iter()
        .map(|(file, text)| {
            ExpectedTree::from_yaml(text, file)
                .and_then(|tree| Expectation::of(file, tree))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Loads the learner's files (`--expect`), in the order given. Every error
/// names the file and the place in it.
pub fn load_files<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<Expectation>, ExpectationError> {
    paths
        .iter()
        .map(|path| {
            let path = path.as_ref();
            let tree = ExpectedTree::load(path)?;
            Expectation::of(&path.display().to_string(), tree)
        })
        .collect()
}

/// The expectations of a run: the shipped ones, each replaced by the
/// learner's file for the same endpoint and status, then the learner's
/// files for requests no shipped tree describes. When two learner files
/// describe the same request, the later one wins, as a later flag would.
pub fn with_files(built_in: Vec<Expectation>, files: &[Expectation]) -> Vec<Expectation> {
    let same_request =
        |a: &Expectation, b: &Expectation| a.endpoint == b.endpoint && a.status == b.status;
    let mut all: Vec<Expectation> = built_in;
    for file in files {
        match all.iter_mut().find(|e| same_request(e, file)) {
            Some(slot) => *slot = file.clone(),
            None => all.push(file.clone()),
        }
    }
    all
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
    use std::path::PathBuf;

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

    /// A learner's file: the shipped checkout tree, renamed and rewritten.
    fn learner_file(dir: &Path, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
        let text = include_str!("../../expectations/checkout-succeeds.yaml");
        let path = dir.join(name);
        std::fs::write(&path, edit(text.to_owned())).unwrap();
        path
    }

    #[test]
    fn a_file_for_a_shipped_request_replaces_it_and_a_new_one_is_added() {
        let dir = tempfile::tempdir().unwrap();
        let mine = learner_file(dir.path(), "my-checkout.yaml", |t| t);
        let other = learner_file(dir.path(), "teapot.yaml", |t| {
            t.replace(
                "outcome: 201, order placed and paid",
                "outcome: 418, a teapot",
            )
        });
        let files = load_files(&[&mine, &other]).unwrap();
        let shipped = built_in().unwrap();
        let all = with_files(shipped.clone(), &files);
        assert_eq!(all.len(), shipped.len() + 1, "one replaced, one added");
        let checkout = find(&all, "POST /api/checkout", 201).unwrap();
        assert_eq!(checkout.file, mine.display().to_string());
        assert_eq!(checkout.check_name(), "full_tree my-checkout");
        let teapot = find(&all, "POST /api/checkout", 418).unwrap();
        assert_eq!(teapot.check_name(), "full_tree teapot");
        // The other shipped trees stay.
        assert_eq!(
            find(&all, "GET /api/products", 200).unwrap().file,
            "products.yaml"
        );
    }

    #[test]
    fn a_bad_file_is_named_with_the_place_or_the_missing_field() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nowhere.yaml");
        let error = load_files(&[&missing]).unwrap_err();
        assert_eq!(error.file, missing.display().to_string());
        assert!(error.problem.contains("cannot read"), "{error}");

        let misspelt = learner_file(dir.path(), "misspelt.yaml", |t| {
            t.replacen("  attributes:", "  atributes:", 1)
        });
        let error = load_files(&[&misspelt]).unwrap_err().to_string();
        assert!(
            error.starts_with(&misspelt.display().to_string()),
            "{error}"
        );
        assert!(
            error.contains("root.atributes: unknown field") && error.contains("line 24"),
            "{error}"
        );

        let no_endpoint = learner_file(dir.path(), "no-endpoint.yaml", |t| {
            t.replace("endpoint: POST /api/checkout\n", "")
        });
        let error = load_files(&[&no_endpoint]).unwrap_err().to_string();
        assert!(
            error.contains("no-endpoint.yaml: endpoint: missing"),
            "{error}"
        );

        let no_outcome = learner_file(dir.path(), "no-outcome.yaml", |t| {
            t.replace("outcome: 201, order placed and paid\n", "")
        });
        let error = load_files(&[&no_outcome]).unwrap_err().to_string();
        assert!(
            error.contains("no-outcome.yaml: outcome: missing"),
            "{error}"
        );

        let wordy = learner_file(dir.path(), "wordy.yaml", |t| {
            t.replace(
                "outcome: 201, order placed and paid",
                "outcome: order placed",
            )
        });
        let error = load_files(&[&wordy]).unwrap_err().to_string();
        assert!(
            error.contains("does not start with an HTTP status"),
            "{error}"
        );
    }
}
