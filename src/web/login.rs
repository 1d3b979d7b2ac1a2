//! Sign-in and sign-out. Sign-in is throttled per account in the database (`models::user`) and per
//! client address in memory (`throttle`), and answers unknown users, wrong passwords, locked or
//! disabled accounts and throttled addresses with the same message.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::actor::{client_address, client_ip};
use crate::auth::csrf::SignOutForm;
use crate::auth::session;
use crate::crypto::Secret;
use crate::error::AppError;
use crate::input::Form;
use crate::models::user;
use crate::ops::sign_in::{self, Refused};
use crate::random::{random_urlsafe, same_token};
use crate::state::AppState;
use crate::web::{Layout, local_path, render_status, see_other};

/// Before sign-in there is no session to hold a CSRF token: the form carries a random value that must
/// match this cookie (double submit), which a cross-site page can neither read nor set.
const LOGIN_CSRF_COOKIE: &str = "connections_login_csrf";
/// Its name over https (see `session::over_https`); a `__Host-` cookie must have `Path=/`.
const HOST_LOGIN_CSRF_COOKIE: &str = "__Host-connections_login_csrf";

fn csrf_cookie_name(req: &HttpRequest) -> &'static str {
    let https = session::state(req).is_ok_and(|state| session::over_https(&state));
    if https { HOST_LOGIN_CSRF_COOKIE } else { LOGIN_CSRF_COOKIE }
}

pub const SIGN_IN_FAILED: &str =
    "Incorrect username or password, or the account is locked for 15 minutes after 5 failed attempts.";

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
    next: String,
    error: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
    csrf_token: String,
    next: Option<String>,
}

fn login_page(
    req: &HttpRequest,
    status: StatusCode,
    username: String,
    next: &str,
    error: Option<&'static str>,
) -> Result<HttpResponse, AppError> {
    let token = random_urlsafe(32)?;
    let mut layout = Layout::new(req, None, "");
    layout.csrf = crate::web::Escaped::new(&token);
    let page = LoginPage { layout, username, next: local_path(Some(next)).into_owned(), error };
    let mut res = render_status(req, status, &page)?;
    let name = csrf_cookie_name(req);
    let (path, secure) = if name == HOST_LOGIN_CSRF_COOKIE { ("/", true) } else { ("/login", false) };
    let cookie = Cookie::build(name, token)
        .path(path)
        .secure(secure)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    res.add_cookie(&cookie).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(res)
}

pub async fn show_login(req: HttpRequest, query: web::Query<NextQuery>) -> Result<HttpResponse, AppError> {
    let next = query.next.as_deref().unwrap_or("/");
    if session::load(&req).await.is_ok() {
        return Ok(see_other(&local_path(Some(next)), None));
    }
    login_page(&req, StatusCode::OK, String::new(), next, None)
}

pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form<SignInForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.0;
    let next = form.next.as_deref().unwrap_or("/");
    let cookie_token = req.cookie(csrf_cookie_name(&req)).map(|c| c.value().to_owned()).unwrap_or_default();
    if cookie_token.is_empty() || !same_token(&cookie_token, &form.csrf_token) {
        return Err(AppError::Csrf);
    }
    let username = form.username.trim().to_owned();
    let refuse = |username| login_page(&req, StatusCode::UNAUTHORIZED, username, next, Some(SIGN_IN_FAILED));
    let now = state.clock.now();
    let client = client_ip(&req);
    if !state.sign_in_throttle.try_acquire(client, now) {
        tracing::info!(client = ?client, "sign-in refused: too many failures from this address");
        return refuse(username);
    }
    let lookup = username.clone();
    let found = state.db.run(move |conn| Ok(user::find_by_name(conn, &lookup)?)).await?;
    // Verify even for unknown, locked or disabled accounts, so timing reveals nothing.
    let ok = state
        .hasher
        .verify(Secret::new(form.password), found.as_ref().map(|u| u.password_hash.clone()))
        .await?;
    let source = client.map(|ip| ip.to_string());
    let refused = match &found {
        None => Some(Refused::UnknownUser),
        Some(u) if u.disabled => Some(Refused::Disabled),
        Some(u) if u.is_locked(now) => Some(Refused::Locked),
        Some(_) if !ok => Some(Refused::WrongPassword),
        Some(_) => None,
    };
    let account_id = found.as_ref().map(|u| u.id);
    let (Some(account), None) = (found, refused) else {
        let why = refused.unwrap_or(Refused::UnknownUser);
        sign_in::refused(&state, &username, source, account_id, why).await?;
        tracing::info!(reason = ?why, "failed sign-in");
        return refuse(username);
    };
    // The account is checked again as the count is cleared: a burst of failures may have locked it
    // while this password was being checked.
    if !sign_in::admitted(&state, &account, source).await? {
        tracing::info!(username = %account.username, "sign-in refused: the account was locked meanwhile");
        return refuse(username);
    }
    let id = account.id;
    state.sign_in_throttle.release(client, now);
    // Any session the browser had before is dropped: sign-in always issues a fresh id.
    session::end(&state, &req).await?;
    let cookie = session::start(&state, &req, id).await?;
    tracing::info!(username = %account.username, "signed in");
    // A password an administrator chose is changed first; the page then goes on to `next`.
    let to = match account.must_change_password {
        true => crate::web::account::change_password_url(next),
        false => local_path(Some(next)).into_owned(),
    };
    let mut res = see_other(&to, None);
    res.add_cookie(&cookie).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(res)
}

pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignOutForm,
) -> Result<HttpResponse, AppError> {
    session::end(&state, &req).await?;
    sign_in::signed_out(&state, &form.0.user, client_address(&req)).await?;
    let mut res = see_other("/login", Some("You have signed out."));
    res.add_cookie(&session::removal_cookie(&state)).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(res)
}
