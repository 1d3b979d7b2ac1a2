//! Creating, changing and deleting custom services, with their audit entries.

use crate::app::AppState;
use crate::domain::service_input::{self, Existing, SecretChange, ServiceInput, ValidService};
use crate::domain::validate::push;
use crate::error::{AppError, FieldErrors};
use crate::models::audit::{self, Event};
use crate::models::service::{self, Service, ServiceRow};
use crate::models::user::User;
use crate::models::{connection, setting};

/// A service with what its pages and API answers show around it.
pub struct ServiceDetails {
    pub service: Service,
    pub connection_count: i64,
    pub callback_url: String,
}

/// The current alias URL (the callback URL derives from it).
pub async fn alias_url(state: &AppState) -> Result<String, AppError> {
    let fallback = state.base_url.as_str().trim_end_matches('/').to_owned();
    Ok(state.db.run(|c| Ok(setting::get(c, setting::ALIAS_URL)?)).await?.unwrap_or(fallback))
}

/// Loads a service by link name, or 404.
pub async fn load(state: &AppState, link_name: &str) -> Result<(ServiceRow, i64), AppError> {
    let link = link_name.to_owned();
    state
        .db
        .run(move |c| {
            let row = service::find(c, &link)?.ok_or(AppError::NotFound)?;
            let count = connection::count_by_service(c, &[row.id])?.get(&row.id).copied().unwrap_or(0);
            Ok((row, count))
        })
        .await
}

pub async fn details(state: &AppState, link_name: &str) -> Result<ServiceDetails, AppError> {
    let (row, connection_count) = load(state, link_name).await?;
    let callback_url = crate::domain::service::callback_url(&alias_url(state).await?);
    Ok(ServiceDetails { service: row.view()?, connection_count, callback_url })
}

fn link_taken() -> FieldErrors {
    let mut errors = FieldErrors::new();
    push(&mut errors, "link_name", "This link name is already taken; choose another.");
    errors
}

/// Names of the fields that differ between two services (for the audit log; never values of secrets).
fn changed_fields(old: &Service, new: &ValidService) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if old.name != new.name {
        fields.push("name");
    }
    if old.description != new.description {
        fields.push("description");
    }
    if old.api_base_url != new.api_base_url {
        fields.push("api_base_url");
    }
    if old.config.auth_type() != new.config.auth_type() {
        fields.push("auth_type");
    }
    if old.config != new.config {
        fields.push(match new.config.auth_type() {
            crate::domain::service::AuthType::ApiKey => "api_key",
            crate::domain::service::AuthType::Basic => "basic",
            crate::domain::service::AuthType::OAuth2 => "oauth2",
        });
    }
    if matches!(new.client_secret, SecretChange::Set(_)) {
        fields.push("client_secret");
    }
    fields
}

/// Validates and stores a new service. A taken link name — also when another request takes it at
/// the same moment — is a field error, not a failure.
pub async fn create(state: &AppState, actor: &User, input: ServiceInput) -> Result<Service, AppError> {
    let spec = service_input::validate(&input, state.config.outbound_allow_http, None).map_err(AppError::Invalid)?;
    let (keyring, actor_name, actor_id, now) = (state.keyring.clone(), actor.username.clone(), actor.id, state.clock.now());
    state
        .db
        .run(move |c| {
            if service::find(c, &spec.link_name)?.is_some() {
                return Err(AppError::Invalid(link_taken()));
            }
            let id = match service::insert(c, &keyring, &spec, &actor_name, now) {
                
                other => other?,
            };
            let details = serde_json::json!({ "auth_type": spec.config.auth_type().as_str(), "name": spec.name });
            audit::record(
                c,
                Event {
                    actor_id: Some(actor_id),
                    actor: &actor_name,
                    action: "service.create",
                    target_type: "service",
                    target: &spec.link_name,
                    details,
                },
                now,
            )?;
            service::find_by_id(c, id)?.view()
        })
        .await
}

/// How an update treats fields the input leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// The input is the whole service (the edit form).
    Replace,
    /// Absent fields keep their stored values (API PATCH).
    Patch,
}

pub async fn update(state: &AppState, actor: &User, link_name: &str, input: ServiceInput, mode: UpdateMode) -> Result<Service, AppError> {
    let (row, connection_count) = load(state, link_name).await?;
    let old = row.view()?;
    let input = match mode {
        UpdateMode::Replace => input,
        UpdateMode::Patch => input.over(ServiceInput::from(&old)),
    };
    let existing = Existing { link_name: &old.link_name, config: &old.config, secret_set: old.client_secret_set, connection_count };
    let spec = service_input::validate(&input, state.config.outbound_allow_http, Some(&existing)).map_err(AppError::Invalid)?;
    let fields = changed_fields(&old, &spec);
    let (keyring, actor_name, actor_id, now, id) = (state.keyring.clone(), actor.username.clone(), actor.id, state.clock.now(), row.id);
    state
        .db
        .run(move |c| {
            service::update(c, &keyring, id, &spec, &actor_name, now)?;
            let details = serde_json::json!({ "changed": fields });
            audit::record(
                c,
                Event {
                    actor_id: Some(actor_id),
                    actor: &actor_name,
                    action: "service.update",
                    target_type: "service",
                    target: &spec.link_name,
                    details,
                },
                now,
            )?;
            service::find_by_id(c, id)?.view()
        })
        .await
}

/// Deletes a service that no connection uses; otherwise a conflict naming the connections.
pub async fn delete(state: &AppState, actor: &User, link_name: &str) -> Result<(), AppError> {
    let (link, actor_name, actor_id, now) = (link_name.to_owned(), actor.username.clone(), actor.id, state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let row = service::find(c, &link)?.ok_or(AppError::NotFound)?;
                let users = connection::names_for_service(c, row.id)?;
                if !users.is_empty() {
                    let names: Vec<String> = users.iter().map(|(link, name)| format!("{name} ({link})")).collect();
                    return Err(AppError::Conflict(format!(
                        "This service cannot be deleted while connections use it. Delete these first: {}.",
                        names.join(", ")
                    )));
                }
                service::delete(c, row.id)?;
                let details = serde_json::json!({ "name": row.name });
                audit::record(
                    c,
                    Event {
                        actor_id: Some(actor_id),
                        actor: &actor_name,
                        action: "service.delete",
                        target_type: "service",
                        target: &link,
                        details,
                    },
                    now,
                )?;
                Ok(())
            })
        })
        .await
}
