//! Which connections need attention, in SQL: Needs reconnect, refreshes that failed
//! `FAILING_AFTER` times in a row, connected to a service whose client credentials the provider
//! refused, or connected with a refresh token that expires within `RECONNECT_SOON_SECS` (or has).
//! The connection list's filter and the counts (the navigation's badge, the owner's banner) read
//! the same definition. The first two reasons have a partial index (migration 000075), the third
//! goes through the few services so marked, the fourth has a partial index on the expiry (000078).
//! The fourth depends on the time: every query binds `now`, and `next_change` says when a
//! connection next crosses into it, however nothing in the database changed.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable};

use crate::db::{DbConn, StaticBind, StaticSql, static_sql};
pub use crate::domain::reconnect_soon::RECONNECT_SOON_SECS;

/// Refresh failures in a row after which a connection is "refresh failing".
pub const FAILING_AFTER: i32 = 3;

/// The partial index's own condition, written as the index writes it so that both planners see
/// that a query implies it.
const OWN_REASONS: &str = "(status = 'needs_reconnect' OR refresh_failures >= 3)";

/// A connected connection of a refused service (and no reason of its own, so nothing counts twice).
const REFUSED_SERVICE: &str = "status = 'connected' AND refresh_failures < 3 \
     AND service_id IN (SELECT id FROM services WHERE client_refused_at IS NOT NULL)";

/// A connected connection whose refresh token expires by the bound time (and no other reason): the
/// first two terms are the expiry index's condition.
const EXPIRES_SOON: &str = "status = 'connected' AND refresh_expires_at IS NOT NULL AND refresh_failures < 3 \
     AND service_id NOT IN (SELECT id FROM services WHERE client_refused_at IS NOT NULL) \
     AND refresh_expires_at <= ";

/// How many connections need attention at `now`: `owner`'s, or everyone's.
pub fn count(conn: &mut DbConn, owner: Option<i64>, now: i64) -> QueryResult<i64> {
    let soon = now + RECONNECT_SOON_SECS;
    let total = match owner {
        None => diesel::select(
            static_sql::<BigInt>("(SELECT COUNT(*) FROM connections WHERE ")
                .sql(OWN_REASONS)
                .sql(") + (SELECT COUNT(*) FROM connections WHERE ")
                .sql(REFUSED_SERVICE)
                .sql(") + (SELECT COUNT(*) FROM connections WHERE ")
                .sql(EXPIRES_SOON)
                .bind::<BigInt, _>(soon)
                .sql(")"),
        )
        .get_result(conn)?,
        Some(owner) => diesel::select(
            static_sql::<BigInt>("(SELECT COUNT(*) FROM connections WHERE owner_id = ")
                .bind::<BigInt, _>(owner)
                .sql(" AND ")
                .sql(OWN_REASONS)
                .sql(") + (SELECT COUNT(*) FROM connections WHERE owner_id = ")
                .bind::<BigInt, _>(owner)
                .sql(" AND ")
                .sql(REFUSED_SERVICE)
                .sql(") + (SELECT COUNT(*) FROM connections WHERE owner_id = ")
                .bind::<BigInt, _>(owner)
                .sql(" AND ")
                .sql(EXPIRES_SOON)
                .bind::<BigInt, _>(soon)
                .sql(")"),
        )
        .get_result(conn)?,
    };
    Ok(total)
}

/// When, after `now`, the next connected connection's refresh token comes within
/// `RECONNECT_SOON_SECS` of expiring: until then, a count taken at `now` holds unless the database
/// changes. `None`: no refresh token will.
pub fn next_change(conn: &mut DbConn, now: i64) -> QueryResult<Option<i64>> {
    let next: Option<i64> = diesel::select(
        static_sql::<Nullable<BigInt>>(
            "(SELECT MIN(refresh_expires_at) FROM connections \
             WHERE status = 'connected' AND refresh_expires_at IS NOT NULL AND refresh_expires_at > ",
        )
        .bind::<BigInt, _>(now + RECONNECT_SOON_SECS)
        .sql(")"),
    )
    .get_result(conn)?;
    Ok(next.map(|at| at - RECONNECT_SOON_SECS))
}

/// Whether a connection needs attention, as the list filters: every reason in one condition, the
/// last one's bound time at the end.
const FILTER_SQL: &str = "(connections.status = 'needs_reconnect' OR connections.refresh_failures >= 3 \
     OR (connections.status = 'connected' AND connections.service_id IN \
     (SELECT id FROM services WHERE client_refused_at IS NOT NULL)) \
     OR (connections.status = 'connected' AND connections.refresh_expires_at IS NOT NULL \
     AND connections.refresh_expires_at <= ";

/// The list filter's expression.
pub type Filter = StaticSql<Bool, StaticBind<Bool, StaticSql<Bool, ()>, BigInt, i64>>;

/// Whether a connection needs attention at `now`, as an expression.
pub fn filter(now: i64) -> Filter {
    static_sql::<Bool>(FILTER_SQL).bind::<BigInt, _>(now + RECONNECT_SOON_SECS).sql("))")
}

#[cfg(test)]
mod tests;
