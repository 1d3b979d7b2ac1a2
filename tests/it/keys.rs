//! Keys at start-up, on a database that holds secrets: a missing, empty or different key file, or a
//! keyring without a key id the database used, refuses to start, names the id and changes nothing; a
//! new active key beside the right one starts and the stored secrets still open; a key id recorded
//! before check values existed is checked against its secrets before it gets one.

use connections::app;
use connections::config::Config;
use connections::crypto::Secret;
use connections::db::Db;
use connections::db::schema::{connections as stored, encryption_key_ids, services, users};
use connections::domain::connection::Credentials;
use connections::keys::GENERATED_KEY_FILE;
use diesel::prelude::*;
use serde_json::json;

use crate::support::{Api, TestApp, TestDb, basic_service, connection, row};

const PASSWORD: &str = "canary-basic-password-7f3a";
/// A key other than the generated one, under the same id.
const OTHER_K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NEW_K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// Starts on a key file generated in the data folder, connects `legacy_main` with a Basic password,
/// stops; returns the database and the key file's contents.
async fn secrets_under_a_generated_key() -> (TestDb, String) {
    let app = TestApp::spawn_with(|c| c.encryption_keys = None).await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &basic_service("legacy")).await;
    api.create("/api/v1/connections", &connection("legacy", "legacy_main", &[])).await;
    let res = api
        .put("/api/v1/connections/legacy_main/credentials", &json!({"username": "svc", "password": PASSWORD}))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let db = app.stop().await;
    let spec = std::fs::read_to_string(key_file(&db)).expect("the key file was generated");
    assert!(spec.starts_with("k1:"));
    (db, spec)
}

fn key_file(db: &TestDb) -> std::path::PathBuf {
    db.dir.path().join(GENERATED_KEY_FILE)
}

/// The start-up error of an app on `db` with the key file of the data folder (unless `adjust`
/// configures keys): it must not start.
async fn refused(db: &TestDb, adjust: impl FnOnce(&mut Config)) -> String {
    let mut config = TestApp::config_for(db);
    config.encryption_keys = None;
    adjust(&mut config);
    match app::build(config).await {
        Ok(_) => panic!("the app started"),
        Err(e) => e.to_string(),
    }
}

/// What start-up could change: the recorded key ids with their check values, the sealed columns,
/// the users.
async fn snapshot(db: &TestDb) -> String {
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let db = Db::connect(&url, 1).unwrap();
        let c = &mut *db.get().unwrap();
        type Sealed = Option<Vec<u8>>;
        let kids: Vec<(String, i64, Sealed)> = encryption_key_ids::table
            .select((
                encryption_key_ids::kid,
                encryption_key_ids::first_used_at,
                encryption_key_ids::check_value,
            ))
            .order(encryption_key_ids::kid)
            .load(c)
            .unwrap();
        let sealed: Vec<(i64, String, Sealed, Sealed)> = stored::table
            .select((stored::id, stored::status, stored::credentials, stored::access_token))
            .order(stored::id)
            .load(c)
            .unwrap();
        let secrets: Vec<Sealed> =
            services::table.select(services::client_secret).order(services::id).load(c).unwrap();
        let users: Vec<(String, i64)> =
            users::table.select((users::username, users::updated_at)).order(users::id).load(c).unwrap();
        format!("{kids:?}\n{sealed:?}\n{secrets:?}\n{users:?}")
    })
    .await
    .unwrap()
}

async fn set_check_values_null(db: &TestDb) {
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let db = Db::connect(&url, 1).unwrap();
        diesel::update(encryption_key_ids::table)
            .set(encryption_key_ids::check_value.eq(None::<Vec<u8>>))
            .execute(&mut *db.get().unwrap())
            .unwrap();
    })
    .await
    .unwrap();
}

/// The Basic password of `legacy_main`, opened with the running app's keyring.
async fn stored_password(app: &TestApp) -> String {
    match row(app, "legacy_main").await.open_credentials(&app.state.keyring).unwrap() {
        Some(Credentials::Basic { password, .. }) => password,
        other => panic!("Basic credentials expected: {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_key_file_is_refused_by_name_and_no_new_key_is_made() {
    let (db, spec) = secrets_under_a_generated_key().await;
    let before = snapshot(&db).await;
    std::fs::remove_file(key_file(&db)).unwrap();

    let err = refused(&db, |_| {}).await;
    assert!(
        err.contains("missing")
            && err.contains("\"k1\"")
            && err.contains(&key_file(&db).display().to_string()),
        "{err}"
    );
    assert!(err.contains("backup") && err.contains("new, empty database"), "says how to proceed: {err}");
    assert!(!key_file(&db).exists(), "no key was generated");
    assert_eq!(snapshot(&db).await, before, "nothing in the database changed");

    std::fs::write(key_file(&db), &spec).unwrap();
    let app = TestApp::spawn_on(db, |c| c.encryption_keys = None).await;
    assert_eq!(stored_password(&app).await, PASSWORD, "the restored key file opens the secrets");
}

#[tokio::test]
async fn a_database_that_recorded_a_key_id_gets_no_new_key_even_with_nothing_sealed() {
    let app = TestApp::spawn_with(|c| c.encryption_keys = None).await;
    let db = app.stop().await;
    std::fs::remove_file(key_file(&db)).unwrap();
    let err = refused(&db, |_| {}).await;
    assert!(err.contains("missing") && err.contains("\"k1\""), "{err}");
    assert!(!key_file(&db).exists());
}

#[tokio::test]
async fn an_empty_key_file_is_refused_by_name() {
    let (db, _) = secrets_under_a_generated_key().await;
    let before = snapshot(&db).await;
    std::fs::write(key_file(&db), "\n").unwrap();
    let err = refused(&db, |_| {}).await;
    assert!(
        err.contains("empty") && err.contains("\"k1\"") && err.contains(&key_file(&db).display().to_string()),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(key_file(&db)).unwrap(), "\n", "left as it was");
    assert_eq!(snapshot(&db).await, before);
}

#[tokio::test]
async fn a_different_key_under_the_same_id_is_refused_by_name() {
    let (db, spec) = secrets_under_a_generated_key().await;
    let before = snapshot(&db).await;
    std::fs::write(key_file(&db), format!("{OTHER_K1}\n")).unwrap();
    let err = refused(&db, |_| {}).await;
    assert!(err.contains("the key configured as \"k1\" is not the key"), "{err}");
    assert!(!err.contains("AAECAwQF") && !err.contains(&spec[3..13]), "no key material: {err}");
    assert_eq!(snapshot(&db).await, before);

    // The same through the setting, and with the wrong k1 behind a new active key.
    let err = refused(&db, |c| c.encryption_keys = Some(Secret::new(OTHER_K1))).await;
    assert!(err.contains("\"k1\" is not the key"), "{err}");
    let err = refused(&db, |c| c.encryption_keys = Some(Secret::new(format!("{NEW_K2},{OTHER_K1}")))).await;
    assert!(err.contains("\"k1\" is not the key"), "{err}");
    assert_eq!(snapshot(&db).await, before, "k2 was not recorded either");
}

#[tokio::test]
async fn a_keyring_without_a_key_id_the_database_used_is_refused_by_name() {
    let (db, _) = secrets_under_a_generated_key().await;
    let before = snapshot(&db).await;
    let err = refused(&db, |c| c.encryption_keys = Some(Secret::new(NEW_K2))).await;
    assert!(err.contains("key id \"k1\", which the configured keyring lacks"), "{err}");
    assert_eq!(snapshot(&db).await, before);
}

#[tokio::test]
async fn a_new_active_key_beside_the_right_one_starts_and_the_stored_secrets_still_open() {
    let (db, spec) = secrets_under_a_generated_key().await;
    let both = format!("{NEW_K2},{}", spec.trim());
    let app = TestApp::spawn_on(db, |c| c.encryption_keys = Some(Secret::new(both.clone()))).await;
    assert_eq!(app.state.keyring.active_kid(), "k2");
    assert_eq!(stored_password(&app).await, PASSWORD, "sealed under k1, opened");
    let api = Api::admin(&app).await;
    let res = api
        .put(
            "/api/v1/connections/legacy_main/credentials",
            &json!({"username": "svc", "password": "now-under-k2"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let sealed = row(&app, "legacy_main").await.credentials.unwrap();
    assert_eq!(connections::crypto::Keyring::key_id_of(&sealed).unwrap(), "k2");
    let db = app.stop().await;

    let app = TestApp::spawn_on(db, |c| c.encryption_keys = Some(Secret::new(both.clone()))).await;
    assert_eq!(stored_password(&app).await, "now-under-k2");
    let db = app.stop().await;
    // k2 has its check value now: another key under that id is refused too.
    let other_k2 = format!("k2:{},{}", &OTHER_K1[3..], spec.trim());
    let err = refused(&db, |c| c.encryption_keys = Some(Secret::new(other_k2))).await;
    assert!(err.contains("the key configured as \"k2\" is not the key"), "{err}");
}

#[tokio::test]
async fn a_key_id_recorded_before_check_values_is_tried_on_its_secrets_before_it_gets_one() {
    let (db, spec) = secrets_under_a_generated_key().await;
    set_check_values_null(&db).await;
    let before = snapshot(&db).await;

    std::fs::write(key_file(&db), format!("{OTHER_K1}\n")).unwrap();
    let err = refused(&db, |_| {}).await;
    assert!(err.contains("the key configured as \"k1\" is not the key"), "{err}");
    assert_eq!(snapshot(&db).await, before, "no check value written for the wrong key");

    std::fs::write(key_file(&db), &spec).unwrap();
    let app = TestApp::spawn_on(db, |c| c.encryption_keys = None).await;
    assert_eq!(stored_password(&app).await, PASSWORD);
    let db = app.stop().await;
    assert_ne!(snapshot(&db).await, before, "the check value was written");
    std::fs::write(key_file(&db), format!("{OTHER_K1}\n")).unwrap();
    let err = refused(&db, |_| {}).await;
    assert!(err.contains("\"k1\" is not the key"), "now refused by the check value: {err}");
}

#[tokio::test]
async fn a_key_id_recorded_before_check_values_with_nothing_sealed_under_it_gets_one() {
    let app = TestApp::spawn_with(|c| c.encryption_keys = None).await;
    let db = app.stop().await;
    set_check_values_null(&db).await;
    let app = TestApp::spawn_on(db, |c| c.encryption_keys = None).await;
    let db = app.stop().await;
    assert!(!snapshot(&db).await.contains("None"), "a check value was written: {}", snapshot(&db).await);
    std::fs::write(key_file(&db), format!("{OTHER_K1}\n")).unwrap();
    assert!(refused(&db, |_| {}).await.contains("\"k1\" is not the key"));
}
