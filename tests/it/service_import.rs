//! Service definitions out and in: the export (page, API, CLI) carries no secret; an import (page,
//! CLI) previews every service, then creates all of them in one transaction or none; a file that is
//! broken, of another version, hostile or colliding imports nothing and says why; an imported
//! OAuth2 service asks for its client secret.

use std::process::Output;

use serde_json::{Value, json};

use crate::support::{
    Api, Browser, Page, TestApp, TestDb, api_key_service, audit, basic_service, canary, command, run_to_end,
    text_of, zoho_service,
};

/// A services file of `services`.
fn file(services: Value) -> String {
    json!({ "format": "connections.services", "version": 1, "services": services }).to_string()
}

/// Creates a service of every kind: from a template, OAuth2 with a client secret (Authorization Code
/// and Client Credentials), API Key and Basic. Returns the secrets.
async fn every_kind(api: &Api) -> Vec<String> {
    let template = api.get("/api/v1/templates/freshdesk").await.json();
    let mut from_template = template["service"].clone();
    from_template["template"] = json!("freshdesk");
    api.create("/api/v1/services", &from_template).await;
    let secrets = vec![canary("secret"), canary("secret")];
    api.create("/api/v1/services", &zoho_service("zoho_desk", "Zoho Desk", &secrets[0])).await;
    let machine = json!({
        "name": "Machine", "link_name": "machine", "auth_type": "oauth2",
        "oauth2": {
            "grant_type": "client_credentials", "client_id": "m-1", "client_secret": secrets[1],
            "token_url": "https://auth.example.com/oauth/token",
        },
    });
    api.create("/api/v1/services", &machine).await;
    api.create("/api/v1/services", &api_key_service("weather")).await;
    api.create("/api/v1/services", &basic_service("jira")).await;
    secrets
}

/// POSTs a `multipart/form-data` form as a browser sends it from this site.
async fn upload(app: &TestApp, browser: &Browser, parts: &[(&str, Option<&str>, &str)]) -> Page {
    let token = browser.get("/admin/services/import").await.csrf();
    let boundary = "----connections-test-boundary";
    let mut body = String::new();
    for (name, filename, value) in std::iter::once(&("csrf_token", None, token.as_str())).chain(parts) {
        let file = filename.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
        body += &format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n{value}\r\n"
        );
    }
    body += &format!("--{boundary}--\r\n");
    let req = browser
        .http
        .post(format!("{}/admin/services/import", app.base))
        .header("origin", &browser.origin)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body);
    browser.send(req).await
}

async fn service_count(api: &Api) -> i64 {
    api.get("/api/v1/services").await.json()["total"].as_i64().unwrap()
}

#[tokio::test]
async fn an_export_imported_into_a_fresh_app_exports_the_same_bytes_and_never_a_secret() {
    let one = TestApp::spawn().await;
    let api_one = Api::admin(&one).await;
    let secrets = every_kind(&api_one).await;
    let res = api_one.get("/api/v1/services/export").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let exported = res.body.clone();
    for secret in &secrets {
        assert!(!exported.contains(secret.as_str()), "a secret in the export");
    }
    assert!(!exported.contains("\"client_secret\""), "not even the key: {exported}");
    let doc = res.json();
    assert_eq!((doc["format"].as_str(), doc["version"].as_i64()), (Some("connections.services"), Some(1)));
    let links: Vec<&str> =
        doc["services"].as_array().unwrap().iter().map(|s| s["link_name"].as_str().unwrap()).collect();
    assert_eq!(links, ["freshdesk", "jira", "machine", "weather", "zoho_desk"], "by link name");
    let page_export = one.admin().await.get("/admin/services/export.json").await;
    assert_eq!(page_export.body, exported, "the page's download is the same file");
    assert!(page_export.header("content-disposition").starts_with("attachment"));
    let one_only = api_one.get("/api/v1/services/export?link=jira&link=weather").await.json();
    assert_eq!(one_only["services"].as_array().unwrap().len(), 2);
    let res = api_one.get("/api/v1/services/export?link=jira&link=nope").await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("nope"));

    // Into a fresh app, through the page: a preview first, then the import.
    let two = TestApp::spawn().await;
    let (api_two, browser) = (Api::admin(&two).await, two.admin().await);
    let preview =
        upload(&two, &browser, &[("step", None, "preview"), ("file", Some("services.json"), &exported)])
            .await;
    assert_eq!(preview.status, 200, "{}", text_of(&preview));
    let said = text_of(&preview);
    assert!(said.contains("5 services will be created."), "{said}");
    assert_eq!(preview.body.matches("Client secret asked for after the import").count(), 2, "{said}");
    assert_eq!(service_count(&api_two).await, 0, "a preview writes nothing");
    let carried = {
        let marker = "<input type=\"hidden\" name=\"document\" value=\"";
        let at = preview.body.find(marker).unwrap() + marker.len();
        crate::support::text_of(&Page {
            status: 200,
            headers: Default::default(),
            body: preview.body[at..].split('"').next().unwrap().to_owned(),
        })
    };
    let imported = upload(&two, &browser, &[("step", None, "import"), ("document", None, &carried)]).await;
    assert_eq!(imported.status, 303, "{}", text_of(&imported));
    let landed = crate::support::follow(&browser, &imported).await;
    assert!(
        text_of(&landed).contains("Imported 5 services. 2 of them need their client secret"),
        "{}",
        text_of(&landed)
    );

    let again = api_two.get("/api/v1/services/export").await.body;
    assert_eq!(again, exported, "byte-equal definitions");
    let zoho = api_two.get("/api/v1/services/zoho_desk").await.json();
    assert_eq!(
        (&zoho["oauth2"]["client_secret_set"], &zoho["oauth2"]["client_secret_pending"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(api_two.get("/api/v1/services/freshdesk").await.json()["template"]["id"], "freshdesk");
    let details = browser.get("/admin/services/machine").await;
    assert!(text_of(&details).contains("imported without its client secret"), "the page asks for it");
    assert!(!browser.get("/admin/services/weather").await.body.contains("secret-pending"));
    let entries = audit(&two, "service.create").await;
    assert_eq!(entries.len(), 5);
    assert!(entries.iter().all(|e| e.details.contains("\"imported\":true") && e.actor == "admin"));

    // Entering the secret ends the request for it.
    let res = api_two
        .patch("/api/v1/services/machine", &json!({ "oauth2": { "client_secret": canary("s") } }))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["oauth2"]["client_secret_pending"], false);
    assert!(
        !text_of(&browser.get("/admin/services/machine").await)
            .contains("imported without its client secret")
    );
}

/// What an upload's preview refuses, and that nothing was imported.
async fn refused(app: &TestApp, browser: &Browser, raw: &str) -> String {
    let api = Api::admin(app).await;
    let before = service_count(&api).await;
    let page = upload(app, browser, &[("step", None, "preview"), ("file", Some("s.json"), raw)]).await;
    assert_eq!(page.status, 422, "{}", text_of(&page));
    let page_again = upload(app, browser, &[("step", None, "import"), ("document", None, raw)]).await;
    assert_eq!(page_again.status, 422, "the import itself refuses it too: {}", text_of(&page_again));
    assert_eq!(service_count(&api).await, before, "nothing imported");
    text_of(&page)
}

#[tokio::test]
async fn a_broken_foreign_hostile_or_colliding_file_imports_nothing_and_says_why() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("taken")).await;
    let browser = app.admin().await;
    let valid = api_key_service("fresh_one");
    let cases: Vec<(String, &str)> = vec![
        (
            "{\"format\": \"connections.services\", \"version\": 1, \"services\": [".to_owned(),
            "not valid JSON",
        ),
        (
            json!({ "format": "connections.services", "version": 2, "services": [valid] }).to_string(),
            "version 2",
        ),
        (json!({ "format": "zapier", "version": 1, "services": [valid] }).to_string(), "not a services file"),
        (format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)), "recursion limit"),
        (file(json!(vec![valid.clone(); 501])), "at most 500"),
        (file(json!([valid, api_key_service("taken")])), "A service with this link name exists already"),
        (file(json!([valid, valid])), "Service 1 of this file has this link name too"),
        (
            file(json!([valid, { "name": "Bad", "link_name": "bad_url", "auth_type": "oauth2",
            "oauth2": { "client_id": "x", "token_url": "javascript:alert(1)" } }])),
            "oauth2.token_url",
        ),
        (
            file(json!([{ "name": "S", "link_name": "with_secret", "auth_type": "oauth2",
            "oauth2": { "client_id": "x", "client_secret": "hunter2", "token_url": "https://a.example/t" } }])),
            "carries no secret",
        ),
        (
            file(
                json!([{ "name": "<script>alert(1)</script>", "link_name": "Not A Link!", "auth_type": "basic" }]),
            ),
            "link_name",
        ),
        (file(json!(["just text", 42])), "Each service is a JSON object"),
        (
            file(
                json!([{ "name": "Ctl", "link_name": "ctl", "auth_type": "basic", "description": "a\u{7}b" }]),
            ),
            "control characters",
        ),
    ];
    for (raw, expected) in cases {
        let said = refused(&app, &browser, &raw).await;
        assert!(said.contains(expected), "{expected:?} in {said}");
        assert!(!said.contains("hunter2"), "a refusal never repeats a secret");
    }
    // Hostile names are shown as text.
    let page = upload(&app, &browser, &[("step", None, "preview"), ("file", Some("s.json"),
        &file(json!([{ "name": "<img src=x onerror=alert(1)>", "link_name": "Bad", "auth_type": "basic" }])))]).await;
    assert!(!page.body.contains("<img src=x"), "escaped");
    // More than the request body limit is refused before anything is read.
    let huge = file(
        json!([{ "name": "H", "link_name": "huge", "auth_type": "basic", "description": "x".repeat(300_000) }]),
    );
    let page = upload(&app, &browser, &[("step", None, "preview"), ("file", Some("s.json"), &huge)]).await;
    assert_eq!(page.status, 413);
    assert_eq!(service_count(&api).await, 1, "only the service made before");

    // A service created between the preview and the import: the import checks again, and refuses all.
    let raw = file(json!([api_key_service("late_a"), api_key_service("late_b")]));
    let preview = upload(&app, &browser, &[("step", None, "preview"), ("file", Some("s.json"), &raw)]).await;
    assert_eq!(preview.status, 200);
    api.create("/api/v1/services", &api_key_service("late_b")).await;
    let page = upload(&app, &browser, &[("step", None, "import"), ("document", None, &raw)]).await;
    assert_eq!(page.status, 422);
    assert!(text_of(&page).contains("1 of 2 services cannot be imported, so none is"), "{}", text_of(&page));
    assert_eq!(api.get("/api/v1/services/late_a").await.status, 404, "all or nothing");
}

fn run(db: &TestDb, args: &[&str]) -> Output {
    run_to_end(command(db).args(args))
}

fn out(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_cli_exports_and_imports_on_the_database_directly() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let secrets = every_kind(&api).await;
    let exported = api.get("/api/v1/services/export").await.body;
    let db = app.stop().await;

    let path = db.dir.path().join("services.json");
    let res = run(&db, &["services", "export", path.to_str().unwrap()]);
    assert!(res.status.success(), "{}", out(&res.stderr));
    assert_eq!(out(&res.stdout).trim(), format!("exported 5 service(s) to {}", path.display()));
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, exported, "the same file as the API's");
    for secret in &secrets {
        assert!(!written.contains(secret.as_str()));
    }
    let res = run(&db, &["services", "export", "--link", "jira"]);
    assert!(res.status.success());
    assert_eq!(serde_json::from_slice::<Value>(&res.stdout).unwrap()["services"][0]["link_name"], "jira");

    let fresh = TestDb::new();
    let res = run(&fresh, &["services", "import", path.to_str().unwrap()]);
    assert!(res.status.success(), "{}", out(&res.stderr));
    let said = out(&res.stdout);
    assert!(said.contains("imported 5 service(s); enter the client secret of machine, zoho_desk"), "{said}");
    let res = run(&fresh, &["services", "import", path.to_str().unwrap()]);
    assert!(!res.status.success(), "the names are taken now");
    let said = out(&res.stderr);
    assert!(said.contains("nothing was imported: 5 of 5 service(s) refused"), "{said}");
    assert!(said.contains("services.1.link_name: A service with this link name exists already"), "{said}");
    let broken = fresh.dir.path().join("broken.json");
    std::fs::write(&broken, "{\"format\": \"connections.services\", \"version\": 9, \"services\": [{}]}")
        .unwrap();
    let res = run(&fresh, &["services", "import", broken.to_str().unwrap()]);
    assert!(!res.status.success());
    assert!(out(&res.stderr).contains("version 9"), "{}", out(&res.stderr));

    let two = TestApp::spawn_on(fresh, |_| {}).await;
    let api_two = Api::admin(&two).await;
    assert_eq!(api_two.get("/api/v1/services/export").await.body, exported, "byte-equal definitions");
    let entries = audit(&two, "service.create").await;
    assert!(entries.len() == 5 && entries.iter().all(|e| e.actor == "cli"), "{entries:?}");
}
