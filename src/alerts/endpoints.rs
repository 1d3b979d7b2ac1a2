//! Webhook endpoints as admins manage them: the checks on what they enter (the URL must obey the
//! outbound address policy, after DNS resolution), and the audited writes. The signing secret is
//! generated here and handed back once, at creation.

use std::net::SocketAddr;

use url::{Host, Url};

use super::events::Event;
use super::signature::new_secret;
use crate::auth::actor::Actor;
use crate::crypto::Secret;
use crate::domain::validate::push;
use crate::error::{AppError, FieldErrors};
use crate::models::audit;
use crate::models::webhook::{self, Endpoint, EndpointInput, MAILTO};
use crate::outbound::AddressPolicy;
use crate::state::AppState;

/// What the endpoint form sends, before the checks.
#[derive(Debug, Clone, Default)]
pub struct RawEndpoint {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub email_owner: bool,
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

/// Checks what an admin entered; the field errors say what to fix.
pub async fn validate(state: &AppState, raw: RawEndpoint) -> Result<EndpointInput, AppError> {
    let mut errors = FieldErrors::new();
    let url = raw.url.trim().to_owned();
    let email = url.starts_with(MAILTO);
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
        Ok(parsed) if parsed.scheme() == "http" || parsed.scheme() == "https" => {
            if let Some(why) = refused_address(&state.outbound.policy, &parsed).await {
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
        url,
        description,
        events,
        enabled: raw.enabled,
        email_owner: email && raw.email_owner,
    })
}

fn audited(
    c: &mut crate::db::DbConn,
    actor: &Actor,
    action: &'static str,
    id: i64,
    details: serde_json::Value,
    now: i64,
) -> diesel::QueryResult<()> {
    let target = id.to_string();
    audit::record(c, actor.by().event(action, "webhook", &target, details), now)
}

/// What an audit entry shows of an endpoint (its signing secret never).
fn shown(
    url: &str,
    description: &str,
    events: &[String],
    enabled: bool,
    email_owner: bool,
) -> serde_json::Value {
    serde_json::json!({
        "url": url, "description": description, "events": events, "enabled": enabled, "email_owner": email_owner,
    })
}

fn shown_input(e: &EndpointInput) -> serde_json::Value {
    shown(&e.url, &e.description, &e.events, e.enabled, e.email_owner)
}

fn shown_endpoint(e: &Endpoint) -> serde_json::Value {
    shown(&e.url, &e.description, &e.events(), e.enabled, e.email_owner)
}

/// Stores a new endpoint; returns its id and its signing secret, which is shown this once.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: EndpointInput,
) -> Result<(i64, Secret), AppError> {
    let secret = new_secret()?;
    let (keyring, sealed, now, actor) =
        (state.keyring.clone(), secret.clone(), state.clock.now(), actor.clone());
    let id = state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let id = webhook::insert(c, &keyring, &input, &sealed, now)?;
                audited(c, &actor, "webhook.create", id, shown_input(&input), now)?;
                Ok::<_, AppError>(id)
            })
        })
        .await?;
    Ok((id, secret))
}

pub async fn update(state: &AppState, actor: &Actor, id: i64, input: EndpointInput) -> Result<(), AppError> {
    let (now, actor) = (state.clock.now(), actor.clone());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let before = webhook::find(c, id)?.ok_or(AppError::NotFound)?;
                if webhook::update(c, id, &input, now)? == 0 {
                    return Err(AppError::NotFound);
                }
                let (was, is) = (shown_endpoint(&before), shown_input(&input));
                let fields = ["url", "description", "events", "enabled", "email_owner"]
                    .map(|f| (f, was[f].clone(), is[f].clone()));
                let details = serde_json::json!({ "url": input.url, "fields": audit::changes(fields) });
                audited(c, &actor, "webhook.update", id, details, now)?;
                Ok(())
            })
        })
        .await
}

/// Removes an endpoint and its delivery log.
pub async fn delete(state: &AppState, actor: &Actor, id: i64) -> Result<(), AppError> {
    let (now, actor) = (state.clock.now(), actor.clone());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let endpoint = webhook::find(c, id)?.ok_or(AppError::NotFound)?;
                webhook::delete(c, id)?;
                audited(c, &actor, "webhook.delete", id, shown_endpoint(&endpoint), now)?;
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
    actor: &Actor,
    input: crate::models::smtp::SmtpInput,
) -> Result<(), AppError> {
    use crate::models::smtp;
    let (keyring, now, actor) = (state.keyring.clone(), state.clock.now(), actor.clone());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let before = smtp::get(c)?;
                smtp::put(c, &keyring, &input, now)?;
                let after = smtp::get(c)?;
                let shown = |s: &Option<smtp::Smtp>| {
                    s.as_ref().map_or(serde_json::Value::Null, |s| {
                        serde_json::json!({
                            "host": s.host, "port": s.port, "security": s.security, "username": s.username,
                            "from_address": s.from_address, "password_set": s.has_password(),
                        })
                    })
                };
                let (was, is) = (shown(&before), shown(&after));
                let fields = ["host", "port", "security", "username", "from_address", "password_set"]
                    .map(|f| (f, was.get(f).cloned().unwrap_or_default(), is[f].clone()));
                let mut changed: Vec<&str> = Vec::new();
                if input.password.is_some() {
                    changed.push("password");
                }
                let details = serde_json::json!({
                    "host": input.host, "port": input.port, "fields": audit::changes(fields), "changed": changed,
                });
                let event = actor.by().event("settings.update", "settings", "smtp", details);
                Ok::<_, AppError>(audit::record(c, event, now)?)
            })
        })
        .await
}
