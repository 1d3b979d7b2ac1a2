//! No secret in the logs: the `connections` binary runs with `RUST_LOG=trace` (its own subscriber,
//! `log` records of reqwest and hyper included) while every connection flow handles canary values;
//! then its whole stderr is searched for them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::support::{
    Api, Browser, FakeProvider, TEST_KEYS, TestDb, assert_hidden, canary, command, connect_href, connection,
    local, oauth_service_at,
};

/// The server process, killed however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary with the test keys, `admin_password`, loopback allowed and every log record on.
fn traced_command(db: &TestDb, admin_password: &str) -> Command {
    let mut cmd = command(db);
    cmd.env("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS)
        .env("CONNECTIONS_ADMIN_PASSWORD", admin_password)
        .env("CONNECTIONS_OUTBOUND_ALLOW_CIDRS", "127.0.0.1/32")
        .env("CONNECTIONS_OUTBOUND_ALLOW_HTTP", "true")
        .env("RUST_LOG", "trace");
    cmd
}

/// Starts `serve` with its stderr going to `log`; returns it and its URL.
fn serve_traced(db: &TestDb, admin_password: &str, log: &std::path::Path) -> (Server, String) {
    let mut child = traced_command(db, admin_password)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("Connections is running at ").map(|u| u.trim_end_matches('/').to_owned())
        })
        .expect("the server prints its URL");
    (server, url)
}

#[tokio::test]
async fn no_secret_reaches_the_logs_at_trace_level() {
    let db = TestDb::new();
    let log = db.dir.path().join("server.log");
    let admin_password = canary("admin-password");
    let fake = FakeProvider::start().await;
    let (_server, base) = serve_traced(&db, &admin_password, &log);

    let created = traced_command(&db, &admin_password).args(["token", "create", "admin"]).output().unwrap();
    let printed = String::from_utf8_lossy(&created.stdout).into_owned();
    let token = printed
        .lines()
        .find(|l| l.starts_with("cn_"))
        .unwrap_or_else(|| panic!("token printed: {printed}"))
        .to_owned();
    let api = Api::at(&base, &token);
    let browser = Browser::new(&base);
    assert_eq!(browser.sign_in("admin", &admin_password).await.status, 303);
    let session = browser.cookie("connections_session").expect("a session cookie");

    // API Key and Basic credentials, through the API and the page, a 422 on the way.
    let (key, org, password, rejected) =
        (canary("api-key"), canary("org"), canary("password"), canary("rejected"));
    let desk = json!({"name": "Desk", "link_name": "desk", "auth_type": "api_key",
    "api_key": {"param_type": "query", "params": [
        {"name": "key", "display_name": "Key"},
        {"name": "org", "display_name": "Org"}
    ]}});
    assert_eq!(api.post("/api/v1/services", &desk).await.status, 201);
    assert_eq!(api.post("/api/v1/connections", &connection("desk", "desk_main", &[])).await.status, 201);
    let res = api
        .put(
            "/api/v1/connections/desk_main/credentials",
            &json!({"params": {"key": rejected, "bogus": rejected}}),
        )
        .await;
    assert_eq!(res.status, 422);
    let res = api
        .put("/api/v1/connections/desk_main/credentials", &json!({"params": {"key": key, "org": org}}))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let path = "/admin/connections/desk_main/connect";
    assert_eq!(browser.submit(path, path, &[("param.key", &key), ("param.org", &org)]).await.status, 303);
    let legacy = json!({"name": "Legacy", "link_name": "legacy", "auth_type": "basic"});
    assert_eq!(api.post("/api/v1/services", &legacy).await.status, 201);
    assert_eq!(api.post("/api/v1/connections", &connection("legacy", "legacy_main", &[])).await.status, 201);
    let res = api
        .put("/api/v1/connections/legacy_main/credentials", &json!({"username": "svc", "password": password}))
        .await;
    assert_eq!(res.status, 200);

    // OAuth2: a consent, a failed exchange, revocations that work and fail, a delete.
    assert_eq!(api.post("/api/v1/services", &oauth_service_at(&fake, "zoho")).await.status, 201);
    assert_eq!(
        api.post("/api/v1/connections", &connection("zoho", "zoho_main", &["read", "offline_access"]))
            .await
            .status,
        201
    );
    let consent = async |browser: &Browser| {
        let details = browser.get("/admin/connections/zoho_main").await;
        let to_provider = browser.get(&connect_href(&details)).await;
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let back = client.get(to_provider.header("location")).send().await.unwrap();
        browser.get(&local(back.headers()["location"].to_str().unwrap())).await
    };
    fake.set(|b| b.token_error = Some((500, "")));
    consent(&browser).await;
    fake.set(|b| b.token_error = None);
    assert_eq!(consent(&browser).await.header("location"), "/admin/connections/zoho_main");
    let res = api.post("/api/v1/connections/zoho_main/revoke", &json!({})).await;
    assert_eq!(res.json()["revoke_outcome"], "Revoked at the provider.");
    consent(&browser).await;
    fake.set(|b| b.revoke_status = 503);
    let res = api.post("/api/v1/connections/zoho_main/revoke", &json!({})).await;
    assert!(res.body.contains("HTTP 503"), "{}", res.body);
    consent(&browser).await;
    assert_eq!(
        api.send(reqwest::Method::DELETE, "/api/v1/connections/zoho_main", Some(&json!({}))).await.status,
        200
    );
    assert_eq!(fake.token_count(), 4);
    assert_eq!(fake.revoke_calls().len(), 6);

    drop(_server);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("TRACE"), "the log was captured at TRACE level");
    assert!(logged.contains("signed in"), "the app's own events are there: {logged}");
    let mut secrets = vec![key, org, password, rejected, admin_password, token, session];
    secrets.extend(fake.secrets());
    assert_hidden(&logged, &secrets, "the log");
}
