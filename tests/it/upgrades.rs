//! Upgrades: `connections migrate --check` lists the pending migrations without applying them (exit
//! status 1 while some are pending, 0 when none is), `connections migrate` applies them, and a binary
//! older than the database's schema refuses to start, naming the migrations it does not know.

use connections::app;
use diesel::RunQueryDsl;

use crate::support::{TEST_KEYS, TestApp, TestDb, command, run_to_end};

/// The migrations this binary holds, oldest first.
fn migration_names() -> Vec<String> {
    let dir = format!("{}/migrations/sqlite", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn migrate(db: &TestDb, args: &[&str]) -> (Option<i32>, String, String) {
    let out = run_to_end(command(db).arg("migrate").args(args));
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn migrate_check_lists_the_pending_migrations_without_applying_them_and_migrate_applies_them() {
    let db = TestDb::new();
    let names = migration_names();
    let (code, listed, _) = migrate(&db, &["--check"]);
    assert_eq!(code, Some(1), "pending migrations: {listed}");
    let pending: Vec<&str> = listed.lines().skip(1).map(str::trim).collect();
    assert_eq!(pending, names, "every migration, in order: {listed}");
    assert_eq!(migrate(&db, &["--check"]).1, listed, "the check applied nothing");

    let (code, applied, _) = migrate(&db, &[]);
    assert_eq!(code, Some(0), "{applied}");
    assert!(applied.starts_with(&format!("applied {} migration(s)", names.len())), "{applied}");
    let (code, checked, _) = migrate(&db, &["--check"]);
    assert_eq!((code, checked.trim()), (Some(0), "the database is up to date: no migration is pending"));
}

#[tokio::test]
async fn a_binary_older_than_the_database_refuses_to_start_and_names_the_migrations_it_lacks() {
    let db = TestApp::spawn().await.stop().await;
    let future = ["29991231000001", "29991231000002"];
    {
        let store = connections::db::Db::connect(&db.url, 1).unwrap();
        let mut conn = store.get().unwrap();
        for version in future {
            diesel::sql_query(format!(
                "INSERT INTO __diesel_schema_migrations (version) VALUES ('{version}')"
            ))
            .execute(&mut *conn)
            .unwrap();
        }
    }
    let says_so = |message: &str| {
        assert!(
            message.contains("29991231000001, 29991231000002")
                && message.contains("Upgrade this binary")
                && !message.contains("2026-"),
            "names only the unknown migrations and says to upgrade: {message}"
        );
    };

    let out = run_to_end(
        command(&db).args(["serve", "--bind", "127.0.0.1:0"]).env("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "it never said it was running");
    says_so(&String::from_utf8_lossy(&out.stderr));
    for args in [&["--check"][..], &[]] {
        let (code, stdout, stderr) = migrate(&db, args);
        assert_eq!(code, Some(1), "migrate {args:?}: {stdout}");
        says_so(&stderr);
    }
    match app::build(TestApp::config_for(&db)).await {
        Ok(_) => panic!("the app started on a newer schema"),
        Err(e) => says_so(&e.to_string()),
    }
}
