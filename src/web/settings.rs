//! Admin > General Settings > Advanced Portal Settings: the alias URL every callback URL derives from.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::guard::Admin;
use crate::domain::service::callback_url;
use crate::error::AppError;
use crate::models::audit::{self, Event};
use crate::models::setting;
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
}

#[derive(Deserialize)]
pub struct PortalForm {
    alias_url: String,
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
        Err(message) => return invalid(&req, &admin, raw, message.to_owned()),
    };
    let (actor, actor_id, now) = (admin.user().username.clone(), admin.user().id, state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                setting::put(c, setting::ALIAS_URL, &value, now)?;
                let details = serde_json::json!({ "alias_url": value });
                audit::record(
                    c,
                    Event {
                        actor_id: Some(actor_id),
                        actor: &actor,
                        action: "settings.update",
                        target_type: "settings",
                        target: "alias_url",
                        details,
                    },
                    now,
                )?;
                Ok::<_, AppError>(())
            })
        })
        .await?;
    Ok(see_other("/admin/settings/portal", Some("Advanced Portal Settings saved.")))
}

fn invalid(
    req: &HttpRequest,
    admin: &Admin,
    alias_url: String,
    error: String,
) -> Result<HttpResponse, AppError> {
    let page = PortalPage {
        layout: Layout::new(req, Some(&admin.0), "settings"),
        callback_url: String::new(),
        alias_url,
        error: Some(error),
    };
    render_status(req, StatusCode::UNPROCESSABLE_ENTITY, &page)
}
