//! Endpoint URLs stored in plain text — rows written before URLs were sealed (migration 000079) —
//! are sealed at start-up, before the first request, with the errors their delivery log recorded
//! masked too, and the URLs in the audit log's older webhook entries are masked once. SQL cannot seal, so this runs here rather than in the migration.
//! Instances starting together may both try: each row is written only while it is still plain.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::slot;
use crate::crypto::{Keyring, Secret};
use crate::db::schema::{audit_log, settings, webhook_deliveries, webhook_endpoints};
use crate::db::{DbConn, write_tx};
use crate::domain::endpoint_url::{masked, scrub};
use crate::error::AppError;

/// The settings row migration 000079 leaves to ask for the audit log's masking.
pub const PENDING_AUDIT: &str = "pending.webhook_url_masking";

/// Seals every URL still stored in plain text and masks what is shown of it and the errors of its
/// deliveries (the outbound client's name the URL); returns how many URLs.
///
/// On SQLite the writes run with `secure_delete`, which zeroes the bytes they free, and the
/// write-ahead log is then checkpointed and truncated, so the old text lingers neither in the file's
/// free space nor in older log frames; PostgreSQL keeps the old row versions until vacuum reclaims
/// them (README, "Upgrades").
pub fn seal_plain_urls(conn: &mut DbConn, keyring: &Keyring) -> Result<usize, AppError> {
    let plain: Vec<(i64, String)> = webhook_endpoints::table
        .filter(webhook_endpoints::url.is_null())
        .select((webhook_endpoints::id, webhook_endpoints::shown_url))
        .load(conn)?;
    if plain.is_empty() {
        return Ok(0);
    }
    let mut sealed = Vec::new();
    for (id, full) in &plain {
        sealed.push(keyring.seal(&slot("url", &id.to_string()), &Secret::new(full.clone()))?);
    }
    let zeroing = matches!(conn, DbConn::Sqlite(_));
    if zeroing {
        conn.batch_execute("PRAGMA secure_delete = ON")?;
    }
    let written = write_tx(conn, |c| {
        let mut written = 0;
        for ((id, full), sealed) in plain.iter().zip(sealed) {
            written += diesel::update(
                webhook_endpoints::table
                    .find(id)
                    .filter(webhook_endpoints::url.is_null())
                    .filter(webhook_endpoints::shown_url.eq(full)),
            )
            .set((webhook_endpoints::url.eq(Some(sealed)), webhook_endpoints::shown_url.eq(masked(full))))
            .execute(c)?;
            mask_delivery_errors(c, *id, full)?;
        }
        Ok::<_, AppError>(written)
    });
    zeroed(conn, zeroing)?;
    written
}

/// Replaces `url` in the errors of endpoint `id`'s deliveries with its masked form.
fn mask_delivery_errors(conn: &mut DbConn, id: i64, url: &str) -> Result<(), AppError> {
    let errors: Vec<(i64, String)> = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(id))
        .filter(webhook_deliveries::last_error.is_not_null())
        .select((webhook_deliveries::id, webhook_deliveries::last_error.assume_not_null()))
        .load(conn)?;
    for (delivery, error) in errors {
        let masked = scrub(&error, url);
        if masked != error {
            diesel::update(webhook_deliveries::table.find(delivery))
                .set(webhook_deliveries::last_error.eq(Some(masked)))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Ends the zeroing writes on SQLite: `secure_delete` off again, and the log's frames, which hold
/// the pages as they were, folded into the file and cut away.
fn zeroed(conn: &mut DbConn, zeroing: bool) -> Result<(), AppError> {
    if zeroing {
        conn.batch_execute("PRAGMA secure_delete = OFF; PRAGMA wal_checkpoint(TRUNCATE)")?;
    }
    Ok(())
}

/// Masks the URL in the audit log's webhook entries, once (while the settings row of migration
/// 000079 is there); returns how many entries changed.
pub fn mask_audit_urls(conn: &mut DbConn) -> Result<usize, AppError> {
    let pending =
        settings::table.find(PENDING_AUDIT).select(settings::key).first::<String>(conn).optional()?;
    if pending.is_none() {
        return Ok(0);
    }
    let entries: Vec<(i64, String)> = audit_log::table
        .filter(audit_log::target_type.eq("webhook"))
        .select((audit_log::id, audit_log::details))
        .load(conn)?;
    let zeroing = matches!(conn, DbConn::Sqlite(_));
    if zeroing {
        conn.batch_execute("PRAGMA secure_delete = ON")?;
    }
    let changed = write_tx(conn, |c| {
        let mut changed = 0;
        for (id, details) in &entries {
            let Ok(mut value) = serde_json::from_str::<serde_json::Value>(details) else { continue };
            let Some(url) = value.get("url").and_then(|u| u.as_str()).map(str::to_owned) else { continue };
            let shown = masked(&url);
            if shown != url {
                value["url"] = shown.into();
                diesel::update(audit_log::table.find(id))
                    .set(audit_log::details.eq(value.to_string()))
                    .execute(c)?;
                changed += 1;
            }
        }
        diesel::delete(settings::table.find(PENDING_AUDIT)).execute(c)?;
        Ok::<_, AppError>(changed)
    });
    zeroed(conn, zeroing)?;
    changed
}
