//! Security headers on every kind of response.

use crate::support::{ADMIN_PASSWORD, Page, TestApp};

fn assert_hardened(page: &Page, what: &str) {
    let csp = page.header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(page.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(page.header("referrer-policy"), "same-origin", "{what}");
    assert_eq!(page.header("cross-origin-resource-policy"), "same-origin", "{what}");
    let permissions = page.header("permissions-policy");
    for feature in ["camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"] {
        assert!(permissions.contains(feature), "{what}: {permissions}");
    }
}

#[tokio::test]
async fn pages_errors_and_assets_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let console = admin.get("/admin/connections").await;
    assert_hardened(&console, "console");
    assert_eq!(console.header("cache-control"), "no-store");
    assert!(console.header("vary").contains("HX-Request"));

    let missing = admin.get("/nope").await;
    assert_eq!(missing.status, 404);
    assert_hardened(&missing, "404");

    app.add_user("tech", connections::models::user::Role::Technician, "tech-password-12").await;
    let tech = app.browser();
    tech.sign_in("tech", "tech-password-12").await;
    let forbidden = tech.get("/admin/services").await;
    assert_eq!(forbidden.status, 403);
    assert_hardened(&forbidden, "403");
    assert_eq!(forbidden.header("cache-control"), "no-store");

    let login = app.browser().get("/login").await;
    assert_hardened(&login, "login");

    let css = app.browser().get("/static/app.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
    assert_hardened(&css, "static");
    let js = app.browser().get("/static/htmx.min.js").await;
    assert!(js.body.contains("htmx"), "htmx is vendored and served");
    assert_eq!(js.header("cache-control"), "public, max-age=3600");
    assert!(js.header("strict-transport-security").is_empty(), "no HSTS over plain http");
}

#[tokio::test]
async fn a_missing_static_file_is_not_cached_publicly() {
    let app = TestApp::spawn().await;
    for path in ["/static/nope.css", "/static/app.css.bak", "/static/%2e%2e%2fCargo.toml"] {
        let missing = app.browser().get(path).await;
        assert_eq!(missing.status, 404, "{path}");
        assert_eq!(missing.header("cache-control"), "no-store", "{path}");
        assert_hardened(&missing, path);
    }
}

#[tokio::test]
async fn over_https_the_portal_sends_hsts_and_host_prefixed_secure_cookies() {
    let app =
        TestApp::spawn_with(|c| c.base_url = Some(url::Url::parse("https://desk.example.com").unwrap()))
            .await;
    let browser = app.browser();
    let login = browser.get("/login").await;
    assert_eq!(login.header("strict-transport-security"), "max-age=31536000");
    let csrf_cookie = login.header("set-cookie");
    assert!(csrf_cookie.starts_with("__Host-connections_login_csrf="), "{csrf_cookie}");
    assert_host_cookie(csrf_cookie);

    let signed_in = browser.sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let session = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("__Host-"));
    let session = session.expect("a __Host- session cookie");
    assert!(session.starts_with("__Host-connections_session="), "{session}");
    assert_host_cookie(session);
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    assert!(browser.cookie("connections_session").is_none());
    let page = browser.get("/admin/connections").await;
    assert_eq!(page.status, 200, "the prefixed cookie signs in");
    assert_eq!(page.header("strict-transport-security"), "max-age=31536000");
    assert_hardened(&page, "https page");
    let out = browser.submit("/admin/connections", "/logout", &[]).await;
    assert_eq!(out.status, 303);
    let cleared: Vec<&str> = out.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(
        cleared.iter().any(|c| c.starts_with("__Host-connections_session=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_eq!(browser.get("/admin/connections").await.status, 303, "signed out");
}

/// What a browser requires of a `__Host-` cookie: Secure, Path=/ and no Domain.
fn assert_host_cookie(cookie: &str) {
    let attributes: Vec<&str> = cookie.split(';').skip(1).map(str::trim).collect();
    assert!(attributes.contains(&"Secure"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(!attributes.iter().any(|a| a.to_ascii_lowercase().starts_with("domain")), "{cookie}");
}

#[tokio::test]
async fn templates_have_no_inline_script_or_style() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
    let mut stack = vec![std::path::PathBuf::from(dir)];
    let mut checked = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        checked += 1;
        assert!(!text.contains(" style=\""), "{}: inline style", path.display());
        assert!(!text.contains("<script>"), "{}: inline script", path.display());
        assert!(!text.contains(" onclick="), "{}: inline handler", path.display());
    }
    assert!(checked >= 5);
}
