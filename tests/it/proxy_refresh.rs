//! The proxy's replay rule, against the fake provider's protected API: after a refused OAuth2 token
//! the token is refreshed once; a body held whole (empty, or at most 64 KiB) is sent again with the
//! new one, while a longer, streamed body is not — its 401 goes back with
//! `Connections-Token-Refreshed: true`, and the caller's next call uses the new token.

use reqwest::Method;

use crate::support::{PatternBody, Setup, TestApp, access_token, events, setup};

/// A request through `zoho_main`'s proxy with a new token of the admin's.
async fn through(
    app: &TestApp,
    method: Method,
    rest: &str,
    body: Option<reqwest::Body>,
) -> reqwest::Response {
    let token = app.token_for("admin").await;
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/api/v1/connections/zoho_main/proxy{rest}", app.base))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.body(body);
    }
    req.send().await.unwrap()
}

fn tokens(setup: &Setup) -> Vec<(String, bool)> {
    setup.fake.api_calls().into_iter().map(|c| (c.token.unwrap_or_default(), c.accepted)).collect()
}

#[tokio::test]
async fn a_small_body_is_sent_again_with_the_refreshed_token() {
    let s = setup().await;
    let first = access_token(&s.app, "zoho_main").await.unwrap();
    s.fake.kill(&first);
    let res = through(&s.app, Method::POST, "/orders", Some("small=body".into())).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("connections-token-refreshed").is_none());
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["path"], "/api/orders");
    let second = s.fake.issued("access")[1].clone();
    assert_eq!(tokens(&s), [(first.clone(), false), (second.clone(), true)]);
    assert_eq!(s.fake.grants("refresh_token").len(), 1);

    // A body sent in chunks, without a length, but small: held whole, so sent again too.
    s.fake.kill(&second);
    let chunked = PatternBody::body(10_000, false);
    let res = through(&s.app, Method::PUT, "/orders/1", Some(chunked)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(s.fake.grants("refresh_token").len(), 2);
    assert_eq!(tokens(&s).iter().filter(|(_, ok)| *ok).count(), 2);

    // And no body at all.
    s.fake.kill(&s.fake.issued("access")[2].clone());
    assert_eq!(through(&s.app, Method::GET, "/me", None).await.status(), 200);
    let kinds: Vec<(String, Option<i32>)> =
        events(&s.app, "zoho_main").await.into_iter().map(|e| (e.kind, e.status)).collect();
    let proxied: Vec<_> = kinds.iter().filter(|(k, _)| k == "proxy").collect();
    assert_eq!(proxied.len(), 3, "one event per call, with its final status: {kinds:?}");
    assert!(proxied.iter().all(|(_, status)| *status == Some(200)), "{kinds:?}");
}

#[tokio::test]
async fn a_large_streamed_body_is_not_sent_again_and_the_401_says_the_token_was_refreshed() {
    let s = setup().await;
    let first = access_token(&s.app, "zoho_main").await.unwrap();
    s.fake.kill(&first);
    let large = 65 * 1024 + 1;
    let res = through(&s.app, Method::POST, "/upload", Some(PatternBody::body(large, true))).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["connections-token-refreshed"], "true");
    assert_eq!(tokens(&s), [(first.clone(), false)], "sent once");
    assert_eq!(s.fake.grants("refresh_token").len(), 1, "but the token was refreshed");

    // The caller sends it again: the new token, no other refresh.
    let res = through(&s.app, Method::POST, "/upload", Some(PatternBody::body(large, false))).await;
    assert_eq!(res.status(), 200);
    let second = s.fake.issued("access")[1].clone();
    assert_eq!(tokens(&s), [(first, false), (second, true)]);
    assert_eq!(s.fake.grants("refresh_token").len(), 1);

    // A token the upstream keeps refusing: one refresh, then its 401 (the body is gone), and no loop.
    s.fake.set(|b| b.api_accepts = false);
    let res = through(&s.app, Method::POST, "/upload", Some(PatternBody::body(large, true))).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["connections-token-refreshed"], "true");
    assert_eq!(s.fake.grants("refresh_token").len(), 2);
    // A small one is sent again once, then its 401 comes back without the header: nothing to retry.
    let res = through(&s.app, Method::POST, "/upload", Some("small".into())).await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("connections-token-refreshed").is_none());
    assert_eq!(s.fake.grants("refresh_token").len(), 3);
    assert_eq!(s.fake.api_calls().len(), 5, "the streamed one once, the small one twice");
}
