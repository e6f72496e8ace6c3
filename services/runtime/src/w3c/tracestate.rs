//! `tracestate`: vendor entries next to `traceparent`, an ordered list of
//! `key=value` list-members (Trace Context Level 2, section 3.3 "tracestate
//! Header", as the test suite at github.com/w3c/trace-context reads it).
//!
//! The rules, each checked in one function below:
//!
//! - **list** ([`TraceStateList::parse`]): list-members separated by `,`;
//!   spaces and tabs around a member are ignored, and empty or
//!   whitespace-only members are allowed (3.3.1), because a combined value
//!   such as `foo=1,` is what an empty header next to a full one gives. At
//!   most [`MAX_TRACESTATE_MEMBERS`] key/value members (3.3.1.1).
//! - **key** (`check_key`, 3.3.1.3.1): `(lcalpha / DIGIT) 0*255 keychar`,
//!   `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`. So at most
//!   [`MAX_KEY_LEN`] characters, and `@` may appear anywhere but first:
//!   `foo@`, `foo@@bar` and `foo@bar@baz` are keys. (The 2021 text split
//!   a key into `tenant@system` with a 241/14-character limit; the current
//!   text and the suite no longer do.)
//! - **value** (`check_value`, 3.3.1.3.2): 1 to [`MAX_VALUE_LEN`]
//!   printable ASCII characters (0x20-0x7E) except `,` and `=`, not ending
//!   in a space. Leading spaces belong to the value; trailing ones are the
//!   member's whitespace and were trimmed already.
//! - **duplicate keys**: a key seen again is dropped, the first kept. The
//!   leftmost entry is the most recent one (a vendor that updates its entry
//!   moves it to the front, section 3.5 "Mutating the tracestate Field"),
//!   and the suite accepts either keeping duplicates or dropping all but
//!   one.
//!
//! Breaking any rule refuses the whole header (section 4.3 "Processing
//! Model": "If the tracestate header cannot be parsed the vendor MAY
//! discard the entire header"), which then counts as absent; a valid
//! `traceparent` next to it is still continued. A half-understood list is
//! not forwarded: we cannot tell which vendor's entry we broke.
//!
//! Several `tracestate` header fields are one list, joined in order
//! (section 3.3, RFC 9110 section 5.3); that join is
//! [`crate::w3c::combine_fields`]'s, used by [`TraceStateList::from_fields`].
//!
//! Why our own type rather than opentelemetry's `TraceState`: in 0.33 that
//! type still applies the 2021 `tenant@system` rule (one `@`, at most 14
//! characters after it) and accepts an empty value, so it can neither hold
//! every key the current text allows nor refuse `foo=`. A
//! [`TraceStateList`] is what the services forward
//! ([`crate::propagation`]); [`TraceStateList::to_otel`] is the copy the
//! SDK's span context gets, when the SDK can hold it.

use std::fmt;

use opentelemetry::trace::TraceState;

use super::MalformedHeader;

/// At most this many key/value list-members in one `tracestate`.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// The longest key, in characters.
pub const MAX_KEY_LEN: usize = 256;
/// The longest value, in characters.
pub const MAX_VALUE_LEN: usize = 256;

/// A `tracestate` that follows every rule in the file comment: its
/// key/value members in the order received, duplicates removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceStateList {
    members: Vec<(String, String)>,
}

impl TraceStateList {
    /// Parses one `tracestate` value (several header fields: use
    /// [`from_fields`](TraceStateList::from_fields)).
    pub fn parse(value: &str) -> Result<TraceStateList, MalformedHeader> {
        let refuse = |reason: String| MalformedHeader {
            header: value.to_string(),
            reason,
        };
        let mut members: Vec<(String, String)> = Vec::new();
        let mut received = 0;
        // Spaces and tabs are HTTP's optional whitespace (OWS).
        for member in value.split(',').map(|m| m.trim_matches([' ', '\t'])) {
            if member.is_empty() {
                continue;
            }
            received += 1;
            if received > MAX_TRACESTATE_MEMBERS {
                return Err(refuse(format!(
                    "more than {MAX_TRACESTATE_MEMBERS} list-members"
                )));
            }
            let Some((key, value)) = member.split_once('=') else {
                return Err(refuse(format!("list-member {member:?} has no '='")));
            };
            check_key(key).map_err(&refuse)?;
            check_value(value).map_err(&refuse)?;
            if !members.iter().any(|(seen, _)| seen == key) {
                members.push((key.to_string(), value.to_string()));
            }
        }
        Ok(TraceStateList { members })
    }

    /// Parses several `tracestate` header fields of one request as the one
    /// list they make together (joined in order by
    /// [`crate::w3c::combine_fields`]).
    pub fn from_fields(fields: &[&str]) -> Result<TraceStateList, MalformedHeader> {
        TraceStateList::parse(&super::combine_fields(fields))
    }

    /// The value of `key`, if it has a member.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The members, in order.
    pub fn members(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many key/value members there are.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when there are none (then no `tracestate` is sent: section 3.3
    /// asks vendors to avoid sending an empty header).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The same list as opentelemetry's `TraceState`, for the SDK's span
    /// context; empty when the SDK refuses one of its keys (see the file
    /// comment). The list itself still travels: it is what is forwarded.
    pub fn to_otel(&self) -> TraceState {
        TraceState::from_key_value(self.members()).unwrap_or_default()
    }
}

impl fmt::Display for TraceStateList {
    /// The header value: `key=value` members joined by `,` without
    /// whitespace, as section 3.3 asks a sender to write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (key, value)) in self.members.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            write!(f, "{comma}{key}={value}")?;
        }
        Ok(())
    }
}

/// `key = (lcalpha / DIGIT) 0*255 keychar`; the reason when `key` breaks it.
fn check_key(key: &str) -> Result<(), String> {
    let first_ok = key
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !first_ok {
        return Err(format!(
            "key {key:?} does not start with a lowercase letter or a digit"
        ));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(format!(
            "key of {} characters, more than {MAX_KEY_LEN}",
            key.len()
        ));
    }
    let keychar = |b: u8| {
        b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
    };
    if !key.bytes().all(keychar) {
        return Err(format!(
            "key {key:?} holds a character other than a-z 0-9 _ - * / @"
        ));
    }
    Ok(())
}

/// `value = 0*255(chr) nblk-chr`, `chr = %x20 / nblk-chr`,
/// `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`; the reason when `value`
/// breaks it.
fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("empty value".into());
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(format!(
            "value of {} characters, more than {MAX_VALUE_LEN}",
            value.len()
        ));
    }
    let chr = |b: u8| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=';
    if !value.bytes().all(chr) {
        return Err(format!(
            "value {value:?} holds a character outside printable ASCII, or ',' or '='"
        ));
    }
    if value.ends_with(' ') {
        return Err(format!("value {value:?} ends with a space"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> TraceStateList {
        TraceStateList::parse(value).unwrap_or_else(|e| panic!("{e}"))
    }

    fn refused(value: &str) -> String {
        match TraceStateList::parse(value) {
            Ok(list) => panic!("{value:?} was accepted as {list}"),
            Err(e) => e.reason,
        }
    }

    #[test]
    fn members_keep_their_order_and_whitespace_around_them_is_ignored() {
        let list = parse(" rojo=00f067aa0ba902b7 \t, \t congo=t61rcWkgMzE\t");
        assert_eq!(list.to_string(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        assert_eq!(list.get("congo"), Some("t61rcWkgMzE"));
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn empty_and_blank_members_are_allowed_and_not_counted() {
        assert!(parse("").is_empty());
        assert!(parse(" \t ").is_empty());
        assert_eq!(parse(",foo=1,, \t ,").to_string(), "foo=1");
        // 32 members and stray commas: still within the limit.
        let members: Vec<String> = (1..=32).map(|i| format!("k{i:02}={i}")).collect();
        assert_eq!(parse(&format!(",{},", members.join(",,"))).len(), 32);
    }

    #[test]
    fn thirty_two_members_are_kept_and_a_thirty_third_refuses_the_list() {
        let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
        let list = parse(&members[..32].join(","));
        assert_eq!(list.len(), MAX_TRACESTATE_MEMBERS);
        assert_eq!(list.get("bar01"), Some("01"));
        assert!(refused(&members.join(",")).contains("more than 32"));
    }

    #[test]
    fn keys_follow_the_grammar_with_at_signs_anywhere_but_first() {
        let all_keychars = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        for key in [
            "foo",
            "0foo",
            all_keychars,
            &format!("{all_keychars}@a-z0-9_-*/"),
            "foo@",
            "foo@@bar",
            "foo@bar@baz",
            "t@vvvvvvvvvvvvvvv",
        ] {
            assert_eq!(
                parse(&format!("{key}=1,bar=2")).get(key),
                Some("1"),
                "{key}"
            );
        }
        for (key, reason) in [
            ("@foo", "does not start"),
            ("_foo", "does not start"),
            ("Foo", "does not start"),
            ("FOO", "does not start"),
            ("foo.bar", "other than"),
            ("fOo", "other than"),
            ("foo ", "other than"),
            ("", "does not start"),
        ] {
            assert!(
                refused(&format!("{key}=1,bar=2")).contains(reason),
                "{key:?}"
            );
        }
    }

    #[test]
    fn a_key_may_have_256_characters_and_not_257() {
        for key in [
            "z".repeat(256),
            format!("{}@{}", "t".repeat(241), "v".repeat(14)),
            format!("{}@v", "t".repeat(242)),
            format!("{}@{}", "t".repeat(200), "v".repeat(55)),
        ] {
            let list = parse(&format!("foo=1,{key}=1"));
            assert_eq!(list.get(&key), Some("1"), "{} chars", key.len());
            assert_eq!(list.get("foo"), Some("1"));
        }
        assert!(refused(&format!("foo=1,{}=1", "z".repeat(257))).contains("257"));
    }

    #[test]
    fn values_are_printable_ascii_without_comma_or_equals() {
        // Every allowed character, leading spaces kept as part of the value.
        let all: String = (0x20u8..=0x7e)
            .filter(|b| !matches!(b, b',' | b'='))
            .map(char::from)
            .collect();
        assert_eq!(parse(&format!("foo={all}")).get("foo"), Some(all.as_str()));
        assert_eq!(parse("foo=  x").get("foo"), Some("  x"));
        // Trailing spaces are the member's whitespace, not the value's.
        assert_eq!(parse("foo=x  ").get("foo"), Some("x"));
        assert_eq!(parse(&format!("foo={}", "v".repeat(256))).len(), 1);

        for (value, reason) in [
            ("foo=bar=baz", "'='"),
            ("foo=,bar=3", "empty value"),
            ("foo= ,bar=3", "empty value"),
            ("foo=a\tb", "printable"),
            ("foo=caf\u{e9}", "printable"),
            ("foo=a\u{7f}", "printable"),
            ("foo", "no '='"),
            ("foo=1,bar", "no '='"),
        ] {
            assert!(refused(value).contains(reason), "{value:?}");
        }
        assert!(refused(&format!("foo={}", "v".repeat(257))).contains("257"));
    }

    #[test]
    fn a_duplicate_key_keeps_the_first_member() {
        assert_eq!(parse("foo=1,foo=1").to_string(), "foo=1");
        assert_eq!(parse("foo=1,bar=2,foo=3").to_string(), "foo=1,bar=2");
    }

    #[test]
    fn several_fields_are_one_list_in_order() {
        let list =
            TraceStateList::from_fields(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]).unwrap();
        assert_eq!(list.to_string(), "foo=1,bar=2,rojo=1,congo=2,baz=3");
        // An empty field is an empty member, wherever it is.
        for fields in [["foo=1", ""], ["", "foo=1"]] {
            assert_eq!(
                TraceStateList::from_fields(&fields).unwrap().to_string(),
                "foo=1"
            );
        }
        // The limit counts the members of all fields together.
        let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
        let fields: Vec<&str> = members.iter().map(String::as_str).collect();
        assert_eq!(
            TraceStateList::from_fields(&fields[..32]).unwrap().len(),
            32
        );
        assert!(TraceStateList::from_fields(&fields).is_err());
        // One bad field refuses the list the fields make together.
        assert!(TraceStateList::from_fields(&["foo=1", "Bad=2"]).is_err());
    }

    #[test]
    fn the_sdk_copy_is_the_same_list_or_empty_when_the_sdk_cannot_hold_it() {
        let list = parse("rojo=1,congo@t61=2");
        assert_eq!(list.to_otel().header(), "rojo=1,congo@t61=2");
        // opentelemetry 0.33 still refuses a second '@'; the list is intact.
        let list = parse("rojo=1,foo@@bar=2");
        assert_eq!(list.to_otel(), TraceState::NONE);
        assert_eq!(list.to_string(), "rojo=1,foo@@bar=2");
    }
}
