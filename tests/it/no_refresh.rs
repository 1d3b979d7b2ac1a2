//! A restored copy started beside the original with `--no-refresh`: it calls no token or revoke
//! endpoint (an expired token is a clear 503, a revoke deletes only the copy's tokens, connecting is
//! refused, the background pass does nothing) and records nothing about refreshes, so the original
//! keeps its rotated refresh tokens.

use connections::models::connection::ConnectionRow;
use serde_json::json;

use crate::support::{
    Api, FakeProvider, TestApp, connect_href, connect_oauth, connection, invoke, loopback, oauth_service_at,
    row, spawn_app, text_of,
};

/// The copy: `zoho_main` connected through the fake by the original, which then stops, and the same
/// database started again with refreshes off.
async fn restored_copy() -> (TestApp, FakeProvider, Api) {
    let original = spawn_app().await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&original).await;
    let mut service = oauth_service_at(&fake, "zoho");
    service["api_base_url"] = fake.api_url().into();
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_main", &["read", "offline_access"])).await;
    connect_oauth(&original.admin().await, "zoho_main").await;
    assert_eq!(fake.token_count(), 1, "the code exchange");
    let copy = TestApp::spawn_on(original.stop().await, |config| {
        loopback(config);
        config.no_refresh = true;
    })
    .await;
    let api = Api::admin(&copy).await;
    (copy, fake, api)
}

/// What a refresh (or an attempt at one) would change.
fn refresh_state(row: &ConnectionRow) -> String {
    format!(
        "{:?}",
        (
            &row.status,
            &row.status_message,
            &row.access_token,
            &row.refresh_token,
            row.expires_at,
            row.token_version,
            &row.lease_holder,
            row.refresh_failures,
            row.retry_after,
            row.last_refresh_at
        )
    )
}

#[tokio::test]
async fn an_expired_token_is_not_refreshed_and_the_invoke_says_why_with_a_503() {
    let (app, fake, api) = restored_copy().await;
    let before = refresh_state(&row(&app, "zoho_main").await);

    // Within the margin but not expired: the stored token still serves, unrefreshed.
    app.clock.advance(3600 - 30);
    let res = invoke(&api, "zoho_main", json!({"path": "/me"})).await;
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{}", res.body);

    app.clock.advance(30);
    let res = invoke(&api, "zoho_main", json!({"path": "/me"})).await;
    assert_eq!(res.status, 503, "{}", res.body);
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("refreshes off (--no-refresh)"), "{message}");

    // A 401 on a live token would refresh and retry: the upstream's 401 is the answer instead.
    app.clock.advance(-3600);
    fake.kill(&fake.issued("access")[0]);
    let res = invoke(&api, "zoho_main", json!({"path": "/me"})).await;
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(401)), "{}", res.body);

    assert_eq!(fake.token_count(), 1, "no token request from the copy");
    assert_eq!(
        refresh_state(&row(&app, "zoho_main").await),
        before,
        "no lease, failure or cooldown recorded"
    );
}

#[tokio::test]
async fn the_background_pass_refreshes_nothing() {
    let (app, fake, _) = restored_copy().await;
    let before = refresh_state(&row(&app, "zoho_main").await);
    app.clock.advance(3600 - 30);
    connections::ops::access_tokens::refresh_due(&app.state).await.unwrap();
    assert_eq!(fake.token_count(), 1);
    assert_eq!(refresh_state(&row(&app, "zoho_main").await), before);
}

#[tokio::test]
async fn a_revoke_calls_no_provider_and_says_so() {
    let (app, fake, api) = restored_copy().await;
    let res = api.post("/api/v1/connections/zoho_main/revoke", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let outcome = res.json()["revoke_outcome"].as_str().unwrap().to_owned();
    assert!(
        outcome.starts_with("Not revoked at the provider") && outcome.contains("--no-refresh"),
        "{outcome}"
    );
    assert!(fake.revoke_calls().is_empty());
    let stored = row(&app, "zoho_main").await;
    assert_eq!(stored.status, "disconnected");
    assert!(stored.access_token.is_none() && stored.refresh_token.is_none(), "the copy's tokens are gone");
    assert!(fake.is_active(&fake.issued("refresh")[0]), "the original's refresh token lives");
}

#[tokio::test]
async fn connecting_through_the_provider_is_refused_before_the_consent() {
    let (app, fake, api) = restored_copy().await;
    let consents = fake.authorize_calls().len();
    let res = api.post("/api/v1/connections/zoho_main/authorize", &json!({})).await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert!(res.json()["error"]["message"].as_str().unwrap().contains("--no-refresh"), "{}", res.body);
    let browser = app.admin().await;
    let details = browser.get("/admin/connections/zoho_main").await;
    let page = browser.get(&connect_href(&details)).await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(text_of(&page).contains("--no-refresh"), "{}", text_of(&page));
    assert_eq!((fake.authorize_calls().len(), fake.token_count()), (consents, 1));
    assert_eq!(row(&app, "zoho_main").await.status, "connected", "left as it was");
}
