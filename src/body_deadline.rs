//! A deadline for request bodies. actix's `client_request_timeout` bounds the wait for a request's
//! head only: a client that then sends its body a byte at a time would hold the connection and a
//! handler for as long as it likes. Each body must arrive in full within
//! `CONNECTIONS_REQUEST_BODY_TIMEOUT_SECS` of its head; after that reading it fails, and the body
//! extractors answer 408 (`AppError::BodyTimeout`).
//!
//! A proxied body (`api::proxy`) may be as large as the caller likes, so it has no overall deadline:
//! each piece must arrive within `CONNECTIONS_PROXY_TIMEOUT_SECS` of the proxy asking for it. Its
//! handler reads it only after the caller's token was checked.
//!
//! A body left unread must also end the connection. actix drains an unread chunked body whose reader
//! is gone, however slowly it comes; while a reader is alive it closes the connection after the
//! answer instead (lingering `client_disconnect_timeout` for the client to stop). So the answer's body
//! holds the request's body until it has been sent.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, web};
use futures_core::Stream;

use crate::state::AppState;

/// The request's body, shared by the stream the handler reads and the answer that holds it.
type Shared = Rc<RefCell<Payload>>;

/// Puts the deadline on the request's body, and the body in the answer's keeping.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some((body_secs, proxy_secs)) = req
        .app_data::<web::Data<AppState>>()
        .map(|state| (state.config.request_body_timeout_secs, state.config.proxy_timeout_secs))
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let (secs, idle) = match crate::api::proxy::proxied_path(req.path()) {
        Some(_) => (proxy_secs, Some(Duration::from_secs(proxy_secs))),
        None => (body_secs, None),
    };
    let payload = req.take_payload();
    // A request without a body (most GETs) has nothing to wait for.
    if let Payload::None = payload {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let body: Shared = Rc::new(RefCell::new(payload));
    let timer = Box::pin(tokio::time::sleep(Duration::from_secs(secs)));
    let deadline = Deadline { body: body.clone(), timer, idle, waiting: false };
    req.set_payload(Payload::Stream { payload: Box::pin(deadline) });
    let res = next.call(req).await?;
    Ok(res.map_body(|_, answer| BoxBody::new(Holding { answer: answer.boxed(), _request_body: body })))
}

/// What a body that could not be read means: too large, cut off by the deadline, or unreadable.
pub fn body_error(e: actix_web::Error) -> crate::error::AppError {
    use crate::error::AppError;
    if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::TooLarge;
    }
    match e.as_error::<PayloadError>() {
        Some(payload) if cut_off(payload) => AppError::BodyTimeout,
        _ => AppError::BadRequest("The form could not be read.".into()),
    }
}

/// Whether a body extractor failed because the deadline cut the body off.
pub fn cut_off(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// A body that ends in an error once its timer fires.
struct Deadline {
    body: Shared,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// Set for a proxied body: the timer runs only while its reader waits for the next piece.
    idle: Option<Duration>,
    /// The reader asked for a piece that has not come yet.
    waiting: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(idle) = self.idle
            && !self.waiting
        {
            self.waiting = true;
            let deadline = tokio::time::Instant::now() + idle;
            self.timer.as_mut().reset(deadline);
        }
        // The timer first: a body that trickles is always ready with its next byte.
        if self.timer.as_mut().poll(cx).is_ready() {
            let late =
                std::io::Error::new(std::io::ErrorKind::TimedOut, "the request body took too long to arrive");
            return Poll::Ready(Some(Err(PayloadError::Io(late))));
        }
        let next = Pin::new(&mut *self.body.borrow_mut()).poll_next(cx);
        if next.is_ready() {
            self.waiting = false;
        }
        next
    }
}

/// An answer's body that keeps the request's body until it has been sent.
struct Holding {
    answer: BoxBody,
    _request_body: Shared,
}

impl MessageBody for Holding {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.answer.size()
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.answer).poll_next(cx)
    }
}
