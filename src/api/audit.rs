//! `GET /api/v1/audit`: the audit log, filtered and paged newest first like Admin > Audit Log. The
//! answer's `next_cursor` continues the list; a bad cursor, date or filter is a 400. There is no
//! way to change or delete an entry.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::guard::ApiAdmin;
use crate::error::AppError;
use crate::ops::audit::{self as ops, AuditParams};
use crate::state::AppState;

/// The query as sent. Unlike the page's form, which sends every field, a parameter given here must
/// say something: an empty one is refused rather than taken for "any", as in the other lists.
#[derive(Deserialize)]
pub struct ListQuery {
    actor: Option<String>,
    action: Option<String>,
    object_type: Option<String>,
    object: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

impl ListQuery {
    fn params(self) -> Result<AuditParams, AppError> {
        let fields = [
            ("actor", self.actor),
            ("action", self.action),
            ("object_type", self.object_type),
            ("object", self.object),
            ("from", self.from),
            ("to", self.to),
            ("cursor", self.cursor),
            ("limit", self.limit),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, v)| v.as_deref() == Some("")) {
            return Err(AppError::BadRequest(format!("`{name}` is empty: leave it out to take any.")));
        }
        let [actor, action, object_type, object, from, to, cursor, limit] =
            fields.map(|(_, v)| v.unwrap_or_default());
        Ok(AuditParams { actor, action, object_type, object, from, to, cursor, limit })
    }
}

pub async fn list_audit(
    _: ApiAdmin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let page = ops::page(&state, query.into_inner().params()?.query()?).await?;
    let items: Vec<serde_json::Value> = page.rows.iter().map(ops::entry_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items, "next_cursor": page.older })))
}
