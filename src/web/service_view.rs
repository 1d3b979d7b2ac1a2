//! What the service pages show: list rows with their connection counts, and error look-ups for forms.

use crate::app::AppState;
use crate::clock::format_time;
use crate::domain::service::AuthType;
use crate::error::{AppError, FieldErrors};
use crate::models::service;
use crate::web::list::ListParams;

/// One row of the Custom Services list.
pub struct ServiceItem {
    pub link_name: String,
    pub name: String,
    pub auth_type: AuthType,
    pub connection_count: i64,
    pub updated_at: String,
    pub updated_by: String,
}

/// One page of the list and the number of matches.
pub async fn page(state: &AppState, params: &ListParams) -> Result<(Vec<ServiceItem>, i64), AppError> {
    let (query, cache) = (params.query(), state.cache.clone());
    state
        .db
        .read(move |c| {
            let (rows, total) = service::list_brief(c, &query, cache.as_deref())?;
            let items = rows
                .into_iter()
                .map(|r| ServiceItem {
                    auth_type: AuthType::parse(&r.auth_type).unwrap_or(AuthType::ApiKey),
                    connection_count: r.connection_count,
                    updated_at: format_time(r.updated_at),
                    updated_by: r.updated_by,
                    link_name: r.link_name,
                    name: r.name,
                })
                .collect();
            Ok((items, total))
        })
        .await
}

/// The messages for one field, joined, if it has any.
pub fn field_error(errors: &FieldErrors, field: &str) -> Option<String> {
    errors.get(field).map(|m| m.join(" "))
}

/// The messages for one cell of a row list (`api_key.params`, 2, `name` → `api_key.params.2.name`).
pub fn row_error(errors: &FieldErrors, list: &str, index: usize, field: &str) -> Option<String> {
    field_error(errors, &format!("{list}.{index}.{field}"))
}
