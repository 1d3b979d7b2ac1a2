//! A connection's secrets go only where they were entrusted: a second SDAdmin who edits a service's
//! URLs (API base URL, token, refresh or revoke endpoint) cannot make another owner's credentials,
//! tokens or the service's client secret travel to a host of theirs. Each attack path sends nothing
//! to the attacker's listener, and the victim's connection says why it needs a reconnect.

use connections::db::schema::services;
use connections::models::user::Role;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::support::{
    Api, FakeProvider, TestApp, Upstream, audit, basic_service, canary, connect_oauth, connection, invoke,
    oauth_service_at, row, spawn_app,
};

/// A second SDAdmin with an API token of their own.
async fn mallory(app: &TestApp) -> Api {
    app.add_user("mallory", Role::SdAdmin, "mallory-password-123").await;
    Api::for_user(app, "mallory").await
}

/// An API key service under the upstream, and the admin's connection `victim` to it, connected.
async fn key_victim(app: &TestApp, api: &Api, up: &Upstream) -> String {
    let service = json!({
        "name": "Desk", "link_name": "desk", "auth_type": "api_key",
        "api_base_url": format!("{}/api", up.url),
        "api_key": {"param_type": "header", "params": [{"name": "X-Api-Key", "display_name": "API Key"}]}
    });
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection("desk", "victim", &[])).await;
    let key = canary("key");
    let res = api.put("/api/v1/connections/victim/credentials", &json!({"params": {"X-Api-Key": key}})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(invoke(api, "victim", json!({"path": "/ok"})).await.json()["status"], 200);
    assert_eq!(row(app, "victim").await.status, "connected");
    key
}

/// An OAuth2 service at the fake provider, with its API as the base URL, and the admin's connection
/// `victim`, connected through the consent.
async fn oauth_victim(app: &TestApp, api: &Api, fake: &FakeProvider) {
    let mut service = oauth_service_at(fake, "desk");
    service["api_base_url"] = fake.api_url().into();
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection("desk", "victim", &["read", "offline_access"])).await;
    connect_oauth(&app.admin().await, "victim").await;
    assert_eq!(row(app, "victim").await.status, "connected");
}

fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"].as_str().unwrap_or_default(),
        body["error"]["message"].as_str().unwrap_or_default(),
    )
}

/// The victim's connection as the API shows it: (status, status_message).
async fn victim(api: &Api) -> (String, String) {
    let body = api.get("/api/v1/connections/victim").await.json();
    (
        body["status"].as_str().unwrap().to_owned(),
        body["status_message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn moving_the_api_base_url_needs_a_confirmation_and_then_sends_no_one_elses_api_key() {
    let (app, up, attacker) = (spawn_app().await, Upstream::start().await, Upstream::start().await);
    let admin = Api::admin(&app).await;
    key_victim(&app, &admin, &up).await;
    let mallory = mallory(&app).await;

    let change = json!({"api_base_url": format!("{}/api", attacker.url)});
    let res = mallory.patch("/api/v1/services/desk", &change).await;
    assert_eq!(res.status, 409, "{}", res.body);
    let body = res.json();
    let (code, message) = error_of(&body);
    assert_eq!(code, "confirmation_required");
    assert!(message.contains("1 connection(s)") && message.contains("admin (1)"), "{message}");
    assert!(message.contains(&format!("to {}", attacker.url)), "{message}");
    assert_eq!(
        body["error"]["connections"],
        json!([{"link_name": "victim", "name": "Connection victim", "owner": "admin"}])
    );
    let unchanged = admin.get("/api/v1/services/desk").await.json();
    assert_eq!(
        unchanged["api_base_url"],
        format!("{}/api", up.url),
        "nothing changed without the confirmation"
    );
    assert_eq!(victim(&admin).await.0, "connected");

    let res = mallory.patch("/api/v1/services/desk?confirm_disconnect=true", &change).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = invoke(&mallory, "victim", json!({"path": "/steal"})).await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert_eq!(res.json()["error"]["status"], "needs_reconnect");
    assert_eq!(attacker.count(), 0, "the attacker received: {:?}", attacker.received());

    let (status, why) = victim(&admin).await;
    assert_eq!(status, "needs_reconnect");
    assert!(why.contains("mallory changed where the service") && why.contains(&attacker.url), "{why}");
    assert!(why.contains("reconnect"), "{why}");
    let entry = audit(&app, "service.update").await.pop().unwrap();
    let details: Value = serde_json::from_str(&entry.details).unwrap();
    assert_eq!(entry.actor, "mallory");
    assert_eq!(details["connections_set_aside"], json!(["victim"]));
    assert!(details["destinations_moved"][0].as_str().unwrap().contains("API base URL moves"), "{details}");

    // The owner reconnects: the credentials are now entrusted to the new address, and go there.
    let res = admin
        .put("/api/v1/connections/victim/credentials", &json!({"params": {"X-Api-Key": canary("key")}}))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(invoke(&admin, "victim", json!({"path": "/now"})).await.json()["status"], 200);
    assert_eq!(attacker.count(), 1);
}

#[tokio::test]
async fn a_path_change_under_the_same_origin_needs_no_confirmation_and_is_audited() {
    let (app, up) = (spawn_app().await, Upstream::start().await);
    let admin = Api::admin(&app).await;
    key_victim(&app, &admin, &up).await;
    let mallory = mallory(&app).await;
    let res =
        mallory.patch("/api/v1/services/desk", &json!({"api_base_url": format!("{}/v2", up.url)})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(victim(&admin).await.0, "connected");
    assert_eq!(invoke(&admin, "victim", json!({"path": "/x"})).await.json()["status"], 200);
    assert_eq!(up.received().last().unwrap().path, "/v2/x");
    let details: Value =
        serde_json::from_str(&audit(&app, "service.update").await.pop().unwrap().details).unwrap();
    assert_eq!(details["changed"], json!(["api_base_url"]));
    assert_eq!(details["connections_set_aside"], json!([]));
}

#[tokio::test]
async fn clearing_the_api_base_url_does_not_let_an_absolute_url_carry_a_basic_password() {
    let (app, up, attacker) = (spawn_app().await, Upstream::start().await, Upstream::start().await);
    let admin = Api::admin(&app).await;
    let mut service = basic_service("desk");
    service["api_base_url"] = format!("{}/api", up.url).into();
    admin.create("/api/v1/services", &service).await;
    admin.create("/api/v1/connections", &connection("desk", "victim", &[])).await;
    let creds = json!({"username": "agent", "password": canary("password")});
    assert_eq!(admin.put("/api/v1/connections/victim/credentials", &creds).await.status, 200);
    let mallory = mallory(&app).await;

    let res = mallory.patch("/api/v1/services/desk", &json!({"api_base_url": ""})).await;
    assert_eq!(res.status, 200, "dropping a destination sends nothing anywhere: {}", res.body);
    let res = invoke(&mallory, "victim", json!({"url": format!("{}/steal", attacker.url)})).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.json()["errors"]["service"][0].as_str().unwrap().contains("no API base URL"), "{}", res.body);
    assert_eq!(attacker.count() + up.count(), 0);
}

#[tokio::test]
async fn moving_the_token_url_sends_neither_the_refresh_token_nor_the_client_secret() {
    let (app, fake, attacker) = (spawn_app().await, FakeProvider::start().await, Upstream::start().await);
    let admin = Api::admin(&app).await;
    oauth_victim(&app, &admin, &fake).await;
    let mallory = mallory(&app).await;
    let token_url = format!("{}/token", attacker.url);

    // The client secret was entered for the provider: moving its endpoint needs it typed again.
    let res = mallory.patch("/api/v1/services/desk", &json!({"oauth2": {"token_url": token_url}})).await;
    assert_eq!(res.status, 422, "{}", res.body);
    let why = res.json()["errors"]["oauth2.client_secret"][0].as_str().unwrap().to_owned();
    assert!(why.contains("enter the client secret again") && why.contains("access token URL"), "{why}");

    let change = json!({"oauth2": {"token_url": token_url, "client_secret": "mallorys-own-secret"}});
    let res = mallory.patch("/api/v1/services/desk", &change).await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert_eq!(res.json()["error"]["connections"][0]["owner"], "admin");
    assert_eq!(mallory.patch("/api/v1/services/desk?confirm_disconnect=true", &change).await.status, 200);

    // The provider now refuses the access token: a script's call would have refreshed it.
    for token in fake.issued("access") {
        fake.kill(&token);
    }
    let tokens_before = fake.token_count();
    let res = invoke(&mallory, "victim", json!({"path": "/tickets"})).await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert_eq!(attacker.count(), 0, "the attacker received: {:?}", attacker.received());
    assert_eq!(fake.token_count(), tokens_before);
    let (status, why) = victim(&admin).await;
    assert_eq!(status, "needs_reconnect");
    assert!(why.contains("access token URL moves") && why.contains(&attacker.url), "{why}");
}

/// Defence in depth: a service changed behind the app's back (in SQL) still sends nothing where the
/// connection's tokens and the client secret were not entrusted.
#[tokio::test]
async fn a_token_url_changed_in_the_database_gets_no_refresh_token_and_no_client_secret() {
    let (app, fake, attacker) = (spawn_app().await, FakeProvider::start().await, Upstream::start().await);
    let admin = Api::admin(&app).await;
    oauth_victim(&app, &admin, &fake).await;
    let token_url = format!("{}/token", attacker.url);
    app.state
        .db
        .run(move |c| {
            let config: String = services::table
                .filter(services::link_name.eq("desk"))
                .select(services::config)
                .get_result(c)?;
            let mut config: Value = serde_json::from_str(&config).unwrap();
            config["token_url"] = token_url.into();
            diesel::update(services::table.filter(services::link_name.eq("desk")))
                .set(services::config.eq(config.to_string()))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    for token in fake.issued("access") {
        fake.kill(&token);
    }
    let res = invoke(&admin, "victim", json!({"path": "/tickets"})).await;
    assert_eq!(res.json()["status"], 401, "the upstream's refusal comes back as it is: {}", res.body);
    assert_eq!(attacker.count(), 0, "the attacker received: {:?}", attacker.received());
    let (status, why) = victim(&admin).await;
    assert_eq!(status, "needs_reconnect");
    assert!(why.contains("refresh token URL") && why.contains("were entrusted to"), "{why}");
}

#[tokio::test]
async fn moving_the_revoke_url_then_revoking_sends_no_token_anywhere() {
    let (app, fake, attacker) = (spawn_app().await, FakeProvider::start().await, Upstream::start().await);
    let admin = Api::admin(&app).await;
    oauth_victim(&app, &admin, &fake).await;
    let mallory = mallory(&app).await;
    let change = json!({"oauth2": {
        "revoke_url": format!("{}/revoke", attacker.url),
        "client_secret": "mallorys-own-secret"
    }});
    assert_eq!(mallory.patch("/api/v1/services/desk", &change).await.status, 409);
    assert_eq!(mallory.patch("/api/v1/services/desk?confirm_disconnect=true", &change).await.status, 200);
    assert_eq!(victim(&admin).await.0, "needs_reconnect");

    let res = mallory.post("/api/v1/connections/victim/revoke", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let outcome = res.json()["revoke_outcome"].as_str().unwrap().to_owned();
    assert!(outcome.contains("were not sent to") && outcome.contains(&attacker.url), "{outcome}");
    assert_eq!(attacker.count(), 0, "the attacker received: {:?}", attacker.received());
    assert!(fake.revoke_calls().is_empty());
    let stored = row(&app, "victim").await;
    assert_eq!(stored.status, "disconnected");
    assert!(stored.refresh_token.is_none() && stored.access_token.is_none());
}

#[tokio::test]
async fn the_edit_form_asks_for_a_confirmation_that_names_the_owners_before_saving() {
    let (app, up, attacker) = (spawn_app().await, Upstream::start().await, Upstream::start().await);
    let api = Api::admin(&app).await;
    key_victim(&app, &api, &up).await;
    app.add_user("mallory", Role::SdAdmin, "mallory-password-123").await;
    let browser = app.browser();
    assert_eq!(browser.sign_in("mallory", "mallory-password-123").await.status, 303);
    let form = [
        ("name", "Desk"),
        ("auth_type", "api_key"),
        ("param_type", "header"),
        ("param_name", "X-Api-Key"),
        ("param_display", "API Key"),
    ];
    let base = format!("{}/api", attacker.url);
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    fields.push(("api_base_url", &base));
    let page = browser.submit("/admin/services/desk/edit", "/admin/services/desk", &fields).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("Credentials would go to a new address"), "{}", page.body);
    assert!(page.body.contains("owned by admin") && page.body.contains("Save and set aside 1 connection(s)"));
    assert!(page.body.contains(&format!("value=\"{base}\"")), "the form keeps what was typed");
    assert_eq!(row(&app, "victim").await.status, "connected", "nothing saved yet");

    fields.push(("confirm_reconnects", "yes"));
    let saved = browser.submit("/admin/services/desk/edit", "/admin/services/desk", &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(row(&app, "victim").await.status, "needs_reconnect");
    let details = browser.get("/admin/connections/victim").await;
    assert!(details.body.contains("mallory changed where the service"), "the owner's page says why");
}

/// Secrets stored before their destinations were recorded are entrusted, at the next start, to
/// where their service sends them then; until then nothing would send them anywhere.
#[tokio::test]
async fn secrets_without_recorded_destinations_get_their_services_at_the_next_start() {
    use connections::db::schema::connections as table;
    let (app, up) = (spawn_app().await, Upstream::start().await);
    let api = Api::admin(&app).await;
    key_victim(&app, &api, &up).await;
    app.state
        .db
        .run(|c| {
            diesel::update(table::table).set(table::entrusted_origins.eq(None::<String>)).execute(c)?;
            diesel::update(services::table)
                .set(services::client_secret_origins.eq(None::<String>))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let app = TestApp::spawn_on(app.stop().await, |config| {
        config.outbound_allow_cidrs = vec![connections::config::Cidr::parse("127.0.0.1/32").unwrap()];
        config.outbound_allow_http = true;
    })
    .await;
    let stored = row(&app, "victim").await;
    assert_eq!(stored.entrusted().get(connections::domain::destinations::Role::Api), Some(up.url.as_str()));
    let api = Api::admin(&app).await;
    assert_eq!(invoke(&api, "victim", json!({"path": "/after-restart"})).await.json()["status"], 200);
}
