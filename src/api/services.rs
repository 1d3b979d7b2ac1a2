//! `/api/v1/services`: the Custom Services JSON API. The same operations as the pages, the same
//! validation messages, and never a secret in an answer.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::api::Json;
use crate::auth::guard::ApiAdmin;
use crate::clock::rfc3339;
use crate::domain::service::{ApiKeyConfig, AuthType, OAuthConfig, callback_url};
use crate::domain::service_input::ServiceInput;
use crate::domain::validate::push;
use crate::domain::variables::ConnectionVariable;
use crate::error::{AppError, FieldErrors};
use crate::lists::services::ServiceQuery;
use crate::lists::{Sort, Window};
use crate::models::service::Service;
use crate::ops::services::{self as ops, UpdateMode};
use crate::state::AppState;

/// A service as the API shows it.
#[derive(Serialize)]
pub struct ServiceJson<'a> {
    link_name: String,
    name: String,
    description: String,
    auth_type: AuthType,
    api_base_url: Option<String>,
    api_key: Option<ApiKeyConfig>,
    oauth2: Option<OAuthJson<'a>>,
    callback_url: String,
    test_request: Option<String>,
    /// The catalogue template it was created from: `{"id": …, "version": …}`.
    template: Option<serde_json::Value>,
    connection_variables: &'a [ConnectionVariable],
    connection_count: i64,
    created_at: String,
    updated_at: String,
    created_by: String,
    updated_by: String,
}

/// A service's OAuth2 settings as the API shows them: the stored settings, and whether a client
/// secret is set (never the secret).
#[derive(Serialize)]
struct OAuthJson<'a> {
    #[serde(flatten)]
    settings: &'a OAuthConfig,
    client_secret_set: bool,
    client_secret_pending: bool,
}

pub fn service_json<'a>(s: &'a Service, connection_count: i64, alias_url: &str) -> ServiceJson<'a> {
    ServiceJson {
        link_name: s.link_name.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        auth_type: s.auth_type(),
        api_base_url: s.api_base_url.clone(),
        api_key: s.config.api_key().cloned(),
        oauth2: s.config.oauth().map(|settings| OAuthJson {
            settings,
            client_secret_set: s.client_secret_set,
            client_secret_pending: s.client_secret_pending,
        }),
        callback_url: callback_url(alias_url),
        test_request: s.test_request.clone(),
        template: s
            .template
            .as_ref()
            .map(|(id, version)| serde_json::json!({ "id": id, "version": version })),
        connection_variables: &s.connection_variables,
        connection_count,
        created_at: rfc3339(s.created_at),
        updated_at: rfc3339(s.updated_at),
        created_by: s.created_by.clone(),
        updated_by: s.updated_by.clone(),
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    search: Option<String>,
    auth_type: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// The query, strictly: an unknown filter value is a 422, not silently ignored.
fn service_query(q: ListQuery) -> Result<ServiceQuery, AppError> {
    let mut errors = FieldErrors::new();
    // An empty value is refused like any other the enum lacks: the document lists what each takes.
    let auth_type = match q.auth_type.as_deref() {
        None => None,
        Some(raw) => AuthType::parse(raw).or_else(|| {
            push(&mut errors, "auth_type", "Use api_key, basic or oauth2.");
            None
        }),
    };
    let sort = match q.sort.as_deref() {
        None => Sort::NameAsc,
        Some(raw) => Sort::parse(raw).unwrap_or_else(|| {
            push(&mut errors, "sort", "Use name, -name, updated or -updated.");
            Sort::NameAsc
        }),
    };
    let page = q.page.unwrap_or(1);
    if !(1..=1_000_000).contains(&page) {
        push(&mut errors, "page", "Use a page number from 1.");
    }
    let per_page = q.per_page.unwrap_or(25);
    if !(1..=100).contains(&per_page) {
        push(&mut errors, "per_page", "Use 1 to 100 per page.");
    }
    let search: String = q.search.unwrap_or_default();
    super::check_search(&mut errors, &search);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    Ok(ServiceQuery { search, auth_type, sort, window: Window { page, per_page } })
}

pub async fn list_services(
    _: ApiAdmin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let q = service_query(query.into_inner())?;
    let alias = ops::alias_url(&state).await?;
    let Window { page, per_page } = q.window;
    let (rows, total) = state.db.read(move |c| Ok(crate::lists::services::rows(c, &q)?)).await?;
    let views =
        rows.iter().map(|r| Ok((r.view()?, r.connection_count))).collect::<Result<Vec<_>, AppError>>()?;
    let services: Vec<ServiceJson> =
        views.iter().map(|(view, count)| service_json(view, *count, &alias)).collect();
    Ok(HttpResponse::Ok().json(
        serde_json::json!({ "services": services, "total": total, "page": page, "per_page": per_page }),
    ))
}

pub async fn create_service(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    input: Json<ServiceInput>,
) -> Result<HttpResponse, AppError> {
    let input = input.into_inner();
    crate::domain::service_rules::check(&input, None)?;
    let service = ops::create(&state, &user, input).await?;
    let alias = ops::alias_url(&state).await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("/api/v1/services/{}", service.link_name)))
        .json(service_json(&service, 0, &alias)))
}

pub async fn show_service(
    _: ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let d = ops::details(&state, &link).await?;
    Ok(HttpResponse::Ok().json(service_json(&d.service, d.connection_count, &ops::alias_url(&state).await?)))
}

/// `?confirm_disconnect=true`: apply a change that sets connections aside (see `ops::services::update`).
#[derive(Deserialize)]
pub struct UpdateQuery {
    #[serde(default)]
    confirm_disconnect: bool,
}

pub async fn update_service(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    query: web::Query<UpdateQuery>,
    input: Json<ServiceInput>,
) -> Result<HttpResponse, AppError> {
    let input = input.into_inner();
    if input.link_name.as_deref().is_some_and(|l| l != link.as_str()) {
        let mut errors = FieldErrors::new();
        push(&mut errors, "link_name", "The link name cannot change.");
        return Err(AppError::Invalid(errors));
    }
    if input.template.is_some() {
        let mut errors = FieldErrors::new();
        push(&mut errors, "template", "The template a service was created from cannot change.");
        return Err(AppError::Invalid(errors));
    }
    let current = ops::load(&state, &link).await?.view()?.auth_type();
    crate::domain::service_rules::check(&input, Some(current))?;
    ops::update(&state, &user, &link, input, UpdateMode::Patch, query.confirm_disconnect).await?;
    let d = ops::details(&state, &link).await?;
    Ok(HttpResponse::Ok().json(service_json(&d.service, d.connection_count, &ops::alias_url(&state).await?)))
}

pub async fn delete_service(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    ops::delete(&state, &user, &link).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `?link=a&link=b`: the definitions file of those services; without `link`, of every service.
/// Never a secret (`domain::service_export`).
pub async fn export_services(
    _: ApiAdmin,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let links: Vec<String> =
        query.into_inner().into_iter().filter(|(k, _)| k == "link").map(|(_, v)| v).collect();
    if links.len() > crate::domain::service_export::MAX_SERVICES {
        let mut errors = FieldErrors::new();
        push(&mut errors, "link", "Name at most 500 services, or none for every service.");
        return Err(AppError::Invalid(errors));
    }
    let (doc, _) = state
        .db
        .read(move |c| crate::ops::service_io::export(c, (!links.is_empty()).then_some(links.as_slice())))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("content-disposition", "attachment; filename=\"services.json\""))
        .body(doc))
}
