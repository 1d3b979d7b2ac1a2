//! `/api/v1/users`: the users of the portal from a script: list, add, show, change role or status,
//! delete, reset a password. A generated password is in the answer that made it and nowhere else;
//! a typed one is never sent back.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::api::Json;
use crate::auth::guard::ApiAdmin;
use crate::clock::rfc3339;
use crate::crypto::Secret;
use crate::error::{AppError, FieldErrors};
use crate::ops::passwords;
use crate::ops::users::{self as ops, Changes, NewUserInput, UserView};
use crate::state::AppState;

/// A user as the API shows it: never a password or its hash.
#[derive(Serialize)]
pub struct UserJson {
    username: String,
    role: &'static str,
    status: &'static str,
    must_change_password: bool,
    created_at: String,
    last_sign_in_at: Option<String>,
    connections_owned: i64,
    sessions: i64,
}

fn user_json(u: &UserView) -> UserJson {
    UserJson {
        username: u.username.clone(),
        role: u.role.as_str(),
        status: u.status(),
        must_change_password: u.must_change_password,
        created_at: rfc3339(u.created_at),
        last_sign_in_at: u.last_sign_in_at.map(rfc3339),
        connections_owned: u.connections_owned,
        sessions: u.sessions,
    }
}

pub async fn list_users(ApiAdmin(_): ApiAdmin, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let users: Vec<UserJson> = ops::list(&state).await?.iter().map(user_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": users })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    username: String,
    role: String,
    /// Leave out (or null) to have one generated.
    password: Option<String>,
}

#[derive(Serialize)]
struct CreatedJson {
    #[serde(flatten)]
    user: UserJson,
    /// The generated password: in this answer only. `null` when the caller chose it.
    generated_password: Option<String>,
}

pub async fn create_user(
    ApiAdmin(caller): ApiAdmin,
    state: web::Data<AppState>,
    body: Json<CreateBody>,
) -> Result<HttpResponse, AppError> {
    let CreateBody { username, role, password } = body.into_inner();
    let input = NewUserInput { username, role, password: password.map(Secret::new) };
    let created = ops::create(&state, &caller, input).await?;
    let location = format!("/api/v1/users/{}", created.user.username);
    let answer = CreatedJson {
        user: user_json(&created.user),
        generated_password: created.generated.map(|p| p.expose().to_owned()),
    };
    Ok(HttpResponse::Created().insert_header(("location", location)).json(answer))
}

pub async fn show_user(
    ApiAdmin(_): ApiAdmin,
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (user, _) = ops::details(&state, &username).await?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    role: Option<String>,
    disabled: Option<bool>,
}

/// Changes the role and/or the status, under the last-SDAdmin rule (409).
pub async fn update_user(
    ApiAdmin(caller): ApiAdmin,
    state: web::Data<AppState>,
    username: web::Path<String>,
    body: Json<UpdateBody>,
) -> Result<HttpResponse, AppError> {
    let UpdateBody { role, disabled } = body.into_inner();
    let role = match role {
        None => None,
        Some(raw) => Some(ops::role_named(&raw).ok_or_else(|| {
            AppError::Invalid(FieldErrors::from([(
                "role".to_owned(),
                vec!["Use sdadmin or technician.".to_owned()],
            )]))
        })?),
    };
    let changed = ops::change(&state, &caller, &username, Changes { role, disabled }).await?;
    Ok(HttpResponse::Ok().json(user_json(&changed.user)))
}

pub async fn delete_user(
    ApiAdmin(caller): ApiAdmin,
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    ops::delete(&state, &caller, &username).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// Leave out (or null) to have one generated.
    password: Option<String>,
    /// Keep the user's API tokens working (they are revoked otherwise).
    #[serde(default)]
    keep_tokens: Option<bool>,
}

#[derive(Serialize)]
struct ResetJson {
    username: String,
    /// The generated password: in this answer only. `null` when the caller chose it.
    generated_password: Option<String>,
    sessions_ended: usize,
    tokens_revoked: usize,
}

/// Resets another user's password (to be changed at their next sign-in) and signs them out
/// everywhere.
pub async fn reset_password(
    ApiAdmin(caller): ApiAdmin,
    state: web::Data<AppState>,
    username: web::Path<String>,
    body: Json<ResetBody>,
) -> Result<HttpResponse, AppError> {
    let ResetBody { password, keep_tokens } = body.into_inner();
    let typed = password.map(Secret::new);
    let reset = passwords::reset(&state, &caller, &username, typed, keep_tokens.unwrap_or(false)).await?;
    Ok(HttpResponse::Ok().json(ResetJson {
        username: reset.username,
        generated_password: reset.generated.map(|p| p.expose().to_owned()),
        sessions_ended: reset.sessions_ended,
        tokens_revoked: reset.tokens_revoked,
    }))
}
