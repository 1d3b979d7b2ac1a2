//! Webhook endpoints in the database: the row (its signing secret sealed, opened only to sign), and
//! the writes of Settings > Notifications. The deliveries queued for them are in
//! `models::webhook_delivery`.

use diesel::prelude::*;

use crate::crypto::{Keyring, Secret, SecretSlot};
use crate::db::DbConn;
use crate::db::schema::webhook_endpoints;
use crate::error::AppError;

/// The scheme of an email endpoint's URL.
pub const MAILTO: &str = "mailto:";

/// Where an endpoint's secret is bound: table, column, row id.
fn slot(id: &str) -> SecretSlot<'_> {
    SecretSlot::new("webhook_endpoints", "secret", id)
}

/// An endpoint as stored. `secret` is sealed; `Debug` shows only its length.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// The events it wants, a JSON array of names.
    pub events: String,
    pub enabled: bool,
    secret: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
    /// An email endpoint (`mailto:`) also writes to the connection's owner.
    pub email_owner: bool,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("id", &self.id).field("url", &self.url).finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The event names it wants.
    pub fn events(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    /// An email endpoint: its URL is `mailto:` and a list of addresses.
    pub fn is_email(&self) -> bool {
        self.url.starts_with(MAILTO)
    }

    pub fn wants(&self, event: &str) -> bool {
        self.events().iter().any(|e| e == event)
    }

    /// The signing secret (`whsec_…`), opened to sign a delivery.
    pub fn open_secret(&self, keyring: &Keyring) -> Result<Secret, AppError> {
        Ok(keyring.open(&slot(&self.id.to_string()), &self.secret)?)
    }
}

/// What an admin sets on an endpoint.
#[derive(Debug, Clone)]
pub struct EndpointInput {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub email_owner: bool,
}

fn events_json(events: &[String]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".into())
}

/// A new endpoint with its signing secret, sealed for its own row (so the row is written first,
/// then the secret, in one transaction).
pub fn insert(
    conn: &mut DbConn,
    keyring: &Keyring,
    input: &EndpointInput,
    secret: &Secret,
    now: i64,
) -> Result<i64, AppError> {
    crate::db::write_tx(conn, |conn| {
        let id: i64 = diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::url.eq(&input.url),
                webhook_endpoints::description.eq(&input.description),
                webhook_endpoints::events.eq(events_json(&input.events)),
                webhook_endpoints::enabled.eq(input.enabled),
                webhook_endpoints::email_owner.eq(input.email_owner),
                webhook_endpoints::secret.eq(Vec::<u8>::new()),
                webhook_endpoints::created_at.eq(now),
                webhook_endpoints::updated_at.eq(now),
            ))
            .returning(webhook_endpoints::id)
            .get_result(conn)?;
        let sealed = keyring.seal(&slot(&id.to_string()), secret)?;
        diesel::update(webhook_endpoints::table.find(id))
            .set(webhook_endpoints::secret.eq(sealed))
            .execute(conn)?;
        Ok(id)
    })
}

pub fn update(conn: &mut DbConn, id: i64, input: &EndpointInput, now: i64) -> QueryResult<usize> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::url.eq(&input.url),
            webhook_endpoints::description.eq(&input.description),
            webhook_endpoints::events.eq(events_json(&input.events)),
            webhook_endpoints::enabled.eq(input.enabled),
            webhook_endpoints::email_owner.eq(input.email_owner),
            webhook_endpoints::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(webhook_endpoints::table.find(id)).execute(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Endpoint>> {
    webhook_endpoints::table.find(id).select(Endpoint::as_select()).get_result(conn).optional()
}

/// Every endpoint, oldest first (a handful per portal).
pub fn all(conn: &mut DbConn) -> QueryResult<Vec<Endpoint>> {
    webhook_endpoints::table.order(webhook_endpoints::id).select(Endpoint::as_select()).load(conn)
}

/// The enabled endpoints that want `event`.
pub fn wanting(conn: &mut DbConn, event: &str) -> QueryResult<Vec<Endpoint>> {
    let enabled: Vec<Endpoint> = webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .select(Endpoint::as_select())
        .load(conn)?;
    Ok(enabled.into_iter().filter(|e| e.wants(event)).collect())
}

/// Whether any endpoint holds a sealed secret (the keyring's start-up check).
pub fn holds_sealed(conn: &mut DbConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(webhook_endpoints::table.select(webhook_endpoints::id)))
        .get_result(conn)
}
