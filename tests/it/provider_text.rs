//! Text a provider sends back (an OAuth error description) is shown on pages and stored: a token
//! endpoint that echoes the request it refuses must not put the refresh token, the authorization
//! code, the PKCE verifier or the client secret — as sent, form-encoded, or inside the Basic header —
//! into a message, a column or an answer.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::support::{
    Api, FakeProvider, assert_hidden, connect_href, connect_oauth, connection, database_text, events, invoke,
    local, oauth_service_at, spawn_app, text_of,
};

/// Every form in which the client secret left: as is, form-encoded, and in the Basic header.
fn client_secret_forms(fake: &FakeProvider) -> Vec<String> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    vec![
        fake.client_secret.clone(),
        enc(&fake.client_secret),
        STANDARD.encode(format!("{}:{}", enc(&fake.client_id), enc(&fake.client_secret))),
    ]
}

#[tokio::test]
async fn a_refresh_refusal_that_echoes_the_request_shows_no_secret() {
    let (app, fake) = (spawn_app().await, FakeProvider::start().await);
    let api = Api::admin(&app).await;
    let mut service = oauth_service_at(&fake, "desk");
    service["api_base_url"] = fake.api_url().into();
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection("desk", "desk", &["read", "offline_access"])).await;
    connect_oauth(&app.admin().await, "desk").await;
    let refresh_token = fake.issued("refresh").pop().unwrap();
    for token in fake.issued("access") {
        fake.kill(&token);
    }
    fake.set(|b| {
        b.token_error = Some((400, "invalid_grant"));
        b.echo_in_errors = true;
    });

    let answer = invoke(&api, "desk", json!({"path": "/tickets"})).await;
    let shown = api.get("/api/v1/connections/desk").await;
    let message = shown.json()["status_message"].as_str().unwrap().to_owned();
    assert!(message.contains("[redacted]"), "the echo is there, masked: {message}");
    let page = app.admin().await.get("/admin/connections/desk").await;
    let mut secrets = client_secret_forms(&fake);
    secrets.push(refresh_token);
    assert_hidden(&answer.body, &secrets, "the invoke answer");
    assert_hidden(&shown.body, &secrets, "the connection's JSON");
    assert_hidden(&text_of(&page), &secrets, "the details page");
    assert_hidden(&format!("{:?}", events(&app, "desk").await), &secrets, "the activity log");
    assert_hidden(&database_text(&app).await, &secrets, "the database");
}

#[tokio::test]
async fn a_code_exchange_refusal_that_echoes_the_request_shows_no_secret() {
    let (app, fake) = (spawn_app().await, FakeProvider::start().await);
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &oauth_service_at(&fake, "desk")).await;
    api.create("/api/v1/connections", &connection("desk", "desk", &["read"])).await;
    fake.set(|b| {
        b.token_error = Some((400, "invalid_request"));
        b.echo_in_errors = true;
    });
    let browser = app.admin().await;
    let to_provider = browser.get(&connect_href(&browser.get("/admin/connections/desk").await)).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let back = client.get(to_provider.header("location")).send().await.unwrap();
    let callback = local(back.headers()["location"].to_str().unwrap());
    let code = url::Url::parse(&format!("http://x{callback}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(browser.get(&callback).await.status, 303);
    let page = browser.get("/admin/connections/desk").await;
    assert!(text_of(&page).contains("The code exchange failed"), "{}", text_of(&page));
    assert!(text_of(&page).contains("[redacted]"), "{}", text_of(&page));

    let verifier = fake.token_calls().pop().unwrap().params["code_verifier"].clone();
    let mut secrets = client_secret_forms(&fake);
    secrets.extend([code, verifier]);
    assert_hidden(&page.body, &secrets, "the details page and its flash");
    assert_hidden(&api.get("/api/v1/connections/desk").await.body, &secrets, "the connection's JSON");
    assert_hidden(&database_text(&app).await, &secrets, "the database");
}
