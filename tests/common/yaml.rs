//! What the tests that check the deployment files against each other
//! (`compose_files`, `kubernetes_files`) share: the files as text, so a
//! test can plant a mismatch in a copy, and readers over `serde_yaml::Value`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::Value;

/// The text of every file a test's checks read, by its path in the repository.
#[derive(Clone)]
pub struct Texts {
    files: BTreeMap<&'static str, String>,
}

impl Texts {
    /// Reads `names` (paths from the repository's root); panics naming a
    /// file that cannot be read.
    pub fn read<'a>(names: impl IntoIterator<Item = &'a &'static str>) -> Texts {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let files = names
            .into_iter()
            .map(|name| {
                let text = std::fs::read_to_string(root.join(name))
                    .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
                (*name, text)
            })
            .collect();
        Texts { files }
    }

    /// A copy with `from` replaced by `to` in `file`; panics if `from` is
    /// absent, so a planted mismatch cannot silently plant nothing.
    pub fn planting(&self, file: &str, from: &str, to: &str) -> Texts {
        let mut copy = self.clone();
        let text = copy.files.get_mut(file).expect("a known file");
        assert!(
            text.contains(from),
            "{file} no longer contains {from:?}: update the planted mismatch"
        );
        *text = text.replacen(from, to, 1);
        copy
    }

    pub fn text(&self, file: &str) -> &str {
        &self.files[file]
    }

    /// `file`'s text, or `None` when it is not one of the files read.
    pub fn get(&self, file: &str) -> Option<&str> {
        self.files.get(file).map(String::as_str)
    }

    /// `file` parsed as YAML, with `<<: *anchor` merge keys applied (compose
    /// files use them, and YAML parsers apply them only on request).
    pub fn yaml(&self, file: &str) -> Value {
        let mut value: Value = serde_yaml::from_str(self.text(file))
            .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
        value
            .apply_merge()
            .unwrap_or_else(|e| panic!("{file}: merge keys: {e}"));
        value
    }
}

/// Follows a dotted path of mapping keys.
pub fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

pub fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

/// The default of `${NAME:-default}`.
pub fn interpolation_default(value: &str) -> Option<&str> {
    value
        .strip_prefix("${")?
        .strip_suffix('}')?
        .split_once(":-")
        .map(|(_, default)| default)
}

/// `(host, port)` of `scheme://host:port/path`, `host:port` or `svc=URL`.
pub fn host_port(raw: &str) -> Option<(String, u16)> {
    let raw = match raw.split_once('=') {
        Some((service, url)) if !service.contains("://") => url,
        _ => raw,
    };
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}
