//! Small helpers for writing inline SVG by hand: numbers that are always
//! valid attribute values, labels cut to fit, and "nice" axis ticks.

/// A coordinate or length with one decimal; non-finite values (a NaN
/// percentile) become 0 rather than an attribute the browser rejects.
pub fn num(value: f64) -> String {
    let value = if value.is_finite() { value } else { 0.0 };
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// `value` clamped to `[0, max]`, with non-finite values as 0.
pub fn clamp(value: f64, max: f64) -> f64 {
    if value.is_finite() {
        value.clamp(0.0, max.max(0.0))
    } else {
        0.0
    }
}

/// Cuts text to `max_chars`, ending in `…` when cut (the full text goes in
/// the element's `<title>` tooltip).
pub fn cut(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// A tick step of 1, 2 or 5 times a power of ten giving at most about
/// `max_ticks` ticks over `[0, span]`.
pub fn tick_step(span: f64, max_ticks: usize) -> f64 {
    if !span.is_finite() || span <= 0.0 {
        return 1.0;
    }
    let rough = span / max_ticks.max(1) as f64;
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * power)
}

/// Tick label: `0`, `2.5`, `40`, `1200`.
pub fn tick_label(value: f64) -> String {
    if value >= 10.0 || value == 0.0 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_always_valid_attributes() {
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(4.0), "4");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(clamp(-3.0, 10.0), 0.0);
        assert_eq!(clamp(f64::INFINITY, 10.0), 0.0);
    }

    #[test]
    fn ticks_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(tick_step(100.0, 10), 10.0);
        assert_eq!(tick_step(130.0, 8), 20.0);
        assert_eq!(tick_step(3.0, 8), 0.5);
        assert_eq!(tick_label(0.5), "0.5");
        assert_eq!(tick_label(1200.0), "1200");
    }

    #[test]
    fn long_labels_are_cut_with_an_ellipsis() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }
}
