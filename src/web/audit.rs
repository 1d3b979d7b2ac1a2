//! Admin > Audit Log: the filtered list, newest first in cursor pages (an htmx request for the
//! results gets only them), and its exports as CSV and JSON. Read-only: no route here changes an
//! entry.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::guard::Admin;
use crate::error::AppError;
use crate::models::audit::AuditEntry;
use crate::ops::audit::export::{Export, Format};
use crate::ops::audit::{ACTIONS, AuditPage, AuditParams, OBJECT_TYPES};
use crate::state::AppState;
use crate::web::list_params::PER_PAGE_CHOICES;
use crate::web::{Layout, render_status, wants_fragment};

pub const PATH: &str = "/admin/audit";

#[derive(Template)]
#[template(path = "audit/list.html", blocks = ["results"], whitespace = "minimize")]
struct ListPage {
    layout: Layout,
    params: AuditParams,
    page: AuditPage,
    /// Why the URL's filters could not be used.
    error: Option<String>,
    limit: i64,
}

impl ListPage {
    fn newer_url(&self) -> Option<String> {
        self.page.newer.as_deref().map(|c| self.params.url(PATH, Some(c)))
    }

    fn older_url(&self) -> Option<String> {
        self.page.older.as_deref().map(|c| self.params.url(PATH, Some(c)))
    }

    fn export_url(&self, format: &str) -> String {
        let mut filters = self.params.clone();
        filters.limit.clear();
        filters.url(&format!("{PATH}/export.{format}"), None)
    }

    /// The page of an entry's object, where it has one.
    fn object_href(&self, e: &AuditEntry) -> Option<String> {
        let link = |base: &str| format!("{base}/{}", percent(&e.target));
        match e.target_type.as_str() {
            "service" if !e.target.is_empty() => Some(link("/admin/services")),
            "connection" if !e.target.is_empty() => Some(link("/admin/connections")),
            "webhook" => Some(link("/admin/settings/notifications")),
            "api_token" => Some("/admin/tokens".to_owned()),
            "settings" if e.target == "smtp" => Some("/admin/settings/notifications".to_owned()),
            "settings" => Some("/admin/settings/portal".to_owned()),
            _ => None,
        }
    }

    /// This list filtered to the entry's actor.
    fn actor_url(&self, e: &AuditEntry) -> String {
        filtered_to(&[("actor", &e.actor)])
    }

    /// This list filtered to the entry's object: its history.
    fn history_url(&self, e: &AuditEntry) -> String {
        filtered_to(&[("object_type", &e.target_type), ("object", &e.target)])
    }

    fn type_label(&self, t: &str) -> &'static str {
        OBJECT_TYPES.iter().find(|(known, _)| *known == t).map_or("Other", |(_, label)| label)
    }

    fn summary(&self, e: &AuditEntry) -> String {
        crate::ops::audit::summary(&e.details)
    }

    /// The badge colour of an action: failures and removals stand out.
    fn action_class(&self, action: &str) -> &'static str {
        match action.rsplit('.').next().unwrap_or_default() {
            "sign_in_failed" | "locked" | "delete" | "revoke" | "revoke_all" | "disable" | "retire" => {
                "badge-red"
            }
            "create" | "sign_in" | "connect" | "enable" => "badge-green",
            "update"
            | "authorize"
            | "password"
            | "rotate"
            | "rewrap"
            | "transfer"
            | "transfer_connections" => "badge-blue",
            _ => "badge-grey",
        }
    }
}

fn filtered_to(pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(pairs);
    format!("{PATH}?{}", query.finish())
}

/// A path segment: everything but the unreserved characters (RFC 3986) percent-encoded.
fn percent(segment: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

pub async fn list_audit(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<AuditParams>,
) -> Result<HttpResponse, AppError> {
    let params = query.into_inner();
    let empty = AuditPage { rows: Vec::new(), newer: None, older: None };
    let (page, error, limit, status) = match params.query() {
        Ok(q) => {
            let limit = q.limit;
            (crate::ops::audit::page(&state, q).await?, None, limit, StatusCode::OK)
        }
        Err(AppError::BadRequest(message)) => {
            (empty, Some(message), crate::ops::audit::DEFAULT_LIMIT, StatusCode::BAD_REQUEST)
        }
        Err(e) => return Err(e),
    };
    let page = ListPage { layout: Layout::new(&req, Some(&admin.0), "audit"), params, page, error, limit };
    if wants_fragment(&req, "audit-results") {
        return render_status(&req, status, &page.as_results());
    }
    render_status(&req, status, &page)
}

async fn export(
    state: web::Data<AppState>,
    params: AuditParams,
    format: Format,
) -> Result<HttpResponse, AppError> {
    let filter = params.query()?.filter;
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "audit-log.csv"),
        Format::Json => ("application/json", "audit-log.json"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .insert_header((CACHE_CONTROL, "no-store"))
        .streaming(Export::new(state, filter, format)))
}

pub async fn export_csv(
    _: Admin,
    state: web::Data<AppState>,
    query: web::Query<AuditParams>,
) -> Result<HttpResponse, AppError> {
    export(state, query.into_inner(), Format::Csv).await
}

pub async fn export_json(
    _: Admin,
    state: web::Data<AppState>,
    query: web::Query<AuditParams>,
) -> Result<HttpResponse, AppError> {
    export(state, query.into_inner(), Format::Json).await
}

/// For the template: the actions and object types the filters offer, and the page sizes.
impl ListPage {
    fn actions(&self) -> &'static [&'static str] {
        &ACTIONS
    }

    fn object_types(&self) -> &'static [(&'static str, &'static str)] {
        &OBJECT_TYPES
    }

    fn limits(&self) -> &'static [i64] {
        &PER_PAGE_CHOICES
    }
}
