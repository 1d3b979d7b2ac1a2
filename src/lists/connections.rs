//! The connection lists (My Connections, All Connections, a service's connections, and the JSON
//! list): filters, sorts, the search path and totals, read into `ConnectionListRow`s.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::{COUNT_CAP, Sort, Total, Window, like_pattern, needle};
use crate::db::schema::connections;
use crate::db::{DbConn, IdIn, MultiBackend, Paged, static_sql};
use crate::domain::connection::Status;
use crate::domain::service::AuthType;
use crate::search::{NameIndex, NameQuery};
use counters::{connection_count, counter_of};

mod counters;

/// How many matches a search reads (id and sort key) to pick its page; past it, the database walks
/// the sort's index to the page. Tens of milliseconds on either database (`bench/README.md`).
const COLLECT_MAX: i64 = 20_000;

/// The status filter's value for the connections that need attention (pages and API alike).
pub const ATTENTION: &str = "attention";

/// What a connection list asks for.
#[derive(Debug, Clone, Default)]
pub struct ConnectionQuery {
    pub search: String,
    pub service_id: Option<i64>,
    pub status: Option<Status>,
    /// Only the connections that need attention (`models::attention`).
    pub attention: bool,
    pub auth_type: Option<AuthType>,
    /// `None`: everyone's.
    pub owner_id: Option<i64>,
    pub sort: Sort,
    pub window: Window,
    /// When the list is read: whether a refresh token expires soon depends on it.
    pub now: i64,
}

impl ConnectionQuery {
    /// Whether it filters by anything but the owner and the search.
    fn narrowed(&self) -> bool {
        self.service_id.is_some() || self.status.is_some() || self.attention || self.auth_type.is_some()
    }
}

/// A connection as a list shows it: its own columns, its service's label and its owner's name.
#[derive(Debug, Clone)]
pub struct ConnectionListRow {
    pub id: i64,
    pub link_name: String,
    pub name: String,
    pub service_id: i64,
    pub owner_id: i64,
    pub status: Status,
    pub connected_at: Option<i64>,
    pub service_link: String,
    pub service_name: String,
    pub auth_type: AuthType,
    pub owner: String,
    /// Seconds until its refresh token expires, when its owner should reconnect soon
    /// (`domain::reconnect_soon`).
    pub reconnect_in: Option<i64>,
}

impl ConnectionListRow {
    /// Why it should be reconnected soon, if it should ("Refresh token expires in 3 days — reconnect").
    pub fn reconnect_reason(&self) -> Option<String> {
        self.reconnect_in.map(crate::domain::reconnect_soon::reason)
    }
}

/// A page of a list: its rows, how many connections match, and how many services there are (the
/// service filter offers a drop-down list of them when they are few).
#[derive(Debug, Clone)]
pub struct Listing {
    pub rows: Vec<ConnectionListRow>,
    pub total: Total,
    pub service_count: i64,
}

/// The listed owner's (or everyone's) connections and the services, read with a page.
type Counters = (i64, i64);

/// The connection's own columns a list reads.
#[derive(Queryable, Selectable)]
#[diesel(table_name = connections)]
struct OwnColumns {
    id: i64,
    link_name: String,
    name: String,
    service_id: i64,
    owner_id: i64,
    #[diesel(deserialize_as = String)]
    status: Status,
    connected_at: Option<i64>,
    refresh_expires_at: Option<i64>,
}

/// One page of connections matching `q`, and how many match in all.
///
/// With `names`, a search sorted by name (and filtered by nothing but the owner) comes from the
/// in-memory name index, which finds the page without reading the other matches. Otherwise a search
/// collects its matches first (at most `COLLECT_MAX + 1`, each with its one sort key), which both
/// counts them (up to `COUNT_CAP`) and picks the page; the page's rows are then read by id. Walking a
/// sort index and filtering instead reads every connection that sorts before the page: most of a
/// million for a fragment whose names sort last ("zoho": 4.8 s on PostgreSQL, `bench/README.md`).
/// Only past `COLLECT_MAX` matches does the page come from that walk: they are then so common that
/// it meets a page soon. The other filters have indexes that give the order directly.
pub fn list(conn: &mut DbConn, q: &ConnectionQuery, names: Option<&NameIndex>) -> QueryResult<Listing> {
    let (limit, offset) = (q.window.per_page, q.window.offset());
    let needle = needle(&q.search);
    let total = if !needle.is_empty() {
        let only_owner = !q.narrowed();
        if let Some(names) = names.filter(|_| q.sort.by_name() && only_owner) {
            let query = NameQuery {
                needle: &needle,
                owner_id: q.owner_id,
                descending: q.sort.descending(),
                offset: offset as usize,
                limit: limit as usize,
            };
            if let Some(found) = names.search(conn, query)? {
                return page_by_ids(conn, q, found.ids, found.total);
            }
        }
        let (window, matches) =
            ((offset as usize, limit as usize), filtered(conn, q, &needle).limit(COLLECT_MAX + 1));
        let (n, ids) = if q.sort.by_name() {
            let hits =
                matches.select((connections::id, connections::name_lower)).load::<(i64, String)>(conn)?;
            (hits.len(), page_of(hits, q.sort.descending(), window))
        } else {
            let hits = matches.select((connections::id, connections::updated_at)).load::<(i64, i64)>(conn)?;
            (hits.len(), page_of(hits, q.sort.descending(), window))
        };
        let total = match n as i64 {
            n if n <= COUNT_CAP => Total { n, at_least: false },
            _ => Total { n: COUNT_CAP, at_least: true },
        };
        if n as i64 <= COLLECT_MAX {
            return page_by_ids(conn, q, ids, total);
        }
        Some(total)
    } else if q.counter().is_some() {
        None // the counter, read with the page
    } else {
        let found =
            filtered(conn, q, &needle).select(connections::id).limit(COUNT_CAP + 1).load::<i64>(conn)?.len()
                as i64;
        Some(Total { n: found.min(COUNT_CAP), at_least: found > COUNT_CAP })
    };
    let query = filtered(conn, q, &needle);
    let query = match q.sort {
        Sort::NameAsc => {
            query.order(Paged::new((connections::name_lower.asc(), connections::id.asc()), limit, offset))
        }
        Sort::NameDesc => {
            query.order(Paged::new((connections::name_lower.desc(), connections::id.desc()), limit, offset))
        }
        Sort::UpdatedDesc => {
            query.order(Paged::new((connections::updated_at.desc(), connections::id.desc()), limit, offset))
        }
        Sort::UpdatedAsc => {
            query.order(Paged::new((connections::updated_at.asc(), connections::id.asc()), limit, offset))
        }
    };
    let (rows, counts) = read_rows(conn, query, q)?;
    finish(conn, q, rows, total, counts)
}

/// The link names and names of every connection matching `q`'s filters (its sort and window aside),
/// by name, at most `limit` of them: what a bulk action over "all matching this filter" acts on.
pub fn matching(conn: &mut DbConn, q: &ConnectionQuery, limit: i64) -> QueryResult<Vec<(String, String)>> {
    let needle = needle(&q.search);
    filtered(conn, q, &needle)
        .order((connections::name_lower.asc(), connections::id.asc()))
        .limit(limit)
        .select((connections::link_name, connections::name))
        .load(conn)
}

/// The names of the connections `links` that exist, as (link name, name).
pub fn names_of(conn: &mut DbConn, links: &[String]) -> QueryResult<Vec<(String, String)>> {
    connections::table
        .filter(connections::link_name.eq_any(links))
        .select((connections::link_name, connections::name))
        .load(conn)
}

/// The page whose ids a search found, in their order, with the total it counted.
fn page_by_ids(conn: &mut DbConn, q: &ConnectionQuery, ids: Vec<i64>, total: Total) -> QueryResult<Listing> {
    let page = IdIn::padded("connections.id", ids.clone(), q.window.per_page as usize);
    let (mut rows, counts) = read_rows(conn, connections::table.filter(page).into_boxed(), q)?;
    rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
    finish(conn, q, rows, Some(total), counts)
}

/// The counters a page's statement brought (the list's, the services); an empty page brought none,
/// and they are read on their own.
fn finish(
    conn: &mut DbConn,
    q: &ConnectionQuery,
    rows: Vec<ConnectionListRow>,
    total: Option<Total>,
    counts: Option<Counters>,
) -> QueryResult<Listing> {
    let (connections, services) = match counts {
        Some(counts) => counts,
        None => (connection_count(conn, q)?, super::services::count_all(conn)?),
    };
    Ok(Listing {
        rows,
        total: total.unwrap_or(Total { n: connections, at_least: false }),
        service_count: services,
    })
}

/// The list filters on the connections table alone: the service and owner columns a row shows come
/// from per-row look-ups by primary key (`read_rows`). A join would let the planner start from the small
/// users table and then sort every connection of the owner to find the first page.
fn filtered<'a>(
    conn: &DbConn,
    q: &'a ConnectionQuery,
    needle: &str,
) -> connections::BoxedQuery<'a, MultiBackend> {
    let mut query = connections::table.into_boxed::<MultiBackend>();
    if let Some(id) = q.service_id {
        query = query.filter(connections::service_id.eq(id));
    }
    if let Some(status) = q.status {
        query = query.filter(connections::status.eq(status.as_str()));
    }
    if q.attention {
        query = query.filter(crate::models::attention::filter(q.now));
    }
    if let Some(t) = q.auth_type {
        query = query.filter(
            static_sql::<Bool>("connections.service_id IN (SELECT id FROM services WHERE auth_type = ")
                .bind::<Text, _>(t.as_str())
                .sql(")"),
        );
    }
    if let Some(owner) = q.owner_id {
        query = query.filter(connections::owner_id.eq(owner));
    }
    if needle.is_empty() {
        return query;
    }
    if needle.chars().count() >= 3 && matches!(conn, DbConn::Sqlite(_)) {
        let phrase = format!("\"{}\"", needle.replace('"', "\"\""));
        return query.filter(
            static_sql::<Bool>(
                "connections.id IN (SELECT rowid FROM connections_fts WHERE connections_fts MATCH ",
            )
            .bind::<Text, _>(phrase)
            .sql(")"),
        );
    }
    let pattern = like_pattern(needle);
    query.filter(
        connections::name_lower
            .like(pattern.clone())
            .escape('\\')
            .or(connections::link_name.like(pattern).escape('\\')),
    )
}

/// The ids of the page `(offset, limit)` of search matches `(id, sort key)`, in the order the SQL of
/// `list` would give: by key, then id, both ascending or both descending. Both backends compare the
/// key columns byte by byte (PostgreSQL's are `COLLATE "C"`, SQLite's `BINARY`), as Rust compares
/// strings. Only the matches up to the page's end are sorted.
fn page_of<K: Ord>(mut hits: Vec<(i64, K)>, descending: bool, (offset, limit): (usize, usize)) -> Vec<i64> {
    let order = |a: &(i64, K), b: &(i64, K)| {
        let ascending = (&a.1, a.0).cmp(&(&b.1, b.0));
        if descending { ascending.reverse() } else { ascending }
    };
    let keep = offset + limit;
    if keep == 0 {
        return Vec::new();
    }
    if keep < hits.len() {
        hits.select_nth_unstable_by(keep - 1, order);
        hits.truncate(keep);
    }
    hits.sort_unstable_by(order);
    hits.into_iter().skip(offset).map(|(id, _)| id).collect()
}

/// The rows of `query` with, in the same statement, each row's service label (its link name, auth
/// type and name from one look-up, joined with spaces: neither a link name nor an auth type holds
/// one, so the name is the rest), its owner's name (read once for the page when the list is one
/// owner's), and two counters, the list's and the services' (uncorrelated: both databases evaluate
/// them once).
fn read_rows(
    conn: &mut DbConn,
    query: connections::BoxedQuery<'_, MultiBackend>,
    q: &ConnectionQuery,
) -> QueryResult<(Vec<ConnectionListRow>, Option<Counters>)> {
    let label = static_sql::<Text>(
        "(SELECT link_name || ' ' || auth_type || ' ' || name \
         FROM services WHERE services.id = connections.service_id)",
    );
    let rows: Vec<(OwnColumns, String, String, i64, i64)> = query
        .select((
            OwnColumns::as_select(),
            label,
            owner_name(q.owner_id),
            counter_of(q),
            static_sql::<BigInt>(super::services::SERVICE_TOTAL_SQL),
        ))
        .load(conn)?;
    let counts = rows.first().map(|(_, _, _, connections, services)| (*connections, *services));
    let rows = rows
        .into_iter()
        .map(|(own, label, owner, _, _)| {
            let mut parts = label.splitn(3, ' ');
            let mut next = || parts.next().unwrap_or_default().to_owned();
            let (service_link, auth_type, service_name) = (next(), next(), next());
            ConnectionListRow {
                id: own.id,
                link_name: own.link_name,
                name: own.name,
                service_id: own.service_id,
                owner_id: own.owner_id,
                status: own.status,
                connected_at: own.connected_at,
                service_link,
                service_name,
                auth_type: AuthType::parse(&auth_type).unwrap_or(AuthType::ApiKey),
                owner,
                reconnect_in: crate::domain::reconnect_soon::left(own.status, own.refresh_expires_at, q.now),
            }
        })
        .collect();
    Ok((rows, counts))
}

/// Each row's owner's name: the one owner's, read once, when the list is theirs.
fn owner_name(
    owner: Option<i64>,
) -> Box<dyn BoxableExpression<connections::table, MultiBackend, SqlType = Text>> {
    match owner {
        Some(owner) => Box::new(
            static_sql::<Text>("(SELECT username FROM users WHERE users.id = ")
                .bind::<BigInt, _>(owner)
                .sql(")"),
        ),
        None => {
            Box::new(static_sql::<Text>("(SELECT username FROM users WHERE users.id = connections.owner_id)"))
        }
    }
}
