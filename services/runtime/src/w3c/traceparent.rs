//! `traceparent` (what a caller sends, Trace Context Level 1) and
//! `traceresponse` (what a server answers, Level 2). Both have one shape:
//!
//! ```text
//! 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//! |  |                                |                +- flags (bit 0: sampled)
//! |  |                                +- parent id (the caller's span / the answering span)
//! |  +- trace id
//! +- version
//! ```
//!
//! The rules: lowercase hex only, neither id all zeros, version `ff`
//! forbidden. Version 00 is exactly these four fields (55 characters); a
//! later version may append fields after the flags, each after a `-`,
//! which a parser that knows only version 00 skips. Surrounding whitespace
//! is ignored, as HTTP does.
//!
//! opentelemetry_sdk 0.33 alone is laxer (`from_str_radix` takes any length
//! and a leading `+`, so it continued a trace from `0-c-1-1`, found by
//! `fuzz/fuzz_targets/traceparent.rs`): the services' extraction shows the
//! SDK only a `traceparent` that [`TraceParent::parse`] accepted, written
//! back as version 00 ([`crate::w3c::IncomingContext`], which also decides
//! what several `traceparent` fields mean).

use std::fmt;

use opentelemetry::trace::SpanContext;

/// The W3C `sampled` flag.
const SAMPLED_FLAG: u8 = 0x01;
const TRACE_ID_HEX_LEN: usize = 32;
const PARENT_ID_HEX_LEN: usize = 16;

/// A parsed `traceparent` or `traceresponse` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// The version the header was written in. Formatting always writes 00,
    /// the only version whose fields this type knows.
    pub version: u8,
    /// 32 lowercase hex characters.
    pub trace_id: String,
    /// 16 lowercase hex characters: the caller's span in a `traceparent`,
    /// the answering span in a `traceresponse`.
    pub parent_id: String,
    /// All eight trace flags; see [`sampled`](TraceParent::sampled).
    pub flags: u8,
}

/// Why a header was refused, with the header quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed trace context header {header:?}: {reason}")]
pub struct MalformedHeader {
    /// The header value as received.
    pub header: String,
    /// The rule it breaks.
    pub reason: String,
}

/// Version, trace id, parent id and flags of a well-formed header, the ids
/// borrowed from it.
type Fields<'a> = (u8, &'a str, &'a str, u8);

impl TraceParent {
    /// A version-00 context to send. Ids are taken as given: build them
    /// with 32 / 16 lowercase hex characters (`{:032x}` / `{:016x}` of a
    /// random `u128` / `u64` will do).
    pub fn new(
        trace_id: impl Into<String>,
        parent_id: impl Into<String>,
        sampled: bool,
    ) -> TraceParent {
        TraceParent {
            version: 0,
            trace_id: trace_id.into(),
            parent_id: parent_id.into(),
            flags: if sampled { SAMPLED_FLAG } else { 0 },
        }
    }

    /// The header that names `sc` (a server's `traceresponse`); `None` for
    /// an invalid context, which names no trace.
    pub fn from_span_context(sc: &SpanContext) -> Option<TraceParent> {
        sc.is_valid().then(|| TraceParent {
            version: 0,
            trace_id: lower_hex(&sc.trace_id().to_bytes()),
            parent_id: lower_hex(&sc.span_id().to_bytes()),
            flags: sc.trace_flags().to_u8(),
        })
    }

    /// Parses a header value by the rules in the file comment.
    pub fn parse(header: &str) -> Result<TraceParent, MalformedHeader> {
        let (version, trace_id, parent_id, flags) =
            fields(header).map_err(|reason| MalformedHeader {
                header: header.to_string(),
                reason,
            })?;
        Ok(TraceParent {
            version,
            trace_id: trace_id.to_string(),
            parent_id: parent_id.to_string(),
            flags,
        })
    }

    /// The trace id of a well-formed header, borrowed from it (what
    /// [`parse`](TraceParent::parse) copies into `trace_id`); `None` for a
    /// malformed one.
    pub fn trace_id_of(header: &str) -> Option<&str> {
        fields(header).ok().map(|(_, trace_id, _, _)| trace_id)
    }

    /// Whether the `sampled` flag is set (other flags do not count).
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED_FLAG != 0
    }
}

impl fmt::Display for TraceParent {
    /// The header value, version 00.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.parent_id, self.flags
        )
    }
}

/// `bytes` as lower-case hex, the form of every id in a header, an
/// exemplar or a log line. A table rather than `{:x}`: ids are written on
/// every sampled request, and `core::fmt`'s hex showed in its profile.
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    text
}

/// Checks `header` against the grammar; the reason when it breaks a rule.
fn fields(header: &str) -> Result<Fields<'_>, String> {
    // At most the four known fields and the rest of a later version.
    let mut parts = header.trim().splitn(5, '-');
    let version = parts.next().unwrap_or_default();
    if version.len() != 2 || !is_lower_hex(version) {
        return Err(format!(
            "version {version:?} is not two lowercase hex digits"
        ));
    }
    if version == "ff" {
        return Err("version ff is forbidden".into());
    }
    let (Some(trace_id), Some(parent_id), Some(flags), rest) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("fewer than 4 '-'-separated fields".into());
    };
    if version == "00" && rest.is_some() {
        return Err("more than 4 '-'-separated fields, version 00 has exactly 4".into());
    }
    let trace_id = id_field("trace id", trace_id, TRACE_ID_HEX_LEN)?;
    let parent_id = id_field("parent id", parent_id, PARENT_ID_HEX_LEN)?;
    if flags.len() != 2 || !is_lower_hex(flags) {
        return Err(format!("flags {flags:?} are not two lowercase hex digits"));
    }
    Ok((hex_byte(version), trace_id, parent_id, hex_byte(flags)))
}

fn id_field<'a>(what: &str, text: &'a str, hex_len: usize) -> Result<&'a str, String> {
    if text.len() != hex_len || !is_lower_hex(text) {
        return Err(format!(
            "{what} {text:?} is not {hex_len} lowercase hex digits"
        ));
    }
    if text.bytes().all(|b| b == b'0') {
        return Err(format!("{what} is all zeros, which the spec calls invalid"));
    }
    Ok(text)
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Two lowercase hex digits, already checked, as a byte.
fn hex_byte(two_digits: &str) -> u8 {
    u8::from_str_radix(two_digits, 16).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    #[test]
    fn parses_the_specs_example_and_formats_it_back() {
        let header = format!("00-{TRACE}-{SPAN}-01");
        let context = TraceParent::parse(&header).unwrap();
        assert_eq!(context, TraceParent::new(TRACE, SPAN, true));
        assert!(context.sampled());
        assert_eq!(context.to_string(), header);
        assert_eq!(TraceParent::trace_id_of(&header), Some(TRACE));
        let unsampled = TraceParent::parse(&format!(" 00-{TRACE}-{SPAN}-00 ")).unwrap();
        assert!(!unsampled.sampled());
        // Flags other than `sampled` are kept but do not make a trace sampled.
        assert!(
            !TraceParent::parse(&format!("00-{TRACE}-{SPAN}-02"))
                .unwrap()
                .sampled()
        );
    }

    #[test]
    fn a_later_version_may_append_fields() {
        for header in [
            format!("01-{TRACE}-{SPAN}-01-extra"),
            format!("cc-{TRACE}-{SPAN}-01-future-and-more"),
            format!("cc-{TRACE}-{SPAN}-01-"),
            format!("cc-{TRACE}-{SPAN}-01"),
        ] {
            let context = TraceParent::parse(&header).unwrap();
            assert_eq!(context.trace_id, TRACE, "{header}");
            assert_ne!(context.version, 0);
            // Written back as the version whose fields we know.
            assert!(context.to_string().starts_with("00-"));
        }
    }

    #[test]
    fn refuses_malformed_headers_with_the_reason() {
        let zeros = "0".repeat(32);
        let cases = [
            (String::new(), "version"),
            ("0-c-1-1".to_string(), "version"),
            (format!("ff-{TRACE}-{SPAN}-01"), "version ff is forbidden"),
            (format!("0-{TRACE}-{SPAN}-01"), "version"),
            (
                format!("00-{TRACE}-{SPAN}"),
                "fewer than 4 '-'-separated fields",
            ),
            (format!("cc-{TRACE}-{SPAN}"), "fewer than 4"),
            (format!("00-{TRACE}-{SPAN}-01-extra"), "exactly 4"),
            (format!("00-{TRACE}-{SPAN}-01-"), "exactly 4"),
            (format!("00-{}-{SPAN}-01", TRACE.to_uppercase()), "trace id"),
            (
                format!("00-{}-{SPAN}-01", &TRACE[1..]),
                "32 lowercase hex digits",
            ),
            (format!("00-+{}-{SPAN}-01", &TRACE[1..]), "trace id"),
            (format!("00-{zeros}-{SPAN}-01"), "all zeros"),
            (
                format!("00-{TRACE}-0000000000000000-01"),
                "parent id is all zeros",
            ),
            (
                format!("00-{TRACE}-b7a169203331-01"),
                "16 lowercase hex digits",
            ),
            (format!("00-{TRACE}-{SPAN}-1"), "flags"),
            (format!("00-{TRACE}-{SPAN}-zz"), "flags"),
            (format!("cc-{TRACE}-{SPAN}-01x"), "flags"),
        ];
        for (header, reason) in cases {
            let error = TraceParent::parse(&header).unwrap_err();
            assert!(error.reason.contains(reason), "{header:?}: {error}");
            assert!(
                error.to_string().contains(&format!("{header:?}")),
                "{error}"
            );
            assert_eq!(TraceParent::trace_id_of(&header), None);
        }
    }

    #[test]
    fn a_valid_span_context_names_itself_and_an_invalid_one_nothing() {
        let sc = SpanContext::new(
            TraceId::from_hex(TRACE).unwrap(),
            SpanId::from_hex(SPAN).unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        );
        let named = TraceParent::from_span_context(&sc).unwrap();
        assert_eq!(named.to_string(), format!("00-{TRACE}-{SPAN}-01"));
        assert_eq!(
            TraceParent::from_span_context(&SpanContext::empty_context()),
            None
        );
    }
}
