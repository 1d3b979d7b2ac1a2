//! Creating, connecting, revoking and deleting connections, shared by the pages and the API. Only
//! the owner may edit or connect (connecting stores the owner's own credentials); any SDAdmin may
//! revoke or delete. Every step is audited; no secret is ever returned.

use std::sync::Arc;

use crate::alerts::events::{self as alerts, Event as Alert};
use crate::domain::connection::{self as rules, ConnectionInput, CredentialInput, Status};
use crate::domain::destinations::{self, Role};
use crate::domain::validate::push;
use crate::domain::variables::{self, Values};
use crate::error::{AppError, FieldErrors};
use crate::models::audit::{self, Event};
use crate::models::connection as connections;
pub use crate::models::connection::Loaded;
use crate::models::service as services;
use crate::models::user::User;
use crate::oauth;
use crate::state::AppState;

mod view;

pub use view::{ConnectionView, RECONNECT_SOON_SECS};

pub async fn load(state: &AppState, link_name: &str) -> Result<Loaded, AppError> {
    // One that breaks the rules names no connection: a 404 without a query (a NUL byte, for one, is
    // an error in PostgreSQL).
    let link = crate::domain::validate::link_name(link_name)
        .ok()
        .filter(|l| l == link_name)
        .ok_or(AppError::NotFound)?;
    state.db.read(move |c| connections::find_with_service(c, &link)?.ok_or(AppError::NotFound)).await
}

/// A connection to use (invoke): from this instance's cache when it holds it, which spares the
/// database read (see `cache`); it is read from the database otherwise, as `load` does.
pub async fn load_for_use(state: &AppState, link_name: &str) -> Result<Arc<Loaded>, AppError> {
    let Some(cache) = state.cache.clone() else {
        return Ok(Arc::new(load(state, link_name).await?));
    };
    if let Some(found) = cache.connection(link_name) {
        return Ok(found);
    }
    let epoch = cache.epoch();
    let found = Arc::new(load(state, link_name).await?);
    cache.put_connection(link_name, found.clone(), epoch);
    Ok(found)
}

pub(crate) fn ensure_owner(loaded: &Loaded, actor: &User, what: &str) -> Result<(), AppError> {
    if loaded.row.owner_id == actor.id {
        return Ok(());
    }
    Err(AppError::Forbidden(format!(
        "Only the owner ({}) can {what} this connection: connecting stores the owner's own credentials. \
         You may revoke or delete it.",
        loaded.owner
    )))
}

pub(crate) async fn record(
    state: &AppState,
    actor: &User,
    action: &'static str,
    target: &str,
    details: serde_json::Value,
) -> Result<(), AppError> {
    let (actor_id, actor_name, target, now) =
        (actor.id, actor.username.clone(), target.to_owned(), state.clock.now());
    state
        .db
        .run(move |c| {
            let event = Event {
                actor_id: Some(actor_id),
                actor: &actor_name,
                action,
                target_type: "connection",
                target: &target,
                details,
            };
            Ok(audit::record(c, event, now)?)
        })
        .await
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> AppError {
    let mut errors = FieldErrors::new();
    push(&mut errors, field, message);
    AppError::Invalid(errors)
}

/// Validates and stores a new connection owned by `actor`.
pub async fn create(
    state: &AppState,
    actor: &User,
    input: ConnectionInput,
) -> Result<ConnectionView, AppError> {
    // Only a well-formed link name is looked up (a NUL byte, for one, is an error in PostgreSQL).
    let service = match crate::domain::validate::link_name(input.service.as_deref().unwrap_or_default()) {
        Ok(link) => state.db.run(move |c| Ok(services::find(c, &link)?)).await?,
        Err(_) => None,
    };
    let mut errors = FieldErrors::new();
    let (name, link) = rules::validate_names(&input, true, &mut errors);
    let (scopes, values) = match &service {
        Some(s) => {
            let view = s.view()?;
            let sent = input.variables.clone().unwrap_or_default();
            (
                rules::validate_scopes(&view.config, input.scopes.as_deref().unwrap_or(&[]), &mut errors),
                variables::values(&mut errors, &view.connection_variables, &sent),
            )
        }
        None => {
            push(&mut errors, "service", "Choose a service.");
            (Vec::new(), Values::new())
        }
    };
    let (Some(service), Some(name), Some(link), true) = (service, name, link, errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };
    let (owner_id, owner, now) = (actor.id, actor.username.clone(), state.clock.now());
    let loaded = state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                if connections::find(c, &link)?.is_some() {
                    return Err(invalid("link_name", "This link name is already taken; choose another."));
                }
                let new = connections::NewConnection {
                    link_name: &link,
                    name: &name,
                    service_id: service.id,
                    owner_id,
                    scopes: &scopes,
                    variables: &values,
                };
                let id = match connections::insert(c, &new, now) {
                    Err(e) if crate::db::is_unique_violation(&e) => {
                        return Err(invalid("link_name", "This link name is already taken; choose another."));
                    }
                    other => other?,
                };
                let details = serde_json::json!({
                    "service": service.link_name, "scopes": scopes, "variables": values,
                });
                audit::record(
                    c,
                    Event {
                        actor_id: Some(owner_id),
                        actor: &owner,
                        action: "connection.create",
                        target_type: "connection",
                        target: &link,
                        details,
                    },
                    now,
                )?;
                alerts::connection_event(c, Alert::Created, id, now)?;
                Ok(Loaded::new(connections::find_by_id(c, id)?, service, owner.clone()))
            })
        })
        .await?;
    Ok(loaded.view())
}

/// Renames a connection or changes its scopes. New scopes need a new consent: the connection is
/// set Not connected with a message saying why. Returns the view and whether that happened.
pub async fn update(
    state: &AppState,
    actor: &User,
    link_name: &str,
    input: ConnectionInput,
) -> Result<(ConnectionView, bool), AppError> {
    let loaded = load(state, link_name).await?;
    ensure_owner(&loaded, actor, "edit")?;
    let config = loaded.config()?;
    let mut errors = FieldErrors::new();
    let name_input = ConnectionInput {
        name: input.name.clone().or_else(|| Some(loaded.row.name.clone())),
        ..ConnectionInput::default()
    };
    let (name, _) = rules::validate_names(&name_input, false, &mut errors);
    let scopes = match &input.scopes {
        Some(chosen) => rules::validate_scopes(config, chosen, &mut errors),
        None => loaded.row.scopes_requested(),
    };
    if input.variables.as_ref().is_some_and(|sent| {
        let mut checked = FieldErrors::new();
        variables::values(
            &mut checked,
            &loaded.service.view().map(|s| s.connection_variables).unwrap_or_default(),
            sent,
        ) != loaded.row.variables()
            || !checked.is_empty()
    }) {
        push(
            &mut errors,
            "variables",
            "The variables are fixed when a connection is created, as its credentials are entrusted to \
             the addresses they make: create a new connection for other values.",
        );
    }
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };
    let scopes_changed = scopes != loaded.row.scopes_requested();
    let reset = (scopes_changed && loaded.row.status() != Status::NotConnected && config.oauth().is_some())
        .then_some("The scopes changed: reconnect to grant them.");
    let (id, now) = (loaded.row.id, state.clock.now());
    let stored_scopes = scopes.clone();
    state.db.run(move |c| Ok(connections::update_meta(c, id, &name, &stored_scopes, reset, now)?)).await?;
    let mut changed = vec![];
    if input.name.as_deref().is_some_and(|n| n.trim() != loaded.row.name) {
        changed.push("name");
    }
    if scopes_changed {
        changed.push("scopes");
    }
    record(state, actor, "connection.update", link_name, serde_json::json!({ "changed": changed })).await?;
    Ok((load(state, link_name).await?.view(), reset.is_some()))
}

/// Stores API key or Basic credentials (replacing any): Connected.
pub async fn connect_with_credentials(
    state: &AppState,
    actor: &User,
    link_name: &str,
    input: CredentialInput,
) -> Result<ConnectionView, AppError> {
    let loaded = load(state, link_name).await?;
    ensure_owner(&loaded, actor, "connect")?;
    let credentials = rules::validate_credentials(loaded.config()?, input).map_err(AppError::Invalid)?;
    let (keyring, id, entrusted, now) =
        (state.keyring.clone(), loaded.row.id, loaded.destinations()?, state.clock.now());
    let recovered = alerts::was_broken(&loaded.row);
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                connections::store_credentials(c, &keyring, id, &credentials, &entrusted, now)?;
                if recovered {
                    alerts::connection_event(c, Alert::Recovered, id, now)?;
                }
                Ok(())
            })
        })
        .await?;
    record(state, actor, "connection.connect", link_name, serde_json::json!({ "method": "credentials" }))
        .await?;
    Ok(load(state, link_name).await?.view())
}

/// What a revoke (or a delete) did: the outcome recorded with the connection, and whether the
/// provider's revoke endpoint failed (the stored credentials are gone all the same).
#[derive(Debug, Clone)]
pub struct Revoked {
    pub outcome: String,
    pub provider_failed: bool,
}

/// Revokes at the provider when it can (refresh token first, then access token, RFC 7009), then
/// deletes the stored credentials whatever the provider said. Tokens go only to a revoke URL at the
/// origin they were entrusted to.
async fn revoke_stored(state: &AppState, loaded: &Loaded) -> Result<Revoked, AppError> {
    let done = |outcome: String| Ok(Revoked { outcome, provider_failed: false });
    let config = loaded.config()?;
    let Some(o) = config.oauth() else {
        return done(
            "Credentials deleted (API Key and Basic credentials have no revocation at the provider).".into(),
        );
    };
    let tokens = [
        (loaded.row.open_refresh_token(&state.keyring)?, "refresh_token"),
        (loaded.row.open_access_token(&state.keyring)?, "access_token"),
    ];
    if tokens.iter().all(|(t, _)| t.is_none()) {
        return done("No tokens were stored.".into());
    }
    if oauth::token_calls_allowed(&state.outbound).is_err() {
        return done(
            "Not revoked at the provider: this instance runs with token refreshes off \
                   (--no-refresh), and the tokens may still serve the instance it was restored from. The \
                   stored tokens were deleted here."
                .into(),
        );
    }
    let Some(revoke_url) = o.revoke_url.as_deref() else {
        return done("The provider has no revoke URL: the stored tokens were deleted.".into());
    };
    if !loaded.row.entrusted().allows(Role::Revoke, revoke_url) {
        let to = destinations::origin_of(revoke_url).map(|o| destinations::shown(&o)).unwrap_or_default();
        return done(format!(
            "The tokens were not sent to {to}: they were not entrusted to it. The stored tokens were \
             deleted; revoke them at the provider that issued them if it still holds them."
        ));
    }
    let secret = match loaded.service.client_secret_for(&state.keyring, revoke_url) {
        Ok(secret) => secret,
        Err(AppError::Conflict(message)) => {
            return done(format!("{message} The stored tokens were deleted."));
        }
        Err(e) => return Err(e),
    };
    let mut failures = Vec::new();
    for (token, hint) in &tokens {
        if let Some(token) = token
            && let Err(e) = oauth::revoke(&state.outbound, o, secret.as_ref(), token, hint).await
        {
            failures.push(format!("{hint}: {e}"));
        }
    }
    if failures.is_empty() {
        return done("Revoked at the provider.".into());
    }
    let outcome =
        format!("The provider call failed ({}); the stored tokens were deleted anyway.", failures.join("; "));
    Ok(Revoked { outcome, provider_failed: true })
}

/// Revokes a connection: Disconnected, credentials gone, the outcome recorded.
pub async fn revoke(state: &AppState, actor: &User, link_name: &str) -> Result<Revoked, AppError> {
    let loaded = load(state, link_name).await?;
    let revoked = revoke_stored(state, &loaded).await?;
    let (id, now, recorded) = (loaded.row.id, state.clock.now(), revoked.outcome.clone());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                connections::clear_secrets(c, id, Status::Disconnected, None, Some(&recorded), now)?;
                alerts::connection_event(c, Alert::Revoked, id, now).map(drop)
            })
        })
        .await?;
    record(
        state,
        actor,
        "connection.revoke",
        link_name,
        serde_json::json!({ "outcome": revoked.outcome, "owner": loaded.owner }),
    )
    .await?;
    Ok(revoked)
}

/// Revokes (as above) and removes a connection; its link name becomes free.
pub async fn delete(state: &AppState, actor: &User, link_name: &str) -> Result<Revoked, AppError> {
    let loaded = load(state, link_name).await?;
    let revoked = revoke_stored(state, &loaded).await?;
    let (id, now) = (loaded.row.id, state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                alerts::connection_event(c, Alert::Deleted, id, now)?;
                Ok(connections::delete(c, id)?)
            })
        })
        .await?;
    record(
        state,
        actor,
        "connection.delete",
        link_name,
        serde_json::json!({ "outcome": revoked.outcome, "owner": loaded.owner, "name": loaded.row.name }),
    )
    .await?;
    Ok(revoked)
}
