//! Custom services through the JSON API: each authentication type, every validation rule, link-name
//! uniqueness under concurrency, secrets that never come back, the delete and in-use guards, search,
//! filter, sort, pagination and the audit log.

use connections::db::schema::{audit_log, services};
use connections::models::service;
use connections::models::user::Role;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::support::{
    Api, Page, TestApp, api_key_service_named, audit_rows, counts, delete_connection, insert_connection,
    opened_secret, raw_service, seed_many, seed_search_fixtures, zoho_service,
};

/// Sets `path` (dot-separated object keys and array indexes) in `value`, creating objects on the way.
fn set(value: &mut Value, path: &str, new: Value) {
    let mut at = value;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        at = match part.parse::<usize>() {
            Ok(index) if at.is_array() => &mut at[index],
            _ => {
                if !at.is_object() {
                    *at = json!({});
                }
                at.as_object_mut().unwrap().entry(part.to_string()).or_insert(Value::Null)
            }
        };
        if last {
            *at = new;
            return;
        }
    }
}

/// `base` with one change.
fn with(base: &Value, path: &str, new: Value) -> Value {
    let mut v = base.clone();
    set(&mut v, path, new);
    v
}

/// The messages of one field in a 422 answer.
fn field_errors(res: &Page, field: &str) -> Vec<String> {
    assert_eq!(res.status, 422, "expected 422: {}", res.body);
    let body = res.json();
    assert_eq!(body["error"]["code"], "invalid", "{}", res.body);
    body["errors"][field]
        .as_array()
        .unwrap_or_else(|| panic!("no errors for {field}: {}", res.body))
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

fn link_names(list: &Value) -> Vec<String> {
    list["services"].as_array().unwrap().iter().map(|s| s["link_name"].as_str().unwrap().to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Each authentication type
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_key_services_with_query_form_and_header_parameters_read_back_as_stored() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for (link, param_type, names) in [
        ("freshdesk_query", "query", ["api_key", "org"]),
        ("freshdesk_form", "form", ["token", "account_id"]),
        ("freshdesk_header", "header", ["X-Api-Key", "X-Org-Id"]),
    ] {
        let body = json!({
            "name": format!("  Freshdesk {param_type}  "),
            "link_name": link,
            "description": "Tickets and contacts",
            "auth_type": "api_key",
            "api_base_url": "https://acme.freshdesk.com/api/v2",
            "api_key": {"param_type": param_type, "params": [
                {"name": names[0], "display_name": "Key"},
                {"name": names[1], "display_name": "Account"}
            ]}
        });
        let res = api.post("/api/v1/services", &body).await;
        assert_eq!(res.status, 201, "{}", res.body);
        assert_eq!(res.header("location"), format!("/api/v1/services/{link}"));
        let shown = api.get(&format!("/api/v1/services/{link}")).await;
        assert_eq!(shown.status, 200);
        let s = shown.json();
        assert_eq!(s, res.json(), "the create answer and GET agree");
        assert_eq!(s["name"], format!("Freshdesk {param_type}"), "trimmed");
        assert_eq!(s["link_name"], link);
        assert_eq!(s["auth_type"], "api_key");
        assert_eq!(s["description"], "Tickets and contacts");
        assert_eq!(s["api_base_url"], "https://acme.freshdesk.com/api/v2");
        assert_eq!(
            s["api_key"],
            json!({"param_type": param_type, "params": [
                {"name": names[0], "display_name": "Key"}, {"name": names[1], "display_name": "Account"}
            ]})
        );
        assert_eq!(s["oauth2"], Value::Null);
        assert_eq!(s["connection_count"], 0);
        assert_eq!(s["created_by"], "admin");
        assert_eq!(s["created_at"], s["updated_at"]);
        assert!(s["created_at"].as_str().unwrap().ends_with('Z'));
    }
    let list = api.get("/api/v1/services").await.json();
    assert_eq!(list["total"], 3);
}

#[tokio::test]
async fn a_basic_authentication_service_reads_back_as_stored() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let jira = json!({
        "name": "Jira", "link_name": "jira", "auth_type": "basic",
        "api_base_url": "https://acme.atlassian.net"
    });
    let s = api.create("/api/v1/services", &jira).await;
    let shown = api.get("/api/v1/services/jira").await.json();
    assert_eq!(s, shown);
    assert_eq!(shown["auth_type"], "basic");
    assert_eq!(shown["api_key"], Value::Null);
    assert_eq!(shown["oauth2"], Value::Null);
    assert_eq!(shown["description"], "");
    assert_eq!(raw_service(&app, "jira").await.1, None, "no secret stored");
}

#[tokio::test]
async fn an_oauth2_authorization_code_service_keeps_scopes_extra_parameters_and_a_custom_header_prefix() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let canary = "CANARY-zoho-secret-4b1d";
    let res = api.post("/api/v1/services", &zoho_service("zoho_desk", "Zoho Desk", canary)).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert!(!res.body.contains(canary));
    let s = api.get("/api/v1/services/zoho_desk").await;
    assert!(!s.body.contains(canary));
    let s = s.json();
    assert_eq!(s["auth_type"], "oauth2");
    assert_eq!(s["callback_url"], format!("{}/integration/oauth/callback", app.base));
    assert_eq!(
        s["oauth2"],
        json!({
            "grant_type": "authorization_code",
            "client_id": "1000.CLIENTID",
            "client_secret_set": true,
            "client_secret_pending": false,
            "authorization_url": "https://accounts.zoho.eu/oauth/v2/auth",
            "token_url": "https://accounts.zoho.eu/oauth/v2/token",
            "refresh_url": null,
            "token_request_format": "form",
            "pkce": true,
            "scope_on_refresh": false,
            "token_response": {
                "access_token": "access_token", "refresh_token": "refresh_token", "expires_in": "expires_in",
                "refresh_token_expires_in": "refresh_token_expires_in", "scope": "scope",
                "expires_in_unit": "seconds"
            },
            "dead_grant_errors": [],
            "client_refused_errors": [],
            "expired_when": null,
            "keep_alive_days": null,
            "captured_values": [],
            "refresh_on_status": [],
            "revoke_url": "https://accounts.zoho.eu/oauth/v2/token/revoke",
            "issuer": null,
            "client_auth": "basic",
            "scope_delimiter": ",",
            "token_placement": {"in": "header", "name": "Authorization", "prefix": "Zoho-oauthtoken"},
            "extra_auth_params": {"access_type": "offline", "prompt": "consent"},
            "scopes": [
                {"scope": "Desk.tickets.READ", "display_name": "Read tickets"},
                {"scope": "Desk.tickets.UPDATE", "display_name": "Update tickets"}
            ]
        })
    );
    assert_eq!(opened_secret(&app, "zoho_desk").await.as_deref(), Some(canary));
}

#[tokio::test]
async fn an_oauth2_service_with_defaults_sends_a_bearer_header_and_can_use_the_query_string_instead() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let minimal = json!({
        "name": "Minimal", "link_name": "minimal", "auth_type": "oauth2",
        "oauth2": {
            "client_id": "id",
            "authorization_url": "https://idp.example/authorize",
            "token_url": "https://idp.example/token"
        }
    });
    let s = api.create("/api/v1/services", &minimal).await;
    assert_eq!(s["oauth2"]["grant_type"], "authorization_code");
    assert_eq!(
        s["oauth2"]["token_placement"],
        json!({"in": "header", "name": "Authorization", "prefix": "Bearer"})
    );
    assert_eq!(s["oauth2"]["scope_delimiter"], " ");
    assert_eq!(s["oauth2"]["client_auth"], "basic");
    assert_eq!(s["oauth2"]["client_secret_set"], false);
    assert_eq!(s["oauth2"]["scopes"], json!([]));

    let mut query = with(&minimal, "link_name", json!("in_query"));
    set(&mut query, "oauth2.token_placement", json!({"in": "query", "name": "auth_token"}));
    set(&mut query, "oauth2.client_auth", json!("body"));
    set(&mut query, "oauth2.scope_delimiter", json!("+"));
    set(&mut query, "oauth2.refresh_url", json!("https://idp.example/refresh"));
    set(&mut query, "oauth2.issuer", json!("https://idp.example"));
    api.create("/api/v1/services", &query).await;
    let s = api.get("/api/v1/services/in_query").await.json();
    assert_eq!(s["oauth2"]["token_placement"], json!({"in": "query", "name": "auth_token"}));
    assert_eq!(s["oauth2"]["client_auth"], "body");
    assert_eq!(s["oauth2"]["scope_delimiter"], "+");
    assert_eq!(s["oauth2"]["refresh_url"], "https://idp.example/refresh");
    assert_eq!(s["oauth2"]["issuer"], "https://idp.example");
}

#[tokio::test]
async fn a_client_credentials_service_needs_a_secret_but_no_authorization_url() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let body = json!({
        "name": "Graph", "link_name": "graph", "auth_type": "oauth2",
        "oauth2": {"grant_type": "client_credentials", "client_id": "app-id",
                   "token_url": "https://login.example/token",
                   "scopes": [{"scope": "https://graph.example/.default", "display_name": ""}]}
    });
    let res = api.post("/api/v1/services", &body).await;
    assert_eq!(
        field_errors(&res, "oauth2.client_secret"),
        ["Enter the client secret: the Client Credentials grant needs one."]
    );
    let s = api.create("/api/v1/services", &with(&body, "oauth2.client_secret", json!("cc-secret"))).await;
    assert_eq!(s["oauth2"]["grant_type"], "client_credentials");
    assert_eq!(s["oauth2"]["authorization_url"], Value::Null);
    assert_eq!(s["oauth2"]["client_secret_set"], true);
    assert_eq!(
        s["oauth2"]["scopes"][0]["display_name"], "https://graph.example/.default",
        "a blank label falls back to the scope"
    );
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_validation_rule_answers_422_with_its_message_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let key = api_key_service_named("valid_link", "Valid");
    let oauth = zoho_service("valid_oauth", "Valid", "s3cret");
    let long_url = format!("https://x.example/{}", "a".repeat(2048));
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(&key, "name", json!("")), "name", "Enter a name."),
        (with(&key, "name", json!("   ")), "name", "Enter a name."),
        (with(&key, "name", json!("x".repeat(101))), "name", "Use at most 100 characters."),
        (with(&key, "name", json!("Zoho\u{7}Desk")), "name", "Remove control characters"),
        (with(&key, "name", json!("Zoho\nDesk")), "name", "Remove control characters"),
        (with(&key, "link_name", json!("")), "link_name", "Enter a link name."),
        (with(&key, "link_name", json!("x".repeat(51))), "link_name", "Use at most 50 characters."),
        (with(&key, "link_name", json!("Zoho")), "link_name", "Use snake_case"),
        (with(&key, "link_name", json!("1zoho")), "link_name", "Use snake_case"),
        (with(&key, "link_name", json!("_zoho")), "link_name", "Use snake_case"),
        (with(&key, "link_name", json!("zoho_")), "link_name", "Use snake_case"),
        (with(&key, "link_name", json!("zoho__desk")), "link_name", "Use snake_case"),
        (with(&key, "link_name", json!("zoho-desk")), "link_name", "Use snake_case"),
        (with(&key, "link_name", json!("zoho desk")), "link_name", "Use snake_case"),
        (with(&key, "link_name", json!("zöho")), "link_name", "Use snake_case"),
        (with(&key, "link_name", json!("ｚoho")), "link_name", "Use snake_case"),
        (with(&key, "description", json!("d".repeat(1001))), "description", "Use at most 1000 characters."),
        (with(&key, "auth_type", Value::Null), "auth_type", "Choose an authentication type."),
        (
            with(&key, "auth_type", json!("digest")),
            "auth_type",
            "Choose API Key, Basic Authentication or OAuth2.",
        ),
        (
            with(&key, "api_base_url", json!("http://api.example.com")),
            "api_base_url",
            "Use https (plain http is turned off",
        ),
        (
            with(&key, "api_base_url", json!("https://user:pw@api.example.com")),
            "api_base_url",
            "Remove the user name and password",
        ),
        (
            with(&key, "api_base_url", json!("https://user@api.example.com")),
            "api_base_url",
            "Remove the user name and password",
        ),
        (with(&key, "api_base_url", json!(long_url)), "api_base_url", "Use at most 2048 characters."),
        (with(&key, "api_base_url", json!("api.example.com")), "api_base_url", "Enter an absolute URL"),
        (with(&key, "api_base_url", json!("ftp://api.example.com")), "api_base_url", "Use an https URL."),
        (
            with(&key, "api_base_url", json!("https://api.example.com/#x")),
            "api_base_url",
            "Remove the #fragment",
        ),
        (with(&key, "api_key.params", json!([])), "api_key.params", "Add at least one parameter."),
        (with(&key, "api_key", Value::Null), "api_key.params", "Add at least one parameter."),
        (
            with(
                &key,
                "api_key.params",
                json!(
                    (0..51)
                        .map(|i| json!({"name": format!("X-K{i}"), "display_name": "K"}))
                        .collect::<Vec<_>>()
                ),
            ),
            "api_key.params",
            "Use at most 50 parameters.",
        ),
        (
            with(&key, "api_key.param_type", json!("cookie")),
            "api_key.param_type",
            "Choose Query string, Form data or Header.",
        ),
        (
            with(&key, "api_key.params.1.name", json!("x-api-KEY")),
            "api_key.params.1.name",
            "This parameter is already listed.",
        ),
        (
            with(&key, "api_key.params.0.name", json!("X Api Key")),
            "api_key.params.0.name",
            "Use a valid header name",
        ),
        (
            with(&key, "api_key.params.0.name", json!("X-Api:Key")),
            "api_key.params.0.name",
            "Use a valid header name",
        ),
        (
            with(&key, "api_key.params.0.name", json!("X-Ä")),
            "api_key.params.0.name",
            "Use a valid header name",
        ),
        (with(&key, "api_key.params.0.name", json!("")), "api_key.params.0.name", "Use a valid header name"),
        (
            with(&key, "api_key.params.0.name", json!("x".repeat(101))),
            "api_key.params.0.name",
            "Use a valid header name",
        ),
        (
            with(&key, "api_key.params.0.display_name", json!(" ")),
            "api_key.params.0.display_name",
            "Enter the label shown when connecting.",
        ),
        (
            with(
                &with(&key, "api_key.param_type", json!("query")),
                "api_key.params.0.name",
                json!("api key"),
            ),
            "api_key.params.0.name",
            "Use at most 100 characters and no spaces.",
        ),
        (
            with(&with(&key, "api_key.param_type", json!("form")), "api_key.params.0.name", json!("")),
            "api_key.params.0.name",
            "Enter the parameter name.",
        ),
        (with(&oauth, "oauth2.client_id", json!(" ")), "oauth2.client_id", "Enter the client ID."),
        (
            with(&oauth, "oauth2.client_id", json!("x".repeat(501))),
            "oauth2.client_id",
            "Use at most 500 characters",
        ),
        (
            with(&oauth, "oauth2.authorization_url", Value::Null),
            "oauth2.authorization_url",
            "Enter the authorization URL.",
        ),
        (with(&oauth, "oauth2.token_url", json!("")), "oauth2.token_url", "Enter the access token URL."),
        (
            with(&oauth, "oauth2.token_url", json!("http://idp.example/token")),
            "oauth2.token_url",
            "Use https",
        ),
        (
            with(&oauth, "oauth2.authorization_url", json!("https://u:p@idp.example/a")),
            "oauth2.authorization_url",
            "Remove the user name",
        ),
        (
            with(&oauth, "oauth2.refresh_url", json!(long_url)),
            "oauth2.refresh_url",
            "Use at most 2048 characters.",
        ),
        (
            with(&oauth, "oauth2.revoke_url", json!("javascript:alert(1)")),
            "oauth2.revoke_url",
            "Use an https URL.",
        ),
        (
            with(&oauth, "oauth2.issuer", json!("not a url")),
            "oauth2.issuer",
            "Enter the issuer identifier as a URL",
        ),
        (
            with(&oauth, "oauth2.grant_type", json!("password")),
            "oauth2.grant_type",
            "Choose Authorization Code or Client Credentials.",
        ),
        (
            with(&oauth, "oauth2.client_auth", json!("jwt")),
            "oauth2.client_auth",
            "Choose the HTTP Basic header or the request body.",
        ),
        (
            with(&oauth, "oauth2.scope_delimiter", json!(";")),
            "oauth2.scope_delimiter",
            "Choose space, comma or plus.",
        ),
        (
            with(&oauth, "oauth2.token_placement.in", json!("cookie")),
            "oauth2.token_placement.in",
            "Choose Header or Query string.",
        ),
        (
            with(&oauth, "oauth2.token_placement.name", json!("Auth Header")),
            "oauth2.token_placement.name",
            "Use a valid header name",
        ),
        (
            with(&oauth, "oauth2.token_placement.prefix", json!("Two words")),
            "oauth2.token_placement.prefix",
            "Use one word",
        ),
        (
            with(&oauth, "oauth2.token_placement", json!({"in": "query", "name": "access token"})),
            "oauth2.token_placement.name",
            "no spaces",
        ),
        (
            with(&oauth, "oauth2.extra_auth_params", json!({"redirect_uri": "https://evil.example"})),
            "oauth2.extra_auth_params.redirect_uri",
            "redirect_uri is set by Connections itself and cannot be overridden.",
        ),
        (
            with(&oauth, "oauth2.extra_auth_params", json!({"state": "x"})),
            "oauth2.extra_auth_params.state",
            "cannot be overridden",
        ),
        (
            with(&oauth, "oauth2.extra_auth_params", json!({"scope": "all"})),
            "oauth2.extra_auth_params.scope",
            "cannot be overridden",
        ),
        (
            with(&oauth, "oauth2.extra_auth_params", json!({"code_challenge": "x"})),
            "oauth2.extra_auth_params.code_challenge",
            "cannot be overridden",
        ),
        (
            with(&oauth, "oauth2.extra_auth_params", json!({"bad key": "x"})),
            "oauth2.extra_auth_params",
            "no spaces",
        ),
        (
            with(&oauth, "oauth2.extra_auth_params", json!({"prompt": "a\nb"})),
            "oauth2.extra_auth_params.prompt",
            "no control characters",
        ),
        (
            with(&oauth, "oauth2.scopes.1.scope", json!("Desk.tickets.READ")),
            "oauth2.scopes.1.scope",
            "This scope is already listed.",
        ),
        (with(&oauth, "oauth2.scopes.0.scope", json!("  ")), "oauth2.scopes.0.scope", "Enter the scope."),
        (
            with(&oauth, "oauth2.scopes.0.scope", json!("read write")),
            "oauth2.scopes.0.scope",
            "without spaces or the scope delimiter",
        ),
        (
            with(&oauth, "oauth2.scopes.0.scope", json!("read,write")),
            "oauth2.scopes.0.scope",
            "without spaces or the scope delimiter",
        ),
        (
            with(&oauth, "oauth2.scopes.0.display_name", json!("x".repeat(101))),
            "oauth2.scopes.0.display_name",
            "Use at most 100",
        ),
        (
            with(&oauth, "oauth2.client_secret", json!("s".repeat(4097))),
            "oauth2.client_secret",
            "Use at most 4096 characters.",
        ),
    ];
    let n = cases.len();
    for (body, field, message) in cases {
        let res = api.post("/api/v1/services", &body).await;
        let messages = field_errors(&res, field);
        assert!(
            messages.iter().any(|m| m.contains(message)),
            "{field}: wanted {message:?}, got {messages:?}"
        );
        let others: Vec<String> =
            res.json()["errors"].as_object().unwrap().keys().filter(|k| *k != field).cloned().collect();
        assert!(others.is_empty(), "{field}: only that field is wrong, but also {others:?}");
    }
    assert!(n > 60);
    assert_eq!(counts(&app).await, (0, 0, 0), "nothing written");
}

#[tokio::test]
async fn link_names_of_pages_are_reserved() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for link in ["new", "rows"] {
        let res = api.post("/api/v1/services", &api_key_service_named(link, "Page")).await;
        assert_eq!(
            field_errors(&res, "link_name"),
            [format!("“{link}” is reserved for a page of this app; choose another.")]
        );
    }
    api.create("/api/v1/services", &api_key_service_named("news", "News")).await;
}

#[tokio::test]
async fn extra_authorization_parameters_keep_their_order_and_a_repeated_one_is_reported() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    // Written by hand: serde_json's own objects would sort the keys.
    let body = serde_json::to_string(&zoho_service("ordered", "Ordered", "s")).unwrap();
    let sorted = r#""extra_auth_params":{"access_type":"offline","prompt":"consent"}"#;
    assert!(body.contains(sorted));
    let post = |body: String| {
        api.raw(reqwest::Method::POST, "/api/v1/services", "application/json", body.into_bytes())
    };
    let res =
        post(body.replace(sorted, r#""extra_auth_params":{"prompt":"consent","access_type":"offline"}"#))
            .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let (_, _, config) = raw_service(&app, "ordered").await;
    assert!(
        config.contains(r#""extra_auth_params":{"prompt":"consent","access_type":"offline"}"#),
        "stored as entered: {config}"
    );

    let twice = body
        .replace(
            sorted,
            r#""extra_auth_params":{"prompt":"consent","access_type":"offline","prompt":"login"}"#,
        )
        .replace(r#""link_name":"ordered""#, r#""link_name":"twice""#);
    let res = post(twice).await;
    assert_eq!(field_errors(&res, "oauth2.extra_auth_params.prompt"), ["This parameter is listed twice."]);
}

#[tokio::test]
async fn nul_bytes_and_odd_input_in_paths_searches_and_text_never_cause_a_500() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service_named("plain", "Plain")).await;
    for path in [
        "/api/v1/services/%00",
        "/api/v1/services/plain%00",
        "/api/v1/services/%FF",
        "/api/v1/services/a%2Fb",
    ] {
        assert_eq!(api.get(path).await.status, 404, "GET {path}");
        assert_eq!(api.patch(path, &json!({"name": "x"})).await.status, 404, "PATCH {path}");
        assert_eq!(api.delete(path).await.status, 404, "DELETE {path}");
    }
    for query in ["search=%00", "search=%00abc", "search=de%00", "search=%FF%FE", "search=%E2%80%AE"] {
        let res = api.get(&format!("/api/v1/services?{query}")).await;
        assert!(res.status < 500, "{query}: {} {}", res.status, res.body);
    }
    let res = api
        .post(
            "/api/v1/services",
            &with(&api_key_service_named("nul", "Nul"), "description", json!("a\u{0}b")),
        )
        .await;
    assert_eq!(
        field_errors(&res, "description"),
        ["Remove control characters other than line breaks and tabs."]
    );
    let res = api
        .post(
            "/api/v1/services",
            &with(&api_key_service_named("nul", "Nul"), "description", json!("two\nlines\tand a tab")),
        )
        .await;
    assert_eq!(res.status, 201, "line breaks and tabs are fine: {}", res.body);
    let res = api
        .post(
            "/api/v1/services",
            &with(
                &zoho_service("nul_secret", "Nul", "se\u{0}cret"),
                "oauth2.issuer",
                json!("https://idp.example/\u{0}"),
            ),
        )
        .await;
    assert!(res.status < 500, "{}", res.body);
    assert_eq!(counts(&app).await.0, 2 + u8::from(res.status == 201) as i64);
}

#[tokio::test]
async fn several_problems_are_reported_together() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let res = api.post("/api/v1/services", &json!({"auth_type": "oauth2", "oauth2": {}})).await;
    let errors = res.json()["errors"].clone();
    for field in ["name", "link_name", "oauth2.client_id", "oauth2.authorization_url", "oauth2.token_url"] {
        assert!(errors.get(field).is_some(), "{field} in {errors}");
    }
}

#[tokio::test]
async fn http_urls_are_accepted_only_when_outbound_http_is_allowed() {
    let body = with(
        &zoho_service("local_idp", "Local IdP", "x"),
        "oauth2.token_url",
        json!("http://127.0.0.1:9999/token"),
    );
    let strict = TestApp::spawn().await;
    let res = Api::admin(&strict).await.post("/api/v1/services", &body).await;
    assert_eq!(
        field_errors(&res, "oauth2.token_url"),
        ["Use https (plain http is turned off on this portal)."]
    );

    let relaxed = TestApp::spawn_with(|c| c.outbound_allow_http = true).await;
    let s = Api::admin(&relaxed).await.create("/api/v1/services", &body).await;
    assert_eq!(s["oauth2"]["token_url"], "http://127.0.0.1:9999/token");
    // Credentials in the URL stay refused even then.
    let res = Api::admin(&relaxed)
        .await
        .post("/api/v1/services", &with(&body, "api_base_url", json!("http://user:pw@127.0.0.1/")))
        .await;
    assert_eq!(res.status, 422);
}

#[tokio::test]
async fn wrong_json_types_and_broken_bodies_are_422_with_a_message_never_500() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let secret_number = "98765432123456789";
    let bodies = [
        r#"{"name": 5, "link_name": "x", "auth_type": "basic"}"#.to_owned(),
        r#"[]"#.to_owned(),
        r#""just a string""#.to_owned(),
        concat!(
            r#"{"name": "X", "link_name": "x", "auth_type": "api_key", "#,
            r#""api_key": {"params": "X-Key"}}"#
        )
        .to_owned(),
        concat!(
            r#"{"name": "X", "link_name": "x", "auth_type": "api_key", "#,
            r#""api_key": {"params": [{"name": "X-Key"}]}}"#
        )
        .to_owned(),
        concat!(
            r#"{"name": "X", "link_name": "x", "auth_type": "oauth2", "#,
            r#""oauth2": {"scopes": {"a": 1}}}"#
        )
        .to_owned(),
        format!(
            concat!(
                r#"{{"name": "X", "link_name": "x", "auth_type": "oauth2", "#,
                r#""oauth2": {{"client_secret": {secret_number}}}}}"#
            ),
            secret_number = secret_number
        ),
        concat!(
            r#"{"name": "X", "link_name": "x", "auth_type": "oauth2", "#,
            r#""oauth2": {"extra_auth_params": {"a": 1}}}"#
        )
        .to_owned(),
        r#"{"name": "X", "link_name": "#.to_owned(),
        r#"not json at all"#.to_owned(),
        String::new(),
    ];
    for body in bodies {
        let res = api
            .raw(reqwest::Method::POST, "/api/v1/services", "application/json", body.clone().into_bytes())
            .await;
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        let json = res.json();
        assert_eq!(json["error"]["code"], "invalid", "{body}");
        let message = json["errors"]["body"][0].as_str().unwrap_or_else(|| panic!("{body}: {}", res.body));
        assert!(message.starts_with("The JSON body is not valid"), "{body}: {message}");
        assert!(!res.body.contains(secret_number), "a value sent is never echoed: {}", res.body);
    }
    let res = api.raw(reqwest::Method::POST, "/api/v1/services", "text/plain", b"{}".to_vec()).await;
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["errors"]["body"][0], "Send the body as application/json.");
    let res = api
        .raw(
            reqwest::Method::PATCH,
            "/api/v1/services/nothing",
            "application/json",
            b"{\"name\": []}".to_vec(),
        )
        .await;
    assert_eq!(res.status, 422);
    assert_eq!(counts(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn a_huge_body_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let huge = with(&api_key_service_named("huge", "Huge"), "description", json!("d".repeat(400 * 1024)));
    let res = api.post("/api/v1/services", &huge).await;
    assert_eq!(res.status, 413, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "too_large");
    api.create("/api/v1/services", &api_key_service_named("huge", "Huge")).await;
    let res = api.patch("/api/v1/services/huge", &json!({"description": "d".repeat(400 * 1024)})).await;
    assert_eq!(res.status, 413, "{}", res.body);
    assert_eq!(counts(&app).await.0, 1);
}

// ---------------------------------------------------------------------------------------------
// Link names
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_link_name_is_unique_and_cannot_change() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service_named("acme", "Acme")).await;
    let res = api.post("/api/v1/services", &zoho_service("acme", "Another Acme", "x")).await;
    assert_eq!(field_errors(&res, "link_name"), ["This link name is already taken; choose another."]);
    assert_eq!(counts(&app).await.0, 1);

    let res = api.patch("/api/v1/services/acme", &json!({"link_name": "acme_two"})).await;
    assert_eq!(field_errors(&res, "link_name"), ["The link name cannot change."]);
    let res = api.patch("/api/v1/services/acme", &json!({"link_name": "acme", "name": "Acme Inc"})).await;
    assert_eq!(res.status, 200, "sending the same link name is fine: {}", res.body);
    assert_eq!(api.get("/api/v1/services/acme_two").await.status, 404);
    assert_eq!(api.get("/api/v1/services/acme").await.json()["name"], "Acme Inc");
}

#[tokio::test]
async fn a_query_string_that_does_not_parse_is_a_400_that_changes_nothing() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service_named("acme", "Acme")).await;
    for query in ["confirm_disconnect=null", "confirm_disconnect=yes&confirm_disconnect=no"] {
        let res = api.patch(&format!("/api/v1/services/acme?{query}"), &json!({"name": "Renamed"})).await;
        assert_eq!(res.status, 400, "{query}: {}", res.body);
        let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.starts_with("The query string could not be read: "), "{message}");
    }
    assert_eq!(api.get("/api/v1/services/acme").await.json()["name"], "Acme");
    assert_eq!(api.get("/api/v1/services?page=first").await.status, 400);
}

#[tokio::test]
async fn two_concurrent_creates_with_the_same_link_name_give_one_201_and_one_422() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for round in 0..12 {
        let link = format!("race_{round}");
        let (a, b) = (api_key_service_named(&link, "Racer A"), zoho_service(&link, "Racer B", "secret"));
        let (ra, rb) = tokio::join!(api.post("/api/v1/services", &a), api.post("/api/v1/services", &b));
        let mut statuses = [ra.status, rb.status];
        statuses.sort();
        assert_eq!(statuses, [201, 422], "round {round}: {} / {}", ra.body, rb.body);
        let loser = if ra.status == 422 { &ra } else { &rb };
        assert_eq!(field_errors(loser, "link_name"), ["This link name is already taken; choose another."]);
    }
    let (services, _, audit) = counts(&app).await;
    assert_eq!((services, audit), (12, 12), "one row and one audit entry per winner");
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_client_secret_is_in_no_answer_and_only_sealed_in_the_database() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let canary = "CANARY-secret-0xfeedface";
    let created = api.post("/api/v1/services", &zoho_service("secretive", "Secretive", canary)).await;
    let answers = [
        created,
        api.get("/api/v1/services/secretive").await,
        api.get("/api/v1/services").await,
        api.get("/api/v1/services?search=secret").await,
        api.patch("/api/v1/services/secretive", &json!({"name": "Still secretive"})).await,
        api.patch(
            "/api/v1/services/secretive",
            &json!({"oauth2": {"client_secret": canary, "client_id": ""}}),
        )
        .await,
    ];
    for res in &answers {
        assert!(!res.body.contains(canary), "{}", res.body);
        assert!(!res.body.contains("client_secret\""), "only client_secret_set is shown: {}", res.body);
    }
    let (_, sealed, config) = raw_service(&app, "secretive").await;
    let sealed = sealed.expect("a sealed secret");
    assert!(!String::from_utf8_lossy(&sealed).contains(canary));
    assert!(!sealed.windows(canary.len()).any(|w| w == canary.as_bytes()));
    assert!(!config.contains(canary) && !config.contains("secret\""), "{config}");
    for (_, _, details) in audit_rows(&app).await {
        assert!(!details.contains(canary), "{details}");
    }
    // A failed update carrying the secret does not echo it either.
    let res = api
        .patch(
            "/api/v1/services/secretive",
            &json!({"oauth2": {"client_secret": canary, "token_url": "nope"}}),
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(!res.body.contains(canary));
}

#[tokio::test]
async fn editing_with_a_blank_or_absent_secret_keeps_it_and_a_new_one_replaces_it() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &zoho_service("keeper", "Keeper", "first-secret")).await;
    let before = raw_service(&app, "keeper").await.1;

    for patch in [
        json!({"name": "Keeper 2"}),
        json!({"oauth2": {"client_secret": ""}}),
        json!({"oauth2": {"client_secret": "   "}}),
    ] {
        let res = api.patch("/api/v1/services/keeper", &patch).await;
        assert_eq!(res.status, 200, "{patch}: {}", res.body);
        assert_eq!(res.json()["oauth2"]["client_secret_set"], true);
        assert_eq!(raw_service(&app, "keeper").await.1, before, "{patch}: the sealed bytes are untouched");
        assert_eq!(opened_secret(&app, "keeper").await.as_deref(), Some("first-secret"));
    }
    let res =
        api.patch("/api/v1/services/keeper", &json!({"oauth2": {"client_secret": "second-secret"}})).await;
    assert_eq!(res.status, 200);
    assert_eq!(opened_secret(&app, "keeper").await.as_deref(), Some("second-secret"));

    // Switching to another type drops the secret; switching back needs a new one for client credentials.
    let res = api.patch("/api/v1/services/keeper", &json!({"auth_type": "basic"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(raw_service(&app, "keeper").await.1, None);
    let back = json!({"auth_type": "oauth2", "oauth2": {
        "grant_type": "client_credentials", "client_id": "id", "token_url": "https://idp.example/t"
    }});
    let res = api.patch("/api/v1/services/keeper", &back).await;
    assert_eq!(
        field_errors(&res, "oauth2.client_secret"),
        ["Enter the client secret: the Client Credentials grant needs one."]
    );
}

#[tokio::test]
async fn a_sealed_secret_copied_to_another_services_row_does_not_open() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &zoho_service("original", "Original", "original-secret")).await;
    api.create("/api/v1/services", &zoho_service("copycat", "Copycat", "copycat-secret")).await;
    let (_, sealed, _) = raw_service(&app, "original").await;
    app.state
        .db
        .run(move |c| {
            diesel::update(services::table.filter(services::link_name.eq("copycat")))
                .set(services::client_secret.eq(sealed))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let keyring = app.state.keyring.clone();
    let opened = app
        .state
        .db
        .run(move |c| {
            Ok(service::find(c, "copycat")?.unwrap().open_client_secret(&keyring).map(|s| s.is_some()))
        })
        .await
        .unwrap();
    assert!(opened.is_err(), "bound to its own row");
    assert_eq!(opened_secret(&app, "original").await.as_deref(), Some("original-secret"));
    // The page and the API still work: they only say whether a secret is set.
    assert_eq!(api.get("/api/v1/services/copycat").await.json()["oauth2"]["client_secret_set"], true);
}

// ---------------------------------------------------------------------------------------------
// Delete and in-use guards
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_service_with_connections_cannot_be_deleted_and_the_refusal_lists_them() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &zoho_service("zoho", "Zoho", "s")).await;
    insert_connection(&app, "zoho", "zoho_support", "Zoho Support").await;
    insert_connection(&app, "zoho", "zoho_sales", "Zoho Sales").await;
    assert_eq!(api.get("/api/v1/services/zoho").await.json()["connection_count"], 2);
    assert_eq!(api.get("/api/v1/services").await.json()["services"][0]["connection_count"], 2);

    let res = api.delete("/api/v1/services/zoho").await;
    assert_eq!(res.status, 409, "{}", res.body);
    let body = res.json();
    assert_eq!(body["error"]["code"], "conflict");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Zoho Sales (zoho_sales)") && message.contains("Zoho Support (zoho_support)"),
        "{message}"
    );
    assert_eq!(counts(&app).await.0, 1);
    assert_eq!(audit_rows(&app).await.len(), 1, "only the create");

    // The count the list shows is kept by triggers: it follows each delete.
    delete_connection(&app, "zoho_support").await;
    assert_eq!(api.get("/api/v1/services").await.json()["services"][0]["connection_count"], 1);
    assert!(
        app.admin()
            .await
            .get("/admin/services")
            .await
            .body
            .contains(r#"<td class="num" data-label="Connections">1</td>"#)
    );
    delete_connection(&app, "zoho_sales").await;
    assert_eq!(api.get("/api/v1/services/zoho").await.json()["connection_count"], 0);
    let res = api.delete("/api/v1/services/zoho").await;
    assert_eq!(res.status, 204, "{}", res.body);
    assert_eq!(api.get("/api/v1/services/zoho").await.status, 404);
    assert_eq!(api.delete("/api/v1/services/zoho").await.status, 404);
    assert_eq!(counts(&app).await, (0, 0, 2));
    let (action, target, details) = audit_rows(&app).await.pop().unwrap();
    assert_eq!((action.as_str(), target.as_str()), ("service.delete", "zoho"));
    assert!(details.contains("Zoho"));
}

#[tokio::test]
async fn a_service_in_use_keeps_its_auth_type_parameter_names_and_grant_type_but_other_fields_change() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service_named("keyed", "Keyed")).await;
    api.create("/api/v1/services", &zoho_service("oauthed", "OAuthed", "s")).await;
    insert_connection(&app, "keyed", "keyed_conn", "Keyed connection").await;
    insert_connection(&app, "oauthed", "oauthed_conn", "OAuthed connection").await;

    let res = api.patch("/api/v1/services/keyed", &json!({"auth_type": "basic"})).await;
    let m = field_errors(&res, "auth_type");
    assert!(
        m[0].starts_with("The authentication type cannot change: 1 connection(s) use this service"),
        "{m:?}"
    );
    let renamed = json!({"api_key": {"params": [
        {"name": "X-Other", "display_name": "API Key"},
        {"name": "X-Org-Id", "display_name": "Org"}
    ]}});
    let m = field_errors(&api.patch("/api/v1/services/keyed", &renamed).await, "api_key.params");
    assert!(m[0].starts_with("The parameter names cannot change"), "{m:?}");
    let fewer = json!({"api_key": {"params": [{"name": "X-Api-Key", "display_name": "API Key"}]}});
    assert_eq!(api.patch("/api/v1/services/keyed", &fewer).await.status, 422);
    let res =
        api.patch("/api/v1/services/oauthed", &json!({"oauth2": {"grant_type": "client_credentials"}})).await;
    assert!(field_errors(&res, "oauth2.grant_type")[0].starts_with("The grant type cannot change"));
    let res = api
        .patch(
            "/api/v1/services/oauthed",
            &json!({"auth_type": "api_key", "api_key": {"params": [{"name": "k", "display_name": "K"}]}}),
        )
        .await;
    assert_eq!(field_errors(&res, "auth_type").len(), 1);

    // Labels, names, descriptions, URLs, client credentials and scope display names still change.
    let relabelled = json!({
        "name": "Keyed Renamed", "description": "new words", "api_base_url": "https://new.example/api",
        "api_key": {"params": [
            {"name": "X-Api-Key", "display_name": "Secret key"},
            {"name": "X-Org-Id", "display_name": "Org"}
        ]}
    });
    let res = api.patch("/api/v1/services/keyed", &relabelled).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let s = res.json();
    assert_eq!(
        (s["name"].as_str(), s["api_base_url"].as_str()),
        (Some("Keyed Renamed"), Some("https://new.example/api"))
    );
    assert_eq!(s["api_key"]["params"][0]["display_name"], "Secret key");
    let res = api
        .patch(
            "/api/v1/services/oauthed",
            &json!({"oauth2": {
                "client_id": "new-id", "client_secret": "new-secret",
                "token_url": "https://accounts.zoho.com/oauth/v2/token",
                "scopes": [
                    {"scope": "Desk.tickets.READ", "display_name": "See tickets"},
                    {"scope": "Desk.tickets.UPDATE", "display_name": "Change tickets"}
                ]
            }}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let o = res.json()["oauth2"].clone();
    assert_eq!(o["client_id"], "new-id");
    assert_eq!(o["token_url"], "https://accounts.zoho.com/oauth/v2/token");
    assert_eq!(o["scopes"][1]["display_name"], "Change tickets");
    assert_eq!(opened_secret(&app, "oauthed").await.as_deref(), Some("new-secret"));

    // Without connections, the same changes are allowed.
    delete_connection(&app, "keyed_conn").await;
    let res = api.patch("/api/v1/services/keyed", &json!({"auth_type": "basic"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["auth_type"], "basic");
}

#[tokio::test]
async fn patch_updates_only_what_it_names() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let created = api.create("/api/v1/services", &zoho_service("patchy", "Patchy", "s")).await;
    let res =
        api.patch("/api/v1/services/patchy", &json!({"description": "", "oauth2": {"revoke_url": ""}})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let s = res.json();
    assert_eq!(s["description"], "");
    assert_eq!(s["oauth2"]["revoke_url"], Value::Null);
    assert_eq!(s["oauth2"]["scopes"], created["oauth2"]["scopes"]);
    assert_eq!(s["oauth2"]["extra_auth_params"], created["oauth2"]["extra_auth_params"]);
    assert_eq!(s["api_base_url"], created["api_base_url"]);
    assert_eq!(api.patch("/api/v1/services/missing", &json!({"name": "x"})).await.status, 404);
}

// ---------------------------------------------------------------------------------------------
// Search, filter, sort, pagination
// ---------------------------------------------------------------------------------------------

async fn search(api: &Api, needle: &str) -> Vec<String> {
    let q: String = url::form_urlencoded::byte_serialize(needle.as_bytes()).collect();
    let res = api.get(&format!("/api/v1/services?per_page=100&search={q}")).await;
    assert_eq!(res.status, 200, "{needle}: {}", res.body);
    let body = res.json();
    let mut names = link_names(&body);
    assert_eq!(body["total"], names.len(), "{needle}");
    names.sort();
    names
}

#[tokio::test]
async fn search_matches_a_substring_of_the_name_or_link_name_in_any_case() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    seed_search_fixtures(&api).await;
    let cases: &[(&str, &[&str])] = &[
        // 1 and 2 characters take the LIKE path; 3+ the trigram index.
        ("z", &["zendesk", "zoho_desk"]),
        ("Z", &["zendesk", "zoho_desk"]),
        ("hu", &["github"]),
        ("DE", &["freshdesk", "under_score", "zendesk", "zoho_desk"]),
        ("desk", &["freshdesk", "zendesk", "zoho_desk"]),
        ("DESK", &["freshdesk", "zendesk", "zoho_desk"]),
        ("o d", &["zoho_desk"]),
        ("oho_d", &["zoho_desk"]),
        ("support", &["zendesk"]),
        ("jira_clo", &["jira_cloud"]),
        ("GITHUB", &["github"]),
        ("  desk  ", &["freshdesk", "zendesk", "zoho_desk"]),
        ("nothing", &[]),
        (
            "",
            &[
                "freshdesk",
                "github",
                "greek",
                "jira_cloud",
                "munchen",
                "percent",
                "quoted",
                "under_score",
                "zendesk",
                "zoho_desk",
            ],
        ),
    ];
    for (needle, expected) in cases {
        assert_eq!(search(&api, needle).await, *expected, "search {needle:?}");
    }
}

#[tokio::test]
async fn search_takes_wildcards_quotes_and_unicode_literally() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    seed_search_fixtures(&api).await;
    let cases: &[(&str, &[&str])] = &[
        ("%", &["percent"]),
        ("0%", &["percent"]),
        ("100%", &["percent"]),
        ("%u", &[]),
        ("% up", &["percent"]),
        ("_", &["jira_cloud", "under_score", "zoho_desk"]),
        ("r_s", &["under_score"]),
        ("a_c", &["jira_cloud"]),
        ("o_o", &[]),
        ("h_", &[]),
        ("\"", &["quoted"]),
        ("\"quoted\"", &["quoted"]),
        ("\"Quo", &["quoted"]),
        ("\\", &[]),
        ("MÜN", &["munchen"]),
        ("ün", &["munchen"]),
        ("ü", &["munchen"]),
        ("αβγ", &["greek"]),
        ("δέλ", &["greek"]),
        ("*", &[]),
        ("desk OR jira", &[]),
        ("NEAR(", &[]),
    ];
    for (needle, expected) in cases {
        assert_eq!(search(&api, needle).await, *expected, "search {needle:?}");
    }
}

#[tokio::test]
async fn search_follows_renames_and_deletes() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    seed_search_fixtures(&api).await;
    api.patch("/api/v1/services/github", &json!({"name": "Octocat Hub"})).await;
    assert_eq!(search(&api, "octocat").await, ["github"]);
    assert_eq!(search(&api, "git").await, ["github"], "the link name still matches");
    assert_eq!(search(&api, "GitHub").await, ["github"]);
    assert_eq!(api.delete("/api/v1/services/zendesk").await.status, 204);
    assert_eq!(search(&api, "desk").await, ["freshdesk", "zoho_desk"]);
}

#[tokio::test]
async fn the_list_filters_by_authentication_type_and_refuses_unknown_query_values() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    seed_search_fixtures(&api).await;
    let mut keyed = link_names(&api.get("/api/v1/services?auth_type=api_key").await.json());
    keyed.sort();
    assert_eq!(keyed, ["freshdesk", "github", "zendesk"]);
    assert_eq!(link_names(&api.get("/api/v1/services?auth_type=oauth2").await.json()), ["zoho_desk"]);
    assert_eq!(api.get("/api/v1/services?auth_type=basic").await.json()["total"], 6);
    assert_eq!(
        link_names(&api.get("/api/v1/services?auth_type=api_key&search=desk").await.json()),
        ["freshdesk", "zendesk"]
    );
    for (query, field) in [
        ("auth_type=digest", "auth_type"),
        ("sort=created", "sort"),
        ("page=0", "page"),
        ("page=-3", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
    ] {
        let res = api.get(&format!("/api/v1/services?{query}")).await;
        assert!(!field_errors(&res, field).is_empty(), "{query}");
    }
    let res = api.get(&format!("/api/v1/services?search={}", "x".repeat(201))).await;
    assert_eq!(field_errors(&res, "search"), ["Use at most 200 characters."]);
    let res = api.get("/api/v1/services?page=abc").await;
    assert!(res.status == 400 || res.status == 422, "{}", res.status);
    assert_eq!(res.json()["error"]["message"].as_str().map(|m| !m.is_empty()), Some(true));
}

#[tokio::test]
async fn the_list_sorts_by_name_and_by_last_update_in_both_directions() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for (link, name) in [("bravo", "bravo"), ("alpha", "Alpha"), ("delta", "Delta"), ("charlie", "CHARLIE")] {
        api.create("/api/v1/services", &json!({"name": name, "link_name": link, "auth_type": "basic"})).await;
        app.clock.advance(60);
    }
    let order = |sort: &'static str| {
        let api = &api;
        async move { link_names(&api.get(&format!("/api/v1/services?sort={sort}")).await.json()) }
    };
    assert_eq!(order("name").await, ["alpha", "bravo", "charlie", "delta"], "case-insensitive");
    assert_eq!(order("-name").await, ["delta", "charlie", "bravo", "alpha"]);
    assert_eq!(order("-updated").await, ["charlie", "delta", "alpha", "bravo"]);
    assert_eq!(order("updated").await, ["bravo", "alpha", "delta", "charlie"]);
    assert_eq!(
        link_names(&api.get("/api/v1/services").await.json()),
        ["alpha", "bravo", "charlie", "delta"],
        "name is the default"
    );

    let res = api.patch("/api/v1/services/alpha", &json!({"description": "touched"})).await;
    assert_eq!(res.status, 200);
    assert_ne!(res.json()["updated_at"], res.json()["created_at"]);
    assert_eq!(order("-updated").await, ["alpha", "charlie", "delta", "bravo"]);
    assert_eq!(order("updated").await, ["bravo", "delta", "charlie", "alpha"]);
}

#[tokio::test]
async fn pagination_reports_the_total_and_returns_each_page() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    seed_many(&app, 130).await;
    let expected: Vec<String> = (0..130).map(|i| format!("service_{i:03}")).collect();
    for per_page in [25usize, 50, 100] {
        let mut seen = Vec::new();
        for page in 1.. {
            let body = api.get(&format!("/api/v1/services?per_page={per_page}&page={page}")).await.json();
            assert_eq!(
                (body["total"].as_i64(), body["page"].as_i64(), body["per_page"].as_i64()),
                (Some(130), Some(page), Some(per_page as i64))
            );
            let names = link_names(&body);
            if names.is_empty() {
                assert_eq!(
                    page,
                    130usize.div_ceil(per_page) as i64 + 1,
                    "per_page {per_page}: the first empty page follows the last"
                );
                break;
            }
            assert!(names.len() <= per_page);
            seen.extend(names);
        }
        assert_eq!(seen, expected, "per_page {per_page}: every service once, in order");
    }
    let last = api.get("/api/v1/services?per_page=25&page=6").await.json();
    assert_eq!(link_names(&last), expected[125..]);
    let beyond = api.get("/api/v1/services?page=999999").await.json();
    assert_eq!((beyond["total"].as_i64(), link_names(&beyond).len()), (Some(130), 0));
    let newest = api.get("/api/v1/services?sort=-updated&per_page=50&page=2").await.json();
    assert_eq!(link_names(&newest), expected[30..80].iter().rev().cloned().collect::<Vec<_>>());
    let filtered = api.get("/api/v1/services?search=service_12&per_page=25").await.json();
    assert_eq!(filtered["total"], 10);
}

// ---------------------------------------------------------------------------------------------
// Audit, access
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_update_and_delete_write_audit_rows_naming_the_changed_fields_never_the_secret() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let canary = "CANARY-audit-secret";
    api.create("/api/v1/services", &zoho_service("audited", "Audited", canary)).await;
    app.clock.advance(10);
    api.patch(
        "/api/v1/services/audited",
        &json!({"name": "Audited 2", "description": "x", "oauth2": {"client_secret": canary}}),
    )
    .await;
    api.patch("/api/v1/services/audited", &json!({"api_base_url": "https://other.example"})).await;
    let scopes = json!([{"scope": "Desk.tickets.READ", "display_name": "Tickets"}]);
    api.patch("/api/v1/services/audited", &json!({"oauth2": {"client_id": "other", "scopes": scopes}})).await;
    api.patch("/api/v1/services/audited", &json!({"auth_type": "basic"})).await;
    assert_eq!(api.delete("/api/v1/services/audited").await.status, 204);

    let rows = audit_rows(&app).await;
    let actions: Vec<&str> = rows.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "service.create",
            "service.update",
            "service.update",
            "service.update",
            "service.update",
            "service.delete"
        ]
    );
    assert!(rows.iter().all(|(_, target, _)| target == "audited"));
    let changed =
        |i: usize| -> Value { serde_json::from_str::<Value>(&rows[i].2).unwrap()["changed"].clone() };
    assert_eq!(changed(1), json!(["name", "description", "client_secret"]));
    assert_eq!(changed(2), json!(["api_base_url"]));
    assert_eq!(changed(3), json!(["oauth2.client_id", "oauth2.scopes"]));
    assert_eq!(changed(4), json!(["auth_type"]));
    let create: Value = serde_json::from_str(&rows[0].2).unwrap();
    assert_eq!(create["auth_type"], "oauth2");
    for (_, _, details) in &rows {
        assert!(!details.contains(canary), "{details}");
    }
    let who: Vec<(String, Option<i64>, i64)> = app
        .state
        .db
        .run(|c| {
            Ok(audit_log::table
                .filter(audit_log::target_type.eq("service"))
                .order(audit_log::id)
                .select((audit_log::actor, audit_log::actor_id, audit_log::at))
                .load(c)?)
        })
        .await
        .unwrap();
    assert!(who.iter().all(|(actor, id, _)| actor == "admin" && id.is_some()));
    assert_eq!(who[1].2 - who[0].2, 10, "when, from the app's clock");
}

#[tokio::test]
async fn a_technicians_token_gets_403_on_every_service_endpoint() {
    let app = TestApp::spawn().await;
    let admin = Api::admin(&app).await;
    admin.create("/api/v1/services", &api_key_service_named("shared", "Shared")).await;
    app.add_user("tech", Role::Technician, "tech-password-12").await;
    let tech = Api::for_user(&app, "tech").await;
    for res in [
        tech.get("/api/v1/services").await,
        tech.get("/api/v1/services/shared").await,
        tech.post("/api/v1/services", &api_key_service_named("mine", "Mine")).await,
        tech.patch("/api/v1/services/shared", &json!({"name": "Taken over"})).await,
        tech.delete("/api/v1/services/shared").await,
    ] {
        assert_eq!(res.status, 403, "{}", res.body);
        assert_eq!(res.json()["error"]["code"], "forbidden");
    }
    assert_eq!(counts(&app).await.0, 1);
    assert_eq!(admin.get("/api/v1/services/shared").await.json()["name"], "Shared");
}

#[tokio::test]
async fn hop_by_hop_and_framing_headers_are_refused_as_credential_headers() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let key = api_key_service_named("framed", "Framed");
    let oauth = zoho_service("framed_oauth", "Framed", "s3cret");
    for name in [
        "Host",
        "content-length",
        "Transfer-Encoding",
        "Connection",
        "Keep-Alive",
        "TE",
        "Trailer",
        "Upgrade",
    ] {
        let res = api.post("/api/v1/services", &with(&key, "api_key.params.1.name", json!(name))).await;
        let messages = field_errors(&res, "api_key.params.1.name");
        assert!(messages.iter().any(|m| m.contains("cannot carry a credential")), "{name}: {messages:?}");
    }
    for name in ["Proxy-Authorization", "Proxy-Connection", "Host"] {
        let res =
            api.post("/api/v1/services", &with(&oauth, "oauth2.token_placement.name", json!(name))).await;
        let messages = field_errors(&res, "oauth2.token_placement.name");
        assert!(messages.iter().any(|m| m.contains("cannot carry a credential")), "{name}: {messages:?}");
    }
    assert_eq!(counts(&app).await, (0, 0, 0), "nothing written");
    // As a query or form parameter the same name is only a name.
    let query =
        with(&with(&key, "api_key.param_type", json!("query")), "api_key.params.0.name", json!("host"));
    api.create("/api/v1/services", &query).await;
}
