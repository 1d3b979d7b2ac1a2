//! The refresh lease on a connection row: how app instances sharing one database agree that exactly
//! one of them refreshes a token. Taking it is one conditional UPDATE (free or expired, and the
//! tokens still the version the taker saw); storing the result is another (the tokens still that
//! version, whoever holds the lease by then: a store retried after a database fault must land
//! unless someone else changed the tokens meanwhile).

use diesel::prelude::*;

use crate::crypto::{Keyring, Secret, SecretSlot};
use crate::db::DbConn;
use crate::db::schema::connections;
use crate::domain::connection::Status;
use crate::error::AppError;

/// How long a lease lasts: the token request's own timeout and a few seconds, so that a holder that
/// died keeps no one waiting for long.
pub const LEASE_SECS: i64 = 20;

/// Takes the lease for `holder` if it is free or expired and the tokens are still `version`, and
/// notes the attempt.
pub fn take(conn: &mut DbConn, id: i64, version: i64, holder: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        connections::table
            .find(id)
            .filter(connections::token_version.eq(version))
            .filter(connections::status.eq(Status::Connected.as_str()))
            .filter(connections::lease_until.is_null().or(connections::lease_until.lt(now))),
    )
    .set((
        connections::lease_holder.eq(Some(holder)),
        connections::lease_until.eq(Some(now + LEASE_SECS)),
        connections::last_refresh_attempt_at.eq(Some(now)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Who holds the lease on connection `id`, if anyone (a caller that could not take it says so).
pub fn holder(conn: &mut DbConn, id: i64) -> QueryResult<Option<String>> {
    connections::table.find(id).select(connections::lease_holder).get_result(conn)
}

/// New tokens from a refresh.
#[derive(Clone)]
pub struct Refreshed {
    pub access_token: Secret,
    /// `None`: the provider sent none, and the stored one stays.
    pub refresh_token: Option<Secret>,
    /// The refresh token this one replaces, kept until the new one has been used once (a provider's
    /// grace window may still take it). `None` when nothing was rotated.
    pub replaced: Option<Secret>,
    pub expires_at: Option<i64>,
    /// When the refresh token expires, if the provider said; a new refresh token without one
    /// clears the stored expiry (it was the old token's).
    pub refresh_expires_at: Option<i64>,
    pub granted: Option<Vec<String>>,
    /// Changed values from the provider, with the destinations they entrust the credentials to
    /// (`ops::captured::after_refresh`): both as stored.
    pub captured: Option<(Option<String>, String)>,
}

/// Stores refreshed tokens over `version` and releases the lease. Returns false when the tokens are
/// no longer that version (someone revoked, reconnected or refreshed meanwhile): nothing is written.
pub fn store(
    conn: &mut DbConn,
    keyring: &Keyring,
    id: i64,
    version: i64,
    new: &Refreshed,
    now: i64,
) -> Result<bool, AppError> {
    let row_id = id.to_string();
    let seal =
        |column, secret: &Secret| keyring.seal(&SecretSlot::new("connections", column, &row_id), secret);
    let access = seal("access_token", &new.access_token)?;
    let refresh = new.refresh_token.as_ref().map(|t| seal("refresh_token", t)).transpose()?;
    // The refresh that used a rotated token proves the new one works: the old one goes.
    let previous = new.replaced.as_ref().map(|t| seal("previous_refresh_token", t)).transpose()?;
    let target = connections::table
        .find(id)
        .filter(connections::token_version.eq(version))
        .filter(connections::status.eq(Status::Connected.as_str()));
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
        connections::previous_refresh_token.eq(previous),
    );
    let rotated = refresh.is_some();
    let written = crate::db::write_tx(conn, |conn| {
        let n = match refresh {
            Some(sealed) => diesel::update(target)
                .set((common, connections::refresh_token.eq(Some(sealed))))
                .execute(conn)?,
            None => diesel::update(target).set(common).execute(conn)?,
        };
        if n == 1 && (rotated || new.refresh_expires_at.is_some()) {
            diesel::update(connections::table.find(id))
                .set(connections::refresh_expires_at.eq(new.refresh_expires_at))
                .execute(conn)?;
        }
        if n == 1
            && let Some((captured, entrusted)) = &new.captured
        {
            diesel::update(connections::table.find(id))
                .set((connections::captured.eq(captured), connections::entrusted_origins.eq(Some(entrusted))))
                .execute(conn)?;
        }
        if n == 1
            && let Some(granted) = &new.granted
        {
            let json = serde_json::to_string(granted).unwrap_or_else(|_| "[]".into());
            diesel::update(connections::table.find(id))
                .set(connections::scopes_granted.eq(Some(json)))
                .execute(conn)?;
        }
        Ok::<_, AppError>(n == 1)
    })?;
    Ok(written)
}

/// A passing failure: the lease is released, the failure counted, and the background refresher
/// waits until `retry_after`. The status and the tokens are kept.
pub fn release_failed(
    conn: &mut DbConn,
    id: i64,
    holder: &str,
    message: &str,
    retry_after: i64,
    now: i64,
) -> QueryResult<()> {
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

/// The provider throttled the refresh (a 429): the lease is released and the background refresher
/// waits until `retry_after`, with no failure counted (the grant and the client are fine).
pub fn release_throttled(
    conn: &mut DbConn,
    id: i64,
    holder: &str,
    message: &str,
    retry_after: i64,
    now: i64,
) -> QueryResult<()> {
    diesel::update(connections::table.find(id).filter(connections::lease_holder.eq(holder)))
        .set((
            connections::lease_holder.eq(None::<String>),
            connections::lease_until.eq(None::<i64>),
            connections::retry_after.eq(Some(retry_after)),
            connections::status_message.eq(Some(message)),
            connections::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Releases `holder`'s lease on connection `id` with nothing recorded: the refresh was not sent.
pub fn release(conn: &mut DbConn, id: i64, holder: &str) -> QueryResult<()> {
    diesel::update(connections::table.find(id).filter(connections::lease_holder.eq(holder)))
        .set((connections::lease_holder.eq(None::<String>), connections::lease_until.eq(None::<i64>)))
        .execute(conn)
        .map(drop)
}

/// Extends `holder`'s lease on connection `id` to a full `LEASE_SECS` from `now`, for a refresh that
/// waited its turn to send. False when it is no longer `holder`'s: another instance took it once it
/// ran out, and may be refreshing, so this one must not send.
pub fn renew(conn: &mut DbConn, id: i64, holder: &str, now: i64) -> QueryResult<bool> {
    diesel::update(connections::table.find(id).filter(connections::lease_holder.eq(holder)))
        .set(connections::lease_until.eq(Some(now + LEASE_SECS)))
        .execute(conn)
        .map(|n| n == 1)
}

/// Releases every lease an earlier run of this instance held (`<instance>:` holders): a process
/// killed mid-refresh keeps no connection waiting for its lease to run out.
pub fn release_instance(conn: &mut DbConn, instance: &str) -> QueryResult<usize> {
    let mine = connections::lease_holder.like(format!("{}:%", like_escaped(instance))).escape('\\');
    // `IS NOT NULL` spelled out: it is what lets both planners use the partial index of leases.
    diesel::update(connections::table.filter(connections::lease_holder.is_not_null()).filter(mine))
        .set((connections::lease_holder.eq(None::<String>), connections::lease_until.eq(None::<i64>)))
        .execute(conn)
}

/// Releases the leases `holder` (this process) still holds: at shutdown, so that another instance
/// need not wait for them to run out.
pub fn release_holder(conn: &mut DbConn, holder: &str) -> QueryResult<usize> {
    diesel::update(connections::table.filter(connections::lease_holder.eq(holder)))
        .set((connections::lease_holder.eq(None::<String>), connections::lease_until.eq(None::<i64>)))
        .execute(conn)
}

fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Connected connections of service `service_id` whose tokens were last obtained at or before
/// `cutoff` and that hold a refresh token (the keep-alive of refresh tokens that die when idle),
/// with their token versions, outside any cooldown.
pub fn idle_since(
    conn: &mut DbConn,
    service_id: i64,
    cutoff: i64,
    now: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, i64)>> {
    connections::table
        .filter(connections::service_id.eq(service_id))
        .filter(connections::status.eq(Status::Connected.as_str()))
        .filter(connections::refresh_token.is_not_null())
        .filter(
            connections::last_refresh_at
                .le(cutoff)
                .or(connections::last_refresh_at.is_null().and(connections::connected_at.le(cutoff))),
        )
        .filter(connections::retry_after.is_null().or(connections::retry_after.le(now)))
        .order(connections::id.asc())
        .limit(limit)
        .select((connections::id, connections::token_version))
        .load(conn)
}
