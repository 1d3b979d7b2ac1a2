//! The test harness: every test starts the real app through `app::build` on port 0, with its own temp
//! SQLite file, or its own fresh PostgreSQL database when `TEST_DATABASE_URL` is set (dropped after).

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::web;
use connections::app;
use connections::clock::Clock;
use connections::config::Config;
use connections::crypto::Secret;
use connections::models::{api_token, user};
use connections::password::hash_blocking;
use connections::random::{new_api_token, sha256_hex};
use connections::state::AppState;
use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::header::HeaderMap;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// A fixed keyring so tests can also check key handling.
pub const TEST_KEYS: &str = "test1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// Tests start at a fixed time and move it by hand.
pub const T0: i64 = 1_790_000_000;

/// A database of the test's own: a temp SQLite file, or a fresh PostgreSQL database.
pub struct TestDb {
    pub url: String,
    pg_admin: Option<(String, String)>,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(admin_url) => {
                let name = format!("connections_test_{}", random_suffix());
                let mut conn = PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
                TestDb { url: format!("{base}/{name}"), pg_admin: Some((admin_url.clone(), name)), dir }
            }
            None => {
                let url = format!("sqlite://{}", dir.path().join("connections.db").display());
                TestDb { url, pg_admin: None, dir }
            }
        }
    }
}

impl TestDb {
    /// The same database for a second app instance: the same URL, a data directory of its own, and
    /// dropping it leaves the database alone (the original drops it).
    pub fn share(&self) -> TestDb {
        TestDb { url: self.url.clone(), pg_admin: None, dir: tempfile::tempdir().expect("temp dir") }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg_admin
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ =
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
        }
    }
}

fn random_suffix() -> String {
    let mut buf = [0u8; 8];
    getrandom::fill(&mut buf).expect("random");
    hex::encode(buf)
}

/// A running app.
pub struct TestApp {
    pub base: String,
    pub state: web::Data<AppState>,
    pub clock: Clock,
    db: TestDb,
    handle: actix_web::dev::ServerHandle,
    /// Dropping it stops the background refresher.
    _stop_background: tokio::sync::watch::Sender<bool>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the app with the test defaults, adjusted by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(TestDb::new(), adjust).await
    }

    /// Starts the app on an existing database (a second instance, or a restart).
    pub async fn spawn_on(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Self::config_for(&db);
        adjust(&mut config);
        let clock = config.clock.clone();
        let running = app::build(config).await.expect("app starts");
        let handle = running.server.handle();
        tokio::spawn(running.server);
        TestApp {
            base: format!("http://{}", running.addr),
            state: running.state,
            clock,
            db,
            handle,
            _stop_background: running.stop_background,
        }
    }

    /// The test defaults on `db`, for a test that calls `app::build` itself (one that must not start).
    pub fn config_for(db: &TestDb) -> Config {
        let mut config = Config::new(&db.url, db.dir.path().to_path_buf(), "127.0.0.1:0");
        config.admin_password = Some(Secret::new(ADMIN_PASSWORD));
        config.encryption_keys = Some(Secret::new(TEST_KEYS));
        config.workers = 1;
        config.clock = Clock::manual(T0);
        // Tests drive refreshes themselves; the background task has its own test.
        config.refresh_interval_secs = 0;
        config
    }

    /// This app's database, for a second instance running beside it (see `TestDb::share`).
    pub fn shared_db(&self) -> TestDb {
        self.db.share()
    }

    /// Stops the server and hands back its database, for a restart.
    pub async fn stop(self) -> TestDb {
        self.handle.stop(false).await;
        self.db
    }

    /// A browser talking to the server, sending the Origin of the portal's base URL.
    pub fn browser(&self) -> Browser {
        let mut browser = Browser::new(&self.base);
        browser.origin = self.state.base_url.origin().ascii_serialization();
        browser
    }

    /// A browser whose connections come from `source`, another loopback address (127.0.0.0/8): the
    /// sign-in throttle counts per client address, so many sources reach the per-account lock.
    pub fn browser_from(&self, source: std::net::IpAddr) -> Browser {
        let mut browser = self.browser();
        browser.http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(source)
            .build()
            .unwrap();
        browser
    }

    /// A signed-in SDAdmin browser.
    pub async fn admin(&self) -> Browser {
        let browser = self.browser();
        let res = browser.sign_in("admin", ADMIN_PASSWORD).await;
        assert_eq!(res.status, 303, "admin sign-in: {}", res.body);
        browser
    }

    /// Adds a user directly through the model (what `connections user add` does).
    pub async fn add_user(&self, name: &str, role: user::Role, password: &str) -> i64 {
        let (name, hash, now) =
            (name.to_owned(), hash_blocking(&Secret::new(password)).unwrap(), self.clock.now());
        self.state.db.run(move |c| Ok(user::insert(c, &name, &hash, role, now)?)).await.unwrap()
    }

    /// Creates an API token for a user (what `connections token create` does).
    pub async fn token_for(&self, username: &str) -> String {
        let (name, now) = (username.to_owned(), self.clock.now());
        let (token, prefix) = new_api_token().unwrap();
        let hash = sha256_hex(&token);
        self.state
            .db
            .run(move |c| {
                let u = user::find_by_name(c, &name)?.expect("user exists");
                Ok(api_token::insert(c, u.id, "test", &hash, &prefix, now)?)
            })
            .await
            .unwrap();
        token
    }

    /// A bare HTTP client (no cookies, no redirects).
    pub fn http(&self) -> reqwest::Client {
        client()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// What a response looked like.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).unwrap_or_else(|| panic!("no csrf field in: {}", self.body))
            + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

/// A browser-like client: keeps cookies, sends the Origin a browser would, follows no redirects.
pub struct Browser {
    base: String,
    pub origin: String,
    http: reqwest::Client,
    pub cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            origin: base.to_owned(),
            http: client(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.lock().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let res = req.header("cookie", self.cookie_header()).send().await.expect("request");
        for value in res.headers().get_all("set-cookie") {
            let raw = value.to_str().unwrap();
            let (pair, attrs) = raw.split_once(';').unwrap_or((raw, ""));
            let (name, val) = pair.split_once('=').unwrap();
            let mut cookies = self.cookies.lock().unwrap();
            if attrs.contains("Max-Age=0") {
                cookies.remove(name.trim());
            } else {
                cookies.insert(name.trim().to_owned(), val.trim().to_owned());
            }
        }
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        Page { status, headers, body: res.text().await.unwrap_or_default() }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    /// A form POST as a browser sends it from this site.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request(reqwest::Method::POST, path, form).await
    }

    /// Any method with a form body, sent from this site.
    pub async fn request(&self, method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("origin", &self.origin)
            .form(form);
        self.send(req).await
    }

    /// A form POST carrying the CSRF token of the page at `from`.
    pub async fn submit(&self, from: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let token = self.get(from).await.csrf();
        let mut fields: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> Page {
        self.submit("/login", "/login", &[("username", username), ("password", password)]).await
    }
}

/// Polls `check` for up to two seconds: another instance hears of a change through the database.
pub async fn within_two_seconds(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}
