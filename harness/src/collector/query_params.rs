//! Parsers for Tempo's query parameters: the two non-trivial formats, Go
//! durations (`minDuration=1.5s`) and logfmt tags
//! (`tags=service.name=order http.route="/a b"`), and the numbers and time
//! window every search endpoint takes, each refused with a 400 naming the
//! parameter.

use std::time::Duration;

use super::error::ApiError;
use crate::store::TraceWindow;

fn bad(name: &str, error: String) -> ApiError {
    ApiError::BadRequest(format!("parameter {name}: {error}"))
}

/// An optional whole number (`limit`, `spss`, `start`, `end`); empty means absent.
pub(super) fn count_param(name: &str, value: Option<&str>) -> Result<Option<u64>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<u64>()
                .map_err(|e| bad(name, format!("{v:?}: {e}")))
        })
        .transpose()
}

/// An optional Go duration (`minDuration`, `maxDuration`).
pub(super) fn duration_param(
    name: &str,
    value: Option<&str>,
) -> Result<Option<Duration>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| parse_go_duration(v).map_err(|e| bad(name, e)))
        .transpose()
}

/// A `limit`: absent or 0 is 0, which each endpoint reads as its default.
pub(super) fn limit_param(value: Option<&str>) -> Result<usize, ApiError> {
    let limit = count_param("limit", value)?.unwrap_or(0);
    Ok(usize::try_from(limit).unwrap_or(usize::MAX))
}

/// `start` and `end` (unix seconds) as a window with no duration bounds.
pub(super) fn window_params(
    start: Option<&str>,
    end: Option<&str>,
) -> Result<TraceWindow, ApiError> {
    Ok(TraceWindow {
        start_unix_secs: count_param("start", start)?,
        end_unix_secs: count_param("end", end)?,
        ..TraceWindow::default()
    })
}

/// `tags` (logfmt); absent is none.
pub(super) fn tags_param(value: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    value
        .map(|tags| parse_logfmt_tags(tags).map_err(|e| bad("tags", e)))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Parses a Go `time.ParseDuration` string: one or more `<decimal><unit>`
/// pairs, units `ns`, `us` (or `µs`/`μs`), `ms`, `s`, `m`, `h`; `"0"` alone is
/// allowed. Negative durations make no sense for a search and are refused.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("invalid duration {text:?}: expected Go syntax such as 250ms, 1.5s or 1m30s");
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total_nanos = 0f64;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        total_nanos += value * nanos_per_unit;
        rest = after;
    }
    if !total_nanos.is_finite() || total_nanos >= u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total_nanos.round() as u64))
}

/// Parses logfmt `key=value` pairs separated by spaces; a value containing
/// spaces is double-quoted (with `\"` and `\\` escapes), as Tempo documents.
pub fn parse_logfmt_tags(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        if chars.next_if_eq(&'=').is_none() || key.is_empty() {
            return Err(format!(
                "invalid tags {text:?}: expected key=value pairs separated by spaces"
            ));
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(escaped) => value.push(escaped),
                        None => return Err(format!("invalid tags {text:?}: unterminated quote")),
                    },
                    Some(c) => value.push(c),
                    None => return Err(format!("invalid tags {text:?}: unterminated quote")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(c);
            }
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("600ms"), Ok(Duration::from_millis(600)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_go_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_go_duration("10µs"), Ok(Duration::from_micros(10)));
        for bad in [
            "",
            "10",
            "ms",
            "-1s",
            "1x",
            "1..2s",
            "99999999999999999999999h",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn parses_logfmt_tags_with_quotes() {
        let tags =
            parse_logfmt_tags(r#" service.name=order  http.route="/a \"b\" c" empty="" "#).unwrap();
        assert_eq!(
            tags,
            vec![
                ("service.name".to_string(), "order".to_string()),
                ("http.route".to_string(), r#"/a "b" c"#.to_string()),
                ("empty".to_string(), String::new()),
            ]
        );
        assert_eq!(parse_logfmt_tags(""), Ok(vec![]));
        assert!(parse_logfmt_tags("novalue").is_err());
        assert!(parse_logfmt_tags("=x").is_err());
        assert!(parse_logfmt_tags("k=\"open").is_err());
    }
}
