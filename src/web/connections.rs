//! My Connections / All Connections pages: list, create (and connect), details and edit. What is
//! done to a connection (connect, revoke, delete, test, the OAuth callback) is in
//! `connection_actions`.

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_SECURITY_POLICY;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::guard::Admin;
use crate::auth::session::SignedIn;
use crate::domain::connection::ConnectionInput;
use crate::domain::service::{AuthType, Scope};
use crate::domain::variables::{ConnectionVariable, Values};
use crate::error::{AppError, FieldErrors};
use crate::lists::connections::ConnectionListRow;
use crate::models::service::{self as services, Service};
use crate::ops::connections::{self as ops, ConnectionView};
use crate::security::csp_with_form_targets;
use crate::state::AppState;
use crate::web::connection_view as view;
use crate::web::form_errors::field_error;
use crate::web::list_params::{ListParams, Pager};
use crate::web::{Layout, render, render_status, see_other, see_other_error, wants_fragment};

/// Whitespace minimized: the rows repeat their indentation 25 to 100 times a page.
#[derive(Template)]
#[template(path = "connections/list.html", blocks = ["results"], whitespace = "minimize")]
struct ListPage {
    layout: Layout,
    params: ListParams,
    rows: Vec<ConnectionListRow>,
    pager: Pager,
    /// Whose rows get the owner's actions.
    viewer: i64,
    /// The service filter's choices; `None` when there are too many for a list (a text field then).
    services: Option<Vec<(String, String, String)>>,
    has_services: bool,
    mine_needing_attention: i64,
}

pub async fn list_connections(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let params = query.into_inner().normalised();
    let view::ListData { rows, total, services, has_services, mine_needing_attention } =
        view::page(&state, &params, admin.user().id).await?;
    let section = if params.all() { "all_connections" } else { "connections" };
    let page = ListPage {
        layout: Layout::new(&req, Some(&admin.0), section),
        pager: Pager::new(&params, "/admin/connections", "#connection-results", total, rows.len()),
        viewer: admin.user().id,
        params,
        rows,
        services,
        has_services,
        mine_needing_attention,
    };
    if wants_fragment(&req, "connection-results") {
        return render(&req, &page.as_results());
    }
    render(&req, &page)
}

/// The create and edit form.
#[derive(Template)]
#[template(path = "connections/form.html", blocks = ["form_body"])]
struct FormPage {
    layout: Layout,
    editing: Option<ConnectionView>,
    services: Vec<(String, String, String)>,
    service: Option<Service>,
    name: String,
    link_name: String,
    scopes: Vec<String>,
    /// The values typed for the service's connection variables (a new connection only).
    variables: Values,
    errors: FieldErrors,
}

impl FormPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }

    fn service_variables(&self) -> &[ConnectionVariable] {
        self.service.as_ref().map_or(&[], |s| s.connection_variables.as_slice())
    }

    fn variable_value(&self, name: &str) -> &str {
        self.variables.get(name).map_or("", String::as_str)
    }

    fn variable_field(&self, name: &str) -> String {
        format!("variables.{name}")
    }

    fn variable_error(&self, name: &str) -> Option<String> {
        field_error(&self.errors, &self.variable_field(name))
    }

    /// The API base URL as this connection's values will make it (`https://{subdomain}.zendesk.com`).
    fn api_base_shape(&self) -> Option<&str> {
        self.service.as_ref()?.api_base_url.as_deref()
    }

    fn service_scopes(&self) -> Vec<Scope> {
        self.service.as_ref().and_then(|s| s.config.oauth()).map(|o| o.scopes.clone()).unwrap_or_default()
    }

    fn chosen(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    fn service_link(&self) -> &str {
        self.service.as_ref().map_or("", |s| s.link_name.as_str())
    }
}

/// Origins of the OAuth2 authorization URLs a form on this page may end up redirecting to; a host
/// with connection variables allows any host under its fixed domain (`https://*.zendesk.com`).
fn consent_origins(services: &[Service]) -> Vec<String> {
    services
        .iter()
        .filter_map(|s| crate::domain::variables::csp_source(s.config.oauth()?.authorization_url.as_deref()?))
        .collect()
}

/// Renders the form; its CSP lets "Create and Connect" follow the redirect to the chosen provider.
fn form_response(req: &HttpRequest, status: StatusCode, page: &FormPage) -> Result<HttpResponse, AppError> {
    let origins = consent_origins(page.service.as_slice());
    let mut res = if wants_fragment(req, "connection-form-body") {
        render_status(req, status, &page.as_form_body())?
    } else {
        render_status(req, status, page)?
    };
    if let Ok(value) = csp_with_form_targets(&origins).parse() {
        res.headers_mut().insert(CONTENT_SECURITY_POLICY, value);
    }
    Ok(res)
}

async fn load_service(state: &AppState, link: &str) -> Result<Option<Service>, AppError> {
    let link = link.trim().to_owned();
    if link.is_empty() {
        return Ok(None);
    }
    let row = state.db.read(move |c| Ok(services::find(c, &link)?)).await?;
    row.map(|r| r.view()).transpose()
}

#[derive(Deserialize)]
pub struct NewQuery {
    service: Option<String>,
}

pub async fn new_connection(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    let chosen = query.into_inner().service.unwrap_or_default();
    if chosen == "__new__" {
        let to = "/admin/services/new?return_to=%2Fadmin%2Fconnections%2Fnew";
        if req.headers().contains_key("hx-request") {
            return Ok(HttpResponse::Ok().insert_header(("HX-Redirect", to)).finish());
        }
        return Ok(see_other(to, None));
    }
    let service = load_service(&state, &chosen).await?;
    let services = state.db.read(|c| Ok(services::names(c)?)).await?;
    let page = FormPage {
        layout: Layout::new(&req, Some(&admin.0), "connections"),
        editing: None,
        services,
        service,
        name: String::new(),
        link_name: String::new(),
        scopes: Vec::new(),
        variables: Values::new(),
        errors: FieldErrors::new(),
    };
    form_response(&req, StatusCode::OK, &page)
}

/// The form's fields: repeated `scope` checkboxes, and which button was pressed.
struct Posted {
    input: ConnectionInput,
    action: String,
}

fn read_form(pairs: &[(String, String)]) -> Posted {
    let mut input = ConnectionInput { scopes: Some(Vec::new()), ..ConnectionInput::default() };
    let mut action = String::new();
    for (key, value) in pairs {
        match key.as_str() {
            "service" => input.service = Some(value.clone()),
            "name" => input.name = Some(value.clone()),
            "link_name" => input.link_name = Some(value.clone()),
            "scope" => input.scopes.get_or_insert_with(Vec::new).push(value.clone()),
            _ if key.starts_with("variable.") => {
                let name = key.trim_start_matches("variable.").to_owned();
                input.variables.get_or_insert_with(Default::default).insert(name, value.clone());
            }
            "action" => action = value.clone(),
            _ => {}
        }
    }
    Posted { input, action }
}

/// Where "Connect" goes for a connection: the credentials page, or (with a single-use nonce, see
/// `auth::nonce`) the consent redirect or the client-credentials request.
pub fn connect_url(link_name: &str, signed_in: &SignedIn, now: i64) -> Result<String, AppError> {
    let nonce = crate::auth::nonce::issue(signed_in.csrf(), CONNECT_PURPOSE, link_name, now)?;
    Ok(format!("/admin/connections/{link_name}/connect?nonce={nonce}"))
}

/// What a Connect link's nonce is for.
pub const CONNECT_PURPOSE: &str = "connect";

pub async fn create_connection(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let mut posted = read_form(&form.form);
    if posted.input.link_name.as_deref().is_none_or(|l| l.trim().is_empty()) {
        posted.input.link_name =
            Some(crate::domain::validate::suggest_link_name(posted.input.name.as_deref().unwrap_or("")));
    }
    match ops::create(&state, admin.user(), posted.input.clone()).await {
        Ok(created) if posted.action == "connect" => {
            Ok(see_other(&connect_url(&created.link_name, &admin.0, state.clock.now())?, None))
        }
        Ok(created) => Ok(see_other(
            &format!("/admin/connections/{}", created.link_name),
            Some(&format!("Connection “{}” created.", created.name)),
        )),
        Err(AppError::Invalid(errors)) => {
            let service = load_service(&state, posted.input.service.as_deref().unwrap_or("")).await?;
            let services = state.db.read(|c| Ok(services::names(c)?)).await?;
            let page = FormPage {
                layout: Layout::new(&req, Some(&admin.0), "connections"),
                editing: None,
                services,
                service,
                name: posted.input.name.unwrap_or_default(),
                link_name: posted.input.link_name.unwrap_or_default(),
                scopes: posted.input.scopes.unwrap_or_default(),
                variables: posted.input.variables.unwrap_or_default(),
                errors,
            };
            form_response(&req, StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "connections/details.html")]
struct DetailsPage {
    layout: Layout,
    c: ConnectionView,
    events: Vec<crate::models::event::ConnectionEvent>,
    /// Activity events of any connection this instance dropped (see `activity`).
    activity_dropped: u64,
    service: Service,
    mine: bool,
    base_url: String,
    /// The Connect button's link (with a fresh nonce for the OAuth2 actions).
    connect_href: String,
    /// Why it should be reconnected soon: its refresh token expires within a week.
    reconnect_reason: Option<String>,
}

impl DetailsPage {
    /// A connection variable's label, as its service names it.
    fn variable_label<'a>(&'a self, name: &'a str) -> &'a str {
        let declared = self.service.connection_variables.iter().find(|v| v.name == name);
        declared.map_or(name, |v| v.display_name.as_str())
    }

    fn time(&self, t: &Option<i64>) -> String {
        t.map_or_else(|| "—".to_owned(), crate::clock::format_time)
    }
}

pub async fn show_connection(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    // The activity queued on this instance first, so that a user sees the calls they just made (and
    // their "last used").
    state.activity.flush().await;
    let loaded = ops::load(&state, &link).await?;
    let id = loaded.row.id;
    let events = state.db.read(move |c| Ok(crate::models::event::recent(c, id, 20)?)).await?;
    let page = DetailsPage {
        layout: Layout::new(&req, Some(&admin.0), "connections"),
        events,
        activity_dropped: state.activity.dropped(),
        mine: loaded.row.owner_id == admin.user().id,
        reconnect_reason: loaded.view().reconnect_reason(state.clock.now()),
        c: loaded.view(),
        service: loaded.service.view()?,
        base_url: state.base_url.as_str().trim_end_matches('/').to_owned(),
        connect_href: connect_url(&link, &admin.0, state.clock.now())?,
    };
    render(&req, &page)
}

pub async fn edit_connection(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let loaded = ops::load(&state, &link).await?;
    if loaded.row.owner_id != admin.user().id {
        return Err(AppError::Forbidden(format!(
            "Only the owner ({}) can edit this connection.",
            loaded.owner
        )));
    }
    let view = loaded.view();
    let page = FormPage {
        layout: Layout::new(&req, Some(&admin.0), "connections"),
        services: Vec::new(),
        service: Some(loaded.service.view()?),
        name: view.name.clone(),
        link_name: view.link_name.clone(),
        scopes: view.scopes_requested.clone(),
        variables: view.variables.clone(),
        editing: Some(view),
        errors: FieldErrors::new(),
    };
    form_response(&req, StatusCode::OK, &page)
}

pub async fn update_connection(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let posted = read_form(&form.form);
    let loaded = ops::load(&state, &link).await?;
    let is_oauth = loaded.service.auth_type == AuthType::OAuth2;
    let mut input = posted.input.clone();
    if !is_oauth {
        input.scopes = None;
    }
    match ops::update(&state, admin.user(), &link, input).await {
        Ok((updated, _)) if posted.action == "reconnect" => {
            Ok(see_other(&connect_url(&updated.link_name, &admin.0, state.clock.now())?, None))
        }
        Ok((updated, true)) => Ok(see_other_error(
            &format!("/admin/connections/{}", updated.link_name),
            "Saved. The scopes changed, so the connection is Not connected until you reconnect and consent \
             to them.",
        )),
        Ok((updated, false)) => {
            Ok(see_other(&format!("/admin/connections/{}", updated.link_name), Some("Connection saved.")))
        }
        Err(AppError::Invalid(errors)) => {
            let view = loaded.view();
            let page = FormPage {
                layout: Layout::new(&req, Some(&admin.0), "connections"),
                services: Vec::new(),
                service: Some(loaded.service.view()?),
                name: posted.input.name.unwrap_or_default(),
                link_name: view.link_name.clone(),
                scopes: posted.input.scopes.unwrap_or_default(),
                variables: view.variables.clone(),
                editing: Some(view),
                errors,
            };
            form_response(&req, StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}
