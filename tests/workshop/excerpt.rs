//! Does a command's output hold its excerpt? Each excerpt line must match a
//! whole output line (trailing spaces aside), in the same order, not
//! necessarily adjacent; `[..]` inside a line matches any text within that
//! line (trace ids, timings, ports). Colour codes are removed first, so an
//! excerpt is what the learner sees.

/// The first excerpt line no output line matches (in order), or `None`.
pub fn first_missing<'a>(excerpt: &'a [String], output: &str) -> Option<&'a str> {
    let plain = without_colours(output);
    let mut lines = plain.lines();
    excerpt
        .iter()
        .find(|wanted| !lines.any(|line| line_matches(wanted, line)))
        .map(String::as_str)
}

/// One excerpt line against one output line.
pub fn line_matches(pattern: &str, line: &str) -> bool {
    let line = line.trim_end();
    let parts: Vec<&str> = pattern.trim_end().split("[..]").collect();
    let (first, rest) = parts.split_first().expect("split yields one part");
    let Some(mut remaining) = line.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.ends_with(last)
}

/// The text without ANSI escape sequences (`ESC [ ... letter`).
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_within_a_line_only() {
        assert!(line_matches(
            "trace [..] (5 spans)",
            "trace 4bf9 (5 spans)  "
        ));
        assert!(line_matches("[..]PASS", "lab 1 · First: PASS"));
        assert!(line_matches("a[..]b[..]c", "a-b-b-c"));
        assert!(!line_matches(
            "trace [..] (5 spans)",
            "trace 4bf9 (6 spans)"
        ));
        assert!(
            !line_matches("PASS", "lab 1: PASS"),
            "a whole line, not a part"
        );
        assert!(
            !line_matches("ab[..]ba", "aba"),
            "the parts may not overlap"
        );
    }

    #[test]
    fn excerpt_lines_in_order_not_adjacent() {
        let out = "one\n\u{1b}[32mtwo\u{1b}[0m\nthree\nfour\n";
        let excerpt = |lines: &[&str]| lines.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(first_missing(&excerpt(&["one", "three"]), out), None);
        assert_eq!(first_missing(&excerpt(&["two", "four"]), out), None);
        assert_eq!(first_missing(&excerpt(&["three", "two"]), out), Some("two"));
        assert_eq!(first_missing(&excerpt(&["five"]), out), Some("five"));
    }
}
