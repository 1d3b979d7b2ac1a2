//! The JSON API under `/api/v1` (Bearer tokens of SDAdmins) and the health probes.

pub mod connections;
pub mod health;
pub mod me;
pub mod openapi;
mod service_rules;
pub mod services;

use actix_web::web;

use crate::error::AppError;

/// A list's `search`: at most 200 characters, none of them a control character (no name holds one,
/// and a NUL byte is an error in either database), as the document's pattern says.
fn check_search(errors: &mut crate::error::FieldErrors, search: &str) {
    if search.chars().count() > 200 {
        crate::domain::validate::push(errors, "search", "Use at most 200 characters.");
    }
    if search.chars().any(char::is_control) {
        crate::domain::validate::push(errors, "search", "Remove control characters.");
    }
}

/// JSON bodies: 256 KiB at most (more is a 413); a body that does not parse is a 422 with serde's
/// reason and position, without the value it saw.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(256 * 1024).error_handler(|err, _req| {
        use actix_web::error::JsonPayloadError as E;
        let message = match &err {
            E::Overflow { .. } | E::OverflowKnownLength { .. } => return AppError::TooLarge.into(),
            E::Deserialize(e) => format!("The JSON body is not valid: {}.", without_values(e)),
            E::ContentType => "Send the body as application/json.".to_owned(),
            _ => "The JSON body could not be read.".to_owned(),
        };
        let mut fields = crate::error::FieldErrors::new();
        fields.entry("body".to_owned()).or_default().push(message);
        AppError::Invalid(fields).into()
    })
}

/// serde's reason with the offending value reduced to its kind: `invalid type: string "hunter2",
/// expected …` becomes `invalid type: string, expected …` (the value may be a secret in the wrong place).
fn without_values(e: &serde_json::Error) -> String {
    let reason = e.to_string();
    for prefix in ["invalid type:", "invalid value:", "unknown variant"] {
        // Split at the last ", expected ": what follows describes our type, whatever the value holds.
        if let Some(rest) = reason.strip_prefix(prefix)
            && let Some((seen, expected)) = rest.rsplit_once(", expected ")
        {
            let kind = seen.trim_start().split([' ', '`', '"']).next().unwrap_or_default();
            let sep = if kind.is_empty() { "" } else { " " };
            return format!("{prefix}{sep}{kind}, expected {expected}");
        }
    }
    reason
}
