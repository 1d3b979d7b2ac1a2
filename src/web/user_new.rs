//! Adding a user and resetting a user's password, under Admin > Users. The password is typed by the
//! SDAdmin or generated; a generated one is shown once, in the answer to the form that made it
//! (like a new API token), and kept nowhere. Either way the user must change it at their first
//! sign-in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::guard::Admin;
use crate::crypto::Secret;
use crate::error::{AppError, FieldErrors};
use crate::ops::passwords;
use crate::ops::users::{self as ops, NewUserInput};
use crate::state::AppState;
use crate::web::form_errors::field_error;
use crate::web::user_admin::user_url;
use crate::web::{Layout, render, render_status, see_other};

/// The password fields of both forms, as sent. The typed passwords are never rendered back.
#[derive(Deserialize, Default)]
pub struct PasswordFields {
    /// `generate` (the default) or `type`.
    #[serde(default)]
    password_mode: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

impl PasswordFields {
    fn typing(&self) -> bool {
        self.password_mode == "type"
    }

    /// The typed password (`None`: generate one), or the messages of the password fields.
    fn typed(self) -> Result<Option<Secret>, FieldErrors> {
        if !self.typing() {
            return Ok(None);
        }
        let (password, again) = (Secret::new(self.password), Secret::new(self.password_again));
        let mut errors = FieldErrors::new();
        if let Err(message) = crate::password::check_policy(&password) {
            crate::domain::validate::push(&mut errors, "password", message);
        } else if password.expose() != again.expose() {
            crate::domain::validate::push(&mut errors, "password_again", "The two passwords differ.");
        }
        if errors.is_empty() { Ok(Some(password)) } else { Err(errors) }
    }
}

#[derive(Template)]
#[template(path = "users/new.html")]
struct NewPage {
    layout: Layout,
    username: String,
    role: String,
    typing: bool,
    errors: FieldErrors,
}

impl NewPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }
}

pub async fn new_user(req: HttpRequest, admin: Admin) -> Result<HttpResponse, AppError> {
    let layout = Layout::new(&req, Some(&admin.0), "users");
    let page = NewPage {
        layout,
        username: String::new(),
        role: "sdadmin".into(),
        typing: false,
        errors: FieldErrors::new(),
    };
    render(&req, &page)
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(flatten)]
    password: PasswordFields,
}

/// The password page: a generated password, shown this once.
#[derive(Template)]
#[template(path = "users/password.html")]
struct PasswordPage {
    layout: Layout,
    username: String,
    /// `created` or `reset`.
    what: &'static str,
    password: String,
    sessions_ended: usize,
    tokens_revoked: usize,
}

pub async fn create_user(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    let NewUserForm { username, role, password } = form.form;
    let typing = password.typing();
    let result = match password.typed() {
        Ok(typed) => {
            let input = NewUserInput { username: username.clone(), role: role.clone(), password: typed };
            ops::create(&state, &admin.actor(), input).await
        }
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    let created = match result {
        Ok(created) => created,
        Err(AppError::Invalid(errors)) => {
            let layout = Layout::new(&req, Some(&admin.0), "users");
            let page = NewPage { layout, username, role, typing, errors };
            return render_status(&req, StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
        Err(e) => return Err(e),
    };
    let name = created.user.username.clone();
    match created.generated {
        Some(password) => {
            let page = PasswordPage {
                layout: Layout::new(&req, Some(&admin.0), "users"),
                username: name,
                what: "created",
                password: password.expose().to_owned(),
                sessions_ended: 0,
                tokens_revoked: 0,
            };
            render(&req, &page)
        }
        None => {
            let message =
                format!("User {name} added. They choose their own password when they first sign in.");
            Ok(see_other(&user_url(&name), Some(&message)))
        }
    }
}

#[derive(Template)]
#[template(path = "users/reset.html")]
struct ResetPage {
    layout: Layout,
    username: String,
    is_self: bool,
    typing: bool,
    keep_tokens: bool,
    errors: FieldErrors,
}

impl ResetPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }
}

async fn reset_page(
    req: &HttpRequest,
    admin: &Admin,
    state: &AppState,
    username: &str,
    (typing, keep_tokens): (bool, bool),
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (u, _) = ops::details(state, username).await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = ResetPage {
        layout: Layout::new(req, Some(&admin.0), "users"),
        is_self: u.username == admin.user().username,
        username: u.username,
        typing,
        keep_tokens,
        errors,
    };
    render_status(req, status, &page)
}

/// The reset form, which also says what a reset does.
pub async fn show_reset(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    reset_page(&req, &admin, &state, &username, (false, false), FieldErrors::new()).await
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(flatten)]
    password: PasswordFields,
    /// Present when the user's API tokens should keep working.
    keep_tokens: Option<String>,
}

pub async fn reset_password(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
    form: CsrfForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let ResetForm { password, keep_tokens } = form.form;
    let (typing, keep_tokens) = (password.typing(), keep_tokens.is_some());
    let result = match password.typed() {
        Ok(typed) => passwords::reset(&state, &admin.actor(), &username, typed, keep_tokens).await,
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    let reset = match result {
        Ok(reset) => reset,
        Err(AppError::Invalid(errors)) => {
            return reset_page(&req, &admin, &state, &username, (typing, keep_tokens), errors).await;
        }
        Err(AppError::Conflict(why)) => {
            return Ok(crate::web::see_other_error(&user_url(&username), &why));
        }
        Err(e) => return Err(e),
    };
    match reset.generated {
        Some(password) => {
            let page = PasswordPage {
                layout: Layout::new(&req, Some(&admin.0), "users"),
                username: reset.username,
                what: "reset",
                password: password.expose().to_owned(),
                sessions_ended: reset.sessions_ended,
                tokens_revoked: reset.tokens_revoked,
            };
            render(&req, &page)
        }
        None => {
            let message = format!(
                "The password of {} is reset: {} session(s) ended and {} API token(s) revoked. They choose \
                 their own password when they next sign in.",
                reset.username, reset.sessions_ended, reset.tokens_revoked
            );
            Ok(see_other(&user_url(&reset.username), Some(&message)))
        }
    }
}
