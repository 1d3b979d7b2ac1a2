//! Connections in the database. (Services use these counts and names for their lists and delete guard.)

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::connections;

/// How many connections each of `service_ids` has.
pub fn count_by_service(conn: &mut DbConn, service_ids: &[i64]) -> QueryResult<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = connections::table
        .filter(connections::service_id.eq_any(service_ids))
        .group_by(connections::service_id)
        .select((connections::service_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// The link names and display names of a service's connections.
pub fn names_for_service(conn: &mut DbConn, service_id: i64) -> QueryResult<Vec<(String, String)>> {
    connections::table
        .filter(connections::service_id.eq(service_id))
        .order((connections::name_lower, connections::id))
        .select((connections::link_name, connections::name))
        .load(conn)
}

/// A connection as a service's page lists it.
#[derive(Debug, Clone, Queryable)]
pub struct ConnectionBrief {
    pub link_name: String,
    pub name: String,
    pub status: String,
    pub owner: String,
}

impl ConnectionBrief {
    pub fn status_label(&self) -> &'static str {
        crate::domain::connection_status_label(&self.status)
    }

    pub fn status_badge(&self) -> &'static str {
        crate::domain::connection_status_badge(&self.status)
    }
}

/// A service's connections with their status and owner.
pub fn briefs_for_service(conn: &mut DbConn, service_id: i64) -> QueryResult<Vec<ConnectionBrief>> {
    use crate::db::schema::users;
    connections::table
        .inner_join(users::table)
        .filter(connections::service_id.eq(service_id))
        .order((connections::name_lower, connections::id))
        .select((connections::link_name, connections::name, connections::status, users::username))
        .load(conn)
}
