//! Transfer ownership pages: a connection's (form with the new owner, then a confirmation, then the
//! move), and every connection of a user at once (`/admin/users/{username}/transfer`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::guard::Admin;
use crate::error::{AppError, FieldErrors};
use crate::ops::connections::{self as ops, ConnectionView};
use crate::ops::transfer;
use crate::state::AppState;
use crate::web::form_errors::field_error;
use crate::web::{Layout, local_path, render_status, see_other};

#[derive(Template)]
#[template(path = "connections/transfer.html")]
struct TransferPage {
    layout: Layout,
    c: ConnectionView,
    /// The SDAdmins who may own it, but its owner.
    candidates: Vec<String>,
    to: String,
    /// The new owner was checked: the page asks to confirm.
    confirming: bool,
    errors: FieldErrors,
}

impl TransferPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }
}

async fn transfer_page(
    req: &HttpRequest,
    admin: &Admin,
    state: &AppState,
    link: &str,
    to: String,
    confirming: bool,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let c = ops::load(state, link).await?.view();
    let candidates = transfer::candidates(state).await?.into_iter().filter(|u| *u != c.owner).collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let layout = Layout::new(req, Some(&admin.0), "connections");
    render_status(req, status, &TransferPage { layout, c, candidates, to, confirming, errors })
}

pub async fn show_transfer(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    transfer_page(&req, &admin, &state, &link, String::new(), false, FieldErrors::new()).await
}

#[derive(Deserialize)]
pub struct TransferForm {
    #[serde(default)]
    to: String,
    /// Present on the confirmation's button: do it.
    confirm: Option<String>,
}

/// The form's answer: the confirmation when the new owner may own it, the move once confirmed.
pub async fn transfer_connection(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    form: CsrfForm<TransferForm>,
) -> Result<HttpResponse, AppError> {
    let TransferForm { to, confirm } = form.form;
    let checked = match confirm {
        Some(_) => transfer::transfer(&state, admin.user(), &link, &to).await.map(Some),
        None => {
            let (owner, name) = (ops::load(&state, &link).await?.row.owner_id, to.clone());
            let found = state.db.read(move |c| transfer::new_owner(c, &name)).await;
            match found {
                Ok(u) if u.id == owner => {
                    Err(ops::invalid("to", format!("{} already owns this connection.", u.username)))
                }
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            }
        }
    };
    match checked {
        Ok(Some(moved)) => Ok(see_other(
            &format!("/admin/connections/{link}"),
            Some(&format!("“{}” now belongs to {}.", moved.name, moved.owner)),
        )),
        Ok(None) => transfer_page(&req, &admin, &state, &link, to, true, FieldErrors::new()).await,
        Err(AppError::Invalid(errors)) => transfer_page(&req, &admin, &state, &link, to, false, errors).await,
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "users/transfer.html")]
struct UserTransferPage {
    layout: Layout,
    username: String,
    owned: i64,
    candidates: Vec<String>,
    to: String,
    next: String,
    errors: FieldErrors,
}

impl UserTransferPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

async fn user_transfer_page(
    req: &HttpRequest,
    admin: &Admin,
    state: &AppState,
    username: &str,
    to: String,
    next: Option<&str>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (user, owned) = transfer::owner_of_many(state, username).await?;
    let candidates = transfer::candidates(state).await?.into_iter().filter(|u| *u != user.username).collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = UserTransferPage {
        layout: Layout::new(req, Some(&admin.0), "users"),
        username: user.username,
        owned,
        candidates,
        to,
        next: next.map(|n| local_path(Some(n)).into_owned()).unwrap_or_default(),
        errors,
    };
    render_status(req, status, &page)
}

/// `?next=/admin/users/alice`: where to go once the connections moved.
pub async fn show_user_transfer(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = query.into_inner().next;
    user_transfer_page(&req, &admin, &state, &username, String::new(), next.as_deref(), FieldErrors::new())
        .await
}

#[derive(Deserialize)]
pub struct UserTransferForm {
    #[serde(default)]
    to: String,
    next: Option<String>,
}

pub async fn transfer_user_connections(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    username: web::Path<String>,
    form: CsrfForm<UserTransferForm>,
) -> Result<HttpResponse, AppError> {
    let UserTransferForm { to, next } = form.form;
    match transfer::transfer_all(&state, admin.user(), &username, &to).await {
        Ok(moved) => {
            let next = next.filter(|n| !n.is_empty());
            let to_page = local_path(Some(next.as_deref().unwrap_or("/admin/users"))).into_owned();
            let message = match moved.moved.len() {
                1 => format!("1 connection of {} now belongs to {}.", moved.from, moved.to),
                n => format!("{n} connections of {} now belong to {}.", moved.from, moved.to),
            };
            Ok(see_other(&to_page, Some(&message)))
        }
        Err(AppError::Invalid(errors)) => {
            user_transfer_page(&req, &admin, &state, &username, to, next.as_deref(), errors).await
        }
        Err(e) => Err(e),
    }
}
