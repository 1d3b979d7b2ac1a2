//! `/api/v1/tokens`: create (the token in the answer, once), list (mine, one user's, everyone's),
//! show, revoke; every refusal a 422 or 404 with nothing written.

use connections::clock::rfc3339;
use serde_json::{Value, json};

use crate::support::{Api, T0, TestApp, api_key_service, command, connection, database_text, second_admin};

fn labels(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|t| t["label"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn tokens_are_created_listed_and_revoked_through_the_api() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;

    let res = api.post("/api/v1/tokens", &json!({ "label": "  Deploy bot  ", "expires_in_days": 30 })).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let created = res.json();
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(res.header("location"), format!("/api/v1/tokens/{id}"));
    assert_eq!(created["label"], "Deploy bot");
    assert_eq!(created["owner"], "admin");
    assert_eq!(created["status"], "active");
    assert_eq!(created["restricted_to"], Value::Null);
    assert_eq!(created["created_at"], rfc3339(T0));
    assert_eq!(created["expires_at"], rfc3339(T0 + 30 * 86_400));
    assert!(token.starts_with(created["prefix"].as_str().unwrap()));

    let default = api.create("/api/v1/tokens", &json!({ "label": "Default" })).await;
    assert_eq!(default["expires_at"], rfc3339(T0 + 90 * 86_400), "90 days unless chosen");
    let never =
        api.create("/api/v1/tokens", &json!({ "label": "Forever", "expires_in_days": "never" })).await;
    assert_eq!(never["expires_at"], Value::Null);

    // Listed, shown, never with the token.
    let list = api.get("/api/v1/tokens").await;
    assert_eq!(list.status, 200);
    assert_eq!(labels(&list.json()), ["Forever", "Default", "Deploy bot", "test"]);
    assert!(!list.body.contains(&token));
    let shown = api.get(&format!("/api/v1/tokens/{id}")).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json()["label"], "Deploy bot");
    assert!(!shown.body.contains(&token));
    assert!(!database_text(&app).await.contains(&token));

    let new = Api::at(&app.base, &token);
    assert_eq!(new.get("/api/v1/me").await.status, 200);
    let used = api.get(&format!("/api/v1/tokens/{id}")).await.json();
    assert_eq!(used["last_used_at"], rfc3339(T0));
    assert_eq!(used["last_used_address"], "127.0.0.1");

    assert_eq!(api.delete(&format!("/api/v1/tokens/{id}")).await.status, 204);
    assert_eq!(new.get("/api/v1/me").await.status, 401);
    let revoked = api.get(&format!("/api/v1/tokens/{id}")).await.json();
    assert_eq!(
        (revoked["status"].as_str(), revoked["revoked_at"].as_str()),
        (Some("revoked"), Some(&*rfc3339(T0)))
    );
    assert_eq!(api.delete(&format!("/api/v1/tokens/{id}")).await.status, 204, "twice changes nothing");
    for missing in ["99999", "0", "-1", "abc"] {
        assert_eq!(api.delete(&format!("/api/v1/tokens/{missing}")).await.status, 404, "{missing}");
        assert_eq!(api.get(&format!("/api/v1/tokens/{missing}")).await.status, 404, "{missing}");
    }
}

#[tokio::test]
async fn an_sdadmin_lists_one_users_tokens_or_everyones_and_revokes_any() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    second_admin(&app, "ops").await;
    let ops = Api::for_user(&app, "ops").await;
    ops.create("/api/v1/tokens", &json!({ "label": "Ops sync" })).await;

    assert_eq!(labels(&ops.get("/api/v1/tokens").await.json()), ["Ops sync", "test"]);
    assert_eq!(labels(&api.get("/api/v1/tokens?user=ops").await.json()), ["Ops sync", "test"]);
    let all = api.get("/api/v1/tokens?all=true").await.json();
    let owners: Vec<&str> =
        all["items"].as_array().unwrap().iter().map(|t| t["owner"].as_str().unwrap()).collect();
    assert_eq!(owners, ["ops", "ops", "admin"]);
    let long = api.get(&format!("/api/v1/tokens?user={}", "o".repeat(201))).await;
    assert_eq!(long.status, 422, "longer than the document allows");
    assert!(long.json()["errors"]["user"].is_array());
    for query in ["user=nobody", "user="] {
        let res = api.get(&format!("/api/v1/tokens?{query}")).await;
        assert_eq!((res.status, res.json()), (200, json!({ "items": [] })), "{query}");
    }
    assert_eq!(labels(&api.get("/api/v1/tokens?user=ops&all=true").await.json()), ["Ops sync", "test"]);
    assert_eq!(api.get("/api/v1/tokens?all=maybe").await.status, 400);

    // The admin revokes one of ops' tokens: ops' client stops working.
    let ops_test =
        all["items"].as_array().unwrap().iter().find(|t| t["label"] == "test" && t["owner"] == "ops");
    let id = ops_test.unwrap()["id"].as_i64().unwrap();
    assert_eq!(api.delete(&format!("/api/v1/tokens/{id}")).await.status, 204);
    assert_eq!(ops.get("/api/v1/tokens").await.status, 401);
}

#[tokio::test]
async fn a_bad_token_request_is_a_422_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("svc")).await;
    api.create("/api/v1/connections", &connection("svc", "desk", &[])).await;
    let cases = [
        (json!({ "label": "" }), "label"),
        (json!({ "label": "x".repeat(101) }), "label"),
        (json!({ "label": "a\u{7}b" }), "label"),
        (json!({ "label": "x", "expires_in_days": 0 }), "expires_in_days"),
        (json!({ "label": "x", "expires_in_days": 3651 }), "expires_in_days"),
        (json!({ "label": "x", "expires_in_days": "soon" }), "body"),
        (json!({ "label": "x", "connections": [] }), "connections"),
        (json!({ "label": "x", "connections": ["desk", "ghost"] }), "connections"),
        (json!({ "label": "x", "connections": ["Not A Link"] }), "connections"),
        (json!({ "label": "x", "scope": "all" }), "body"),
        (json!({ "expires_in_days": 30 }), "body"),
    ];
    for (body, field) in cases {
        let res = api.post("/api/v1/tokens", &body).await;
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        assert!(res.json()["errors"][field].is_array(), "{body}: {}", res.body);
    }
    assert_eq!(labels(&api.get("/api/v1/tokens").await.json()), ["test"], "nothing was created");
    let twice =
        api.create("/api/v1/tokens", &json!({ "label": "x", "connections": ["desk", " desk "] })).await;
    assert_eq!(twice["restricted_to"], json!(["desk"]), "a connection named twice is listed once");
}

#[tokio::test]
async fn the_cli_creates_expiring_and_restricted_tokens() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("svc")).await;
    api.create("/api/v1/connections", &connection("svc", "desk", &[])).await;
    let run = |args: &[&str]| {
        let out = command(&app.shared_db()).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&["token", "create", "admin", "--label", "sync", "--restrict", "desk"]);
    assert!(ok, "{err}");
    assert!(out.contains("This token may only invoke: desk.") && out.contains("expiring 20"), "{out}");
    let token = out.lines().find(|l| l.starts_with("cn_")).expect("token printed");
    let res = Api::at(&app.base, token).get("/api/v1/me").await;
    assert_eq!(res.status, 403, "restricted: {}", res.body);

    let (ok, out, err) = run(&["token", "create", "admin", "--expires-in-days", "never"]);
    assert!(ok && out.contains("expiring never"), "{out}{err}");
    let (ok, _, err) = run(&["token", "create", "admin", "--restrict", "ghost"]);
    assert!(!ok && err.contains("There is no connection with the link name ghost."), "{err}");
    let (ok, _, err) = run(&["token", "create", "admin", "--expires-in-days", "soon"]);
    assert!(!ok && err.contains("a number of days, or never"), "{err}");
    let (ok, _, err) = run(&["token", "create", "admin", "--expires-in-days", "0"]);
    assert!(!ok && err.contains("Choose between 1 and 3650 days."), "{err}");

    let (_, list, _) = run(&["token", "list"]);
    let sync = list.lines().find(|l| l.contains("sync")).expect("listed");
    assert!(sync.contains(" desk ") && sync.ends_with("active"), "{list}");
    let script = list.lines().find(|l| l.contains("script")).expect("listed");
    assert_eq!(script.matches("never").count(), 2, "never used, never expires: {list}");
}
