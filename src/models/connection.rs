//! Connections in the database: the row (with sealed secrets that are opened only where they are
//! used), the look-ups, and the writes of each lifecycle step. Lists are read in `lists::connections`.

use diesel::prelude::*;

use crate::crypto::{Keyring, Secret, SecretSlot};
use crate::db::schema::{connections, services, users};
use crate::db::{DbConn, IdIn};
use crate::domain::connection::{Credentials, Status};
use crate::domain::destinations::Destinations;
use crate::domain::variables::{self, Values};
use crate::error::AppError;
use crate::models::service::ServiceRow;

mod loaded;
pub mod owner;
mod scans;
pub use loaded::{Loaded, resolve, unresolved};
pub use scans::{Due, claim_reconnect_soon, count_by_status, due_for_refresh, rearm_reconnect_soon};

/// Where a connection secret's ciphertext is bound: table, column, row id.
fn slot<'a>(column: &'a str, id: &'a str) -> SecretSlot<'a> {
    SecretSlot::new("connections", column, id)
}

/// What may be shown of a connection: every column but the sealed secrets and the refresh lease.
/// Lists load only this (a page of whole rows would copy every ciphertext for nothing).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = connections)]
pub struct ConnectionMeta {
    pub id: i64,
    pub link_name: String,
    pub name: String,
    pub name_lower: String,
    pub service_id: i64,
    pub owner_id: i64,
    pub scopes_requested: String,
    pub scopes_granted: Option<String>,
    #[diesel(deserialize_as = String)]
    pub status: Status,
    pub status_message: Option<String>,
    pub connected_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// When the refresh token expires, as the provider said.
    pub refresh_expires_at: Option<i64>,
    #[diesel(select_expression = connections::refresh_token.is_not_null())]
    #[diesel(select_expression_type = diesel::dsl::IsNotNull<connections::refresh_token>)]
    pub has_refresh_token: bool,
    pub last_refresh_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoke_outcome: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Its values for the service's connection variables (a JSON object), fixed at creation.
    pub variables: Option<String>,
    /// What the provider returned at connect time (a JSON object, see `domain::captures`).
    pub captured: Option<String>,
}

/// The whole row: the metadata and the sealed secrets, opened only where they are used.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = connections)]
pub struct ConnectionRow {
    #[diesel(embed)]
    pub meta: ConnectionMeta,
    pub credentials: Option<Vec<u8>>,
    pub access_token: Option<Vec<u8>>,
    pub refresh_token: Option<Vec<u8>>,
    pub token_version: i64,
    pub lease_holder: Option<String>,
    pub lease_until: Option<i64>,
    pub refresh_failures: i32,
    pub retry_after: Option<i64>,
    /// Where its secrets may be sent (`Destinations` as JSON), recorded when it was connected.
    pub entrusted_origins: Option<String>,
    /// The refresh token a rotation replaced, until its successor has been used once.
    pub previous_refresh_token: Option<Vec<u8>>,
    pub last_refresh_attempt_at: Option<i64>,
}

/// A row reads like its metadata (`row.link_name`), so the token code need not spell `row.meta`.
impl std::ops::Deref for ConnectionRow {
    type Target = ConnectionMeta;

    fn deref(&self) -> &ConnectionMeta {
        &self.meta
    }
}

fn json_list(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

impl ConnectionMeta {
    pub fn status(&self) -> Status {
        self.status
    }

    pub fn scopes_requested(&self) -> Vec<String> {
        json_list(&self.scopes_requested)
    }

    pub fn scopes_granted(&self) -> Option<Vec<String>> {
        self.scopes_granted.as_deref().map(json_list)
    }

    /// Its values for the service's connection variables.
    pub fn variables(&self) -> Values {
        variables::parse(self.variables.as_deref())
    }

    /// The values the provider returned at connect time, by name.
    pub fn captured(&self) -> Values {
        variables::parse(self.captured.as_deref())
    }
}

impl ConnectionRow {
    fn open(
        &self,
        keyring: &Keyring,
        column: &str,
        sealed: &Option<Vec<u8>>,
    ) -> Result<Option<Secret>, AppError> {
        let id = self.id.to_string();
        Ok(sealed.as_deref().map(|s| keyring.open(&slot(column, &id), s)).transpose()?)
    }

    pub fn open_credentials(&self, keyring: &Keyring) -> Result<Option<Credentials>, AppError> {
        self.open(keyring, "credentials", &self.credentials)?
            .map(|json| {
                serde_json::from_str(json.expose()).map_err(|_| {
                    AppError::Internal(format!("connection {} has unreadable credentials", self.id))
                })
            })
            .transpose()
    }

    /// Where its secrets were entrusted to be sent (nothing, when unknown).
    pub fn entrusted(&self) -> Destinations {
        self.entrusted_origins.as_deref().map(Destinations::from_json).unwrap_or_default()
    }

    pub fn open_access_token(&self, keyring: &Keyring) -> Result<Option<Secret>, AppError> {
        self.open(keyring, "access_token", &self.access_token)
    }

    pub fn open_refresh_token(&self, keyring: &Keyring) -> Result<Option<Secret>, AppError> {
        self.open(keyring, "refresh_token", &self.refresh_token)
    }

    pub fn open_previous_refresh_token(&self, keyring: &Keyring) -> Result<Option<Secret>, AppError> {
        self.open(keyring, "previous_refresh_token", &self.previous_refresh_token)
    }

    /// When its current tokens were obtained (a connect or the last refresh).
    pub fn obtained_at(&self) -> Option<i64> {
        self.connected_at.max(self.last_refresh_at)
    }
}

/// A new connection, not connected yet.
pub struct NewConnection<'a> {
    pub link_name: &'a str,
    pub name: &'a str,
    pub service_id: i64,
    pub owner_id: i64,
    pub scopes: &'a [String],
    /// Its values for the service's connection variables (none stored when empty).
    pub variables: &'a Values,
}

pub fn insert(conn: &mut DbConn, new: &NewConnection, now: i64) -> QueryResult<i64> {
    let json = |v: Result<String, serde_json::Error>, empty: &str| v.unwrap_or_else(|_| empty.into());
    let variables = (!new.variables.is_empty()).then(|| json(serde_json::to_string(new.variables), "{}"));
    diesel::insert_into(connections::table)
        .values((
            connections::link_name.eq(new.link_name),
            connections::name.eq(new.name),
            connections::name_lower.eq(new.name.to_lowercase()),
            connections::service_id.eq(new.service_id),
            connections::owner_id.eq(new.owner_id),
            connections::scopes_requested.eq(json(serde_json::to_string(new.scopes), "[]")),
            connections::status.eq(Status::NotConnected.as_str()),
            connections::variables.eq(variables),
            connections::token_version.eq(0),
            connections::refresh_failures.eq(0),
            connections::created_at.eq(now),
            connections::updated_at.eq(now),
        ))
        .returning(connections::id)
        .get_result(conn)
}

pub fn find(conn: &mut DbConn, link_name: &str) -> QueryResult<Option<ConnectionRow>> {
    connections::table
        .filter(connections::link_name.eq(link_name))
        .select(ConnectionRow::as_select())
        .get_result(conn)
        .optional()
}

/// A connection with its service and its owner's name, in one statement (one round trip instead of
/// three: invokes and details pages start here).
pub fn find_with_service(conn: &mut DbConn, link_name: &str) -> QueryResult<Option<Loaded>> {
    let found: Option<(ConnectionRow, ServiceRow, String)> =
        crate::on_backend!(conn, |c| connections::table
            .inner_join(services::table)
            .inner_join(users::table)
            .filter(connections::link_name.eq(link_name))
            .select((ConnectionRow::as_select(), ServiceRow::as_select(), users::username))
            .get_result(c)
            .optional())?;
    Ok(found.map(|(row, service, owner)| Loaded::new(row, service, owner)))
}

pub fn find_by_id(conn: &mut DbConn, id: i64) -> QueryResult<ConnectionRow> {
    connections::table.find(id).select(ConnectionRow::as_select()).get_result(conn)
}

/// The connections `ids` with their services and owners' names, in one statement (a JSON list's
/// page of whole connections).
pub fn find_loaded(conn: &mut DbConn, ids: Vec<i64>) -> QueryResult<Vec<Loaded>> {
    let slots = ids.len();
    let found: Vec<(ConnectionRow, ServiceRow, String)> = connections::table
        .inner_join(services::table)
        .inner_join(users::table)
        .filter(IdIn::padded("connections.id", ids, slots))
        .select((ConnectionRow::as_select(), ServiceRow::as_select(), users::username))
        .load(conn)?;
    Ok(found.into_iter().map(|(row, service, owner)| Loaded::new(row, service, owner)).collect())
}

/// Renames and (for OAuth2) changes the requested scopes; a scope change needs a new consent, so it
/// marks the connection Not connected with `message` and forgets its tokens.
pub fn update_meta(
    conn: &mut DbConn,
    id: i64,
    name: &str,
    scopes: &[String],
    reset: Option<&str>,
    now: i64,
) -> QueryResult<()> {
    let scopes = serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into());
    crate::db::write_tx(conn, |conn| {
        diesel::update(connections::table.find(id))
            .set((
                connections::name.eq(name),
                connections::name_lower.eq(name.to_lowercase()),
                connections::scopes_requested.eq(&scopes),
                connections::updated_at.eq(now),
            ))
            .execute(conn)?;
        if let Some(message) = reset {
            clear_secrets(conn, id, Status::NotConnected, Some(message), None, now)?;
        }
        Ok(())
    })
}

/// Stores API key or Basic credentials, entrusted to `entrusted`: the connection is Connected.
pub fn store_credentials(
    conn: &mut DbConn,
    keyring: &Keyring,
    id: i64,
    credentials: &Credentials,
    entrusted: &Destinations,
    now: i64,
) -> Result<(), AppError> {
    let json =
        Secret::new(serde_json::to_string(credentials).map_err(|e| AppError::Internal(e.to_string()))?);
    let sealed = keyring.seal(&slot("credentials", &id.to_string()), &json)?;
    diesel::update(connections::table.find(id))
        .set((
            connections::credentials.eq(Some(sealed)),
            connections::entrusted_origins.eq(Some(entrusted.to_json())),
            connections::access_token.eq(None::<Vec<u8>>),
            connections::refresh_token.eq(None::<Vec<u8>>),
            connections::expires_at.eq(None::<i64>),
            connections::status.eq(Status::Connected.as_str()),
            connections::status_message.eq(None::<String>),
            connections::connected_at.eq(Some(now)),
            connections::token_version.eq(connections::token_version + 1),
            connections::revoke_outcome.eq(None::<String>),
            connections::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Tokens from a consent or client-credentials grant: the connection is Connected.
pub struct NewTokens<'a> {
    pub access_token: &'a Secret,
    pub refresh_token: Option<&'a Secret>,
    pub expires_at: Option<i64>,
    pub refresh_expires_at: Option<i64>,
    pub granted: &'a [String],
    /// The service's destinations the tokens were obtained under.
    pub entrusted: &'a Destinations,
    /// The values the provider returned with them (all of them: a connect replaces the earlier ones).
    pub captured: &'a Values,
}

pub fn store_tokens(
    conn: &mut DbConn,
    keyring: &Keyring,
    id: i64,
    tokens: &NewTokens,
    now: i64,
) -> Result<(), AppError> {
    let row_id = id.to_string();
    let access = keyring.seal(&slot("access_token", &row_id), tokens.access_token)?;
    let refresh =
        tokens.refresh_token.map(|t| keyring.seal(&slot("refresh_token", &row_id), t)).transpose()?;
    diesel::update(connections::table.find(id))
        .set((
            connections::credentials.eq(None::<Vec<u8>>),
            connections::entrusted_origins.eq(Some(tokens.entrusted.to_json())),
            connections::captured.eq(variables::to_json(tokens.captured)),
            connections::access_token.eq(Some(access)),
            connections::refresh_token.eq(refresh),
            connections::expires_at.eq(tokens.expires_at),
            connections::refresh_expires_at.eq(tokens.refresh_expires_at),
            // A new grant: its expiry earns its own `connection.reconnect_soon`.
            connections::reconnect_soon_sent_at.eq(None::<i64>),
            connections::scopes_granted
                .eq(Some(serde_json::to_string(tokens.granted).unwrap_or_else(|_| "[]".into()))),
            connections::status.eq(Status::Connected.as_str()),
            connections::status_message.eq(None::<String>),
            connections::connected_at.eq(Some(now)),
            connections::token_version.eq(connections::token_version + 1),
            connections::refresh_failures.eq(0),
            connections::retry_after.eq(None::<i64>),
            connections::revoke_outcome.eq(None::<String>),
            connections::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets every stored secret and sets the status (revoke, a scope change, a rejected grant).
pub fn clear_secrets(
    conn: &mut DbConn,
    id: i64,
    status: Status,
    message: Option<&str>,
    revoke_outcome: Option<&str>,
    now: i64,
) -> QueryResult<()> {
    diesel::update(connections::table.find(id))
        .set((
            connections::credentials.eq(None::<Vec<u8>>),
            connections::access_token.eq(None::<Vec<u8>>),
            connections::refresh_token.eq(None::<Vec<u8>>),
            connections::expires_at.eq(None::<i64>),
            connections::refresh_expires_at.eq(None::<i64>),
            connections::status.eq(status.as_str()),
            connections::status_message.eq(message),
            connections::revoke_outcome.eq(revoke_outcome),
            connections::token_version.eq(connections::token_version + 1),
            connections::lease_holder.eq(None::<String>),
            connections::lease_until.eq(None::<i64>),
            connections::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a message without changing the status (a failed exchange, a provider error).
pub fn set_message(conn: &mut DbConn, id: i64, message: &str, now: i64) -> QueryResult<()> {
    diesel::update(connections::table.find(id))
        .set((connections::status_message.eq(Some(message)), connections::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(connections::table.find(id)).execute(conn)
}

/// The link names and display names of a service's connections.
pub fn names_for_service(conn: &mut DbConn, service_id: i64) -> QueryResult<Vec<(String, String)>> {
    connections::table
        .filter(connections::service_id.eq(service_id))
        .order((connections::name_lower, connections::id))
        .select((connections::link_name, connections::name))
        .load(conn)
}

/// Notes that a connection was used (written at most once a minute by callers).
pub fn mark_used(conn: &mut DbConn, id: i64, now: i64) -> QueryResult<()> {
    diesel::update(connections::table.find(id))
        .set(connections::last_used_at.eq(Some(now)))
        .execute(conn)
        .map(drop)
}
