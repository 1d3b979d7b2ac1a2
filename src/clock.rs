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

    /// Moves a manual clock forward; the wall clock cannot be moved and ignores this.
    pub fn advance(&self, seconds: i64) {
        if let Some(t) = &self.0 {
            t.fetch_add(seconds, Ordering::SeqCst);
        }
    }
}

/// Formats unix seconds for people: `2026-11-27 14:07 UTC`.
pub fn format_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "—".to_owned())
}
