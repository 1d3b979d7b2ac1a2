//! Custom services in the database: the row, the public view (no secret, ever), the look-ups and the
//! writes. The list is read in `lists::services`.

use diesel::prelude::*;

use crate::crypto::{Keyring, Secret, SecretSlot};
use crate::db::DbConn;
use crate::db::schema::services;
use crate::domain::destinations::Destinations;
use crate::domain::service::{AuthType, ServiceConfig};
use crate::domain::service_input::{SecretChange, ServiceInput, ValidService};
use crate::domain::variables::ConnectionVariable;
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
    #[diesel(deserialize_as = String)]
    pub auth_type: AuthType,
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
    /// The catalogue template it was created from (`catalogue`), and that template's version.
    pub template_id: Option<String>,
    pub template_version: Option<i32>,
    /// Imported without the client secret it needs: its page asks for it (`ops::service_io`).
    pub client_secret_pending: bool,
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
    /// What each connection gives when it is created (stored in the settings' JSON).
    pub connection_variables: Vec<ConnectionVariable>,
    pub client_secret_set: bool,
    /// Imported without the client secret it needs: entering it clears this.
    pub client_secret_pending: bool,
    /// What the provider said when it last refused the client credentials (until the service changes).
    pub client_refused: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    /// "GET /me": what Test sends to check a connection.
    pub test_request: Option<String>,
    /// The catalogue template and version it was created from.
    pub template: Option<(String, i32)>,
}

impl ServiceRow {
    pub fn view(&self) -> Result<Service, AppError> {
        let unreadable = |e| AppError::Internal(format!("service {} has unreadable settings: {e}", self.id));
        // Read straight from the text, not through a `Value`, which would reorder the extra parameters.
        let config: ServiceConfig = serde_json::from_str(&self.config).map_err(unreadable)?;
        let Variables { connection_variables } = serde_json::from_str(&self.config).map_err(unreadable)?;
        Ok(Service {
            id: self.id,
            link_name: self.link_name.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            api_base_url: self.api_base_url.clone(),
            config,
            connection_variables,
            client_secret_set: self.client_secret.is_some(),
            client_secret_pending: self.client_secret_pending,
            client_refused: self.client_refused_message.clone(),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            updated_at: self.updated_at,
            updated_by: self.updated_by.clone(),
            test_request: self.test_request.clone(),
            template: self.template_id.clone().zip(self.template_version),
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
        // Where it was entered for, and where the service's settings send it now: an allow-list of
        // origins narrowed since (`domain::captures`) takes the secret away from the origins it drops.
        let current = self.view().map(|s| Destinations::of(s.api_base_url.as_deref(), &s.config));
        let now_allowed = current.is_ok_and(|d| d.client_secret_part().allows_any(endpoint));
        if !self.client_secret_destinations().allows_any(endpoint) || !now_allowed {
            let to = crate::domain::destinations::origin_of(endpoint)
                .map(|o| crate::domain::destinations::shown(&o))
                .unwrap_or_default();
            return Err(AppError::Conflict(format!(
                "The client secret of the service “{}” was not entered for {to}, so it is not sent there: \
                 enter it again on the service's page.",
                self.name
            )));
        }
        self.open_client_secret(keyring)
    }

    /// Opens the client secret. Whatever sends it uses `client_secret_for`, which checks where.
    pub fn open_client_secret(&self, keyring: &Keyring) -> Result<Option<Secret>, AppError> {
        let id = self.id.to_string();
        self.client_secret
            .as_deref()
            .map(|sealed| keyring.open(&secret_slot(&id), sealed))
            .transpose()
            .map_err(Into::into)
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

/// The connection variables beside the type-specific settings in the stored JSON.
#[derive(serde::Deserialize)]
struct Variables {
    #[serde(default)]
    connection_variables: Vec<ConnectionVariable>,
}

/// The settings as stored: the type-specific settings, and the connection variables when there are any
/// (written into the same object as text, which keeps the order of the extra parameters).
fn config_json(spec: &ValidService) -> Result<String, AppError> {
    let failed = |e: serde_json::Error| AppError::Internal(format!("service settings: {e}"));
    let settings = serde_json::to_string(&spec.config).map_err(failed)?;
    if spec.connection_variables.is_empty() {
        return Ok(settings);
    }
    let variables = serde_json::to_string(&spec.connection_variables).map_err(failed)?;
    match settings.strip_prefix('{') {
        Some(rest) => Ok(format!("{{\"connection_variables\":{variables},{rest}")),
        None => Err(AppError::Internal("service settings are not a JSON object".into())),
    }
}

/// Inserts a service and seals its secret under the new row's id, in one transaction.
pub fn insert(
    conn: &mut DbConn,
    keyring: &Keyring,
    spec: &ValidService,
    actor: &str,
    now: i64,
) -> Result<i64, AppError> {
    crate::db::write_tx(conn, |conn| {
        let id = insert_without_secret(conn, spec, false, actor, now)?;
        store_secret(conn, keyring, id, spec)?;
        Ok(id)
    })
}

/// Inserts a service whatever `spec` says of a client secret: an imported one, whose format carries
/// none. `secret_pending` marks it so that its page asks for the secret.
pub fn insert_without_secret(
    conn: &mut DbConn,
    spec: &ValidService,
    secret_pending: bool,
    actor: &str,
    now: i64,
) -> Result<i64, AppError> {
    let config = config_json(spec)?;
    Ok(diesel::insert_into(services::table)
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
            services::client_secret_pending.eq(secret_pending),
        ))
        .returning(services::id)
        .get_result(conn)?)
}

/// Records the catalogue template a new service was created from.
pub fn set_template(conn: &mut DbConn, id: i64, template_id: &str, version: i32) -> QueryResult<()> {
    diesel::update(services::table.find(id))
        .set((services::template_id.eq(template_id), services::template_version.eq(version)))
        .execute(conn)
        .map(drop)
}

/// Updates a service's editable fields (never its link name).
pub fn update(
    conn: &mut DbConn,
    keyring: &Keyring,
    id: i64,
    spec: &ValidService,
    actor: &str,
    now: i64,
) -> Result<(), AppError> {
    let config = config_json(spec)?;
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
            let origins =
                Destinations::of(spec.api_base_url.as_deref(), &spec.config).client_secret_part().to_json();
            (Some(keyring.seal(&secret_slot(&id.to_string()), secret)?), Some(origins))
        }
    };
    // A secret entered, or none needed any more: nothing is pending.
    diesel::update(services::table.find(id))
        .set((
            services::client_secret.eq(sealed),
            services::client_secret_origins.eq(origins),
            services::client_secret_pending.eq(false),
        ))
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
        .set((
            services::client_refused_at.eq(None::<i64>),
            services::client_refused_message.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConn, link_name: &str) -> QueryResult<Option<ServiceRow>> {
    services::table
        .filter(services::link_name.eq(link_name))
        .select(ServiceRow::as_select())
        .get_result(conn)
        .optional()
}

/// `find`, locking the row until the transaction ends. On PostgreSQL a connection cannot be added to
/// the service meanwhile (its foreign-key check needs a share lock on the row); SQLite's write
/// transaction already keeps every other writer out.
pub fn find_for_update(conn: &mut DbConn, link_name: &str) -> QueryResult<Option<ServiceRow>> {
    match conn {
        DbConn::Pg(pg) => services::table
            .filter(services::link_name.eq(link_name))
            .select(ServiceRow::as_select())
            .for_update()
            .first(pg)
            .optional(),
        DbConn::Sqlite(_) => find(conn, link_name),
    }
}

pub fn find_by_id(conn: &mut DbConn, id: i64) -> QueryResult<ServiceRow> {
    services::table.find(id).select(ServiceRow::as_select()).get_result(conn)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(services::table.find(id)).execute(conn)
}

/// Every service's link name and display name, for pickers.
pub fn names(conn: &mut DbConn) -> QueryResult<Vec<(String, String, String)>> {
    services::table
        .order((services::name_lower, services::id))
        .select((services::link_name, services::name, services::auth_type))
        .load(conn)
}

impl From<&Service> for ServiceInput {
    /// The stored service as input (no secret): the base of a PATCH and the edit form's values. The
    /// sections read back from the settings' JSON, whose field names the input shares.
    fn from(s: &Service) -> ServiceInput {
        let settings = serde_json::to_value(&s.config).unwrap_or_default();
        ServiceInput {
            name: Some(s.name.clone()),
            link_name: Some(s.link_name.clone()),
            description: Some(s.description.clone()),
            auth_type: Some(s.config.auth_type().as_str().to_owned()),
            api_base_url: s.api_base_url.clone(),
            api_key: s.config.api_key().and_then(|_| serde_json::from_value(settings.clone()).ok()),
            oauth2: s.config.oauth().and_then(|_| serde_json::from_value(settings).ok()),
            test_request: s.test_request.clone(),
            template: None,
            connection_variables: Some(s.connection_variables.clone()),
        }
    }
}

/// The OAuth2 services with a keep-alive interval (`OAuthConfig::keep_alive_days`): id and days.
/// The settings' text narrows the read to those that name one.
pub fn with_keep_alive(conn: &mut DbConn) -> QueryResult<Vec<(i64, u32)>> {
    let rows: Vec<(i64, String)> = services::table
        .filter(services::auth_type.eq(AuthType::OAuth2.as_str()))
        .filter(services::config.like("%\"keep_alive_days\":%"))
        .filter(services::config.not_like("%\"keep_alive_days\":null%"))
        .select((services::id, services::config))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, config)| {
            let config: ServiceConfig = serde_json::from_str(&config).ok()?;
            Some((id, config.oauth()?.keep_alive_days?))
        })
        .collect())
}
