//! Admin > General Settings > Notifications: webhook endpoints (add, edit, delete, send a test) and
//! each one's delivery log. A new endpoint's signing secret is shown once, on the page that answers
//! its creation; it is never shown again. Its URL is write-only: pages show it masked, and the form
//! never sends back what was typed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::alerts::email::{self, RawSmtp};
use crate::alerts::endpoints::{self as ops, RawEndpoint};
use crate::alerts::events::Event;
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::guard::Admin;
use crate::crypto::Secret;
use crate::error::{AppError, FieldErrors};
use crate::models::smtp::{self, Smtp};
use crate::models::webhook::{self, Endpoint};
use crate::models::webhook_delivery::{self as deliveries, Delivery};
use crate::state::AppState;
use crate::web::form_errors::field_error;
use crate::web::{Layout, render_status, see_other};

/// Deliveries an endpoint's log shows.
const LOG_ROWS: i64 = 50;

/// The endpoint form's values. The URL is never among them.
struct FormValues {
    /// On an edit, what may be shown of the stored URL (a blank field keeps it).
    stored_url: Option<String>,
    /// A URL was typed into a form that comes back with errors: it must be typed again.
    url_typed: bool,
    description: String,
    events: Vec<String>,
    enabled: bool,
    email_owner: bool,
    errors: FieldErrors,
}

impl FormValues {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }

    fn wants(&self, event: &Event) -> bool {
        self.events.iter().any(|e| e == event.as_str())
    }

    /// A new endpoint's defaults: the events that say something broke, is about to, or recovered.
    fn blank() -> FormValues {
        let events = [
            Event::NeedsReconnect,
            Event::Recovered,
            Event::RefreshFailing,
            Event::ReconnectSoon,
            Event::CredentialsRefused,
        ];
        FormValues {
            stored_url: None,
            url_typed: false,
            description: String::new(),
            events: events.iter().map(|e| e.as_str().to_owned()).collect(),
            enabled: true,
            email_owner: false,
            errors: FieldErrors::new(),
        }
    }

    fn of(endpoint: &Endpoint) -> FormValues {
        FormValues {
            stored_url: Some(endpoint.shown_url()),
            url_typed: false,
            description: endpoint.description.clone(),
            events: endpoint.events(),
            enabled: endpoint.enabled,
            email_owner: endpoint.email_owner,
            errors: FieldErrors::new(),
        }
    }

    fn posted(raw: &RawEndpoint, kept: Option<&Endpoint>, errors: FieldErrors) -> FormValues {
        FormValues {
            stored_url: kept.map(Endpoint::shown_url),
            url_typed: !raw.url.trim().is_empty(),
            description: raw.description.clone(),
            events: raw.events.clone(),
            enabled: raw.enabled,
            email_owner: raw.email_owner,
            errors,
        }
    }
}

fn read_form(pairs: &[(String, String)]) -> RawEndpoint {
    let mut raw = RawEndpoint::default();
    for (key, value) in pairs {
        match key.as_str() {
            "url" => raw.url = value.clone(),
            "description" => raw.description = value.clone(),
            "event" => raw.events.push(value.clone()),
            "enabled" => raw.enabled = value == "on" || value == "true",
            "email_owner" => raw.email_owner = value == "on" || value == "true",
            _ => {}
        }
    }
    raw
}

#[derive(Template)]
#[template(path = "settings/notifications.html")]
struct ListPage {
    layout: Layout,
    endpoints: Vec<Endpoint>,
    form: FormValues,
    /// Set on the page that answers a creation: the new endpoint's id and secret, shown once.
    created: Option<(i64, Secret)>,
    smtp: SmtpValues,
}

/// The SMTP form's values; the password is never among them.
struct SmtpValues {
    host: String,
    port: String,
    security: String,
    username: String,
    has_password: bool,
    from_address: String,
    errors: FieldErrors,
}

impl SmtpValues {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }

    fn of(stored: Option<Smtp>) -> SmtpValues {
        match stored {
            Some(s) => SmtpValues {
                has_password: s.has_password(),
                host: s.host,
                port: s.port.to_string(),
                security: s.security,
                username: s.username,
                from_address: s.from_address,
                errors: FieldErrors::new(),
            },
            None => SmtpValues {
                host: String::new(),
                port: "587".into(),
                security: "starttls".into(),
                username: String::new(),
                has_password: false,
                from_address: String::new(),
                errors: FieldErrors::new(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "settings/webhook.html")]
struct EndpointPage {
    layout: Layout,
    endpoint: Endpoint,
    form: FormValues,
    deliveries: Vec<Delivery>,
}

async fn list_page(
    req: &HttpRequest,
    admin: &Admin,
    state: &AppState,
    status: StatusCode,
    form: FormValues,
    created: Option<(i64, Secret)>,
    smtp: Option<SmtpValues>,
) -> Result<HttpResponse, AppError> {
    let (endpoints, stored) = state.db.read(|c| Ok((webhook::all(c)?, smtp::get(c)?))).await?;
    let page = ListPage {
        layout: Layout::new(req, Some(&admin.0), "notifications"),
        endpoints,
        form,
        created,
        smtp: smtp.unwrap_or_else(|| SmtpValues::of(stored)),
    };
    render_status(req, status, &page)
}

pub async fn list_endpoints(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(&req, &admin, &state, StatusCode::OK, FormValues::blank(), None, None).await
}

pub async fn create_endpoint(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let raw = read_form(&form.form);
    let input = match ops::validate(&state, raw.clone(), None).await {
        Ok(input) => input,
        Err(AppError::Invalid(errors)) => {
            let values = FormValues::posted(&raw, None, errors);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return list_page(&req, &admin, &state, status, values, None, None).await;
        }
        Err(e) => return Err(e),
    };
    let email = input.url.as_ref().is_some_and(|u| u.expose().starts_with(webhook::MAILTO));
    let created = ops::create(&state, admin.user(), input).await?;
    if email {
        // Nothing to show once: an email endpoint signs nothing.
        return Ok(see_other("/admin/settings/notifications", Some("Email endpoint added.")));
    }
    list_page(&req, &admin, &state, StatusCode::CREATED, FormValues::blank(), Some(created), None).await
}

fn endpoint_id(path: &str) -> Result<i64, AppError> {
    path.parse().map_err(|_| AppError::NotFound)
}

async fn endpoint_page(
    req: &HttpRequest,
    admin: &Admin,
    state: &AppState,
    id: i64,
    form: Option<FormValues>,
) -> Result<HttpResponse, AppError> {
    let (endpoint, deliveries) = state
        .db
        .read(move |c| {
            let endpoint = webhook::find(c, id)?.ok_or(AppError::NotFound)?;
            Ok((endpoint, deliveries::recent(c, id, LOG_ROWS)?))
        })
        .await?;
    let status = if form.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = EndpointPage {
        layout: Layout::new(req, Some(&admin.0), "notifications"),
        form: form.unwrap_or_else(|| FormValues::of(&endpoint)),
        endpoint,
        deliveries,
    };
    render_status(req, status, &page)
}

pub async fn show_endpoint(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    endpoint_page(&req, &admin, &state, endpoint_id(&path)?, None).await
}

pub async fn update_endpoint(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = endpoint_id(&path)?;
    let raw = read_form(&form.form);
    let kept = state.db.read(move |c| Ok(webhook::find(c, id)?)).await?.ok_or(AppError::NotFound)?;
    match ops::validate(&state, raw.clone(), Some(&kept)).await {
        Ok(input) => {
            ops::update(&state, admin.user(), id, input).await?;
            Ok(see_other(&format!("/admin/settings/notifications/{id}"), Some("Endpoint saved.")))
        }
        Err(AppError::Invalid(errors)) => {
            let values = FormValues::posted(&raw, Some(&kept), errors);
            endpoint_page(&req, &admin, &state, id, Some(values)).await
        }
        Err(e) => Err(e),
    }
}

pub async fn test_endpoint(
    _admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let id = endpoint_id(&path)?;
    ops::send_test(&state, id).await?;
    let message = "A test delivery is on its way; reload to see how it went.";
    Ok(see_other(&format!("/admin/settings/notifications/{id}"), Some(message)))
}

pub async fn delete_endpoint(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    ops::delete(&state, admin.user(), endpoint_id(&path)?).await?;
    Ok(see_other("/admin/settings/notifications", Some("Endpoint deleted.")))
}

pub async fn save_smtp(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let mut raw = RawSmtp::default();
    for (key, value) in &form.form {
        match key.as_str() {
            "smtp_host" => raw.host = value.clone(),
            "smtp_port" => raw.port = value.clone(),
            "smtp_security" => raw.security = value.clone(),
            "smtp_username" => raw.username = value.clone(),
            "smtp_password" => raw.password = value.clone(),
            "smtp_from" => raw.from_address = value.clone(),
            _ => {}
        }
    }
    match email::validate(&state, &raw).await {
        Ok(input) => {
            ops::save_smtp(&state, admin.user(), input).await?;
            Ok(see_other("/admin/settings/notifications", Some("Email settings saved.")))
        }
        Err(AppError::Invalid(errors)) => {
            let stored = state.db.read(|c| Ok(smtp::get(c)?)).await?;
            let values = SmtpValues {
                host: raw.host,
                port: raw.port,
                security: raw.security,
                username: raw.username,
                has_password: stored.is_some_and(|s| s.has_password()),
                from_address: raw.from_address,
                errors,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            list_page(&req, &admin, &state, status, FormValues::blank(), None, Some(values)).await
        }
        Err(e) => Err(e),
    }
}
