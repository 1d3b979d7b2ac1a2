//! Time as an input: the app reads "now" from a `Clock`, so tests can move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Unix seconds from the system clock, or from a manual clock that tests set and advance.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands still at `start` until advanced.
    pub fn manual(start: i64) -> Self {
        Self(Some(Arc::new(AtomicI64::new(start))))
    }

    /// Current time in unix seconds.
    pub fn now(&self) -> i64 {
        match &self.0 {
            Some(t) => t.load(Ordering::SeqCst),
            None => chrono::Utc::now().timestamp(),
        }
    }

    /// Current time in unix milliseconds: a provider's pause (`Retry-After: 2`) is honoured to the
    /// millisecond, where whole seconds would cut it short by up to one. A manual clock moves in
    /// whole seconds.
    pub fn now_millis(&self) -> i64 {
        match &self.0 {
            Some(t) => t.load(Ordering::SeqCst).saturating_mul(1000),
            None => chrono::Utc::now().timestamp_millis(),
        }
    }

    /// Moves a manual clock forward; the wall clock cannot be moved and ignores this.
    pub fn advance(&self, seconds: i64) {
        if let Some(t) = &self.0 {
            t.fetch_add(seconds, Ordering::SeqCst);
        }
    }
}

/// Formats unix seconds for people: `2026-11-27 14:07 UTC`. From the date's parts rather than a
/// strftime pattern, which chrono parses afresh on every call, and a list page formats many times.
pub fn format_time(unix: i64) -> String {
    use chrono::{Datelike, Timelike};
    match chrono::DateTime::from_timestamp(unix, 0) {
        Some(t) => {
            format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), t.month(), t.day(), t.hour(), t.minute())
        }
        None => "—".to_owned(),
    }
}

/// RFC 3339 UTC, as the JSON API writes times.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn formats_like_the_strftime_pattern() {
        for unix in [0, 59, 1_795_000_000, 1_795_003_661, 253_402_300_799, -1] {
            let t = chrono::DateTime::from_timestamp(unix, 0).unwrap();
            assert_eq!(format_time(unix), t.format("%Y-%m-%d %H:%M UTC").to_string());
        }
        assert_eq!(format_time(1_795_003_661), "2026-11-18 12:07 UTC");
        assert_eq!(format_time(i64::MAX), "—");
    }
}
