//! The Connections console: Admin > Developer Space > Connections, with its two panes.

use actix_web::HttpResponse;

use crate::auth::guard::Admin;
use crate::web::see_other;

pub async fn home(_admin: Admin) -> HttpResponse {
    see_other("/admin/connections", None)
}
