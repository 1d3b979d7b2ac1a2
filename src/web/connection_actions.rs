//! What is done to a connection from its page or a row: connect (credentials form, consent redirect,
//! client-credentials grant), revoke, delete, test — and the OAuth callback that ends a consent.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::guard::Admin;
use crate::domain::connection::CredentialInput;
use crate::domain::service::{ApiKeyParam, ServiceConfig};
use crate::error::{AppError, FieldErrors};
use crate::models::api_token::Scope;
use crate::ops::authorize::{CallbackOutcome, CallbackParams};
use crate::ops::connections::{self as ops, ConnectionView};
use crate::random::sha256_hex;
use crate::state::AppState;
use crate::web::connection_view::ConnectAction;
use crate::web::connections::{CONNECT_PURPOSE, connect_url};
use crate::web::form_errors::field_error;
use crate::web::{Layout, render, render_status, see_other, see_other_error, wants_fragment};

#[derive(Template)]
#[template(path = "connections/connect.html")]
struct ConnectPage {
    layout: Layout,
    c: ConnectionView,
    params: Vec<ApiKeyParam>,
    username: String,
    errors: FieldErrors,
}

impl ConnectPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }

    fn param_err(&self, name: &str) -> Option<String> {
        field_error(&self.errors, &format!("params.{name}"))
    }
}

#[derive(Deserialize)]
pub struct NonceQuery {
    nonce: Option<String>,
}

/// The page before an OAuth2 connect: where the browser (or the token request) is about to go, and
/// the link that goes there, with a fresh nonce.
#[derive(Template)]
#[template(path = "connections/continue.html")]
struct ContinuePage {
    layout: Layout,
    c: ConnectionView,
    consent: bool,
    /// The provider's origin the browser (or the token request) goes to.
    destination: String,
    href: String,
}

/// Connect: the credentials form, or for OAuth2 — with the single-use nonce of a Connect link — the
/// consent redirect or the client-credentials token request. Without a nonce (a list row's link),
/// a page says where it goes and links there with one.
pub async fn connect_connection(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    query: web::Query<NonceQuery>,
) -> Result<HttpResponse, AppError> {
    let loaded = ops::load(&state, &link).await?;
    if loaded.row.owner_id != admin.user().id {
        return Err(AppError::Forbidden(format!(
            "Only the owner ({}) can connect this connection.",
            loaded.owner
        )));
    }
    let view = loaded.view();
    let action = ConnectAction::of(&view);
    let Some(nonce) = query.into_inner().nonce.filter(|_| action != ConnectAction::Credentials) else {
        return match action {
            ConnectAction::Credentials => {
                let params = loaded.config()?.api_key().map(|k| k.params.clone()).unwrap_or_default();
                let layout = Layout::new(&req, Some(&admin.0), "connections");
                render(
                    &req,
                    &ConnectPage {
                        layout,
                        c: view,
                        params,
                        username: String::new(),
                        errors: FieldErrors::new(),
                    },
                )
            }
            _ => {
                let oauth = loaded.config()?.oauth().cloned();
                let endpoint = match action {
                    ConnectAction::Consent => oauth.as_ref().and_then(|o| o.authorization_url.clone()),
                    _ => oauth.as_ref().map(|o| o.token_url.clone()),
                };
                let page = ContinuePage {
                    layout: Layout::new(&req, Some(&admin.0), "connections"),
                    consent: action == ConnectAction::Consent,
                    destination: endpoint
                        .as_deref()
                        .and_then(crate::domain::destinations::origin_of)
                        .map(|o| crate::domain::destinations::shown(&o))
                        .unwrap_or_default(),
                    href: connect_url(&link, &admin.0, state.clock.now())?,
                    c: view,
                };
                render(&req, &page)
            }
        };
    };
    spend_connect_nonce(&state, &admin, &link, &nonce).await?;
    if action == ConnectAction::Consent {
        let session_hash = admin.0.session.id_hash.clone();
        let url =
            crate::ops::authorize::start_authorization(&state, &admin.actor(), &link, Some(session_hash))
                .await?;
        return Ok(HttpResponse::SeeOther().insert_header((LOCATION, url.to_string())).finish());
    }
    match crate::ops::authorize::connect_client_credentials(&state, &admin.actor(), &link).await {
        Ok(c) => Ok(see_other(
            &format!("/admin/connections/{}", c.link_name),
            Some("Connected: a token was obtained."),
        )),
        Err(AppError::Conflict(message)) => {
            Ok(see_other_error(&format!("/admin/connections/{link}"), &message))
        }
        Err(e) => Err(e),
    }
}

/// Checks a Connect link's nonce (this session's, for this connection, unexpired) and spends it.
async fn spend_connect_nonce(
    state: &AppState,
    admin: &Admin,
    link: &str,
    nonce: &str,
) -> Result<(), AppError> {
    let now = state.clock.now();
    let expires_at = crate::auth::nonce::verify(admin.0.csrf(), CONNECT_PURPOSE, link, nonce, now)
        .ok_or(AppError::Csrf)?;
    let hash = sha256_hex(nonce);
    if !state.db.run(move |c| Ok(crate::models::nonce::spend(c, &hash, expires_at)?)).await? {
        return Err(AppError::Csrf);
    }
    Ok(())
}

/// The credentials form's submission.
pub async fn store_credentials(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let mut input = CredentialInput { params: Some(Default::default()), ..CredentialInput::default() };
    for (key, value) in form.form {
        match key.strip_prefix("param.") {
            Some(name) => {
                input.params.get_or_insert_with(Default::default).insert(name.to_owned(), value);
            }
            None if key == "username" => input.username = Some(value),
            None if key == "password" => input.password = Some(value),
            None => {}
        }
    }
    let username = input.username.clone().unwrap_or_default();
    match ops::connect_with_credentials(&state, &admin.actor(), &link, input).await {
        Ok(c) => Ok(see_other(
            &format!("/admin/connections/{}", c.link_name),
            Some(&format!("“{}” is connected.", c.name)),
        )),
        Err(AppError::Invalid(errors)) => {
            let loaded = ops::load(&state, &link).await?;
            let params = loaded.config()?.api_key().map(|k| k.params.clone()).unwrap_or_default();
            let page = ConnectPage {
                layout: Layout::new(&req, Some(&admin.0), "connections"),
                c: loaded.view(),
                params,
                username,
                errors,
            };
            render_status(&req, StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "connections/confirm.html", blocks = ["dialog"])]
struct ConfirmPage {
    layout: Layout,
    c: ConnectionView,
    /// "revoke" or "delete".
    action: &'static str,
    has_revoke_url: bool,
}

async fn confirm(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: String,
    action: &'static str,
) -> Result<HttpResponse, AppError> {
    let loaded = ops::load(&state, &link).await?;
    let has_revoke_url = matches!(loaded.config()?, ServiceConfig::OAuth2(o) if o.revoke_url.is_some());
    let page = ConfirmPage {
        layout: Layout::new(&req, Some(&admin.0), "connections"),
        c: loaded.view(),
        action,
        has_revoke_url,
    };
    if wants_fragment(&req, "dialog-slot") {
        return render(&req, &page.as_dialog());
    }
    render(&req, &page)
}

pub async fn confirm_revoke(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    confirm(req, admin, state, link.into_inner(), "revoke").await
}

pub async fn confirm_delete(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    confirm(req, admin, state, link.into_inner(), "delete").await
}

pub async fn revoke_connection(
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let outcome = ops::revoke(&state, &admin.actor(), &link).await?.outcome;
    Ok(see_other(&format!("/admin/connections/{link}"), Some(&format!("Revoked. {outcome}"))))
}

pub async fn delete_connection(
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let outcome = ops::delete(&state, &admin.actor(), &link).await?.outcome;
    Ok(see_other("/admin/connections", Some(&format!("Connection {link} deleted. {outcome}"))))
}

/// `GET /integration/oauth/callback`: the provider's redirect back, behind the same guard as every
/// admin page (without a session: sign in first and come back). The signed-in user must be the one
/// who started the flow.
pub async fn oauth_callback(
    admin: Admin,
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    query: web::Query<CallbackParams>,
) -> Result<HttpResponse, AppError> {
    let session_hash = admin.0.session.id_hash.clone();
    let mut params = query.into_inner();
    params.query = url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    // The code and state never stay in the address bar: every outcome is a redirect or an error page.
    match crate::ops::authorize::finish_authorization(&state, &admin.actor(), &session_hash, params).await? {
        CallbackOutcome::Connected { link_name, name } => Ok(see_other(
            &format!("/admin/connections/{link_name}"),
            Some(&format!("“{name}” is connected.")),
        )),
        CallbackOutcome::Failed { link_name, message } => {
            Ok(see_other_error(&format!("/admin/connections/{link_name}"), &message))
        }
    }
}

/// The Test button: the result comes back as a message on the details page.
pub async fn test_connection(
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let to = format!("/admin/connections/{link}");
    match crate::ops::invoke::test(&state, admin.user(), &Scope::Everything, &link).await {
        Ok(result) => {
            let excerpt = result.excerpt.map(|e| format!(" Body: {e}")).unwrap_or_default();
            let message = format!("Test: {} ({} ms).{excerpt}", result.message, result.latency_ms);
            Ok(if result.ok { see_other(&to, Some(&message)) } else { see_other_error(&to, &message) })
        }
        Err(
            e @ (AppError::NotConnected { .. }
            | AppError::Upstream(_)
            | AppError::Unavailable(_)
            | AppError::RateLimited { .. }
            | AppError::Invalid(_)),
        ) => Ok(see_other_error(&to, &format!("Test failed: {}", e.public_message()))),
        Err(e) => Err(e),
    }
}
