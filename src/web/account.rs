//! My account (`/account`), for every signed-in user whatever their role: change one's own password,
//! see where one is signed in and end any of those sessions. `/account/password` is the page a user
//! whose password an administrator chose is sent to, from every other page, until they change it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::actor::client_address;
use crate::auth::csrf::AccountForm;
use crate::auth::guard::AnySignedIn;
use crate::auth::session::{self, SignedIn};
use crate::crypto::Secret;
use crate::error::{AppError, FieldErrors};
use crate::models::user::Role;
use crate::ops::passwords::{self, OwnChange};
use crate::ops::sessions::{self as ops, SessionView};
use crate::state::AppState;
use crate::web::form_errors::field_error;
use crate::web::{Layout, local_path, render_status, see_other};

/// The change-password page's address, coming back to `next` afterwards.
pub fn change_password_url(next: &str) -> String {
    let next = local_path(Some(next));
    if next == "/" || next.starts_with("/account/password") {
        return "/account/password".to_owned();
    }
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/account/password?next={encoded}")
}

impl SessionView {
    pub fn started(&self) -> String {
        crate::clock::format_time(self.started_at)
    }

    pub fn last_seen(&self) -> String {
        crate::clock::format_time(self.last_seen_at)
    }
}

#[derive(Template)]
#[template(path = "account/index.html")]
struct AccountPage {
    layout: Layout,
    username: String,
    role: Role,
    sessions: Vec<SessionView>,
    /// The password form comes back here on a refusal (`password_form.html`).
    from_account: bool,
    next: String,
    errors: FieldErrors,
}

impl AccountPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }
}

async fn account_page(
    req: &HttpRequest,
    state: &AppState,
    by: &SignedIn,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let sessions = ops::mine(state, by).await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = AccountPage {
        layout: Layout::new(req, Some(by), "account"),
        username: by.user.username.clone(),
        role: by.user.role(),
        sessions,
        from_account: true,
        next: String::new(),
        errors,
    };
    render_status(req, status, &page)
}

pub async fn show_account(
    req: HttpRequest,
    by: SignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    account_page(&req, &state, &by, FieldErrors::new()).await
}

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    layout: Layout,
    /// The password was chosen by an administrator: it must be changed before anything else.
    required: bool,
    from_account: bool,
    next: String,
    errors: FieldErrors,
}

impl PasswordPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }
}

fn password_page(
    req: &HttpRequest,
    by: &SignedIn,
    next: &str,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = PasswordPage {
        layout: Layout::new(req, Some(by), "account"),
        required: by.user.must_change_password,
        from_account: false,
        next: local_path(Some(next)).into_owned(),
        errors,
    };
    render_status(req, status, &page)
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn show_change_password(
    req: HttpRequest,
    AnySignedIn(by): AnySignedIn,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    password_page(&req, &by, query.next.as_deref().unwrap_or("/"), FieldErrors::new())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
    /// `account` when sent from My account (a refusal shows that page again).
    from: Option<String>,
    next: Option<String>,
}

/// Where a user goes once their password is changed: `next` after a required change (the page
/// they asked for; the console for an SDAdmin, My account otherwise), My account after a chosen one.
fn after_change(by: &SignedIn, required: bool, next: Option<&str>) -> String {
    let fallback = if by.user.role() == Role::SdAdmin { "/" } else { "/account" };
    match (required, next.filter(|n| !n.is_empty() && *n != "/")) {
        (true, Some(next)) => local_path(Some(next)).into_owned(),
        (true, None) => fallback.to_owned(),
        (false, _) => "/account".to_owned(),
    }
}

pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: AccountForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let (by, f) = (form.by, form.form);
    let input = OwnChange {
        current: Secret::new(f.current_password),
        new: Secret::new(f.new_password),
        again: Secret::new(f.new_password_again),
    };
    match passwords::change_own(&state, &by, client_address(&req), input).await {
        Ok(ended) => {
            let others = match ended {
                0 => String::new(),
                1 => " Your other session has ended.".to_owned(),
                n => format!(" Your {n} other sessions have ended."),
            };
            let to = after_change(&by, by.user.must_change_password, f.next.as_deref());
            Ok(see_other(&to, Some(&format!("Your password is changed.{others}"))))
        }
        Err(AppError::Invalid(errors)) if f.from.as_deref() == Some("account") => {
            account_page(&req, &state, &by, errors).await
        }
        Err(AppError::Invalid(errors)) => password_page(&req, &by, f.next.as_deref().unwrap_or("/"), errors),
        Err(e) => Err(e),
    }
}

/// Ends one of the user's sessions; ending this one signs out.
pub async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    handle: web::Path<String>,
    form: AccountForm<crate::auth::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    if ops::end_mine(&state, &form.by, client_address(&req), &handle).await? {
        let mut res = see_other("/login", Some("You have signed out."));
        res.add_cookie(&session::removal_cookie(&state)).map_err(|e| AppError::Internal(e.to_string()))?;
        return Ok(res);
    }
    Ok(see_other("/account", Some("The session has ended: that browser is signed out.")))
}
