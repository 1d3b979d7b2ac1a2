//! The list's "of N" without a search comes from counters that triggers keep (`service_counts`):
//! they must follow every create, type change and delete, per authentication type.

use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn totals(app: &TestApp, token: &str) -> [i64; 4] {
    let mut out = [0; 4];
    for (i, filter) in ["", "&auth_type=api_key", "&auth_type=basic", "&auth_type=oauth2"].iter().enumerate()
    {
        let url = format!("{}/api/v1/services?per_page=1{filter}", app.base);
        let body: Value = app.http().get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        out[i] = body["total"].as_i64().unwrap_or_else(|| panic!("no total: {body}"));
    }
    out
}

#[tokio::test]
async fn list_totals_follow_creates_type_changes_and_deletes() {
    let app = TestApp::spawn().await;
    let token = app.token_for("admin").await;
    let send = |method: reqwest::Method, path: &str, body: Value| {
        app.http().request(method, format!("{}{path}", app.base)).bearer_auth(&token).json(&body).send()
    };
    let api_key = |name: &str| {
        json!({ "name": name, "link_name": name, "auth_type": "api_key",
                "api_key": { "param_type": "header", "params": [{ "name": "X-Api-Key", "display_name": "API Key" }] } })
    };
    assert_eq!(totals(&app, &token).await, [0, 0, 0, 0]);
    for name in ["alpha", "beta", "gamma"] {
        assert_eq!(
            send(reqwest::Method::POST, "/api/v1/services", api_key(name)).await.unwrap().status(),
            201
        );
    }
    let basic = json!({ "name": "Delta", "link_name": "delta", "auth_type": "basic" });
    assert_eq!(send(reqwest::Method::POST, "/api/v1/services", basic).await.unwrap().status(), 201);
    assert_eq!(totals(&app, &token).await, [4, 3, 1, 0]);

    let res =
        send(reqwest::Method::PATCH, "/api/v1/services/beta", json!({ "auth_type": "basic" })).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(totals(&app, &token).await, [4, 2, 2, 0]);
    // A change that keeps the type, and a refused one, leave the counts alone.
    assert_eq!(
        send(reqwest::Method::PATCH, "/api/v1/services/beta", json!({ "name": "Beta 2" }))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(reqwest::Method::PATCH, "/api/v1/services/beta", json!({ "auth_type": "nope" }))
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(totals(&app, &token).await, [4, 2, 2, 0]);

    assert_eq!(
        send(reqwest::Method::DELETE, "/api/v1/services/alpha", json!({})).await.unwrap().status(),
        204
    );
    assert_eq!(totals(&app, &token).await, [3, 1, 2, 0]);
    // A search counts the matching rows themselves.
    let body: Value = app
        .http()
        .get(format!("{}/api/v1/services?search=gam", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["total"], 1, "{body}");
}
