use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;

use super::*;

fn sqlite_in(dir: &tempfile::TempDir, name: &str) -> Db {
    let db = Db::connect(&format!("sqlite://{}", dir.path().join(name).display()), 2).unwrap();
    db.migrate().unwrap();
    db
}

#[tokio::test]
async fn sqlite_reads_run_on_a_read_only_connection() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_in(&dir, "connections.db");
    let refused = db.read(|c| Ok(c.batch_execute("CREATE TABLE sneaky (id INTEGER)")?)).await;
    assert!(refused.is_err(), "a write through `read` must fail");
    db.run(|c| Ok(c.batch_execute("CREATE TABLE allowed (id INTEGER); INSERT INTO allowed VALUES (7)")?))
        .await
        .unwrap();
    // The reader sees what the writer committed.
    let seen: i64 = db
        .read(|c| Ok(diesel::select(static_sql::<BigInt>("(SELECT id FROM allowed)")).get_result(c)?))
        .await
        .unwrap();
    assert_eq!(seen, 7);
}

#[tokio::test]
async fn a_sqlite_path_with_uri_characters_opens_read_only_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_in(&dir, "odd ?name#100%.db");
    let n: i64 = db
        .read(|c| Ok(diesel::select(static_sql::<BigInt>("(SELECT COUNT(*) FROM users)")).get_result(c)?))
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert!(dir.path().join("odd ?name#100%.db").is_file());
}

#[test]
fn static_sql_is_safe_to_cache_and_sql_literals_are_not() {
    use diesel::query_builder::QueryFragment;
    let backend = diesel::sqlite::Sqlite;
    let ours = static_sql::<BigInt>("(SELECT ").bind::<BigInt, _>(1i64).sql(")");
    assert!(QueryFragment::<diesel::sqlite::Sqlite>::is_safe_to_cache_prepared(&ours, &backend).unwrap());
    let theirs = diesel::dsl::sql::<BigInt>("(SELECT 1)");
    assert!(!QueryFragment::<diesel::sqlite::Sqlite>::is_safe_to_cache_prepared(&theirs, &backend).unwrap());
}

#[test]
fn an_id_list_is_cacheable_and_padded_to_its_slots() {
    use diesel::query_builder::QueryFragment;
    let ids = crate::db::IdIn::padded("id", vec![3, 1], 4);
    assert!(
        QueryFragment::<diesel::sqlite::Sqlite>::is_safe_to_cache_prepared(&ids, &diesel::sqlite::Sqlite)
            .unwrap()
    );
    let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&ids).to_string();
    assert!(sql.starts_with("id IN (?, ?, ?, ?)"), "{sql}");
    assert!(sql.contains("[3, 1, 0, 0]"), "{sql}");
}

/// The same guarantee on PostgreSQL, when `TEST_DATABASE_URL` names a server (CI runs it).
#[tokio::test]
async fn postgres_reads_run_on_a_read_only_connection() {
    let Some(url) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| Backend::of(u) == Backend::Postgres)
    else {
        return;
    };
    let db = Db::connect(&url, 2).unwrap();
    let refused = db.read(|c| Ok(c.batch_execute("CREATE TABLE read_only_probe (id BIGINT)")?)).await;
    assert!(refused.is_err(), "a write through `read` must fail");
    db.run(|c| {
        Ok(c.batch_execute(
            "DROP TABLE IF EXISTS read_only_probe; CREATE TABLE read_only_probe (id BIGINT); \
             INSERT INTO read_only_probe VALUES (7)",
        )?)
    })
    .await
    .unwrap();
    let seen: i64 = db
        .read(|c| Ok(diesel::select(static_sql::<BigInt>("(SELECT id FROM read_only_probe)")).get_result(c)?))
        .await
        .unwrap();
    db.run(|c| Ok(c.batch_execute("DROP TABLE read_only_probe")?)).await.unwrap();
    assert_eq!(seen, 7, "the reader sees what the writer committed");
}

/// The bundled SQLite is built as `.cargo/config.toml` says: without the planner stability guarantee
/// every list page re-plans its statements; without multi-thread mode and memory statistics off,
/// every call takes mutexes that a pooled connection, used by one thread at a time, does not need.
#[tokio::test]
async fn the_bundled_sqlite_has_our_build_options() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_in(&dir, "connections.db");
    let options: Vec<String> = db
        .read(|c| {
            #[derive(diesel::QueryableByName)]
            struct Option {
                #[diesel(sql_type = diesel::sql_types::Text)]
                compile_options: String,
            }
            let rows: Vec<Option> = diesel::sql_query("PRAGMA compile_options").load(c)?;
            Ok(rows.into_iter().map(|o| o.compile_options).collect())
        })
        .await
        .unwrap();
    for wanted in ["ENABLE_QPSG", "THREADSAFE=2", "DEFAULT_MEMSTATUS=0"] {
        assert!(options.iter().any(|o| o == wanted), "{wanted} missing from {options:?}");
    }
}

#[test]
fn a_database_url_of_another_scheme_is_refused_by_its_scheme_alone() {
    for (url, backend) in [
        ("sqlite://data/connections.db", Backend::Sqlite),
        ("sqlite:data/connections.db", Backend::Sqlite),
        ("sqlite::memory:", Backend::Sqlite),
        ("data/connections.db", Backend::Sqlite),
        ("/var/lib/connections/connections.db", Backend::Sqlite),
        ("C:/connections.db", Backend::Sqlite),
        ("postgres://user@host/db", Backend::Postgres),
        ("postgresql://user@host/db", Backend::Postgres),
    ] {
        assert_eq!(check_url(url), Ok(backend), "{url}");
    }
    for url in [
        "mysql://root:hunter2@127.0.0.1/x",
        "file:///tmp/x.db",
        "mysql:root:hunter2@host",
        "Postgres://u:hunter2@h/db",
    ] {
        let why = check_url(url).unwrap_err();
        assert!(why.contains("is not supported") && why.contains("postgresql://"), "{url}: {why}");
        assert!(!why.contains("hunter2") && !why.contains("127.0.0.1"), "{why}");
    }
    assert!(check_url("./odd://x").unwrap_err().contains("postgres://"));
    assert!(check_url(" ").unwrap_err().contains("empty"));
}
