//! A loopback upstream for the proxy tests that streams: it reads request bodies piece by piece
//! (counting them and keeping a digest, never the whole of a large one) and writes answers of any
//! size from one shared buffer. It answers by the last path segment:
//! - `download?bytes=N[&type=T][&chunked=1]`: N bytes (`0123456789` repeated) of type T (default
//!   `application/octet-stream`), with `Content-Length` unless `chunked`;
//! - `split-echo?type=T`: the `X-Api-Key` it received, in a text cut in the middle of the key into two
//!   writes 50 ms apart;
//! - `slow`: its answer 3 s late; `stall`: a first piece of its body, then nothing for 3 s; `hold`:
//!   none of the request's body read, and the answer 3 s late;
//! - `empty`: 204; `refuse`: 401 unless `X-Api-Key` is `good-key`, after reading the whole body;
//! - anything else: the request echoed as JSON (body as text when under 64 KiB), with a
//!   `Set-Cookie`, and the `X-Api-Key` it received in `X-Echo-Api-Key`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody, SizedStream};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::json;
use sha2::Digest;

/// One request as the upstream read it.
#[derive(Debug, Clone)]
pub struct Streamed {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Every header line, in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body_len: u64,
    /// SHA-256 of the whole body, hex.
    pub body_sha256: String,
    /// The body when it is at most 64 KiB.
    pub body: Option<Vec<u8>>,
}

impl Streamed {
    /// Every value of header `name`.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).collect()
    }
}

/// A running streaming upstream.
pub struct StreamUpstream {
    pub url: String,
    received: Arc<Mutex<Vec<Streamed>>>,
}

impl StreamUpstream {
    pub async fn start() -> StreamUpstream {
        let received: Arc<Mutex<Vec<Streamed>>> = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the upstream");
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::from(received.clone());
        let server =
            HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(answer)))
                .workers(2)
                .listen(listener)
                .expect("listen")
                .run();
        tokio::spawn(server);
        StreamUpstream { url: format!("http://127.0.0.1:{port}"), received }
    }

    /// Every request so far, oldest first.
    pub fn received(&self) -> Vec<Streamed> {
        self.received.lock().unwrap().clone()
    }

    /// The last request.
    pub fn last(&self) -> Streamed {
        self.received().pop().expect("a request reached the upstream")
    }
}

/// SHA-256 of `bytes` bytes of `pattern()`, as the upstream and the tests make them.
pub fn pattern_sha256(bytes: u64) -> String {
    let mut hash = sha2::Sha256::new();
    let chunk = pattern();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        hash.update(&chunk[..n]);
        left -= n as u64;
    }
    hex::encode(hash.finalize())
}

/// 64 KiB of `0123456789` repeated.
pub fn pattern() -> web::Bytes {
    web::Bytes::from((0..65_536).map(|i| b'0' + (i % 10) as u8).collect::<Vec<u8>>())
}

/// `bytes` bytes of `pattern()` in 64 KiB pieces, shared, never copied.
pub struct Pattern {
    chunk: web::Bytes,
    left: u64,
}

impl Pattern {
    pub fn new(bytes: u64) -> Pattern {
        Pattern { chunk: pattern(), left: bytes }
    }
}

impl futures_core::Stream for Pattern {
    type Item = Result<web::Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(self.chunk.len() as u64);
        self.left -= n;
        Poll::Ready(Some(Ok(self.chunk.slice(..n as usize))))
    }
}

/// The same as a request body for reqwest, with its exact length (so `Content-Length` is sent) or
/// without (chunked).
pub struct PatternBody {
    pattern: Pattern,
    length: Option<u64>,
}

impl PatternBody {
    pub fn body(bytes: u64, declare_length: bool) -> reqwest::Body {
        reqwest::Body::wrap(PatternBody {
            pattern: Pattern::new(bytes),
            length: declare_length.then_some(bytes),
        })
    }
}

impl http_body::Body for PatternBody {
    type Data = web::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<web::Bytes>, std::io::Error>>> {
        Pin::new(&mut self.pattern)
            .poll_next(cx)
            .map(|item| item.map(|chunk| chunk.map(http_body::Frame::data)))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.length.map_or_else(http_body::SizeHint::default, http_body::SizeHint::with_exact)
    }
}

use futures_core::Stream as _;

/// `pieces` chunks of 64 KiB of `pattern()`, one every `every`: an upload that takes its time.
pub struct SlowBody {
    left: u32,
    every: Duration,
    next: Pin<Box<tokio::time::Sleep>>,
}

impl SlowBody {
    pub fn body(pieces: u32, every: Duration) -> reqwest::Body {
        reqwest::Body::wrap(SlowBody { left: pieces, every, next: Box::pin(tokio::time::sleep(every)) })
    }
}

impl http_body::Body for SlowBody {
    type Data = web::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<web::Bytes>, std::io::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        if self.next.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.left -= 1;
        let deadline = tokio::time::Instant::now() + self.every;
        self.next.as_mut().reset(deadline);
        Poll::Ready(Some(Ok(http_body::Frame::data(pattern()))))
    }
}

/// Pieces of a body, each after its own pause; `None` ends the body (after its pause too).
struct Paced {
    steps: std::collections::VecDeque<(Duration, Option<web::Bytes>)>,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Paced {
    fn new(steps: Vec<(Duration, Option<web::Bytes>)>) -> Paced {
        Paced { steps: steps.into(), pause: None }
    }
}

impl MessageBody for Paced {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        let Some(&(wait, _)) = self.steps.front() else { return Poll::Ready(None) };
        let pause = self.pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(wait)));
        if pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.pause = None;
        let (_, piece) = self.steps.pop_front().expect("a step");
        if piece.is_none() {
            self.steps.clear();
        }
        Poll::Ready(piece.map(Ok))
    }
}

/// Reads the request's body piece by piece.
async fn read_body(mut payload: web::Payload) -> (u64, String, Option<Vec<u8>>) {
    let mut hash = sha2::Sha256::new();
    let (mut len, mut kept) = (0u64, Vec::new());
    while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut payload).poll_next(cx)).await {
        // A body cut off on the way (the proxy's caller stalled) counts as far as it came.
        let Ok(chunk) = chunk else { break };
        hash.update(&chunk);
        len += chunk.len() as u64;
        if kept.len() <= 65_536 {
            kept.extend_from_slice(&chunk);
        }
    }
    (len, hex::encode(hash.finalize()), (len <= 65_536).then_some(kept))
}

fn query_value(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn answer(
    req: HttpRequest,
    payload: web::Payload,
    received: web::Data<Mutex<Vec<Streamed>>>,
) -> HttpResponse {
    if req.path().ends_with("/hold") {
        // Reads nothing of the body, and answers late.
        tokio::time::sleep(Duration::from_secs(8)).await;
        return HttpResponse::Ok().body("late");
    }
    let (body_len, body_sha256, body) = read_body(payload).await;
    let streamed = Streamed {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body_len,
        body_sha256,
        body,
    };
    received.lock().unwrap().push(streamed.clone());
    let key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    match req.path().rsplit('/').next().unwrap_or("") {
        "download" => {
            let bytes: u64 = query_value(&req, "bytes").and_then(|b| b.parse().ok()).unwrap_or(0);
            let kind = query_value(&req, "type").unwrap_or_else(|| "application/octet-stream".into());
            let mut res = HttpResponse::Ok();
            res.content_type(kind);
            match query_value(&req, "chunked") {
                Some(_) => res.streaming(Pattern::new(bytes)),
                None => res.body(SizedStream::new(bytes, Pattern::new(bytes))),
            }
        }
        "split-echo" => {
            let text = format!("before {key} after");
            let cut = "before ".len() + key.len() / 2;
            let kind = query_value(&req, "type").unwrap_or_else(|| "text/plain".into());
            let (first, second) = (text[..cut].to_owned(), text[cut..].to_owned());
            let steps = vec![
                (Duration::ZERO, Some(web::Bytes::from(first))),
                (Duration::from_millis(50), Some(web::Bytes::from(second))),
                (Duration::ZERO, None),
            ];
            HttpResponse::Ok().content_type(kind).body(Paced::new(steps))
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            HttpResponse::Ok().body("finally")
        }
        "stall" => {
            let first = web::Bytes::from_static(b"first piece");
            let steps = vec![(Duration::ZERO, Some(first)), (Duration::from_secs(3), None)];
            HttpResponse::Ok().content_type("application/octet-stream").body(Paced::new(steps))
        }
        "empty" => HttpResponse::NoContent().finish(),
        "refuse" if key != "good-key" => HttpResponse::Unauthorized().json(json!({"error": "invalid_token"})),
        _ => {
            let echo = json!({
                "method": streamed.method,
                "path": streamed.path,
                "query": streamed.query,
                "headers": streamed.headers,
                "body_len": streamed.body_len,
                "body": streamed.body.as_deref().map(String::from_utf8_lossy),
            });
            HttpResponse::Ok()
                .insert_header(("set-cookie", "upstream_session=abc; Path=/"))
                .insert_header(("x-echo-api-key", key))
                .insert_header(("x-upstream", "kept"))
                .json(echo)
        }
    }
}
