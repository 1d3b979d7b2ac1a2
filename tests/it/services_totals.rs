//! The list's "of N" without a search comes from counters that triggers keep (`service_counts`):
//! they must follow every create, type change and delete, per authentication type.

use reqwest::Method;
use serde_json::json;

use crate::support::{Api, TestApp};

/// The list's total: of every service, then of API Key, Basic and OAuth2 ones.
async fn totals(api: &Api) -> [i64; 4] {
    let mut out = [0; 4];
    for (i, filter) in ["", "&auth_type=api_key", "&auth_type=basic", "&auth_type=oauth2"].iter().enumerate()
    {
        let body = api.get(&format!("/api/v1/services?per_page=1{filter}")).await.json();
        out[i] = body["total"].as_i64().unwrap_or_else(|| panic!("no total: {body}"));
    }
    out
}

#[tokio::test]
async fn list_totals_follow_creates_type_changes_and_deletes() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let api_key = |name: &str| {
        json!({ "name": name, "link_name": name, "auth_type": "api_key",
                "api_key": {
                    "param_type": "header",
                    "params": [{ "name": "X-Api-Key", "display_name": "API Key" }]
                } })
    };
    assert_eq!(totals(&api).await, [0, 0, 0, 0]);
    for name in ["alpha", "beta", "gamma"] {
        assert_eq!(api.post("/api/v1/services", &api_key(name)).await.status, 201);
    }
    let basic = json!({ "name": "Delta", "link_name": "delta", "auth_type": "basic" });
    assert_eq!(api.post("/api/v1/services", &basic).await.status, 201);
    assert_eq!(totals(&api).await, [4, 3, 1, 0]);

    let res = api.patch("/api/v1/services/beta", &json!({ "auth_type": "basic" })).await;
    assert_eq!(res.status, 200);
    assert_eq!(totals(&api).await, [4, 2, 2, 0]);
    // A change that keeps the type, and a refused one, leave the counts alone.
    assert_eq!(api.patch("/api/v1/services/beta", &json!({ "name": "Beta 2" })).await.status, 200);
    assert_eq!(api.patch("/api/v1/services/beta", &json!({ "auth_type": "nope" })).await.status, 422);
    assert_eq!(totals(&api).await, [4, 2, 2, 0]);

    assert_eq!(api.send(Method::DELETE, "/api/v1/services/alpha", Some(&json!({}))).await.status, 204);
    assert_eq!(totals(&api).await, [3, 1, 2, 0]);
    // A search counts the matching rows themselves.
    let body = api.get("/api/v1/services?search=gam").await.json();
    assert_eq!(body["total"], 1, "{body}");
}
