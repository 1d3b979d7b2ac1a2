//! `/api/v1/connections`: the connections JSON API. Same operations and rules as the pages; an
//! answer never carries a credential.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::api::Json;
use crate::auth::guard::{ApiAdmin, ApiInvoker};
use crate::clock::rfc3339;
use crate::domain::connection::{ConnectionInput, CredentialInput, Status};
use crate::domain::service::{AuthType, GrantType};
use crate::domain::validate::push;
use crate::error::{AppError, FieldErrors};
use crate::lists::connections::{ATTENTION, ConnectionQuery};
use crate::lists::{Sort, Window};
use crate::models::connection::{self as connections, Loaded};
use crate::models::service as services;
use crate::ops::connections::{self as ops, ConnectionView};
use crate::state::AppState;

/// A connection as the API shows it.
#[derive(Serialize)]
pub struct ConnectionJson {
    link_name: String,
    name: String,
    service: String,
    auth_type: AuthType,
    owner: String,
    status: Status,
    status_message: Option<String>,
    scopes_requested: Vec<String>,
    scopes_granted: Option<Vec<String>>,
    variables: crate::domain::variables::Values,
    captured: crate::domain::variables::Values,
    connected_at: Option<String>,
    expires_at: Option<String>,
    refresh_token_expires_at: Option<String>,
    reconnect_soon: bool,
    last_error: Option<String>,
    revoke_outcome: Option<String>,
    created_at: String,
    updated_at: String,
}

/// `now`: whether the refresh token expires soon depends on it.
pub fn connection_json(c: &ConnectionView, now: i64) -> ConnectionJson {
    ConnectionJson {
        link_name: c.link_name.clone(),
        name: c.name.clone(),
        service: c.service_link.clone(),
        auth_type: c.auth_type,
        owner: c.owner.clone(),
        status: c.status,
        status_message: c.status_message.clone(),
        scopes_requested: c.scopes_requested.clone(),
        scopes_granted: c.scopes_granted.clone(),
        variables: c.variables.clone(),
        captured: c.captured.clone(),
        connected_at: c.connected_at.map(rfc3339),
        expires_at: c.expires_at.map(rfc3339),
        refresh_token_expires_at: c.refresh_expires_at.map(rfc3339),
        reconnect_soon: c.reconnect_soon(now),
        last_error: c.status_message.clone(),
        revoke_outcome: c.revoke_outcome.clone(),
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    search: Option<String>,
    service: Option<String>,
    status: Option<String>,
    auth_type: Option<String>,
    owner: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// A query value: absent is `None`; present, it must parse (an empty value too: the document's enums
/// and patterns do not admit it).
fn parse_or<T>(
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    hint: &str,
) -> Option<T> {
    parse(raw?).or_else(|| {
        push(errors, field, hint);
        None
    })
}

pub async fn list_connections(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let mut errors = FieldErrors::new();
    // `attention`: the connections that need attention (`models::attention`), whatever their status.
    let attention = q.status.as_deref() == Some(ATTENTION);
    let status = parse_or(
        &mut errors,
        "status",
        q.status.as_deref().filter(|_| !attention),
        Status::parse,
        "Use not_connected, connected, disconnected, needs_reconnect or attention.",
    );
    let auth_type = parse_or(
        &mut errors,
        "auth_type",
        q.auth_type.as_deref(),
        AuthType::parse,
        "Use api_key, basic or oauth2.",
    );
    let sort = parse_or(
        &mut errors,
        "sort",
        q.sort.as_deref(),
        Sort::parse,
        "Use name, -name, updated or -updated.",
    )
    .unwrap_or_default();
    let owner_any = match q.owner.as_deref().unwrap_or("me") {
        "me" => false,
        "any" => true,
        _ => {
            push(&mut errors, "owner", "Use me or any.");
            false
        }
    };
    let (page, per_page) = (q.page.unwrap_or(1), q.per_page.unwrap_or(25));
    if !(1..=1_000_000).contains(&page) {
        push(&mut errors, "page", "Use a page number from 1.");
    }
    if !(1..=100).contains(&per_page) {
        push(&mut errors, "per_page", "Use 1 to 100 per page.");
    }
    // Exactly a link name, as the document's pattern says (one with spaces around names no service).
    let exact_link = |raw: &str| crate::domain::validate::link_name(raw).ok().filter(|l| l == raw);
    let service = parse_or(
        &mut errors,
        "service",
        q.service.as_deref(),
        exact_link,
        "Use a service's link name, e.g. zoho_desk.",
    );
    let search = q.search.unwrap_or_default();
    super::check_search(&mut errors, &search);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let (viewer, names, now) = (user.id, state.names.clone(), state.clock.now());
    let (rows, total) = state
        .db
        .read(move |c| {
            let service_id = match service {
                Some(link) => Some(services::find(c, &link)?.map_or(-1, |s| s.id)),
                None => None,
            };
            let window = Window { page, per_page };
            let query = ConnectionQuery {
                search,
                service_id,
                status,
                attention,
                auth_type,
                owner_id: (!owner_any).then_some(viewer),
                sort,
                window,
                now,
            };
            let listing = crate::lists::connections::list(c, &query, Some(&names))?;
            // The page's whole connections (the JSON shows more than a list row), in the list's order.
            let ids: Vec<i64> = listing.rows.iter().map(|r| r.id).collect();
            let mut loaded = connections::find_loaded(c, ids.clone())?;
            loaded.sort_by_key(|l| ids.iter().position(|id| *id == l.row.id));
            Ok((loaded.iter().map(Loaded::view).collect::<Vec<ConnectionView>>(), listing.total))
        })
        .await?;
    let items: Vec<ConnectionJson> = rows.iter().map(|c| connection_json(c, now)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "connections": items,
        "total": total.n,
        "total_at_least": total.at_least,
        "page": page,
        "per_page": per_page,
    })))
}

pub async fn create_connection(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    input: Json<ConnectionInput>,
) -> Result<HttpResponse, AppError> {
    let created = ops::create(&state, &user, input.into_inner()).await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("/api/v1/connections/{}", created.link_name)))
        .json(connection_json(&created, state.clock.now())))
}

pub async fn show_connection(
    _: ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let view = ops::load(&state, &link).await?.view();
    Ok(HttpResponse::Ok().json(connection_json(&view, state.clock.now())))
}

pub async fn update_connection(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    input: Json<ConnectionInput>,
) -> Result<HttpResponse, AppError> {
    let input = input.into_inner();
    // A client may send back what it read: the link name and the service as they are.
    let mut errors = FieldErrors::new();
    if input.link_name.as_deref().is_some_and(|l| l != link.as_str()) {
        push(&mut errors, "link_name", "The link name cannot change.");
    }
    if let Some(service) = &input.service
        && *service != ops::load(&state, &link).await?.view().service_link
    {
        push(&mut errors, "service", "The service of a connection cannot change; create a new connection.");
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let (updated, _) = ops::update(&state, &user, &link, input).await?;
    Ok(HttpResponse::Ok().json(connection_json(&updated, state.clock.now())))
}

pub async fn delete_connection(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let outcome = ops::delete(&state, &user, &link).await?.outcome;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deleted": link.as_str(), "revoke_outcome": outcome })))
}

pub async fn put_credentials(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    input: Json<CredentialInput>,
) -> Result<HttpResponse, AppError> {
    let connected = ops::connect_with_credentials(&state, &user, &link, input.into_inner()).await?;
    Ok(HttpResponse::Ok().json(connection_json(&connected, state.clock.now())))
}

/// Authorization Code: a consent URL to open in the token owner's signed-in browser. Client
/// Credentials: the token request is made at once and the connection is returned.
pub async fn authorize_connection(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let loaded = ops::load(&state, &link).await?;
    if loaded.view().grant_type == Some(GrantType::ClientCredentials) {
        let connected = crate::ops::authorize::connect_client_credentials(&state, &user, &link).await?;
        return Ok(HttpResponse::Ok().json(connection_json(&connected, state.clock.now())));
    }
    let url = crate::ops::authorize::start_authorization(&state, &user, &link, None).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "authorization_url": url.as_str(),
        "expires_in": crate::models::oauth_flow::FLOW_LIFETIME_SECS,
    })))
}

pub async fn revoke_connection(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let outcome = ops::revoke(&state, &user, &link).await?.outcome;
    let view = ops::load(&state, &link).await?.view();
    let mut body = serde_json::to_value(connection_json(&view, state.clock.now()))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    body["revoke_outcome"] = outcome.into();
    Ok(HttpResponse::Ok().json(body))
}

/// Sends a request through the connection with its credentials injected (any SDAdmin may).
pub async fn invoke_connection(
    ApiInvoker { user, scope }: ApiInvoker,
    state: web::Data<AppState>,
    link: web::Path<String>,
    request: Json<crate::ops::invoke::InvokeRequest>,
) -> Result<HttpResponse, AppError> {
    let answer = crate::ops::invoke::invoke(&state, &user, &scope, &link, request.into_inner()).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// Runs the connection's test (the service's test request, or a token/credentials check).
pub async fn test_connection(
    ApiInvoker { user, scope }: ApiInvoker,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(crate::ops::invoke::test(&state, &user, &scope, &link).await?))
}
