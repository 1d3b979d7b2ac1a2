//! `/api/v1/tokens`: API tokens from a script. The caller's own by default, another user's or everyone's
//! on request (every caller is an SDAdmin); a new token is in the creation's answer and nowhere else.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::api::Json;
use crate::auth::guard::ApiAdmin;
use crate::clock::rfc3339;
use crate::error::AppError;
use crate::models::api_token::{Listed, Scope};
use crate::models::user;
use crate::ops::tokens::{self as ops, Expiry, TokenInput};
use crate::state::AppState;

/// A token as the API shows it: never the token itself, nor its hash.
#[derive(Serialize)]
pub struct TokenJson {
    id: i64,
    label: String,
    owner: String,
    /// The token's first characters, to recognise it.
    prefix: String,
    /// The link names it may invoke; `null` for an unrestricted token.
    restricted_to: Option<Vec<String>>,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    last_used_address: Option<String>,
    revoked_at: Option<String>,
    status: &'static str,
}

pub fn token_json(listed: &Listed, now: i64) -> TokenJson {
    let t = &listed.token;
    TokenJson {
        id: t.id,
        label: t.label.clone(),
        owner: listed.owner.clone(),
        prefix: t.prefix.clone(),
        restricted_to: match &listed.scope {
            Scope::Everything => None,
            Scope::InvokeOnly(allowed) => Some(allowed.iter().map(|(_, link)| link.clone()).collect()),
        },
        created_at: rfc3339(t.created_at),
        expires_at: t.expires_at.map(rfc3339),
        last_used_at: t.last_used_at.map(rfc3339),
        last_used_address: t.last_used_address.clone(),
        revoked_at: t.revoked_at.map(rfc3339),
        status: t.status(now),
    }
}

/// The longest `user` filter, as the document says (control characters are refused for every query).
const MAX_USER_FILTER: usize = 200;

#[derive(Deserialize)]
pub struct ListQuery {
    user: Option<String>,
    all: Option<bool>,
}

/// The caller's tokens; `?all=true` everyone's, `?user=` one user's (with or without `all`).
pub async fn list_tokens(
    ApiAdmin(caller): ApiAdmin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    if q.user.as_ref().is_some_and(|name| name.chars().count() > MAX_USER_FILTER) {
        let mut errors = crate::error::FieldErrors::new();
        crate::domain::validate::push(&mut errors, "user", "Use at most 200 characters.");
        return Err(AppError::Invalid(errors));
    }
    let owner = match (q.user, q.all.unwrap_or(false)) {
        (None, true) => None,
        (None, false) => Some(caller.id),
        // A filter like the lists' others: a name nobody has lists nothing.
        (Some(name), _) => match state.db.read(move |c| Ok(user::find_by_name(c, &name)?)).await? {
            Some(found) => Some(found.id),
            None => return Ok(HttpResponse::Ok().json(serde_json::json!({ "items": [] }))),
        },
    };
    let now = state.clock.now();
    let tokens: Vec<TokenJson> = ops::list(&state, owner).await?.iter().map(|t| token_json(t, now)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": tokens })))
}

/// `expires_in_days`: a number of days, or `"never"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ExpiresIn {
    Days(i64),
    Never(NeverWord),
}

#[derive(Deserialize)]
enum NeverWord {
    #[serde(rename = "never")]
    Never,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    label: String,
    expires_in_days: Option<ExpiresIn>,
    connections: Option<Vec<String>>,
}

#[derive(Serialize)]
struct CreatedJson {
    /// The token: shown in this answer only.
    token: String,
    #[serde(flatten)]
    listed: TokenJson,
}

/// Creates a token for the caller; the answer holds the token, once.
pub async fn create_token(
    ApiAdmin(caller): ApiAdmin,
    state: web::Data<AppState>,
    body: Json<CreateBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let expiry = match body.expires_in_days {
        None => Expiry::default(),
        Some(ExpiresIn::Days(days)) => Expiry::Days(days),
        Some(ExpiresIn::Never(NeverWord::Never)) => Expiry::Never,
    };
    let input = TokenInput { label: body.label, expiry, connections: body.connections };
    let created = ops::create(&state, &caller, input).await?;
    let answer = CreatedJson {
        token: created.token.expose().to_owned(),
        listed: token_json(&created.listed, state.clock.now()),
    };
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("/api/v1/tokens/{}", created.id)))
        .json(answer))
}

/// One token (any user's).
pub async fn show_token(
    ApiAdmin(_): ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = token_id(&id)?;
    let found = state.db.read(move |c| Ok(crate::models::api_token::find(c, id)?)).await?;
    Ok(HttpResponse::Ok().json(token_json(&found.ok_or(AppError::NotFound)?, state.clock.now())))
}

/// Revokes a token (any user's). Revoking a revoked token is no error.
pub async fn revoke_token(
    ApiAdmin(caller): ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    ops::revoke(&state, &caller, token_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A token id in a path: anything else names no token.
fn token_id(raw: &str) -> Result<i64, AppError> {
    raw.parse().ok().filter(|id| *id > 0).ok_or(AppError::NotFound)
}
