//! The events webhooks carry, and how one is queued: a delivery per enabled endpoint that wants it,
//! written on the caller's connection (inside the change's own transaction where the caller has
//! one). The body follows the Standard Webhooks shape: `{"type", "timestamp", "data"}`; it never
//! holds a secret.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::clock::rfc3339;
use crate::db::DbConn;
use crate::db::schema::{connections, services, users};
use crate::error::AppError;
use crate::models::{webhook, webhook_delivery};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    NeedsReconnect,
    Recovered,
    RefreshFailing,
    /// A connected connection's refresh token comes within a week of expiring (`reconnect_soon`).
    ReconnectSoon,
    CredentialsRefused,
    Created,
    Deleted,
    Revoked,
    /// The "Send test" button's, sent to one endpoint whatever it wants.
    Test,
}

impl Event {
    /// What an endpoint can ask for.
    pub const ALL: [Event; 8] = [
        Event::NeedsReconnect,
        Event::Recovered,
        Event::RefreshFailing,
        Event::ReconnectSoon,
        Event::CredentialsRefused,
        Event::Created,
        Event::Deleted,
        Event::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::NeedsReconnect => "connection.needs_reconnect",
            Event::Recovered => "connection.recovered",
            Event::RefreshFailing => "connection.refresh_failing",
            Event::ReconnectSoon => "connection.reconnect_soon",
            Event::CredentialsRefused => "service.credentials_refused",
            Event::Created => "connection.created",
            Event::Deleted => "connection.deleted",
            Event::Revoked => "connection.revoked",
            Event::Test => "webhook.test",
        }
    }

    /// As the endpoint form shows it.
    pub fn label(self) -> &'static str {
        match self {
            Event::NeedsReconnect => "A connection needs reconnecting",
            Event::Recovered => "A connection works again",
            Event::RefreshFailing => "A connection's token refreshes keep failing",
            Event::ReconnectSoon => "A connection's refresh token expires within a week",
            Event::CredentialsRefused => "A service's client credentials were refused",
            Event::Created => "A connection was created",
            Event::Deleted => "A connection was deleted",
            Event::Revoked => "A connection was revoked",
            Event::Test => "Test",
        }
    }

    pub fn parse(raw: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == raw)
    }
}

/// Whether a connection was broken (Needs reconnect, or its refreshes failing): working again, it
/// has recovered.
pub fn was_broken(row: &crate::models::connection::ConnectionRow) -> bool {
    row.status() == crate::domain::connection::Status::NeedsReconnect
        || row.refresh_failures >= crate::models::attention::FAILING_AFTER
}

/// A webhook body: the event, when it happened, and what it is about.
pub fn body(event: Event, data: Value, now: i64) -> String {
    json!({ "type": event.as_str(), "timestamp": rfc3339(now), "data": data }).to_string()
}

/// A new `webhook-id`: the same on every attempt of one delivery.
fn message_id() -> Result<String, AppError> {
    Ok(format!("msg_{}", crate::random::random_urlsafe(18)?))
}

/// Queues `event` about `data` for every enabled endpoint that wants it; returns how many.
pub fn enqueue(
    conn: &mut DbConn,
    event: Event,
    data: impl FnOnce(&mut DbConn) -> QueryResult<Value>,
    now: i64,
) -> Result<usize, AppError> {
    let endpoints = webhook::wanting(conn, event.as_str())?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let payload = body(event, data(conn)?, now);
    for endpoint in &endpoints {
        webhook_delivery::insert(conn, endpoint.id, &message_id()?, event.as_str(), &payload, now)?;
    }
    Ok(endpoints.len())
}

/// Queues a connection's `event`, describing the connection as it is now (call it before a
/// delete).
pub fn connection_event(conn: &mut DbConn, event: Event, id: i64, now: i64) -> Result<usize, AppError> {
    enqueue(conn, event, |c| connection_data(c, id), now)
}

/// Queues `connection.reconnect_soon` for connection `id`: the connection, and when its refresh
/// token expires.
pub fn reconnect_soon(conn: &mut DbConn, id: i64, now: i64) -> Result<usize, AppError> {
    let data = |c: &mut DbConn| -> QueryResult<Value> {
        let mut data = connection_data(c, id)?;
        let at: Option<i64> =
            connections::table.find(id).select(connections::refresh_expires_at).get_result(c)?;
        data["connection"]["refresh_token_expires_at"] = at.map(rfc3339).into();
        Ok(data)
    };
    enqueue(conn, Event::ReconnectSoon, data, now)
}

/// Queues `service.credentials_refused` for service `id`.
pub fn service_refused(conn: &mut DbConn, id: i64, now: i64) -> Result<usize, AppError> {
    let data = |c: &mut DbConn| -> QueryResult<Value> {
        let (link_name, name, message): (String, String, Option<String>) = services::table
            .find(id)
            .select((services::link_name, services::name, services::client_refused_message))
            .get_result(c)?;
        Ok(json!({ "service": { "link_name": link_name, "name": name, "message": message } }))
    };
    enqueue(conn, Event::CredentialsRefused, data, now)
}

/// A test delivery to endpoint `endpoint_id`.
pub fn test_delivery(conn: &mut DbConn, endpoint_id: i64, now: i64) -> Result<(), AppError> {
    let payload = body(Event::Test, json!({ "message": "A test from Connections." }), now);
    Ok(webhook_delivery::insert(conn, endpoint_id, &message_id()?, Event::Test.as_str(), &payload, now)?)
}

/// What a connection event says about it: names, service, owner and status, never a secret.
fn connection_data(conn: &mut DbConn, id: i64) -> QueryResult<Value> {
    let (link_name, name, status, message, service, owner): (
        String,
        String,
        String,
        Option<String>,
        String,
        String,
    ) = crate::on_backend!(conn, |c| connections::table
        .inner_join(services::table)
        .inner_join(users::table)
        .filter(connections::id.eq(id))
        .select((
            connections::link_name,
            connections::name,
            connections::status,
            connections::status_message,
            services::link_name,
            users::username,
        ))
        .get_result(c))?;
    Ok(json!({ "connection": {
        "link_name": link_name,
        "name": name,
        "service": service,
        "owner": owner,
        "status": status,
        "status_message": message,
    } }))
}
