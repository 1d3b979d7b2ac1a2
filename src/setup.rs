//! First start: create the `admin` SDAdmin (with the configured password or a generated one) and seed
//! the alias URL setting from the base URL. Every start: record where stored secrets were entrusted
//! when that is not known yet.

use url::Url;

use crate::auth::password;
use crate::auth::token::random_urlsafe;
use crate::config::Config;
use crate::crypto::Secret;
use crate::db::{Db, write_tx};
use crate::error::AppError;
use crate::models::{setting, user};

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
            password::check_policy(p).map_err(|why| AppError::Startup(format!("CONNECTIONS_ADMIN_PASSWORD: {why}")))?;
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
    let filled = crate::models::destinations::backfill(&mut *db.get()?)?;
    if filled > 0 {
        tracing::info!(rows = filled, "recorded the destinations of stored secrets");
    }
    Ok(())
}
