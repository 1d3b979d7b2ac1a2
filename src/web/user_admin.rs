//! A user's page under Admin > Users (`/admin/users/{username}`): their details, and the changes an
//! SDAdmin makes to them: role, disable and enable, delete. Disabling and deleting are confirmed
//! first; a change the rules refuse (the last active SDAdmin, one's own account, a user who owns
//! connections) comes back to the user's page with the reason.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::guard::Admin;
use crate::error::{AppError, FieldErrors};
use crate::models::user::Role;
use crate::ops::users::{self as ops, Changes, UserView};
use crate::state::AppState;
use crate::web::form_errors::field_error;
use crate::web::{Layout, render, render_status, see_other, see_other_error, time_or_dash, wants_fragment};

/// The address of a user's page.
pub fn user_url(username: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(username.as_bytes()).collect();
    format!("/admin/users/{}", encoded.replace('+', "%20"))
}

impl UserView {
    pub fn status_label(&self) -> &'static str {
        match self.status() {
            "disabled" => "Disabled",
            "locked" => "Locked",
            _ => "Active",
        }
    }

    pub fn status_badge(&self) -> &'static str {
        match self.status() {
            "disabled" => "badge-grey",
            "locked" => "badge-amber",
            _ => "badge-green",
        }
    }

    pub fn last_sign_in(&self) -> String {
        time_or_dash(&self.last_sign_in_at)
    }

    pub fn created(&self) -> String {
        crate::clock::format_time(self.created_at)
    }

    pub fn url(&self) -> String {
        user_url(&self.username)
    }
}

#[derive(Template)]
#[template(path = "users/details.html")]
struct DetailsPage {
    layout: Layout,
    u: UserView,
    /// The link names of the connections they own.
    owned: Vec<String>,
    /// The page is the signed-in SDAdmin's own.
    is_self: bool,
    /// The role the form shows (as sent, after a refused change).
    role: String,
    errors: FieldErrors,
}

impl DetailsPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }
}

async fn details_page(
    req: &HttpRequest,
    admin: &Admin,
    state: &AppState,
    username: &str,
    role: Option<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (u, owned) = ops::details(state, username).await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = DetailsPage {
        layout: Layout::new(req, Some(&admin.0), "users"),
        is_self: u.username == admin.user().username,
        role: role.unwrap_or_else(|| u.role.as_str().to_owned()),
        u,
        owned,
        errors,
    };
    render_status(req, status, &page)
}

pub async fn show_user(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    details_page(&req, &admin, &state, &username, None, FieldErrors::new()).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// The role form's answer: back to the page with what changed, or why nothing did.
pub async fn change_role(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
    form: CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let typed = form.form.role;
    let Some(role) = ops::role_named(&typed) else {
        let errors =
            FieldErrors::from([("role".to_owned(), vec!["Choose SDAdmin or Technician.".to_owned()])]);
        return details_page(&req, &admin, &state, &username, Some(typed), errors).await;
    };
    let back = user_url(&username);
    match ops::change(&state, &admin.actor(), &username, Changes { role: Some(role), disabled: None }).await {
        Ok(changed) => Ok(see_other(
            &back,
            Some(&format!("{} is {}.", changed.user.username, changed.user.role.label())),
        )),
        Err(AppError::Conflict(why)) => Ok(see_other_error(&back, &why)),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "users/confirm.html", blocks = ["dialog"])]
struct ConfirmPage {
    layout: Layout,
    u: UserView,
    /// `disable` or `delete`.
    action: &'static str,
    /// Why it cannot be done, in place of the confirmation.
    refusal: Option<String>,
    /// Where the transfer page comes back to.
    transfer_url: String,
}

async fn confirm(
    req: HttpRequest,
    admin: Admin,
    state: &AppState,
    username: &str,
    action: &'static str,
) -> Result<HttpResponse, AppError> {
    let (u, _) = ops::details(state, username).await?;
    let admins = ops::active_admins(state).await?;
    let refusal = match action {
        "delete" => ops::delete_refusal(admin.user(), &u, admins),
        _ if u.username == admin.user().username => Some(ops::SELF_CHANGE.to_owned()),
        _ if u.role == Role::SdAdmin && !u.disabled && admins <= 1 => {
            Some(ops::last_admin_message(&u.username))
        }
        _ => None,
    };
    let next: String = url::form_urlencoded::byte_serialize(u.url().as_bytes()).collect();
    let page = ConfirmPage {
        layout: Layout::new(&req, Some(&admin.0), "users"),
        transfer_url: format!("{}/transfer?next={next}", u.url()),
        u,
        action,
        refusal,
    };
    if wants_fragment(&req, "dialog-slot") {
        return render(&req, &page.as_dialog());
    }
    render(&req, &page)
}

pub async fn confirm_disable(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    confirm(req, admin, &state, &username, "disable").await
}

pub async fn confirm_delete(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    confirm(req, admin, &state, &username, "delete").await
}

async fn set_disabled(
    admin: Admin,
    state: &AppState,
    username: &str,
    disabled: bool,
) -> Result<HttpResponse, AppError> {
    let back = user_url(username);
    let changes = Changes { role: None, disabled: Some(disabled) };
    match ops::change(state, &admin.actor(), username, changes).await {
        Ok(changed) if disabled => {
            let sessions = match changed.sessions_ended {
                1 => "1 session ended".to_owned(),
                n => format!("{n} sessions ended"),
            };
            let message = format!(
                "{} is disabled: {sessions}, and their API tokens are refused until they are enabled again.",
                changed.user.username
            );
            Ok(see_other(&back, Some(&message)))
        }
        Ok(changed) => Ok(see_other(&back, Some(&format!("{} is enabled.", changed.user.username)))),
        Err(AppError::Conflict(why)) => Ok(see_other_error(&back, &why)),
        Err(e) => Err(e),
    }
}

pub async fn disable_user(
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    set_disabled(admin, &state, &username, true).await
}

pub async fn enable_user(
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    set_disabled(admin, &state, &username, false).await
}

pub async fn delete_user(
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    match ops::delete(&state, &admin.actor(), &username).await {
        Ok(()) => Ok(see_other("/admin/users", Some(&format!("User {} deleted.", username.as_str())))),
        Err(AppError::Conflict(why)) => Ok(see_other_error(&user_url(&username), &why)),
        Err(e) => Err(e),
    }
}
