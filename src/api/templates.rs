//! `GET /api/v1/templates` and `GET /api/v1/templates/{id}`: the service catalogue (`catalogue`), each
//! template with its setup steps for this portal's callback URL and the service it pre-fills.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::auth::guard::ApiAdmin;
use crate::catalogue::{self, Template};
use crate::domain::service::callback_url;
use crate::error::AppError;
use crate::ops::services as ops;
use crate::state::AppState;

#[derive(Serialize)]
struct TemplateJson<'a> {
    id: &'a str,
    version: i32,
    name: &'a str,
    category: &'a str,
    auth_type: &'a str,
    docs: &'a [String],
    setup: Vec<String>,
    service: &'a serde_json::Value,
}

fn template_json<'a>(t: &'a Template, callback: &str) -> TemplateJson<'a> {
    TemplateJson {
        id: &t.id,
        version: t.version,
        name: &t.name,
        category: &t.category,
        auth_type: t.auth_type(),
        docs: &t.docs,
        setup: t.setup_steps(callback),
        service: &t.service,
    }
}

pub async fn list_templates(_: ApiAdmin, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let callback = callback_url(&ops::alias_url(&state).await?);
    let items: Vec<_> = catalogue::all().iter().map(|t| template_json(t, &callback)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items, "total": items.len() })))
}

pub async fn show_template(
    _: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let template = catalogue::find(&id).ok_or(AppError::NotFound)?;
    let callback = callback_url(&ops::alias_url(&state).await?);
    Ok(HttpResponse::Ok().json(template_json(template, &callback)))
}
