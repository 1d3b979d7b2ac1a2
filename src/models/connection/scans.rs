//! Queries over many connections at once: the background refresher's work list and the counts by
//! status that `/metrics` reads.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::connections;
use crate::domain::connection::Status;

/// Connected connections whose token expires before `before` and that are not cooling down after a
/// failure, soonest first (the background refresher's work list).
pub fn due_for_refresh(conn: &mut DbConn, before: i64, now: i64, limit: i64) -> QueryResult<Vec<i64>> {
    connections::table
        .filter(connections::status.eq(Status::Connected.as_str()))
        .filter(connections::expires_at.le(before))
        .filter(connections::retry_after.is_null().or(connections::retry_after.le(now)))
        .order(connections::expires_at.asc())
        .limit(limit)
        .select(connections::id)
        .load(conn)
}

/// How many connections there are of each status (one pass over the index that leads with it).
pub fn count_by_status(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    connections::table
        .group_by(connections::status)
        .select((connections::status, diesel::dsl::count_star()))
        .order(connections::status)
        .load(conn)
}
