//! Warnings that would repeat on every request while something outside the app is down (an
//! upstream, the database): at most one line per subject a minute, saying how many were left out.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// At most one line per subject this often.
pub const EVERY: Duration = Duration::from_secs(60);
/// Past this many subjects the limiter starts again (a bound, not an eviction policy).
const MAX_SUBJECTS: usize = 1000;

/// When each subject was last logged, and how many lines about it were left out since.
#[derive(Default)]
pub struct Limiter {
    seen: Mutex<HashMap<String, (Instant, u64)>>,
}

impl Limiter {
    /// Whether a line about `subject` may be written at `now`: `Some(left out since the last one)`.
    pub fn admit(&self, subject: &str, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match seen.get_mut(subject) {
            Some((last, left_out)) if now.saturating_duration_since(*last) < EVERY => {
                *left_out += 1;
                None
            }
            Some((last, left_out)) => {
                *last = now;
                Some(std::mem::take(left_out))
            }
            None => {
                if seen.len() >= MAX_SUBJECTS {
                    seen.clear();
                }
                seen.insert(subject.to_owned(), (now, 0));
                Some(0)
            }
        }
    }
}

/// The process's warnings: logging is process-wide, like the subscriber it writes to.
static WARNINGS: LazyLock<Limiter> = LazyLock::new(Limiter::default);

/// Logs `message` about `subject` (a host, "the database") at WARN, unless a line about it was
/// logged within `EVERY`.
pub fn warn(subject: &str, message: &dyn Display) {
    match WARNINGS.admit(subject, Instant::now()) {
        Some(0) => tracing::warn!(subject, "{message}"),
        Some(left_out) => tracing::warn!(
            subject,
            left_out,
            "{message} ({left_out} more about {subject} since the last line, not logged)"
        ),
        None => {}
    }
}

#[cfg(test)]
mod tests;
