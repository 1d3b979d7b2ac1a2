//! Authorization-code flows in progress, shared by every app instance through the database: found by
//! the hash of their `state`, claimed once, expiring after ten minutes.

use diesel::prelude::*;

use crate::crypto::{Keyring, Secret, SecretSlot};
use crate::db::DbConn;
use crate::db::schema::oauth_flows;
use crate::error::AppError;

/// How long a consent may take.
pub const FLOW_LIFETIME_SECS: i64 = 10 * 60;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_flows)]
pub struct OAuthFlow {
    pub state_hash: String,
    pub connection_id: i64,
    pub user_id: i64,
    pub session_hash: Option<String>,
    pub pkce_verifier: Vec<u8>,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl OAuthFlow {
    pub fn verifier(&self, keyring: &Keyring) -> Result<Secret, AppError> {
        Ok(keyring
            .open(&SecretSlot::new("oauth_flows", "pkce_verifier", &self.state_hash), &self.pkce_verifier)?)
    }

    pub fn scopes(&self) -> Vec<String> {
        serde_json::from_str(&self.scopes).unwrap_or_default()
    }
}

/// What starting a flow records.
pub struct NewFlow<'a> {
    pub state_hash: &'a str,
    pub connection_id: i64,
    pub user_id: i64,
    pub session_hash: Option<&'a str>,
    pub verifier: &'a Secret,
    pub scopes: &'a [String],
}

/// Records a new flow, and drops expired ones on the way (nothing else needs them).
pub fn insert(conn: &mut DbConn, keyring: &Keyring, flow: &NewFlow, now: i64) -> Result<(), AppError> {
    let sealed =
        keyring.seal(&SecretSlot::new("oauth_flows", "pkce_verifier", flow.state_hash), flow.verifier)?;
    diesel::delete(oauth_flows::table.filter(oauth_flows::expires_at.lt(now - FLOW_LIFETIME_SECS)))
        .execute(conn)?;
    diesel::insert_into(oauth_flows::table)
        .values((
            oauth_flows::state_hash.eq(flow.state_hash),
            oauth_flows::connection_id.eq(flow.connection_id),
            oauth_flows::user_id.eq(flow.user_id),
            oauth_flows::session_hash.eq(flow.session_hash),
            oauth_flows::pkce_verifier.eq(sealed),
            oauth_flows::scopes.eq(serde_json::to_string(flow.scopes).unwrap_or_else(|_| "[]".into())),
            oauth_flows::created_at.eq(now),
            oauth_flows::expires_at.eq(now + FLOW_LIFETIME_SECS),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, state_hash: &str) -> QueryResult<Option<OAuthFlow>> {
    oauth_flows::table.find(state_hash).select(OAuthFlow::as_select()).get_result(conn).optional()
}

/// Marks the flow used; true only for the one caller that got it first, while it is still valid.
/// This single conditional update is what makes a code exchange happen at most once, even when two
/// callbacks race on different app instances.
pub fn claim(conn: &mut DbConn, state_hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        oauth_flows::table
            .find(state_hash)
            .filter(oauth_flows::used_at.is_null())
            .filter(oauth_flows::expires_at.gt(now)),
    )
    .set(oauth_flows::used_at.eq(Some(now)))
    .execute(conn)
    .map(|n| n == 1)
}
