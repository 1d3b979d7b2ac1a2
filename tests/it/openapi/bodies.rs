//! The request bodies the API takes are the ones the document describes: a field left out and a
//! field sent as `null` are alike, limits count the characters as sent, options are the documented
//! values exactly, a section or a credential for another kind of service is refused rather than
//! ignored, and a client may send back the names it read.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Api, Page, TestApp};

/// Expects a 422 with a message for `field`.
async fn refuses(api: &Api, method: Method, path: &str, body: Value, field: &str) {
    let (status, answer) = parts(api.send(method, path, Some(&body)).await);
    assert_eq!(status, 422, "{body}: {answer}");
    assert!(answer["errors"][field].is_array(), "{body}: wanted a message for {field}: {answer}");
}

/// An answer's status and JSON body (null when it has none).
fn parts(page: Page) -> (u16, Value) {
    (page.status, serde_json::from_str(&page.body).unwrap_or(Value::Null))
}

/// An API Key service with one query parameter and an API base URL.
fn weather_service(link: &str) -> Value {
    json!({
        "name": "Weather", "link_name": link, "auth_type": "api_key",
        "api_base_url": "https://weather.example.com",
        "api_key": { "param_type": "query", "params": [{ "name": "appid", "display_name": "App ID" }] },
    })
}

fn minimal_oauth_service(link: &str) -> Value {
    json!({
        "name": "Zoho", "link_name": link, "auth_type": "oauth2",
        "oauth2": {
            "client_id": "client-1", "authorization_url": "https://accounts.example.com/auth",
            "token_url": "https://accounts.example.com/token",
            "scopes": [{ "scope": "read", "display_name": "Read" }],
        },
    })
}

#[tokio::test]
async fn a_connection_change_may_send_back_its_own_link_name_and_service() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    assert_eq!(api.post("/api/v1/services", &weather_service("weather")).await.status, 201);
    assert_eq!(api.post("/api/v1/services", &weather_service("other")).await.status, 201);
    let created = json!({ "service": "weather", "name": "Weather", "link_name": "weather_ops" });
    assert_eq!(api.post("/api/v1/connections", &created).await.status, 201);

    let (status, read) = parts(api.get("/api/v1/connections/weather_ops").await);
    assert_eq!(status, 200);
    let back = json!({ "name": "Weather (ops)", "link_name": read["link_name"], "service": read["service"] });
    let (status, changed) = parts(api.patch("/api/v1/connections/weather_ops", &back).await);
    assert_eq!((status, changed["name"].as_str()), (200, Some("Weather (ops)")), "{changed}");

    for service in ["other", ""] {
        let body = json!({ "name": "Renamed", "service": service });
        refuses(&api, Method::PATCH, "/api/v1/connections/weather_ops", body, "service").await;
    }
    let (_, kept) = parts(api.get("/api/v1/connections/weather_ops").await);
    assert_eq!((kept["name"].as_str(), kept["service"].as_str()), (Some("Weather (ops)"), Some("weather")));
}

#[tokio::test]
async fn null_in_an_optional_field_is_taken_for_leaving_it_out_as_the_document_says() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let (_, doc) = parts(api.get("/api/v1/openapi.json").await);
    let mut service = weather_service("weather");
    service["description"] = Value::Null;
    service["test_request"] = Value::Null;
    service["oauth2"] = Value::Null;
    let (status, created) = parts(api.post("/api/v1/services", &service).await);
    assert_eq!(status, 201, "{created}");
    let (status, changed) =
        parts(api.patch("/api/v1/services/weather", &json!({ "name": null, "api_base_url": null })).await);
    assert_eq!((status, changed["name"].as_str()), (200, Some("Weather")), "{changed}");

    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("ServiceInput", "description"),
        ("ServiceInput", "test_request"),
        ("ServiceInput", "oauth2"),
        ("ServiceChanges", "name"),
        ("ServiceChanges", "api_base_url"),
        ("OAuth2Input", "client_secret"),
        ("ConnectionChanges", "scopes"),
        ("CredentialInput", "password"),
        ("InvokeRequest", "timeout_ms"),
    ] {
        assert_eq!(schemas[schema]["properties"][field]["nullable"], true, "{schema}.{field}");
    }
    for (schema, field) in
        [("ServiceInput", "name"), ("ServiceInput", "link_name"), ("ConnectionInput", "service")]
    {
        assert!(schemas[schema]["required"].as_array().unwrap().contains(&json!(field)), "{schema}.{field}");
        assert!(schemas[schema]["properties"][field].get("nullable").is_none(), "{schema}.{field}");
    }
    assert!(
        schemas["ServiceChanges"]["properties"].get("link_name").is_none(),
        "a change does not take a new link name"
    );
}

#[tokio::test]
async fn a_section_for_another_authentication_type_is_refused_not_ignored() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let mut basic = json!({ "name": "Basic", "link_name": "basic_one", "auth_type": "basic" });
    basic["oauth2"] = json!({ "token_placement": { "prefix": "x".repeat(60) } });
    refuses(&api, Method::POST, "/api/v1/services", basic.clone(), "oauth2").await;
    basic["oauth2"] = Value::Null;
    basic["api_key"] = json!({ "param_type": "header" });
    refuses(&api, Method::POST, "/api/v1/services", basic.clone(), "api_key").await;
    basic["api_key"] = Value::Null;
    assert_eq!(api.post("/api/v1/services", &basic).await.status, 201);

    // A change is checked against the type it sends, or else the stored one.
    assert_eq!(api.post("/api/v1/services", &minimal_oauth_service("zoho")).await.status, 201);
    let params = json!({ "params": [{ "name": "appid", "display_name": "App ID" }] });
    refuses(&api, Method::PATCH, "/api/v1/services/zoho", json!({ "api_key": params }), "api_key").await;
    let (status, changed) = parts(
        api.patch("/api/v1/services/zoho", &json!({ "auth_type": "api_key", "api_key": params })).await,
    );
    assert_eq!((status, changed["auth_type"].as_str()), (200, Some("api_key")), "{changed}");
}

#[tokio::test]
async fn an_option_is_one_of_the_documented_values_exactly() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for (field, oauth2) in [
        ("oauth2.grant_type", json!({ "grant_type": "" })),
        ("oauth2.grant_type", json!({ "grant_type": " client_credentials" })),
        ("oauth2.client_auth", json!({ "client_auth": "" })),
        ("oauth2.scope_delimiter", json!({ "scope_delimiter": "" })),
        ("oauth2.token_placement.in", json!({ "token_placement": { "in": "" } })),
    ] {
        let mut service = minimal_oauth_service("zoho");
        service["oauth2"].as_object_mut().unwrap().extend(oauth2.as_object().unwrap().clone());
        refuses(&api, Method::POST, "/api/v1/services", service, field).await;
    }
    let mut service = weather_service("weather");
    service["auth_type"] = json!("api_key ");
    refuses(&api, Method::POST, "/api/v1/services", service.clone(), "auth_type").await;
    service["auth_type"] = json!("api_key");
    service["api_key"]["param_type"] = json!("");
    refuses(&api, Method::POST, "/api/v1/services", service, "api_key.param_type").await;
}

#[tokio::test]
async fn a_query_placement_takes_no_prefix() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let mut service = minimal_oauth_service("zoho");
    service["oauth2"]["token_placement"] =
        json!({ "in": "query", "name": "access_token", "prefix": "Bearer" });
    refuses(&api, Method::POST, "/api/v1/services", service.clone(), "oauth2.token_placement.prefix").await;
    service["oauth2"]["token_placement"]["prefix"] = json!("");
    assert_eq!(api.post("/api/v1/services", &service).await.status, 201);
}

#[tokio::test]
async fn limits_count_the_characters_as_sent() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    // Characters, not bytes: 300 two-byte characters fit a 500-character client ID.
    let mut service = minimal_oauth_service("zoho");
    service["oauth2"]["client_id"] = json!("é".repeat(300));
    service["oauth2"]["extra_auth_params"] = json!({ "hint": "é".repeat(400) });
    let (status, created) = parts(api.post("/api/v1/services", &service).await);
    assert_eq!(status, 201, "{created}");

    // As sent: whitespace around a value counts.
    let padded = |n: usize| format!("  {}  ", "a".repeat(n));
    for (field, body) in [
        ("name", json!({ "name": padded(97), "link_name": "one", "auth_type": "basic" })),
        ("link_name", json!({ "name": "One", "link_name": padded(47), "auth_type": "basic" })),
        (
            "description",
            json!({ "name": "One", "link_name": "one", "auth_type": "basic", "description": padded(997) }),
        ),
        (
            "api_base_url",
            json!({
                "name": "One", "link_name": "one", "auth_type": "basic", "api_base_url": " ".repeat(2049)
            }),
        ),
    ] {
        refuses(&api, Method::POST, "/api/v1/services", body, field).await;
    }
    let mut service = minimal_oauth_service("zoho_two");
    service["oauth2"]["scopes"] = json!([{ "scope": "read", "display_name": " ".repeat(101) }]);
    refuses(&api, Method::POST, "/api/v1/services", service.clone(), "oauth2.scopes.0.display_name").await;
    // A repeated status counts too.
    service["oauth2"]["scopes"] = json!([{ "scope": "read", "display_name": "" }]);
    service["oauth2"]["refresh_on_status"] = json!([403, 403, 403, 403, 403, 403]);
    refuses(&api, Method::POST, "/api/v1/services", service, "oauth2.refresh_on_status").await;
}

#[tokio::test]
async fn credentials_for_another_kind_of_service_are_refused_not_ignored() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    assert_eq!(api.post("/api/v1/services", &weather_service("weather")).await.status, 201);
    let basic = json!({ "name": "Basic", "link_name": "basic_one", "auth_type": "basic" });
    assert_eq!(api.post("/api/v1/services", &basic).await.status, 201);
    for (service, link) in [("weather", "weather_ops"), ("basic_one", "basic_ops")] {
        let body = json!({ "service": service, "name": "Ops", "link_name": link });
        assert_eq!(api.post("/api/v1/connections", &body).await.status, 201);
    }
    let key_and_user = json!({ "params": { "appid": "k-1" }, "username": "a\nb" });
    refuses(&api, Method::PUT, "/api/v1/connections/weather_ops/credentials", key_and_user, "username").await;
    let user_and_params = json!({ "username": "me", "password": "pw", "params": { "x": "a\nb" } });
    refuses(&api, Method::PUT, "/api/v1/connections/basic_ops/credentials", user_and_params, "params").await;
    // A password is kept as sent: a line break at its end is no more allowed than inside it.
    let broken = json!({ "username": "me", "password": "pw\n" });
    refuses(&api, Method::PUT, "/api/v1/connections/basic_ops/credentials", broken, "password").await;

    let status = api
        .put(
            "/api/v1/connections/basic_ops/credentials",
            &json!({ "username": " me ", "password": "pw", "params": {} }),
        )
        .await
        .status;
    assert_eq!(status, 200);
    let status = api
        .put("/api/v1/connections/weather_ops/credentials", &json!({ "params": { "appid": " k-1\n" } }))
        .await
        .status;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_connection_to_a_service_whose_name_is_no_link_name_is_a_422() {
    // On PostgreSQL a NUL byte in a lookup is an error of the database: it is never looked up.
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for service in ["a\u{0}b", "", "Zoho Desk"] {
        let body = json!({ "service": service, "name": "Ops", "link_name": "ops" });
        refuses(&api, Method::POST, "/api/v1/connections", body, "service").await;
    }
}

#[tokio::test]
async fn authorizing_a_connection_that_is_not_oauth2_is_a_conflict() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    assert_eq!(api.post("/api/v1/services", &weather_service("weather")).await.status, 201);
    let body = json!({ "service": "weather", "name": "Ops", "link_name": "weather_ops" });
    assert_eq!(api.post("/api/v1/connections", &body).await.status, 201);
    let (status, answer) =
        parts(api.send(Method::POST, "/api/v1/connections/weather_ops/authorize", None).await);
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("conflict")), "{answer}");
}
