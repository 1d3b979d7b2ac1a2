//! The running app: every test starts the real app through `app::build` on port 0, with its own temp
//! SQLite file, or its own fresh PostgreSQL database when `TEST_DATABASE_URL` is set (dropped after).

use actix_web::web;
use connections::app;
use connections::clock::Clock;
use connections::config::{Cidr, Config};
use connections::crypto::Secret;
use connections::models::{api_token, user};
use connections::password::hash_blocking;
use connections::random::{new_api_token, sha256_hex};
use connections::state::AppState;
use diesel::{Connection, PgConnection, RunQueryDsl};

use super::browser::{Browser, client};

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
    /// The SQLite database `connections.db` in `dir` (a restored backup), which is its data folder.
    pub fn sqlite_in(dir: tempfile::TempDir) -> TestDb {
        let url = format!("sqlite://{}", dir.path().join("connections.db").display());
        TestDb { url, pg_admin: None, dir }
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

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

/// Lets the app call the test's own servers (fake provider, upstream) on loopback, over plain HTTP.
pub fn loopback(config: &mut Config) {
    config.outbound_allow_cidrs = vec![Cidr::parse("127.0.0.1/32").unwrap()];
    config.outbound_allow_http = true;
}

/// An app that may call the test's own servers on loopback.
pub async fn spawn_app() -> TestApp {
    TestApp::spawn_with(loopback).await
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
        // Tests drive refreshes and keyring reloads themselves; the background tasks have their own tests.
        config.refresh_interval_secs = 0;
        // Tests send webhooks themselves (`alerts::delivery::deliver_due`), or turn the worker on.
        config.webhook_interval_secs = 0;
        config.encryption_keys_reload_secs = 0;
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
                let new = api_token::NewToken {
                    user_id: u.id,
                    label: "test",
                    token_hash: &hash,
                    prefix: &prefix,
                    expires_at: None,
                    restrict_to: None,
                };
                Ok(api_token::insert(c, &new, now)?)
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

/// Signs in a second SDAdmin, `name`, in a browser of their own.
pub async fn second_admin(app: &TestApp, name: &str) -> Browser {
    app.add_user(name, user::Role::SdAdmin, "second-admin-password").await;
    let browser = app.browser();
    assert_eq!(browser.sign_in(name, "second-admin-password").await.status, 303);
    browser
}
