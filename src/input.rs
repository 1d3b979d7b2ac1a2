//! Text input checked at the edge, once for every route: control characters never reach a handler,
//! and so never a query, a header we send or the database (PostgreSQL refuses NUL in text).
//!
//! What is refused where:
//! - the path and the query string, percent-decoded: every control character (`char::is_control`:
//!   U+0000–U+001F, U+007F–U+009F). No link name or parameter holds one. The path answers 404 (no
//!   such page), the query 422 naming the parameter. [`check_url`], a middleware.
//! - form fields and JSON strings (keys and values) in bodies: every control character but tab, line
//!   feed and carriage return, which a multi-line field (a service's description, typed as `\r\n` in a
//!   textarea) or a pasted secret (a PEM key) may hold; each field's own validation decides whether it
//!   takes them. 422 naming the field. [`check_form`] and [`check_json`], called by the body
//!   extractors: [`Form`] (sign-in), `auth::csrf::CsrfForm` (every admin form) and `api::Json`.
//!
//! Bodies are checked by their extractors rather than here so that an extractor's other checks keep
//! their order (a technician's form gets the 403, never a message about its fields).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldErrors};

pub mod multipart;

/// What a 422 says of a query parameter.
const IN_URL: &str = "Remove control characters.";
/// The words of the validators of multi-line fields, which say the same.
const IN_BODY: &str = "Remove control characters other than line breaks and tabs.";

/// Whether a path or query refuses `c`.
fn refused_in_url(c: char) -> bool {
    c.is_control()
}

/// Whether a body's text refuses `c` (see the module documentation for the three it keeps).
fn refused_in_body(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// A 422 that names the field, or `fallback` when its name is empty or itself unreadable.
fn invalid(field: &str, fallback: &str, message: &str) -> AppError {
    let name = if field.is_empty() || field.chars().any(char::is_control) { fallback } else { field };
    AppError::Invalid(FieldErrors::from([(name.to_owned(), vec![message.to_owned()])]))
}

/// Percent-decodes a path (not `+`, which is a plus sign there).
fn decoded_path(raw: &str) -> Cow<'_, str> {
    let bytes: Cow<'_, [u8]> = percent_encoding::percent_decode_str(raw).into();
    match bytes {
        Cow::Borrowed(_) => Cow::Borrowed(raw),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// The path's verdict, then the query's: `Ok` when neither holds a control character.
fn check_path_and_query(path: &str, query: &str) -> Result<(), AppError> {
    if decoded_path(path).chars().any(refused_in_url) {
        return Err(AppError::NotFound);
    }
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key.chars().chain(value.chars()).any(refused_in_url) {
            return Err(invalid(&key, "query", IN_URL));
        }
    }
    Ok(())
}

/// Refuses a request whose path or query holds a control character, before any handler runs.
pub async fn check_url<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    if let Err(refused) = check_path_and_query(req.path(), req.query_string()) {
        let (req, _) = req.into_parts();
        return Ok(ServiceResponse::from_err(refused, req).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Checks every field name and value of a form-encoded body.
pub fn check_form(body: &[u8]) -> Result<(), AppError> {
    for (key, value) in url::form_urlencoded::parse(body) {
        if key.chars().chain(value.chars()).any(refused_in_body) {
            return Err(invalid(&key, "body", IN_BODY));
        }
    }
    Ok(())
}

/// Checks every string (object keys included) of a JSON document. The field is named by its dotted
/// path, as the validators name fields (`api_key.params.0.name`; a bad key names its object). `raw`
/// must be valid JSON: the caller parses it first, with its own error messages.
pub fn check_json(raw: &str) -> Result<(), AppError> {
    // JSON carries a control character only as a `\u` escape (raw C0 characters are not valid
    // JSON inside strings) or as a raw DEL or C1 character: without either, there is none to find.
    if !raw.contains("\\u") && !raw.chars().any(|c| c.is_control() && c > '\u{1f}') {
        return Ok(());
    }
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|_| invalid("", "body", IN_BODY))?;
    match refused_at(&value, "") {
        Some(path) => Err(invalid(&path, "body", IN_BODY)),
        None => Ok(()),
    }
}

/// The path of the first string in `value` that holds a refused character, `at` being `value`'s own.
fn refused_at(value: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value as V;
    let join = |part: &str| if at.is_empty() { part.to_owned() } else { format!("{at}.{part}") };
    match value {
        V::String(s) => s.chars().any(refused_in_body).then(|| at.to_owned()),
        V::Array(items) => {
            items.iter().enumerate().find_map(|(i, item)| refused_at(item, &join(&i.to_string())))
        }
        V::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.chars().any(refused_in_body) { Some(at.to_owned()) } else { refused_at(item, &join(key)) }
        }),
        V::Null | V::Bool(_) | V::Number(_) => None,
    }
}

/// A form body of type `T` whose text passed [`check_form`]: for forms outside a session (sign-in);
/// signed-in forms use `auth::csrf::CsrfForm`, which checks the same way. The body limit is the
/// app's `PayloadConfig`.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(crate::body_deadline::body_error)?;
            check_form(&body)?;
            let form = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}.")))?;
            Ok(Form(form))
        })
    }
}

#[cfg(test)]
mod tests;
