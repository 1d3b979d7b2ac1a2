//! Bulk actions on services from the Custom Services list (delete, export the picked ones), and the
//! emergency revoke of every connection of a service from its page. The confirmation and outcome
//! pages are the connections' (`web::bulk`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::guard::Admin;
use crate::error::AppError;
use crate::lists::services as listed;
use crate::models::connection as connections;
use crate::models::service::ServiceRow;
use crate::ops::bulk::{self, MAX_ITEMS};
use crate::state::AppState;
use crate::web::bulk::{ConfirmPage, Item, OutcomePage, Sent, refused};
use crate::web::{Layout, render_status};

/// The services a list's bulk form picked, whole, in the list's order.
async fn picked(state: &AppState, sent: &Sent) -> Result<Vec<ServiceRow>, AppError> {
    if sent.scope() == "filter" {
        let q = sent.params().service_query();
        let found = state.db.read(move |c| Ok(listed::matching(c, &q, MAX_ITEMS as i64 + 1)?)).await?;
        if found.len() > MAX_ITEMS {
            return Err(AppError::BadRequest(format!(
                "More than {MAX_ITEMS} services match: narrow the filter, or act in several steps."
            )));
        }
        return Ok(found);
    }
    let links = sent.picked_rows();
    let lookup = links.clone();
    let found = state.db.read(move |c| Ok(listed::named(c, &lookup)?)).await?;
    Ok(links.iter().filter_map(|l| found.iter().find(|r| r.link_name == *l).cloned()).collect())
}

/// A definitions file as a download.
pub fn download(doc: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("content-disposition", "attachment; filename=\"services.json\""))
        .insert_header(("cache-control", "no-store"))
        .body(doc)
}

fn delete_page(req: &HttpRequest, admin: &Admin, items: Vec<Item>, back: String) -> ConfirmPage {
    let many = if items.len() == 1 { "1 service".to_owned() } else { format!("{} services", items.len()) };
    ConfirmPage {
        layout: Layout::new(req, Some(&admin.0), "services"),
        heading: format!("Delete {many}?"),
        explanation:
            "Each service that no connection uses is deleted with its settings and its stored client \
                      secret. A service that connections use is kept, and the outcome says so. This cannot \
                      be undone."
                .into(),
        items,
        post_to: "/admin/services/bulk/run".into(),
        action: "delete",
        button: format!("Delete {many}"),
        back,
        transfer: None,
        carries_links: true,
        error: None,
    }
}

/// The list's bulk form: a download of the picked services, or the confirmation of their deletion.
pub async fn confirm_services(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let sent = Sent(form.form);
    if !matches!(sent.one("action"), Some("export" | "delete")) {
        return Err(AppError::BadRequest("Choose export or delete.".into()));
    }
    let back = sent.back("/admin/services");
    let rows = match picked(&state, &sent).await {
        Ok(rows) => rows,
        Err(AppError::BadRequest(why)) => {
            return refused(&req, delete_page(&req, &admin, Vec::new(), back), why);
        }
        Err(e) => return Err(e),
    };
    if rows.is_empty() {
        let why = "Nothing is selected: tick the services to act on, or “all matching”.".to_owned();
        return refused(&req, delete_page(&req, &admin, Vec::new(), back), why);
    }
    if sent.one("action") == Some("export") {
        let links: Vec<String> = rows.iter().map(|r| r.link_name.clone()).collect();
        let (doc, _) = state.db.read(move |c| crate::ops::service_io::export(c, Some(&links))).await?;
        return Ok(download(doc));
    }
    let items = rows
        .into_iter()
        .map(|r| Item {
            note: (r.connection_count > 0).then(|| match r.connection_count {
                1 => "used by 1 connection: it stays".to_owned(),
                n => format!("used by {n} connections: it stays"),
            }),
            link_name: r.link_name,
            name: r.name,
        })
        .collect();
    render_status(&req, StatusCode::OK, &delete_page(&req, &admin, items, back))
}

/// The confirmed deletion, on exactly the services the confirmation named.
pub async fn run_services(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let sent = Sent(form.form);
    let links = sent.all("link");
    if links.is_empty() || links.len() > MAX_ITEMS {
        return Err(AppError::BadRequest("The confirmation names no service, or too many.".into()));
    }
    let outcome = bulk::delete_services(&state, admin.user(), links).await?;
    let heading = match outcome.items.len() {
        1 => "Delete 1 service".to_owned(),
        n => format!("Delete {n} services"),
    };
    let page = OutcomePage::new(
        Layout::new(&req, Some(&admin.0), "services"),
        heading,
        outcome,
        sent.back("/admin/services"),
    );
    render_status(&req, StatusCode::OK, &page)
}

/// "Revoke every connection": the confirmation, with how many and which.
pub async fn confirm_revoke_all(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let service = crate::ops::services::load(&state, &link).await?;
    let id = service.id;
    let found = state.db.read(move |c| Ok(connections::names_for_service(c, id)?)).await?;
    let items: Vec<Item> =
        found.into_iter().map(|(link_name, name)| Item { link_name, name, note: None }).collect();
    let many =
        if items.len() == 1 { "1 connection".to_owned() } else { format!("{} connections", items.len()) };
    let page = ConfirmPage {
        layout: Layout::new(&req, Some(&admin.0), "services"),
        heading: format!("Revoke every connection of “{}”: {many}?", service.name),
        explanation: "For an emergency, such as leaked credentials. Each connection's tokens are revoked at \
                      the provider when the service has a revoke URL, and every stored credential is \
                      deleted whatever the provider answers: they all become Disconnected, and scripts \
                      using them stop working until their owners connect them again. Connections created \
                      after this page was shown are revoked too."
            .into(),
        items,
        post_to: format!("/admin/services/{}/revoke-all", service.link_name),
        action: "revoke",
        button: format!("Revoke {many}"),
        back: format!("/admin/services/{}", service.link_name),
        transfer: None,
        carries_links: false,
        error: None,
    };
    if page.items.is_empty() {
        return refused(&req, page, "No connection uses this service: there is nothing to revoke.".into());
    }
    render_status(&req, StatusCode::OK, &page)
}

/// The emergency revoke itself.
pub async fn revoke_all(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    link: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let outcome = bulk::revoke_all(&state, admin.user(), &link).await?;
    let heading = match outcome.items.len() {
        1 => "Revoke 1 connection".to_owned(),
        n => format!("Revoke {n} connections"),
    };
    let back = format!("/admin/services/{link}");
    let page = OutcomePage::new(Layout::new(&req, Some(&admin.0), "services"), heading, outcome, back);
    render_status(&req, StatusCode::OK, &page)
}
