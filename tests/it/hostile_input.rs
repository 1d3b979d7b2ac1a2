//! Hostile text at the edge, on both databases: control characters in a path (404), a query, a form or
//! a JSON body (422 naming the field) never reach the database, where PostgreSQL refuses NUL with a
//! 500; a sign-in `next` that a browser would read as another host; invoke header names with spaces.

use connections::db::schema::sessions;
use diesel::prelude::*;
use serde_json::json;

use crate::support::{ADMIN_PASSWORD, Api, Page, TestApp, Upstream, api_key_service, connection, spawn_app};

/// The field a 422 JSON answer names.
fn json_field(page: &Page) -> String {
    assert_eq!(page.status, 422, "{}", page.body);
    let body = page.json();
    assert_eq!(body["error"]["code"], "invalid");
    body["errors"].as_object().and_then(|e| e.keys().next().cloned()).unwrap_or_default()
}

/// An app with a service and a connection `desk`, so searches and lookups have rows to go through.
async fn app_with_a_connection() -> (TestApp, Api) {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    api.create("/api/v1/connections", &connection("desk", "desk", &[])).await;
    (app, api)
}

#[tokio::test]
async fn a_control_character_in_a_page_path_or_query_is_refused() {
    let (app, _) = app_with_a_connection().await;
    let admin = app.admin().await;
    for path in [
        "/admin/services?search=%00",
        "/admin/connections?search=%00",
        "/admin/connections?service=%00",
        "/login?next=%2F%0A",
    ] {
        let page = admin.get(path).await;
        assert_eq!(page.status, 422, "{path}: {}", page.body);
        assert!(page.body.contains("Remove control characters"), "{path}");
    }
    for path in [
        "/admin/services/a%00b",
        "/admin/services/a%00b/edit",
        "/admin/connections/a%00b",
        "/admin/connections/a%00b/edit",
        "/admin/connections/a%00b/connect",
        "/admin/connections/desk%0A",
        "/static/app.css%00",
    ] {
        assert_eq!(admin.get(path).await.status, 404, "{path}");
    }
    for path in
        ["/admin/services/a%00b/delete", "/admin/connections/a%00b/revoke", "/admin/connections/a%00b"]
    {
        assert_eq!(admin.submit("/admin/connections", path, &[]).await.status, 404, "POST {path}");
    }
    assert_eq!(
        admin.get("/admin/connections?search=desk").await.status,
        200,
        "the ordinary search still works"
    );
}

#[tokio::test]
async fn a_control_character_in_an_api_path_or_query_is_refused() {
    let (_app, api) = app_with_a_connection().await;
    for (path, field) in [
        ("/api/v1/services?search=%00", "search"),
        ("/api/v1/connections?search=%00", "search"),
        ("/api/v1/connections?service=%00", "service"),
        ("/api/v1/connections?service=desk&owner=a%1Bb", "owner"),
    ] {
        assert_eq!(json_field(&api.get(path).await), field, "{path}");
    }
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/services/a%00b"),
        (reqwest::Method::GET, "/api/v1/connections/a%00b"),
        (reqwest::Method::PATCH, "/api/v1/services/a%00b"),
        (reqwest::Method::DELETE, "/api/v1/connections/a%00b"),
        (reqwest::Method::POST, "/api/v1/connections/a%00b/invoke"),
        (reqwest::Method::PUT, "/api/v1/connections/a%00b/credentials"),
    ] {
        let page = api.send(method.clone(), path, Some(&json!({}))).await;
        assert_eq!(page.status, 404, "{method} {path}: {}", page.body);
        assert_eq!(page.json()["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn a_control_character_in_a_json_body_is_refused_and_line_breaks_are_kept() {
    let (_app, api) = app_with_a_connection().await;
    let mut service = api_key_service("nul");
    service["name"] = json!("a\u{0}b");
    assert_eq!(json_field(&api.post("/api/v1/services", &service).await), "name");
    let credentials = json!({"params": {"X-Api-Key": "key\u{0}", "X-Org-Id": "org"}});
    assert_eq!(
        json_field(&api.put("/api/v1/connections/desk/credentials", &credentials).await),
        "params.X-Api-Key"
    );
    let connection = json!({"name": "Desk\u{1b}[31m"});
    assert_eq!(json_field(&api.patch("/api/v1/connections/desk", &connection).await), "name");

    let mut service = api_key_service("multi_line");
    service["description"] = json!("Line one\r\n\tline two");
    api.create("/api/v1/services", &service).await;
    let shown = api.get("/api/v1/services/multi_line").await.json();
    assert_eq!(shown["description"], "Line one\r\n\tline two");
}

#[tokio::test]
async fn a_control_character_in_a_form_is_refused() {
    let (app, _) = app_with_a_connection().await;
    let admin = app.admin().await;
    let res = admin
        .submit("/admin/services/new", "/admin/services", &[("name", "a\u{0}b"), ("link_name", "nul_form")])
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("Remove control characters"));
    let res = admin
        .submit("/admin/connections/desk/edit", "/admin/connections/desk", &[("name", "Desk\u{7}")])
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
}

#[tokio::test]
async fn a_sign_in_with_a_nul_in_the_username_is_refused_without_a_session() {
    let app = TestApp::spawn().await;
    for (username, next) in [("admin\u{0}", "/"), ("admin", "/\u{b}"), ("admin", "/admin/services\u{0}")] {
        let browser = app.browser();
        let token = browser.get("/login").await.csrf();
        let res = browser
            .post(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("username", username),
                    ("password", ADMIN_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status, 422, "{username:?} {next:?}: {}", res.body);
        assert!(res.body.contains("Remove control characters"));
    }
    let sessions = app.state.db.run(|c| Ok(sessions::table.count().get_result::<i64>(c)?)).await.unwrap();
    assert_eq!(sessions, 0, "no session row for a refused sign-in");
}

/// Browsers drop tabs and line breaks from a Location before reading it: `/\t/evil.example` is
/// `//evil.example`, another host. Sign-in sends such a `next` home, and one that stays a path on
/// this site where the browser would have gone.
#[tokio::test]
async fn sign_in_never_redirects_to_what_a_browser_reads_as_another_host() {
    let app = TestApp::spawn().await;
    for (next, location) in [
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/\r\n/evil.example", "/"),
        ("\\/evil.example", "/"),
        ("/admin/services\r\n", "/admin/services"),
        ("/admin\t/services?page=2", "/admin/services?page=2"),
    ] {
        let browser = app.browser();
        let token = browser.get("/login").await.csrf();
        let res = browser
            .post(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("username", "admin"),
                    ("password", ADMIN_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{next:?}: {}", res.body);
        assert_eq!(res.header("location"), location, "{next:?}");
    }
}

#[tokio::test]
async fn an_invoke_header_name_with_a_leading_or_trailing_space_is_a_field_error() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    let up = Upstream::start().await;
    let mut service = api_key_service("spaced");
    service["api_base_url"] = json!(format!("{}/api", up.url));
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection("spaced", "spaced", &[])).await;
    let credentials = json!({"params": {"X-Api-Key": "key-value-1", "X-Org-Id": "org-value-1"}});
    assert_eq!(api.put("/api/v1/connections/spaced/credentials", &credentials).await.status, 200);
    for name in [" X-Trace", "X-Trace ", "X-Trace\t", "X Trace"] {
        let res = api
            .post(
                "/api/v1/connections/spaced/invoke",
                &json!({"method": "GET", "path": "/x", "headers": {name: "1"}}),
            )
            .await;
        assert_eq!(json_field(&res), "headers", "{name:?}");
    }
    assert_eq!(up.count(), 0, "nothing was sent");
    let res = api
        .post(
            "/api/v1/connections/spaced/invoke",
            &json!({"method": "GET", "path": "/x", "headers": {"X-Trace": "1"}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(up.only().header("x-trace"), "1");
}
