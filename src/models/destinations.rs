//! The origins secrets were entrusted to (see `domain::destinations`), in the database: recording
//! them for rows stored before they were kept, finding the connections a service change would send
//! elsewhere, and setting such a connection aside until its owner reconnects.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{connections, services, users};
use crate::domain::connection::Status;
use crate::domain::destinations::Destinations;
use crate::domain::variables::{self, Values};
use crate::models::service::ServiceRow;

/// Gives every stored secret without recorded origins those of its service as it is now, in one
/// transaction. Runs at start-up, before any request: a secret with no recorded origin is never sent.
pub fn backfill(conn: &mut DbConn) -> QueryResult<usize> {
    crate::db::write_tx(conn, |conn| {
        let holding = connections::credentials
            .is_not_null()
            .or(connections::access_token.is_not_null())
            .or(connections::refresh_token.is_not_null());
        let pending: Vec<ServiceRow> = services::table
            .filter(
                (services::client_secret.is_not_null().and(services::client_secret_origins.is_null())).or(
                    services::id.eq_any(
                        connections::table
                            .filter(connections::entrusted_origins.is_null().and(holding))
                            .select(connections::service_id),
                    ),
                ),
            )
            .select(ServiceRow::as_select())
            .load(conn)?;
        let mut filled = 0;
        for service in pending {
            let Ok(view) = service.view() else { continue };
            let destinations = Destinations::of(view.api_base_url.as_deref(), &view.config);
            filled += diesel::update(
                services::table.find(service.id).filter(services::client_secret.is_not_null()),
            )
            .filter(services::client_secret_origins.is_null())
            .set(services::client_secret_origins.eq(destinations.client_secret_part().to_json()))
            .execute(conn)?;
            filled += diesel::update(
                connections::table
                    .filter(connections::service_id.eq(service.id))
                    .filter(connections::entrusted_origins.is_null())
                    .filter(holding),
            )
            .set(connections::entrusted_origins.eq(destinations.to_json()))
            .execute(conn)?;
        }
        Ok(filled)
    })
}

/// A connection of a service that holds secrets, with where they were entrusted.
#[derive(Debug, Clone)]
pub struct Holder {
    pub id: i64,
    pub link_name: String,
    pub name: String,
    pub owner: String,
    pub entrusted: Destinations,
    /// Its values for the service's connection variables and what the provider returned: the
    /// values its URLs resolve with.
    pub values: Values,
}

/// id, link name, name, owner, entrusted origins, variables, captured values.
type HolderColumns = (i64, String, String, String, Option<String>, Option<String>, Option<String>);

/// The connections of `service_id` that hold a credential or a token, by owner and name.
pub fn holders(conn: &mut DbConn, service_id: i64) -> QueryResult<Vec<Holder>> {
    let rows: Vec<HolderColumns> = connections::table
        .inner_join(users::table)
        .filter(connections::service_id.eq(service_id))
        .filter(
            connections::credentials
                .is_not_null()
                .or(connections::access_token.is_not_null())
                .or(connections::refresh_token.is_not_null()),
        )
        .order((users::username, connections::name_lower, connections::id))
        .select((
            connections::id,
            connections::link_name,
            connections::name,
            users::username,
            connections::entrusted_origins,
            connections::variables,
            connections::captured,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, link_name, name, owner, origins, variables, captured)| Holder {
            id,
            link_name,
            name,
            owner,
            entrusted: origins.as_deref().map(Destinations::from_json).unwrap_or_default(),
            values: {
                let mut values = variables::parse(captured.as_deref());
                values.extend(variables::parse(variables.as_deref()));
                values
            },
        })
        .collect())
}

/// Sets a connection aside until its owner reconnects: Needs reconnect with `message`, its lease
/// released and its token version moved on (a refresh in flight cannot store), its sealed secrets
/// kept — they are never sent anywhere they were not entrusted to, and a revoke may still reach
/// the provider that issued them.
pub fn set_aside(conn: &mut DbConn, id: i64, message: &str, now: i64) -> QueryResult<usize> {
    diesel::update(connections::table.find(id))
        .set((
            connections::status.eq(Status::NeedsReconnect.as_str()),
            connections::status_message.eq(Some(message)),
            connections::token_version.eq(connections::token_version + 1),
            connections::lease_holder.eq(None::<String>),
            connections::lease_until.eq(None::<i64>),
            connections::updated_at.eq(now),
        ))
        .execute(conn)
}
