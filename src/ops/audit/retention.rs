//! How long the audit log keeps entries (a portal setting; forever unless an admin sets a number of
//! days), and the prune the maintenance loop runs (`app::spawn_maintenance`). Changing the setting
//! is audited, and so is every prune that removes anything, with the count.

use serde_json::json;

use crate::auth::actor::Actor;
use crate::db::DbConn;
use crate::error::AppError;
use crate::models::audit::{self, By};
use crate::models::setting;
use crate::state::AppState;

/// The setting's key; its value is a number of days, and no row (or an empty value) keeps every
/// entry.
pub const SETTING: &str = "audit_retention_days";
/// The longest retention that can be set, in days (about a hundred years).
pub const MAX_DAYS: i64 = 36_500;
/// Entries removed per transaction, so that a first prune of a large log never holds the write
/// lock for long.
const BATCH: i64 = 5_000;
const DAY: i64 = 86_400;

fn stored(raw: Option<String>) -> Option<i64> {
    raw.and_then(|v| v.parse().ok()).filter(|d| (1..=MAX_DAYS).contains(d))
}

/// The number of days entries are kept, or `None` for ever.
pub async fn days(state: &AppState) -> Result<Option<i64>, AppError> {
    Ok(stored(state.db.read(|c| Ok(setting::get(c, SETTING)?)).await?))
}

/// What an admin typed: blank for ever, else a whole number of days.
pub fn parse(raw: &str) -> Result<Option<i64>, String> {
    match raw.trim() {
        "" => Ok(None),
        days => {
            days.parse().ok().filter(|d| (1..=MAX_DAYS).contains(d)).map(Some).ok_or_else(|| {
                format!("Enter a whole number of days from 1 to {MAX_DAYS}, or leave it blank.")
            })
        }
    }
}

/// Stores the retention, with its audit entry.
pub async fn set(state: &AppState, actor: &Actor, days: Option<i64>) -> Result<(), AppError> {
    let (actor, now) = (actor.clone(), state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let before = stored(setting::get(c, SETTING)?);
                setting::put(c, SETTING, &days.map(|d| d.to_string()).unwrap_or_default(), now)?;
                let details = json!({ "fields": audit::changes([(SETTING, before.into(), days.into())]) });
                let event = actor.by().event("settings.update", "settings", SETTING, details);
                Ok::<_, AppError>(audit::record(c, event, now)?)
            })
        })
        .await
}

/// Removes the entries older than the retention allows, and records how many went (as the app's
/// own action, `system`). Returns that count; nothing happens while entries are kept for ever.
pub fn prune(conn: &mut DbConn, now: i64) -> Result<usize, AppError> {
    let Some(days) = stored(setting::get(conn, SETTING)?) else { return Ok(0) };
    let before = now - days * DAY;
    let mut removed = 0;
    loop {
        let batch = audit::prune_batch(conn, before, BATCH)?;
        removed += batch;
        if (batch as i64) < BATCH {
            break;
        }
    }
    if removed > 0 {
        let details = json!({
            "count": removed, "retention_days": days, "older_than": crate::clock::rfc3339(before),
        });
        audit::record(conn, By::SYSTEM.event("audit.pruned", "audit_log", "audit_log", details), now)?;
        tracing::info!(removed, days, "pruned the audit log");
    }
    Ok(removed)
}
