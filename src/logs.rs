//! The process's log: where lines go and in which format (`init`), and the warnings that would
//! repeat on every request while something outside the app is down (an upstream, the database): at
//! most one line per subject a minute, saying how many were left out.

use std::collections::HashMap;
use std::fmt::Display;
use std::io::IsTerminal;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use tracing_subscriber::EnvFilter;

/// How log lines are written (`CONNECTIONS_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One human-readable line per event (the default).
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

impl Format {
    /// The setting's value: `text` (or unset) or `json`.
    pub fn parse(raw: Option<&str>) -> Result<Format, String> {
        match raw.map(str::trim) {
            None | Some("" | "text") => Ok(Format::Text),
            Some("json") => Ok(Format::Json),
            Some(other) => Err(format!("invalid CONNECTIONS_LOG_FORMAT {other:?}: use text or json")),
        }
    }
}

/// Sends log lines to standard error in `format`, filtered by `RUST_LOG` (default `info`). Terminal
/// colour codes only when standard error is a terminal: in a file or a collector they are noise.
pub fn init(format: Format) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        Format::Text => lines.with_ansi(std::io::stderr().is_terminal()).init(),
        // The request's span (its `request_id`) goes with every line logged while serving it.
        Format::Json => lines
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

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
