//! Queries over many connections at once: the background refresher's work list, the counts by
//! status that `/metrics` reads, and the connections the `connection.reconnect_soon` sweep claims.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::connections;
use crate::domain::connection::Status;

/// A connection the background refresher should renew: its service, and the expiry that orders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable)]
pub struct Due {
    pub id: i64,
    pub service_id: i64,
    pub expires_at: Option<i64>,
}

/// Connected connections whose token expires before `before` and that are not cooling down after a
/// failure, soonest first, from just after `after` (the `(expires_at, id)` of the last one a pass
/// took): the background refresher's work list, read a batch at a time.
pub fn due_for_refresh(
    conn: &mut DbConn,
    before: i64,
    now: i64,
    after: Option<(i64, i64)>,
    limit: i64,
) -> QueryResult<Vec<Due>> {
    let mut query = connections::table
        .filter(connections::status.eq(Status::Connected.as_str()))
        .filter(connections::expires_at.le(before))
        .filter(connections::retry_after.is_null().or(connections::retry_after.le(now)))
        .into_boxed();
    if let Some((expires_at, id)) = after {
        query = query.filter(
            connections::expires_at
                .gt(expires_at)
                .or(connections::expires_at.eq(expires_at).and(connections::id.gt(id))),
        );
    }
    query
        .order((connections::expires_at.asc(), connections::id.asc()))
        .limit(limit)
        .select((connections::id, connections::service_id, connections::expires_at))
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

/// Re-arms `connection.reconnect_soon` for the connections it was sent for whose refresh token no
/// longer expires by `soon` (reconnected, refreshed to a later expiry, revoked): when one comes
/// within the week again, it is sent again. Reads the small index of those sent.
pub fn rearm_reconnect_soon(conn: &mut DbConn, soon: i64) -> QueryResult<usize> {
    diesel::update(
        connections::table.filter(connections::reconnect_soon_sent_at.is_not_null()).filter(
            connections::status
                .ne(Status::Connected.as_str())
                .or(connections::refresh_expires_at.is_null())
                .or(connections::refresh_expires_at.gt(soon)),
        ),
    )
    .set(connections::reconnect_soon_sent_at.eq(None::<i64>))
    .execute(conn)
}

/// Marks as sent, and returns, up to `limit` connected connections whose refresh token expires by
/// `soon` and whose event was not sent yet. The mark is the claim: the update repeats the condition,
/// so a row another instance's sweep marked between the read and the update is not returned
/// (PostgreSQL re-checks it on each row it waited for; SQLite's write lock orders the two).
pub fn claim_reconnect_soon(conn: &mut DbConn, soon: i64, now: i64, limit: i64) -> QueryResult<Vec<i64>> {
    let unsent = || {
        connections::status
            .eq(Status::Connected.as_str())
            .and(connections::refresh_expires_at.is_not_null())
            .and(connections::refresh_expires_at.le(soon))
            .and(connections::reconnect_soon_sent_at.is_null())
    };
    let due: Vec<i64> =
        connections::table.filter(unsent()).select(connections::id).limit(limit).load(conn)?;
    if due.is_empty() {
        return Ok(due);
    }
    diesel::update(connections::table.filter(connections::id.eq_any(due)).filter(unsent()))
        .set(connections::reconnect_soon_sent_at.eq(Some(now)))
        .returning(connections::id)
        .get_results(conn)
}
