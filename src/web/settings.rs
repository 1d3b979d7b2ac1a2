//! Admin > General Settings > Advanced Portal Settings: the alias URL every callback URL derives from,
//! and how long the audit log keeps its entries.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::guard::Admin;
use crate::domain::service::callback_url;
use crate::error::AppError;
use crate::models::audit;
use crate::models::setting;
use crate::ops::audit::retention;
use crate::ops::services::alias_url;
use crate::state::AppState;
use crate::web::{Layout, render, render_status, see_other};

#[derive(Template)]
#[template(path = "settings/portal.html")]
struct PortalPage {
    layout: Layout,
    alias_url: String,
    callback_url: String,
    error: Option<String>,
    /// The retention in days as shown (blank: for ever), and what is wrong with it.
    retention_days: String,
    retention_error: Option<String>,
}

#[derive(Deserialize)]
pub struct PortalForm {
    alias_url: String,
}

#[derive(Deserialize)]
pub struct RetentionForm {
    retention_days: String,
}

fn days_shown(days: Option<i64>) -> String {
    days.map(|d| d.to_string()).unwrap_or_default()
}

pub async fn show_portal_settings(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let alias = alias_url(&state).await?;
    let page = PortalPage {
        layout: Layout::new(&req, Some(&admin.0), "settings"),
        callback_url: callback_url(&alias),
        alias_url: alias,
        error: None,
        retention_days: days_shown(retention::days(&state).await?),
        retention_error: None,
    };
    render(&req, &page)
}

pub async fn update_portal_settings(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<PortalForm>,
) -> Result<HttpResponse, AppError> {
    let raw = form.form.alias_url.trim().to_owned();
    let checked = match crate::config::parse_base_url(&raw) {
        Err(_) => Err("Enter the portal's absolute URL, such as https://desk.example.com."),
        Ok(_) if raw.len() > 2048 => Err("Use at most 2048 characters."),
        Ok(url) if url.query().is_some() || url.fragment().is_some() => {
            Err("Remove the query string and fragment.")
        }
        Ok(url) => Ok(url.as_str().trim_end_matches('/').to_owned()),
    };
    let value = match checked {
        Ok(value) => value,
        Err(message) => {
            let days = days_shown(retention::days(&state).await?);
            return invalid(&req, &admin, raw, Some(message.to_owned()), days, None);
        }
    };
    let (actor, now) = (admin.actor(), state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let before = setting::get(c, setting::ALIAS_URL)?;
                setting::put(c, setting::ALIAS_URL, &value, now)?;
                let fields = audit::changes([("alias_url", before.into(), value.clone().into())]);
                let details = serde_json::json!({ "alias_url": value, "fields": fields });
                let event = actor.by().event("settings.update", "settings", "alias_url", details);
                audit::record(c, event, now)?;
                Ok::<_, AppError>(())
            })
        })
        .await?;
    Ok(see_other("/admin/settings/portal", Some("Advanced Portal Settings saved.")))
}

/// Audit log retention: a whole number of days, or blank to keep every entry.
pub async fn update_audit_retention(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<RetentionForm>,
) -> Result<HttpResponse, AppError> {
    let raw = form.form.retention_days.trim().to_owned();
    match retention::parse(&raw) {
        Ok(days) => {
            retention::set(&state, &admin.actor(), days).await?;
            let saved = match days {
                Some(d) => format!("Audit log entries are kept for {d} days."),
                None => "Audit log entries are kept for ever.".to_owned(),
            };
            Ok(see_other("/admin/settings/portal", Some(&saved)))
        }
        Err(message) => {
            let alias = alias_url(&state).await?;
            invalid(&req, &admin, alias, None, raw, Some(message))
        }
    }
}

fn invalid(
    req: &HttpRequest,
    admin: &Admin,
    alias_url: String,
    error: Option<String>,
    retention_days: String,
    retention_error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let page = PortalPage {
        layout: Layout::new(req, Some(&admin.0), "settings"),
        callback_url: String::new(),
        alias_url,
        error,
        retention_days,
        retention_error,
    };
    render_status(req, StatusCode::UNPROCESSABLE_ENTITY, &page)
}
