//! A request id on every request: the caller's `X-Request-Id` when it is a sane token, otherwise one
//! of ours. It is returned in the response's `X-Request-Id` and carried by a tracing span around the
//! request, so every log line written while serving it names it, and a user's report ("request
//! 7f3k…-42 failed") leads to its lines.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The longest caller-chosen id kept; a longer one is replaced.
pub const MAX_LEN: usize = 64;

/// Whether a caller's id may be used as it is: 1 to `MAX_LEN` characters of `[A-Za-z0-9._-]`, so that
/// it cannot forge log lines or carry markup into a log viewer.
pub fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A random prefix drawn once per process, and a counter: unique across restarts and instances
/// without a call for randomness on every request.
static PREFIX: LazyLock<String> =
    LazyLock::new(|| crate::random::random_urlsafe(6).unwrap_or_else(|_| format!("p{}", std::process::id())));
static NEXT: AtomicU64 = AtomicU64::new(1);

/// A new id of ours: `<process prefix>-<counter>`.
pub fn generate() -> String {
    format!("{}-{}", *PREFIX, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The middleware: outermost, so that every answer carries the id, error pages included.
pub async fn tag(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = match req.headers().get(&HEADER).and_then(|v| v.to_str().ok()) {
        Some(given) if is_sane(given) => given.to_owned(),
        _ => generate(),
    };
    let span = tracing::info_span!("request", request_id = %id);
    // The inner layers answer every error with a response (`render_errors`), which gets the id. The
    // request is not cloned to answer an `Err` here: the router needs it unshared to match its path.
    let mut res = next.call(req).instrument(span.clone()).await?.map_into_boxed_body();
    if tracing::enabled!(tracing::Level::DEBUG) {
        let (method, path, status) = (res.request().method(), res.request().path(), res.status().as_u16());
        span.in_scope(|| tracing::debug!(%method, path, status, "answered"));
    }
    // Sane ids and ours are valid header values.
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests;
