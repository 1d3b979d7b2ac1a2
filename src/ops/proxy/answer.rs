//! The upstream's answer body on its way back: read as the caller takes it, each piece within the
//! proxy timeout, text masked for echoed secrets as it passes (`injection::Masker`), its bytes
//! counted, and the call's activity event queued when it ends — in full, cut off, or abandoned by
//! the caller.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::web::Bytes;
use futures_core::Stream;
use http_body::Body as _;

use super::body::Progress;
use crate::activity::{Activity, Entry};
use crate::injection::Masker;

/// The activity event of a call whose answer is on its way, written when it ends.
pub struct Pending {
    pub activity: Activity,
    pub entry: Entry,
    pub sent: Arc<Progress>,
}

impl Pending {
    /// Queues the event: `received` bytes went back to the caller; `failure` says why the answer did
    /// not end well.
    fn finish(mut self, received: u64, failure: Option<String>) {
        let event = &mut self.entry.event;
        event.request_bytes = Some(self.sent.bytes.load(Ordering::Relaxed) as i64);
        event.response_bytes = Some(received as i64);
        if let Some(message) = failure {
            event.ok = false;
            event.message = Some(message);
        }
        self.activity.record_soon(self.entry);
    }
}

/// The answer's body as the caller receives it.
pub struct AnswerBody {
    upstream: reqwest::Body,
    /// Present for a text body.
    masker: Option<Masker>,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// The timer runs: the upstream had nothing the last time it was asked.
    waiting: bool,
    /// Bytes given to the caller so far.
    received: u64,
    /// The event, until it is written.
    pending: Option<Pending>,
}

impl AnswerBody {
    pub fn new(
        upstream: reqwest::Body,
        masker: Option<Masker>,
        idle: Duration,
        pending: Pending,
    ) -> AnswerBody {
        AnswerBody {
            upstream,
            masker,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            waiting: false,
            received: 0,
            pending: Some(pending),
        }
    }

    /// An answer that has no body whatever it declares (to HEAD, a 204 or a 304): its event is queued
    /// at once.
    pub fn none(mut self) -> AnswerBody {
        self.end(None);
        self
    }

    fn end(&mut self, failure: Option<String>) {
        if let Some(pending) = self.pending.take() {
            pending.finish(self.received, failure);
        }
    }
}

impl Stream for AnswerBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.pending.is_none() {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.upstream).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    this.waiting = false;
                    // Trailers are hop-by-hop here: only data goes on.
                    let Ok(data) = frame.into_data() else { continue };
                    let out = match &mut this.masker {
                        None => data,
                        Some(masker) => Bytes::from(masker.push(&data)),
                    };
                    if !out.is_empty() {
                        this.received += out.len() as u64;
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let why = format!("The answer was cut off: {}.", crate::outbound::body_failure(&e));
                    this.end(Some(why.clone()));
                    return Poll::Ready(Some(Err(std::io::Error::other(why))));
                }
                Poll::Ready(None) => {
                    let rest = this.masker.as_mut().map(Masker::finish).unwrap_or_default();
                    this.received += rest.len() as u64;
                    this.end(None);
                    return Poll::Ready((!rest.is_empty()).then(|| Ok(Bytes::from(rest))));
                }
                Poll::Pending => {
                    // The wait is timed from the first time the upstream had nothing, not from the
                    // last piece: a caller that reads slowly is not the upstream's delay.
                    if !this.waiting {
                        this.waiting = true;
                        let deadline = tokio::time::Instant::now() + this.idle;
                        this.timer.as_mut().reset(deadline);
                    }
                    if this.timer.as_mut().poll(cx).is_ready() {
                        let why = format!(
                            "The answer was cut off: the upstream sent nothing for {} s.",
                            this.idle.as_secs()
                        );
                        this.end(Some(why.clone()));
                        return Poll::Ready(Some(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            why,
                        ))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for AnswerBody {
    fn drop(&mut self) {
        self.end(Some("The caller closed the connection before the answer ended.".into()));
    }
}
