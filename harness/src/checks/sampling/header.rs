//! W3C trace context headers: `traceparent` (what a caller sends) and
//! `traceresponse` (what the gateway answers, Trace Context Level 2). Both
//! have the same shape:
//!
//! ```text
//! 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//! |  |                                |                +- flags (bit 0: sampled)
//! |  |                                +- span id (the caller's span / the gateway's span)
//! |  +- trace id
//! +- version
//! ```
//!
//! Parsing follows the spec's rules for version 00: exactly four fields,
//! lowercase hex only, neither id all zeros, version `ff` forbidden. A later
//! version may append fields after the flags, which we skip, as the spec
//! asks of parsers that only know version 00.

use std::fmt;

/// The W3C `sampled` flag.
const SAMPLED_FLAG: u8 = 0x01;
const TRACE_ID_HEX_LEN: usize = 32;
const SPAN_ID_HEX_LEN: usize = 16;

/// A parsed `traceparent` or `traceresponse` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex characters.
    pub trace_id: String,
    /// 16 lowercase hex characters: the caller's span in a `traceparent`,
    /// the responding span in a `traceresponse`.
    pub span_id: String,
    /// All eight trace flags; see [`sampled`](TraceContext::sampled).
    pub flags: u8,
}

/// Why a header was refused, with the header quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed trace context header {header:?}: {reason}")]
pub struct MalformedHeader {
    pub header: String,
    pub reason: String,
}

impl TraceContext {
    /// A context to send as `traceparent`. Ids are taken as given: build
    /// them with 32 / 16 lowercase hex characters (the Display of a random
    /// `u128` / `u64` as `{:032x}` / `{:016x}` will do).
    pub fn new(
        trace_id: impl Into<String>,
        span_id: impl Into<String>,
        sampled: bool,
    ) -> TraceContext {
        TraceContext {
            trace_id: trace_id.into(),
            span_id: span_id.into(),
            flags: if sampled { SAMPLED_FLAG } else { 0 },
        }
    }

    /// Parses a header value (surrounding whitespace is ignored, as HTTP does).
    pub fn parse(header: &str) -> Result<TraceContext, MalformedHeader> {
        let refuse = |reason: String| MalformedHeader {
            header: header.to_string(),
            reason,
        };
        let fields: Vec<&str> = header.trim().split('-').collect();
        let version = fields[0];
        if version.len() != 2 || !is_lower_hex(version) {
            return Err(refuse(format!(
                "version {version:?} is not two lowercase hex digits"
            )));
        }
        if version == "ff" {
            return Err(refuse("version ff is forbidden".into()));
        }
        let expected_fields = if version == "00" {
            "exactly 4"
        } else {
            "at least 4"
        };
        if fields.len() < 4 || (version == "00" && fields.len() != 4) {
            return Err(refuse(format!(
                "{} '-'-separated fields, version {version} has {expected_fields}",
                fields.len()
            )));
        }
        let trace_id = id_field("trace id", fields[1], TRACE_ID_HEX_LEN).map_err(refuse)?;
        let span_id = id_field("span id", fields[2], SPAN_ID_HEX_LEN).map_err(refuse)?;
        let flags_field = fields[3];
        if flags_field.len() != 2 || !is_lower_hex(flags_field) {
            return Err(refuse(format!(
                "flags {flags_field:?} are not two lowercase hex digits"
            )));
        }
        let flags = u8::from_str_radix(flags_field, 16).map_err(|e| refuse(e.to_string()))?;
        Ok(TraceContext {
            trace_id,
            span_id,
            flags,
        })
    }

    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED_FLAG != 0
    }
}

impl fmt::Display for TraceContext {
    /// The header value, version 00.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

fn id_field(what: &str, text: &str, hex_len: usize) -> Result<String, String> {
    if text.len() != hex_len || !is_lower_hex(text) {
        return Err(format!(
            "{what} {text:?} is not {hex_len} lowercase hex digits"
        ));
    }
    if text.bytes().all(|b| b == b'0') {
        return Err(format!("{what} is all zeros, which the spec calls invalid"));
    }
    Ok(text.to_string())
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    #[test]
    fn parses_the_specs_example_and_formats_it_back() {
        let header = format!("00-{TRACE}-{SPAN}-01");
        let context = TraceContext::parse(&header).unwrap();
        assert_eq!(context, TraceContext::new(TRACE, SPAN, true));
        assert!(context.sampled());
        assert_eq!(context.to_string(), header);
        let unsampled = TraceContext::parse(&format!(" 00-{TRACE}-{SPAN}-00 ")).unwrap();
        assert!(!unsampled.sampled());
        // Flags other than `sampled` are kept but do not make a trace sampled.
        assert!(
            !TraceContext::parse(&format!("00-{TRACE}-{SPAN}-02"))
                .unwrap()
                .sampled()
        );
    }

    #[test]
    fn a_later_version_may_append_fields() {
        let context = TraceContext::parse(&format!("01-{TRACE}-{SPAN}-01-extra")).unwrap();
        assert_eq!(context.trace_id, TRACE);
    }

    #[test]
    fn refuses_malformed_headers_with_the_reason() {
        let zeros = "0".repeat(32);
        let cases = [
            (String::new(), "version"),
            (format!("ff-{TRACE}-{SPAN}-01"), "version ff is forbidden"),
            (format!("0-{TRACE}-{SPAN}-01"), "version"),
            (format!("00-{TRACE}-{SPAN}"), "3 '-'-separated fields"),
            (format!("00-{TRACE}-{SPAN}-01-extra"), "exactly 4"),
            (format!("00-{}-{SPAN}-01", TRACE.to_uppercase()), "trace id"),
            (
                format!("00-{}-{SPAN}-01", &TRACE[1..]),
                "32 lowercase hex digits",
            ),
            (format!("00-{zeros}-{SPAN}-01"), "all zeros"),
            (
                format!("00-{TRACE}-0000000000000000-01"),
                "span id is all zeros",
            ),
            (format!("00-{TRACE}-{SPAN}-1"), "flags"),
            (format!("00-{TRACE}-{SPAN}-zz"), "flags"),
        ];
        for (header, reason) in cases {
            let error = TraceContext::parse(&header).unwrap_err();
            assert!(error.reason.contains(reason), "{header:?}: {error}");
            assert!(
                error.to_string().contains(&format!("{header:?}")),
                "{error}"
            );
        }
    }
}
