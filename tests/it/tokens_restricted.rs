//! What a token may do, and until when: a restricted token invokes (and tests) only its connections
//! and is refused everywhere else, a deleted connection drops out of its restriction without widening
//! it, an expired token is a 401 `token_expired`, and a revoke or expiry holds at once on every
//! instance, however recently the token was checked there.

use actix_web::http::Method;
use connections::routes::{Access, routes};
use serde_json::json;

use crate::support::{
    Api, Page, TestApp, Upstream, api_key_service, connection, invoke, spawn_app, within_two_seconds,
};

/// Service `svc` under the upstream's `/api` and its connections `desk` and `other`, both connected.
async fn connected(api: &Api, up: &Upstream) {
    let mut service = api_key_service("svc");
    service["api_base_url"] = format!("{}/api", up.url).into();
    api.create("/api/v1/services", &service).await;
    for link in ["desk", "other"] {
        api.create("/api/v1/connections", &connection("svc", link, &[])).await;
        let body = json!({"params": {"X-Api-Key": format!("key-{link}"), "X-Org-Id": "7"}});
        let res = api.put(&format!("/api/v1/connections/{link}/credentials"), &body).await;
        assert_eq!(res.status, 200, "{}", res.body);
    }
}

/// A token of the admin's restricted to `links`.
async fn restricted(app: &TestApp, api: &Api, links: &[&str]) -> Api {
    let created = api.create("/api/v1/tokens", &json!({ "label": "script", "connections": links })).await;
    Api::at(&app.base, created["token"].as_str().unwrap())
}

fn concrete(path: &str, link: &str) -> String {
    path.split('/').map(|seg| if seg.starts_with('{') { link } else { seg }).collect::<Vec<_>>().join("/")
}

fn refused(res: &Page, what: &str) {
    assert_eq!(res.status, 403, "{what}: {}", res.body);
    let body = res.json();
    assert_eq!(body["error"]["code"], "forbidden", "{what}");
    assert_eq!(body["error"]["message"], "This token may only invoke: desk.", "{what}");
}

#[tokio::test]
async fn a_restricted_token_is_refused_everywhere_but_its_invoke_routes() {
    let app = spawn_app().await;
    let (api, up) = (Api::admin(&app).await, Upstream::start().await);
    connected(&api, &up).await;
    let script = restricted(&app, &api, &["desk"]).await;

    let res = invoke(&script, "desk", json!({"method": "GET", "path": "/items"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(up.only().header("x-api-key"), "key-desk", "its own connection, credentials injected");
    let test = script.post("/api/v1/connections/desk/test", &json!({})).await;
    assert_eq!(test.status, 200, "{}", test.body);

    // Another connection, and one that does not exist: the same refusal, so nothing is learnt.
    for link in ["other", "ghost"] {
        refused(&invoke(&script, link, json!({"path": "/items"})).await, link);
        refused(&script.post(&format!("/api/v1/connections/{link}/test"), &json!({})).await, link);
    }
    assert_eq!(up.count(), 1, "nothing else went upstream");

    // Every other API route of THE route table, with this token's own connection in the path.
    let api_routes: Vec<_> = routes().into_iter().filter(|r| r.access == Access::Api).collect();
    assert!(api_routes.len() > 10);
    for route in api_routes {
        let method = reqwest::Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let body = (route.method != Method::GET).then(|| json!({}));
        let res = script.send(method, &concrete(route.path, "desk"), body.as_ref()).await;
        refused(&res, &format!("{} {}", route.method, route.path));
    }
    // Pages take no token: a script holding one is sent to sign in.
    let http = app.http();
    for path in ["/admin/connections", "/admin/tokens", "/admin/tokens/mine"] {
        let res = http.get(format!("{}{path}", app.base)).bearer_auth("cn_x").send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
    }
    assert_eq!(api.get("/api/v1/me").await.status, 200, "an unrestricted token still does everything");
}

#[tokio::test]
async fn a_deleted_connection_drops_out_of_a_restriction_without_widening_it() {
    let app = spawn_app().await;
    let (api, up) = (Api::admin(&app).await, Upstream::start().await);
    connected(&api, &up).await;
    let script = restricted(&app, &api, &["desk", "other"]).await;
    assert_eq!(invoke(&script, "desk", json!({"path": "/items"})).await.status, 200);

    assert_eq!(api.delete("/api/v1/connections/desk").await.status, 200);
    let listed = api.get("/api/v1/tokens").await.json();
    let token = listed["items"].as_array().unwrap().iter().find(|t| t["label"] == "script").unwrap().clone();
    assert_eq!(token["restricted_to"], json!(["other"]));
    // A new connection under the old link name is another connection.
    api.create("/api/v1/connections", &connection("svc", "desk", &[])).await;
    let res = invoke(&script, "desk", json!({"path": "/items"})).await;
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(res.json()["error"]["message"], "This token may only invoke: other.");

    assert_eq!(api.delete("/api/v1/connections/other").await.status, 200);
    let res = script.get("/api/v1/connections").await;
    assert_eq!(res.status, 403, "a token restricted to nothing may do nothing: {}", res.body);
    assert!(res.json()["error"]["message"].as_str().unwrap().contains("can do nothing"));
    let id = token["id"].as_i64().unwrap();
    assert_eq!(api.get(&format!("/api/v1/tokens/{id}")).await.json()["restricted_to"], json!([]));
}

#[tokio::test]
async fn an_expired_token_is_refused_with_401_token_expired_even_when_checked_a_moment_ago() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let created = api.create("/api/v1/tokens", &json!({ "label": "short", "expires_in_days": 1 })).await;
    let (id, short) =
        (created["id"].as_i64().unwrap(), Api::at(&app.base, created["token"].as_str().unwrap()));
    for _ in 0..2 {
        assert_eq!(short.get("/api/v1/me").await.status, 200, "in use, and cached");
    }
    app.clock.advance(86_400 - 1);
    assert_eq!(short.get("/api/v1/me").await.status, 200, "a second before its expiry");
    app.clock.advance(1);
    let res = short.get("/api/v1/me").await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("www-authenticate"), "Bearer");
    assert_eq!(res.json()["error"]["code"], "token_expired");
    assert!(res.json()["error"]["message"].as_str().unwrap().contains("expired"));
    let listed = api.get(&format!("/api/v1/tokens/{id}")).await.json();
    assert_eq!(listed["status"], "expired");
}

#[tokio::test]
async fn a_token_revoked_or_expired_on_one_instance_is_refused_at_once_on_the_other() {
    let one = spawn_app().await;
    let two = TestApp::spawn_on(one.shared_db(), |config| {
        config.outbound_allow_cidrs = one.state.config.outbound_allow_cidrs.clone();
        config.outbound_allow_http = true;
    })
    .await;
    let (api, up) = (Api::admin(&one).await, Upstream::start().await);
    connected(&api, &up).await;
    let created = api.create("/api/v1/tokens", &json!({ "label": "script", "connections": ["desk"] })).await;
    let token = created["token"].as_str().unwrap().to_owned();
    let on_two = Api::at(&two.base, &token);
    for _ in 0..2 {
        assert_eq!(invoke(&on_two, "desk", json!({"path": "/items"})).await.status, 200, "held by two");
    }

    // Revoked through the first instance's page.
    let admin = one.admin().await;
    let id = created["id"].as_i64().unwrap();
    let res =
        admin.submit("/admin/tokens/mine", &format!("/admin/tokens/{id}/revoke"), &[("back", "mine")]).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), "/admin/tokens/mine");
    let gone = async || invoke(&on_two, "desk", json!({"path": "/items"})).await.status == 401;
    assert!(within_two_seconds(gone).await, "a revoked token works on the other instance");

    // Expiry needs no message between instances: each checks it against its own clock on every use.
    let created = api.create("/api/v1/tokens", &json!({ "label": "short", "expires_in_days": 2 })).await;
    let short = Api::at(&two.base, created["token"].as_str().unwrap());
    assert_eq!(short.get("/api/v1/me").await.status, 200);
    two.clock.advance(2 * 86_400);
    assert_eq!(short.get("/api/v1/me").await.json()["error"]["code"], "token_expired");
}
