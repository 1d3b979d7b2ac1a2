//! The Connections console: Admin > Developer Space > Connections, with its two panes.

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::guard::Admin;
use crate::error::AppError;
use crate::web::{Layout, render, see_other};

#[derive(Template)]
#[template(path = "console/connections.html")]
struct ConnectionsPage {
    layout: Layout,
}

pub async fn home(_admin: Admin) -> HttpResponse {
    see_other("/admin/connections", None)
}

pub async fn list_connections(req: HttpRequest, admin: Admin) -> Result<HttpResponse, AppError> {
    render(&req, &ConnectionsPage { layout: Layout::new(&req, Some(&admin.0), "connections") })
}
