//! Connections through the pages and the JSON API: create (scope rules), connect with API key and
//! Basic credentials, and the proof that a stored value never comes back — in no response, and not
//! in plain text anywhere in the database.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::support::{
    Api, FakeProvider, Seen, T0, api_key_service, assert_hidden, audit, basic_service, canary, connection,
    database_text, oauth_service_at, row, spawn_app, text_of,
};

#[tokio::test]
async fn an_api_key_connection_is_created_and_connected_on_the_pages_and_its_values_never_come_back() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    let browser = app.admin().await;
    let seen = Seen::default();

    let form = seen.keep(browser.get("/admin/connections/new?service=desk").await);
    assert_eq!(form.status, 200);
    let created = seen.keep(
        browser
            .submit(
                "/admin/connections/new",
                "/admin/connections",
                &[("service", "desk"), ("name", "Desk (prod)"), ("link_name", ""), ("action", "connect")],
            )
            .await,
    );
    assert_eq!(created.status, 303, "{}", created.body);
    // "Create and Connect" goes straight on to the credentials form of the suggested link name.
    let to_connect = created.header("location").to_owned();
    assert!(to_connect.starts_with("/admin/connections/desk_prod/connect"), "{to_connect}");
    let page = seen.keep(browser.get(&to_connect).await);
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("type=\"password\"").count(), 2, "one secret field per parameter");
    assert!(
        page.body.contains("name=\"param.X-Api-Key\"")
            && page.body.contains("API Key")
            && page.body.contains("Organisation")
    );
    assert_eq!(row(&app, "desk_prod").await.status, "not_connected");

    let (key, org) = (canary("api-key"), canary("org"));
    let path = "/admin/connections/desk_prod/connect";
    let done =
        seen.keep(browser.submit(path, path, &[("param.X-Api-Key", &key), ("param.X-Org-Id", &org)]).await);
    assert_eq!(done.header("location"), "/admin/connections/desk_prod");
    let details = seen.keep(browser.get("/admin/connections/desk_prod").await);
    assert!(text_of(&details).contains("“Desk (prod)” is connected."), "{}", text_of(&details));
    assert!(details.body.contains("Connected") && details.body.contains("Reconnect"));

    // Stored sealed, readable with the keyring only.
    let stored = row(&app, "desk_prod").await;
    assert_eq!(stored.status, "connected");
    assert_eq!(stored.connected_at, Some(T0));
    let sealed = stored.credentials.clone().expect("credentials stored");
    assert_hidden(&String::from_utf8_lossy(&sealed), &[key.clone(), org.clone()], "the credentials column");
    let opened = format!("{:?}", stored.open_credentials(&app.state.keyring).unwrap().unwrap());
    assert_eq!(opened, "ApiKey([\"X-Api-Key\", \"X-Org-Id\"] = [redacted])", "Debug prints no value");

    // Reconnecting replaces the values.
    let new_key = canary("api-key-2");
    let again = seen
        .keep(browser.submit(path, path, &[("param.X-Api-Key", &new_key), ("param.X-Org-Id", &org)]).await);
    assert_eq!(again.status, 303);
    let stored = row(&app, "desk_prod").await;
    assert_ne!(stored.credentials, Some(sealed), "a new ciphertext");
    let json = serde_json::to_value(match stored.open_credentials(&app.state.keyring).unwrap().unwrap() {
        connections::domain::connection::Credentials::ApiKey { values } => values,
        other => panic!("{other:?}"),
    })
    .unwrap();
    assert_eq!(json, json!({"X-Api-Key": new_key, "X-Org-Id": org}));

    // Every view of it, to the owner: no value.
    for path in [
        "/admin/connections",
        "/admin/connections?owner=any",
        "/admin/connections/desk_prod",
        "/admin/connections/desk_prod/edit",
        path,
    ] {
        assert_eq!(seen.keep(browser.get(path).await).status, 200, "{path}");
    }
    for path in ["/api/v1/connections", "/api/v1/connections?owner=any", "/api/v1/connections/desk_prod"] {
        assert_eq!(seen.keep(api.get(path).await).status, 200, "{path}");
    }
    let secrets = [key, org, new_key];
    assert_hidden(&seen.text(), &secrets, "a response");
    assert_hidden(&database_text(&app).await, &secrets, "the database");
    let connect = audit(&app, "connection.connect").await;
    assert_eq!(connect.len(), 2);
    assert_eq!((connect[0].actor.as_str(), connect[0].target.as_str()), ("admin", "desk_prod"));
}

#[tokio::test]
async fn a_basic_connection_is_created_and_connected_through_the_api_without_revealing_the_password() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    let seen = Seen::default();
    api.create("/api/v1/services", &basic_service("legacy")).await;

    let res = seen.keep(api.post("/api/v1/connections", &connection("legacy", "legacy_admin", &[])).await);
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.header("location"), "/api/v1/connections/legacy_admin");
    let created = res.json();
    let mut keys: Vec<&str> = created.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    for key in [
        "auth_type",
        "connected_at",
        "created_at",
        "expires_at",
        "last_error",
        "link_name",
        "name",
        "owner",
        "scopes_granted",
        "scopes_requested",
        "service",
        "status",
        "updated_at",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert_eq!(
        (created["status"].as_str(), created["owner"].as_str(), created["service"].as_str()),
        (Some("not_connected"), Some("admin"), Some("legacy"))
    );
    assert_eq!(created["auth_type"], "basic");

    let password = canary("password");
    let res = seen.keep(
        api.put(
            "/api/v1/connections/legacy_admin/credentials",
            &json!({"username": "svc-user", "password": password}),
        )
        .await,
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let connected = res.json();
    assert_eq!(connected["status"], "connected");
    assert_eq!(connected["connected_at"].as_str(), Some("2026-09-21T14:13:20Z"));
    for key in ["password", "username", "credentials", "params", "access_token", "refresh_token"] {
        assert!(connected.get(key).is_none(), "{key} is never answered");
    }
    seen.keep(api.get("/api/v1/connections/legacy_admin").await);
    seen.keep(api.get("/api/v1/connections").await);
    let browser = app.admin().await;
    seen.keep(browser.get("/admin/connections/legacy_admin").await);
    let form = seen.keep(browser.get("/admin/connections/legacy_admin/connect").await);
    assert!(form.body.contains("name=\"username\"") && form.body.contains("type=\"password\""));

    match row(&app, "legacy_admin").await.open_credentials(&app.state.keyring).unwrap().unwrap() {
        connections::domain::connection::Credentials::Basic { username, password: stored } => {
            assert_eq!((username.as_str(), stored.as_str()), ("svc-user", password.as_str()));
        }
        other => panic!("{other:?}"),
    }
    assert_hidden(&seen.text(), std::slice::from_ref(&password), "a response");
    assert_hidden(&database_text(&app).await, &[password], "the database");
}

#[tokio::test]
async fn bad_credentials_answer_422_with_messages_that_quote_no_value_and_store_nothing() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    api.create("/api/v1/services", &basic_service("legacy")).await;
    api.create("/api/v1/connections", &connection("desk", "desk_one", &[])).await;
    api.create("/api/v1/connections", &connection("legacy", "legacy_one", &[])).await;
    let (key, stray, password) = (canary("key"), canary("stray"), canary("password"));

    let res = api
        .put(
            "/api/v1/connections/desk_one/credentials",
            &json!({"params": {"X-Api-Key": key, "X-Nope": stray}}),
        )
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    let errors = &res.json()["errors"];
    assert_eq!(errors["params.X-Org-Id"][0], "Enter the Organisation.");
    assert!(errors["params"][0].as_str().unwrap().contains("X-Nope"), "{errors}");
    assert_hidden(&res.body, &[key.clone(), stray.clone()], "a 422 answer");

    // A value of the wrong JSON type is refused without quoting it.
    let res = api
        .put(
            "/api/v1/connections/desk_one/credentials",
            &json!({"params": {"X-Api-Key": 98765432123456789_u64, "X-Org-Id": "1"}}),
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("invalid type: integer") && !res.body.contains("98765432123456789"),
        "{}",
        res.body
    );
    let res = api
        .put("/api/v1/connections/legacy_one/credentials", &json!({"username": "", "password": password}))
        .await;
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["errors"]["username"][0], "Enter the username.");
    assert_hidden(&res.body, std::slice::from_ref(&password), "a 422 answer");

    let browser = app.admin().await;
    let path = "/admin/connections/legacy_one/connect";
    let page = browser.submit(path, path, &[("username", "svc"), ("password", "")]).await;
    assert_eq!(page.status, 422);
    assert!(text_of(&page).contains("Enter the password."));
    let path = "/admin/connections/desk_one/connect";
    let page = browser.submit(path, path, &[("param.X-Api-Key", &key), ("param.X-Org-Id", "  ")]).await;
    assert_eq!(page.status, 422);
    assert!(text_of(&page).contains("Enter the Organisation."), "{}", text_of(&page));
    assert_hidden(&page.body, std::slice::from_ref(&key), "the re-rendered form");

    for link in ["desk_one", "legacy_one"] {
        let stored = row(&app, link).await;
        assert_eq!((stored.status.as_str(), stored.credentials.is_none()), ("not_connected", true), "{link}");
    }
    // An OAuth2 connection takes no credentials.
    let fake = FakeProvider::start().await;
    api.create("/api/v1/services", &oauth_service_at(&fake, "zoho")).await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_one", &["read"])).await;
    let res =
        api.put("/api/v1/connections/zoho_one/credentials", &json!({"params": {"X-Api-Key": key}})).await;
    assert_eq!(res.status, 422);
    assert!(res.json()["errors"]["credentials"][0].as_str().unwrap().contains("consent"));
}

#[tokio::test]
async fn oauth2_scopes_must_be_a_subset_of_the_service_scopes_with_at_least_one() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    let fake = FakeProvider::start().await;
    api.create("/api/v1/services", &oauth_service_at(&fake, "zoho")).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;

    let res = api.post("/api/v1/connections", &connection("zoho", "zoho_bad", &["read", "admin"])).await;
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["errors"]["scopes"][0], "\"admin\" is not a scope of this service.");
    let res = api.post("/api/v1/connections", &connection("zoho", "zoho_none", &[])).await;
    assert_eq!(res.json()["errors"]["scopes"][0], "Choose at least one scope.");
    let res = api.post("/api/v1/connections", &connection("desk", "desk_scoped", &["read"])).await;
    assert_eq!(res.json()["errors"]["scopes"][0], "Only OAuth2 connections have scopes.");
    let res = api.post("/api/v1/connections", &connection("nowhere", "lost", &[])).await;
    assert_eq!(res.json()["errors"]["service"][0], "Choose a service.");
    let res = api.post("/api/v1/connections", &connection("zoho", "Bad Link", &["read"])).await;
    assert!(res.json()["errors"]["link_name"].is_array(), "{}", res.body);

    // Duplicates collapse and the service's order wins.
    let created = api
        .create("/api/v1/connections", &connection("zoho", "zoho_ok", &["offline_access", "read", "read"]))
        .await;
    assert_eq!(created["scopes_requested"], json!(["read", "offline_access"]));
    assert_eq!(created["scopes_granted"], Value::Null);
    let res = api.post("/api/v1/connections", &connection("zoho", "zoho_ok", &["read"])).await;
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["errors"]["link_name"][0], "This link name is already taken; choose another.");

    // The form: one checkbox per scope, labelled; a bad choice comes back with its message and 422.
    let browser = app.admin().await;
    let picker = browser.get("/admin/connections/new?service=__new__").await;
    assert_eq!(
        picker.header("location"),
        "/admin/services/new?return_to=%2Fadmin%2Fconnections%2Fnew",
        "create a new service, then come back"
    );
    let form = browser.get("/admin/connections/new?service=zoho").await;
    assert_eq!(form.body.matches("name=\"scope\"").count(), 3);
    for label in ["Read tickets", "Update tickets", "Stay connected"] {
        assert!(form.body.contains(label), "{label}");
    }
    let page = browser
        .submit(
            "/admin/connections/new",
            "/admin/connections",
            &[("service", "zoho"), ("name", "No scopes"), ("link_name", "no_scopes")],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(text_of(&page).contains("Choose at least one scope."));
    let page = browser
        .submit(
            "/admin/connections/new",
            "/admin/connections",
            &[
                ("service", "zoho"),
                ("name", "Two"),
                ("link_name", "two"),
                ("scope", "write"),
                ("scope", "read"),
            ],
        )
        .await;
    assert_eq!(page.header("location"), "/admin/connections/two");
    assert_eq!(row(&app, "two").await.scopes_requested(), ["read", "write"]);
    assert_eq!(audit(&app, "connection.create").await.len(), 2);
}

#[tokio::test]
async fn a_sealed_credential_copied_to_another_row_or_column_does_not_open() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    for link in ["desk_a", "desk_b"] {
        api.create("/api/v1/connections", &connection("desk", link, &[])).await;
        let body = json!({"params": {"X-Api-Key": canary(link), "X-Org-Id": "1"}});
        assert_eq!(api.put(&format!("/api/v1/connections/{link}/credentials"), &body).await.status, 200);
    }
    let (a, b) = (row(&app, "desk_a").await, row(&app, "desk_b").await);
    assert!(b.open_credentials(&app.state.keyring).is_ok());
    use connections::db::schema::connections as table;
    let (stolen, id) = (a.credentials.clone(), b.id);
    app.state
        .db
        .run(move |c| {
            diesel::update(table::table.find(id))
                .set((table::credentials.eq(&stolen), table::access_token.eq(&stolen)))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let moved = row(&app, "desk_b").await;
    assert!(moved.open_credentials(&app.state.keyring).is_err(), "bound to its row");
    assert!(moved.open_access_token(&app.state.keyring).is_err(), "bound to its column");
    assert!(a.open_credentials(&app.state.keyring).unwrap().is_some(), "the original still opens");
}
