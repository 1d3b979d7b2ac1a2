//! A provider's `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date, and how long a
//! pause it asks for once read against this instance's clock.

use chrono::NaiveDateTime;

/// The longest pause a `Retry-After` may impose: a provider's clock or header gone wrong must not
/// stop every refresh of a service for days, while tokens expire meanwhile.
pub const MAX_PAUSE_SECS: i64 = 3600;

/// What a `Retry-After` header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this many seconds from the answer.
    Seconds(u64),
    /// Wait until this time (unix seconds).
    At(i64),
}

impl RetryAfter {
    /// Reads a header value; `None` when it is neither form (the caller then backs off on its own).
    pub fn parse(value: &str) -> Option<RetryAfter> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // More digits than fit are a very long wait, capped by `until_millis` anyway.
            return Some(RetryAfter::Seconds(value.parse().unwrap_or(u64::MAX)));
        }
        http_date(value).map(RetryAfter::At)
    }

    /// The unix millisecond the pause ends, read at `now_ms`: never in the past, at most
    /// `MAX_PAUSE_SECS` ahead.
    pub fn until_millis(self, now_ms: i64) -> i64 {
        let wanted = match self {
            RetryAfter::Seconds(s) => {
                now_ms.saturating_add(i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000))
            }
            RetryAfter::At(at) => at.saturating_mul(1000),
        };
        wanted.clamp(now_ms, now_ms + MAX_PAUSE_SECS * 1000)
    }
}

impl std::fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryAfter::Seconds(s) => write!(f, "{s} s"),
            RetryAfter::At(at) => write!(f, "until {}", crate::clock::rfc3339(*at)),
        }
    }
}

/// An HTTP-date in any of the three forms a recipient must accept (RFC 9110 §5.6.7): IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`)
/// and asctime (`Sun Nov  6 08:49:37 1994`); all in UTC.
fn http_date(value: &str) -> Option<i64> {
    const FORMS: [&str; 3] =
        ["%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"];
    FORMS
        .iter()
        .find_map(|form| NaiveDateTime::parse_from_str(value, form).ok())
        .map(|t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_6_1994: i64 = 784_111_777;

    #[test]
    fn delta_seconds_and_each_http_date_form_are_read() {
        assert_eq!(RetryAfter::parse("2"), Some(RetryAfter::Seconds(2)));
        assert_eq!(RetryAfter::parse(" 120 "), Some(RetryAfter::Seconds(120)));
        assert_eq!(RetryAfter::parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(RetryAfter::At(NOV_6_1994)));
        assert_eq!(RetryAfter::parse("Sunday, 06-Nov-94 08:49:37 GMT"), Some(RetryAfter::At(NOV_6_1994)));
        assert_eq!(RetryAfter::parse("Sun Nov  6 08:49:37 1994"), Some(RetryAfter::At(NOV_6_1994)));
    }

    #[test]
    fn anything_else_is_not_a_retry_after() {
        for bad in ["", "-1", "2.5", "soon", "1e3", "Sun, 06 Nov 1994 08:49:37 CET", "0x10"] {
            assert_eq!(RetryAfter::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_pause_ends_at_the_time_asked_never_before_now_and_within_an_hour() {
        let now_ms = 1_000_000_000_500;
        assert_eq!(RetryAfter::Seconds(2).until_millis(now_ms), now_ms + 2000);
        assert_eq!(RetryAfter::Seconds(0).until_millis(now_ms), now_ms);
        assert_eq!(RetryAfter::At(1_000_000_010).until_millis(now_ms), 1_000_000_010_000);
        assert_eq!(RetryAfter::At(NOV_6_1994).until_millis(now_ms), now_ms, "a date past: no wait");
        assert_eq!(RetryAfter::Seconds(u64::MAX).until_millis(now_ms), now_ms + 3_600_000);
        assert_eq!(
            RetryAfter::parse("99999999999999999999999").unwrap().until_millis(now_ms),
            now_ms + 3_600_000
        );
    }
}
