//! The refresh lease on a connection row: how app instances sharing one database agree that exactly
//! one of them refreshes a token. Taking it is one conditional UPDATE (free or expired, and the
//! tokens still the version the taker saw); storing the result is another (still the holder).

use diesel::prelude::*;

use crate::crypto::{Keyring, Secret};
use crate::db::DbConn;
use crate::db::schema::connections;
use crate::domain::connection::Status;
use crate::error::AppError;

/// How long a lease lasts: well beyond the token request's own timeout, so a live holder never
/// loses it mid-request.
pub const LEASE_SECS: i64 = 60;

/// Takes the lease for `holder` if it is free or expired and the tokens are still `version`.
pub fn take(conn: &mut DbConn, id: i64, version: i64, holder: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        connections::table
            .find(id)
            .filter(connections::token_version.eq(version))
            .filter(connections::status.eq(Status::Connected.as_str()))
            .filter(connections::lease_until.is_null().or(connections::lease_until.lt(now))),
    )
    .set((connections::lease_holder.eq(Some(holder)), connections::lease_until.eq(Some(now + LEASE_SECS))))
    .execute(conn)
    .map(|n| n == 1)
}

/// New tokens from a refresh. `refresh_token: None` keeps the stored one (the provider sent none).
pub struct Refreshed {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_at: Option<i64>,
    pub granted: Option<Vec<String>>,
}

/// Stores refreshed tokens and releases the lease, only while `holder` still holds it. Returns false
/// when the lease was lost (then nothing is written).
pub fn store(conn: &mut DbConn, keyring: &Keyring, id: i64, holder: &str, new: &Refreshed, now: i64) -> Result<bool, AppError> {
    let row_id = id.to_string();
    let access = keyring.seal(&crate::crypto::SecretSlot::new("connections", "access_token", &row_id), &new.access_token)?;
    let refresh = new
        .refresh_token
        .as_ref()
        .map(|t| keyring.seal(&crate::crypto::SecretSlot::new("connections", "refresh_token", &row_id), t))
        .transpose()?;
    let target = connections::table.find(id).filter(connections::lease_holder.eq(holder));
    let common = (
        connections::access_token.eq(Some(access)),
        connections::expires_at.eq(new.expires_at),
        connections::token_version.eq(connections::token_version + 1),
        connections::lease_holder.eq(None::<String>),
        connections::lease_until.eq(None::<i64>),
        connections::refresh_failures.eq(0),
        connections::retry_after.eq(None::<i64>),
        connections::status_message.eq(None::<String>),
        connections::last_refresh_at.eq(Some(now)),
        connections::updated_at.eq(now),
    );
    let written = crate::db::write_tx(conn, |conn| {
        let n = match refresh {
            // A rotated refresh token replaces the old one at once: the old one is dead at the provider.
            Some(sealed) => diesel::update(target).set((common, connections::refresh_token.eq(Some(sealed)))).execute(conn)?,
            None => diesel::update(target).set(common).execute(conn)?,
        };
        if n == 1
            && let Some(granted) = &new.granted
        {
            let json = serde_json::to_string(granted).unwrap_or_else(|_| "[]".into());
            diesel::update(connections::table.find(id)).set(connections::scopes_granted.eq(Some(json))).execute(conn)?;
        }
        Ok::<_, AppError>(n == 1)
    })?;
    Ok(written)
}

/// A passing failure: the lease is released, the failure counted, and the next try waits until
/// `retry_after`. The status is kept.
pub fn release_failed(conn: &mut DbConn, id: i64, holder: &str, message: &str, retry_after: i64, now: i64) -> QueryResult<()> {
    diesel::update(connections::table.find(id).filter(connections::lease_holder.eq(holder)))
        .set((
            connections::lease_holder.eq(None::<String>),
            connections::lease_until.eq(None::<i64>),
            connections::refresh_failures.eq(connections::refresh_failures + 1),
            connections::retry_after.eq(Some(retry_after)),
            connections::status_message.eq(Some(message)),
            connections::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}
