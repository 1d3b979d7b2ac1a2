//! PostgreSQL over TLS through the app's relay (`db::pg_tls`), against the local server, which the
//! tests configure for TLS themselves: a CA and a server certificate for `localhost` made here, put
//! in the server's data folder, and `ssl = on` with them. The server keeps accepting plain
//! connections (the other tests use them). PostgreSQL only: skipped without `TEST_DATABASE_URL`.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use connections::app;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use crate::support::{Setup, TestApp, TestDb, command, loopback, me, setup_on};

/// The CA files the tests trust: the one that signed the server's certificate, and another.
struct Cas {
    right: PathBuf,
    wrong: PathBuf,
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

fn show(conn: &mut PgConnection, setting: &str) -> String {
    let rows: Vec<Text> =
        diesel::sql_query(format!("SELECT current_setting('{setting}') AS value")).load(conn).unwrap();
    rows.into_iter().next().unwrap().value
}

fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    (pem, Issuer::new(params, key))
}

/// Writes `contents` as a file the server (the owner of its data folder) alone may read.
fn write_for_server(path: &Path, contents: &str, owner: (u32, u32)) {
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1)).unwrap();
}

/// Configures the server for TLS once per test process, with files named for this run (so that
/// the reload is seen to have happened), and removes an earlier run's files.
fn server_with_tls(admin_url: &str) -> &'static Cas {
    static CAS: OnceLock<Cas> = OnceLock::new();
    CAS.get_or_init(|| {
        let mut conn = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
        let data = PathBuf::from(show(&mut conn, "data_directory"));
        let meta = std::fs::metadata(&data).unwrap();
        let owner = (meta.uid(), meta.gid());
        let (ca_pem, ca) = new_ca("connections test CA");
        let (wrong_pem, _) = new_ca("another CA");
        let key = KeyPair::generate().unwrap();
        let cert =
            CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&key, &ca).unwrap();

        let run = format!("connections-test-{}", std::process::id());
        let (cert_file, key_file) = (data.join(format!("{run}.crt")), data.join(format!("{run}.key")));
        write_for_server(&cert_file, &cert.pem(), owner);
        write_for_server(&key_file, &key.serialize_pem(), owner);
        for (setting, value) in [("ssl_cert_file", &cert_file), ("ssl_key_file", &key_file)] {
            let sql = format!("ALTER SYSTEM SET {setting} = '{}'", value.display());
            diesel::sql_query(sql).execute(&mut conn).unwrap();
        }
        diesel::sql_query("ALTER SYSTEM SET ssl = on").execute(&mut conn).unwrap();
        diesel::sql_query("SELECT pg_reload_conf()").execute(&mut conn).unwrap();
        let reloaded = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let mut fresh = PgConnection::establish(admin_url).unwrap();
            show(&mut fresh, "ssl_cert_file") == cert_file.display().to_string()
                && show(&mut fresh, "ssl") == "on"
        });
        assert!(reloaded, "the server did not take the TLS settings (see its log)");
        remove_earlier(&data, &run);
        remove_earlier(&std::env::temp_dir(), &run);

        let dir = std::env::temp_dir().join(format!("{run}-cas"));
        std::fs::create_dir_all(&dir).unwrap();
        let (right, wrong) = (dir.join("ca.pem"), dir.join("wrong-ca.pem"));
        std::fs::write(&right, ca_pem).unwrap();
        std::fs::write(&wrong, wrong_pem).unwrap();
        Cas { right, wrong }
    })
}

/// Removes what earlier runs left in `dir` (certificates, keys, CA folders).
fn remove_earlier(dir: &Path, run: &str) {
    for earlier in std::fs::read_dir(dir).unwrap().flatten() {
        let name = earlier.file_name().to_string_lossy().into_owned();
        if name.starts_with("connections-test-") && !name.starts_with(run) {
            let _ = std::fs::remove_file(earlier.path()).or_else(|_| std::fs::remove_dir_all(earlier.path()));
        }
    }
}

/// The CAs, or `None` on SQLite.
fn tls() -> Option<&'static Cas> {
    let admin_url = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
    Some(server_with_tls(&admin_url))
}

/// A fresh test database reached at `host` with `query`.
fn database(host: &str, query: &str) -> TestDb {
    let mut db = TestDb::new();
    db.url = format!("{}?{query}", db.url.replace("127.0.0.1", host));
    db
}

#[derive(QueryableByName)]
struct Encrypted {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    this_one: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    all: bool,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    sessions: i64,
}

/// Whether the app's connection, and every session on its database, is TLS-encrypted (as the
/// server sees it), and how many sessions there are.
async fn encrypted(app: &TestApp) -> (bool, bool, i64) {
    let found = app
        .state
        .db
        .run(|c| {
            let sql = "SELECT (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS this_one, \
                       bool_and(s.ssl) AS all, count(*) AS sessions \
                       FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                       WHERE a.datname = current_database()";
            Ok(connections::on_backend!(c, |conn| diesel::sql_query(sql).get_result::<Encrypted>(conn))?)
        })
        .await
        .unwrap();
    (found.this_one, found.all, found.sessions)
}

/// Migrates, connects an OAuth2 connection and invokes it over `db`, then checks the encryption.
async fn migrate_invoke_and_check(db: TestDb) {
    let Setup { app, api, .. } = setup_on(db, loopback).await;
    let res = me(&api).await;
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{}", res.body);
    let (this_one, all, sessions) = encrypted(&app).await;
    assert!(this_one && all, "every session of the app is encrypted ({sessions} sessions)");
    assert!(sessions >= 2, "the pools and the cache's listener: {sessions}");
}

async fn refused(db: &TestDb) -> String {
    match app::build(TestApp::config_for(db)).await {
        Ok(_) => panic!("the app started on {}", db.url),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn sslmode_require_encrypts_every_connection_without_a_tls_library_in_libpq() {
    let Some(_) = tls() else { return };
    migrate_invoke_and_check(database("127.0.0.1", "sslmode=require")).await;
}

#[tokio::test]
async fn verify_full_trusts_the_given_ca_for_the_name_it_certifies_and_nothing_else() {
    let Some(cas) = tls() else { return };
    let right = cas.right.display();
    migrate_invoke_and_check(database("localhost", &format!("sslmode=verify-full&sslrootcert={right}")))
        .await;

    let wrong_ca =
        refused(&database("localhost", &format!("sslmode=verify-full&sslrootcert={}", cas.wrong.display())))
            .await;
    assert!(
        wrong_ca.contains("TLS to PostgreSQL at localhost:5432 failed")
            && wrong_ca.contains("invalid peer certificate"),
        "{wrong_ca}"
    );
    let wrong_name =
        refused(&database("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={right}"))).await;
    assert!(wrong_name.contains("not valid for name"), "{wrong_name}");
    let default_roots = refused(&database("localhost", "sslmode=verify-full")).await;
    assert!(default_roots.contains("invalid peer certificate"), "{default_roots}");

    // verify-ca checks the signature, not the name.
    let by_ca =
        TestApp::spawn_on(database("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={right}")), |_| {})
            .await;
    assert!(encrypted(&by_ca).await.0, "verify-ca encrypts");
    let ready = by_ca.http().get(format!("{}/readyz", by_ca.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn plain_connections_still_work_beside_tls_ones() {
    let Some(_) = tls() else { return };
    let app = TestApp::spawn_on(TestDb::new(), |_| {}).await;
    let (this_one, _, _) = encrypted(&app).await;
    assert!(!this_one, "a URL without sslmode connects in the clear, as before");
}

#[test]
fn the_administration_commands_reach_the_database_over_tls_too() {
    let Some(cas) = tls() else { return };
    let db = database("localhost", &format!("sslmode=verify-full&sslrootcert={}", cas.right.display()));
    let mut add = command(&db)
        .args(["user", "add", "ops", "--role", "sdadmin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(b"ops-password-1234\n").unwrap();
    let added = add.wait_with_output().unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let listed = command(&db).args(["user", "list"]).output().unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("ops"));

    let wrong = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        db.url.split('?').next().unwrap(),
        cas.wrong.display()
    );
    let refused = command(&db).args(["user", "list"]).env("DATABASE_URL", wrong).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("invalid peer certificate"));
}
