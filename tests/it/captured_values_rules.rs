//! What a service may declare as captured values, through the JSON API and the form: each with its
//! source, key and kind, an origin only from an allow-list, and named in a URL only where the value
//! exists by then. Refused definitions store nothing. A connection whose service starts naming a
//! value after it was connected is asked to reconnect, and nothing is sent to the unresolved URL.

use serde_json::{Value, json};

use crate::support::{
    Api, FakeProvider, TestApp, connect_oauth, connection, invoke, loopback, oauth_service_at, text_of,
};

fn capture(name: &str, source: &str, key: &str, kind: &str, allowed: &[&str]) -> Value {
    json!({"name": name, "display_name": format!("The {name}"), "source": source, "key": key,
           "kind": kind, "allowed": allowed})
}

fn with(fake: &FakeProvider, captures: Value, changes: &[(&str, &str)]) -> Value {
    let mut body = oauth_service_at(fake, "captures");
    body["oauth2"]["captured_values"] = captures;
    for (field, value) in changes {
        match field.strip_prefix("oauth2.") {
            Some(f) => body["oauth2"][f] = (*value).into(),
            None => body[*field] = (*value).into(),
        }
    }
    body
}

#[tokio::test]
async fn a_service_names_a_captured_value_only_where_it_exists_and_an_origin_only_from_a_list() {
    let app = TestApp::spawn_with(loopback).await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&app).await;
    let caps = json!([
        capture("realm", "callback", "realmId", "label", &[]),
        capture("server", "callback", "accounts-server", "origin", &[&fake.other_url]),
        capture("instance", "token_response", "instance_url", "origin", &[&fake.other_url]),
    ]);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(&fake, caps.clone(), &[("oauth2.authorization_url", "{server}/authorize")]),
            "oauth2.authorization_url",
            "visited before",
        ),
        (
            with(&fake, caps.clone(), &[("oauth2.token_url", "{instance}/token")]),
            "oauth2.token_url",
            "token response",
        ),
        (
            with(&fake, caps.clone(), &[("api_base_url", "https://api.example.com/{server}")]),
            "api_base_url",
            "whole origin",
        ),
        (
            with(&fake, caps.clone(), &[("api_base_url", "{server}.evil.example/api")]),
            "api_base_url",
            "whole origin",
        ),
        (
            with(&fake, caps.clone(), &[("api_base_url", "https://{realm}/api")]),
            "api_base_url",
            "registrable domain",
        ),
        (
            with(&fake, caps.clone(), &[("api_base_url", "{nothing}/api")]),
            "api_base_url",
            "not a connection variable",
        ),
        (
            with(
                &fake,
                json!([capture("s", "callback", "accounts-server", "origin", &["https://a.example/path"])]),
                &[],
            ),
            "oauth2.captured_values.0.allowed",
            "without a path",
        ),
        (
            with(&fake, json!([capture("s", "callback", "accounts-server", "origin", &[])]), &[]),
            "oauth2.captured_values.0.allowed",
            "only ever chosen from this list",
        ),
        (
            with(
                &fake,
                json!([capture("t", "token_response", "authed_user.access_token", "label", &[])]),
                &[],
            ),
            "oauth2.captured_values.0.key",
            "cannot be a token",
        ),
        (
            with(&fake, json!([capture("t", "callback", "state", "label", &[])]), &[]),
            "oauth2.captured_values.0.key",
            "OAuth itself",
        ),
        (
            with(&fake, json!([capture("t", "Callback", "realmId", "label", &[])]), &[]),
            "oauth2.captured_values.0.source",
            "callback query or the token response",
        ),
    ];
    let mut client_credentials = with(&fake, json!([capture("r", "callback", "realmId", "label", &[])]), &[]);
    client_credentials["oauth2"]["grant_type"] = "client_credentials".into();
    for (body, field, says) in
        cases.into_iter().chain([(client_credentials, "oauth2.captured_values.0.source", "no callback")])
    {
        let res = api.post("/api/v1/services", &body).await;
        assert_eq!(res.status, 422, "{field}: {}", res.body);
        let message = res.json()["errors"][field].to_string();
        assert!(message.contains(says), "{field}: {message} in {}", res.body);
    }
    assert_eq!(api.get("/api/v1/services/captures").await.status, 404, "nothing stored");

    let good = with(
        &fake,
        caps,
        &[("oauth2.token_url", "{server}/token"), ("api_base_url", "{instance}/api/{realm}")],
    );
    let created = api.create("/api/v1/services", &good).await;
    assert_eq!(created["oauth2"]["token_url"], "{server}/token");
    assert_eq!(created["oauth2"]["captured_values"][1]["allowed"], json!([fake.other_url]));
    assert_eq!(created["oauth2"]["captured_values"][0]["allowed"], json!([]));
}

#[tokio::test]
async fn the_form_declares_captured_values_and_the_edit_form_shows_them_back() {
    let app = TestApp::spawn_with(loopback).await;
    let browser = app.admin().await;
    let mut fields = vec![
        ("name", "Zoho CRM"),
        ("link_name", "zoho_crm"),
        ("auth_type", "oauth2"),
        ("grant_type", "authorization_code"),
        ("client_id", "1000.ID"),
        ("client_secret", "typed"),
        ("authorization_url", "https://accounts.zoho.com/oauth/v2/auth"),
        ("token_url", "{accounts_server}/oauth/v2/token"),
        ("api_base_url", "{api_domain}/crm/v6"),
        ("client_auth", "body"),
        ("scope_delimiter", ","),
        ("token_in", "header"),
        ("token_header_name", "Authorization"),
        ("token_prefix", "Zoho-oauthtoken"),
        ("cap_name", "accounts_server"),
        ("cap_display", "Accounts server"),
        ("cap_source", "callback"),
        ("cap_key", "accounts-server"),
        ("cap_kind", "origin"),
        ("cap_allowed", "https://accounts.zoho.com\r\nhttps://ACCOUNTS.zoho.eu/"),
        ("cap_name", "api_domain"),
        ("cap_display", "API domain"),
        ("cap_source", "token_response"),
        ("cap_key", "api_domain"),
        ("cap_kind", "origin"),
        ("cap_allowed", "https://www.zohoapis.com, https://www.zohoapis.eu"),
        // An unused "+": its selects are posted, nothing is typed.
        ("cap_name", ""),
        ("cap_display", ""),
        ("cap_source", "callback"),
        ("cap_key", ""),
        ("cap_kind", "label"),
        ("cap_allowed", ""),
    ];
    let res = browser.submit("/admin/services/new", "/admin/services", &fields).await;
    assert_eq!(res.status, 303, "{}", text_of(&res));
    let api = Api::admin(&app).await;
    let stored = api.get("/api/v1/services/zoho_crm").await.json();
    let caps = &stored["oauth2"]["captured_values"];
    assert_eq!(caps.as_array().unwrap().len(), 2);
    assert_eq!(caps[0]["allowed"], json!(["https://accounts.zoho.com", "https://accounts.zoho.eu"]));
    assert_eq!(caps[1]["source"], "token_response");
    let edit = browser.get("/admin/services/zoho_crm/edit").await;
    assert!(edit.body.contains(r#"name="cap_key" value="accounts-server""#), "{}", edit.body);
    assert!(edit.body.contains("https://accounts.zoho.com\nhttps://accounts.zoho.eu</textarea>"));
    assert!(edit.body.contains(r#"<option value="token_response" selected>"#));
    let details = text_of(&browser.get("/admin/services/zoho_crm").await);
    let said =
        "{api_domain} API domain — from the token response ( api_domain ), one of https://www.zohoapis.com";
    assert!(details.contains(said), "{details}");
    let row = browser.get("/admin/services/rows/captures").await;
    assert!(row.body.contains(r#"name="cap_allowed""#) && !row.body.contains("<html"), "{}", row.body);

    // A refused row comes back with its message in its own cell.
    fields.retain(|(k, _)| !k.starts_with("cap_"));
    fields.extend([
        ("cap_name", "accounts_server"),
        ("cap_display", "Accounts server"),
        ("cap_source", "callback"),
        ("cap_key", "accounts-server"),
        ("cap_kind", "origin"),
        ("cap_allowed", "https://*.com"),
    ]);
    fields.retain(|(k, _)| *k != "api_base_url");
    fields.iter_mut().for_each(|f| {
        if f.0 == "link_name" {
            f.1 = "zoho_two"
        }
    });
    let res = browser.submit("/admin/services/new", "/admin/services", &fields).await;
    assert_eq!(res.status, 422);
    assert!(text_of(&res).contains("registrable domain must be fixed"), "{}", text_of(&res));
    assert_eq!(api.get("/api/v1/services/zoho_two").await.status, 404);
}

/// A service edited to name a value its connected connections never got: they are asked to
/// reconnect, and no request goes to a URL that still names it.
#[tokio::test]
async fn a_connection_without_a_value_its_service_now_names_is_asked_to_reconnect() {
    let app = TestApp::spawn_with(loopback).await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&app).await;
    let mut body = oauth_service_at(&fake, "books");
    body["api_base_url"] = fake.api_url().into();
    api.create("/api/v1/services", &body).await;
    api.create("/api/v1/connections", &connection("books", "books_main", &["read", "offline_access"])).await;
    connect_oauth(&app.admin().await, "books_main").await;
    let change = json!({
        "api_base_url": format!("{}/{{realm}}", fake.api_url()),
        "oauth2": {"captured_values": [capture("realm", "callback", "realmId", "label", &[])]},
    });
    let res = api.patch("/api/v1/services/books", &change).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let calls = fake.api_calls().len();
    let res = invoke(&api, "books_main", json!({"path": "/me"})).await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(res.body.contains("{realm}") && res.body.contains("reconnect"), "{}", res.body);
    assert_eq!(fake.api_calls().len(), calls);
    assert!(!fake.requests().iter().any(|r| r.contains('{') || r.contains("%7B")), "{:?}", fake.requests());
}
