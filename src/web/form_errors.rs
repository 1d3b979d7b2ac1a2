//! Error look-ups for forms: a field's messages, and a row cell's.

use crate::error::FieldErrors;

/// The messages for one field, joined, if it has any.
pub fn field_error(errors: &FieldErrors, field: &str) -> Option<String> {
    errors.get(field).map(|m| m.join(" "))
}

/// The messages for one cell of a row list (`api_key.params`, 2, `name` → `api_key.params.2.name`).
pub fn row_error(errors: &FieldErrors, list: &str, index: usize, field: &str) -> Option<String> {
    field_error(errors, &format!("{list}.{index}.{field}"))
}
