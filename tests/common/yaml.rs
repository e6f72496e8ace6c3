//! Readers over `serde_yaml::Value` shared by the tests that check the
//! deployment files against each other (`compose_files`, `kubernetes_files`).

use serde_yaml::Value;

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
