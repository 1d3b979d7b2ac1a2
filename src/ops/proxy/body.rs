//! The caller's request body on its way upstream. Its first `REPLAY_LIMIT` bytes are read before
//! anything is sent: a body that ends within them is held whole and can be sent again (the retry
//! after a refreshed token); a longer one streams on from the caller as the upstream takes it,
//! through a channel of a few chunks, so that neither side's speed makes the app hold more.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::error::PayloadError;
use actix_web::web::{self, Bytes, BytesMut};
use futures_core::Stream;
use tokio::sync::{Notify, mpsc};

use crate::error::AppError;

/// The largest body held whole, and so sent again after a refreshed token.
pub const REPLAY_LIMIT: usize = 64 * 1024;
/// Chunks on their way between the caller and the upstream.
const IN_FLIGHT: usize = 4;

/// What happened to the caller's body on its way: bytes read so far, and how it ended.
#[derive(Default)]
pub struct Progress {
    pub bytes: AtomicU64,
    /// The caller's body broke off or stalled past the proxy timeout.
    pub failed: AtomicBool,
    /// The upstream took none of it for the proxy timeout.
    pub stalled: AtomicBool,
    /// The whole body was handed on.
    complete: AtomicBool,
    /// Told once the body has ended, however it did.
    ended: Notify,
}

impl Progress {
    fn end(&self, complete: bool) {
        self.complete.store(complete, Ordering::Relaxed);
        self.ended.notify_one();
    }

    /// Waits until a streamed body has ended.
    pub async fn ended(&self) {
        self.ended.notified().await;
    }
}

/// The caller's body, read as far as the replay rule needs.
pub enum Outgoing {
    /// The whole body (empty: none). It can be sent any number of times.
    Whole(Bytes),
    /// The body's start, and the rest still with the caller; `length` is its declared size.
    Streaming { start: Bytes, rest: web::Payload, length: Option<u64> },
    /// The streaming body went out with the first attempt.
    Spent,
}

/// What a caller's body failing to arrive means for the answer.
pub fn read_error(e: &PayloadError) -> AppError {
    if crate::body_deadline::cut_off(e) {
        AppError::BodyTimeout
    } else {
        AppError::BadRequest("The request body could not be read.".into())
    }
}

impl Outgoing {
    /// Reads the start of `payload` (nothing when its declared `length` is already over the limit).
    pub async fn read(
        mut payload: web::Payload,
        length: Option<u64>,
        progress: &Progress,
    ) -> Result<Outgoing, AppError> {
        if length.is_some_and(|n| n > REPLAY_LIMIT as u64) {
            return Ok(Outgoing::Streaming { start: Bytes::new(), rest: payload, length });
        }
        let mut start = BytesMut::new();
        while start.len() <= REPLAY_LIMIT {
            match std::future::poll_fn(|cx| Pin::new(&mut payload).poll_next(cx)).await {
                Some(Ok(chunk)) => {
                    progress.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    start.extend_from_slice(&chunk);
                }
                Some(Err(e)) => return Err(read_error(&e)),
                None => return Ok(Outgoing::Whole(start.freeze())),
            }
        }
        Ok(Outgoing::Streaming { start: start.freeze(), rest: payload, length })
    }

    /// Whether the body can be sent again.
    pub fn replayable(&self) -> bool {
        matches!(self, Outgoing::Whole(_))
    }

    /// The body of the next attempt: the whole body again, or the stream once (`None` after that,
    /// and for no body).
    pub fn next_body(&mut self, progress: &Arc<Progress>, idle: Duration) -> Option<reqwest::Body> {
        match std::mem::replace(self, Outgoing::Spent) {
            Outgoing::Whole(bytes) => {
                *self = Outgoing::Whole(bytes.clone());
                (!bytes.is_empty()).then(|| reqwest::Body::from(bytes))
            }
            Outgoing::Streaming { start, rest, length } => {
                Some(forward(start, rest, length, progress.clone(), idle))
            }
            Outgoing::Spent => None,
        }
    }
}

/// A body that reqwest reads from a channel, fed by a task on this worker that reads the caller's
/// body (which cannot leave the worker's thread). Each chunk must be taken by the upstream within
/// `idle`; the caller's side has the same bound from `body_deadline`.
fn forward(
    start: Bytes,
    mut rest: web::Payload,
    length: Option<u64>,
    progress: Arc<Progress>,
    idle: Duration,
) -> reqwest::Body {
    let (chunks, received) = mpsc::channel::<Result<Bytes, std::io::Error>>(IN_FLIGHT);
    let fed = progress.clone();
    actix_web::rt::spawn(async move {
        let complete = feed(&chunks, start, &mut rest, &fed, idle).await;
        fed.end(complete);
    });
    reqwest::Body::wrap(Channel { received, length, progress })
}

/// Hands the caller's body on, chunk by chunk; true once all of it went.
async fn feed(
    chunks: &mpsc::Sender<Result<Bytes, std::io::Error>>,
    start: Bytes,
    rest: &mut web::Payload,
    progress: &Progress,
    idle: Duration,
) -> bool {
    let give = async |item| match tokio::time::timeout(idle, chunks.send(item)).await {
        Ok(sent) => sent.is_ok(),
        Err(_) => {
            progress.stalled.store(true, Ordering::Relaxed);
            false
        }
    };
    if !start.is_empty() && !give(Ok(start)).await {
        return false;
    }
    loop {
        let next = tokio::select! {
            next = std::future::poll_fn(|cx| Pin::new(&mut *rest).poll_next(cx)) => next,
            // The upstream stopped reading (it answered, or the request failed): stop too.
            () = chunks.closed() => return false,
        };
        match next {
            None => return true,
            Some(Ok(chunk)) => {
                progress.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if !give(Ok(chunk)).await {
                    return false;
                }
            }
            Some(Err(e)) => {
                progress.failed.store(true, Ordering::Relaxed);
                give(Err(std::io::Error::other(read_error(&e).to_string()))).await;
                return false;
            }
        }
    }
}

/// The receiving end of `forward`'s channel as an HTTP body of the declared length, if any (the
/// upstream then gets `Content-Length`, not chunks). A channel that closes before the whole body went
/// is an error, never a shorter body.
struct Channel {
    received: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    length: Option<u64>,
    progress: Arc<Progress>,
}

impl http_body::Body for Channel {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.received.poll_recv(cx).map(|item| match item {
            Some(chunk) => Some(chunk.map(http_body::Frame::data)),
            None if self.progress.complete.load(Ordering::Relaxed) => None,
            None => Some(Err(std::io::Error::other("the request body was cut off"))),
        })
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.length.map_or_else(http_body::SizeHint::default, http_body::SizeHint::with_exact)
    }
}
