//! The request bodies the API takes are the ones the document describes: a field left out and a
//! field sent as `null` are alike, limits count the characters as sent, options are the documented
//! values exactly, a section or a credential for another kind of service is refused rather than
//! ignored, and a client may send back the names it read.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;

struct Api {
    app: TestApp,
    token: String,
}

impl Api {
    async fn new() -> Api {
        let app = TestApp::spawn().await;
        let token = app.token_for("admin").await;
        Api { app, token }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req =
            self.app.http().request(method, format!("{}{path}", self.app.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// Expects a 422 with a message for `field`.
    async fn refuses(&self, method: Method, path: &str, body: Value, field: &str) {
        let (status, answer) = self.call(method, path, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(answer["errors"][field].is_array(), "{body}: wanted a message for {field}: {answer}");
    }
}

fn api_key_service(link: &str) -> Value {
    json!({
        "name": "Weather", "link_name": link, "auth_type": "api_key", "api_base_url": "https://weather.example.com",
        "api_key": { "param_type": "query", "params": [{ "name": "appid", "display_name": "App ID" }] },
    })
}

fn oauth_service(link: &str) -> Value {
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
    let api = Api::new().await;
    assert_eq!(api.post("/api/v1/services", api_key_service("weather")).await.0, 201);
    assert_eq!(api.post("/api/v1/services", api_key_service("other")).await.0, 201);
    let created = json!({ "service": "weather", "name": "Weather", "link_name": "weather_ops" });
    assert_eq!(api.post("/api/v1/connections", created).await.0, 201);

    let (status, read) = api.call(Method::GET, "/api/v1/connections/weather_ops", None).await;
    assert_eq!(status, 200);
    let back = json!({ "name": "Weather (ops)", "link_name": read["link_name"], "service": read["service"] });
    let (status, changed) = api.patch("/api/v1/connections/weather_ops", back).await;
    assert_eq!((status, changed["name"].as_str()), (200, Some("Weather (ops)")), "{changed}");

    for service in ["other", ""] {
        let body = json!({ "name": "Renamed", "service": service });
        api.refuses(Method::PATCH, "/api/v1/connections/weather_ops", body, "service").await;
    }
    let (_, kept) = api.call(Method::GET, "/api/v1/connections/weather_ops", None).await;
    assert_eq!((kept["name"].as_str(), kept["service"].as_str()), (Some("Weather (ops)"), Some("weather")));
}

#[tokio::test]
async fn null_in_an_optional_field_is_taken_for_leaving_it_out_as_the_document_says() {
    let api = Api::new().await;
    let (_, doc) = api.call(Method::GET, "/api/v1/openapi.json", None).await;
    let mut service = api_key_service("weather");
    service["description"] = Value::Null;
    service["test_request"] = Value::Null;
    service["oauth2"] = Value::Null;
    let (status, created) = api.post("/api/v1/services", service).await;
    assert_eq!(status, 201, "{created}");
    let (status, changed) =
        api.patch("/api/v1/services/weather", json!({ "name": null, "api_base_url": null })).await;
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
    let api = Api::new().await;
    let mut basic = json!({ "name": "Basic", "link_name": "basic_one", "auth_type": "basic" });
    basic["oauth2"] = json!({ "token_placement": { "prefix": "x".repeat(60) } });
    api.refuses(Method::POST, "/api/v1/services", basic.clone(), "oauth2").await;
    basic["oauth2"] = Value::Null;
    basic["api_key"] = json!({ "param_type": "header" });
    api.refuses(Method::POST, "/api/v1/services", basic.clone(), "api_key").await;
    basic["api_key"] = Value::Null;
    assert_eq!(api.post("/api/v1/services", basic).await.0, 201);

    // A change is checked against the type it sends, or else the stored one.
    assert_eq!(api.post("/api/v1/services", oauth_service("zoho")).await.0, 201);
    let params = json!({ "params": [{ "name": "appid", "display_name": "App ID" }] });
    api.refuses(Method::PATCH, "/api/v1/services/zoho", json!({ "api_key": params }), "api_key").await;
    let (status, changed) =
        api.patch("/api/v1/services/zoho", json!({ "auth_type": "api_key", "api_key": params })).await;
    assert_eq!((status, changed["auth_type"].as_str()), (200, Some("api_key")), "{changed}");
}

#[tokio::test]
async fn an_option_is_one_of_the_documented_values_exactly() {
    let api = Api::new().await;
    for (field, oauth2) in [
        ("oauth2.grant_type", json!({ "grant_type": "" })),
        ("oauth2.grant_type", json!({ "grant_type": " client_credentials" })),
        ("oauth2.client_auth", json!({ "client_auth": "" })),
        ("oauth2.scope_delimiter", json!({ "scope_delimiter": "" })),
        ("oauth2.token_placement.in", json!({ "token_placement": { "in": "" } })),
    ] {
        let mut service = oauth_service("zoho");
        service["oauth2"].as_object_mut().unwrap().extend(oauth2.as_object().unwrap().clone());
        api.refuses(Method::POST, "/api/v1/services", service, field).await;
    }
    let mut service = api_key_service("weather");
    service["auth_type"] = json!("api_key ");
    api.refuses(Method::POST, "/api/v1/services", service.clone(), "auth_type").await;
    service["auth_type"] = json!("api_key");
    service["api_key"]["param_type"] = json!("");
    api.refuses(Method::POST, "/api/v1/services", service, "api_key.param_type").await;
}

#[tokio::test]
async fn a_query_placement_takes_no_prefix() {
    let api = Api::new().await;
    let mut service = oauth_service("zoho");
    service["oauth2"]["token_placement"] =
        json!({ "in": "query", "name": "access_token", "prefix": "Bearer" });
    api.refuses(Method::POST, "/api/v1/services", service.clone(), "oauth2.token_placement.prefix").await;
    service["oauth2"]["token_placement"]["prefix"] = json!("");
    assert_eq!(api.post("/api/v1/services", service).await.0, 201);
}

#[tokio::test]
async fn limits_count_the_characters_as_sent() {
    let api = Api::new().await;
    // Characters, not bytes: 300 two-byte characters fit a 500-character client ID.
    let mut service = oauth_service("zoho");
    service["oauth2"]["client_id"] = json!("é".repeat(300));
    service["oauth2"]["extra_auth_params"] = json!({ "hint": "é".repeat(400) });
    let (status, created) = api.post("/api/v1/services", service).await;
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
            json!({ "name": "One", "link_name": "one", "auth_type": "basic", "api_base_url": " ".repeat(2049) }),
        ),
    ] {
        api.refuses(Method::POST, "/api/v1/services", body, field).await;
    }
    let mut service = oauth_service("zoho_two");
    service["oauth2"]["scopes"] = json!([{ "scope": "read", "display_name": " ".repeat(101) }]);
    api.refuses(Method::POST, "/api/v1/services", service.clone(), "oauth2.scopes.0.display_name").await;
    // A repeated status counts too.
    service["oauth2"]["scopes"] = json!([{ "scope": "read", "display_name": "" }]);
    service["oauth2"]["refresh_on_status"] = json!([403, 403, 403, 403, 403, 403]);
    api.refuses(Method::POST, "/api/v1/services", service, "oauth2.refresh_on_status").await;
}

#[tokio::test]
async fn credentials_for_another_kind_of_service_are_refused_not_ignored() {
    let api = Api::new().await;
    assert_eq!(api.post("/api/v1/services", api_key_service("weather")).await.0, 201);
    let basic = json!({ "name": "Basic", "link_name": "basic_one", "auth_type": "basic" });
    assert_eq!(api.post("/api/v1/services", basic).await.0, 201);
    for (service, link) in [("weather", "weather_ops"), ("basic_one", "basic_ops")] {
        let body = json!({ "service": service, "name": "Ops", "link_name": link });
        assert_eq!(api.post("/api/v1/connections", body).await.0, 201);
    }
    let key_and_user = json!({ "params": { "appid": "k-1" }, "username": "a\nb" });
    api.refuses(Method::PUT, "/api/v1/connections/weather_ops/credentials", key_and_user, "username").await;
    let user_and_params = json!({ "username": "me", "password": "pw", "params": { "x": "a\nb" } });
    api.refuses(Method::PUT, "/api/v1/connections/basic_ops/credentials", user_and_params, "params").await;
    // A password is kept as sent: a line break at its end is no more allowed than inside it.
    let broken = json!({ "username": "me", "password": "pw\n" });
    api.refuses(Method::PUT, "/api/v1/connections/basic_ops/credentials", broken, "password").await;

    let (status, _) = api
        .put(
            "/api/v1/connections/basic_ops/credentials",
            json!({ "username": " me ", "password": "pw", "params": {} }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .put("/api/v1/connections/weather_ops/credentials", json!({ "params": { "appid": " k-1\n" } }))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_connection_to_a_service_whose_name_is_no_link_name_is_a_422() {
    // On PostgreSQL a NUL byte in a lookup is an error of the database: it is never looked up.
    let api = Api::new().await;
    for service in ["a\u{0}b", "", "Zoho Desk"] {
        let body = json!({ "service": service, "name": "Ops", "link_name": "ops" });
        api.refuses(Method::POST, "/api/v1/connections", body, "service").await;
    }
}

#[tokio::test]
async fn authorizing_a_connection_that_is_not_oauth2_is_a_conflict() {
    let api = Api::new().await;
    assert_eq!(api.post("/api/v1/services", api_key_service("weather")).await.0, 201);
    let body = json!({ "service": "weather", "name": "Ops", "link_name": "weather_ops" });
    assert_eq!(api.post("/api/v1/connections", body).await.0, 201);
    let (status, answer) = api.call(Method::POST, "/api/v1/connections/weather_ops/authorize", None).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("conflict")), "{answer}");
}
