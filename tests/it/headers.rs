//! Security headers on every kind of response.

use crate::helpers::TestApp;

fn assert_hardened(page: &crate::helpers::Page, what: &str) {
    let csp = page.header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(page.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(page.header("referrer-policy"), "same-origin", "{what}");
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
