//! W3C Baggage limits, and the cut that keeps a `baggage` header within them.
//!
//! The W3C Baggage specification (section "Limits") asks a platform to
//! propagate at least 64 list-members and 8192 bytes, and lets it drop what
//! is beyond. opentelemetry 0.33 does not keep "what fits": its
//! `BaggagePropagator` ignores a header longer than 8192 bytes *entirely*,
//! and otherwise silently keeps the first 64 comma-separated items (the
//! `Baggage` map also refuses entries past 64 or past 8192 bytes of keys,
//! values and metadata). So [`limit_baggage`] cuts the header first: it
//! keeps the leading list-members while there are at most
//! [`MAX_BAGGAGE_MEMBERS`] and they take at most [`MAX_BAGGAGE_BYTES`]
//! (joined by commas), and drops the first member that does not fit and all
//! after it (never half a member). What it hands the library is then within
//! every library limit, so the library drops nothing more for size. Parsing
//! the members into keys, values and properties, and writing them back, is
//! the library's `BaggagePropagator`.

use std::borrow::Cow;

/// W3C Baggage: the list-members a platform must be able to propagate.
pub const MAX_BAGGAGE_MEMBERS: usize = 64;
/// W3C Baggage: the bytes of `baggage` a platform must be able to propagate.
pub const MAX_BAGGAGE_BYTES: usize = 8192;

/// Cuts a `baggage` value to the W3C limits: the leading list-members while
/// there are at most [`MAX_BAGGAGE_MEMBERS`] of them and, joined by commas,
/// at most [`MAX_BAGGAGE_BYTES`]; the rest dropped whole. Empty members (a
/// stray comma) are skipped and not counted. Returns the value to propagate
/// and the number of members dropped.
pub fn limit_baggage(value: &str) -> (Cow<'_, str>, usize) {
    let members: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    let mut bytes = 0;
    let fitting = members
        .iter()
        .take(MAX_BAGGAGE_MEMBERS)
        .take_while(|member| {
            // A comma before every member but the first.
            bytes += member.len() + usize::from(bytes > 0);
            bytes <= MAX_BAGGAGE_BYTES
        })
        .count();
    let dropped = members.len() - fitting;
    if dropped == 0 {
        (Cow::Borrowed(value), 0)
    } else {
        (Cow::Owned(members[..fitting].join(",")), dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` members `k000=vvv…`, each `member_bytes` long.
    fn members(count: usize, member_bytes: usize) -> Vec<String> {
        (0..count)
            .map(|i| format!("k{i:03}={}", "v".repeat(member_bytes - 5)))
            .collect()
    }

    #[test]
    fn baggage_within_the_limits_is_untouched() {
        let value = members(64, 100).join(",");
        let (kept, dropped) = limit_baggage(&value);
        assert_eq!((kept.as_ref(), dropped), (value.as_str(), 0));
        // Exactly 8192 bytes: 8 members of 1023 bytes plus 7 commas is 8191; one more byte.
        let mut exact = members(8, 1023).join(",");
        exact.push('v');
        assert_eq!(exact.len(), MAX_BAGGAGE_BYTES);
        assert_eq!(limit_baggage(&exact).1, 0);
    }

    #[test]
    fn baggage_past_64_members_keeps_the_first_64() {
        let all = members(100, 10);
        let value = all.join(", ");
        let (kept, dropped) = limit_baggage(&value);
        assert_eq!(dropped, 36);
        assert_eq!(kept, all[..64].join(","));
    }

    #[test]
    fn baggage_past_8192_bytes_keeps_the_whole_members_that_fit() {
        // 40 members of 200 bytes and 39 commas are 8039 bytes; a 41st makes 8240.
        let all = members(90, 200);
        let value = all.join(",");
        let (kept, dropped) = limit_baggage(&value);
        assert_eq!(dropped, 50);
        assert_eq!(kept, all[..40].join(","));
        // One member alone over the limit: nothing is kept, nothing is cut in half.
        let huge = format!("huge={}", "x".repeat(9000));
        let (kept, dropped) = limit_baggage(&huge);
        assert_eq!((kept.as_ref(), dropped), ("", 1));
        // Stray commas are not members.
        assert_eq!(limit_baggage("a=1,,b=2,").1, 0);
    }
}
