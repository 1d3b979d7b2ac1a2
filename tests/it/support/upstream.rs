//! A small upstream API on 127.0.0.1 port 0 for the invoke tests: it records every request exactly
//! as it arrived and answers by the last path segment — `redirect` (302 elsewhere), `big` and
//! `big-chunked` (more than the 5 MiB cap, with and without Content-Length), `slow` (2 s late),
//! `binary` (bytes that are not UTF-8), `reencode` (the Basic password, the user:password pair and the
//! API key header, each base64-encoded again in another alphabet); anything else is echoed back: the
//! request as JSON in the body, and its Authorization header, query string and API key header in
//! `x-echo-*` headers.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::json;

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Every header line, in order, names lower-cased (a duplicate shows up twice).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// Every value of header `name`.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).collect()
    }

    /// The one value of header `name`; fails when it is missing or repeated.
    pub fn header(&self, name: &str) -> String {
        let values = self.header_values(name);
        assert_eq!(values.len(), 1, "exactly one {name} header in {:?}", self.headers);
        values[0].clone()
    }

    /// The query string's pairs, decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes()).into_owned().collect()
    }

    /// The body's form pairs, decoded, in order.
    pub fn form_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

#[derive(Default)]
struct Recorder {
    received: Mutex<Vec<Received>>,
}

/// A running upstream.
pub struct Upstream {
    pub url: String,
    pub port: u16,
    recorder: web::Data<Recorder>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let recorder = web::Data::new(Recorder::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the upstream");
        let port = listener.local_addr().unwrap().port();
        let data = recorder.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::default().limit(1 << 20))
                .default_service(web::to(answer))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Upstream { url: format!("http://127.0.0.1:{port}"), port, recorder }
    }

    /// Every request so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.recorder.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.recorder.received.lock().unwrap().len()
    }

    /// The only request so far.
    pub fn only(&self) -> Received {
        let all = self.received();
        assert_eq!(all.len(), 1, "exactly one request upstream: {all:?}");
        all[0].clone()
    }
}

/// A body sent in 64 KiB chunks with no Content-Length.
struct Chunks(usize);

impl MessageBody for Chunks {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        if self.0 == 0 {
            return Poll::Ready(None);
        }
        self.0 -= 1;
        Poll::Ready(Some(Ok(web::Bytes::from(vec![b'y'; 65536]))))
    }
}

/// More than the app's 5 MiB cap.
pub const BIG: usize = 6 * 1024 * 1024;

async fn answer(req: HttpRequest, body: web::Bytes, recorder: web::Data<Recorder>) -> HttpResponse {
    let received = Received {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: body.to_vec(),
    };
    recorder.received.lock().unwrap().push(received.clone());
    match req.path().rsplit('/').next().unwrap_or("") {
        "redirect" => HttpResponse::Found()
            .insert_header(("location", "https://elsewhere.example/landing?from=upstream"))
            .finish(),
        "big" => HttpResponse::Ok().content_type("text/plain").body(vec![b'x'; BIG]),
        "big-chunked" => HttpResponse::Ok().content_type("text/plain").body(Chunks(BIG / 65536 + 1)),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            HttpResponse::Ok().body("finally")
        }
        "reencode" => reencode(&req),
        "binary" => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(vec![0x89, b'P', b'N', b'G', 0xff, 0x00, 0xfe]),
        _ => {
            let mut headers = serde_json::Map::new();
            for (name, value) in &received.headers {
                headers
                    .entry(name.clone())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .unwrap()
                    .push(value.clone().into());
            }
            let echo = json!({
                "method": received.method,
                "path": received.path,
                "query": received.query,
                "headers": headers,
                "body": String::from_utf8_lossy(&received.body),
            });
            let mut res = HttpResponse::Ok();
            for (name, echoed) in [("authorization", "x-echo-authorization"), ("x-api-key", "x-echo-api-key")]
            {
                if let Some(value) = req.headers().get(name) {
                    res.insert_header((echoed, value.clone()));
                }
            }
            if !received.query.is_empty() {
                res.insert_header(("x-echo-query", received.query.clone()));
            }
            res.json(echo)
        }
    }
}

/// The credentials as an upstream might re-encode them: in the body and in a header.
fn reencode(req: &HttpRequest) -> HttpResponse {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let pair = header("authorization")
        .strip_prefix("Basic ")
        .and_then(|b| STANDARD.decode(b).ok())
        .unwrap_or_default();
    let pair = String::from_utf8(pair).unwrap_or_default();
    let password = pair.split_once(':').map_or("", |(_, p)| p);
    let key = header("x-api-key");
    let body = json!({
        "password": STANDARD.encode(password),
        "password_url": URL_SAFE_NO_PAD.encode(password),
        "pair_url": URL_SAFE.encode(&pair),
        "pair_unpadded": STANDARD_NO_PAD.encode(&pair),
        "key": STANDARD.encode(&key),
        "key_url": URL_SAFE_NO_PAD.encode(&key),
    });
    let echoed = if key.is_empty() { STANDARD.encode(password) } else { URL_SAFE.encode(&key) };
    HttpResponse::Ok().insert_header(("x-echo-b64", echoed)).json(body)
}
