//! Escaping untrusted text for the three places reports put it: XML/HTML
//! markup, and a terminal line.
//!
//! Everything a report shows can come from outside our control — span names
//! are whatever a service emitted, reasons quote them, URLs are user input —
//! so every piece of text goes through one of these functions, never
//! straight into markup or onto the terminal.

/// Escapes text for XML or HTML, in element content and in double- or
/// single-quoted attribute values alike.
///
/// Also replaces characters XML 1.0 forbids outright (control characters
/// other than tab, newline and carriage return; U+FFFE and U+FFFF) with
/// U+FFFD: escaping cannot save them — `&#1;` is just as illegal — and one
/// stray byte from a span name would make CI's JUnit reader reject the
/// whole file.
pub fn markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if is_forbidden_in_xml(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn is_forbidden_in_xml(c: char) -> bool {
    (c < ' ') || c == '\u{FFFE}' || c == '\u{FFFF}'
}

/// Makes text safe for one terminal line: control characters (an escape
/// byte would let a span name recolour or clear the user's terminal) and
/// line breaks become spaces.
pub fn terminal(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_escapes_the_five_special_characters() {
        assert_eq!(
            markup(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn markup_replaces_characters_xml_forbids_and_keeps_the_rest() {
        assert_eq!(markup("a\u{1b}[31mb\u{0}c"), "a\u{FFFD}[31mb\u{FFFD}c");
        assert_eq!(markup("tab\there\nnext ünïcødé"), "tab\there\nnext ünïcødé");
    }

    #[test]
    fn terminal_text_loses_escape_bytes_and_line_breaks() {
        assert_eq!(terminal("a\u{1b}[2Jb\nc"), "a [2Jb c");
    }
}
