//! What every renderer says first: did the run pass, and what the sampling
//! check measured. Read from the [`RunReport`], never recomputed, so the
//! terminal, JUnit and HTML cannot disagree.

use crate::checks::Verdict;

use super::RunReport;

/// The run's headline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Complete, and every check passed.
    Pass,
    /// Complete, and some check failed (or there were no checks at all).
    Fail,
    /// Interrupted: the report covers only what was done, so it cannot pass.
    Partial,
}

impl Outcome {
    pub fn of(report: &RunReport) -> Outcome {
        if report.partial {
            Outcome::Partial
        } else if report.passed() {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Partial => "PARTIAL",
        }
    }

    /// One sentence after the headline word.
    pub fn sentence(report: &RunReport) -> String {
        let total = report.verdicts.len();
        let failed = report.verdicts.iter().filter(|v| !v.passed).count();
        let checks = match (total, failed) {
            (0, _) => "no check ran, so nothing was proved".to_string(),
            (_, 0) => format!("all {total} checks passed"),
            _ => format!("{failed} of {total} checks failed"),
        };
        if report.partial {
            format!("the run was interrupted; {checks} on what was done")
        } else {
            checks
        }
    }
}

/// The root sampling check's figures: the configured ratio, what was
/// observed, and the confidence interval around it.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingFigures {
    pub check: String,
    pub passed: bool,
    pub ratio: Option<f64>,
    pub observed_ratio: Option<f64>,
    /// `(low, high)`.
    pub interval: Option<(f64, f64)>,
    pub confidence: Option<f64>,
    pub requests: Option<u64>,
    pub sampled: Option<u64>,
}

impl SamplingFigures {
    /// Figures of the ratio verdict, `sampling.root.ratio`: its mark is the
    /// ratio's alone (decisions and stored traces have their own verdicts).
    pub fn of(report: &RunReport) -> Option<SamplingFigures> {
        let verdict = report
            .verdicts
            .iter()
            .find(|v| v.check == crate::checks::sampling::RATIO_CHECK)?;
        let number = |key: &str| verdict.figures.get(key).and_then(|v| v.as_f64());
        let count = |key: &str| verdict.figures.get(key).and_then(|v| v.as_u64());
        let interval = verdict
            .figures
            .get("interval")
            .and_then(|i| Some((i.get("low")?.as_f64()?, i.get("high")?.as_f64()?)));
        Some(SamplingFigures {
            check: verdict.check.clone(),
            passed: verdict.passed,
            ratio: number("ratio"),
            observed_ratio: number("observed_ratio"),
            interval,
            confidence: number("confidence"),
            requests: count("requests"),
            sampled: count("sampled"),
        })
    }

    /// e.g. `ratio 0.25, observed 0.2387 (74 of 310), 99.9% interval [0.1834, 0.3052]`.
    pub fn describe(&self) -> String {
        let mut text = match self.ratio {
            Some(ratio) => format!("ratio {ratio}"),
            None => "ratio ?".to_string(),
        };
        match self.observed_ratio {
            Some(observed) => text.push_str(&format!(", observed {observed:.4}")),
            None => text.push_str(", nothing observed"),
        }
        if let (Some(sampled), Some(requests)) = (self.sampled, self.requests) {
            text.push_str(&format!(" ({sampled} of {requests})"));
        }
        if let Some((low, high)) = self.interval {
            match self.confidence {
                Some(confidence) => text.push_str(&format!(", {}%", round_percent(confidence))),
                None => text.push(','),
            }
            text.push_str(&format!(" interval [{low:.4}, {high:.4}]"));
        }
        text
    }
}

/// 0.999 -> "99.9" without float noise such as 99.89999999999999.
fn round_percent(fraction: f64) -> String {
    let percent = format!("{:.3}", fraction * 100.0);
    percent
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// The first reason of a failed verdict, or a fallback when it has none.
pub fn first_reason(verdict: &Verdict) -> &str {
    verdict
        .reasons
        .first()
        .map(String::as_str)
        .unwrap_or("failed without a reason")
}

/// Milliseconds for people: `0.42 ms`, `12.3 ms`, `1520 ms`; `–` when the
/// figure is not a number (a run with no requests has no p50).
pub fn ms(value: f64) -> String {
    if !value.is_finite() {
        "–".to_string()
    } else if value.abs() < 1.0 {
        format!("{value:.2} ms")
    } else if value.abs() < 100.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_keep_three_significant_digits_and_show_nan_as_a_dash() {
        assert_eq!(ms(0.4249), "0.42 ms");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(1520.4), "1520 ms");
        assert_eq!(ms(f64::NAN), "–");
    }

    #[test]
    fn percent_drops_float_noise() {
        assert_eq!(round_percent(0.999), "99.9");
        assert_eq!(round_percent(0.95), "95");
    }
}
