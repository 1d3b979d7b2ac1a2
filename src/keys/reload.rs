//! Keeping a running instance's keyring current without a restart. Every
//! `CONNECTIONS_ENCRYPTION_KEYS_RELOAD_SECS` an instance reads its key file or runs its keyring
//! command again, checks the keyring as start-up does, and takes it up in every clone of its keyring.
//!
//! A new active key is taken up at once for opening, but seals only once it was recorded (by
//! `keys rotate`, or by the first instance that met it) twice that interval ago: by then every
//! instance reloading on the same interval holds it, so none meets a value sealed under a key it
//! lacks. `keys rewrap` waits as long, for the same reason. A keyring in `CONNECTIONS_ENCRYPTION_KEYS`
//! cannot change under a running process: it is read at start only.

use std::time::Duration;

use diesel::prelude::*;

use super::{KeySource, check_database_key_ids, load};
use crate::clock::{Clock, format_time};
use crate::config::Config;
use crate::crypto::Keyring;
use crate::db::schema::encryption_key_ids;
use crate::db::{Db, DbConn};
use crate::error::AppError;

/// How long after its id is recorded a new active key starts sealing.
pub fn settle_secs(reload_secs: u64) -> i64 {
    i64::try_from(reload_secs.saturating_mul(2)).unwrap_or(i64::MAX)
}

/// Whether this configuration reloads its keyring while it runs.
fn reloads(config: &Config) -> Result<bool, AppError> {
    Ok(config.encryption_keys_reload_secs > 0 && KeySource::of(config)? != KeySource::Setting)
}

/// When the key `kid` was first recorded as active, if it was.
fn recorded_at(conn: &mut DbConn, kid: &str) -> QueryResult<Option<i64>> {
    encryption_key_ids::table.find(kid).select(encryption_key_ids::first_used_at).first(conn).optional()
}

/// The keyring to use at `now`: a keyring of its own with `keyring`'s keys, and its active key,
/// unless that key was recorded less than `settle` seconds ago: then the newest key recorded before
/// it stays active.
pub fn settled(conn: &mut DbConn, keyring: &Keyring, now: i64, settle: i64) -> QueryResult<Keyring> {
    let active = keyring.active_kid();
    let own = keyring.with_active(&active).unwrap_or_else(|| keyring.clone());
    let Some(at) = recorded_at(conn, &active)? else { return Ok(own) };
    if settle == 0 || now >= at.saturating_add(settle) {
        return Ok(own);
    }
    let recorded: Vec<(String, i64)> = encryption_key_ids::table
        .select((encryption_key_ids::kid, encryption_key_ids::first_used_at))
        .load(conn)?;
    let previous = recorded
        .into_iter()
        .filter(|(kid, first)| *kid != active && *first <= at && keyring.has_kid(kid))
        .max_by_key(|(_, first)| *first);
    Ok(previous.and_then(|(kid, _)| keyring.with_active(&kid)).unwrap_or(own))
}

/// The keyring an instance starts with: `keyring` settled (see [`settled`]) when it reloads.
pub fn at_start(config: &Config, db: &Db, keyring: Keyring, now: i64) -> Result<Keyring, AppError> {
    if !reloads(config)? {
        return Ok(keyring);
    }
    Ok(settled(&mut *db.get()?, &keyring, now, settle_secs(config.encryption_keys_reload_secs))?)
}

/// Reads the keyring from its source again and, when it differs from `keyring`, checks it as
/// start-up does and takes it up (settled). Returns what changed, if anything. A keyring that fails
/// the checks is refused and `keyring` stays as it was.
pub fn reload(config: &Config, db: &Db, keyring: &Keyring, now: i64) -> Result<Option<String>, AppError> {
    if !reloads(config)? {
        return Ok(None);
    }
    let (_, fresh) = load(config, db)?;
    let same_keys = keyring.with_active(&fresh.active_kid()).is_some_and(|k| k.to_spec() == fresh.to_spec());
    if same_keys && keyring.active_kid() == fresh.active_kid() {
        return Ok(None);
    }
    check_database_key_ids(db, &fresh, now)?;
    let fresh = settled(&mut *db.get()?, &fresh, now, settle_secs(config.encryption_keys_reload_secs))?;
    if fresh.to_spec() == keyring.to_spec() {
        return Ok(None);
    }
    keyring.adopt(&fresh);
    Ok(Some(format!("active key {}, keys {}", fresh.active_kid(), fresh.kids().join(", "))))
}

/// Refuses to re-seal under `kid` before running instances may have taken it up: less than
/// `settle_secs` after it was recorded. `restarted`: the operator restarted every instance since.
pub fn check_rewrap_may_start(
    config: &Config,
    db: &Db,
    kid: &str,
    now: i64,
    restarted: bool,
) -> Result<(), AppError> {
    if restarted || !reloads(config)? {
        return Ok(());
    }
    let settle = settle_secs(config.encryption_keys_reload_secs);
    match recorded_at(&mut *db.get()?, kid)? {
        Some(at) if now < at.saturating_add(settle) => Err(AppError::BadRequest(format!(
            "{kid} became the active key at {}; running instances take it up within {settle} s (twice \
             CONNECTIONS_ENCRYPTION_KEYS_RELOAD_SECS). Run rewrap from {} on, or now with --restarted if \
             every instance was restarted since. Nothing was changed.",
            format_time(at),
            format_time(at.saturating_add(settle))
        ))),
        _ => Ok(()),
    }
}

/// Reloads the keyring every `CONNECTIONS_ENCRYPTION_KEYS_RELOAD_SECS` until `stop` turns true.
pub fn spawn_reload(
    config: Config,
    db: Db,
    keyring: Keyring,
    clock: Clock,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    if !reloads(&config).unwrap_or(false) {
        return;
    }
    tokio::spawn(async move {
        let every = Duration::from_secs(config.encryption_keys_reload_secs);
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => break,
            }
            let (config, db, keyring, now) = (config.clone(), db.clone(), keyring.clone(), clock.now());
            match tokio::task::spawn_blocking(move || reload(&config, &db, &keyring, now)).await {
                Ok(Ok(Some(change))) => tracing::info!(%change, "took up the changed encryption keyring"),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "the encryption keyring was not reloaded"),
                Err(e) => tracing::warn!(error = %e, "the encryption keyring reload stopped"),
            }
        }
    });
}
