//! The audit log leaving the app: CSV and JSON exports of a filtered view (streamed, formula cells
//! neutralised), `GET /api/v1/audit` with its cursor, and no secret in any entry whatever the change.

use connections::models::audit::{self, By};
use serde_json::{Value, json};

use crate::support::{
    Api, Browser, Page, TestApp, api_key_service_named, assert_hidden, basic_service, canary, connection,
    loopback, text_of, zoho_service,
};

/// The records of an RFC 4180 text: quoted fields, `""` for a quote, CRLF between records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut chars, mut quoted) = (text.chars().peekable(), false);
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => assert_eq!(chars.next(), Some('\n'), "records end with CRLF"),
            (false, '\n') => panic!("a bare LF ends a record"),
            (false, c) => field.push(c),
        }
        if !quoted && c == '\r' {
            record.push(std::mem::take(&mut field));
            records.push(std::mem::take(&mut record));
        }
    }
    assert!(field.is_empty() && record.is_empty(), "the last record ends with CRLF");
    records
}

async fn seed(app: &TestApp, n: usize) {
    let now = app.clock.now();
    app.state
        .db
        .run(move |c| {
            for i in 0..n {
                let target = format!("bulk_{i}");
                let event = By::SYSTEM.event("service.update", "service", &target, json!({ "n": i }));
                audit::record(c, event, now + (i / 7) as i64)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_csv_export_neutralises_cells_a_spreadsheet_would_run_and_quotes_every_cell() {
    let app = TestApp::spawn().await;
    let (admin, api) = (app.admin().await, Api::admin(&app).await);
    let names = ["=HYPERLINK(\"http://127.0.0.1/x\",\"click\")", "+1", "-2", "@x"];
    // Each as a service's name, and as the username typed at a failed sign-in (the actor's cell).
    for (i, name) in names.iter().enumerate() {
        let res = api.post("/api/v1/services", &api_key_service_named(&format!("svc_{i}"), name)).await;
        assert_eq!(res.status, 201, "{name}: {}", res.body);
        assert_eq!(app.browser().sign_in(name, "wrong-password-1").await.status, 401);
    }
    let odd = "Plain, \"quoted\" name";
    api.create("/api/v1/services", &api_key_service_named("svc_odd", odd)).await;

    let res = admin.get("/admin/audit/export.csv").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(res.header("content-disposition"), "attachment; filename=\"audit-log.csv\"");
    let records = parse_csv(&res.body);
    assert_eq!(
        records[0],
        ["time", "actor", "action", "object_type", "object", "source", "summary", "details", "id"]
    );
    assert_eq!(records.len(), 1 + 1 + 2 * names.len() + 1, "the header, the sign-in and the changes");
    for record in &records[1..] {
        assert_eq!(record.len(), 9, "{record:?}");
        for cell in record {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would run: {cell:?}"
            );
        }
    }
    // The typed names: in the actor and object cells, behind a quote; as they were in the details.
    let failures: Vec<&Vec<String>> =
        records[1..].iter().rev().filter(|r| r[2] == "auth.sign_in_failed").collect();
    for (name, row) in names.iter().zip(&failures) {
        assert_eq!((row[1].clone(), row[4].clone()), (format!("'{name}"), format!("'{name}")));
        assert_eq!(row[5], "127.0.0.1");
    }
    assert!(
        res.body.contains("\"'=HYPERLINK(\"\"http://127.0.0.1/x\"\",\"\"click\"\")\""),
        "quoted per RFC 4180"
    );
    for raw in ["\"'+1\"", "\"'-2\"", "\"'@x\""] {
        assert!(res.body.contains(raw), "{raw}");
    }
    // The service names: in the details as given, and in the summary.
    let creates: Vec<&Vec<String>> = records[1..].iter().rev().filter(|r| r[2] == "service.create").collect();
    for (name, row) in names.iter().chain([&odd]).zip(&creates) {
        let details: Value = serde_json::from_str(&row[7]).unwrap();
        assert_eq!(details["name"], *name);
        assert!(row[6].contains(&format!("name: {name}")), "{:?}", row[6]);
    }
    // A filtered view exports what it shows.
    let page = admin.get("/admin/audit?object_type=service").await;
    assert!(
        page.body.contains("href=\"/admin/audit/export.csv?object_type=service\""),
        "the page exports its view"
    );
    let services = parse_csv(&admin.get("/admin/audit/export.csv?object_type=service").await.body);
    assert_eq!(services.len(), 1 + names.len() + 1);
    assert!(services[1..].iter().all(|r| r[3] == "service" && r[1] == "admin"));
}

#[tokio::test]
async fn a_json_export_streams_the_whole_filtered_view_newest_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    seed(&app, 1_234).await;
    let res = admin.get("/admin/audit/export.json?action=service.update").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), "application/json");
    assert_eq!(res.header("cache-control"), "no-store");
    let items = res.json();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 1_234, "past the batch size, nothing lost or repeated");
    let keys: Vec<(String, i64)> =
        items.iter().map(|e| (e["at"].as_str().unwrap().to_owned(), e["id"].as_i64().unwrap())).collect();
    assert!(keys.windows(2).all(|w| w[0] > w[1]), "newest first, each once");
    assert_eq!(items[0]["object"], "bulk_1233");
    assert_eq!(items[0]["details"], json!({ "n": 1233 }));
    assert_eq!((items[0]["actor"].as_str(), items[0]["source"].as_str()), (Some("system"), None));
    let all = admin.get("/admin/audit/export.json").await.json();
    assert_eq!(all.as_array().unwrap().len(), 1_235, "with the sign-in");
    let none = admin.get("/admin/audit/export.json?actor=nobody").await;
    assert_eq!(none.json(), json!([]));
    let csv = admin.get("/admin/audit/export.csv?actor=nobody").await;
    assert_eq!(parse_csv(&csv.body).len(), 1, "the header alone");
    let bad = admin.get("/admin/audit/export.json?from=2026-99-01").await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn the_api_pages_with_an_opaque_cursor_and_refuses_one_it_did_not_give() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    seed(&app, 120).await;
    let mut seen: Vec<i64> = Vec::new();
    let mut path = "/api/v1/audit?object_type=service&limit=50".to_owned();
    let mut pages = 0;
    loop {
        let res = api.get(&path).await;
        assert_eq!(res.status, 200, "{}", res.body);
        let body = res.json();
        seen.extend(body["items"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/audit?object_type=service&limit=50&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 120);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first (ids rise with time here), each once");
    let first = api.get("/api/v1/audit?limit=1").await.json();
    assert_eq!(first["items"][0]["object"], "bulk_119");
    assert_eq!(
        api.get("/api/v1/audit").await.json()["items"].as_array().unwrap().len(),
        50,
        "the default limit"
    );

    for query in [
        "cursor=bm90LWEtY3Vyc29y",
        "cursor=!!",
        "cursor=",
        "from=2026-02-30",
        "to=12/04/2026",
        "from=",
        "limit=0",
        "limit=101",
        "limit=many",
        "object_type=planet",
        "object_type=",
        "actor=",
    ] {
        let res = api.get(&format!("/api/v1/audit?{query}")).await;
        assert_eq!(res.status, 400, "{query}: {}", res.body);
        assert_eq!(res.json()["error"]["code"], "bad_request", "{query}");
    }
}

async fn save_smtp(browser: &Browser, password: &str) -> u16 {
    let fields = [
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", "2525"),
        ("smtp_security", "starttls"),
        ("smtp_username", "alerts"),
        ("smtp_password", password),
        ("smtp_from", "alerts@example.com"),
    ];
    let page = "/admin/settings/notifications";
    browser.submit(page, "/admin/settings/notifications/smtp", &fields).await.status
}

#[tokio::test]
async fn no_entry_holds_a_secret_whatever_the_change() {
    let app = TestApp::spawn_with(loopback).await;
    let (admin, api) = (app.admin().await, Api::admin(&app).await);
    let (client_secret, password, smtp_password, typed) =
        (canary("client-secret"), canary("basic-password"), canary("smtp-password"), canary("typed"));
    let mut secrets = vec![client_secret.clone(), password.clone(), smtp_password.clone(), typed.clone()];

    api.create("/api/v1/services", &zoho_service("zoho", "Zoho", &client_secret)).await;
    let new_secret = canary("client-secret-2");
    secrets.push(new_secret.clone());
    let res = api.patch("/api/v1/services/zoho", &json!({ "oauth2": { "client_secret": new_secret } })).await;
    assert_eq!(res.status, 200, "{}", res.body);
    api.create("/api/v1/services", &basic_service("legacy")).await;
    api.create("/api/v1/connections", &connection("legacy", "legacy_main", &[])).await;
    let body = json!({ "username": "svc", "password": password });
    assert_eq!(api.put("/api/v1/connections/legacy_main/credentials", &body).await.status, 200);
    assert_eq!(api.post("/api/v1/connections/legacy_main/revoke", &json!({})).await.status, 200);
    let created = api.create("/api/v1/tokens", &json!({ "label": "script" })).await;
    secrets.push(created["token"].as_str().unwrap().to_owned());
    assert_eq!(api.delete(&format!("/api/v1/tokens/{}", created["id"])).await.status, 204);
    assert_eq!(save_smtp(&admin, &smtp_password).await, 303);
    let form = [("url", "http://127.0.0.1:9/hooks"), ("event", "connection.created"), ("enabled", "on")];
    let res = admin.submit("/admin/settings/notifications", "/admin/settings/notifications", &form).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let signing = res.body.split("id=\"webhook-secret\">").nth(1).unwrap().split('<').next().unwrap();
    secrets.push(signing.to_owned());
    assert_eq!(app.browser().sign_in("admin", &typed).await.status, 401);
    assert_eq!(api.delete("/api/v1/connections/legacy_main").await.status, 200);

    let everything = admin.get("/admin/audit/export.json").await;
    let rows = everything.json();
    let actions: Vec<&str> = rows.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in [
        "service.create",
        "service.update",
        "connection.create",
        "connection.connect",
        "connection.revoke",
        "connection.delete",
        "token.create",
        "token.revoke",
        "settings.update",
        "webhook.create",
        "auth.sign_in_failed",
        "auth.sign_in",
    ] {
        assert!(actions.contains(&action), "{action} is recorded: {actions:?}");
    }
    let update = rows.as_array().unwrap().iter().find(|e| e["action"] == "service.update").unwrap();
    assert_eq!(update["details"]["changed"], json!(["client_secret"]), "named, never shown");
    assert!(rows.as_array().unwrap().iter().all(|e| e["source"] == "127.0.0.1"), "{rows:#}");
    let pages: Vec<Page> = vec![
        everything,
        admin.get("/admin/audit/export.csv").await,
        admin.get("/admin/audit?limit=100").await,
        api.get("/api/v1/audit?limit=100").await,
    ];
    for page in &pages {
        assert_eq!(page.status, 200);
        assert_hidden(&page.body, &secrets, "the audit log");
        assert_hidden(&text_of(page), &secrets, "the audit log's text");
    }
}
