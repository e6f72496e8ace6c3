//! A reader of the OpenMetrics text format: the samples of an exposition,
//! each with its labels and, where the line carries one, its exemplar.
//!
//! ```text
//! # TYPE http_server_request_duration_seconds histogram
//! http_server_request_duration_seconds_bucket{http_route="/api/products",le="0.01"} 7 # {trace_id="4bf9…",span_id="00f0…"} 0.0043 1764560000.123
//! # EOF
//! ```
//!
//! Only what an exposition can hold is read: `# TYPE`/`# HELP`/`# UNIT`
//! lines are skipped (the family is known from the sample's name and the
//! contract), a sample is `name{labels} value [timestamp] [# {labels} value
//! [timestamp]]`. A line that does not parse is an error naming its line
//! number, never skipped: a check built on half an exposition would count
//! wrong.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name, with its suffix (`_bucket`, `_count`, `_total`).
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub exemplar: Option<Exemplar>,
}

/// An exemplar: the labels naming what was observed, its value, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    /// Unix seconds.
    pub timestamp: Option<f64>,
}

/// Why an exposition could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}: {text}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
    pub text: String,
}

/// Every sample of `text`, in order. An exposition must end with `# EOF`
/// (OpenMetrics requires it; its absence means a cut-off answer).
pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut samples = Vec::new();
    let mut ended = false;
    for (index, line) in text.lines().enumerate() {
        let error = |message: &str| ParseError {
            line: index + 1,
            message: message.to_owned(),
            text: line.chars().take(120).collect(),
        };
        if ended {
            return Err(error("text after # EOF"));
        }
        if line == "# EOF" {
            ended = true;
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        samples.push(sample(line).map_err(|m| error(&m))?);
    }
    if !ended {
        return Err(ParseError {
            line: text.lines().count(),
            message: "the exposition does not end with # EOF".to_owned(),
            text: String::new(),
        });
    }
    Ok(samples)
}

fn sample(line: &str) -> Result<Sample, String> {
    let mut cursor = Cursor { rest: line };
    let name = cursor.name()?;
    let labels = if cursor.rest.starts_with('{') {
        cursor.labels()?
    } else {
        BTreeMap::new()
    };
    cursor.spaces();
    let value = cursor.number()?;
    cursor.spaces();
    // An optional timestamp, then an optional exemplar.
    if !cursor.rest.is_empty() && !cursor.rest.starts_with('#') {
        cursor.number()?;
        cursor.spaces();
    }
    let exemplar = if let Some(rest) = cursor.rest.strip_prefix('#') {
        cursor.rest = rest.trim_start();
        let labels = cursor.labels()?;
        cursor.spaces();
        let value = cursor.number()?;
        cursor.spaces();
        let timestamp = if cursor.rest.is_empty() {
            None
        } else {
            Some(cursor.number()?)
        };
        Some(Exemplar {
            labels,
            value,
            timestamp,
        })
    } else {
        None
    };
    cursor.spaces();
    if !cursor.rest.is_empty() {
        return Err(format!("unexpected {:?}", cursor.rest));
    }
    Ok(Sample {
        name,
        labels,
        value,
        exemplar,
    })
}

struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn spaces(&mut self) {
        self.rest = self.rest.trim_start_matches(' ');
    }

    fn name(&mut self) -> Result<String, String> {
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return Err("expected a metric or label name".to_owned());
        }
        let (name, rest) = self.rest.split_at(end);
        self.rest = rest;
        Ok(name.to_owned())
    }

    fn number(&mut self) -> Result<f64, String> {
        let end = self.rest.find(' ').unwrap_or(self.rest.len());
        let (text, rest) = self.rest.split_at(end);
        let value = match text {
            "+Inf" | "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            _ => text
                .parse::<f64>()
                .map_err(|_| format!("expected a number, found {text:?}"))?,
        };
        self.rest = rest;
        Ok(value)
    }

    /// `{a="x",b="y"}`, with `\\`, `\"` and `\n` escapes in values.
    fn labels(&mut self) -> Result<BTreeMap<String, String>, String> {
        let mut labels = BTreeMap::new();
        self.rest = self
            .rest
            .strip_prefix('{')
            .ok_or("expected { to open the labels")?;
        loop {
            if let Some(rest) = self.rest.strip_prefix('}') {
                self.rest = rest;
                return Ok(labels);
            }
            let key = self.name()?;
            self.rest = self
                .rest
                .strip_prefix("=\"")
                .ok_or_else(|| format!("expected =\" after label {key}"))?;
            let mut value = String::new();
            let mut chars = self.rest.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err(format!("label {key}: unterminated value")),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c @ ('\\' | '"'))) => value.push(c),
                        _ => return Err(format!("label {key}: bad escape")),
                    },
                    Some((_, c)) => value.push(c),
                }
            };
            self.rest = &self.rest[end + 1..];
            if labels.insert(key.clone(), value).is_some() {
                return Err(format!("label {key} appears twice"));
            }
            if let Some(rest) = self.rest.strip_prefix(',') {
                self.rest = rest;
            } else if !self.rest.starts_with('}') {
                return Err(format!("expected , or }} after label {key}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP http_server_request_duration_seconds Duration of HTTP server requests.\n\
# TYPE http_server_request_duration_seconds histogram\n\
# UNIT http_server_request_duration_seconds seconds\n\
http_server_request_duration_seconds_sum{service_name=\"gateway\",http_route=\"/api/products\"} 0.5\n\
http_server_request_duration_seconds_count{service_name=\"gateway\",http_route=\"/api/products\"} 3\n\
http_server_request_duration_seconds_bucket{service_name=\"gateway\",http_route=\"/api/products\",le=\"0.01\"} 2 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\"} 0.0043 1764560000.123\n\
http_server_request_duration_seconds_bucket{service_name=\"gateway\",http_route=\"/api/products\",le=\"+Inf\"} 3\n\
tracemesh_orders_placed_total{service_name=\"order\",note=\"a \\\"quoted\\\" \\\\ value\"} 5\n\
# EOF\n";

    #[test]
    fn samples_labels_and_exemplars_are_read() {
        let samples = parse(TEXT).unwrap();
        assert_eq!(samples.len(), 5);
        assert_eq!(
            samples[1].name,
            "http_server_request_duration_seconds_count"
        );
        assert_eq!(samples[1].value, 3.0);
        let bucket = &samples[2];
        assert_eq!(bucket.labels["le"], "0.01");
        let exemplar = bucket.exemplar.as_ref().unwrap();
        assert_eq!(exemplar.labels["span_id"], "00f067aa0ba902b7");
        assert_eq!(exemplar.value, 0.0043);
        assert_eq!(exemplar.timestamp, Some(1764560000.123));
        assert_eq!(samples[3].labels["le"], "+Inf");
        assert_eq!(samples[4].labels["note"], "a \"quoted\" \\ value");
    }

    #[test]
    fn a_cut_off_exposition_is_refused() {
        let cut = TEXT.trim_end_matches("# EOF\n");
        assert!(parse(cut).unwrap_err().message.contains("# EOF"));
    }

    #[test]
    fn a_bad_line_is_named_by_number() {
        let bad = "a_total 1\nb_total{x=\"1\" 2\n# EOF\n";
        let e = parse(bad).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("expected , or }"), "{e}");
    }

    #[test]
    fn an_exemplar_without_timestamp_and_a_sample_with_one() {
        let text = "x_bucket{le=\"1\"} 4 1764560000 # {trace_id=\"ab\"} 0.5\n# EOF\n";
        let samples = parse(text).unwrap();
        let e = samples[0].exemplar.as_ref().unwrap();
        assert_eq!((e.value, e.timestamp), (0.5, None));
    }
}
