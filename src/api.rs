//! The JSON API under `/api/v1` (Bearer tokens of SDAdmins) and the health probes.

pub mod health;
pub mod me;
pub mod services;

use actix_web::web;

use crate::error::AppError;

/// JSON bodies: 256 KiB at most; a body that does not parse is a 422 with serde's reason, which names
/// the field and the expected type but never echoes the value.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(256 * 1024).error_handler(|err, _req| {
        let message = match &err {
            actix_web::error::JsonPayloadError::Deserialize(e) => {
                format!("The JSON body is not valid: {e}.")
            }
            actix_web::error::JsonPayloadError::ContentType => "Send the body as application/json.".to_owned(),
            actix_web::error::JsonPayloadError::Overflow { .. } | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                "The JSON body is too large.".to_owned()
            }
            _ => "The JSON body could not be read.".to_owned(),
        };
        let mut fields = crate::error::FieldErrors::new();
        fields.entry("body".to_owned()).or_default().push(message);
        AppError::Invalid(fields).into()
    })
}
