//! First start: create the `admin` SDAdmin (with the configured password or a generated one) and seed
//! the alias URL setting from the base URL. Every start: record where stored secrets were entrusted
//! when that is not known yet, and seal the webhook URLs still stored in plain text.

use url::Url;

use crate::config::Config;
use crate::crypto::Secret;
use crate::db::{Db, write_tx};
use crate::error::AppError;
use crate::models::{setting, user};
use crate::password;
use crate::random::random_urlsafe;

pub const FIRST_ADMIN: &str = "admin";

/// Runs the first-start steps; returns the admin password when it was generated (print it once).
pub fn first_run(db: &Db, config: &Config, base_url: &Url) -> Result<Option<Secret>, AppError> {
    let now = config.clock.now();
    let mut conn = db.get()?;
    setting::seed(&mut conn, setting::ALIAS_URL, base_url.as_str().trim_end_matches('/'), now)?;
    if user::count(&mut conn)? > 0 {
        return Ok(None);
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => {
            password::check_policy(p)
                .map_err(|why| AppError::Startup(format!("CONNECTIONS_ADMIN_PASSWORD: {why}")))?;
            (p.clone(), false)
        }
        None => (Secret::new(random_urlsafe(18)?), true),
    };
    let hash = password::hash_blocking(&password)?;
    // Another instance may be creating the admin at the same moment: the count and insert share one
    // write transaction, and a duplicate name means the other one won.
    let created = write_tx(&mut conn, |conn| {
        if user::count(conn)? > 0 {
            return Ok(false);
        }
        user::insert(conn, FIRST_ADMIN, &hash, user::Role::SdAdmin, now).map(|_| true)
    });
    match created {
        Ok(true) => {
            tracing::info!(username = FIRST_ADMIN, "created the first admin");
            Ok(generated.then_some(password))
        }
        Ok(false) => Ok(None),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Gives secrets stored without their entrusted origins those of their service as it is now (see
/// `domain::destinations`), before the first request can use them.
pub fn record_destinations(db: &Db) -> Result<(), AppError> {
    // It looks at every connection: a scan (see `Db::with_scan_connection`).
    let filled = db.with_scan_connection(|c| Ok(crate::models::destinations::backfill(c)?))?;
    if filled > 0 {
        tracing::info!(rows = filled, "recorded the destinations of stored secrets");
    }
    Ok(())
}

/// Seals the webhook endpoint URLs stored before URLs were sealed, and masks them in the audit log
/// (see `models::webhook::seal_plain_urls`), before the first request can show or use them.
pub fn seal_webhook_urls(db: &Db, keyring: &crate::crypto::Keyring) -> Result<(), AppError> {
    let mut conn = db.get()?;
    let sealed = crate::models::webhook::seal_plain_urls(&mut conn, keyring)?;
    let masked = crate::models::webhook::mask_audit_urls(&mut conn)?;
    if sealed + masked > 0 {
        tracing::info!(
            endpoints = sealed,
            audit_entries = masked,
            "sealed the webhook URLs stored in plain text"
        );
    }
    Ok(())
}

/// File in the data folder that names this instance across restarts.
const INSTANCE_FILE: &str = "instance.id";

/// This instance's name in refresh leases, kept in the data folder so that a restart recognises the
/// leases its previous run held; those are released at once (a run killed mid-refresh keeps no
/// connection waiting until its lease runs out).
pub fn claim_instance(db: &Db, config: &Config) -> Result<String, AppError> {
    let path = config.data_dir.join(INSTANCE_FILE);
    let instance = match std::fs::read_to_string(&path) {
        Ok(found) if !found.trim().is_empty() => found.trim().to_owned(),
        _ => {
            let fresh = random_urlsafe(9)?;
            write_private(&path, &fresh)
                .map_err(|e| AppError::Startup(format!("cannot write {}: {e}", path.display())))?;
            fresh
        }
    };
    let released = crate::models::lease::release_instance(&mut *db.get()?, &instance)?;
    if released > 0 {
        tracing::info!(leases = released, "released the refresh leases of this instance's previous run");
    }
    Ok(instance)
}

/// Writes a file only its owner may read.
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, contents.as_bytes())
}
