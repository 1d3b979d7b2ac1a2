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

use crate::auth::guard::SDADMIN_REQUIRED;
use crate::auth::session::{self, SignedIn};
use crate::error::AppError;
use crate::input::multipart;
use crate::models::user::Role;
use crate::random::same_token;

pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An SDAdmin's form body of type `T` whose CSRF token matched the session's. The checks run in a
/// fixed order — session, role, token, then the fields — so a technician always gets the 403 and
/// never a message about the form.
pub struct CsrfForm<T> {
    pub form: T,
    pub by: SignedIn,
}

/// An SDAdmin's `multipart/form-data` form (a file upload) whose CSRF token matched the session's:
/// its parts, checked in the same order as `CsrfForm` (session, role, token, then the fields).
pub struct CsrfUpload {
    pub parts: Vec<multipart::Part>,
    pub by: SignedIn,
}

impl CsrfUpload {
    /// A text part's value ("" when absent or not text).
    pub fn text(&self, name: &str) -> &str {
        let part = self.parts.iter().find(|p| p.name == name);
        part.and_then(|p| std::str::from_utf8(&p.value).ok()).unwrap_or_default()
    }
}

impl FromRequest for CsrfUpload {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = Bytes::from_request(&req, payload);
        Box::pin(async move {
            let by = session::load(&req).await?;
            if by.user.role() != Role::SdAdmin {
                return Err(AppError::Forbidden(SDADMIN_REQUIRED.to_owned()));
            }
            let body = body.await.map_err(crate::body_deadline::body_error)?;
            let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            let parts = multipart::parts(content_type, &body);
            let from_part = parts.as_ref().ok().and_then(|parts| {
                let token = parts.iter().find(|p| p.name == CSRF_FIELD)?;
                std::str::from_utf8(&token.value).ok()
            });
            let from_header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !same_token(from_part.or(from_header).unwrap_or(""), by.csrf()) {
                return Err(AppError::Csrf);
            }
            let parts =
                parts.map_err(|why| AppError::BadRequest(format!("The form could not be read: {why}.")))?;
            Ok(CsrfUpload { parts, by })
        })
    }
}

/// Sign-out's form: any signed-in user, CSRF token checked, no fields.
pub struct SignOutForm(pub SignedIn);

/// Forms with no fields of their own (delete, revoke).
#[derive(serde::Deserialize)]
pub struct NoFields {}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = Bytes::from_request(&req, payload);
        Box::pin(async move {
            let (by, body) = checked(&req, body, true).await?;
            let form = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}.")))?;
            Ok(CsrfForm { form, by })
        })
    }
}

impl FromRequest for SignOutForm {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = Bytes::from_request(&req, payload);
        Box::pin(async move { Ok(SignOutForm(checked(&req, body, false).await?.0)) })
    }
}

/// Loads the session, checks the role when asked, reads the body and checks its CSRF token, then its
/// text (`input::check_form`).
async fn checked(
    req: &HttpRequest,
    body: <Bytes as FromRequest>::Future,
    sdadmin_only: bool,
) -> Result<(SignedIn, Bytes), AppError> {
    let by = session::load(req).await?;
    if sdadmin_only && by.user.role() != Role::SdAdmin {
        return Err(AppError::Forbidden(SDADMIN_REQUIRED.to_owned()));
    }
    let body = body.await.map_err(crate::body_deadline::body_error)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| AppError::BadRequest("The form could not be read.".into()))?;
    let from_field = pairs.iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.as_str());
    let from_header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    let sent = from_field.or(from_header).unwrap_or("");
    if !same_token(sent, by.csrf()) {
        return Err(AppError::Csrf);
    }
    crate::input::check_form(&body)?;
    Ok((by, body))
}
