//! Webhook endpoints in the database: the row (its URL and signing secret sealed, opened only to
//! send and sign), and the writes of Settings > Notifications. The deliveries queued for them are in
//! `models::webhook_delivery`; the start-up sealing of URLs stored in plain text in `sealing`.

use diesel::prelude::*;

use crate::crypto::{Keyring, Secret, SecretSlot};
use crate::db::DbConn;
use crate::db::schema::webhook_endpoints;
pub use crate::domain::endpoint_url::MAILTO;
use crate::domain::endpoint_url::masked;
use crate::error::AppError;

mod sealing;
pub use sealing::{mask_audit_urls, seal_plain_urls};

/// Where an endpoint's sealed `column` (`secret`, `url`) is bound: table, column, row id.
fn slot<'a>(column: &'a str, id: &'a str) -> SecretSlot<'a> {
    SecretSlot::new("webhook_endpoints", column, id)
}

/// An endpoint as stored. `url` and `secret` are sealed; `Debug` shows neither.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: i64,
    /// What may be shown of the URL; the full URL of a row not sealed yet (see `sealing`).
    shown_url: String,
    pub description: String,
    /// The events it wants, a JSON array of names.
    pub events: String,
    pub enabled: bool,
    secret: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
    /// An email endpoint (`mailto:`) also writes to the connection's owner.
    pub email_owner: bool,
    /// The URL, sealed; `None` for a row written before URLs were sealed, until start-up seals it.
    url: Option<Vec<u8>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("url", &self.shown_url())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The event names it wants.
    pub fn events(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    /// What pages show of its URL: scheme, host and a masked path (`domain::endpoint_url`).
    pub fn shown_url(&self) -> String {
        match self.url {
            Some(_) => self.shown_url.clone(),
            None => masked(&self.shown_url),
        }
    }

    /// An email endpoint: its URL is `mailto:` and a list of addresses.
    pub fn is_email(&self) -> bool {
        self.shown_url.starts_with(MAILTO)
    }

    pub fn wants(&self, event: &str) -> bool {
        self.events().iter().any(|e| e == event)
    }

    /// The full URL, opened to send a delivery.
    pub fn open_url(&self, keyring: &Keyring) -> Result<Secret, AppError> {
        match &self.url {
            Some(sealed) => Ok(keyring.open(&slot("url", &self.id.to_string()), sealed)?),
            None => Ok(Secret::new(self.shown_url.clone())),
        }
    }

    /// The signing secret (`whsec_…`), opened to sign a delivery.
    pub fn open_secret(&self, keyring: &Keyring) -> Result<Secret, AppError> {
        Ok(keyring.open(&slot("secret", &self.id.to_string()), &self.secret)?)
    }
}

/// What an admin sets on an endpoint.
#[derive(Clone)]
pub struct EndpointInput {
    /// The full URL; `None` on an edit keeps the stored one.
    pub url: Option<Secret>,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub email_owner: bool,
}

impl std::fmt::Debug for EndpointInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.url.as_ref().map(|u| masked(u.expose()));
        f.debug_struct("EndpointInput").field("url", &url).finish_non_exhaustive()
    }
}

fn events_json(events: &[String]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".into())
}

/// Seals `url` for row `id` and stores it with what may be shown of it.
fn store_url(conn: &mut DbConn, keyring: &Keyring, id: i64, url: &Secret) -> Result<(), AppError> {
    let sealed = keyring.seal(&slot("url", &id.to_string()), url)?;
    diesel::update(webhook_endpoints::table.find(id))
        .set((webhook_endpoints::url.eq(Some(sealed)), webhook_endpoints::shown_url.eq(masked(url.expose()))))
        .execute(conn)?;
    Ok(())
}

/// A new endpoint with its URL and signing secret, sealed for its own row (so the row is written
/// first, then the secrets, in one transaction).
pub fn insert(
    conn: &mut DbConn,
    keyring: &Keyring,
    input: &EndpointInput,
    secret: &Secret,
    now: i64,
) -> Result<i64, AppError> {
    let url = input.url.as_ref().ok_or_else(|| AppError::Internal("a new endpoint needs its URL".into()))?;
    crate::db::write_tx(conn, |conn| {
        let id: i64 = diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::shown_url.eq(masked(url.expose())),
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
        let sealed = keyring.seal(&slot("secret", &id.to_string()), secret)?;
        diesel::update(webhook_endpoints::table.find(id))
            .set(webhook_endpoints::secret.eq(sealed))
            .execute(conn)?;
        store_url(conn, keyring, id, url)?;
        Ok(id)
    })
}

/// Changes an endpoint (its URL only when the input has one); returns how many rows changed.
pub fn update(
    conn: &mut DbConn,
    keyring: &Keyring,
    id: i64,
    input: &EndpointInput,
    now: i64,
) -> Result<usize, AppError> {
    crate::db::write_tx(conn, |conn| {
        let changed = diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::description.eq(&input.description),
                webhook_endpoints::events.eq(events_json(&input.events)),
                webhook_endpoints::enabled.eq(input.enabled),
                webhook_endpoints::email_owner.eq(input.email_owner),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(conn)?;
        if let (1, Some(url)) = (changed, &input.url) {
            store_url(conn, keyring, id, url)?;
        }
        Ok(changed)
    })
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
