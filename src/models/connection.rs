//! Connections in the database: the row (with sealed secrets that are opened only where they are
//! used), the list query with its filters, and the writes of each lifecycle step.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use crate::cache::Cache;
use crate::crypto::{Keyring, Secret, SecretSlot};
use crate::db::schema::{connections, services, users};
use crate::db::{DbConn, IdIn, MultiBackend, Paged, static_sql};
use crate::domain::connection::{Credentials, Status};
use crate::domain::destinations::Destinations;
use crate::error::AppError;
use crate::models::service::{ServiceLabel, ServiceRow};
use crate::search::{NameIndex, NameQuery};

/// Where a connection secret's ciphertext is bound: table, column, row id.
fn slot<'a>(column: &'a str, id: &'a str) -> SecretSlot<'a> {
    SecretSlot::new("connections", column, id)
}

/// What may be shown of a connection: every column but the sealed secrets and the refresh lease.
/// Lists load only this (a page of whole rows copied every ciphertext for nothing).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = connections)]
pub struct ConnectionMeta {
    pub id: i64,
    pub link_name: String,
    pub name: String,
    pub name_lower: String,
    pub service_id: i64,
    pub owner_id: i64,
    pub scopes_requested: String,
    pub scopes_granted: Option<String>,
    pub status: String,
    pub status_message: Option<String>,
    pub connected_at: Option<i64>,
    pub expires_at: Option<i64>,
    #[diesel(select_expression = connections::refresh_token.is_not_null())]
    #[diesel(select_expression_type = diesel::dsl::IsNotNull<connections::refresh_token>)]
    pub has_refresh_token: bool,
    pub last_refresh_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoke_outcome: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The whole row: the metadata and the sealed secrets, opened only where they are used.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = connections)]
pub struct ConnectionRow {
    #[diesel(embed)]
    pub meta: ConnectionMeta,
    pub credentials: Option<Vec<u8>>,
    pub access_token: Option<Vec<u8>>,
    pub refresh_token: Option<Vec<u8>>,
    pub token_version: i64,
    pub lease_holder: Option<String>,
    pub lease_until: Option<i64>,
    pub refresh_failures: i32,
    pub retry_after: Option<i64>,
    /// Where its secrets may be sent (`Destinations` as JSON), recorded when it was connected.
    pub entrusted_origins: Option<String>,
    /// The refresh token a rotation replaced, until its successor has been used once.
    pub previous_refresh_token: Option<Vec<u8>>,
    pub last_refresh_attempt_at: Option<i64>,
}

/// A row reads like its metadata (`row.link_name`), so the token code need not spell `row.meta`.
impl std::ops::Deref for ConnectionRow {
    type Target = ConnectionMeta;

    fn deref(&self) -> &ConnectionMeta {
        &self.meta
    }
}

fn json_list(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

impl ConnectionMeta {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::NotConnected)
    }

    pub fn scopes_requested(&self) -> Vec<String> {
        json_list(&self.scopes_requested)
    }

    pub fn scopes_granted(&self) -> Option<Vec<String>> {
        self.scopes_granted.as_deref().map(json_list)
    }
}

impl ConnectionRow {
    fn open(&self, keyring: &Keyring, column: &str, sealed: &Option<Vec<u8>>) -> Result<Option<Secret>, AppError> {
        let id = self.id.to_string();
        Ok(sealed.as_deref().map(|s| keyring.open(&slot(column, &id), s)).transpose()?)
    }

    pub fn open_credentials(&self, keyring: &Keyring) -> Result<Option<Credentials>, AppError> {
        self.open(keyring, "credentials", &self.credentials)?
            .map(|json| {
                serde_json::from_str(json.expose())
                    .map_err(|_| AppError::Internal(format!("connection {} has unreadable credentials", self.id)))
            })
            .transpose()
    }

    /// Where its secrets were entrusted to be sent (nothing, when unknown).
    pub fn entrusted(&self) -> Destinations {
        self.entrusted_origins.as_deref().map(Destinations::from_json).unwrap_or_default()
    }

    pub fn open_access_token(&self, keyring: &Keyring) -> Result<Option<Secret>, AppError> {
        self.open(keyring, "access_token", &self.access_token)
    }

    pub fn open_refresh_token(&self, keyring: &Keyring) -> Result<Option<Secret>, AppError> {
        self.open(keyring, "refresh_token", &self.refresh_token)
    }

    pub fn open_previous_refresh_token(&self, keyring: &Keyring) -> Result<Option<Secret>, AppError> {
        self.open(keyring, "previous_refresh_token", &self.previous_refresh_token)
    }

    /// When its current tokens were obtained (a connect or the last refresh).
    pub fn obtained_at(&self) -> Option<i64> {
        self.connected_at.max(self.last_refresh_at)
    }
}

/// A new connection, not connected yet.
pub fn insert(
    conn: &mut DbConn,
    link_name: &str,
    name: &str,
    service_id: i64,
    owner_id: i64,
    scopes: &[String],
    now: i64,
) -> QueryResult<i64> {
    diesel::insert_into(connections::table)
        .values((
            connections::link_name.eq(link_name),
            connections::name.eq(name),
            connections::name_lower.eq(name.to_lowercase()),
            connections::service_id.eq(service_id),
            connections::owner_id.eq(owner_id),
            connections::scopes_requested.eq(serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into())),
            connections::status.eq(Status::NotConnected.as_str()),
            connections::token_version.eq(0),
            connections::refresh_failures.eq(0),
            connections::created_at.eq(now),
            connections::updated_at.eq(now),
        ))
        .returning(connections::id)
        .get_result(conn)
}

pub fn find(conn: &mut DbConn, link_name: &str) -> QueryResult<Option<ConnectionRow>> {
    connections::table.filter(connections::link_name.eq(link_name)).select(ConnectionRow::as_select()).get_result(conn).optional()
}

/// A connection with its service and its owner's name.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub row: ConnectionRow,
    pub service: ServiceRow,
    pub owner: String,
    /// The service's settings, parsed on first use: a cached connection is invoked many times
    /// (measured: parsing them was 2% of an invoke's CPU).
    config: std::sync::OnceLock<crate::domain::service::ServiceConfig>,
}

impl Loaded {
    pub fn new(row: ConnectionRow, service: ServiceRow, owner: String) -> Loaded {
        Loaded { row, service, owner, config: std::sync::OnceLock::new() }
    }

    /// Where the service sends credentials now.
    pub fn destinations(&self) -> Result<Destinations, AppError> {
        Ok(Destinations::of(self.service.api_base_url.as_deref(), self.config()?))
    }

    /// The service's settings.
    pub fn config(&self) -> Result<&crate::domain::service::ServiceConfig, crate::error::AppError> {
        if let Some(config) = self.config.get() {
            return Ok(config);
        }
        let parsed = self.service.view()?.config;
        Ok(self.config.get_or_init(|| parsed))
    }
}

/// A connection with its service and its owner's name, in one statement (one round trip instead of
/// three: invokes and details pages start here).
pub fn find_with_service(conn: &mut DbConn, link_name: &str) -> QueryResult<Option<Loaded>> {
    let found: Option<(ConnectionRow, ServiceRow, String)> = crate::on_backend!(conn, |c| connections::table
        .inner_join(services::table)
        .inner_join(users::table)
        .filter(connections::link_name.eq(link_name))
        .select((ConnectionRow::as_select(), ServiceRow::as_select(), users::username))
        .get_result(c)
        .optional())?;
    Ok(found.map(|(row, service, owner)| Loaded::new(row, service, owner)))
}

pub fn find_by_id(conn: &mut DbConn, id: i64) -> QueryResult<ConnectionRow> {
    connections::table.find(id).select(ConnectionRow::as_select()).get_result(conn)
}

/// Renames and (for OAuth2) changes the requested scopes; a scope change needs a new consent, so it
/// marks the connection Not connected with `message` and forgets its tokens.
pub fn update_meta(conn: &mut DbConn, id: i64, name: &str, scopes: &[String], reset: Option<&str>, now: i64) -> QueryResult<()> {
    let scopes = serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into());
    crate::db::write_tx(conn, |conn| {
        diesel::update(connections::table.find(id))
            .set((
                connections::name.eq(name),
                connections::name_lower.eq(name.to_lowercase()),
                connections::scopes_requested.eq(&scopes),
                connections::updated_at.eq(now),
            ))
            .execute(conn)?;
        if let Some(message) = reset {
            clear_secrets(conn, id, Status::NotConnected, Some(message), None, now)?;
        }
        Ok(())
    })
}

/// Stores API key or Basic credentials, entrusted to `entrusted`: the connection is Connected.
pub fn store_credentials(
    conn: &mut DbConn,
    keyring: &Keyring,
    id: i64,
    credentials: &Credentials,
    entrusted: &Destinations,
    now: i64,
) -> Result<(), AppError> {
    let json = Secret::new(serde_json::to_string(credentials).map_err(|e| AppError::Internal(e.to_string()))?);
    let sealed = keyring.seal(&slot("credentials", &id.to_string()), &json)?;
    diesel::update(connections::table.find(id))
        .set((
            connections::credentials.eq(Some(sealed)),
            connections::entrusted_origins.eq(Some(entrusted.to_json())),
            connections::access_token.eq(None::<Vec<u8>>),
            connections::refresh_token.eq(None::<Vec<u8>>),
            connections::expires_at.eq(None::<i64>),
            connections::status.eq(Status::Connected.as_str()),
            connections::status_message.eq(None::<String>),
            connections::connected_at.eq(Some(now)),
            connections::token_version.eq(connections::token_version + 1),
            connections::revoke_outcome.eq(None::<String>),
            connections::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Tokens from a consent or client-credentials grant: the connection is Connected.
pub struct NewTokens<'a> {
    pub access_token: &'a Secret,
    pub refresh_token: Option<&'a Secret>,
    pub expires_at: Option<i64>,
    pub granted: &'a [String],
    /// The service's destinations the tokens were obtained under.
    pub entrusted: &'a Destinations,
}

pub fn store_tokens(conn: &mut DbConn, keyring: &Keyring, id: i64, tokens: &NewTokens, now: i64) -> Result<(), AppError> {
    let row_id = id.to_string();
    let access = keyring.seal(&slot("access_token", &row_id), tokens.access_token)?;
    let refresh = tokens.refresh_token.map(|t| keyring.seal(&slot("refresh_token", &row_id), t)).transpose()?;
    diesel::update(connections::table.find(id))
        .set((
            connections::credentials.eq(None::<Vec<u8>>),
            connections::entrusted_origins.eq(Some(tokens.entrusted.to_json())),
            connections::access_token.eq(Some(access)),
            connections::refresh_token.eq(refresh),
            connections::expires_at.eq(tokens.expires_at),
            connections::scopes_granted.eq(Some(serde_json::to_string(tokens.granted).unwrap_or_else(|_| "[]".into()))),
            connections::status.eq(Status::Connected.as_str()),
            connections::status_message.eq(None::<String>),
            connections::connected_at.eq(Some(now)),
            connections::token_version.eq(connections::token_version + 1),
            connections::refresh_failures.eq(0),
            connections::retry_after.eq(None::<i64>),
            connections::revoke_outcome.eq(None::<String>),
            connections::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets every stored secret and sets the status (revoke, a scope change, a rejected grant).
pub fn clear_secrets(
    conn: &mut DbConn,
    id: i64,
    status: Status,
    message: Option<&str>,
    revoke_outcome: Option<&str>,
    now: i64,
) -> QueryResult<()> {
    diesel::update(connections::table.find(id))
        .set((
            connections::credentials.eq(None::<Vec<u8>>),
            connections::access_token.eq(None::<Vec<u8>>),
            connections::refresh_token.eq(None::<Vec<u8>>),
            connections::expires_at.eq(None::<i64>),
            connections::status.eq(status.as_str()),
            connections::status_message.eq(message),
            connections::revoke_outcome.eq(revoke_outcome),
            connections::token_version.eq(connections::token_version + 1),
            connections::lease_holder.eq(None::<String>),
            connections::lease_until.eq(None::<i64>),
            connections::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a message without changing the status (a failed exchange, a provider error).
pub fn set_message(conn: &mut DbConn, id: i64, message: &str, now: i64) -> QueryResult<()> {
    diesel::update(connections::table.find(id))
        .set((connections::status_message.eq(Some(message)), connections::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(connections::table.find(id)).execute(conn)
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
    connections::table
        .inner_join(users::table)
        .filter(connections::service_id.eq(service_id))
        .order((connections::name_lower, connections::id))
        .select((connections::link_name, connections::name, connections::status, users::username))
        .load(conn)
}

/// The list's sort orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionSort {
    NameAsc,
    NameDesc,
    UpdatedDesc,
    UpdatedAsc,
}

impl ConnectionSort {
    pub const ALL: [ConnectionSort; 4] =
        [ConnectionSort::NameAsc, ConnectionSort::NameDesc, ConnectionSort::UpdatedDesc, ConnectionSort::UpdatedAsc];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionSort::NameAsc => "name",
            ConnectionSort::NameDesc => "-name",
            ConnectionSort::UpdatedDesc => "-updated",
            ConnectionSort::UpdatedAsc => "updated",
        }
    }

    pub fn parse(raw: &str) -> Option<ConnectionSort> {
        ConnectionSort::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// What a list page asks for.
#[derive(Debug, Clone)]
pub struct ConnectionQuery {
    pub search: String,
    pub service_id: Option<i64>,
    pub status: Option<Status>,
    pub auth_type: Option<crate::domain::service::AuthType>,
    pub owner_id: Option<i64>,
    pub sort: ConnectionSort,
    pub page: i64,
    pub per_page: i64,
}

/// What the HTML list shows of a connection (its own columns; the service's and the owner's come
/// with the `ListRow`). Only the JSON list reads the whole `ConnectionMeta`: measured with `pgbench`
/// on 100,000 connections, a first page with these columns ran at 16,500 statements/s against 10,900.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = connections)]
pub struct ConnectionSummary {
    pub id: i64,
    pub link_name: String,
    pub name: String,
    pub service_id: i64,
    pub owner_id: i64,
    pub status: String,
    pub connected_at: Option<i64>,
}

/// The columns a list may read of each connection: `ConnectionMeta` or `ConnectionSummary`.
pub trait ListColumns: Sized {
    fn id(&self) -> i64;

    fn service_id(&self) -> i64;

    fn owner_id(&self) -> i64;

    /// `query`'s rows: these columns, then the `Others` (see `list_rows`).
    fn load_with(conn: &mut DbConn, query: connections::BoxedQuery<'_, MultiBackend>, others: Others) -> QueryResult<Vec<Row<Self>>>;
}

type TextColumn = Box<dyn BoxableExpression<connections::table, MultiBackend, SqlType = Text>>;
type CountColumn = Box<dyn BoxableExpression<connections::table, MultiBackend, SqlType = BigInt>>;

/// What every list row holds besides the connection's own columns: its service's columns and its
/// owner's name (each a look-up, or nothing when they come from the cache), and the two counters
/// (the same on every row, or nothing when they come from the cache).
type Others = (TextColumn, TextColumn, CountColumn, CountColumn);
type Row<R> = (R, String, String, i64, i64);

/// Written out per type: diesel's bounds for selecting a generic `Selectable` are not nameable.
macro_rules! list_columns {
    ($($columns:ty),*) => {$(
        impl ListColumns for $columns {
            fn id(&self) -> i64 {
                self.id
            }

            fn service_id(&self) -> i64 {
                self.service_id
            }

            fn owner_id(&self) -> i64 {
                self.owner_id
            }

            fn load_with(conn: &mut DbConn, query: connections::BoxedQuery<'_, MultiBackend>, others: Others) -> QueryResult<Vec<Row<Self>>> {
                let (service, owner, connections, services) = others;
                query.select((<$columns>::as_select(), service, owner, connections, services)).load(conn)
            }
        }
    )*};
}
list_columns!(ConnectionMeta, ConnectionSummary);

/// A list row: the connection, its service's link name, name and auth type, and its owner.
#[derive(Debug, Clone)]
pub struct ListRow<R = ConnectionMeta> {
    pub meta: R,
    pub service_link: String,
    pub service_name: String,
    pub auth_type: String,
    pub owner: String,
}

/// The list filters on the connections table alone: the service and owner columns a row shows come
/// from per-row look-ups by primary key (`list`). A join would let the planner start from the small
/// users table and then sort every connection of the owner to find the first page (measured: 120 ms
/// for 100,000 connections instead of under one).
fn filtered<'a>(conn: &DbConn, q: &'a ConnectionQuery) -> connections::BoxedQuery<'a, MultiBackend> {
    let mut query = connections::table.into_boxed::<MultiBackend>();
    if let Some(id) = q.service_id {
        query = query.filter(connections::service_id.eq(id));
    }
    if let Some(status) = q.status {
        query = query.filter(connections::status.eq(status.as_str()));
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
    let needle = q.search.trim().to_lowercase();
    if needle.is_empty() {
        return query;
    }
    if needle.chars().count() >= 3 && matches!(conn, DbConn::Sqlite(_)) {
        let phrase = format!("\"{}\"", needle.replace('"', "\"\""));
        return query.filter(
            static_sql::<Bool>("connections.id IN (SELECT rowid FROM connections_fts WHERE connections_fts MATCH ")
                .bind::<Text, _>(phrase)
                .sql(")"),
        );
    }
    let pattern = format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    query.filter(connections::name_lower.like(pattern.clone()).escape('\\').or(connections::link_name.like(pattern).escape('\\')))
}

/// How many connections a list matches: exact from the per-owner counters that triggers keep when
/// only the owner is filtered, otherwise counted up to `COUNT_CAP` ("1,000+"), so that no page view
/// walks 100,000 rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub n: i64,
    /// True when there are more than `n`.
    pub at_least: bool,
}

pub const COUNT_CAP: i64 = 1000;

/// One page of connections matching the query, and how many match in all.
///
/// With `names`, a search sorted by name (and filtered by nothing but the owner) comes from the
/// in-memory name index (`search`), which finds the page without reading the other matches.
/// Otherwise a search collects its matches first (at most `COUNT_CAP + 1`, each with its sort keys), which
/// both counts them and, when they are within the cap, picks the page by sorting them here; the
/// page's rows are then read by id. Walking a sort index and filtering instead is what both planners
/// chose, and it read every connection whenever the matches sorted last (measured on PostgreSQL:
/// 100 ms for "zoho" among 100,000). Past the cap the matches are common, so that walk finds a page
/// soon. Other filters have indexes that give the order directly.
///
/// With a `cache`, the rows' service labels come from it, and only those it lacks are read.
pub fn list<R: ListColumns>(
    conn: &mut DbConn,
    q: &ConnectionQuery,
    cache: Option<&Cache>,
    names: Option<&NameIndex>,
) -> QueryResult<Listing<R>> {
    let (limit, offset) = (q.per_page, (q.page - 1) * q.per_page);
    let total = if !q.search.trim().is_empty() {
        // The in-memory name index answers a search sorted by name, with no filter but the owner's.
        let by_name = matches!(q.sort, ConnectionSort::NameAsc | ConnectionSort::NameDesc);
        if let Some(names) = names.filter(|_| by_name && q.service_id.is_none() && q.status.is_none() && q.auth_type.is_none()) {
            let needle = q.search.trim().to_lowercase();
            let query = NameQuery {
                needle: &needle,
                owner_id: q.owner_id,
                descending: q.sort == ConnectionSort::NameDesc,
                offset: offset as usize,
                limit: limit as usize,
            };
            if let Some(found) = names.search(conn, query)? {
                return page_by_ids(conn, q, found.ids, found.total, cache);
            }
        }
        // Each match with the one sort key the page needs (measured: reading both cost a ninth of a
        // search on SQLite).
        let (window, matches) = ((offset as usize, limit as usize), filtered(conn, q).limit(COUNT_CAP + 1));
        let (n, ids) = match q.sort {
            ConnectionSort::NameAsc | ConnectionSort::NameDesc => {
                let hits = matches.select((connections::id, connections::name_lower)).load::<(i64, String)>(conn)?;
                (hits.len(), page_of(hits, q.sort == ConnectionSort::NameDesc, window))
            }
            ConnectionSort::UpdatedDesc | ConnectionSort::UpdatedAsc => {
                let hits = matches.select((connections::id, connections::updated_at)).load::<(i64, i64)>(conn)?;
                (hits.len(), page_of(hits, q.sort == ConnectionSort::UpdatedDesc, window))
            }
        };
        if n as i64 <= COUNT_CAP {
            return page_by_ids(conn, q, ids, Total { n: n as i64, at_least: false }, cache);
        }
        Some(Total { n: COUNT_CAP, at_least: true })
    } else if q.service_id.is_none() && q.status.is_none() && q.auth_type.is_none() {
        None // the counters' sum, which comes with the page
    } else {
        let found = filtered(conn, q).select(connections::id).limit(COUNT_CAP + 1).load::<i64>(conn)?.len() as i64;
        Some(Total { n: found.min(COUNT_CAP), at_least: found > COUNT_CAP })
    };
    let query = filtered(conn, q);
    let query = match q.sort {
        ConnectionSort::NameAsc => query.order(Paged::new((connections::name_lower.asc(), connections::id.asc()), limit, offset)),
        ConnectionSort::NameDesc => query.order(Paged::new((connections::name_lower.desc(), connections::id.desc()), limit, offset)),
        ConnectionSort::UpdatedDesc => query.order(Paged::new((connections::updated_at.desc(), connections::id.desc()), limit, offset)),
        ConnectionSort::UpdatedAsc => query.order(Paged::new((connections::updated_at.asc(), connections::id.asc()), limit, offset)),
    };
    let (rows, counts) = list_rows(conn, query, q, cache)?;
    Listing::new(conn, q, rows, total, counts, cache)
}

/// The page whose ids a search found, in their order, with the total it counted.
fn page_by_ids<R: ListColumns>(
    conn: &mut DbConn,
    q: &ConnectionQuery,
    ids: Vec<i64>,
    total: Total,
    cache: Option<&Cache>,
) -> QueryResult<Listing<R>> {
    let page = IdIn::padded("connections.id", ids.clone(), q.per_page as usize);
    let (mut rows, counts) = list_rows::<R>(conn, connections::table.filter(page).into_boxed(), q, cache)?;
    rows.sort_by_key(|row| ids.iter().position(|id| *id == row.meta.id()));
    Listing::new(conn, q, rows, Some(total), counts, cache)
}

/// A page of the list: its rows, how many connections match, and how many services there are (the
/// service filter offers a list of them when they are few).
#[derive(Debug, Clone)]
pub struct Listing<R = ConnectionMeta> {
    pub rows: Vec<ListRow<R>>,
    pub total: Total,
    pub service_count: i64,
}

/// The counters that triggers keep and a list shows: the listed owner's (or everyone's) connections,
/// and the services. Read in the page's own statement (one round trip instead of three on
/// PostgreSQL), or from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCounts {
    pub connections: i64,
    pub services: i64,
}

impl<R> Listing<R> {
    /// `total` is `None` when the counters give it. An empty page brought no counters: they are
    /// read on their own then (and cached).
    fn new(
        conn: &mut DbConn,
        q: &ConnectionQuery,
        rows: Vec<ListRow<R>>,
        total: Option<Total>,
        counts: Option<ListCounts>,
        cache: Option<&Cache>,
    ) -> QueryResult<Listing<R>> {
        let counts = match counts {
            Some(counts) => counts,
            None => {
                let epoch = cache.map(Cache::epoch);
                let counts = ListCounts { connections: counter_sum(conn, q.owner_id)?, services: crate::models::service::count_all(conn)? };
                if let (Some(cache), Some(epoch)) = (cache, epoch) {
                    cache.put_list_counts(q.owner_id, counts, epoch);
                }
                counts
            }
        };
        let total = total.unwrap_or(Total { n: counts.connections, at_least: false });
        Ok(Listing { rows, total, service_count: counts.services })
    }
}

/// The ids of the page `(offset, limit)` of search matches `(id, sort key)`, in the order the SQL of
/// `list` would give: by key, then id, both ascending or both descending. Both backends compare the
/// key columns byte by byte (PostgreSQL's are `COLLATE "C"`, SQLite's `BINARY`), as Rust compares
/// strings. Only the matches up to the page's end are sorted: selecting them first is linear in the
/// matches (measured: sorting all 1,000 was 5% of a search's CPU).
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

/// The list columns of `query`'s rows: the connection's columns `R`, its service's link name, auth
/// type and name, and its owner's name, and the list's counters.
///
/// With a `cache`, the service labels, the owners' names and the counters come from it, and only
/// what it lacks is read (measured on PostgreSQL: the look-ups and the counters' sub-queries cost a
/// fifth of the page statement's time on the server). Without one, they come in the page's own
/// statement: each look-up by primary key, the three service columns from one look-up joined with
/// spaces (neither a link name nor an auth type holds one, so the name is the rest, whatever it
/// holds), and the owner's name read once for the page when the list is theirs.
fn list_rows<R: ListColumns>(
    conn: &mut DbConn,
    query: connections::BoxedQuery<'_, MultiBackend>,
    q: &ConnectionQuery,
    cache: Option<&Cache>,
) -> QueryResult<(Vec<ListRow<R>>, Option<ListCounts>)> {
    let epoch = cache.map(Cache::epoch);
    let cached_counts = cache.and_then(|cache| cache.list_counts(q.owner_id));
    let nothing = || -> TextColumn { Box::new(static_sql::<Text>("''")) };
    let no_count = || -> CountColumn { Box::new(static_sql::<BigInt>("CAST(0 AS BIGINT)")) };
    let others = (
        match cache {
            Some(_) => nothing(),
            None => Box::new(static_sql::<Text>(
                "(SELECT link_name || ' ' || auth_type || ' ' || name FROM services WHERE services.id = connections.service_id)",
            )),
        },
        match cache {
            Some(_) => nothing(),
            None => owner_name(q.owner_id),
        },
        // Uncorrelated: both databases evaluate these once per statement, not per row.
        match cached_counts {
            Some(_) => no_count(),
            None => counter_sum_of(q.owner_id),
        },
        match cached_counts {
            Some(_) => no_count(),
            None => Box::new(static_sql::<BigInt>(crate::models::service::SERVICE_TOTAL_SQL)),
        },
    );
    let rows = R::load_with(conn, query, others)?;
    let counts = cached_counts.or_else(|| {
        let counts = rows.first().map(|(_, _, _, connections, services)| ListCounts { connections: *connections, services: *services })?;
        if let (Some(cache), Some(epoch)) = (cache, epoch) {
            cache.put_list_counts(q.owner_id, counts, epoch);
        }
        Some(counts)
    });
    let Some(cache) = cache else {
        let rows = rows
            .into_iter()
            .map(|(meta, service, owner, _, _)| {
                let mut parts = service.splitn(3, ' ');
                let mut next = || parts.next().unwrap_or_default().to_owned();
                ListRow { meta, service_link: next(), auth_type: next(), service_name: next(), owner }
            })
            .collect();
        return Ok((rows, counts));
    };
    let labels = service_labels(conn, cache, rows.iter().map(|(meta, ..)| meta.service_id()))?;
    let owners = user_names(conn, cache, rows.iter().map(|(meta, ..)| meta.owner_id()))?;
    let rows = rows
        .into_iter()
        .map(|(meta, ..)| {
            let label = labels.get(&meta.service_id());
            ListRow {
                service_link: label.map(|l| l.link_name.clone()).unwrap_or_default(),
                auth_type: label.map(|l| l.auth_type.clone()).unwrap_or_default(),
                service_name: label.map(|l| l.name.clone()).unwrap_or_default(),
                owner: owners.get(&meta.owner_id()).map(|name| name.to_string()).unwrap_or_default(),
                meta,
            }
        })
        .collect();
    Ok((rows, counts))
}

/// The entries of `ids`: those `cached` has, and the rest from `read`, in one statement, which `put`
/// then caches (unless something changed meanwhile: the epoch).
fn cached_or_read<T: Clone>(
    conn: &mut DbConn,
    cache: &Cache,
    ids: impl Iterator<Item = i64>,
    cached: impl Fn(&Cache, i64) -> Option<T>,
    read: impl FnOnce(&mut DbConn, Vec<i64>) -> QueryResult<Vec<(i64, T)>>,
    put: impl FnOnce(&Cache, Vec<(i64, T)>, u64),
) -> QueryResult<HashMap<i64, T>> {
    let epoch = cache.epoch();
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    for id in ids {
        if found.contains_key(&id) || missing.contains(&id) {
            continue;
        }
        match cached(cache, id) {
            Some(entry) => {
                found.insert(id, entry);
            }
            None => missing.push(id),
        }
    }
    if !missing.is_empty() {
        let read = read(conn, missing)?;
        found.extend(read.iter().cloned());
        put(cache, read, epoch);
    }
    Ok(found)
}

/// The labels of services `ids`: from the cache, the rest read in one statement and cached.
fn service_labels(conn: &mut DbConn, cache: &Cache, ids: impl Iterator<Item = i64>) -> QueryResult<HashMap<i64, Arc<ServiceLabel>>> {
    let read = |conn: &mut DbConn, missing| {
        let found = crate::models::service::labels(conn, missing)?;
        Ok(found.into_iter().map(|(id, label)| (id, Arc::new(label))).collect())
    };
    cached_or_read(conn, cache, ids, Cache::service_label, read, Cache::put_service_labels)
}

/// The names of users `ids`: from the cache, the rest read in one statement and cached.
fn user_names(conn: &mut DbConn, cache: &Cache, ids: impl Iterator<Item = i64>) -> QueryResult<HashMap<i64, Arc<str>>> {
    let read = |conn: &mut DbConn, missing| {
        let found = crate::models::user::names(conn, missing)?;
        Ok(found.into_iter().map(|(id, name)| (id, Arc::from(name))).collect())
    };
    cached_or_read(conn, cache, ids, Cache::user_name, read, Cache::put_user_names)
}

/// Each row's owner's name: the one owner's, read once, when the list is theirs.
fn owner_name(owner: Option<i64>) -> Box<dyn BoxableExpression<connections::table, MultiBackend, SqlType = Text>> {
    match owner {
        Some(owner) => Box::new(static_sql::<Text>("(SELECT username FROM users WHERE users.id = ").bind::<BigInt, _>(owner).sql(")")),
        None => Box::new(static_sql::<Text>("(SELECT username FROM users WHERE users.id = connections.owner_id)")),
    }
}

/// The connections of one owner (or, given none, of everyone), from the counters that triggers keep.
/// Two statements rather than `owner_id = COALESCE(?, owner_id)`: that one cannot use the key, and
/// PostgreSQL then kept planning the whole page query afresh on every run.
fn counter_sum_of(owner: Option<i64>) -> Box<dyn BoxableExpression<connections::table, MultiBackend, SqlType = BigInt>> {
    match owner {
        Some(owner) => Box::new(static_sql::<BigInt>(COUNTER_SUM).sql(" WHERE owner_id = ").bind::<BigInt, _>(owner).sql(")")),
        None => Box::new(static_sql::<BigInt>(COUNTER_SUM).sql(EVERY_OWNER)),
    }
}

const COUNTER_SUM: &str = "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM connection_counts";
/// Everyone's counters, read by key for the reason given at `service::SERVICE_TOTAL_SQL` (measured
/// after seeding 100,000 connections: 541 pages and 2 ms a page view, instead of 3 pages). Every
/// owner is a user (a foreign key).
const EVERY_OWNER: &str = " WHERE owner_id IN (SELECT id FROM users))";

/// `counter_sum_of` on its own, for a page that brought no counters.
fn counter_sum(conn: &mut DbConn, owner: Option<i64>) -> QueryResult<i64> {
    match owner {
        Some(owner) => {
            diesel::select(static_sql::<BigInt>(COUNTER_SUM).sql(" WHERE owner_id = ").bind::<BigInt, _>(owner).sql(")")).get_result(conn)
        }
        None => diesel::select(static_sql::<BigInt>(COUNTER_SUM).sql(EVERY_OWNER)).get_result(conn),
    }
}

/// Notes that a connection was used (written at most once a minute by callers).
pub fn mark_used(conn: &mut DbConn, id: i64, now: i64) -> QueryResult<()> {
    diesel::update(connections::table.find(id)).set(connections::last_used_at.eq(Some(now))).execute(conn).map(drop)
}

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
