//! Expected trees: what the trace of one gateway endpoint and outcome must
//! look like, written as data (a YAML file under `harness/expectations/`)
//! or built in Rust.
//!
//! An expected tree is a tree of [`ExpectedSpan`]s. Each says which span it
//! matches — service, span name, kind — and what that span must carry:
//! status, attributes (an exact value, or just present), and its children,
//! each with a [`Count`] (`count: 1`, or a range `count: "1..3"`) and maybe
//! `optional: true`. Children match without regard to order, by (service,
//! name, kind); spans the tree does not mention fail the check unless the
//! node says `allow_extra_children: true`. [`full_tree`](super::full_tree)
//! does the comparing.
//!
//! The YAML file, field by field (see `expectations/checkout-succeeds.yaml`):
//!
//! ```yaml
//! name: checkout succeeds            # for reports
//! endpoint: POST /api/checkout       # with outcome's status: which requests
//! outcome: 200, order placed         # `tracemesh run` checks against this tree
//! root:
//!   service: gateway
//!   name: POST /api/checkout
//!   kind: server                     # server | client | internal | producer | consumer
//!   status: unset                    # unset | ok | error; omit to accept any
//!   attributes:                      # exact values; 200 is an integer, "200" a string
//!     http.route: /api/checkout
//!     http.response.status_code: 200
//!   attributes_present: [url.path]   # any value, as long as the key is there
//!   children:
//!     - service: gateway
//!       name: tracemesh.user.v1.UserService/ValidateUser
//!       kind: client
//!       count: 1                     # the default; or "0..2", "1..", inclusive
//!       optional: true               # same as a minimum count of 0
//!       allow_extra_children: true   # default false: unknown children fail
//! ```
//!
//! Unknown fields are errors (a misspelt `atributes:` must not silently
//! check nothing), and every load error names the file and the place in it.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::traceql::TraceqlAssertion;
use crate::model::{AttrValue, SpanKind, StatusCode};
use crate::trace::label::{describe_parts, kind_label, parse_kind};

/// The expected trace of one endpoint and outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedTree {
    /// What reports call this expectation, e.g. `checkout succeeds`.
    pub name: String,
    /// The request this tree describes, e.g. `POST /api/checkout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The outcome this tree describes, e.g. `402, card declined`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    pub root: ExpectedSpan,
    /// TraceQL assertions over every trace of this outcome
    /// ([`super::traceql`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traceql: Vec<TraceqlAssertion>,
}

/// One expected span and, below it, its expected children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSpan {
    pub service: String,
    pub name: String,
    #[serde(with = "kind_word")]
    pub kind: SpanKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ExpectedStatus>,
    /// Attributes that must have exactly this value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, ExpectedValue>,
    /// Attributes that must be present, with any value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes_present: Vec<String>,
    /// How many sibling spans match this node. Ignored on the root.
    #[serde(default, skip_serializing_if = "Count::is_exactly_one")]
    pub count: Count,
    /// Shorthand for "the minimum count is 0".
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// Whether children not listed in `children` are accepted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_extra_children: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ExpectedSpan>,
}

/// The status an expected span must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedStatus {
    Unset,
    Ok,
    Error,
}

/// An exact attribute value. In YAML, `200` is an integer, `"200"` a
/// string, `true` a bool, `1.5` a float — and the span's attribute must have
/// the same type: the semantic conventions fix types (a status code is an
/// int), and a service sending `"200"` is a bug worth seeing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExpectedValue {
    Bool(bool),
    Int(i64),
    Double(f64),
    String(String),
}

/// How many spans may match an expected node: `min..=max`, `max` `None`
/// for "no upper bound". Written `1` or `"1..3"` (inclusive: 1, 2 or 3),
/// `"1..=3"` (the same), `"2.."` (two or more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub min: usize,
    pub max: Option<usize>,
}

/// A problem loading an expectation file: which file, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ExpectationError {
    pub file: String,
    pub problem: String,
}

impl ExpectedTree {
    /// An expected tree named `name` with this root.
    pub fn new(name: impl Into<String>, root: ExpectedSpan) -> ExpectedTree {
        ExpectedTree {
            name: name.into(),
            endpoint: None,
            outcome: None,
            root,
            traceql: Vec::new(),
        }
    }

    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    pub fn outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = Some(outcome.into());
        self
    }

    /// Parses YAML text; `origin` (usually the file name) names the source
    /// in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<ExpectedTree, ExpectationError> {
        let error = |problem: String| ExpectationError {
            file: origin.to_string(),
            problem,
        };
        // serde_path_to_error knows the exact place (`root.children[0].kind`);
        // serde_yaml knows the line. serde_yaml also prefixes its message
        // with its own, coarser idea of the place, which is dropped.
        let deserializer = serde_yaml::Deserializer::from_str(text);
        let tree: ExpectedTree = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let place = e.path().to_string();
            let message = without_place_prefix(&e.inner().to_string());
            if place == "." {
                error(message)
            } else {
                error(format!("{place}: {message}"))
            }
        })?;
        tree.validate().map_err(error)?;
        Ok(tree)
    }

    /// Reads and parses one file.
    pub fn load(path: &Path) -> Result<ExpectedTree, ExpectationError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ExpectationError {
            file: origin.clone(),
            problem: format!("cannot read: {e}"),
        })?;
        ExpectedTree::from_yaml(&text, &origin)
    }

    /// Loads every `*.yaml` / `*.yml` file of a directory, by file name.
    pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, ExpectedTree)>, ExpectationError> {
        let unreadable = |e: std::io::Error| ExpectationError {
            file: dir.display().to_string(),
            problem: format!("cannot list: {e}"),
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(unreadable)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| ExpectedTree::load(&path).map(|tree| (path, tree)))
            .collect()
    }

    /// The tree as YAML, in the file format.
    pub fn to_yaml(&self) -> String {
        // Serializing these plain structs cannot fail.
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// What serde cannot check: sensible counts, and siblings that can be
    /// told apart (children match by service, name and kind, so two siblings
    /// with the same three would compete for the same spans).
    pub fn validate(&self) -> Result<(), String> {
        for (i, assertion) in self.traceql.iter().enumerate() {
            if assertion.outcome.is_some() {
                return Err(format!(
                    "traceql[{i}]: `in` is for scenarios; a tree's file asserts over its own outcome"
                ));
            }
            assertion
                .validate()
                .map_err(|e| format!("traceql[{i}]: {e}"))?;
        }
        let mut stack: Vec<(&ExpectedSpan, String)> = vec![(&self.root, "root".to_string())];
        while let Some((node, place)) = stack.pop() {
            if node.service.is_empty() || node.name.is_empty() {
                return Err(format!("{place}: service and name must not be empty"));
            }
            if let Some(max) = node.count.max {
                if max < node.count.min {
                    return Err(format!("{place}: count {} is an empty range", node.count));
                }
                if max == 0 {
                    return Err(format!(
                        "{place}: count 0 expects nothing; leave the node out \
                         (unlisted children already fail)"
                    ));
                }
            }
            let mut seen = HashSet::new();
            for (i, child) in node.children.iter().enumerate() {
                if !seen.insert(child.key()) {
                    return Err(format!(
                        "{place}.children[{i}]: {} is listed twice; give one entry a count",
                        child.label()
                    ));
                }
                stack.push((child, format!("{place}.children[{i}]")));
            }
        }
        Ok(())
    }
}

impl ExpectedSpan {
    pub fn new(service: &str, name: &str, kind: SpanKind) -> ExpectedSpan {
        ExpectedSpan {
            service: service.to_string(),
            name: name.to_string(),
            kind,
            status: None,
            attributes: BTreeMap::new(),
            attributes_present: Vec::new(),
            count: Count::exactly(1),
            optional: false,
            allow_extra_children: false,
            children: Vec::new(),
        }
    }

    pub fn server(service: &str, name: &str) -> ExpectedSpan {
        ExpectedSpan::new(service, name, SpanKind::Server)
    }

    pub fn client(service: &str, name: &str) -> ExpectedSpan {
        ExpectedSpan::new(service, name, SpanKind::Client)
    }

    pub fn internal(service: &str, name: &str) -> ExpectedSpan {
        ExpectedSpan::new(service, name, SpanKind::Internal)
    }

    pub fn status(mut self, status: ExpectedStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Requires attribute `key` to equal `value`.
    pub fn attr(mut self, key: &str, value: impl Into<ExpectedValue>) -> Self {
        self.attributes.insert(key.to_string(), value.into());
        self
    }

    /// Requires attribute `key` to be present, with any value.
    pub fn attr_present(mut self, key: &str) -> Self {
        self.attributes_present.push(key.to_string());
        self
    }

    pub fn count(mut self, count: Count) -> Self {
        self.count = count;
        self
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn allow_extra_children(mut self) -> Self {
        self.allow_extra_children = true;
        self
    }

    pub fn child(mut self, child: ExpectedSpan) -> Self {
        self.children.push(child);
        self
    }

    /// The count that applies, `optional` folded in.
    pub fn effective_count(&self) -> Count {
        if self.optional {
            Count {
                min: 0,
                ..self.count
            }
        } else {
            self.count
        }
    }

    /// What children are matched by.
    pub fn key(&self) -> (&str, &str, SpanKind) {
        (&self.service, &self.name, self.kind)
    }

    /// `service name [kind]`, as spans are named in reports.
    pub fn label(&self) -> String {
        describe_parts(&self.service, &self.name, self.kind)
    }
}

impl ExpectedStatus {
    pub fn matches(self, code: StatusCode) -> bool {
        matches!(
            (self, code),
            (ExpectedStatus::Unset, StatusCode::Unset)
                | (ExpectedStatus::Ok, StatusCode::Ok)
                | (ExpectedStatus::Error, StatusCode::Error)
        )
    }
}

impl fmt::Display for ExpectedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpectedStatus::Unset => "unset",
            ExpectedStatus::Ok => "ok",
            ExpectedStatus::Error => "error",
        })
    }
}

impl ExpectedValue {
    /// Same type and value. Floats compare exactly: they are for values a
    /// service copies through, not for measurements.
    pub fn matches(&self, actual: &AttrValue) -> bool {
        match (self, actual) {
            (ExpectedValue::Bool(e), AttrValue::Bool(a)) => e == a,
            (ExpectedValue::Int(e), AttrValue::Int(a)) => e == a,
            (ExpectedValue::Double(e), AttrValue::Double(a)) => e == a,
            (ExpectedValue::String(e), AttrValue::String(a)) => e == a,
            _ => false,
        }
    }
}

impl fmt::Display for ExpectedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedValue::Bool(b) => write!(f, "{b}"),
            ExpectedValue::Int(i) => write!(f, "{i}"),
            ExpectedValue::Double(d) => write!(f, "{d}"),
            ExpectedValue::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<&str> for ExpectedValue {
    fn from(value: &str) -> Self {
        ExpectedValue::String(value.to_string())
    }
}
impl From<i64> for ExpectedValue {
    fn from(value: i64) -> Self {
        ExpectedValue::Int(value)
    }
}
impl From<bool> for ExpectedValue {
    fn from(value: bool) -> Self {
        ExpectedValue::Bool(value)
    }
}
impl From<f64> for ExpectedValue {
    fn from(value: f64) -> Self {
        ExpectedValue::Double(value)
    }
}

impl Count {
    pub fn exactly(n: usize) -> Count {
        Count {
            min: n,
            max: Some(n),
        }
    }

    /// `min` to `max`, both included.
    pub fn between(min: usize, max: usize) -> Count {
        Count {
            min,
            max: Some(max),
        }
    }

    pub fn at_least(min: usize) -> Count {
        Count { min, max: None }
    }

    pub fn contains(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }

    fn is_exactly_one(&self) -> bool {
        *self == Count::exactly(1)
    }

    /// Parses `3`, `1..3`, `1..=3` (both inclusive) or `2..`.
    pub fn parse(text: &str) -> Result<Count, String> {
        let text = text.trim();
        let number = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("count {text:?}: {s:?} is not a whole number"))
        };
        let Some((low, high)) = text.split_once("..") else {
            return number(text).map(Count::exactly);
        };
        let min = number(low)?;
        let high = high.strip_prefix('=').unwrap_or(high);
        if high.trim().is_empty() {
            return Ok(Count::at_least(min));
        }
        Ok(Count::between(min, number(high)?))
    }
}

impl Default for Count {
    fn default() -> Self {
        Count::exactly(1)
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(max) if max == self.min => write!(f, "{max}"),
            Some(max) => write!(f, "{}..{max}", self.min),
            None => write!(f, "{}..", self.min),
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.max {
            Some(max) if max == self.min => serializer.serialize_u64(max as u64),
            _ => serializer.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Count, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(usize),
            Text(String),
        }
        match Written::deserialize(deserializer) {
            Ok(Written::Number(n)) => Ok(Count::exactly(n)),
            Ok(Written::Text(text)) => Count::parse(&text).map_err(serde::de::Error::custom),
            Err(_) => Err(serde::de::Error::custom(
                "count must be a number (1) or a range (\"1..3\", \"2..\")",
            )),
        }
    }
}

/// `root.children[0]: unknown field` -> `unknown field`: a leading
/// `place: ` is recognised by having no space before the colon.
fn without_place_prefix(message: &str) -> String {
    match message.split_once(": ") {
        Some((place, rest)) if !place.contains(' ') => rest.to_string(),
        _ => message.to_string(),
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Span kinds as the lowercase words of expectation files.
mod kind_word {
    use super::*;

    pub fn serialize<S: Serializer>(kind: &SpanKind, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(kind_label(*kind))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SpanKind, D::Error> {
        let word = String::deserialize(deserializer)?;
        parse_kind(&word).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown span kind {word:?}, expected server, client, internal, producer or consumer"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_as_inclusive_ranges() {
        assert_eq!(Count::parse("2"), Ok(Count::exactly(2)));
        assert_eq!(Count::parse("1..3"), Ok(Count::between(1, 3)));
        assert_eq!(Count::parse("1..=3"), Ok(Count::between(1, 3)));
        assert_eq!(Count::parse("2.."), Ok(Count::at_least(2)));
        assert!(Count::between(1, 3).contains(3));
        assert!(!Count::between(1, 3).contains(0));
        assert!(Count::at_least(2).contains(1000));
        let err = Count::parse("one..3").unwrap_err();
        assert!(err.contains("\"one\" is not a whole number"), "{err}");
    }

    #[test]
    fn values_must_match_in_type_as_well() {
        assert!(ExpectedValue::Int(200).matches(&AttrValue::Int(200)));
        assert!(!ExpectedValue::Int(200).matches(&AttrValue::String("200".into())));
        assert!(!ExpectedValue::String("POST".into()).matches(&AttrValue::String("GET".into())));
    }

    #[test]
    fn optional_lowers_the_minimum_to_zero() {
        let node = ExpectedSpan::client("order", "SELECT orders")
            .count(Count::between(1, 2))
            .optional();
        assert_eq!(node.effective_count(), Count::between(0, 2));
    }
}
