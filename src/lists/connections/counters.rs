//! The counters a connection list reads its total from, which triggers keep, instead of counting.

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::ConnectionQuery;
use crate::db::schema::connections;
use crate::db::{DbConn, MultiBackend, static_sql};

impl ConnectionQuery {
    /// The counter that triggers keep of what the list holds without a search: everyone's or one
    /// owner's connections, or one service's (a service's page and its list in All Connections).
    /// Any other filter counts its matches, up to `COUNT_CAP`.
    pub(super) fn counter(&self) -> Option<Counter> {
        match self.service_id {
            _ if !self.narrowed() => Some(Counter::Owner(self.owner_id)),
            Some(service)
                if self.owner_id.is_none()
                    && self.status.is_none()
                    && !self.attention
                    && self.auth_type.is_none() =>
            {
                Some(Counter::Service(service))
            }
            _ => None,
        }
    }
}

/// A counter that triggers keep (migrations 000021 and 000023).
#[derive(Debug, Clone, Copy)]
pub(super) enum Counter {
    /// One owner's connections, or (`None`) everyone's.
    Owner(Option<i64>),
    Service(i64),
}

const COUNTER_SUM: &str = "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM connection_counts";
/// Everyone's counters, read by key (every owner is a user): a plain `SUM` would scan the dead row
/// versions a bulk change leaves behind on PostgreSQL.
const EVERY_OWNER: &str = " WHERE owner_id IN (SELECT id FROM users))";
const SERVICE_COUNTER: &str = "(SELECT CAST(connection_count AS BIGINT) FROM services WHERE id = ";

/// What `q.counter()` names (one owner's connections or everyone's, or one service's), or, for a
/// list that counts its matches, the listed owner's (or everyone's), which is not used as its total.
/// Separate statements rather than `owner_id = COALESCE(?, owner_id)`, which cannot use the key.
pub(super) fn counter_of(
    q: &ConnectionQuery,
) -> Box<dyn BoxableExpression<connections::table, MultiBackend, SqlType = BigInt>> {
    match q.counter().unwrap_or(Counter::Owner(q.owner_id)) {
        Counter::Owner(Some(owner)) => Box::new(
            static_sql::<BigInt>(COUNTER_SUM).sql(" WHERE owner_id = ").bind::<BigInt, _>(owner).sql(")"),
        ),
        Counter::Owner(None) => Box::new(static_sql::<BigInt>(COUNTER_SUM).sql(EVERY_OWNER)),
        Counter::Service(id) => {
            Box::new(static_sql::<BigInt>(SERVICE_COUNTER).bind::<BigInt, _>(id).sql(")"))
        }
    }
}

/// `counter_of` on its own, for a page that brought no counters (an unknown service has none: 0).
pub(super) fn connection_count(conn: &mut DbConn, q: &ConnectionQuery) -> QueryResult<i64> {
    match q.counter().unwrap_or(Counter::Owner(q.owner_id)) {
        Counter::Owner(Some(owner)) => diesel::select(
            static_sql::<BigInt>(COUNTER_SUM).sql(" WHERE owner_id = ").bind::<BigInt, _>(owner).sql(")"),
        )
        .get_result(conn),
        Counter::Owner(None) => {
            diesel::select(static_sql::<BigInt>(COUNTER_SUM).sql(EVERY_OWNER)).get_result(conn)
        }
        Counter::Service(id) => diesel::select(
            static_sql::<diesel::sql_types::Nullable<BigInt>>(SERVICE_COUNTER).bind::<BigInt, _>(id).sql(")"),
        )
        .get_result::<Option<i64>>(conn)
        .map(Option::unwrap_or_default),
    }
}
