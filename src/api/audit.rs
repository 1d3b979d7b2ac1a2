//! `GET /api/v1/audit`: the audit log, filtered and paged newest first like Admin > Audit Log. The
//! answer's `next_cursor` continues the list; a bad cursor, date or filter is a 400. There is no
//! way to change or delete an entry.

use actix_web::{HttpResponse, web};

use crate::auth::guard::ApiAdmin;
use crate::error::AppError;
use crate::ops::audit::{self as ops, AuditParams};
use crate::state::AppState;

pub async fn list_audit(
    _: ApiAdmin,
    state: web::Data<AppState>,
    query: web::Query<AuditParams>,
) -> Result<HttpResponse, AppError> {
    let page = ops::page(&state, query.into_inner().query()?).await?;
    let items: Vec<serde_json::Value> = page.rows.iter().map(ops::entry_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items, "next_cursor": page.older })))
}
