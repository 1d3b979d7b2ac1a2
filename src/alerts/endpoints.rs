//! Webhook endpoints as admins manage them: the checks on what they enter (the URL must obey the
//! outbound address policy, after DNS resolution), and the audited writes. The signing secret is
//! generated here and handed back once, at creation. The URL is write-only like a secret: what an
//! admin typed is never sent back, and the audit log records only its masked form.

use std::net::SocketAddr;

use url::{Host, Url};

use super::events::Event;
use super::signature::new_secret;
use crate::crypto::Secret;
use crate::domain::endpoint_url::{masked, scrub};
use crate::domain::validate::push;
use crate::error::{AppError, FieldErrors};
use crate::models::audit::{self, Event as Audit};
use crate::models::user::User;
use crate::models::webhook::{self, Endpoint, EndpointInput, MAILTO};
use crate::outbound::AddressPolicy;
use crate::state::AppState;

/// What the endpoint form sends, before the checks. `Debug` shows no URL.
#[derive(Clone, Default)]
pub struct RawEndpoint {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub email_owner: bool,
}

impl std::fmt::Debug for RawEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawEndpoint").field("url", &masked(&self.url)).finish_non_exhaustive()
    }
}

/// Why `url` may not receive webhooks under `policy`, if so: its form (http(s), no user
/// information), then every address its host resolves to. A name that resolves to one internal
/// address is refused, even beside public ones.
pub async fn refused_address(policy: &AddressPolicy, url: &Url) -> Option<String> {
    if let Err(e) = policy.check_url(url) {
        return Some(e.to_string());
    }
    let port = url.port_or_known_default().unwrap_or(0);
    let addresses: Vec<SocketAddr> = match url.host() {
        Some(Host::Domain(name)) => match tokio::net::lookup_host((name, port)).await {
            Ok(found) => found.collect(),
            Err(_) => return Some(format!("the host {name} does not resolve")),
        },
        // A literal address was checked with the URL.
        _ => return None,
    };
    if addresses.is_empty() {
        return Some("the host does not resolve".into());
    }
    addresses
        .iter()
        .any(|a| !policy.permits(a.ip(), port))
        .then(|| "the host resolves to an internal address (loopback, private or link-local)".into())
}

/// Checks what an admin entered; the field errors say what to fix. On an edit (`kept`: the stored
/// endpoint) a blank URL keeps the stored one. No message names the URL in full.
pub async fn validate(
    state: &AppState,
    raw: RawEndpoint,
    kept: Option<&Endpoint>,
) -> Result<EndpointInput, AppError> {
    let mut errors = FieldErrors::new();
    let typed = raw.url.trim().to_owned();
    // What the email checks read: the typed URL, or the stored one's mailto: list, which is shown.
    let (url, email) = match kept.filter(|_| typed.is_empty()) {
        Some(stored) => (stored.shown_url(), stored.is_email()),
        None => (typed.clone(), typed.starts_with(MAILTO)),
    };
    match Url::parse(&url) {
        _ if url.len() > 2048 => push(&mut errors, "url", "Use at most 2048 characters."),
        _ if email => match super::email::addresses(&url) {
            None => push(&mut errors, "url", "Write mailto: and the addresses, separated by commas."),
            Some(list) if list.is_empty() && !raw.email_owner => {
                push(&mut errors, "url", "Name at least one address, or send to the connection's owner.")
            }
            Some(_) if state.db.read(|c| Ok(crate::models::smtp::get(c)?)).await?.is_none() => {
                push(&mut errors, "url", "Set up email (below) before adding an email endpoint.")
            }
            Some(_) => {}
        },
        // A stored URL was checked when it was entered; the outbound policy checks it on every send.
        _ if typed.is_empty() && kept.is_some() => {}
        Ok(parsed) if parsed.scheme() == "http" || parsed.scheme() == "https" => {
            if let Some(why) = refused_address(&state.outbound.policy, &parsed).await {
                let why = scrub(&why, &url);
                push(&mut errors, "url", format!("This address may not receive webhooks: {why}."));
            }
        }
        _ => push(&mut errors, "url", "Enter the receiver's absolute https URL, or mailto: and addresses."),
    }
    let description = raw.description.trim().to_owned();
    if description.chars().count() > 200 {
        push(&mut errors, "description", "Use at most 200 characters.");
    }
    let mut events = Vec::new();
    for name in &raw.events {
        match Event::parse(name) {
            Some(e) if !events.contains(&e.as_str().to_owned()) => events.push(e.as_str().to_owned()),
            Some(_) => {}
            None => push(&mut errors, "events", "Choose events from the list."),
        }
    }
    if events.is_empty() {
        push(&mut errors, "events", "Choose at least one event.");
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    Ok(EndpointInput {
        url: (!typed.is_empty()).then(|| Secret::new(typed)),
        description,
        events,
        enabled: raw.enabled,
        email_owner: email && raw.email_owner,
    })
}

/// The audit entry of a change to endpoint `id`; `details` names what may be shown of its URL.
fn audited(
    actor: &User,
    action: &'static str,
    id: i64,
    details: serde_json::Value,
    now: i64,
) -> impl FnOnce(&mut crate::db::DbConn) -> diesel::QueryResult<()> {
    let (actor_id, actor_name, target) = (actor.id, actor.username.clone(), id.to_string());
    move |c| {
        let event = Audit {
            actor_id: Some(actor_id),
            actor: &actor_name,
            action,
            target_type: "webhook",
            target: &target,
            details,
        };
        audit::record(c, event, now)
    }
}

/// Stores a new endpoint; returns its id and its signing secret, which is shown this once.
pub async fn create(state: &AppState, actor: &User, input: EndpointInput) -> Result<(i64, Secret), AppError> {
    let secret = new_secret()?;
    let (keyring, sealed, now, actor) =
        (state.keyring.clone(), secret.clone(), state.clock.now(), actor.clone());
    let id = state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let id = webhook::insert(c, &keyring, &input, &sealed, now)?;
                let shown = input.url.as_ref().map(|u| masked(u.expose()));
                audited(&actor, "webhook.create", id, serde_json::json!({ "url": shown }), now)(c)?;
                Ok::<_, AppError>(id)
            })
        })
        .await?;
    Ok((id, secret))
}

pub async fn update(state: &AppState, actor: &User, id: i64, input: EndpointInput) -> Result<(), AppError> {
    let (keyring, now, actor) = (state.keyring.clone(), state.clock.now(), actor.clone());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                if webhook::update(c, &keyring, id, &input, now)? == 0 {
                    return Err(AppError::NotFound);
                }
                let shown = webhook::find(c, id)?.ok_or(AppError::NotFound)?.shown_url();
                let details = serde_json::json!({ "url": shown, "url_changed": input.url.is_some() });
                audited(&actor, "webhook.update", id, details, now)(c)?;
                Ok(())
            })
        })
        .await
}

/// Removes an endpoint and its delivery log.
pub async fn delete(state: &AppState, actor: &User, id: i64) -> Result<(), AppError> {
    let (now, actor) = (state.clock.now(), actor.clone());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let endpoint = webhook::find(c, id)?.ok_or(AppError::NotFound)?;
                webhook::delete(c, id)?;
                let details = serde_json::json!({ "url": endpoint.shown_url() });
                audited(&actor, "webhook.delete", id, details, now)(c)?;
                Ok(())
            })
        })
        .await
}

/// Queues a test delivery to endpoint `id` and sends what is due at once, off the request.
pub async fn send_test(state: &actix_web::web::Data<AppState>, id: i64) -> Result<(), AppError> {
    let now = state.clock.now();
    state
        .db
        .run(move |c| {
            webhook::find(c, id)?.ok_or(AppError::NotFound)?;
            super::events::test_delivery(c, id, now)
        })
        .await?;
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = super::delivery::deliver_due(&state).await {
            tracing::warn!(error = %e, "webhook deliveries failed");
        }
    });
    Ok(())
}

/// Stores the SMTP server's settings (a blank password keeps the stored one).
pub async fn save_smtp(
    state: &AppState,
    actor: &User,
    input: crate::models::smtp::SmtpInput,
) -> Result<(), AppError> {
    let (keyring, now, actor) = (state.keyring.clone(), state.clock.now(), actor.clone());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                crate::models::smtp::put(c, &keyring, &input, now)?;
                let details = serde_json::json!({ "host": input.host, "port": input.port });
                let event = Audit {
                    actor_id: Some(actor.id),
                    actor: &actor.username,
                    action: "settings.update",
                    target_type: "settings",
                    target: "smtp",
                    details,
                };
                Ok::<_, AppError>(audit::record(c, event, now)?)
            })
        })
        .await
}
