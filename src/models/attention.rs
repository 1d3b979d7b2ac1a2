//! Which connections need attention, in SQL: Needs reconnect, refreshes that failed
//! `FAILING_AFTER` times in a row, or connected to a service whose client credentials the provider
//! refused.
//! The connection list's filter and the counts (the navigation's badge, the owner's banner) read
//! the same definition; the first two reasons have a partial index (migration 000075), the third
//! goes through the few services so marked.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use crate::db::{DbConn, StaticSql, static_sql};

/// Refresh failures in a row after which a connection is "refresh failing".
pub const FAILING_AFTER: i32 = 3;

/// The partial index's own condition, written as the index writes it so that both planners see
/// that a query implies it.
const OWN_REASONS: &str = "(status = 'needs_reconnect' OR refresh_failures >= 3)";

/// A connected connection of a refused service (and no reason of its own, so nothing counts twice).
const REFUSED_SERVICE: &str = "status = 'connected' AND refresh_failures < 3 \
     AND service_id IN (SELECT id FROM services WHERE client_refused_at IS NOT NULL)";

/// How many connections need attention: `owner`'s, or everyone's.
pub fn count(conn: &mut DbConn, owner: Option<i64>) -> QueryResult<i64> {
    let total = match owner {
        None => diesel::select(
            static_sql::<BigInt>("(SELECT COUNT(*) FROM connections WHERE ")
                .sql(OWN_REASONS)
                .sql(") + (SELECT COUNT(*) FROM connections WHERE ")
                .sql(REFUSED_SERVICE)
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
                .sql(")"),
        )
        .get_result(conn)?,
    };
    Ok(total)
}

/// Whether a connection needs attention, as the list filters: every reason in one condition.
pub const FILTER_SQL: &str = "(connections.status = 'needs_reconnect' OR connections.refresh_failures >= 3 \
     OR (connections.status = 'connected' AND connections.service_id IN \
     (SELECT id FROM services WHERE client_refused_at IS NOT NULL)))";

/// `FILTER_SQL` as an expression.
pub fn filter() -> StaticSql<Bool, ()> {
    static_sql::<Bool>(FILTER_SQL)
}
