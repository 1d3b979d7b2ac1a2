//! The Custom Services list (the page and the JSON list): search, the type filter, sorts and totals.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::{Sort, Window, like_pattern, needle};
use crate::db::schema::services;
use crate::db::{DbConn, MultiBackend, Paged, static_sql};
use crate::domain::service::AuthType;
use crate::models::service::ServiceRow;

/// What a services list asks for.
#[derive(Debug, Clone, Default)]
pub struct ServiceQuery {
    pub search: String,
    pub auth_type: Option<AuthType>,
    pub sort: Sort,
    pub window: Window,
}

/// A service as the list page shows it: only those columns (no settings, no sealed secret).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = services)]
pub struct ServiceListRow {
    pub id: i64,
    pub link_name: String,
    pub name: String,
    #[diesel(deserialize_as = String)]
    pub auth_type: AuthType,
    pub connection_count: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

/// How many services there are: the per-type counters that triggers keep (`service_counts`), read by
/// their keys. A bulk import leaves PostgreSQL's counter table thousands of dead row versions long,
/// and a plain `SUM` would scan them all.
pub const SERVICE_TOTAL_SQL: &str = "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM service_counts \
                                      WHERE auth_type IN ('api_key', 'basic', 'oauth2'))";

/// How many services of one type there are (from its counter).
const TYPE_TOTAL_SQL: &str =
    "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM service_counts WHERE auth_type = ";

/// How many services there are (from the counters).
pub fn count_all(conn: &mut DbConn) -> QueryResult<i64> {
    diesel::select(static_sql::<BigInt>(SERVICE_TOTAL_SQL)).get_result(conn)
}

/// One page of the list, and how many services match in all. Without a search, the total comes from
/// the counters in the page's own statement (one round trip instead of two on PostgreSQL), and only an
/// empty page asks for it again.
pub fn page(conn: &mut DbConn, q: &ServiceQuery) -> QueryResult<(Vec<ServiceListRow>, i64)> {
    if !needle(&q.search).is_empty() {
        let total = total(conn, q)?;
        return Ok((ordered(conn, q).select(ServiceListRow::as_select()).load(conn)?, total));
    }
    let rows: Vec<(ServiceListRow, i64)> = match q.auth_type {
        None => ordered(conn, q)
            .select((ServiceListRow::as_select(), static_sql::<BigInt>(SERVICE_TOTAL_SQL)))
            .load(conn)?,
        Some(t) => ordered(conn, q)
            .select((
                ServiceListRow::as_select(),
                static_sql::<BigInt>(TYPE_TOTAL_SQL).bind::<Text, _>(t.as_str()).sql(")"),
            ))
            .load(conn)?,
    };
    let total = match rows.first() {
        Some((_, total)) => *total,
        None => total(conn, q)?,
    };
    Ok((rows.into_iter().map(|(row, _)| row).collect(), total))
}

/// `page`, with whole rows (the JSON list shows every setting).
pub fn rows(conn: &mut DbConn, q: &ServiceQuery) -> QueryResult<(Vec<ServiceRow>, i64)> {
    let total = total(conn, q)?;
    Ok((ordered(conn, q).select(ServiceRow::as_select()).load(conn)?, total))
}

/// Every service matching `q`'s filters (its sort and window aside), whole, by name, at most
/// `limit` of them: what an export or a bulk action over "all matching this filter" reads.
pub fn matching(conn: &mut DbConn, q: &ServiceQuery, limit: i64) -> QueryResult<Vec<ServiceRow>> {
    filtered(conn, q)
        .order((services::name_lower.asc(), services::id.asc()))
        .limit(limit)
        .select(ServiceRow::as_select())
        .load(conn)
}

/// The services `links` that exist, whole.
pub fn named(conn: &mut DbConn, links: &[String]) -> QueryResult<Vec<ServiceRow>> {
    services::table.filter(services::link_name.eq_any(links)).select(ServiceRow::as_select()).load(conn)
}

/// How many services match: without a search, the counters instead of counting every row.
fn total(conn: &mut DbConn, q: &ServiceQuery) -> QueryResult<i64> {
    if !needle(&q.search).is_empty() {
        return filtered(conn, q).count().get_result(conn);
    }
    match q.auth_type {
        None => count_all(conn),
        Some(t) => diesel::select(static_sql::<BigInt>(TYPE_TOTAL_SQL).bind::<Text, _>(t.as_str()).sql(")"))
            .get_result(conn),
    }
}

/// The requested page of `filtered`, in the requested order.
fn ordered<'a>(conn: &DbConn, q: &'a ServiceQuery) -> services::BoxedQuery<'a, MultiBackend> {
    let query = filtered(conn, q);
    let (limit, offset) = (q.window.per_page, q.window.offset());
    match q.sort {
        Sort::NameAsc => {
            query.order(Paged::new((services::name_lower.asc(), services::id.asc()), limit, offset))
        }
        Sort::NameDesc => {
            query.order(Paged::new((services::name_lower.desc(), services::id.desc()), limit, offset))
        }
        Sort::UpdatedDesc => {
            query.order(Paged::new((services::updated_at.desc(), services::id.desc()), limit, offset))
        }
        Sort::UpdatedAsc => {
            query.order(Paged::new((services::updated_at.asc(), services::id.asc()), limit, offset))
        }
    }
}

fn filtered<'a>(conn: &DbConn, q: &'a ServiceQuery) -> services::BoxedQuery<'a, MultiBackend> {
    let mut query = services::table.into_boxed::<MultiBackend>();
    if let Some(t) = q.auth_type {
        query = query.filter(services::auth_type.eq(t.as_str()));
    }
    let needle = needle(&q.search);
    if needle.is_empty() {
        return query;
    }
    // Trigram indexes need three characters; shorter needles scan (they match most rows anyway).
    let indexed = needle.chars().count() >= 3;
    if indexed && matches!(conn, DbConn::Sqlite(_)) {
        let phrase = format!("\"{}\"", needle.replace('"', "\"\""));
        return query.filter(
            static_sql::<Bool>("services.id IN (SELECT rowid FROM services_fts WHERE services_fts MATCH ")
                .bind::<Text, _>(phrase)
                .sql(")"),
        );
    }
    let pattern = like_pattern(&needle);
    if indexed {
        // The matches first (trigram indexes), then their order: given `ORDER BY name_lower LIMIT 25`
        // and a plain filter, PostgreSQL walks the name index hoping to meet 25 matches early, and
        // reads the whole table when they sort last.
        let subquery = "services.id = ANY(ARRAY(SELECT s.id FROM services s WHERE s.name_lower LIKE ";
        return query.filter(
            static_sql::<Bool>(subquery)
                .bind::<Text, _>(pattern.clone())
                .sql(" ESCAPE '\\' OR s.link_name LIKE ")
                .bind::<Text, _>(pattern)
                .sql(" ESCAPE '\\'))"),
        );
    }
    query.filter(
        services::name_lower
            .like(pattern.clone())
            .escape('\\')
            .or(services::link_name.like(pattern).escape('\\')),
    )
}

#[cfg(test)]
mod tests {
    use crate::domain::service::AuthType;

    /// The total reads every type's counter: a new type must be added to the SQL too.
    #[test]
    fn the_service_total_reads_every_types_counter() {
        for t in AuthType::ALL {
            assert!(super::SERVICE_TOTAL_SQL.contains(&format!("'{}'", t.as_str())), "{t:?}");
        }
    }
}
