//! A running instance takes up a rotated keyring without a restart: at its next reload it opens
//! values sealed under the new key at once, and seals with it only once the key was recorded twice
//! the reload interval ago (when every instance has it); `keys rewrap` waits as long. A keyring that
//! fails the start-up checks is not taken up.

use connections::config::Config;
use connections::crypto::Keyring;
use connections::db::schema::encryption_key_ids;
use connections::keys::{self, GENERATED_KEY_FILE};
use diesel::prelude::*;

use crate::support::{Api, TestApp, basic_connection, basic_service, keys_cli, printed, row, with_key_file};

fn reloading(config: &mut Config) {
    with_key_file(config);
    config.encryption_keys_reload_secs = 60;
}

/// Runs `connections keys ARGS` on the app's database and key file, as configured for reloads.
fn keys_of(app: &TestApp, args: &[&str]) -> std::process::Output {
    let dir = app.state.config.data_dir.display().to_string();
    let env = [("CONNECTIONS_DATA_DIR", dir.as_str()), ("CONNECTIONS_ENCRYPTION_KEYS_RELOAD_SECS", "60")];
    keys_cli(&app.shared_db(), args, &env)
}

fn key_file_of(app: &TestApp) -> std::path::PathBuf {
    app.state.config.data_dir.join(GENERATED_KEY_FILE)
}

async fn reload(app: &TestApp) -> Result<Option<String>, String> {
    let (config, db, keyring, now) =
        (app.state.config.clone(), app.state.db.clone(), app.state.keyring.clone(), app.clock.now());
    tokio::task::spawn_blocking(move || keys::reload(&config, &db, &keyring, now).map_err(|e| e.to_string()))
        .await
        .unwrap()
}

async fn recorded_at(app: &TestApp, kid: &str) -> i64 {
    let kid = kid.to_owned();
    app.state
        .db
        .run(move |c| {
            Ok(encryption_key_ids::table.find(kid).select(encryption_key_ids::first_used_at).first(c)?)
        })
        .await
        .unwrap()
}

/// The key id that seals `link`'s credentials.
async fn credentials_kid(app: &TestApp, link: &str) -> String {
    Keyring::key_id_of(&row(app, link).await.credentials.expect("credentials")).unwrap()
}

#[tokio::test]
async fn a_running_instance_opens_with_a_rotated_key_at_once_and_seals_with_it_once_settled() {
    let app = TestApp::spawn_with(reloading).await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &basic_service("legacy")).await;
    basic_connection(&api, "legacy_main").await;
    assert_eq!(reload(&app).await, Ok(None), "nothing changed");

    let out = keys_of(&app, &["rotate"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert!(printed(&out).contains("running instances take k2 up within 60 s"), "{}", printed(&out));
    let rotated_at = recorded_at(&app, "k2").await;

    // Loaded for opening, but k1 still seals.
    let change = reload(&app).await.unwrap().expect("the keyring changed");
    assert_eq!(change, "active key k1, keys k1, k2");
    assert_eq!(app.state.keyring.kids(), ["k1", "k2"]);
    basic_connection(&api, "during").await;
    assert_eq!(credentials_kid(&app, "during").await, "k1");

    // Rewrap waits for every instance to have reloaded, unless they were all restarted.
    let early = keys_of(&app, &["rewrap"]);
    assert!(!early.status.success());
    assert!(printed(&early).contains("running instances take it up within 120 s"), "{}", printed(&early));
    assert_eq!(credentials_kid(&app, "legacy_main").await, "k1", "nothing was re-sealed");
    let done = keys_of(&app, &["rewrap", "--restarted"]);
    assert!(done.status.success(), "{}", printed(&done));
    assert_eq!(credentials_kid(&app, "legacy_main").await, "k2", "{}", printed(&done));
    let opened = row(&app, "legacy_main").await.open_credentials(&app.state.keyring).unwrap();
    assert!(format!("{opened:?}").contains("Basic"), "the instance opens what k2 sealed");
    assert_eq!(api.get("/api/v1/connections/legacy_main").await.status, 200);

    // Twice the interval after the rotation, k2 seals too.
    app.clock.advance(rotated_at + 119 - app.clock.now());
    assert_eq!(reload(&app).await, Ok(None));
    app.clock.advance(1);
    assert_eq!(reload(&app).await.unwrap().as_deref(), Some("active key k2, keys k2, k1"));
    basic_connection(&api, "after").await;
    assert_eq!(credentials_kid(&app, "after").await, "k2");

    // An instance starting before k2 settled would seal with k1 until then (what `app::build` runs).
    let (config, db) = (app.state.config.clone(), app.state.db.clone());
    let at = |now: i64| {
        let (config, db) = (config.clone(), db.clone());
        tokio::task::spawn_blocking(move || {
            let (_, keyring) = keys::load(&config, &db).unwrap();
            keys::at_start(&config, &db, keyring, now).unwrap().kids()
        })
    };
    assert_eq!(at(rotated_at + 60).await.unwrap(), ["k1", "k2"]);
    assert_eq!(at(rotated_at + 120).await.unwrap(), ["k2", "k1"]);
}

#[tokio::test]
async fn a_keyring_that_fails_the_checks_is_not_taken_up() {
    let app = TestApp::spawn_with(reloading).await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &basic_service("legacy")).await;
    basic_connection(&api, "legacy_main").await;
    let file = key_file_of(&app);
    let spec = std::fs::read_to_string(&file).unwrap();

    // The key file lost k1, which seals the database's secrets.
    std::fs::write(&file, "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n").unwrap();
    let err = reload(&app).await.unwrap_err();
    assert!(err.contains("key id \"k1\""), "{err}");
    assert_eq!(app.state.keyring.kids(), ["k1"]);
    // Another key under k1's id.
    std::fs::write(&file, "k1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n").unwrap();
    let err = reload(&app).await.unwrap_err();
    assert!(err.contains("is not the key"), "{err}");
    assert_eq!(app.state.keyring.to_spec(), spec.trim());
    assert_eq!(api.get("/api/v1/connections/legacy_main").await.status, 200);
    std::fs::write(&file, &spec).unwrap();
    assert_eq!(reload(&app).await, Ok(None));
    let status = keys_of(&app, &["status"]);
    assert!(status.status.success() && printed(&status).contains("k1"), "{}", printed(&status));
}
