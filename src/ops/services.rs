//! Creating, changing and deleting custom services, with their audit entries.

use crate::auth::actor::Actor;
use crate::domain::destinations::{Destinations, Move};
use crate::domain::service_input::{self, Existing, SecretChange, ServiceInput, ValidService};
use crate::domain::validate::push;
use crate::domain::variables;
use crate::error::{Affected, AppError, FieldErrors};
use crate::models::audit;
use crate::models::service::{self, Service, ServiceRow};
use crate::models::{connection, destinations, setting};
use crate::state::AppState;

/// A service with what its pages and API answers show around it.
pub struct ServiceDetails {
    pub service: Service,
    pub connection_count: i64,
    pub callback_url: String,
}

/// The current alias URL (the callback URL derives from it).
pub async fn alias_url(state: &AppState) -> Result<String, AppError> {
    let fallback = state.base_url.as_str().trim_end_matches('/').to_owned();
    Ok(state.db.read(|c| Ok(setting::get(c, setting::ALIAS_URL)?)).await?.unwrap_or(fallback))
}

/// A link name from a URL. One that breaks the rules names no service, and is a 404 without a query
/// (a NUL byte, for one, is an error in PostgreSQL).
fn link_from_url(link_name: &str) -> Result<String, AppError> {
    crate::domain::validate::link_name(link_name).ok().filter(|l| l == link_name).ok_or(AppError::NotFound)
}

/// Loads a service by link name, or 404.
pub async fn load(state: &AppState, link_name: &str) -> Result<ServiceRow, AppError> {
    let link = link_from_url(link_name)?;
    state.db.read(move |c| service::find(c, &link)?.ok_or(AppError::NotFound)).await
}

pub async fn details(state: &AppState, link_name: &str) -> Result<ServiceDetails, AppError> {
    let row = load(state, link_name).await?;
    let callback_url = crate::domain::service::callback_url(&alias_url(state).await?);
    Ok(ServiceDetails { service: row.view()?, connection_count: row.connection_count, callback_url })
}

fn link_taken() -> FieldErrors {
    let mut errors = FieldErrors::new();
    push(&mut errors, "link_name", "This link name is already taken; choose another.");
    errors
}

/// The fields that differ between two services, for the audit log: their names (`name`,
/// `auth_type`, `oauth2.client_id`, `api_key.params`, …, and `client_secret` when a new one is
/// entered) and, for all but the secret, their old and new values.
fn changed_fields(
    old: &Service,
    new: &ValidService,
) -> (Vec<String>, serde_json::Map<String, serde_json::Value>) {
    use serde_json::json;
    let mut fields: Vec<String> = Vec::new();
    let mut values = serde_json::Map::new();
    let mut changed = |field: String, before: serde_json::Value, after: serde_json::Value| {
        if before != after {
            fields.push(field.clone());
            values.insert(field, json!({ "before": before, "after": after }));
        }
    };
    changed("name".into(), json!(old.name), json!(new.name));
    changed("description".into(), json!(old.description), json!(new.description));
    changed("api_base_url".into(), json!(old.api_base_url), json!(new.api_base_url));
    changed(
        "auth_type".into(),
        json!(old.config.auth_type().as_str()),
        json!(new.config.auth_type().as_str()),
    );
    changed("connection_variables".into(), json!(old.connection_variables), json!(new.connection_variables));
    if old.config.auth_type() == new.config.auth_type() && old.config != new.config {
        // The settings of one type, compared setting by setting (they hold no secret).
        let prefix = new.config.auth_type().as_str();
        match (serde_json::to_value(&old.config), serde_json::to_value(&new.config)) {
            (Ok(serde_json::Value::Object(before)), Ok(serde_json::Value::Object(after))) => {
                for (k, v) in &after {
                    let was = before.get(k).cloned().unwrap_or(serde_json::Value::Null);
                    changed(format!("{prefix}.{k}"), was, v.clone());
                }
            }
            _ => changed(prefix.to_owned(), json!(false), json!(true)),
        }
    }
    if matches!(new.client_secret, SecretChange::Set(_)) {
        fields.push("client_secret".to_owned());
    }
    (fields, values)
}

/// Validates and stores a new service with its audit entry, in one transaction. A taken link name —
/// also when another request takes it at the same moment — is a field error, not a failure.
pub async fn create(state: &AppState, actor: &Actor, input: ServiceInput) -> Result<Service, AppError> {
    let template = input.template.as_deref().map(str::trim).filter(|id| !id.is_empty());
    let found = template.map(|id| crate::catalogue::find(id).map(|t| (t.id.clone(), t.version)));
    let spec = match service_input::validate(&input, state.config.outbound_allow_http, None) {
        Ok(spec) if !matches!(found, Some(None)) => spec,
        result => {
            let mut errors = result.err().unwrap_or_default();
            if matches!(found, Some(None)) {
                push(
                    &mut errors,
                    "template",
                    "There is no template with this id (see GET /api/v1/templates).",
                );
            }
            return Err(AppError::Invalid(errors));
        }
    };
    let template = found.flatten();
    let (keyring, actor, now) = (state.keyring.clone(), actor.clone(), state.clock.now());
    let created = state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                if service::find(c, &spec.link_name)?.is_some() {
                    return Err(AppError::Invalid(link_taken()));
                }
                let id = match service::insert(c, &keyring, &spec, &actor.username, now) {
                    Err(AppError::Db(e)) if crate::db::is_unique_violation(&e) => {
                        return Err(AppError::Invalid(link_taken()));
                    }
                    other => other?,
                };
                let mut details =
                    serde_json::json!({ "auth_type": spec.config.auth_type().as_str(), "name": spec.name });
                if let Some((template_id, version)) = &template {
                    service::set_template(c, id, template_id, *version)?;
                    details["template"] = serde_json::json!(format!("{template_id} v{version}"));
                }
                let event = actor.by().event("service.create", "service", &spec.link_name, details);
                audit::record(c, event, now)?;
                service::find_by_id(c, id)?.view()
            })
        })
        .await?;
    Ok(created)
}

/// How an update treats fields the input leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// The input is the whole service (the edit form).
    Replace,
    /// Absent fields keep their stored values (API PATCH).
    Patch,
}

/// Validates and stores a change with its audit entry, in one transaction that holds the service row:
/// the in-use rules see the connections as they are when the change is written.
///
/// A change that sends credentials to a new origin (see `domain::destinations`) needs a client
/// secret entered with it when the secret's endpoints move, and `confirmed` when connections hold
/// credentials entrusted elsewhere: those are set aside until their owners reconnect, in the same
/// transaction, and the audit entry lists them.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    link_name: &str,
    input: ServiceInput,
    mode: UpdateMode,
    confirmed: bool,
) -> Result<Service, AppError> {
    let (link, allow_http, keyring) =
        (link_from_url(link_name)?, state.config.outbound_allow_http, state.keyring.clone());
    let (actor, now) = (actor.clone(), state.clock.now());
    let updated = state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let row = service::find_for_update(c, &link)?.ok_or(AppError::NotFound)?;
                // Locked for update: a connection being added waits, as its trigger updates this row.
                let connection_count = row.connection_count;
                let old = row.view()?;
                let input = match mode {
                    UpdateMode::Replace => input,
                    UpdateMode::Patch => input.over(ServiceInput::from(&old)),
                };
                let existing = Existing {
                    link_name: &old.link_name,
                    config: &old.config,
                    connection_variables: &old.connection_variables,
                    secret_set: old.client_secret_set,
                    connection_count,
                };
                let spec = service_input::validate(&input, allow_http, Some(&existing))
                    .map_err(AppError::Invalid)?;
                let new_destinations = Destinations::of(spec.api_base_url.as_deref(), &spec.config);
                check_client_secret_moves(&row, &spec, &new_destinations)?;
                let set_aside = connections_set_aside(c, &old, &spec, &new_destinations, confirmed)?;
                service::update(c, &keyring, row.id, &spec, &actor.username, now)?;
                for (holder, moves) in &set_aside {
                    let message = format!(
                        "{} changed where the service “{}” sends credentials ({}). The owner must \
                         reconnect to entrust this connection's credentials to the new address.",
                        actor.username,
                        spec.name,
                        moves.iter().map(Move::describe).collect::<Vec<_>>().join("; ")
                    );
                    destinations::set_aside(c, holder.id, &message, now)?;
                }
                let old_destinations = Destinations::of(old.api_base_url.as_deref(), &old.config);
                let moved: Vec<String> =
                    old_destinations.moves_to(&new_destinations).iter().map(Move::describe).collect();
                let reconnect: Vec<&str> = set_aside.iter().map(|(h, _)| h.link_name.as_str()).collect();
                let (changed, values) = changed_fields(&old, &spec);
                let details = serde_json::json!({
                    "changed": changed,
                    "fields": values,
                    "destinations_moved": moved,
                    "connections_set_aside": reconnect,
                });
                audit::record(
                    c,
                    actor.by().event("service.update", "service", &spec.link_name, details),
                    now,
                )?;
                service::find_by_id(c, row.id)?.view()
            })
        })
        .await?;
    Ok(updated)
}

/// A stored client secret goes only where it was entrusted: an endpoint moved to another origin
/// needs the secret entered again with the change.
fn check_client_secret_moves(
    row: &ServiceRow,
    spec: &ValidService,
    new: &Destinations,
) -> Result<(), AppError> {
    if row.client_secret.is_none() || !matches!(spec.client_secret, SecretChange::Keep) {
        return Ok(());
    }
    let moves = row.client_secret_destinations().secret_moves_to(new);
    let Some(first) = moves.first() else { return Ok(()) };
    let mut errors = FieldErrors::new();
    push(
        &mut errors,
        "oauth2.client_secret",
        format!(
            "The client secret is only sent where it was entered for, and {}: enter the client secret again \
             to send it there.",
            first.describe()
        ),
    );
    Err(AppError::Invalid(errors))
}

/// The connections holding credentials that the change would send to an origin they were not
/// entrusted to, with those moves; without `confirmed`, a `ConfirmationRequired` listing them.
fn connections_set_aside(
    c: &mut crate::db::DbConn,
    old: &Service,
    spec: &ValidService,
    new: &Destinations,
    confirmed: bool,
) -> Result<Vec<(destinations::Holder, Vec<Move>)>, AppError> {
    let affected: Vec<(destinations::Holder, Vec<Move>)> = destinations::holders(c, old.id)?
        .into_iter()
        .filter_map(|holder| {
            // A connection of a service with variables or captured values was entrusted its own
            // resolved origins.
            let captures = spec.config.oauth().map_or(&[][..], |o| o.captured_values.as_slice());
            let pending: Vec<&str> = captures.iter().map(|c| c.name.as_str()).collect();
            let api = spec.api_base_url.as_deref();
            let resolved = (!spec.connection_variables.is_empty() || !captures.is_empty())
                .then(|| variables::resolve_keeping(api, &spec.config, &holder.values, &pending).ok())
                .flatten()
                .map(|(api, config)| Destinations::of(api.as_deref(), &config));
            let moves = holder.entrusted.moves_to(resolved.as_ref().unwrap_or(new));
            (!moves.is_empty()).then_some((holder, moves))
        })
        .collect();
    if affected.is_empty() || confirmed {
        return Ok(affected);
    }
    let mut owners: Vec<(String, usize)> = Vec::new();
    for (holder, _) in &affected {
        match owners.iter_mut().find(|(o, _)| *o == holder.owner) {
            Some((_, n)) => *n += 1,
            None => owners.push((holder.owner.clone(), 1)),
        }
    }
    let moves: Vec<String> = affected[0].1.iter().map(Move::describe).collect();
    let message = format!(
        "This change sends credentials to a new address ({}). {} connection(s) hold credentials entrusted \
         to the old address and will need their owners to reconnect: {}. Confirm the change to apply it.",
        moves.join("; "),
        affected.len(),
        owners.iter().map(|(o, n)| format!("{o} ({n})")).collect::<Vec<_>>().join(", ")
    );
    let affected = affected
        .into_iter()
        .map(|(h, _)| Affected { link_name: h.link_name, name: h.name, owner: h.owner })
        .collect();
    Err(AppError::ConfirmationRequired { message, affected })
}

/// Deletes a service that no connection uses; otherwise a conflict naming the connections.
pub async fn delete(state: &AppState, actor: &Actor, link_name: &str) -> Result<(), AppError> {
    let (link, actor, now) = (link_from_url(link_name)?, actor.clone(), state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let row = service::find_for_update(c, &link)?.ok_or(AppError::NotFound)?;
                let users = connection::names_for_service(c, row.id)?;
                if !users.is_empty() {
                    let names: Vec<String> =
                        users.iter().map(|(link, name)| format!("{name} ({link})")).collect();
                    return Err(AppError::Conflict(format!(
                        "This service cannot be deleted while connections use it. Delete these first: {}.",
                        names.join(", ")
                    )));
                }
                service::delete(c, row.id)?;
                let details = serde_json::json!({ "name": row.name, "auth_type": row.auth_type.as_str() });
                audit::record(c, actor.by().event("service.delete", "service", &link, details), now)?;
                Ok(())
            })
        })
        .await?;
    Ok(())
}
