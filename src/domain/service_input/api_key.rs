//! The API Key section of a service's input: the parameter type and the parameters, each checked
//! as the place it goes requires (a header name for headers), unique, with its label and prefix.

use std::collections::HashSet;

use super::{ApiKeyInput, MAX_ROWS};
use crate::domain::service::{ApiKeyConfig, ApiKeyParam, ParamType};
use crate::domain::validate::{self, push};
use crate::error::FieldErrors;

pub(super) fn api_key(errors: &mut FieldErrors, raw: Option<&ApiKeyInput>) -> Option<ApiKeyConfig> {
    let empty = ApiKeyInput::default();
    let raw = raw.unwrap_or(&empty);
    let param_type = match raw.param_type.as_deref().map(str::trim).unwrap_or("header") {
        "" => Some(ParamType::Header),
        other => ParamType::parse(other).or_else(|| {
            push(errors, "api_key.param_type", "Choose Query string, Form data or Header.");
            None
        }),
    };
    let rows = raw.params.as_deref().unwrap_or(&[]);
    if rows.is_empty() {
        push(errors, "api_key.params", "Add at least one parameter.");
    }
    if rows.len() > MAX_ROWS {
        push(errors, "api_key.params", format!("Use at most {MAX_ROWS} parameters."));
    }
    let mut seen = HashSet::new();
    let mut params = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let checked = match param_type {
            Some(ParamType::Header) => validate::credential_header_name(&row.name),
            _ => validate::param_name(&row.name),
        };
        let name = checked.map_err(|e| push(errors, format!("api_key.params.{i}.name"), e)).ok();
        let display = validate::display_name(&row.display_name, 100)
            .map_err(|_| {
                push(
                    errors,
                    format!("api_key.params.{i}.display_name"),
                    "Enter the label shown when connecting.",
                )
            })
            .ok();
        if let Some(n) = &name
            && !seen.insert(n.to_ascii_lowercase())
        {
            push(errors, format!("api_key.params.{i}.name"), "This parameter is already listed.");
        }
        let value_prefix = validate::value_prefix(&row.value_prefix)
            .map_err(|e| push(errors, format!("api_key.params.{i}.value_prefix"), e))
            .ok();
        if let (Some(name), Some(display_name), Some(value_prefix)) = (name, display, value_prefix) {
            params.push(ApiKeyParam { name, display_name, value_prefix });
        }
    }
    Some(ApiKeyConfig { param_type: param_type?, params })
}
