//! Ownership moves and actions over many connections: `POST /api/v1/connections/{link}/transfer`,
//! `POST /api/v1/users/{username}/transfer`, `POST /api/v1/connections/bulk` and the emergency
//! `POST /api/v1/services/{link}/revoke-all`. The same operations as the pages (`ops::transfer`,
//! `ops::bulk`); an outcome lists every item.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::api::Json;
use crate::api::connections::connection_json;
use crate::auth::guard::ApiAdmin;
use crate::domain::connection::Status;
use crate::domain::service::AuthType;
use crate::domain::validate::push;
use crate::error::{AppError, FieldErrors};
use crate::lists::connections::{ATTENTION, ConnectionQuery};
use crate::models::service as services;
use crate::ops::bulk::{self, Action, ItemOutcome, ItemResult, MAX_ITEMS, Outcome};
use crate::ops::transfer;
use crate::state::AppState;

/// `{"to": "<username>"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    to: String,
}

pub async fn transfer_connection(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    input: Json<TransferInput>,
) -> Result<HttpResponse, AppError> {
    let moved = transfer::transfer(&state, &user, &link, &input.to).await?;
    Ok(HttpResponse::Ok().json(connection_json(&moved, state.clock.now())))
}

pub async fn transfer_user_connections(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    username: web::Path<String>,
    input: Json<TransferInput>,
) -> Result<HttpResponse, AppError> {
    let moved = transfer::transfer_all(&state, &user, &username, &input.to).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "from": moved.from,
        "to": moved.to,
        "count": moved.moved.len(),
        "transferred": moved.moved,
    })))
}

/// The connections a bulk action picks by filter: the list's filters, with the same values. Unknown
/// fields are refused, not ignored: a misspelt filter must not widen what is deleted.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BulkFilter {
    search: Option<String>,
    service: Option<String>,
    status: Option<String>,
    auth_type: Option<String>,
    owner: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkInput {
    action: String,
    links: Option<Vec<String>>,
    filter: Option<BulkFilter>,
    to: Option<String>,
}

/// A bulk action's answer: the counts, then every item in the order given (by name for a filter).
#[derive(Serialize)]
struct OutcomeJson<'a> {
    action: &'a str,
    total: usize,
    done: usize,
    provider_failed: usize,
    failed: usize,
    items: &'a [ItemOutcome],
}

fn outcome_json(action: &str, outcome: &Outcome) -> HttpResponse {
    HttpResponse::Ok().json(OutcomeJson {
        action,
        total: outcome.items.len(),
        done: outcome.count(ItemResult::Done),
        provider_failed: outcome.count(ItemResult::ProviderFailed),
        failed: outcome.count(ItemResult::Failed),
        items: &outcome.items,
    })
}

/// The list query a filter stands for, for `viewer` at `now` (`owner` is `me` unless it says `any`); the
/// service's link name is looked up by the caller.
fn filter_query(f: &BulkFilter, viewer: i64, now: i64, errors: &mut FieldErrors) -> ConnectionQuery {
    let mut bad = |field: &str, hint: &str| push(errors, format!("filter.{field}"), hint);
    let attention = f.status.as_deref() == Some(ATTENTION);
    let status = f.status.as_deref().filter(|_| !attention).and_then(|raw| {
        Status::parse(raw).or_else(|| {
            bad("status", "Use not_connected, connected, disconnected, needs_reconnect or attention.");
            None
        })
    });
    let auth_type = f.auth_type.as_deref().and_then(|raw| {
        AuthType::parse(raw).or_else(|| {
            bad("auth_type", "Use api_key, basic or oauth2.");
            None
        })
    });
    let owner_any = match f.owner.as_deref().unwrap_or("me") {
        "me" => false,
        "any" => true,
        _ => {
            bad("owner", "Use me or any.");
            false
        }
    };
    let search = f.search.clone().unwrap_or_default();
    if search.chars().count() > 200 || search.chars().any(char::is_control) {
        bad("search", "Use at most 200 characters, none of them a control character.");
    }
    ConnectionQuery {
        search,
        status,
        attention,
        auth_type,
        owner_id: (!owner_any).then_some(viewer),
        now,
        ..ConnectionQuery::default()
    }
}

/// The link names a bulk request names, or those its filter matches.
async fn targets(state: &AppState, input: BulkInput, viewer: i64) -> Result<Vec<String>, AppError> {
    let mut errors = FieldErrors::new();
    match (input.links, input.filter) {
        (Some(_), Some(_)) => push(&mut errors, "links", "Send links or a filter, not both."),
        (None, None) => push(&mut errors, "links", "Send the link names to act on, or a filter."),
        (Some(links), None) if links.is_empty() => {
            push(&mut errors, "links", "Name at least one connection.")
        }
        (Some(links), None) if links.len() > MAX_ITEMS => {
            push(&mut errors, "links", format!("Name at most {MAX_ITEMS} connections at once."))
        }
        (Some(links), None) => return Ok(links),
        (None, Some(filter)) => {
            let mut query = filter_query(&filter, viewer, state.clock.now(), &mut errors);
            let service = filter.service.clone();
            if service
                .as_deref()
                .is_some_and(|l| crate::domain::validate::link_name(l).ok().as_deref() != Some(l))
            {
                push(&mut errors, "filter.service", "Use a service's link name, e.g. zoho_desk.");
            }
            if errors.is_empty() {
                if let Some(link) = service {
                    let found = state.db.read(move |c| Ok(services::find(c, &link)?)).await?;
                    query.service_id = Some(found.map_or(-1, |s| s.id));
                }
                return Ok(bulk::matching(state, query).await?.into_iter().map(|(link, _)| link).collect());
            }
        }
    }
    Err(AppError::Invalid(errors))
}

pub async fn bulk_connections(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    input: Json<BulkInput>,
) -> Result<HttpResponse, AppError> {
    let input = input.into_inner();
    let Some(action) = Action::parse(&input.action, input.to.as_deref()) else {
        let mut errors = FieldErrors::new();
        push(&mut errors, "action", "Use revoke, delete or transfer.");
        return Err(AppError::Invalid(errors));
    };
    if input.to.is_some() && !matches!(action, Action::Transfer(_)) {
        let mut errors = FieldErrors::new();
        push(&mut errors, "to", "Only a transfer has a new owner: leave to out.");
        return Err(AppError::Invalid(errors));
    }
    let links = targets(&state, input, user.id).await?;
    let outcome = bulk::connections(&state, &user, &action, links).await?;
    Ok(outcome_json(action.as_str(), &outcome))
}

/// The emergency revoke of every connection of a service.
pub async fn revoke_all(
    ApiAdmin(user): ApiAdmin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let outcome = bulk::revoke_all(&state, &user, &link).await?;
    Ok(outcome_json("revoke", &outcome))
}
