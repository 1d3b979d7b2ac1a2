//! Admin > API Tokens (every user's tokens) and My API Tokens (the signed-in user's): list, create,
//! revoke. A new token is rendered once, in the answer to the form that created it, and never again:
//! only its hash is stored.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::guard::Admin;
use crate::clock::format_time;
use crate::error::{AppError, FieldErrors};
use crate::models::api_token::{self, Listed, Scope};
use crate::ops::tokens::{self as ops, Expiry, TokenInput};
use crate::state::AppState;
use crate::web::form_errors::field_error;
use crate::web::{Layout, render, render_status, see_other, time_or_dash};

/// How many connections the create form offers as checkboxes; others are typed by link name.
const CHOICES: i64 = 500;

/// A token row as the lists show it.
pub struct Row {
    pub listed: Listed,
    pub status: &'static str,
}

impl Row {
    pub fn restricted_to(&self) -> Option<Vec<&str>> {
        match &self.listed.scope {
            Scope::Everything => None,
            Scope::InvokeOnly(allowed) => Some(allowed.iter().map(|(_, link)| link.as_str()).collect()),
        }
    }

    pub fn created(&self) -> String {
        format_time(self.listed.token.created_at)
    }

    pub fn expires(&self) -> String {
        self.listed.token.expires_at.map_or_else(|| "Never".to_owned(), format_time)
    }

    pub fn last_used(&self) -> String {
        time_or_dash(&self.listed.token.last_used_at)
    }

    pub fn badge(&self) -> &'static str {
        match self.status {
            "active" => "badge-green",
            "expired" => "badge-amber",
            _ => "badge-grey",
        }
    }
}

#[derive(Template)]
#[template(path = "tokens/list.html")]
struct ListPage {
    layout: Layout,
    /// Everyone's tokens (Admin > API Tokens), or the signed-in user's.
    all: bool,
    rows: Vec<Row>,
}

async fn list(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    all: bool,
) -> Result<HttpResponse, AppError> {
    let owner = (!all).then_some(admin.user().id);
    let now = state.clock.now();
    let rows = ops::list(&state, owner)
        .await?
        .into_iter()
        .map(|listed| Row { status: listed.token.status(now), listed })
        .collect();
    let section = if all { "tokens" } else { "my_tokens" };
    render(&req, &ListPage { layout: Layout::new(&req, Some(&admin.0), section), all, rows })
}

/// Admin > API Tokens: every user's tokens.
pub async fn list_tokens(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list(req, admin, state, true).await
}

/// My API Tokens.
pub async fn list_my_tokens(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list(req, admin, state, false).await
}

/// The create form as sent (or as first shown).
#[derive(Default)]
pub struct Draft {
    pub label: String,
    /// `30`, `90`, `365`, `custom` or `never`.
    pub expiry: String,
    pub expires_on: String,
    /// `all` or `invoke`.
    pub scope: String,
    pub chosen: Vec<String>,
    pub more: String,
}

#[derive(Template)]
#[template(path = "tokens/new.html")]
struct NewPage {
    layout: Layout,
    draft: Draft,
    choices: Vec<(String, String)>,
    errors: FieldErrors,
}

impl NewPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }

    fn is_chosen(&self, link: &str) -> bool {
        self.draft.chosen.iter().any(|c| c == link)
    }

    /// Whether the form offers this link name as a checkbox (one that it does not goes in the text box).
    fn offered(&self, link: &str) -> bool {
        self.choices.iter().any(|(l, _)| l == link)
    }
}

async fn new_page(
    req: &HttpRequest,
    admin: &Admin,
    state: &AppState,
    draft: Draft,
    errors: FieldErrors,
) -> Result<NewPage, AppError> {
    let choices = state.db.read(|c| Ok(api_token::connection_choices(c, CHOICES)?)).await?;
    Ok(NewPage { layout: Layout::new(req, Some(&admin.0), "my_tokens"), draft, choices, errors })
}

#[derive(Deserialize)]
pub struct NewQuery {
    connection: Option<String>,
}

/// The create form; `?connection=link` starts it restricted to that connection.
pub async fn new_token(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    let mut draft = Draft { expiry: "90".into(), scope: "all".into(), ..Draft::default() };
    if let Some(link) = query.into_inner().connection.filter(|l| !l.trim().is_empty()) {
        draft.label = format!("Script for {}", link.trim());
        draft.scope = "invoke".into();
        draft.chosen.push(link.trim().to_owned());
    }
    let page = new_page(&req, &admin, &state, draft, FieldErrors::new()).await?;
    render(&req, &page)
}

#[derive(Template)]
#[template(path = "tokens/created.html")]
struct CreatedPage {
    layout: Layout,
    token: String,
    row: Row,
    /// The invoke URL the snippet calls: the restricted connection's, or a placeholder.
    invoke_url: String,
}

/// Reads the form: repeated `connection` checkboxes and the typed link names together.
fn draft_of(pairs: Vec<(String, String)>) -> Draft {
    let mut draft = Draft::default();
    for (key, value) in pairs {
        match key.as_str() {
            "label" => draft.label = value,
            "expiry" => draft.expiry = value,
            "expires_on" => draft.expires_on = value,
            "scope" => draft.scope = value,
            "connection" => draft.chosen.push(value),
            "more_connections" => draft.more = value,
            _ => {}
        }
    }
    draft
}

/// The operation's input, or the message for the expiry field.
fn input_of(draft: &Draft, now: i64) -> Result<TokenInput, FieldErrors> {
    let mut errors = FieldErrors::new();
    let expiry = match draft.expiry.as_str() {
        "never" => Expiry::Never,
        "custom" => match chrono::NaiveDate::parse_from_str(draft.expires_on.trim(), "%Y-%m-%d") {
            Ok(date) => Expiry::At(date.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp())),
            Err(_) => {
                crate::domain::validate::push(&mut errors, "expires_on", "Choose a date.");
                Expiry::At(now)
            }
        },
        days => match days.parse::<i64>() {
            Ok(days @ (30 | 90 | 365)) => Expiry::Days(days),
            _ => {
                crate::domain::validate::push(&mut errors, "expiry", "Choose when the token expires.");
                Expiry::default()
            }
        },
    };
    let connections = (draft.scope == "invoke").then(|| {
        let typed = draft.more.split([',', ' ', '\n']).map(str::trim).filter(|l| !l.is_empty());
        let mut links: Vec<String> = draft.chosen.iter().map(|l| l.trim().to_owned()).collect();
        links.extend(typed.map(str::to_owned));
        links
    });
    if errors.is_empty() {
        Ok(TokenInput { label: draft.label.clone(), expiry, connections })
    } else {
        Err(errors)
    }
}

/// Creates a token for the signed-in user and shows it, this once.
pub async fn create_token(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let draft = draft_of(form.form);
    let created = match input_of(&draft, state.clock.now()) {
        Ok(input) => ops::create(&state, &admin.actor(), input).await,
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    let created = match created {
        Ok(created) => created,
        Err(AppError::Invalid(mut errors)) => {
            // The operation names the custom date `expires_at`; the form calls it `expires_on`.
            if let Some(messages) = errors.remove("expires_at") {
                errors.insert("expires_on".into(), messages);
            }
            let page = new_page(&req, &admin, &state, draft, errors).await?;
            return render_status(&req, StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
        Err(other) => return Err(other),
    };
    let link = match &created.listed.scope {
        Scope::InvokeOnly(allowed) => allowed.first().map(|(_, link)| link.clone()),
        Scope::Everything => None,
    };
    let base = state.base_url.as_str().trim_end_matches('/');
    let invoke_url = format!("{base}/api/v1/connections/{}/invoke", link.as_deref().unwrap_or("LINK_NAME"));
    let status = created.listed.token.status(state.clock.now());
    let page = CreatedPage {
        layout: Layout::new(&req, Some(&admin.0), "my_tokens"),
        token: created.token.expose().to_owned(),
        row: Row { listed: created.listed, status },
        invoke_url,
    };
    render(&req, &page)
}

#[derive(Deserialize)]
pub struct RevokeForm {
    /// `mine` to come back to My API Tokens.
    back: Option<String>,
}

/// Revokes a token (any user's: every user of these pages is an SDAdmin).
pub async fn revoke_token(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<RevokeForm>,
) -> Result<HttpResponse, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let revoked = ops::revoke(&state, &admin.actor(), id).await?;
    let back = if form.form.back.as_deref() == Some("mine") { "/admin/tokens/mine" } else { "/admin/tokens" };
    let message = format!("Token “{}” of {} is revoked.", revoked.token.label, revoked.owner);
    Ok(see_other(back, Some(&message)))
}
