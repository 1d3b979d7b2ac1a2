//! A webhook receiver on 127.0.0.1 port 0: it records every delivery and answers 500 with "boom"
//! to the first `fail_first` of them, then 204. Beside it, a Standard Webhooks signature check
//! written from the specification alone (HMAC-SHA256 built here on SHA-256), so the app's own
//! signing code is not what checks it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The path it was sent to.
    pub path: String,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
}

impl Delivered {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Delivered>>,
    fail_first: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    inbox: web::Data<Inbox>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let inbox = web::Data::new(Inbox { fail_first: AtomicUsize::new(fail_first), ..Inbox::default() });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let port = listener.local_addr().unwrap().port();
        let data = inbox.clone();
        let server =
            HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
                .workers(1)
                .listen(listener)
                .expect("listen")
                .run();
        tokio::spawn(server);
        Receiver { url: format!("http://127.0.0.1:{port}/hooks"), inbox }
    }

    pub fn received(&self) -> Vec<Delivered> {
        self.inbox.received.lock().unwrap().clone()
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, inbox: web::Data<Inbox>) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    inbox.received.lock().unwrap().push(Delivered {
        path: req.path().to_owned(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let failing = inbox.fail_first.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    match failing {
        Ok(_) => HttpResponse::InternalServerError().body("boom"),
        Err(_) => HttpResponse::NoContent().finish(),
    }
}

/// HMAC-SHA256 (RFC 2104): H((K ^ opad) || H((K ^ ipad) || message)), the key padded to 64 bytes.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().to_vec()
}

/// Whether `delivery` carries a valid `v1` signature under `secret` (`whsec_` + base64 key), as the
/// Standard Webhooks specification defines it.
pub fn signed_by(delivery: &Delivered, secret: &str) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_ prefix")).expect("base64 key");
    let content = format!("{}.{}.{}", delivery.id, delivery.timestamp, delivery.body);
    let expected = STANDARD.encode(hmac_sha256(&key, content.as_bytes()));
    delivery.signature.split(' ').any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}
