//! Backups: `connections backup FILE` copies a running SQLite database (under invoke load) into a new
//! private file, never over an existing one; the copy and the key file restore into a new instance
//! that invokes with the stored secrets, and the copy alone refuses to start, saying the key file is
//! missing. On PostgreSQL the command says to use pg_dump.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use connections::app;
use connections::keys::GENERATED_KEY_FILE;
use diesel::prelude::*;
use serde_json::json;

use crate::support::{
    Api, TestApp, TestDb, Upstream, command, connected_key_connection, invoke, loopback, run_to_end,
};

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

/// Runs `connections backup FILE` on `db`: (exit status, stdout, stderr).
fn backup(db: &TestDb, file: &std::path::Path) -> (Option<i32>, String, String) {
    let out = run_to_end(command(db).arg("backup").arg(file));
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// An app whose keyring is the key file it generated in its data folder, as on a first start.
fn with_key_file(config: &mut connections::config::Config) {
    loopback(config);
    config.encryption_keys = None;
}

#[tokio::test]
async fn a_backup_taken_under_load_restores_with_the_key_file_and_refuses_to_start_without_it() {
    let app = TestApp::spawn_with(with_key_file).await;
    let copies = tempfile::tempdir().unwrap();
    let file = copies.path().join("connections-backup.db");
    if app.shared_db().is_postgres() {
        let (code, _, stderr) = backup(&app.shared_db(), &file);
        assert_eq!(code, Some(1));
        assert!(stderr.contains("PostgreSQL") && stderr.contains("pg_dump"), "{stderr}");
        assert!(!file.exists(), "nothing written");
        return;
    }
    let up = Upstream::start().await;
    let api = Arc::new(Api::admin(&app).await);
    let key = connected_key_connection(&api, "desk", &format!("{}/api", up.url)).await;

    // Invokes go on, each a write of its activity, while the copy is taken.
    let (stop, answered) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let load = tokio::spawn({
        let (api, stop, answered) = (api.clone(), stop.clone(), answered.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let res = invoke(&api, "desk", json!({"method": "GET", "path": "/items"})).await;
                assert_eq!(res.status, 200, "{}", res.body);
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    crate::support::eventually("load", async || answered.load(Ordering::Relaxed) >= 10).await;
    let (code, stdout, stderr) = {
        let (shared, file) = (app.shared_db(), file.clone());
        tokio::task::spawn_blocking(move || backup(&shared, &file)).await.unwrap()
    };
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("back up the key file too"), "{stdout}");
    let checked: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut SqliteConnection::establish(file.to_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(checked.iter().map(|c| c.integrity_check.as_str()).collect::<Vec<_>>(), ["ok"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the copy is private");
    }

    // Never over an existing file.
    let before = std::fs::read(&file).unwrap();
    let (code, _, stderr) = backup(&app.shared_db(), &file);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), before, "the existing file is untouched");

    // Restored with the key file: a new instance invokes with the stored key.
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored_dir.path().join("connections.db")).unwrap();
    let key_file = app.state.config.data_dir.join(GENERATED_KEY_FILE);
    std::fs::copy(&key_file, restored_dir.path().join(GENERATED_KEY_FILE)).unwrap();
    let restored = TestApp::spawn_on(TestDb::sqlite_in(restored_dir), with_key_file).await;
    let calls = up.count();
    let res =
        invoke(&Api::admin(&restored).await, "desk", json!({"method": "GET", "path": "/restored"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let got = &up.received()[calls];
    assert_eq!((got.path.as_str(), got.header("x-api-key")), ("/api/restored", key));

    // Restored without it: the instance refuses to start and says what is missing.
    let bare_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&file, bare_dir.path().join("connections.db")).unwrap();
    let bare = TestDb::sqlite_in(bare_dir);
    let mut config = TestApp::config_for(&bare);
    with_key_file(&mut config);
    match app::build(config).await {
        Ok(_) => panic!("a restore without its key file started"),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains("key file") && message.contains("is missing") && message.contains("\"k1\""),
                "{message}"
            );
        }
    }
    assert!(!bare.dir.path().join(GENERATED_KEY_FILE).exists(), "no new key was generated");
}
