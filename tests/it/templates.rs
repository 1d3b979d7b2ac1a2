//! The service catalogue: the page that lists and searches the templates, the Create Service form a
//! template pre-fills with its setup steps, the service that remembers its template, the JSON API
//! (`/api/v1/templates`, `template` on create) and `connections templates list`.

use serde_json::{Value, json};

use crate::support::{Api, TestApp, TestDb, audit_rows, command, counts};

#[tokio::test]
async fn the_catalogue_lists_every_template_and_a_search_or_a_category_narrows_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let page = admin.get("/admin/services/templates").await;
    assert_eq!(page.status, 200);
    let shown = page.body.matches("class=\"card template-card\"").count();
    assert_eq!(shown, connections::catalogue::all().len());
    assert!(shown >= 24, "{shown} templates");
    assert!(page.body.contains(r#"href="/admin/services/new?template=pagerduty""#));

    let page = admin.get("/admin/services/templates?q=ZOHO").await;
    assert_eq!(page.body.matches("class=\"card template-card\"").count(), 2, "Zoho Desk and Zoho CRM");
    assert!(page.body.contains("Zoho Desk") && page.body.contains("Zoho CRM"));
    let page = admin.get("/admin/services/templates?q=basic").await;
    assert!(page.body.contains("Twilio"), "found by authentication type");
    let page = admin.get("/admin/services/templates?category=Accounting").await;
    let names: Vec<&str> =
        ["Xero", "QuickBooks Online"].into_iter().filter(|n| page.body.contains(n)).collect();
    assert_eq!((names.len(), page.body.matches("template-card\"").count()), (2, 2));
    let page = admin.get("/admin/services/templates?q=no-such-provider").await;
    assert!(page.body.contains("No template matches “no-such-provider”."));

    let fragment = admin
        .send(
            admin
                .http
                .get(format!("{}/admin/services/templates?q=slack", app.base))
                .header("hx-request", "true")
                .header("hx-target", "template-results"),
        )
        .await;
    assert!(fragment.body.trim_start().starts_with("<div id=\"template-results\">"), "only the results");
    assert!(
        fragment.body.contains("Slack (bot token)") && !fragment.body.contains("<html"),
        "{}",
        fragment.body
    );
}

#[tokio::test]
async fn a_template_pre_fills_the_form_and_the_service_made_from_it_remembers_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let form = admin.get("/admin/services/new?template=zoho_desk").await;
    assert_eq!(form.status, 200);
    let callback = format!("{}/integration/oauth/callback", app.base);
    for expected in [
        "Set up Zoho Desk".to_owned(),
        format!("Set the Authorized Redirect URI to {callback}."),
        r#"<input type="hidden" name="template" value="zoho_desk">"#.to_owned(),
        r#"value="{accounts_server}/oauth/v2/token""#.to_owned(),
        r#"name="cap_key" value="accounts-server""#.to_owned(),
        r#"name="cap_allowed" rows="8""#.to_owned(),
        r#"name="token_prefix" value="Zoho-oauthtoken""#.to_owned(),
        r#"name="scope" value="Desk.tickets.READ""#.to_owned(),
        r#"name="extra_key" value="access_type""#.to_owned(),
        r#"<option value="," selected>"#.to_owned(),
        r#"href="https://www.zoho.com/accounts/protocol/oauth/web-apps/authorization.html""#.to_owned(),
    ] {
        assert!(form.body.contains(&expected), "the form lacks {expected:?}");
    }
    assert_eq!(admin.get("/admin/services/new?template=nope").await.status, 404);

    let res = admin
        .submit(
            "/admin/services/new?template=pagerduty",
            "/admin/services",
            &[
                ("template", "pagerduty"),
                ("name", "PagerDuty"),
                ("link_name", "pagerduty"),
                ("auth_type", "api_key"),
                ("api_base_url", "https://api.pagerduty.com"),
                ("test_request", "GET /abilities"),
                ("param_type", "header"),
                ("param_name", "Authorization"),
                ("param_display", "API key"),
                ("param_prefix", "Token token="),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let details = admin.get("/admin/services/pagerduty").await;
    assert!(details.body.contains("<dt>Template</dt><dd>PagerDuty, version 1</dd>"), "{}", details.body);
    let api = Api::admin(&app).await;
    let service = api.get("/api/v1/services/pagerduty").await.json();
    assert_eq!(service["template"], json!({"id": "pagerduty", "version": 1}));
    assert_eq!(service["api_key"]["params"][0]["value_prefix"], "Token token=");
    let (action, _, details) = audit_rows(&app).await.pop().unwrap();
    assert_eq!(action, "service.create");
    assert!(details.contains("pagerduty v1"), "{details}");
    let edit = admin.get("/admin/services/pagerduty/edit").await;
    assert!(!edit.body.contains(r#"name="template""#), "the template is not edited");
}

#[tokio::test]
async fn the_api_lists_templates_and_creates_a_service_from_one() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let list = api.get("/api/v1/templates").await;
    assert_eq!(list.status, 200);
    let list = list.json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(list["total"], items.len());
    let ids: Vec<&str> = items.iter().map(|t| t["id"].as_str().unwrap()).collect();
    for id in ["github_oauth_app", "google_workspace", "microsoft_365", "pagerduty", "slack_bot", "xero"] {
        assert!(ids.contains(&id), "{id}");
    }
    let github = api.get("/api/v1/templates/github_oauth_app").await.json();
    assert_eq!(github["auth_type"], "oauth2");
    let callback = format!("{}/integration/oauth/callback", app.base);
    assert!(github["setup"].as_array().unwrap().iter().any(|s| s.as_str().unwrap().contains(&callback)));
    assert_eq!(api.get("/api/v1/templates/nope").await.status, 404);

    let mut service: Value = github["service"].clone();
    service["template"] = json!("github_oauth_app");
    service["oauth2"]["client_id"] = json!("Iv1.0123456789");
    service["oauth2"]["client_secret"] = json!("typed-by-the-admin");
    let created = api.create("/api/v1/services", &service).await;
    assert_eq!(created["template"], json!({"id": "github_oauth_app", "version": 1}));
    assert_eq!(created["oauth2"]["token_url"], "https://github.com/login/oauth/access_token");

    let mut unknown = api.get("/api/v1/templates/stripe").await.json()["service"].clone();
    unknown["template"] = json!("no_such_template");
    let res = api.post("/api/v1/services", &unknown).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(
        res.json()["errors"]["template"],
        json!(["There is no template with this id (see GET /api/v1/templates)."])
    );
    assert_eq!(counts(&app).await.0, 1, "nothing stored");
    let res = api.patch("/api/v1/services/github", &json!({"template": "gitlab"})).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(
        res.json()["errors"]["template"],
        json!(["The template a service was created from cannot change."])
    );
}

#[test]
fn the_cli_lists_the_templates() {
    let out = command(&TestDb::new()).args(["templates", "list"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), connections::catalogue::all().len());
    let pagerduty = text.lines().find(|l| l.starts_with("pagerduty ")).expect("pagerduty");
    assert!(pagerduty.contains("v1") && pagerduty.contains("API Key") && pagerduty.ends_with("PagerDuty"));
    let out = command(&TestDb::new()).args(["templates", "list", "--json"]).output().unwrap();
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all.as_array().unwrap().len(), connections::catalogue::all().len());
}
