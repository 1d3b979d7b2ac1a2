//! Connections through the pages and the JSON API: create (scope rules), connect with API key and
//! Basic credentials, and the proof that a stored value never comes back — in no response, and not
//! in plain text anywhere in the database. Also the helpers the other `connections_*` modules share.

use std::sync::Mutex;

use connections::config::Cidr;
use connections::db::schema::audit_log;
use connections::models::audit::AuditEntry;
use connections::models::connection::{self as model, ConnectionRow};
use connections::models::user::Role;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::fake_provider::FakeProvider;
use crate::helpers::{Browser, Page, TestApp};

/// An app that may call the fake provider on loopback.
pub async fn spawn_app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.outbound_allow_cidrs = vec![Cidr::parse("127.0.0.1/32").unwrap()];
        config.outbound_allow_http = true;
    })
    .await
}

/// An API client with a user's Bearer token.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub async fn new(app: &TestApp, username: &str) -> Api {
        Api { http: app.http(), base: app.base.clone(), token: app.token_for(username).await }
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Page {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.expect("request");
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        Page { status, headers, body: res.text().await.unwrap_or_default() }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Page {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Page {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Page {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Page {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Creates something and insists on 201.
    pub async fn create(&self, path: &str, body: &Value) -> Value {
        let res = self.post(path, body).await;
        assert_eq!(res.status, 201, "create at {path}: {}", res.body);
        res.json()
    }
}

/// An API Key service with two header parameters.
pub fn api_key_service(link: &str) -> Value {
    json!({
        "name": format!("Service {link}"),
        "link_name": link,
        "auth_type": "api_key",
        "api_key": {"param_type": "header", "params": [
            {"name": "X-Api-Key", "display_name": "API Key"},
            {"name": "X-Org-Id", "display_name": "Organisation"}
        ]}
    })
}

pub fn basic_service(link: &str) -> Value {
    json!({ "name": format!("Service {link}"), "link_name": link, "auth_type": "basic" })
}

/// An Authorization Code service at the fake provider, with three scopes and a revoke URL.
pub fn oauth_service(fake: &FakeProvider, link: &str) -> Value {
    json!({
        "name": format!("Service {link}"),
        "link_name": link,
        "auth_type": "oauth2",
        "oauth2": {
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "authorization_url": fake.authorize_url(),
            "token_url": fake.token_url(),
            "revoke_url": fake.revoke_url(),
            "extra_auth_params": {"access_type": "offline"},
            "scopes": [
                {"scope": "read", "display_name": "Read tickets"},
                {"scope": "write", "display_name": "Update tickets"},
                {"scope": "offline_access", "display_name": "Stay connected"}
            ]
        }
    })
}

/// A connection's create body.
pub fn connection(service: &str, link: &str, scopes: &[&str]) -> Value {
    json!({ "service": service, "name": format!("Connection {link}"), "link_name": link, "scopes": scopes })
}

/// The connection's row as stored.
pub async fn row(app: &TestApp, link: &str) -> ConnectionRow {
    let link = link.to_owned();
    app.state.db.run(move |c| Ok(model::find(c, &link)?.expect("the connection exists"))).await.unwrap()
}

pub async fn try_row(app: &TestApp, link: &str) -> Option<ConnectionRow> {
    let link = link.to_owned();
    app.state.db.run(move |c| Ok(model::find(c, &link)?)).await.unwrap()
}

/// Audit entries with `action`, oldest first.
pub async fn audit(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    let action = action.to_owned();
    app.state
        .db
        .run(move |c| {
            Ok(audit_log::table
                .filter(audit_log::action.eq(action))
                .order(audit_log::id)
                .select(AuditEntry::as_select())
                .load(c)?)
        })
        .await
        .unwrap()
}

/// Signs in a second SDAdmin in a browser of their own.
pub async fn second_admin(app: &TestApp, name: &str) -> Browser {
    app.add_user(name, Role::SdAdmin, "second-admin-password").await;
    let browser = app.browser();
    assert_eq!(browser.sign_in(name, "second-admin-password").await.status, 303);
    browser
}

/// Everything the database holds, as text: the SQLite files byte for byte (WAL included), or
/// every row of every PostgreSQL table.
pub async fn database_text(app: &TestApp) -> String {
    let url = app.state.config.database_url.clone();
    match url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut all = Vec::new();
            for suffix in ["", "-wal", "-journal"] {
                all.extend(std::fs::read(format!("{path}{suffix}")).unwrap_or_default());
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        None => tokio::task::spawn_blocking(move || {
            #[derive(QueryableByName)]
            struct Line {
                #[diesel(sql_type = diesel::sql_types::Text)]
                line: String,
            }
            let mut conn = diesel::PgConnection::establish(&url).expect("connect");
            let tables: Vec<Line> =
                diesel::sql_query("SELECT table_name::text AS line FROM information_schema.tables WHERE table_schema = 'public'")
                    .load(&mut conn)
                    .unwrap();
            let mut all = String::new();
            for t in tables {
                let rows: Vec<Line> = diesel::sql_query(format!("SELECT t::text AS line FROM \"{}\" t", t.line)).load(&mut conn).unwrap();
                all.extend(rows.into_iter().map(|r| r.line + "\n"));
            }
            all
        })
        .await
        .unwrap(),
    }
}

/// Fails when `haystack` holds any secret, as is or hex-encoded (how PostgreSQL prints bytes).
pub fn assert_hidden(haystack: &str, secrets: &[String], place: &str) {
    assert!(!secrets.is_empty());
    for secret in secrets {
        assert!(!haystack.contains(secret.as_str()), "{place} holds the secret {secret:?}");
        assert!(!haystack.contains(&hex::encode(secret)), "{place} holds the secret {secret:?} hex-encoded");
    }
}

/// Every response a test received (status line, headers, body), to search for secrets at the end.
#[derive(Default)]
pub struct Seen(Mutex<String>);

impl Seen {
    pub fn keep(&self, page: Page) -> Page {
        let mut all = self.0.lock().unwrap();
        all.push_str(&format!("{}\n", page.status));
        for (name, value) in &page.headers {
            all.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
        }
        all.push_str(&page.body);
        all.push('\n');
        page
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

/// A value no page, answer, log line or database column may ever show.
pub fn canary(what: &str) -> String {
    let mut buf = [0u8; 10];
    getrandom::fill(&mut buf).unwrap();
    format!("canary-{what}-{}", hex::encode(buf))
}

/// The path and query of an absolute URL on the app.
pub fn local(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("{url:?}: {e}"));
    match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    }
}

/// The Connect button's link on a details page (it carries the CSRF token).
pub fn connect_href(details: &Page) -> String {
    let marker = "id=\"connect-button\" href=\"";
    let start = details.body.find(marker).unwrap_or_else(|| panic!("no connect button in: {}", details.body))
        + marker.len();
    details.body[start..].split('"').next().unwrap().replace("&amp;", "&")
}

/// The text of a page without its markup, to read messages.
pub fn text_of(page: &Page) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in page.body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(&out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The one-time message at the top of a page ("" when there is none).
pub fn flash_of(page: &Page) -> String {
    let Some(start) = page.body.find("<div id=\"flash\"") else { return String::new() };
    let rest = &page.body[start..];
    let Some(open) = rest
        .find("role=\"alert\">")
        .map(|i| i + 13)
        .or_else(|| rest.find("role=\"status\">").map(|i| i + 14))
    else {
        return String::new();
    };
    decode_entities(rest[open..].split("</div>").next().unwrap_or(""))
}

/// Undoes HTML escaping: `&lt;`, `&#60;`, `&#x27;` and the like.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let entity = rest.find(';').map(|end| (&rest[1..end], end));
        let decoded = entity.and_then(|(name, end)| {
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok().and_then(char::from_u32),
                    None => name.strip_prefix('#').and_then(|d| d.parse().ok()).and_then(char::from_u32),
                },
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Follows a 303 in the browser and returns the page it lands on.
pub async fn follow(browser: &Browser, res: &Page) -> Page {
    assert_eq!(res.status, 303, "expected a redirect: {}", res.body);
    browser.get(res.header("location")).await
}

#[tokio::test]
async fn an_api_key_connection_is_created_and_connected_on_the_pages_and_its_values_never_come_back() {
    let app = spawn_app().await;
    let api = Api::new(&app, "admin").await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    let browser = app.admin().await;
    let seen = Seen::default();

    let form = seen.keep(browser.get("/admin/connections/new?service=desk").await);
    assert_eq!(form.status, 200);
    let created = seen.keep(
        browser
            .submit(
                "/admin/connections/new",
                "/admin/connections",
                &[("service", "desk"), ("name", "Desk (prod)"), ("link_name", ""), ("action", "connect")],
            )
            .await,
    );
    assert_eq!(created.status, 303, "{}", created.body);
    // "Create and Connect" goes straight on to the credentials form of the suggested link name.
    let to_connect = created.header("location").to_owned();
    assert!(to_connect.starts_with("/admin/connections/desk_prod/connect"), "{to_connect}");
    let page = seen.keep(browser.get(&to_connect).await);
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("type=\"password\"").count(), 2, "one secret field per parameter");
    assert!(
        page.body.contains("name=\"param.X-Api-Key\"")
            && page.body.contains("API Key")
            && page.body.contains("Organisation")
    );
    assert_eq!(row(&app, "desk_prod").await.status, "not_connected");

    let (key, org) = (canary("api-key"), canary("org"));
    let path = "/admin/connections/desk_prod/connect";
    let done =
        seen.keep(browser.submit(path, path, &[("param.X-Api-Key", &key), ("param.X-Org-Id", &org)]).await);
    assert_eq!(done.header("location"), "/admin/connections/desk_prod");
    let details = seen.keep(browser.get("/admin/connections/desk_prod").await);
    assert!(text_of(&details).contains("“Desk (prod)” is connected."), "{}", text_of(&details));
    assert!(details.body.contains("Connected") && details.body.contains("Reconnect"));

    // Stored sealed, readable with the keyring only.
    let stored = row(&app, "desk_prod").await;
    assert_eq!(stored.status, "connected");
    assert_eq!(stored.connected_at, Some(crate::helpers::T0));
    let sealed = stored.credentials.clone().expect("credentials stored");
    assert_hidden(&String::from_utf8_lossy(&sealed), &[key.clone(), org.clone()], "the credentials column");
    let opened = format!("{:?}", stored.open_credentials(&app.state.keyring).unwrap().unwrap());
    assert_eq!(opened, "ApiKey([\"X-Api-Key\", \"X-Org-Id\"] = [redacted])", "Debug prints no value");

    // Reconnecting replaces the values.
    let new_key = canary("api-key-2");
    let again = seen
        .keep(browser.submit(path, path, &[("param.X-Api-Key", &new_key), ("param.X-Org-Id", &org)]).await);
    assert_eq!(again.status, 303);
    let stored = row(&app, "desk_prod").await;
    assert_ne!(stored.credentials, Some(sealed), "a new ciphertext");
    let json = serde_json::to_value(match stored.open_credentials(&app.state.keyring).unwrap().unwrap() {
        connections::domain::connection::Credentials::ApiKey { values } => values,
        other => panic!("{other:?}"),
    })
    .unwrap();
    assert_eq!(json, json!({"X-Api-Key": new_key, "X-Org-Id": org}));

    // Every view of it, to the owner: no value.
    for path in [
        "/admin/connections",
        "/admin/connections?owner=any",
        "/admin/connections/desk_prod",
        "/admin/connections/desk_prod/edit",
        path,
    ] {
        assert_eq!(seen.keep(browser.get(path).await).status, 200, "{path}");
    }
    for path in ["/api/v1/connections", "/api/v1/connections?owner=any", "/api/v1/connections/desk_prod"] {
        assert_eq!(seen.keep(api.get(path).await).status, 200, "{path}");
    }
    let secrets = [key, org, new_key];
    assert_hidden(&seen.text(), &secrets, "a response");
    assert_hidden(&database_text(&app).await, &secrets, "the database");
    let connect = audit(&app, "connection.connect").await;
    assert_eq!(connect.len(), 2);
    assert_eq!((connect[0].actor.as_str(), connect[0].target.as_str()), ("admin", "desk_prod"));
}

#[tokio::test]
async fn a_basic_connection_is_created_and_connected_through_the_api_without_revealing_the_password() {
    let app = spawn_app().await;
    let api = Api::new(&app, "admin").await;
    let seen = Seen::default();
    api.create("/api/v1/services", &basic_service("legacy")).await;

    let res = seen.keep(api.post("/api/v1/connections", &connection("legacy", "legacy_admin", &[])).await);
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.header("location"), "/api/v1/connections/legacy_admin");
    let created = res.json();
    let mut keys: Vec<&str> = created.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    for key in [
        "auth_type",
        "connected_at",
        "created_at",
        "expires_at",
        "last_error",
        "link_name",
        "name",
        "owner",
        "scopes_granted",
        "scopes_requested",
        "service",
        "status",
        "updated_at",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert_eq!(
        (created["status"].as_str(), created["owner"].as_str(), created["service"].as_str()),
        (Some("not_connected"), Some("admin"), Some("legacy"))
    );
    assert_eq!(created["auth_type"], "basic");

    let password = canary("password");
    let res = seen.keep(
        api.put(
            "/api/v1/connections/legacy_admin/credentials",
            &json!({"username": "svc-user", "password": password}),
        )
        .await,
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let connected = res.json();
    assert_eq!(connected["status"], "connected");
    assert_eq!(connected["connected_at"].as_str(), Some("2026-09-21T14:13:20Z"));
    for key in ["password", "username", "credentials", "params", "access_token", "refresh_token"] {
        assert!(connected.get(key).is_none(), "{key} is never answered");
    }
    seen.keep(api.get("/api/v1/connections/legacy_admin").await);
    seen.keep(api.get("/api/v1/connections").await);
    let browser = app.admin().await;
    seen.keep(browser.get("/admin/connections/legacy_admin").await);
    let form = seen.keep(browser.get("/admin/connections/legacy_admin/connect").await);
    assert!(form.body.contains("name=\"username\"") && form.body.contains("type=\"password\""));

    match row(&app, "legacy_admin").await.open_credentials(&app.state.keyring).unwrap().unwrap() {
        connections::domain::connection::Credentials::Basic { username, password: stored } => {
            assert_eq!((username.as_str(), stored.as_str()), ("svc-user", password.as_str()));
        }
        other => panic!("{other:?}"),
    }
    assert_hidden(&seen.text(), std::slice::from_ref(&password), "a response");
    assert_hidden(&database_text(&app).await, &[password], "the database");
}

#[tokio::test]
async fn bad_credentials_answer_422_with_messages_that_quote_no_value_and_store_nothing() {
    let app = spawn_app().await;
    let api = Api::new(&app, "admin").await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    api.create("/api/v1/services", &basic_service("legacy")).await;
    api.create("/api/v1/connections", &connection("desk", "desk_one", &[])).await;
    api.create("/api/v1/connections", &connection("legacy", "legacy_one", &[])).await;
    let (key, stray, password) = (canary("key"), canary("stray"), canary("password"));

    let res = api
        .put(
            "/api/v1/connections/desk_one/credentials",
            &json!({"params": {"X-Api-Key": key, "X-Nope": stray}}),
        )
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    let errors = &res.json()["errors"];
    assert_eq!(errors["params.X-Org-Id"][0], "Enter the Organisation.");
    assert!(errors["params"][0].as_str().unwrap().contains("X-Nope"), "{errors}");
    assert_hidden(&res.body, &[key.clone(), stray.clone()], "a 422 answer");

    // A value of the wrong JSON type is refused without quoting it.
    let res = api
        .put(
            "/api/v1/connections/desk_one/credentials",
            &json!({"params": {"X-Api-Key": 98765432123456789_u64, "X-Org-Id": "1"}}),
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("invalid type: integer") && !res.body.contains("98765432123456789"),
        "{}",
        res.body
    );
    let res = api
        .put("/api/v1/connections/legacy_one/credentials", &json!({"username": "", "password": password}))
        .await;
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["errors"]["username"][0], "Enter the username.");
    assert_hidden(&res.body, std::slice::from_ref(&password), "a 422 answer");

    let browser = app.admin().await;
    let path = "/admin/connections/legacy_one/connect";
    let page = browser.submit(path, path, &[("username", "svc"), ("password", "")]).await;
    assert_eq!(page.status, 422);
    assert!(text_of(&page).contains("Enter the password."));
    let path = "/admin/connections/desk_one/connect";
    let page = browser.submit(path, path, &[("param.X-Api-Key", &key), ("param.X-Org-Id", "  ")]).await;
    assert_eq!(page.status, 422);
    assert!(text_of(&page).contains("Enter the Organisation."), "{}", text_of(&page));
    assert_hidden(&page.body, std::slice::from_ref(&key), "the re-rendered form");

    for link in ["desk_one", "legacy_one"] {
        let stored = row(&app, link).await;
        assert_eq!((stored.status.as_str(), stored.credentials.is_none()), ("not_connected", true), "{link}");
    }
    // An OAuth2 connection takes no credentials.
    let fake = FakeProvider::start().await;
    api.create("/api/v1/services", &oauth_service(&fake, "zoho")).await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_one", &["read"])).await;
    let res =
        api.put("/api/v1/connections/zoho_one/credentials", &json!({"params": {"X-Api-Key": key}})).await;
    assert_eq!(res.status, 422);
    assert!(res.json()["errors"]["credentials"][0].as_str().unwrap().contains("consent"));
}

#[tokio::test]
async fn oauth2_scopes_must_be_a_subset_of_the_service_scopes_with_at_least_one() {
    let app = spawn_app().await;
    let api = Api::new(&app, "admin").await;
    let fake = FakeProvider::start().await;
    api.create("/api/v1/services", &oauth_service(&fake, "zoho")).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;

    let res = api.post("/api/v1/connections", &connection("zoho", "zoho_bad", &["read", "admin"])).await;
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["errors"]["scopes"][0], "\"admin\" is not a scope of this service.");
    let res = api.post("/api/v1/connections", &connection("zoho", "zoho_none", &[])).await;
    assert_eq!(res.json()["errors"]["scopes"][0], "Choose at least one scope.");
    let res = api.post("/api/v1/connections", &connection("desk", "desk_scoped", &["read"])).await;
    assert_eq!(res.json()["errors"]["scopes"][0], "Only OAuth2 connections have scopes.");
    let res = api.post("/api/v1/connections", &connection("nowhere", "lost", &[])).await;
    assert_eq!(res.json()["errors"]["service"][0], "Choose a service.");
    let res = api.post("/api/v1/connections", &connection("zoho", "Bad Link", &["read"])).await;
    assert!(res.json()["errors"]["link_name"].is_array(), "{}", res.body);

    // Duplicates collapse and the service's order wins.
    let created = api
        .create("/api/v1/connections", &connection("zoho", "zoho_ok", &["offline_access", "read", "read"]))
        .await;
    assert_eq!(created["scopes_requested"], json!(["read", "offline_access"]));
    assert_eq!(created["scopes_granted"], Value::Null);
    let res = api.post("/api/v1/connections", &connection("zoho", "zoho_ok", &["read"])).await;
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["errors"]["link_name"][0], "This link name is already taken; choose another.");

    // The form: one checkbox per scope, labelled; a bad choice comes back with its message and 422.
    let browser = app.admin().await;
    let picker = browser.get("/admin/connections/new?service=__new__").await;
    assert_eq!(
        picker.header("location"),
        "/admin/services/new?return_to=%2Fadmin%2Fconnections%2Fnew",
        "create a new service, then come back"
    );
    let form = browser.get("/admin/connections/new?service=zoho").await;
    assert_eq!(form.body.matches("name=\"scope\"").count(), 3);
    for label in ["Read tickets", "Update tickets", "Stay connected"] {
        assert!(form.body.contains(label), "{label}");
    }
    let page = browser
        .submit(
            "/admin/connections/new",
            "/admin/connections",
            &[("service", "zoho"), ("name", "No scopes"), ("link_name", "no_scopes")],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(text_of(&page).contains("Choose at least one scope."));
    let page = browser
        .submit(
            "/admin/connections/new",
            "/admin/connections",
            &[
                ("service", "zoho"),
                ("name", "Two"),
                ("link_name", "two"),
                ("scope", "write"),
                ("scope", "read"),
            ],
        )
        .await;
    assert_eq!(page.header("location"), "/admin/connections/two");
    assert_eq!(row(&app, "two").await.scopes_requested(), ["read", "write"]);
    assert_eq!(audit(&app, "connection.create").await.len(), 2);
}

#[tokio::test]
async fn a_sealed_credential_copied_to_another_row_or_column_does_not_open() {
    let app = spawn_app().await;
    let api = Api::new(&app, "admin").await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    for link in ["desk_a", "desk_b"] {
        api.create("/api/v1/connections", &connection("desk", link, &[])).await;
        let body = json!({"params": {"X-Api-Key": canary(link), "X-Org-Id": "1"}});
        assert_eq!(api.put(&format!("/api/v1/connections/{link}/credentials"), &body).await.status, 200);
    }
    let (a, b) = (row(&app, "desk_a").await, row(&app, "desk_b").await);
    assert!(b.open_credentials(&app.state.keyring).is_ok());
    use connections::db::schema::connections as table;
    let (stolen, id) = (a.credentials.clone(), b.id);
    app.state
        .db
        .run(move |c| {
            diesel::update(table::table.find(id))
                .set((table::credentials.eq(&stolen), table::access_token.eq(&stolen)))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let moved = row(&app, "desk_b").await;
    assert!(moved.open_credentials(&app.state.keyring).is_err(), "bound to its row");
    assert!(moved.open_access_token(&app.state.keyring).is_err(), "bound to its column");
    assert!(a.open_credentials(&app.state.keyring).unwrap().is_some(), "the original still opens");
}
