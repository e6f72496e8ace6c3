//! The mesh's metrics at one moment, as the checks read them: histograms
//! and counters per series, and the exemplars they carry, whether they came
//! from the services' own endpoints or from a Prometheus.
//!
//! A series is a family of [`contract::metric`] plus its labels, without
//! `le` (a bucket is part of the histogram) and without the `job` and
//! `instance` labels a Prometheus adds (the series' own `service_name`
//! says who recorded it). Anything that is not one of the contract's
//! families (`up`, `scrape_*`, another exporter's metrics) is ignored.

use std::collections::BTreeMap;
use std::fmt;

use tracemesh_runtime::contract::metric::{
    self, COUNTERS, DURATION_BUCKETS, EXEMPLAR_SPAN_ID, EXEMPLAR_TRACE_ID, Family, HISTOGRAMS,
};

use super::openmetrics::Sample;

/// Labels that name where a sample was scraped, not what it measured.
const SCRAPE_LABELS: [&str; 3] = ["le", "job", "instance"];

/// One series: a family and its labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Series {
    /// The family as exposed, e.g. `http_server_request_duration_seconds`.
    pub family: String,
    pub labels: BTreeMap<String, String>,
}

impl Series {
    /// The service that recorded it (`service_name`), or `""`.
    pub fn service(&self) -> &str {
        self.label(metric::SERVICE_NAME).unwrap_or("")
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// The contract's family of this series.
    pub fn contract_family(&self) -> Option<Family> {
        HISTOGRAMS
            .into_iter()
            .chain(COUNTERS)
            .find(|f| f.exposed == self.family)
    }
}

impl fmt::Display for Series {
    /// `family{key="value",...}` without the service, which callers name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{{", self.family)?;
        let mut first = true;
        for (key, value) in &self.labels {
            if key == metric::SERVICE_NAME {
                continue;
            }
            if !first {
                write!(f, ",")?;
            }
            first = false;
            write!(f, "{key}=\"{value}\"")?;
        }
        write!(f, "}}")
    }
}

/// A histogram's cumulative buckets, count and sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// `(upper bound, cumulative count)`, ascending, `+Inf` last.
    pub buckets: Vec<(f64, f64)>,
    pub count: f64,
    pub sum: f64,
}

impl Histogram {
    /// What was observed since `earlier` (the same series read before).
    pub fn since(&self, earlier: Option<&Histogram>) -> Histogram {
        let Some(earlier) = earlier else {
            return self.clone();
        };
        let before = |le: f64| {
            earlier
                .buckets
                .iter()
                .find(|(b, _)| *b == le)
                .map_or(0.0, |(_, c)| *c)
        };
        Histogram {
            buckets: self
                .buckets
                .iter()
                .map(|&(le, c)| (le, c - before(le)))
                .collect(),
            count: self.count - earlier.count,
            sum: self.sum - earlier.sum,
        }
    }

    /// The bucket `(lower, upper]` holding the observation of nearest rank
    /// `q` percent, as [`crate::stats::percentile`] ranks: the resolution
    /// at which a histogram can say where a percentile lies.
    pub fn percentile_bucket(&self, q: f64) -> Option<(f64, f64)> {
        if self.count < 1.0 {
            return None;
        }
        let rank = ((q / 100.0) * self.count).ceil().max(1.0);
        let mut lower = 0.0;
        for &(le, cumulative) in &self.buckets {
            if cumulative >= rank {
                return Some((lower, le));
            }
            lower = le;
        }
        None
    }
}

/// An exemplar and the series and bucket it was attached to.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesExemplar {
    pub series: Series,
    /// The bucket `(lower, upper]` the exemplar belongs to.
    pub bucket: (f64, f64),
    /// Lower-case hex, as the label carried it (empty when absent).
    pub trace_id: String,
    pub span_id: String,
    /// The observed value, in seconds.
    pub value: f64,
    /// Unix seconds, when the exemplar carried a time.
    pub timestamp: Option<f64>,
}

/// The metrics of the whole mesh at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    pub histograms: BTreeMap<Series, Histogram>,
    pub counters: BTreeMap<Series, f64>,
    pub exemplars: Vec<SeriesExemplar>,
}

impl MetricsSnapshot {
    /// Adds samples read from an exposition or a Prometheus query.
    pub fn add_samples(&mut self, samples: &[Sample]) {
        for sample in samples {
            self.add(sample);
        }
    }

    fn add(&mut self, sample: &Sample) {
        let labels: BTreeMap<String, String> = sample
            .labels
            .iter()
            .filter(|(k, _)| !SCRAPE_LABELS.contains(&k.as_str()) && k.as_str() != "__name__")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for family in HISTOGRAMS {
            let Some(suffix) = sample.name.strip_prefix(family.exposed) else {
                continue;
            };
            let series = Series {
                family: family.exposed.to_owned(),
                labels,
            };
            match suffix {
                "_bucket" => {
                    let Some(le) = sample.labels.get("le").and_then(|l| parse_le(l)) else {
                        return;
                    };
                    if let Some(exemplar) = &sample.exemplar {
                        self.exemplars.push(SeriesExemplar {
                            series: series.clone(),
                            bucket: (lower_bound(le), le),
                            trace_id: exemplar_label(&exemplar.labels, EXEMPLAR_TRACE_ID),
                            span_id: exemplar_label(&exemplar.labels, EXEMPLAR_SPAN_ID),
                            value: exemplar.value,
                            timestamp: exemplar.timestamp,
                        });
                    }
                    // An exemplar-only sample (from Prometheus' exemplar
                    // query) carries no count.
                    if sample.value.is_nan() {
                        return;
                    }
                    let histogram = self.histograms.entry(series).or_default();
                    histogram.buckets.push((le, sample.value));
                    histogram
                        .buckets
                        .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
                }
                "_count" => self.histograms.entry(series).or_default().count = sample.value,
                "_sum" => self.histograms.entry(series).or_default().sum = sample.value,
                _ => {}
            }
            return;
        }
        for family in COUNTERS {
            if sample.name.strip_prefix(family.exposed) == Some("_total") {
                let series = Series {
                    family: family.exposed.to_owned(),
                    labels,
                };
                self.counters.insert(series, sample.value);
                return;
            }
        }
    }

    /// What happened since `before`: histogram and counter deltas. The
    /// exemplars are this snapshot's (an exemplar is a single observation,
    /// not a sum); callers filter them by time.
    pub fn since(&self, before: &MetricsSnapshot) -> MetricsSnapshot {
        MetricsSnapshot {
            histograms: self
                .histograms
                .iter()
                .map(|(s, h)| (s.clone(), h.since(before.histograms.get(s))))
                .collect(),
            counters: self
                .counters
                .iter()
                .map(|(s, v)| {
                    (
                        s.clone(),
                        v - before.counters.get(s).copied().unwrap_or(0.0),
                    )
                })
                .collect(),
            exemplars: self.exemplars.clone(),
        }
    }
}

fn exemplar_label(labels: &BTreeMap<String, String>, key: &str) -> String {
    labels
        .get(key)
        .map_or_else(String::new, |v| v.to_ascii_lowercase())
}

fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        _ => text.parse().ok(),
    }
}

/// The bucket below `le` in the contract's bucket table, 0 for the first.
fn lower_bound(le: f64) -> f64 {
    DURATION_BUCKETS
        .iter()
        .copied()
        .take_while(|b| *b < le)
        .last()
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::openmetrics::parse;

    fn exposition(count: u32, exemplar: &str) -> String {
        format!(
            "http_server_request_duration_seconds_bucket{{service_name=\"gateway\",http_route=\"/api/x\",le=\"0.005\"}} 1\n\
             http_server_request_duration_seconds_bucket{{service_name=\"gateway\",http_route=\"/api/x\",le=\"0.01\"}} {count} {exemplar}\n\
             http_server_request_duration_seconds_bucket{{service_name=\"gateway\",http_route=\"/api/x\",le=\"+Inf\"}} {count}\n\
             http_server_request_duration_seconds_count{{service_name=\"gateway\",http_route=\"/api/x\"}} {count}\n\
             http_server_request_duration_seconds_sum{{service_name=\"gateway\",http_route=\"/api/x\"}} 0.02\n\
             tracemesh_orders_placed_total{{service_name=\"order\"}} {count}\n\
             up{{job=\"gateway\"}} 1\n# EOF\n"
        )
    }

    fn snapshot(text: &str) -> MetricsSnapshot {
        let mut s = MetricsSnapshot::default();
        s.add_samples(&parse(text).unwrap());
        s
    }

    #[test]
    fn families_buckets_and_exemplars_are_grouped_by_series() {
        let s = snapshot(&exposition(3, "# {trace_id=\"AB\",span_id=\"cd\"} 0.007"));
        assert_eq!(s.histograms.len(), 1);
        let (series, h) = s.histograms.iter().next().unwrap();
        assert_eq!(series.service(), "gateway");
        assert_eq!(
            series.to_string(),
            "http_server_request_duration_seconds{http_route=\"/api/x\"}"
        );
        assert_eq!(h.count, 3.0);
        assert_eq!(h.buckets.len(), 3);
        assert_eq!(s.counters.values().copied().collect::<Vec<_>>(), vec![3.0]);
        let e = &s.exemplars[0];
        assert_eq!((e.trace_id.as_str(), e.span_id.as_str()), ("ab", "cd"));
        assert_eq!(e.bucket, (0.005, 0.01));
    }

    #[test]
    fn a_delta_subtracts_the_earlier_reading() {
        let before = snapshot(&exposition(3, ""));
        let after = snapshot(&exposition(10, ""));
        let delta = after.since(&before);
        let h = delta.histograms.values().next().unwrap();
        assert_eq!(h.count, 7.0);
        assert_eq!(h.buckets[0], (0.005, 0.0));
        assert_eq!(delta.counters.values().next(), Some(&7.0));
    }

    #[test]
    fn the_percentile_bucket_is_found_by_nearest_rank() {
        let h = Histogram {
            buckets: vec![
                (0.005, 50.0),
                (0.01, 90.0),
                (0.025, 100.0),
                (f64::INFINITY, 100.0),
            ],
            count: 100.0,
            sum: 0.0,
        };
        assert_eq!(h.percentile_bucket(50.0), Some((0.0, 0.005)));
        assert_eq!(h.percentile_bucket(51.0), Some((0.005, 0.01)));
        assert_eq!(h.percentile_bucket(99.0), Some((0.01, 0.025)));
        assert_eq!(Histogram::default().percentile_bucket(50.0), None);
    }
}
