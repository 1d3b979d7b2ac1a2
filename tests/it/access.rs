//! Who reaches what: walks THE route table so that a new route cannot ship unguarded.

use actix_web::http::Method;
use connections::models::user::Role;
use connections::routes::{Access, routes};

use crate::support::{ADMIN_PASSWORD, Browser, Page, TestApp, within_two_seconds};

/// A concrete path for a route pattern (`{name}` → a sample value).
fn concrete(path: &str) -> String {
    path.split('/').map(|seg| if seg.starts_with('{') { "sample" } else { seg }).collect::<Vec<_>>().join("/")
}

async fn call(browser: &Browser, method: &Method, path: &str, csrf: Option<&str>) -> Page {
    let path = concrete(path);
    match *method {
        Method::GET => browser.get(&path).await,
        _ => {
            let fields: Vec<(&str, &str)> = csrf.map(|t| vec![("csrf_token", t)]).unwrap_or_default();
            browser
                .request(reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(), &path, &fields)
                .await
        }
    }
}

#[tokio::test]
async fn a_technician_gets_403_on_every_admin_route() {
    let app = TestApp::spawn().await;
    app.add_user("tech", Role::Technician, "tech-password-12").await;
    let tech = app.browser();
    assert_eq!(tech.sign_in("tech", "tech-password-12").await.status, 303);
    let csrf = tech.get("/login").await; // signed in: redirected, so read the token from the 403 page
    let token = tech.get("/admin/connections").await;
    assert_eq!(token.status, 403);
    assert!(token.body.contains("The SDAdmin role is required"), "{}", token.body);
    let token = token.csrf();
    drop(csrf);
    let admin_routes: Vec<_> = routes().into_iter().filter(|r| r.access == Access::Admin).collect();
    assert!(admin_routes.len() >= 3);
    for route in admin_routes {
        let res = call(&tech, &route.method, route.path, Some(&token)).await;
        assert_eq!(res.status, 403, "{} {}", route.method, route.path);
        assert!(res.body.contains("SDAdmin role is required"), "{} {}", route.method, route.path);
    }
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_api_callers_get_401_json() {
    let app = TestApp::spawn().await;
    let anon = app.browser();
    for route in routes() {
        let res = call(&anon, &route.method, route.path, None).await;
        match route.access {
            Access::Public => {}
            Access::Admin | Access::SignedIn if route.method == Method::GET => {
                assert_eq!(res.status, 303, "{} {}", route.method, route.path);
                assert!(
                    res.header("location").starts_with("/login?next="),
                    "{} {}",
                    route.method,
                    route.path
                );
            }
            Access::Admin | Access::SignedIn => {
                assert!(matches!(res.status, 303 | 403), "{} {}: {}", route.method, route.path, res.status);
            }
            // The test app configures no metrics token: the route does not exist (see `metrics`).
            Access::Metrics => assert_eq!(res.status, 404, "{} {}", route.method, route.path),
            Access::Api | Access::Invoke => {
                assert_eq!(res.status, 401, "{} {}", route.method, route.path);
                // A HEAD answer has no body to read the code from.
                if route.method != Method::HEAD {
                    assert_eq!(res.json()["error"]["code"], "unauthorized");
                }
                assert_eq!(res.header("www-authenticate"), "Bearer");
            }
        }
    }
}

#[tokio::test]
async fn every_state_changing_browser_route_needs_the_csrf_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let unsafe_routes: Vec<_> = routes()
        .into_iter()
        .filter(|r| r.method != Method::GET && matches!(r.access, Access::Admin | Access::SignedIn))
        .collect();
    assert!(!unsafe_routes.is_empty());
    for route in &unsafe_routes {
        for token in [None, Some("forged-token")] {
            let res = call(&admin, &route.method, route.path, token).await;
            assert_eq!(res.status, 403, "{} {} with {token:?}", route.method, route.path);
            assert!(res.body.contains("reload the page"), "{}", res.body);
        }
    }
    assert_eq!(admin.get("/admin/connections").await.status, 200, "still signed in");
}

#[tokio::test]
async fn a_cross_site_post_is_refused_even_with_a_valid_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let token = admin.get("/admin/connections").await.csrf();
    let http = app.http();
    let cookie = format!("connections_session={}", admin.cookie("connections_session").unwrap());
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let res = http
            .post(format!("{}/logout", app.base))
            .header("cookie", &cookie)
            .header(header, value)
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{header}: {value}");
    }
    assert_eq!(admin.get("/admin/connections").await.status, 200, "the session survived");
    // The same request from this site works.
    let res = admin.post("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(res.status, 303);
}

#[tokio::test]
async fn every_state_changing_browser_route_refuses_a_cross_site_request_with_a_valid_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let token = admin.get("/admin/connections").await.csrf();
    let unsafe_routes: Vec<_> = routes()
        .into_iter()
        .filter(|r| r.method != Method::GET && matches!(r.access, Access::Admin | Access::SignedIn))
        .collect();
    let mut cross_site = app.browser();
    cross_site.origin = "https://evil.example".to_owned();
    *cross_site.cookies.lock().unwrap() = admin.cookies.lock().unwrap().clone();
    for route in &unsafe_routes {
        let res = call(&cross_site, &route.method, route.path, Some(&token)).await;
        assert_eq!(res.status, 403, "{} {}", route.method, route.path);
    }
    assert_eq!(admin.get("/admin/connections").await.status, 200, "still signed in");
}

#[tokio::test]
async fn the_login_form_needs_its_own_csrf_token() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let res = browser
        .post("/login", &[("csrf_token", "x"), ("username", "admin"), ("password", ADMIN_PASSWORD)])
        .await;
    assert_eq!(res.status, 403);
    assert!(browser.cookie("connections_session").is_none());
}

#[tokio::test]
async fn api_tokens_authenticate_sdadmins_only() {
    let app = TestApp::spawn().await;
    app.add_user("tech", Role::Technician, "tech-password-12").await;
    let http = app.http();
    let me = format!("{}/api/v1/me", app.base);

    let res = http.get(&me).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = http.get(&me).bearer_auth("cn_not-a-real-token").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["error"]["code"], "unauthorized");

    let tech = app.token_for("tech").await;
    let res = http.get(&me).bearer_auth(&tech).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("SDAdmin"));

    let admin = app.token_for("admin").await;
    for _ in 0..2 {
        let res = http.get(&me).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["username"], "admin");
    }
    // A second instance on the same database has checked (and, on PostgreSQL, cached) it too.
    let other = TestApp::spawn_on(app.shared_db(), |_| {}).await;
    let me_on_other = format!("{}/api/v1/me", other.base);
    for _ in 0..2 {
        assert_eq!(http.get(&me_on_other).bearer_auth(&admin).send().await.unwrap().status(), 200);
    }

    // Revoked in the database, as `connections token revoke` does it.
    let now = app.clock.now();
    app.state
        .db
        .run(move |c| {
            let listed = connections::models::api_token::list(c, None)?
                .into_iter()
                .find(|t| t.owner == "admin")
                .unwrap();
            Ok(connections::models::api_token::revoke(c, listed.token.id, now)?)
        })
        .await
        .unwrap();
    for url in [&me, &me_on_other] {
        let refused = async || http.get(url).bearer_auth(&admin).send().await.unwrap().status() == 401;
        assert!(within_two_seconds(refused).await, "a revoked token stops working on every instance");
    }
}

#[tokio::test]
async fn the_api_ignores_session_cookies() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res = admin.get("/api/v1/me").await;
    assert_eq!(res.status, 401, "a browser session is no API credential, so the API needs no CSRF token");
}

#[tokio::test]
async fn unknown_paths_get_a_404_page_or_json() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // The other pairs lie under a pattern's scopes (`routes::routes_in_match_order`): the scope of the
    // fixed part matches, then the pattern's or none; the pattern's, then none of its routes.
    for (page_path, api_path) in [
        ("/no/such/page", "/api/v1/nope"),
        ("/admin/connections/some_link/nope", "/api/v1/connections/some_link/nope"),
        ("/admin/services/rows", "/api/v1/services/some_link/nope"),
    ] {
        let page = admin.get(page_path).await;
        assert_eq!(page.status, 404, "{page_path}");
        assert!(page.body.contains("Not found") && page.body.contains("Sign out"), "404 in the layout");
        let api = app.http().get(format!("{}{api_path}", app.base)).send().await.unwrap();
        assert_eq!(api.status(), 404, "{api_path}");
        assert_eq!(api.json::<serde_json::Value>().await.unwrap()["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn health_needs_no_database_and_ready_checks_it() {
    let app = TestApp::spawn().await;
    let http = app.http();
    let res = http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
    let res = http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
