//! The OpenAPI document stays true: every `/api/v1` route of THE route table is documented and every
//! documented operation exists; references resolve; real answers of the API fit their schemas.

use std::collections::BTreeSet;

use connections::routes::{Access, routes};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Api, TestApp};

mod bodies;
mod methods;
mod queries;

/// `/api/v1/services/{link}` and `/api/v1/services/{link_name}` are the same route.
fn normalise(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') && seg.ends_with('}') { "{}" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "options", "head", "patch", "trace"] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), normalise(path)));
            }
        }
    }
    ops
}

async fn fetch_document(app: &TestApp) -> Value {
    let res = app.http().get(format!("{}/api/v1/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    res.json().await.expect("the document is JSON")
}

/// The schema at a local `$ref` (`#/components/schemas/Service`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("not a local reference: {reference}"));
    doc.pointer(pointer).unwrap_or_else(|| panic!("dangling reference {reference}"))
}

/// A schema with `$ref` and `allOf` folded in, so objects can be checked key by key.
fn flatten(doc: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return flatten(doc, resolve(doc, reference));
    }
    let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
        return schema.clone();
    };
    let mut out = schema.as_object().unwrap().clone();
    out.remove("allOf");
    let (mut properties, mut required) = (serde_json::Map::new(), Vec::new());
    for part in parts {
        let part = flatten(doc, part);
        for (k, v) in part.as_object().unwrap() {
            match k.as_str() {
                "properties" => properties.extend(v.as_object().unwrap().clone()),
                "required" => required.extend(v.as_array().unwrap().iter().cloned()),
                _ => {
                    out.entry(k.clone()).or_insert(v.clone());
                }
            }
        }
    }
    if !properties.is_empty() {
        out.insert("properties".into(), Value::Object(properties));
    }
    if !required.is_empty() {
        out.insert("required".into(), Value::Array(required));
    }
    Value::Object(out)
}

/// Checks `value` against `schema` (types, enums, required and unknown keys); returns the problems.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = flatten(doc, schema);
    if value.is_null() {
        if schema["nullable"] != true {
            problems.push(format!("{at}: null but not nullable"));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    let fits = match schema.get("type").and_then(Value::as_str) {
        Some("object") | None if value.is_object() => true,
        Some("object") => false,
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !fits {
        problems.push(format!("{at}: {value} is not of type {}", schema["type"]));
        return;
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            check(doc, &schema["items"], item, &format!("{at}[{i}]"), problems);
        }
    }
    let Some(object) = value.as_object() else { return };
    for key in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
        if !object.contains_key(key.as_str().unwrap()) {
            problems.push(format!("{at}: required {key} is missing"));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, v) in object {
        match (properties.and_then(|p| p.get(key)), schema.get("additionalProperties")) {
            (Some(property), _) => check(doc, property, v, &format!("{at}.{key}"), problems),
            (None, Some(extra)) if extra.is_object() => {
                check(doc, extra, v, &format!("{at}.{key}"), problems)
            }
            (None, _) if properties.is_some() => problems.push(format!("{at}: {key} is not documented")),
            (None, _) => {}
        }
    }
}

fn assert_fits(doc: &Value, schema_name: &str, value: &Value) {
    let mut problems = Vec::new();
    check(
        doc,
        &json!({ "$ref": format!("#/components/schemas/{schema_name}") }),
        value,
        schema_name,
        &mut problems,
    );
    assert!(problems.is_empty(), "the answer does not fit {schema_name}: {problems:#?}\n{value:#}");
}

#[tokio::test]
async fn the_document_lists_every_api_route_and_only_routes_that_exist() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    assert_eq!(doc["openapi"], "3.0.3");
    let documented = documented(&doc);
    let served: BTreeSet<(String, String)> = routes()
        .into_iter()
        .filter(|r| r.access == Access::Api || r.path.starts_with("/api/"))
        .map(|r| (r.method.as_str().to_owned(), normalise(r.path)))
        .collect();
    assert!(served.len() >= 6, "{served:?}");
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(undocumented.is_empty(), "add these routes to src/api/openapi.rs: {undocumented:?}");
    let phantom: Vec<_> = documented.difference(&served).collect();
    assert!(phantom.is_empty(), "documented but not in the route table: {phantom:?}");
}

#[tokio::test]
async fn every_operation_declares_its_parameters_answers_and_security() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    assert_eq!(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
    assert_eq!(doc["security"], json!([{ "bearerAuth": [] }]));
    for name in ["Service", "ServiceInput", "ServiceList", "Error", "ValidationError"] {
        assert!(doc["components"]["schemas"][name].is_object(), "schema {name} is missing");
    }
    let public: BTreeSet<String> =
        routes().into_iter().filter(|r| r.access == Access::Public).map(|r| normalise(r.path)).collect();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let shared = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        for (method, op) in item.as_object().unwrap().iter().filter(|(k, _)| *k != "parameters") {
            let what = format!("{method} {path}");
            let params: Vec<Value> = shared
                .iter()
                .chain(op.get("parameters").and_then(Value::as_array).into_iter().flatten())
                .map(|p| flatten(&doc, p))
                .collect();
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    params.iter().any(|p| p["in"] == "path" && p["name"] == name && p["required"] == true),
                    "{what}: no path parameter {name}"
                );
            }
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{what}: no responses"));
            assert!(responses.keys().any(|s| s.starts_with('2')), "{what}: no success response");
            if public.contains(&normalise(path)) {
                assert_eq!(op["security"], json!([]), "{what} is public: say so with `security: []`");
            } else {
                assert!(op.get("security").is_none(), "{what} needs the bearer token");
                for status in ["401", "403"] {
                    assert!(responses.contains_key(status), "{what}: no {status} response");
                }
            }
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("422"), "{what} takes a body: document its 422");
            }
        }
    }
    // Every reference resolves.
    fn walk(doc: &Value, v: &Value) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    resolve(doc, r);
                }
                m.values().for_each(|v| walk(doc, v));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(doc, v)),
            _ => {}
        }
    }
    walk(&doc, &doc);
}

#[tokio::test]
async fn what_the_services_api_answers_fits_the_documented_schemas() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    let api = Api::admin(&app).await;

    let oauth = json!({
        "name": "Zoho Desk", "link_name": "zoho_desk", "auth_type": "oauth2",
        "api_base_url": "https://desk.example.com/api",
        "oauth2": {
            "client_id": "client-1", "client_secret": "s3cret-value",
            "authorization_url": "https://accounts.example.com/auth",
            "token_url": "https://accounts.example.com/token",
            "extra_auth_params": { "access_type": "offline" },
            "token_placement": { "in": "header", "name": "Authorization", "prefix": "Zoho-oauthtoken" },
            "scopes": [{ "scope": "Desk.tickets.READ", "display_name": "Read tickets" }],
        },
    });
    let api_key = json!({
        "name": "Weather", "link_name": "weather", "auth_type": "api_key",
        "api_key": { "param_type": "query", "params": [{ "name": "appid", "display_name": "App ID" }] },
    });
    for body in [&oauth, &api_key] {
        assert_fits(&doc, "ServiceInput", body);
        let res = api.post("/api/v1/services", body).await;
        assert_eq!(res.status, 201);
        assert_fits(&doc, "Service", &res.json());
    }
    let res = api.get("/api/v1/services?per_page=10").await;
    assert_eq!(res.status, 200);
    let list = res.json();
    assert_eq!(list["total"], 2);
    assert_fits(&doc, "ServiceList", &list);

    let res = api.post("/api/v1/services", &json!({ "name": "", "auth_type": "nope" })).await;
    assert_eq!(res.status, 422);
    let invalid = res.json();
    assert!(invalid["errors"]["link_name"].is_array(), "{invalid}");
    assert_fits(&doc, "ValidationError", &invalid);

    let res = api.get("/api/v1/services/no_such_service").await;
    assert_eq!(res.status, 404);
    assert_fits(&doc, "Error", &res.json());

    let res = api.get("/api/v1/me").await;
    assert_fits(&doc, "Me", &res.json());
}

#[tokio::test]
async fn what_the_connections_api_answers_fits_the_documented_schemas() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    let api = Api::admin(&app).await;
    let service = json!({
        "name": "Weather", "link_name": "weather", "auth_type": "api_key",
        "api_base_url": "https://weather.example.com",
        "api_key": { "param_type": "query", "params": [{ "name": "appid", "display_name": "App ID" }] },
    });
    assert_eq!(api.post("/api/v1/services", &service).await.status, 201);

    let input = json!({ "service": "weather", "name": "Weather (ops)", "link_name": "weather_ops" });
    assert_fits(&doc, "ConnectionInput", &input);
    let res = api.post("/api/v1/connections", &input).await;
    assert_eq!(res.status, 201);
    assert_fits(&doc, "Connection", &res.json());

    let res = api.post("/api/v1/connections/weather_ops/invoke", &json!({ "path": "/now" })).await;
    assert_eq!(res.status, 409);
    let refused = res.json();
    assert_eq!(refused["error"]["status"], "not_connected", "{refused}");
    assert_fits(&doc, "Error", &refused);

    let credentials = json!({ "params": { "appid": "k-123456" } });
    assert_fits(&doc, "CredentialInput", &credentials);
    let res = api.put("/api/v1/connections/weather_ops/credentials", &credentials).await;
    assert_eq!(res.status, 200);
    let connected = res.json();
    assert_eq!(connected["status"], "connected");
    assert_fits(&doc, "Connection", &connected);

    let res = api.send(Method::POST, "/api/v1/connections/weather_ops/test", None).await;
    assert_eq!(res.status, 200);
    assert_fits(&doc, "TestResult", &res.json());

    let res = api.get("/api/v1/connections?owner=any").await;
    assert_eq!(res.status, 200);
    assert_fits(&doc, "ConnectionList", &res.json());

    let res = api.send(Method::POST, "/api/v1/connections/weather_ops/revoke", None).await;
    assert_eq!(res.status, 200);
    assert_fits(&doc, "Connection", &res.json());

    let res = api.delete("/api/v1/connections/weather_ops").await;
    assert_eq!(res.status, 200);
    assert_fits(&doc, "ConnectionDeleted", &res.json());
}

#[tokio::test]
async fn what_the_tokens_api_answers_fits_the_documented_schemas() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    let api = Api::admin(&app).await;
    let input = json!({ "label": "Nightly sync", "expires_in_days": "never" });
    assert_fits(&doc, "TokenInput", &input);
    let res = api.post("/api/v1/tokens", &input).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let created = res.json();
    assert_fits(&doc, "CreatedToken", &created);
    let res = api.get("/api/v1/tokens?all=true").await;
    assert_fits(&doc, "TokenList", &res.json());
    let res = api.get(&format!("/api/v1/tokens/{}", created["id"])).await;
    assert_fits(&doc, "Token", &res.json());
    let expired = api.create("/api/v1/tokens", &json!({ "label": "short", "expires_in_days": 1 })).await;
    app.clock.advance(86_400);
    let res = Api::at(&app.base, expired["token"].as_str().unwrap()).get("/api/v1/me").await;
    assert_eq!(res.status, 401);
    assert_fits(&doc, "Error", &res.json());
    let res = api.delete(&format!("/api/v1/tokens/{}", created["id"])).await;
    assert_eq!(res.status, 204);
}

#[tokio::test]
async fn what_transfers_bulk_actions_and_the_export_answer_fits_the_documented_schemas() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    let api = Api::admin(&app).await;
    let service = json!({
        "name": "Weather", "link_name": "weather", "auth_type": "api_key",
        "api_key": { "param_type": "query", "params": [{ "name": "appid", "display_name": "App ID" }] },
    });
    assert_eq!(api.post("/api/v1/services", &service).await.status, 201);
    for link in ["one", "two"] {
        let input = json!({ "service": "weather", "name": link, "link_name": link });
        assert_eq!(api.post("/api/v1/connections", &input).await.status, 201);
    }
    crate::support::second_admin(&app, "bob").await;

    let transfer = json!({ "to": "bob" });
    assert_fits(&doc, "TransferInput", &transfer);
    let res = api.post("/api/v1/connections/one/transfer", &transfer).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_fits(&doc, "Connection", &res.json());
    let res = api.post("/api/v1/users/bob/transfer", &json!({ "to": "admin" })).await;
    assert_fits(&doc, "UserTransfer", &res.json());

    let bulk = json!({ "action": "revoke", "links": ["one", "nope"] });
    assert_fits(&doc, "BulkInput", &bulk);
    let res = api.post("/api/v1/connections/bulk", &bulk).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_fits(&doc, "BulkOutcome", &res.json());
    let filtered = json!({ "action": "revoke", "filter": { "service": "weather", "owner": "any" } });
    assert_fits(&doc, "BulkInput", &filtered);
    assert_fits(&doc, "BulkOutcome", &api.post("/api/v1/connections/bulk", &filtered).await.json());
    let res =
        api.post("/api/v1/connections/bulk", &json!({ "action": "revoke", "filter": { "x": 1 } })).await;
    assert_eq!(res.status, 422);
    assert_fits(&doc, "ValidationError", &res.json());
    let res = api.send(Method::POST, "/api/v1/services/weather/revoke-all", None).await;
    assert_fits(&doc, "BulkOutcome", &res.json());
    let res = api.get("/api/v1/services/export").await;
    assert_eq!(res.status, 200);
    assert_fits(&doc, "ServicesFile", &res.json());
}
