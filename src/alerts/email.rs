//! Email alerts: an endpoint whose URL is `mailto:` and a list of addresses (and, if it says so, the
//! connection's owner when their username is an address) gets each event as a plain-text email,
//! through the SMTP server of Settings > Notifications. It shares the webhook queue (`delivery`):
//! the same retries, log and restart safety. The server's address obeys the outbound policy like a
//! webhook's: it is resolved and checked here, and the connection goes to the address checked.

use std::net::SocketAddr;
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

use super::events::Event;
use crate::error::AppError;
use crate::models::smtp::{self, Smtp};
use crate::models::webhook::{Endpoint, MAILTO};
use crate::models::webhook_delivery::Delivery;
use crate::outbound::AddressPolicy;
use crate::state::AppState;

/// How the connection to the server is secured.
pub const SECURITY: [(&str, &str); 3] = [
    ("starttls", "STARTTLS (usually port 587)"),
    ("tls", "TLS from the start (usually port 465)"),
    ("none", "None: plain text, without credentials"),
];
/// How long a server may take for one email.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The addresses of a `mailto:` URL; `None` when one is not an address.
pub fn addresses(url: &str) -> Option<Vec<Address>> {
    let list = url.strip_prefix(MAILTO)?;
    list.split(',').map(str::trim).filter(|a| !a.is_empty()).map(|a| a.parse().ok()).collect()
}

/// The addresses `host` resolves to on `port` that the policy lets the app reach, or why none.
pub async fn permitted(policy: &AddressPolicy, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let found: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(found) => found.collect(),
        Err(_) => return Err(format!("the host {host} does not resolve")),
    };
    if found.is_empty() {
        return Err(format!("the host {host} does not resolve"));
    }
    if found.iter().any(|a| !policy.permits(a.ip(), port)) {
        return Err(format!(
            "the host {host} resolves to an internal address (loopback, private or link-local)"
        ));
    }
    Ok(found)
}

/// Sends `delivery` by email: the server's answer code, or why it failed.
pub async fn send(
    state: &AppState,
    endpoint: &Endpoint,
    delivery: &Delivery,
) -> (Option<u16>, Option<String>, Option<String>) {
    let failed = |why: String| (None, Some(why), None);
    let settings = match state.db.read(|c| Ok(smtp::get(c)?)).await {
        Ok(Some(settings)) => settings,
        Ok(None) => return failed("Email is not set up (Settings > Notifications).".into()),
        Err(e) => return failed(format!("The email settings could not be read: {e}.")),
    };
    let payload: Value = serde_json::from_str(&delivery.payload).unwrap_or_default();
    let list = match endpoint.open_url(&state.keyring) {
        Ok(list) => list,
        Err(e) => return failed(format!("The endpoint's addresses could not be opened: {e}.")),
    };
    let to = recipients(endpoint, list.expose(), &payload);
    if to.is_empty() {
        return failed("No recipient: the list is empty and the owner's username is not an address.".into());
    }
    let message = match compose(&settings, &to, delivery, &payload) {
        Ok(message) => message,
        Err(why) => return failed(why),
    };
    let mailer = match transport(state, &settings).await {
        Ok(mailer) => mailer,
        Err(why) => return failed(why),
    };
    match mailer.send(message).await {
        Ok(answer) => (answer.code().to_string().parse().ok(), None, Some(answer.message().collect())),
        Err(e) => failed(format!("The SMTP server refused or failed: {e}.")),
    }
}

/// The addresses of the endpoint's `mailto:` list, and the owner's username when it asks for it and
/// that is an address.
fn recipients(endpoint: &Endpoint, list: &str, payload: &Value) -> Vec<Mailbox> {
    let mut to: Vec<Address> = addresses(list).unwrap_or_default();
    let owner = payload["data"]["connection"]["owner"].as_str().and_then(|o| o.parse::<Address>().ok());
    if let Some(owner) = owner.filter(|o| endpoint.email_owner && !to.contains(o)) {
        to.push(owner);
    }
    to.into_iter().map(|a| Mailbox::new(None, a)).collect()
}

/// A plain-text email saying what happened, with the webhook body below it.
fn compose(settings: &Smtp, to: &[Mailbox], delivery: &Delivery, payload: &Value) -> Result<Message, String> {
    let from: Mailbox =
        settings.from_address.parse().map_err(|e| format!("The sender address is not valid: {e}."))?;
    let what = Event::ALL.into_iter().find(|e| e.as_str() == delivery.event).map_or("Test", Event::label);
    let connection = &payload["data"]["connection"];
    let service = &payload["data"]["service"];
    let about = connection["name"].as_str().or(service["name"].as_str()).unwrap_or("Connections");
    let mut lines = vec![format!("{what}: {about}."), String::new()];
    for (label, value) in [
        ("Connection", &connection["link_name"]),
        ("Service", if connection.is_null() { &service["link_name"] } else { &connection["service"] }),
        ("Owner", &connection["owner"]),
        ("Status", &connection["status"]),
        ("Refresh token expires", &connection["refresh_token_expires_at"]),
        ("Message", if connection.is_null() { &service["message"] } else { &connection["status_message"] }),
    ] {
        if let Some(text) = value.as_str() {
            lines.push(format!("{label}: {text}"));
        }
    }
    lines.extend([
        String::new(),
        format!("Event {} ({})", delivery.event, delivery.message_id),
        delivery.payload.clone(),
    ]);
    let mut message = Message::builder()
        .from(from)
        .subject(format!("[Connections] {what}: {about}"))
        .message_id(Some(format!("<{}@connections>", delivery.message_id)))
        .header(ContentType::TEXT_PLAIN);
    for mailbox in to {
        message = message.to(mailbox.clone());
    }
    message.body(lines.join("\n")).map_err(|e| format!("The email could not be built: {e}."))
}

/// A client for the server, connecting to an address the policy permits.
async fn transport(state: &AppState, settings: &Smtp) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let port = u16::try_from(settings.port).map_err(|_| "The SMTP port is not valid.".to_owned())?;
    let address = permitted(&state.outbound.policy, &settings.host, port)
        .await
        .map_err(|why| format!("The SMTP server may not be used: {why}."))?[0];
    let tls = |host: &str| {
        TlsParameters::new(host.to_owned()).map_err(|e| format!("TLS could not be set up: {e}."))
    };
    let security = match settings.security.as_str() {
        "starttls" => Tls::Required(tls(&settings.host)?),
        "tls" => Tls::Wrapper(tls(&settings.host)?),
        _ => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.ip().to_string())
        .port(port)
        .tls(security)
        .timeout(Some(TIMEOUT));
    let password = settings
        .open_password(&state.keyring)
        .map_err(|e| format!("The SMTP password could not be opened: {e}."))?;
    if let (false, Some(password)) = (settings.username.is_empty(), password) {
        builder =
            builder.credentials(Credentials::new(settings.username.clone(), password.expose().to_owned()));
    }
    Ok(builder.build())
}

/// What Settings > Notifications sends for the SMTP server.
#[derive(Debug, Clone, Default)]
pub struct RawSmtp {
    pub host: String,
    pub port: String,
    pub security: String,
    pub username: String,
    pub password: String,
    pub from_address: String,
}

/// Checks the SMTP settings an admin entered.
pub async fn validate(state: &AppState, raw: &RawSmtp) -> Result<smtp::SmtpInput, AppError> {
    use crate::domain::validate::push;
    let mut errors = crate::error::FieldErrors::new();
    let host = raw.host.trim().to_owned();
    let port = raw.port.trim().parse::<u16>().ok().filter(|p| *p > 0);
    match port {
        None => push(&mut errors, "smtp_port", "Enter a port from 1 to 65535."),
        Some(_) if host.is_empty() || host.len() > 253 => {
            push(&mut errors, "smtp_host", "Enter the server's host name.")
        }
        Some(port) => {
            if let Err(why) = permitted(&state.outbound.policy, &host, port).await {
                push(&mut errors, "smtp_host", format!("This server may not be used: {why}."));
            }
        }
    }
    if !SECURITY.iter().any(|(value, _)| *value == raw.security) {
        push(&mut errors, "smtp_security", "Choose how the connection is secured.");
    }
    let username = raw.username.trim().to_owned();
    if raw.security == "none" && !username.is_empty() {
        push(
            &mut errors,
            "smtp_username",
            "Credentials are never sent in plain text: choose STARTTLS or TLS.",
        );
    }
    let from_address = raw.from_address.trim().to_owned();
    if from_address.parse::<Mailbox>().is_err() {
        push(&mut errors, "smtp_from", "Enter the sender's address, such as alerts@example.com.");
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    Ok(smtp::SmtpInput {
        host,
        port: i32::from(port.unwrap_or(25)),
        security: raw.security.clone(),
        username,
        password: (!raw.password.is_empty()).then(|| crate::crypto::Secret::new(raw.password.clone())),
        from_address,
    })
}
