//! Key rotation as an operator does it: the `keys` commands run as processes on a test's database,
//! the key file in its data folder, and every sealed value the database holds read behind the app's
//! back, to tell which key seals it and whether it opens.

use std::process::{Output, Stdio};

use connections::config::Config;
use connections::crypto::{Keyring, Secret, SecretSlot};
use connections::db::schema::{
    connections as connections_table, oauth_flows, services, smtp_settings, webhook_endpoints,
};
use connections::db::{Db, DbConn};
use connections::keys::GENERATED_KEY_FILE;
use connections::models::{smtp, webhook};
use diesel::prelude::*;
use serde_json::json;

use super::api::Api;
use super::app::{TestApp, TestDb, loopback};
use super::browser::connect_href;
use super::cli::command;
use super::fixtures::{basic_service, connection};
use super::oauth::{Setup, setup_on};

/// The app's configuration for these tests: the key file generated in the data folder (the one the
/// `keys` commands find there too), and calls to the fake provider on loopback.
pub fn with_key_file(config: &mut Config) {
    loopback(config);
    config.encryption_keys = None;
}

/// Runs `connections keys ARGS` on `db`, with `env` added.
pub fn keys_cli(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    // Like the tests' apps, which reload no keyring: they are restarted after a rotation.
    command(db)
        .arg("keys")
        .args(args)
        .env("CONNECTIONS_ENCRYPTION_KEYS_RELOAD_SECS", "0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// What a command printed, standard output then standard error.
pub fn printed(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs a `keys` command that must succeed, and returns what it printed.
pub fn keys_ok(db: &TestDb, args: &[&str]) -> String {
    let out = keys_cli(db, args, &[]);
    assert!(out.status.success(), "keys {args:?} failed: {}", printed(&out));
    printed(&out)
}

/// The data folder's key file.
pub fn key_file(db: &TestDb) -> std::path::PathBuf {
    db.dir.path().join(GENERATED_KEY_FILE)
}

/// The keyring the key file holds now.
pub fn file_keyring(db: &TestDb) -> Keyring {
    Keyring::parse(std::fs::read_to_string(key_file(db)).unwrap().trim()).unwrap()
}

/// One sealed value as stored: its place and bytes.
#[derive(Debug, Clone)]
pub struct Stored {
    pub table: &'static str,
    pub column: &'static str,
    pub row: String,
    pub sealed: Vec<u8>,
}

impl Stored {
    pub fn kid(&self) -> String {
        Keyring::key_id_of(&self.sealed).unwrap()
    }

    /// The plaintext under `keyring`, or why it does not open.
    pub fn open(&self, keyring: &Keyring) -> Result<String, String> {
        keyring
            .open(&SecretSlot::new(self.table, self.column, &self.row), &self.sealed)
            .map(|s| s.expose().to_owned())
            .map_err(|e| format!("{}.{} of {}: {e}", self.table, self.column, self.row))
    }
}

/// Every sealed value in the database of a stopped app, read directly, in a fixed order. (Opening a
/// database in this process while an app of this process has it open would drop that app's SQLite
/// file locks: use [`stored_in`] then.)
pub async fn stored_values(db: &TestDb) -> Vec<Stored> {
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || read_stored(&mut Db::connect(&url, 1).unwrap().get().unwrap()))
        .await
        .unwrap()
}

/// Every sealed value in a running app's database, through its own pool.
pub async fn stored_in(app: &TestApp) -> Vec<Stored> {
    app.state.db.run(|c| Ok(read_stored(c))).await.unwrap()
}

fn read_stored(c: &mut DbConn) -> Vec<Stored> {
    let mut all = Vec::new();
    let mut push = |table, column, row: String, sealed: Option<Vec<u8>>| {
        if let Some(sealed) = sealed {
            all.push(Stored { table, column, row, sealed });
        }
    };
    type Sealed = Option<Vec<u8>>;
    let rows: Vec<(i64, Sealed)> =
        services::table.select((services::id, services::client_secret)).order(services::id).load(c).unwrap();
    for (id, sealed) in rows {
        push("services", "client_secret", id.to_string(), sealed);
    }
    let rows: Vec<(i64, Sealed, Sealed, Sealed, Sealed)> = connections_table::table
        .select((
            connections_table::id,
            connections_table::credentials,
            connections_table::access_token,
            connections_table::refresh_token,
            connections_table::previous_refresh_token,
        ))
        .order(connections_table::id)
        .load(c)
        .unwrap();
    for (id, credentials, access, refresh, previous) in rows {
        push("connections", "credentials", id.to_string(), credentials);
        push("connections", "access_token", id.to_string(), access);
        push("connections", "refresh_token", id.to_string(), refresh);
        push("connections", "previous_refresh_token", id.to_string(), previous);
    }
    let rows: Vec<(String, Vec<u8>)> = oauth_flows::table
        .select((oauth_flows::state_hash, oauth_flows::pkce_verifier))
        .order(oauth_flows::state_hash)
        .load(c)
        .unwrap();
    for (hash, sealed) in rows {
        push("oauth_flows", "pkce_verifier", hash, Some(sealed));
    }
    let rows: Vec<(i64, Vec<u8>, Sealed)> = webhook_endpoints::table
        .select((webhook_endpoints::id, webhook_endpoints::secret, webhook_endpoints::url))
        .order(webhook_endpoints::id)
        .load(c)
        .unwrap();
    for (id, sealed, url) in rows {
        push("webhook_endpoints", "secret", id.to_string(), Some(sealed));
        push("webhook_endpoints", "url", id.to_string(), url);
    }
    let rows: Vec<(i32, Sealed)> =
        smtp_settings::table.select((smtp_settings::id, smtp_settings::password)).load(c).unwrap();
    for (id, sealed) in rows {
        push("smtp_settings", "password", id.to_string(), sealed);
    }
    all
}

/// How many values each key id seals, sorted by key id.
pub fn kids_of(values: &[Stored]) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for value in values {
        *counts.entry(value.kid()).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

/// `kids_of` the database of a stopped app.
pub async fn kids_of_stored(db: &TestDb) -> Vec<(String, usize)> {
    kids_of(&stored_values(db).await)
}

/// An app on a new database with every kind of sealed value: `zoho_main` connected through the fake
/// provider (client secret, access and refresh tokens), `zoho_two` half-way through its consent (a
/// flow's PKCE verifier), `extra` Basic connections with a password each, a webhook endpoint's signing
/// secret and URL, and the SMTP password.
pub async fn secrets_of_every_kind(extra: usize) -> Setup {
    let setup = setup_on(TestDb::new(), with_key_file).await;
    let Setup { api, browser, .. } = &setup;
    api.create("/api/v1/connections", &connection("zoho", "zoho_two", &["read"])).await;
    let details = browser.get("/admin/connections/zoho_two").await;
    assert_eq!(browser.get(&connect_href(&details)).await.status, 303, "a flow is under way");
    api.create("/api/v1/services", &basic_service("legacy")).await;
    for i in 0..extra {
        basic_connection(api, &format!("legacy_{i}")).await;
    }
    let (keyring, now) = (setup.app.state.keyring.clone(), setup.app.clock.now());
    setup
        .app
        .state
        .db
        .run(move |c| {
            let endpoint = webhook::EndpointInput {
                url: Some(Secret::new(String::from("http://127.0.0.1:9/hooks/every-kind"))),
                description: "Every secret kind".into(),
                events: vec!["connection.created".into()],
                enabled: false,
                email_owner: false,
            };
            webhook::insert(
                c,
                &keyring,
                &endpoint,
                &Secret::new(String::from("whsec_c2lnbmluZy1zZWNyZXQ=")),
                now,
            )?;
            let server = smtp::SmtpInput {
                host: "127.0.0.1".into(),
                port: 2525,
                security: "starttls".into(),
                username: "alerts".into(),
                password: Some(Secret::new(String::from("smtp-password"))),
                from_address: "alerts@example.com".into(),
            };
            smtp::put(c, &keyring, &server, now)
        })
        .await
        .unwrap();
    setup
}

/// The Basic password stored for the connection `link`.
pub fn password_of(link: &str) -> String {
    format!("password-of-{link}")
}

/// Creates and connects a Basic connection `link` of the service `legacy`.
pub async fn basic_connection(api: &Api, link: &str) {
    api.create("/api/v1/connections", &connection("legacy", link, &[])).await;
    let body = json!({"username": "svc", "password": password_of(link)});
    let res = api.put(&format!("/api/v1/connections/{link}/credentials"), &body).await;
    assert_eq!(res.status, 200, "{}", res.body);
}
