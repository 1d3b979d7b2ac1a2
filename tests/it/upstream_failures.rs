//! An upstream that fails at the connection level — refuses it, resets it, closes it before
//! answering, or cannot do TLS — answers an invoke 502 with what happened in plain words, and the
//! URL without its query. (Every upstream here is the test's own, on 127.0.0.1.)

use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::support::{Api, api_key_service, connection, invoke, spawn_app};

/// A listener that reads each request and then ends the connection: with a reset when `reset`,
/// otherwise with a plain close.
async fn hanging_up(reset: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            if reset {
                // SO_LINGER 0: the close sends RST instead of FIN.
                #[allow(deprecated, reason = "set_linger is what sends a reset")]
                stream.set_linger(Some(std::time::Duration::ZERO)).unwrap();
            }
            drop(stream);
        }
    });
    port
}

/// A free port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The message of an invoke of a connection whose service's API base URL is `base`.
async fn failure_at(api: &Api, link: &str, base: String) -> String {
    let mut service = api_key_service(link);
    service["api_base_url"] = base.into();
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection(link, link, &[])).await;
    let body = json!({"params": {"X-Api-Key": "k-1", "X-Org-Id": "o-1"}});
    assert_eq!(api.put(&format!("/api/v1/connections/{link}/credentials"), &body).await.status, 200);
    let res = invoke(api, link, json!({"path": "/items?token=in-the-query"})).await;
    assert_eq!(res.status, 502, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "upstream");
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.ends_with("/api/items)"), "the URL, without its query: {message}");
    assert!(!message.contains("in-the-query"), "{message}");
    message
}

#[tokio::test]
async fn an_upstream_that_refuses_resets_or_hangs_up_is_named_in_plain_words() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;

    let refused = failure_at(&api, "refused", format!("http://127.0.0.1:{}/api", closed_port())).await;
    assert!(refused.starts_with("Connection refused by the upstream (http://127.0.0.1:"), "{refused}");

    let reset = failure_at(&api, "reset", format!("http://127.0.0.1:{}/api", hanging_up(true).await)).await;
    assert!(reset.starts_with("Connection reset by the upstream (http://127.0.0.1:"), "{reset}");

    let closed =
        failure_at(&api, "closed", format!("http://127.0.0.1:{}/api", hanging_up(false).await)).await;
    assert!(closed.starts_with("The upstream closed the connection before answering ("), "{closed}");

    let tls = failure_at(&api, "tls", format!("https://127.0.0.1:{}/api", hanging_up(false).await)).await;
    assert!(tls.starts_with("TLS handshake failed: "), "{tls}");
    assert!(!tls.contains("client error (Connect)"), "{tls}");
}
