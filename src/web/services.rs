//! Custom Services pages: list (with its htmx results fragment), details, create, edit, delete.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::guard::Admin;
use crate::catalogue::{self, Template as ServiceTemplate};
use crate::domain::service::callback_url;
use crate::domain::service_input::ServiceInput;
use crate::error::{AppError, FieldErrors};
use crate::lists::connections::{ConnectionListRow, ConnectionQuery};
use crate::lists::services::ServiceListRow;
use crate::lists::{Total, Window};
use crate::ops::services::{self as ops, ServiceDetails, UpdateMode};
use crate::state::AppState;
use crate::web::form_errors::{field_error, row_error};
use crate::web::list_params::{ListParams, Pager};
use crate::web::service_form::{FormValues, Posted};
use crate::web::{Layout, local_path, render, render_status, see_other, wants_fragment};

/// Whitespace minimized: the rows repeat their indentation 25 to 100 times a page.
#[derive(Template)]
#[template(path = "services/list.html", blocks = ["results"], whitespace = "minimize")]
struct ListPage {
    layout: Layout,
    params: ListParams,
    rows: Vec<ServiceListRow>,
    pager: Pager,
}

pub async fn list_services(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let params = query.into_inner().normalised();
    let q = params.service_query();
    let (rows, total) = state.db.read(move |c| Ok(crate::lists::services::page(c, &q)?)).await?;
    let pager = Pager::new(
        &params,
        "/admin/services",
        "#service-results",
        Total { n: total, at_least: false },
        rows.len(),
    );
    let page = ListPage { layout: Layout::new(&req, Some(&admin.0), "services"), params, rows, pager };
    if wants_fragment(&req, "service-results") {
        return render(&req, &page.as_results());
    }
    render(&req, &page)
}

#[derive(Template)]
#[template(path = "services/details.html")]
struct DetailsPage {
    layout: Layout,
    d: ServiceDetails,
    /// The first of its connections, and how many there are.
    connections: Vec<ConnectionListRow>,
    total: Total,
}

/// The first connections of service `id` (by name, everyone's), and how many there are.
async fn connections_of(state: &AppState, id: i64) -> Result<(Vec<ConnectionListRow>, Total), AppError> {
    let q = ConnectionQuery {
        service_id: Some(id),
        window: Window { page: 1, per_page: 100 },
        now: state.clock.now(),
        ..ConnectionQuery::default()
    };
    let listing = state.db.read(move |c| Ok(crate::lists::connections::list(c, &q, None)?)).await?;
    Ok((listing.rows, listing.total))
}

pub async fn show_service(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let d = ops::details(&state, &link).await?;
    let (connections, total) = connections_of(&state, d.service.id).await?;
    render(
        &req,
        &DetailsPage { layout: Layout::new(&req, Some(&admin.0), "services"), d, connections, total },
    )
}

#[derive(Template)]
#[template(path = "services/form.html")]
pub struct FormPage {
    layout: Layout,
    editing: Option<String>,
    v: FormValues,
    errors: FieldErrors,
    callback_url: String,
    secret_set: bool,
    connection_count: i64,
    return_to: Option<String>,
    /// A change that needs the admin's confirmation (it sets connections aside).
    confirm: Option<Confirm>,
    /// The catalogue template a new service starts from, with its setup steps for this portal.
    template: Option<(&'static ServiceTemplate, Vec<String>)>,
}

/// What the confirmation panel lists.
pub struct Confirm {
    message: String,
    affected: Vec<crate::error::Affected>,
    /// A client secret was typed: it is not shown back, so it must be typed again.
    secret_posted: bool,
}

impl FormPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(&self.errors, field)
    }

    fn row_err(&self, list: &str, index: &usize, field: &str) -> Option<String> {
        row_error(&self.errors, list, *index, field)
    }

    fn no_error(&self) -> Option<String> {
        None
    }

    /// The messages of a captured value's row, a cell each (`capture_row`'s order).
    fn capture_errs(&self, index: &usize) -> Vec<Option<String>> {
        ["name", "display_name", "source", "key", "kind", "allowed"]
            .iter()
            .map(|f| row_error(&self.errors, "oauth2.captured_values", *index, f))
            .collect()
    }

    /// Whether a field of the collapsed "Advanced" group has an error: the group opens to show it.
    fn advanced_errors(&self) -> bool {
        const ADVANCED: &[&str] = &[
            "oauth2.token_request_format",
            "oauth2.token_response",
            "oauth2.dead_grant_errors",
            "oauth2.client_refused_errors",
            "oauth2.expired_when",
            "oauth2.keep_alive_days",
        ];
        self.errors.keys().any(|key| ADVANCED.iter().any(|a| key.starts_with(a)))
    }
}

#[derive(Deserialize)]
pub struct NewQuery {
    return_to: Option<String>,
    /// A catalogue template's id: the form starts from its settings.
    template: Option<String>,
}

async fn form_page(
    req: &HttpRequest,
    admin: &Admin,
    state: &AppState,
    editing: Option<&ServiceDetails>,
    v: FormValues,
    errors: FieldErrors,
    return_to: Option<String>,
) -> Result<FormPage, AppError> {
    let callback_url = match editing {
        Some(d) => d.callback_url.clone(),
        None => callback_url(&ops::alias_url(state).await?),
    };
    let template = match editing {
        Some(_) => None,
        None => catalogue::find(v.get("template")).map(|t| (t, t.setup_steps(&callback_url))),
    };
    Ok(FormPage {
        layout: Layout::new(req, Some(&admin.0), "services"),
        editing: editing.map(|d| d.service.link_name.clone()),
        v,
        errors,
        callback_url,
        secret_set: editing.is_some_and(|d| d.service.client_secret_set),
        connection_count: editing.map_or(0, |d| d.connection_count),
        return_to: return_to.filter(|r| local_path(Some(r)) != "/"),
        confirm: None,
        template,
    })
}

pub async fn new_service(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let values = match query.template.as_deref().filter(|id| !id.is_empty()) {
        None => FormValues::new_service(),
        Some(id) => {
            let template = catalogue::find(id).ok_or(AppError::NotFound)?;
            let mut values = FormValues::from(&template.input());
            values.set("template", template.id.clone());
            values
        }
    };
    let page = form_page(&req, &admin, &state, None, values, FieldErrors::new(), query.return_to).await?;
    render(&req, &page)
}

/// Re-renders the form after a no-JS row button, or with the errors of an invalid submission (422).
async fn redisplay(
    req: &HttpRequest,
    admin: &Admin,
    state: &AppState,
    editing: Option<&ServiceDetails>,
    posted: Posted,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = form_page(req, admin, state, editing, posted.values, errors, posted.return_to).await?;
    render_status(req, status, &page)
}

/// Validates and stores a submitted form; `None` for a new service.
async fn save(
    state: &AppState,
    admin: &Admin,
    editing: Option<&str>,
    posted: &Posted,
) -> Result<crate::models::service::Service, AppError> {
    let input = posted.values.to_input(&posted.client_secret);
    match editing {
        None => ops::create(state, admin.user(), input).await,
        Some(link) => {
            ops::update(state, admin.user(), link, input, UpdateMode::Replace, posted.confirmed).await
        }
    }
}

pub async fn create_service(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let mut posted = FormValues::from_pairs(&form.form);
    if let Some(edit) = &posted.row_edit {
        posted.values.edit_rows(edit);
        return redisplay(&req, &admin, &state, None, posted, FieldErrors::new()).await;
    }
    posted.values.drop_blank_rows();
    if posted.values.get("link_name").trim().is_empty() {
        let suggested = crate::domain::validate::suggest_link_name(posted.values.get("name"));
        posted.values.set("link_name", suggested);
    }
    match save(&state, &admin, None, &posted).await {
        Ok(service) => {
            let to = match posted.return_to.as_deref().map(|r| local_path(Some(r))) {
                Some(path) if path != "/" => format!(
                    "{path}{}service={}",
                    if path.contains('?') { "&" } else { "?" },
                    service.link_name
                ),
                _ => format!("/admin/services/{}", service.link_name),
            };
            Ok(see_other(&to, Some(&format!("Service “{}” created.", service.name))))
        }
        Err(AppError::Invalid(errors)) => redisplay(&req, &admin, &state, None, posted, errors).await,
        Err(e) => Err(e),
    }
}

pub async fn edit_service(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let d = ops::details(&state, &link).await?;
    let values = FormValues::from(&ServiceInput::from(&d.service));
    let page = form_page(&req, &admin, &state, Some(&d), values, FieldErrors::new(), None).await?;
    render(&req, &page)
}

pub async fn update_service(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let d = ops::details(&state, &link).await?;
    let mut posted = FormValues::from_pairs(&form.form);
    posted.values.set("link_name", d.service.link_name.clone());
    if let Some(edit) = &posted.row_edit {
        posted.values.edit_rows(edit);
        return redisplay(&req, &admin, &state, Some(&d), posted, FieldErrors::new()).await;
    }
    posted.values.drop_blank_rows();
    match save(&state, &admin, Some(&d.service.link_name), &posted).await {
        Ok(service) => Ok(see_other(
            &format!("/admin/services/{}", service.link_name),
            Some(&format!("Service “{}” saved.", service.name)),
        )),
        Err(AppError::Invalid(errors)) => redisplay(&req, &admin, &state, Some(&d), posted, errors).await,
        Err(AppError::ConfirmationRequired { message, affected }) => {
            let secret_posted = !posted.client_secret.trim().is_empty();
            let mut page = form_page(
                &req,
                &admin,
                &state,
                Some(&d),
                posted.values,
                FieldErrors::new(),
                posted.return_to,
            )
            .await?;
            page.confirm = Some(Confirm { message, affected, secret_posted });
            render_status(&req, StatusCode::CONFLICT, &page)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "services/delete.html", blocks = ["dialog"])]
struct DeletePage {
    layout: Layout,
    d: ServiceDetails,
    connections: Vec<ConnectionListRow>,
}

/// The confirmation (a page, or a dialog for htmx), or the refusal listing the connections in the way.
pub async fn confirm_delete_service(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let d = ops::details(&state, &link).await?;
    let (connections, _) = connections_of(&state, d.service.id).await?;
    let page = DeletePage { layout: Layout::new(&req, Some(&admin.0), "services"), d, connections };
    if wants_fragment(&req, "dialog-slot") {
        return render(&req, &page.as_dialog());
    }
    render(&req, &page)
}

pub async fn delete_service(
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let d = ops::details(&state, &link).await?;
    ops::delete(&state, admin.user(), &link).await?;
    Ok(see_other("/admin/services", Some(&format!("Service “{}” deleted.", d.service.name))))
}

#[derive(Template)]
#[template(path = "services/row.html")]
struct RowFragment {
    kind: String,
}

impl RowFragment {
    fn no_error(&self) -> Option<String> {
        None
    }

    fn no_errors(&self) -> Vec<Option<String>> {
        vec![None; 6]
    }

    fn blank_capture(&self) -> Vec<String> {
        crate::web::service_form::blank_row("captures")
    }
}

/// One empty row for the "+" buttons (htmx appends it to the list).
pub async fn new_row(
    _admin: Admin,
    req: HttpRequest,
    kind: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let kind = kind.into_inner();
    if !matches!(kind.as_str(), "params" | "extra" | "scopes" | "vars" | "captures") {
        return Err(AppError::NotFound);
    }
    render(&req, &RowFragment { kind })
}
