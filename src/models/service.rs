//! Custom services in the database: the row, the public view (no secret, ever), and the queries —
//! including the list with search, filter, sort and pagination.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use crate::cache::Cache;
use crate::crypto::{Keyring, Secret, SecretSlot};
use crate::db::schema::services;
use crate::db::{DbConn, MultiBackend, Paged, static_sql};
use crate::domain::destinations::Destinations;
use crate::domain::service::{AuthType, ServiceConfig};
use crate::domain::service_input::{SecretChange, ValidService};
use crate::error::AppError;

/// Where the client secret's ciphertext is bound: table, column, row id.
fn secret_slot(id: &str) -> SecretSlot<'_> {
    SecretSlot::new("services", "client_secret", id)
}

/// A stored service. The sealed secret stays in this struct and is opened only where it is used.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = services)]
pub struct ServiceRow {
    pub id: i64,
    pub link_name: String,
    pub name: String,
    pub name_lower: String,
    pub description: String,
    pub auth_type: String,
    pub api_base_url: Option<String>,
    pub config: String,
    pub client_secret: Option<Vec<u8>>,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    pub test_request: Option<String>,
    /// Kept by triggers on `connections`.
    pub connection_count: i64,
    /// Where the client secret may be sent (`Destinations` as JSON), set with the secret.
    pub client_secret_origins: Option<String>,
    /// When the provider last refused the client credentials (invalid_client), and what it said.
    pub client_refused_at: Option<i64>,
    pub client_refused_message: Option<String>,
}

/// A service as pages and the API show it: no secret, only whether one is set.
#[derive(Debug, Clone)]
pub struct Service {
    pub id: i64,
    pub link_name: String,
    pub name: String,
    pub description: String,
    pub api_base_url: Option<String>,
    pub config: ServiceConfig,
    pub client_secret_set: bool,
    /// What the provider said when it last refused the client credentials (until the service changes).
    pub client_refused: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    /// "GET /me": what Test sends to check a connection.
    pub test_request: Option<String>,
}

impl ServiceRow {
    pub fn view(&self) -> Result<Service, AppError> {
        let config: ServiceConfig = serde_json::from_str(&self.config)
            .map_err(|e| AppError::Internal(format!("service {} has unreadable settings: {e}", self.id)))?;
        Ok(Service {
            id: self.id,
            link_name: self.link_name.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            api_base_url: self.api_base_url.clone(),
            config,
            client_secret_set: self.client_secret.is_some(),
            client_refused: self.client_refused_message.clone(),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            updated_at: self.updated_at,
            updated_by: self.updated_by.clone(),
            test_request: self.test_request.clone(),
        })
    }

    /// Where the client secret was entrusted to be sent (nothing, when unknown).
    pub fn client_secret_destinations(&self) -> Destinations {
        self.client_secret_origins.as_deref().map(Destinations::from_json).unwrap_or_default()
    }

    /// Opens the client secret to send it to `endpoint`, which must be at an origin it was entered
    /// for (its token, refresh or revoke endpoints then); otherwise a conflict that says so.
    pub fn client_secret_for(&self, keyring: &Keyring, endpoint: &str) -> Result<Option<Secret>, AppError> {
        if self.client_secret.is_none() {
            return Ok(None);
        }
        if !self.client_secret_destinations().allows_any(endpoint) {
            let to = crate::domain::destinations::origin_of(endpoint).map(|o| crate::domain::destinations::shown(&o)).unwrap_or_default();
            return Err(AppError::Conflict(format!(
                "The client secret of the service “{}” was not entered for {to}, so it is not sent there: enter it \
                 again on the service's page.",
                self.name
            )));
        }
        self.open_client_secret(keyring)
    }

    /// Opens the client secret. Whatever sends it uses `client_secret_for`, which checks where.
    pub fn open_client_secret(&self, keyring: &Keyring) -> Result<Option<Secret>, AppError> {
        let id = self.id.to_string();
        self.client_secret.as_deref().map(|sealed| keyring.open(&secret_slot(&id), sealed)).transpose().map_err(Into::into)
    }
}

impl Service {
    pub fn auth_type(&self) -> AuthType {
        self.config.auth_type()
    }

    pub fn updated_label(&self) -> String {
        crate::clock::format_time(self.updated_at)
    }

    pub fn created_label(&self) -> String {
        crate::clock::format_time(self.created_at)
    }
}

fn config_json(config: &ServiceConfig) -> Result<String, AppError> {
    serde_json::to_string(config).map_err(|e| AppError::Internal(format!("service settings: {e}")))
}

/// Inserts a service and seals its secret under the new row's id, in one transaction.
pub fn insert(conn: &mut DbConn, keyring: &Keyring, spec: &ValidService, actor: &str, now: i64) -> Result<i64, AppError> {
    let config = config_json(&spec.config)?;
    crate::db::write_tx(conn, |conn| {
        let id: i64 = diesel::insert_into(services::table)
            .values((
                services::link_name.eq(&spec.link_name),
                services::name.eq(&spec.name),
                services::name_lower.eq(spec.name.to_lowercase()),
                services::description.eq(&spec.description),
                services::auth_type.eq(spec.config.auth_type().as_str()),
                services::api_base_url.eq(&spec.api_base_url),
                services::config.eq(&config),
                services::created_at.eq(now),
                services::created_by.eq(actor),
                services::updated_at.eq(now),
                services::updated_by.eq(actor),
                services::test_request.eq(&spec.test_request),
            ))
            .returning(services::id)
            .get_result(conn)?;
        store_secret(conn, keyring, id, spec)?;
        Ok(id)
    })
}

/// Updates a service's editable fields (never its link name).
pub fn update(conn: &mut DbConn, keyring: &Keyring, id: i64, spec: &ValidService, actor: &str, now: i64) -> Result<(), AppError> {
    let config = config_json(&spec.config)?;
    crate::db::write_tx(conn, |conn| {
        diesel::update(services::table.find(id))
            .set((
                services::name.eq(&spec.name),
                services::name_lower.eq(spec.name.to_lowercase()),
                services::description.eq(&spec.description),
                services::auth_type.eq(spec.config.auth_type().as_str()),
                services::api_base_url.eq(&spec.api_base_url),
                services::config.eq(&config),
                services::updated_at.eq(now),
                services::updated_by.eq(actor),
                services::test_request.eq(&spec.test_request),
                // An admin changed the service: refreshes refused for its client credentials try again.
                services::client_refused_at.eq(None::<i64>),
                services::client_refused_message.eq(None::<String>),
            ))
            .execute(conn)?;
        store_secret(conn, keyring, id, spec)
    })
}

/// Stores a new client secret with the endpoints it is entrusted to (those of `spec`), or clears it.
fn store_secret(conn: &mut DbConn, keyring: &Keyring, id: i64, spec: &ValidService) -> Result<(), AppError> {
    let (sealed, origins) = match &spec.client_secret {
        SecretChange::Keep => return Ok(()),
        SecretChange::Clear => (None, None),
        SecretChange::Set(secret) => {
            let origins = Destinations::of(spec.api_base_url.as_deref(), &spec.config).client_secret_part().to_json();
            (Some(keyring.seal(&secret_slot(&id.to_string()), secret)?), Some(origins))
        }
    };
    diesel::update(services::table.find(id))
        .set((services::client_secret.eq(sealed), services::client_secret_origins.eq(origins)))
        .execute(conn)?;
    Ok(())
}

/// The provider refused the service's client credentials (invalid_client): every connection of it
/// waits for an admin to change the service (see `tokens`).
pub fn mark_client_refused(conn: &mut DbConn, id: i64, message: &str, now: i64) -> QueryResult<()> {
    diesel::update(services::table.find(id))
        .set((services::client_refused_at.eq(Some(now)), services::client_refused_message.eq(Some(message))))
        .execute(conn)
        .map(drop)
}

/// A token request with the client credentials worked: they are no longer refused.
pub fn clear_client_refused(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(services::table.find(id).filter(services::client_refused_at.is_not_null()))
        .set((services::client_refused_at.eq(None::<i64>), services::client_refused_message.eq(None::<String>)))
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConn, link_name: &str) -> QueryResult<Option<ServiceRow>> {
    services::table.filter(services::link_name.eq(link_name)).select(ServiceRow::as_select()).get_result(conn).optional()
}

/// `find`, locking the row until the transaction ends. On PostgreSQL a connection cannot be added to
/// the service meanwhile (its foreign-key check needs a share lock on the row); SQLite's write
/// transaction already keeps every other writer out.
pub fn find_for_update(conn: &mut DbConn, link_name: &str) -> QueryResult<Option<ServiceRow>> {
    match conn {
        DbConn::Pg(pg) => {
            services::table.filter(services::link_name.eq(link_name)).select(ServiceRow::as_select()).for_update().first(pg).optional()
        }
        DbConn::Sqlite(_) => find(conn, link_name),
    }
}

pub fn find_by_id(conn: &mut DbConn, id: i64) -> QueryResult<ServiceRow> {
    services::table.find(id).select(ServiceRow::as_select()).get_result(conn)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(services::table.find(id)).execute(conn)
}

/// What a connection list shows of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLabel {
    pub link_name: String,
    pub auth_type: String,
    pub name: String,
}

/// The labels of the services `ids`.
pub fn labels(conn: &mut DbConn, ids: Vec<i64>) -> QueryResult<Vec<(i64, ServiceLabel)>> {
    let slots = ids.len();
    let found: Vec<(i64, String, String, String)> = services::table
        .filter(crate::db::IdIn::padded("services.id", ids, slots))
        .select((services::id, services::link_name, services::auth_type, services::name))
        .load(conn)?;
    Ok(found.into_iter().map(|(id, link_name, auth_type, name)| (id, ServiceLabel { link_name, auth_type, name })).collect())
}

/// Every service's link name and display name, for pickers.
pub fn names(conn: &mut DbConn) -> QueryResult<Vec<(String, String, String)>> {
    services::table
        .order((services::name_lower, services::id))
        .select((services::link_name, services::name, services::auth_type))
        .load(conn)
}

/// The list's sort orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceSort {
    NameAsc,
    NameDesc,
    UpdatedDesc,
    UpdatedAsc,
}

impl ServiceSort {
    pub const ALL: [ServiceSort; 4] = [ServiceSort::NameAsc, ServiceSort::NameDesc, ServiceSort::UpdatedDesc, ServiceSort::UpdatedAsc];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceSort::NameAsc => "name",
            ServiceSort::NameDesc => "-name",
            ServiceSort::UpdatedDesc => "-updated",
            ServiceSort::UpdatedAsc => "updated",
        }
    }

    pub fn parse(raw: &str) -> Option<ServiceSort> {
        ServiceSort::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// What a list page asks for.
#[derive(Debug, Clone)]
pub struct ServiceQuery {
    pub search: String,
    pub auth_type: Option<AuthType>,
    pub sort: ServiceSort,
    pub page: i64,
    pub per_page: i64,
}

/// The search text as matched: trimmed, lowercase. No stored name holds a control character, and a
/// NUL byte would be an error in either database.
fn needle(q: &ServiceQuery) -> String {
    q.search.trim().chars().filter(|c| !c.is_control()).flat_map(char::to_lowercase).collect()
}

fn filtered<'a>(conn: &DbConn, q: &'a ServiceQuery) -> services::BoxedQuery<'a, MultiBackend> {
    let mut query = services::table.into_boxed::<MultiBackend>();
    if let Some(t) = q.auth_type {
        query = query.filter(services::auth_type.eq(t.as_str()));
    }
    let needle = needle(q);
    if needle.is_empty() {
        return query;
    }
    // Trigram indexes need three characters; shorter needles scan (they match most rows anyway).
    let indexed = needle.chars().count() >= 3;
    if indexed && matches!(conn, DbConn::Sqlite(_)) {
        let phrase = format!("\"{}\"", needle.replace('"', "\"\""));
        return query.filter(
            static_sql::<Bool>("services.id IN (SELECT rowid FROM services_fts WHERE services_fts MATCH ").bind::<Text, _>(phrase).sql(")"),
        );
    }
    let pattern = format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    if indexed {
        // The matches first (trigram indexes), then their order: given `ORDER BY name_lower LIMIT 25`
        // and a plain filter, PostgreSQL walks the name index hoping to meet 25 matches early, and
        // reads the whole table when they sort last (measured: 5 ms instead of 0.8 ms for 10,000 rows).
        let subquery = "services.id = ANY(ARRAY(SELECT s.id FROM services s WHERE s.name_lower LIKE ";
        return query.filter(
            static_sql::<Bool>(subquery)
                .bind::<Text, _>(pattern.clone())
                .sql(" ESCAPE '\\' OR s.link_name LIKE ")
                .bind::<Text, _>(pattern)
                .sql(" ESCAPE '\\'))"),
        );
    }
    query.filter(services::name_lower.like(pattern.clone()).escape('\\').or(services::link_name.like(pattern).escape('\\')))
}

/// How many services there are: the per-type counters that triggers keep (`service_counts`), read
/// by their keys. A bulk import updates a counter once per service in one transaction, which leaves
/// PostgreSQL's table thousands of dead row versions long, and vacuum cannot shrink it past the live
/// rows at its end: a plain `SUM` scanned them all (measured: 55 pages for 3 rows, a quarter of a
/// list page's statement).
pub const SERVICE_TOTAL_SQL: &str =
    "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM service_counts WHERE auth_type IN ('api_key', 'basic', 'oauth2'))";

/// How many services of one type there are (from its counter).
const TYPE_TOTAL_SQL: &str = "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM service_counts WHERE auth_type = ";

/// How many services match. Without a search this reads the counters instead of counting every row
/// on every page view.
fn total(conn: &mut DbConn, q: &ServiceQuery) -> QueryResult<i64> {
    if !needle(q).is_empty() {
        return filtered(conn, q).count().get_result(conn);
    }
    match q.auth_type {
        None => count_all(conn),
        Some(t) => diesel::select(static_sql::<BigInt>(TYPE_TOTAL_SQL).bind::<Text, _>(t.as_str()).sql(")")).get_result(conn),
    }
}

/// How many services there are (from the counters).
pub fn count_all(conn: &mut DbConn) -> QueryResult<i64> {
    diesel::select(static_sql::<BigInt>(SERVICE_TOTAL_SQL)).get_result(conn)
}

/// The requested page of `filtered`, in the requested order.
fn page<'a>(conn: &DbConn, q: &'a ServiceQuery) -> services::BoxedQuery<'a, MultiBackend> {
    let query = filtered(conn, q);
    let (limit, offset) = (q.per_page, (q.page - 1) * q.per_page);
    match q.sort {
        ServiceSort::NameAsc => query.order(Paged::new((services::name_lower.asc(), services::id.asc()), limit, offset)),
        ServiceSort::NameDesc => query.order(Paged::new((services::name_lower.desc(), services::id.desc()), limit, offset)),
        ServiceSort::UpdatedDesc => query.order(Paged::new((services::updated_at.desc(), services::id.desc()), limit, offset)),
        ServiceSort::UpdatedAsc => query.order(Paged::new((services::updated_at.asc(), services::id.asc()), limit, offset)),
    }
}

/// One page of services matching the query, and how many match in all.
pub fn list(conn: &mut DbConn, q: &ServiceQuery) -> QueryResult<(Vec<ServiceRow>, i64)> {
    let total = total(conn, q)?;
    let rows = page(conn, q).select(ServiceRow::as_select()).load(conn)?;
    Ok((rows, total))
}

/// A row of the list page: only the columns it shows (no settings JSON, no sealed secret).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = services)]
pub struct ServiceBrief {
    pub id: i64,
    pub link_name: String,
    pub name: String,
    pub auth_type: String,
    pub connection_count: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

/// `list` for the list page: the brief rows. Without a search, the total comes from the `cache`, or
/// else from the counters in the same statement (one round trip instead of two on PostgreSQL), and
/// only an empty page asks for it again.
pub fn list_brief(conn: &mut DbConn, q: &ServiceQuery, cache: Option<&Cache>) -> QueryResult<(Vec<ServiceBrief>, i64)> {
    if !needle(q).is_empty() {
        let total = total(conn, q)?;
        return Ok((page(conn, q).select(ServiceBrief::as_select()).load(conn)?, total));
    }
    let epoch = cache.map(Cache::epoch);
    if let Some(total) = cache.and_then(|cache| cache.service_total(q.auth_type)) {
        return Ok((page(conn, q).select(ServiceBrief::as_select()).load(conn)?, total));
    }
    let rows: Vec<(ServiceBrief, i64)> = match q.auth_type {
        None => page(conn, q).select((ServiceBrief::as_select(), static_sql::<BigInt>(SERVICE_TOTAL_SQL))).load(conn)?,
        Some(t) => page(conn, q)
            .select((ServiceBrief::as_select(), static_sql::<BigInt>(TYPE_TOTAL_SQL).bind::<Text, _>(t.as_str()).sql(")")))
            .load(conn)?,
    };
    let total = match rows.first() {
        Some((_, total)) => *total,
        None => total(conn, q)?,
    };
    if let (Some(cache), Some(epoch)) = (cache, epoch) {
        cache.put_service_total(q.auth_type, total, epoch);
    }
    Ok((rows.into_iter().map(|(row, _)| row).collect(), total))
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
