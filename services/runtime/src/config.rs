//! Reading configuration from the environment through a trait.
//!
//! Services read `OTEL_*` and `TRACEMESH_*` variables through [`Env`] rather
//! than `std::env::var`, so a test passes a [`MapEnv`] instead of mutating the
//! process environment (which is global and racy under `cargo test`).
//! Every parse failure names the variable and the bad value.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// Where configuration values come from.
pub trait Env: Send + Sync {
    /// The value of `key`, or `None` when unset. Empty values count as unset,
    /// as the OpenTelemetry specification asks for `OTEL_*` variables.
    fn get(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.trim().is_empty())
    }
}

/// A fixed map of variables, for tests.
#[derive(Debug, Clone, Default)]
pub struct MapEnv(pub HashMap<String, String>);

impl MapEnv {
    pub fn new<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        MapEnv(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl Env for MapEnv {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).filter(|v| !v.trim().is_empty()).cloned()
    }
}

/// A configuration value that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value:?} for {var}: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub value: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(var: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            var: var.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Parses `var` with `FromStr`, `None` when unset.
pub fn parse_var<T>(env: &dyn Env, var: &str) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match env.get(var) {
        None => Ok(None),
        Some(raw) => raw
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|e| ConfigError::new(var, &raw, e.to_string())),
    }
}

/// Parses a duration given in milliseconds, as the `OTEL_BSP_*` variables are.
pub fn parse_millis(env: &dyn Env, var: &str) -> Result<Option<Duration>, ConfigError> {
    Ok(parse_var::<u64>(env, var)?.map(Duration::from_millis))
}

/// Parses a boolean the way the OpenTelemetry specification does: only a
/// case-insensitive `true` is true; anything else but `false` is an error here
/// (the spec says to warn; a demo that silently ignores a typo teaches nothing).
pub fn parse_bool(env: &dyn Env, var: &str) -> Result<Option<bool>, ConfigError> {
    match env.get(var) {
        None => Ok(None),
        Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(ConfigError::new(var, &raw, "expected true or false")),
        },
    }
}

/// Parses `key1=value1,key2=value2` (the W3C-baggage-like format of
/// `OTEL_RESOURCE_ATTRIBUTES`), percent-decoding values.
pub fn parse_key_values(env: &dyn Env, var: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let Some(raw) = env.get(var) else {
        return Ok(Vec::new());
    };
    let mut pairs = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(ConfigError::new(
                var,
                &raw,
                format!("entry {item:?} is not key=value"),
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::new(var, &raw, "empty key"));
        }
        pairs.push((key.to_string(), percent_decode(value.trim())));
    }
    Ok(pairs)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset() {
        let env = MapEnv::new([("A", "  ")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(parse_var::<u32>(&env, "A").unwrap(), None);
    }

    #[test]
    fn a_bad_number_names_the_variable_and_value() {
        let env = MapEnv::new([("OTEL_BSP_MAX_QUEUE_SIZE", "lots")]);
        let err = parse_var::<usize>(&env, "OTEL_BSP_MAX_QUEUE_SIZE").unwrap_err();
        assert_eq!(err.var, "OTEL_BSP_MAX_QUEUE_SIZE");
        assert_eq!(err.value, "lots");
        assert!(err.to_string().contains("OTEL_BSP_MAX_QUEUE_SIZE"));
    }

    #[test]
    fn key_values_are_split_trimmed_and_percent_decoded() {
        let env = MapEnv::new([("R", "deployment.environment=dev, team=a%20b")]);
        let pairs = parse_key_values(&env, "R").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("deployment.environment".into(), "dev".into()),
                ("team".into(), "a b".into())
            ]
        );
    }

    #[test]
    fn key_values_without_equals_are_an_error() {
        let env = MapEnv::new([("R", "novalue")]);
        assert!(parse_key_values(&env, "R").is_err());
    }

    #[test]
    fn booleans_accept_only_true_and_false() {
        let env = MapEnv::new([("T", "TRUE"), ("F", "false"), ("X", "yes")]);
        assert_eq!(parse_bool(&env, "T").unwrap(), Some(true));
        assert_eq!(parse_bool(&env, "F").unwrap(), Some(false));
        assert!(parse_bool(&env, "X").is_err());
    }
}
