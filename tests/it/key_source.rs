//! Where the keyring comes from, and what the app shows of it: a command's output (a failing,
//! silent or slow command stops start-up without its output in the message); `rotate` and `retire`
//! refuse a keyring they may not write; Settings > Encryption shows key ids, the active one, the
//! counts and the source, and never a key, to SDAdmins only.

use connections::app;
use connections::config::Config;
use connections::crypto::Secret;
use connections::models::user::Role;
use serde_json::json;

use crate::support::{
    Api, TEST_KEYS, TestApp, TestDb, basic_connection, basic_service, canary, keys_cli, printed, text_of,
};

const NEW_K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// A keyring file outside the data folder, for a command to print.
fn keyring_file(db: &TestDb, spec: &str) -> std::path::PathBuf {
    let path = db.dir.path().join("vault").join("keyring.txt");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("{spec}\n")).unwrap();
    path
}

fn from_command(config: &mut Config, command: &str) {
    config.encryption_keys = None;
    config.encryption_keys_command = Some(Secret::new(command));
}

/// The start-up error of an app on a new database configured by `adjust`.
async fn refused(adjust: impl FnOnce(&mut Config)) -> String {
    let db = TestDb::new();
    let mut config = TestApp::config_for(&db);
    adjust(&mut config);
    match app::build(config).await {
        Ok(_) => panic!("the app started"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn the_keyring_can_come_from_a_commands_output_which_rotate_and_retire_cannot_change() {
    let db = TestDb::new();
    let path = keyring_file(&db, TEST_KEYS);
    let command = format!("cat '{}'", path.display());
    let app = TestApp::spawn_on(db, |c| from_command(c, &command)).await;
    assert_eq!(app.state.keyring.kids(), ["test1"]);
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &basic_service("legacy")).await;
    basic_connection(&api, "legacy_main").await;
    let db = app.stop().await;

    let env = [("CONNECTIONS_ENCRYPTION_KEYS_COMMAND", command.as_str())];
    let status = keys_cli(&db, &["status"], &env);
    assert!(status.status.success(), "{}", printed(&status));
    assert!(printed(&status).contains("CONNECTIONS_ENCRYPTION_KEYS_COMMAND"), "{}", printed(&status));
    assert!(printed(&status).contains("test1"), "{}", printed(&status));
    for args in [&["rotate"][..], &["retire", "test1"]] {
        let out = keys_cli(&db, args, &env);
        assert!(!out.status.success(), "{args:?}");
        let said = printed(&out);
        assert!(said.contains("the keyring comes from CONNECTIONS_ENCRYPTION_KEYS_COMMAND"), "{said}");
        assert!(said.contains("connections keys rewrap"), "says what to do instead: {said}");
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), TEST_KEYS, "nothing changed");

    // A keyring in the setting: the same refusal, naming the setting.
    let env = [("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS)];
    let out = keys_cli(&db, &["rotate"], &env);
    assert!(!out.status.success());
    assert!(printed(&out).contains("Edit that setting"), "{}", printed(&out));
}

#[tokio::test]
async fn a_failing_silent_or_slow_keyring_command_stops_start_up_without_showing_its_output() {
    let secret = canary("keyring-output");
    let err = refused(|c| from_command(c, &format!("echo {secret}; echo {secret} >&2; exit 3"))).await;
    assert!(err.contains("CONNECTIONS_ENCRYPTION_KEYS_COMMAND failed (it exited with status 3)"), "{err}");
    assert!(!err.contains(&secret), "{err}");

    let err = refused(|c| from_command(c, &format!("echo 'k1:{secret}'"))).await;
    assert!(err.contains("invalid keyring") && !err.contains(&secret), "{err}");

    let err = refused(|c| from_command(c, "printf '  \\n'")).await;
    assert!(err.contains("printed nothing"), "{err}");

    let err = refused(|c| {
        from_command(c, "exec sleep 30");
        c.encryption_keys_command_timeout_secs = 1;
    })
    .await;
    assert!(err.contains("did not finish within 1 s"), "{err}");

    let err = refused(|c| {
        c.encryption_keys_command = Some(Secret::new("true"));
    })
    .await;
    assert!(err.contains("cannot be set together"), "{err}");
}

#[tokio::test]
async fn the_encryption_page_shows_key_ids_counts_and_the_source_but_never_a_key() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &basic_service("legacy")).await;
    let password = canary("basic-password");
    api.create("/api/v1/connections", &crate::support::connection("legacy", "legacy_main", &[])).await;
    let body = json!({"username": "svc", "password": password});
    assert_eq!(api.put("/api/v1/connections/legacy_main/credentials", &body).await.status, 200);
    let db = app.stop().await;
    let two_keys = format!("{NEW_K2},{TEST_KEYS}");
    let app = TestApp::spawn_on(db, |c| c.encryption_keys = Some(Secret::new(two_keys))).await;

    let admin = app.admin().await;
    let page = admin.get("/admin/settings/encryption").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let text = text_of(&page);
    assert!(text.contains("k2 Active 0"), "{text}");
    assert!(text.contains("test1 Opens only 1"), "{text}");
    assert!(text.contains("Source: setting"), "{text}");
    assert!(text.contains("1 of 1 sealed values are under older keys"), "{text}");
    assert!(text.contains("connections keys rotate") && text.contains("connections keys retire KID"));
    for key in [NEW_K2, TEST_KEYS] {
        let material = key.split_once(':').unwrap().1;
        assert!(!page.body.contains(material) && !page.body.contains(&material[..16]), "a key shows");
    }
    assert!(!page.body.contains(&password));
    assert!(admin.get("/admin/connections").await.body.contains("href=\"/admin/settings/encryption\""));

    app.add_user("tech", Role::Technician, "tech-password-12").await;
    let tech = app.browser();
    assert_eq!(tech.sign_in("tech", "tech-password-12").await.status, 303);
    let denied = tech.get("/admin/settings/encryption").await;
    assert_eq!(denied.status, 403);
    assert!(!denied.body.contains("test1"));
    let anonymous = app.browser().get("/admin/settings/encryption").await;
    assert_eq!(anonymous.status, 303);
    assert!(anonymous.header("location").starts_with("/login"));
}
