//! Connection variables end to end: a service whose URLs name `{tenant}`, a connection that gives
//! its value, and every call (consent, code exchange, invoke, refresh, revoke) at the resolved URL.
//! Loopback has no subdomains, so the variable sits in the path here; the host rules and the client
//! secret's pattern matching are unit-tested in `domain::variables`.

use serde_json::{Value, json};

use crate::support::{
    Api, FakeProvider, TestApp, connect_oauth, invoke, loopback, oauth_service_at, text_of,
};

/// An OAuth2 service of the fake whose every URL is under `/tenants/{tenant}`.
fn tenant_service(fake: &FakeProvider) -> Value {
    let mut body = oauth_service_at(fake, "tenanted");
    let at = |end: &str| format!("{}/tenants/{{tenant}}/{end}", fake.url);
    body["connection_variables"] = json!([{"name": "tenant", "display_name": "Tenant"}]);
    body["api_base_url"] = at("api").into();
    body["oauth2"]["authorization_url"] = at("authorize").into();
    body["oauth2"]["token_url"] = at("token").into();
    body["oauth2"]["revoke_url"] = at("revoke").into();
    body
}

fn connection_with(link: &str, variables: Value) -> Value {
    json!({
        "service": "tenanted", "name": format!("Connection {link}"), "link_name": link,
        "scopes": ["read", "offline_access"], "variables": variables,
    })
}

async fn start() -> (TestApp, FakeProvider, Api) {
    let app = TestApp::spawn_with(loopback).await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &tenant_service(&fake)).await;
    (app, fake, api)
}

fn requests_to(fake: &FakeProvider, path: &str) -> usize {
    fake.requests().iter().filter(|r| r.ends_with(path)).count()
}

#[tokio::test]
async fn a_connection_sends_every_call_to_the_urls_its_values_make() {
    let (app, fake, api) = start().await;
    let service = api.get("/api/v1/services/tenanted").await.json();
    assert_eq!(service["connection_variables"][0]["name"], "tenant");
    assert_eq!(service["api_base_url"], format!("{}/tenants/{{tenant}}/api", fake.url));

    let created =
        api.create("/api/v1/connections", &connection_with("acme_desk", json!({"tenant": "ACME"}))).await;
    assert_eq!(created["variables"], json!({"tenant": "acme"}), "stored lower-cased");

    let browser = app.admin().await;
    connect_oauth(&browser, "acme_desk").await;
    assert_eq!(requests_to(&fake, "GET /tenants/acme/authorize"), 1, "{:?}", fake.requests());
    assert_eq!(requests_to(&fake, "POST /tenants/acme/token"), 1, "{:?}", fake.requests());
    assert!(!fake.requests().iter().any(|r| r.contains("{tenant}") || r.contains("%7B")));

    let res = invoke(&api, "acme_desk", json!({"path": "/me"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(fake.api_calls().last().unwrap().path, "/tenants/acme/api/me");

    // Confinement holds for the resolved base: another tenant's API is outside it.
    let outside = format!("{}/tenants/other/api/me", fake.url);
    let res = invoke(&api, "acme_desk", json!({"url": outside})).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(!fake.requests().iter().any(|r| r.contains("/tenants/other/")));
    let inside = format!("{}/tenants/acme/api/inside", fake.url);
    assert_eq!(invoke(&api, "acme_desk", json!({"url": inside})).await.status, 200);

    // An expired token is refreshed at the tenant's token URL.
    app.clock.advance(3600);
    assert_eq!(invoke(&api, "acme_desk", json!({"path": "/me"})).await.status, 200);
    assert_eq!(fake.grants("refresh_token").len(), 1);
    assert_eq!(requests_to(&fake, "POST /tenants/acme/token"), 2, "{:?}", fake.requests());

    let details = text_of(&browser.get("/admin/connections/acme_desk").await);
    assert!(details.contains("Tenant"), "{details}");
    assert!(details.contains(&format!("{}/tenants/acme/api", fake.url)), "{details}");

    let res = api.post("/api/v1/connections/acme_desk/revoke", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(requests_to(&fake, "POST /tenants/acme/revoke"), 2, "refresh and access token");
    assert_eq!(fake.requests().iter().filter(|r| !r.contains("/tenants/acme/")).count(), 0);
}

#[tokio::test]
async fn a_value_that_is_not_one_dns_label_is_refused_and_nothing_is_stored() {
    let (app, _fake, api) = start().await;
    let long = "a".repeat(64);
    for bad in ["acme.evil.com", "acme/../x", "user@acme", "acme:8080", "a b", "", "-acme", long.as_str()] {
        let res = api.post("/api/v1/connections", &connection_with("bad_one", json!({"tenant": bad}))).await;
        assert_eq!(res.status, 422, "{bad:?}: {}", res.body);
        let message = res.json()["errors"]["variables.tenant"][0].as_str().unwrap_or_default().to_owned();
        assert!(message.contains("DNS label") || message.contains("Enter a value"), "{bad:?}: {message}");
        assert_eq!(api.get("/api/v1/connections/bad_one").await.status, 404, "{bad:?} stored a row");
    }
    let res = api.post("/api/v1/connections", &connection_with("bad_one", json!({}))).await;
    assert_eq!(res.json()["errors"]["variables.tenant"][0], "Enter a value.");
    let res = api
        .post("/api/v1/connections", &connection_with("bad_one", json!({"tenant": "acme", "shop": "x"})))
        .await;
    assert!(res.json()["errors"]["variables"][0].as_str().unwrap().contains("shop"), "{}", res.body);
    assert_eq!(api.get("/api/v1/connections/bad_one").await.status, 404);

    // The page answers alike: the form comes back with the message on the field.
    let browser = app.admin().await;
    let page = browser.get("/admin/connections/new?service=tenanted").await;
    assert!(page.body.contains("name=\"variable.tenant\""), "{}", page.body);
    let res = browser
        .submit(
            "/admin/connections/new?service=tenanted",
            "/admin/connections",
            &[
                ("service", "tenanted"),
                ("name", "Bad"),
                ("link_name", "bad_one"),
                ("scope", "read"),
                ("variable.tenant", "acme.evil"),
                ("action", "create"),
            ],
        )
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(text_of(&res).contains("no dots, slashes"), "{}", text_of(&res));
    assert_eq!(api.get("/api/v1/connections/bad_one").await.status, 404);
}

#[tokio::test]
async fn values_are_fixed_once_the_connection_exists_and_so_are_the_service_variables() {
    let (_app, fake, api) = start().await;
    api.create("/api/v1/connections", &connection_with("acme_desk", json!({"tenant": "acme"}))).await;
    let res = api.patch("/api/v1/connections/acme_desk", &json!({"variables": {"tenant": "evil"}})).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.json()["errors"]["variables"][0].as_str().unwrap().contains("fixed"));
    let same = api.patch("/api/v1/connections/acme_desk", &json!({"variables": {"tenant": "acme"}})).await;
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(api.get("/api/v1/connections/acme_desk").await.json()["variables"]["tenant"], "acme");

    let renamed = json!({
        "connection_variables": [{"name": "site", "display_name": "Site"}],
        "api_base_url": format!("{}/tenants/{{site}}/api", fake.url),
    });
    let res = api.patch("/api/v1/services/tenanted", &renamed).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.json()["errors"]["connection_variables"][0].as_str().unwrap().contains("cannot change"));
}

#[tokio::test]
async fn service_urls_may_name_only_declared_variables_and_a_host_variable_needs_a_fixed_domain() {
    let app = TestApp::spawn_with(loopback).await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&app).await;
    let mut undeclared = tenant_service(&fake);
    undeclared["oauth2"]["token_url"] = format!("{}/tenants/{{shop}}/token", fake.url).into();
    let res = api.post("/api/v1/services", &undeclared).await;
    assert_eq!(res.status, 422, "{}", res.body);
    let message = res.json()["errors"]["oauth2.token_url"][0].as_str().unwrap().to_owned();
    assert!(message.contains("{shop} is not a connection variable"), "{message}");

    for (base, why) in [
        ("https://{tenant}/api", "registrable domain must be fixed"),
        ("https://api.{tenant}", "registrable domain must be fixed"),
        ("https://{tenant}.com/api", "registrable domain must be fixed"),
        ("https://x{tenant}.example.com", "whole label"),
    ] {
        let mut body = tenant_service(&fake);
        body["api_base_url"] = base.into();
        let res = api.post("/api/v1/services", &body).await;
        assert_eq!(res.status, 422, "{base}: {}", res.body);
        let message = res.json()["errors"]["api_base_url"][0].as_str().unwrap().to_owned();
        assert!(message.contains(why), "{base}: {message}");
    }
    assert_eq!(api.get("/api/v1/services/tenanted").await.status, 404, "nothing stored");

    let mut zendesk = tenant_service(&fake);
    zendesk["api_base_url"] = "https://{tenant}.zendesk.com/api/v2".into();
    let created = api.create("/api/v1/services", &zendesk).await;
    assert_eq!(created["api_base_url"], "https://{tenant}.zendesk.com/api/v2");
}

#[tokio::test]
async fn the_service_form_declares_variables_and_the_connection_form_asks_for_them() {
    let app = TestApp::spawn_with(loopback).await;
    let browser = app.admin().await;
    let res = browser
        .submit(
            "/admin/services/new",
            "/admin/services",
            &[
                ("name", "Zendesk"),
                ("link_name", "zendesk"),
                ("auth_type", "basic"),
                ("api_base_url", "https://{subdomain}.zendesk.com/api/v2"),
                ("var_name", "subdomain"),
                ("var_display", "Zendesk subdomain"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", text_of(&res));
    let edit = browser.get("/admin/services/zendesk/edit").await;
    assert!(edit.body.contains("value=\"subdomain\""), "{}", edit.body);
    let details = text_of(&browser.get("/admin/services/zendesk").await);
    assert!(details.contains("{subdomain} Zendesk subdomain"), "{details}");
    let form = browser.get("/admin/connections/new?service=zendesk").await;
    let text = text_of(&form);
    assert!(text.contains("Zendesk subdomain"), "{text}");
    assert!(text.contains("https://{subdomain}.zendesk.com/api/v2"), "{text}");

    let bad = browser
        .submit(
            "/admin/services/new",
            "/admin/services",
            &[
                ("name", "Bad"),
                ("link_name", "bad"),
                ("auth_type", "basic"),
                ("api_base_url", "https://{site}.zendesk.com"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(text_of(&bad).contains("{site} is not a connection variable"), "{}", text_of(&bad));
}
