//! OAuth2 connections through the fake provider: the consent as a browser goes through it, and the
//! setup the refresh tests share (an app with `zoho_main` connected and its API base URL at the
//! fake's protected API).

use connections::config::Config;
use serde_json::{Value, json};

use super::api::{Api, invoke};
use super::app::{TestApp, TestDb, loopback};
use super::browser::{Browser, Page, connect_href, local};
use super::fake_provider::{Behaviour, FakeProvider};
use super::fixtures::{connection, oauth_service_at};

/// Connects an OAuth2 connection of the browser's user through the fake provider's consent.
pub async fn connect_oauth(browser: &Browser, link: &str) {
    let details = browser.get(&format!("/admin/connections/{link}")).await;
    let to_provider = browser.get(&connect_href(&details)).await;
    assert_eq!(to_provider.status, 303, "connect: {}", to_provider.body);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let back = client.get(to_provider.header("location")).send().await.unwrap();
    let callback = local(back.headers()["location"].to_str().unwrap());
    assert_eq!(browser.get(&callback).await.header("location"), format!("/admin/connections/{link}"));
}

/// An app, the fake provider, the admin's API client and browser, and `zoho_main` connected to an
/// OAuth2 service whose API base URL is the fake's protected API.
pub struct Setup {
    pub app: TestApp,
    pub fake: FakeProvider,
    pub api: Api,
    pub browser: Browser,
}

/// The setup with the app configured by `adjust`, the fake by `behaviour` and the service body
/// changed by `service`.
pub async fn setup_with(
    adjust: impl FnOnce(&mut Config),
    behaviour: Behaviour,
    service: impl FnOnce(&mut Value),
) -> Setup {
    let app = TestApp::spawn_with(|config| {
        loopback(config);
        adjust(config);
    })
    .await;
    setup_app(app, behaviour, service).await
}

/// The setup on a database of the caller's (configured by `adjust`).
pub async fn setup_on(db: TestDb, adjust: impl FnOnce(&mut Config)) -> Setup {
    setup_app(TestApp::spawn_on(db, adjust).await, Behaviour::default(), |_| {}).await
}

async fn setup_app(app: TestApp, behaviour: Behaviour, service: impl FnOnce(&mut Value)) -> Setup {
    let fake = FakeProvider::start_with(behaviour).await;
    let api = Api::admin(&app).await;
    let mut body = oauth_service_at(&fake, "zoho");
    body["api_base_url"] = fake.api_url().into();
    service(&mut body);
    api.create("/api/v1/services", &body).await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_main", &["read", "offline_access"])).await;
    let browser = app.admin().await;
    connect_oauth(&browser, "zoho_main").await;
    assert_eq!(fake.token_count(), 1, "the code exchange");
    Setup { app, fake, api, browser }
}

pub async fn setup() -> Setup {
    setup_with(|_| {}, Behaviour::default(), |_| {}).await
}

/// Calls the protected API's `/me` through `zoho_main`.
pub async fn me(api: &Api) -> Page {
    invoke(api, "zoho_main", json!({"path": "/me"})).await
}

/// The refresh tokens the app presented, in order.
pub fn presented(fake: &FakeProvider) -> Vec<String> {
    fake.grants("refresh_token").iter().map(|c| c.params["refresh_token"].clone()).collect()
}
