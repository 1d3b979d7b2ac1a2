//! The JSON API under `/api/v1` (Bearer tokens of SDAdmins) and the health probes.

pub mod bulk;
pub mod connections;
pub mod health;
pub mod me;
pub mod metrics;
pub mod openapi;
pub mod proxy;
pub mod services;
pub mod templates;
pub mod tokens;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

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
        match &err {
            E::Overflow { .. } | E::OverflowKnownLength { .. } => AppError::TooLarge.into(),
            E::Payload(e) if crate::body_deadline::cut_off(e) => AppError::BodyTimeout.into(),
            E::Deserialize(e) => not_valid(e).into(),
            E::ContentType => body_invalid("Send the body as application/json.".to_owned()).into(),
            _ => body_invalid("The JSON body could not be read.".to_owned()).into(),
        }
    })
}

/// Query strings (API and pages): one that does not parse is a 400 that names the reason.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let reason = match &err {
            actix_web::error::QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        AppError::BadRequest(format!("The query string could not be read: {reason}.")).into()
    })
}

fn body_invalid(message: String) -> AppError {
    AppError::Invalid(crate::error::FieldErrors::from([("body".to_owned(), vec![message])]))
}

fn not_valid(e: &serde_json::Error) -> AppError {
    body_invalid(format!("The JSON body is not valid: {}.", crate::domain::validate::without_values(e)))
}

/// A JSON body of type `T` (read as `json_config` says) whose strings passed `input::check_json`.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let raw = web::Json::<Box<RawValue>>::from_request(req, payload);
        Box::pin(async move {
            let raw = raw.await?.into_inner();
            crate::input::check_json(raw.get())?;
            Ok(Json(serde_json::from_str(raw.get()).map_err(|e| not_valid(&e))?))
        })
    }
}
