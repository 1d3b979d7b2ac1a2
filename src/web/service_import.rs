//! Export and import of service definitions from the Custom Services list. The export is a
//! download (`/admin/services/export.json`, every service or `?link=` ones). The import is an
//! upload, then a preview that lists each service and what stops it, then the import itself,
//! all or nothing (`ops::service_io`). The preview's form carries the file's text back, so nothing
//! of an upload is kept between the two steps.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::csrf::CsrfUpload;
use crate::auth::guard::Admin;
use crate::error::AppError;
use crate::ops::service_io::{self, Importer, Plan, Refused};
use crate::state::AppState;
use crate::web::service_bulk::download;
use crate::web::{Layout, render_status, see_other};

/// `?link=a&link=b`: those services; none: every service.
pub async fn export_services(
    _: Admin,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let links: Vec<String> =
        query.into_inner().into_iter().filter(|(k, _)| k == "link").map(|(_, v)| v).collect();
    let (doc, _) = state
        .db
        .read(move |c| service_io::export(c, (!links.is_empty()).then_some(links.as_slice())))
        .await?;
    Ok(download(doc))
}

#[derive(Template)]
#[template(path = "services/import.html")]
struct ImportPage {
    layout: Layout,
    /// The file's text, carried by the preview's form to the import.
    document: String,
    plan: Option<Plan>,
    /// Why the file as a whole cannot be imported.
    error: Option<String>,
}

impl ImportPage {
    /// A preview with nothing that stops the import: the page offers it instead of another upload.
    fn ready(&self) -> bool {
        self.plan.as_ref().is_some_and(Plan::is_clean)
    }
}

fn page(
    req: &HttpRequest,
    admin: &Admin,
    document: String,
    plan: Option<Plan>,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let bad = error.is_some() || plan.as_ref().is_some_and(|p| !p.is_clean());
    let status = if bad { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let layout = Layout::new(req, Some(&admin.0), "services");
    let mut res = render_status(req, status, &ImportPage { layout, document, plan, error })?;
    res.headers_mut()
        .insert(actix_web::http::header::CACHE_CONTROL, "no-store".parse().expect("a header value"));
    Ok(res)
}

pub async fn show_import(req: HttpRequest, admin: Admin) -> Result<HttpResponse, AppError> {
    page(&req, &admin, String::new(), None, None)
}

/// Every message of a refused file, as one sentence.
fn said(e: AppError) -> Result<String, AppError> {
    match e {
        AppError::Invalid(fields) => Ok(fields.into_values().flatten().collect::<Vec<_>>().join(" ")),
        other => Err(other),
    }
}

/// The upload (`file`, or the text pasted as `document`): its preview, or with `step=import` the
/// import itself.
pub async fn import_services(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    upload: CsrfUpload,
) -> Result<HttpResponse, AppError> {
    let file = upload.parts.iter().find(|p| p.name == "file" && !p.value.is_empty());
    let raw = match file {
        Some(part) => match String::from_utf8(part.value.clone()) {
            Ok(text) => text,
            Err(_) => {
                return page(&req, &admin, String::new(), None, Some("The file is not UTF-8 text.".into()));
            }
        },
        None => upload.text("document").to_owned(),
    };
    if raw.trim().is_empty() {
        return page(&req, &admin, String::new(), None, Some("Choose a services file to import.".into()));
    }
    let allow_http = state.config.outbound_allow_http;
    if upload.text("step") != "import" {
        let text = raw.clone();
        return match state.db.read(move |c| service_io::plan(c, &text, allow_http)).await {
            Ok(plan) => page(&req, &admin, raw, Some(plan), None),
            Err(e) => page(&req, &admin, String::new(), None, Some(said(e)?)),
        };
    }
    let (user, now, text) = (admin.user().clone(), state.clock.now(), raw.clone());
    let imported = state
        .db
        .run(move |c| {
            let by = Importer { actor_id: Some(user.id), actor: &user.username };
            Ok(service_io::import(c, &text, allow_http, &by, now))
        })
        .await?;
    match imported {
        Ok(created) => {
            let pending = created.iter().filter(|s| s.client_secret_pending).count();
            let mut message = match created.len() {
                1 => "Imported 1 service.".to_owned(),
                n => format!("Imported {n} services."),
            };
            if pending > 0 {
                message += &format!(" {pending} of them need their client secret: open each to enter it.");
            }
            Ok(see_other("/admin/services", Some(&message)))
        }
        Err(Refused::Services(plan)) => page(&req, &admin, raw, Some(plan), None),
        Err(Refused::Error(e)) => page(&req, &admin, String::new(), None, Some(said(e)?)),
    }
}
