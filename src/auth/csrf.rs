//! CSRF protection for the browser app: a synchronizer token kept in the session, sent back in a hidden
//! `csrf_token` field or the `X-CSRF-Token` header (htmx). `CsrfForm<T>` checks it and then parses the
//! form, so naming it in a handler is what protects that handler. `security::check_origin` adds an
//! Origin / Sec-Fetch-Site check in front of every state-changing request.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::auth::session::{self, SignedIn};
use crate::auth::token::same_token;
use crate::error::AppError;

pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A form body of type `T` whose CSRF token matched the session's. Also carries who sent it.
pub struct CsrfForm<T> {
    pub form: T,
    pub by: SignedIn,
}

/// Forms with no fields of their own (sign-out, delete).
#[derive(serde::Deserialize)]
pub struct NoFields {}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = Bytes::from_request(&req, payload);
        Box::pin(async move {
            let by = session::load(&req).await?;
            let body = body.await.map_err(|e| match e.as_response_error().status_code() {
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
                _ => AppError::BadRequest("The form could not be read.".into()),
            })?;
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).map_err(|_| AppError::BadRequest("The form could not be read.".into()))?;
            let from_field = pairs.iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.as_str());
            let from_header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            let sent = from_field.or(from_header).unwrap_or("");
            if !same_token(sent, by.csrf()) {
                return Err(AppError::Csrf);
            }
            let form =
                serde_urlencoded::from_bytes(&body).map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}.")))?;
            Ok(CsrfForm { form, by })
        })
    }
}
