//! The `connections` binary: first start, administration commands, and clear failures.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::{Api, Browser, TEST_KEYS, TestApp, TestDb, command, serve, within_two_seconds};

fn run(db: &TestDb, args: &[&str], stdin: &str) -> Output {
    let mut child = command(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs a command that must fail at start-up; one that starts instead is killed after 30 s.
fn fails(cmd: &mut Command) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    for _ in 0..300 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("still running: {}", text(&child.wait_with_output().unwrap().stdout));
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn first_start_creates_the_admin_and_prints_the_password_once() {
    let db = TestDb::new();
    let (mut child, lines) = serve(&db, &[("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS)]);
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("Connections is running at "))
        .expect("URL printed")
        .trim_end_matches('/')
        .to_owned();
    let password = lines
        .iter()
        .find_map(|l| l.split_once("with password: ").map(|(_, p)| p.to_owned()))
        .unwrap_or_else(|| panic!("password printed: {lines:?}"));
    assert!(password.len() >= 20, "a strong password");
    let browser = Browser::new(&url);
    assert_eq!(browser.sign_in("admin", &password).await.status, 303);
    assert_eq!(browser.get("/admin/connections").await.status, 200);
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, lines) = serve(&db, &[("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS)]);
    assert!(lines.iter().any(|l| l.starts_with("Connections is running at ")));
    assert!(!lines.iter().any(|l| l.contains("password")), "printed only on the first start: {lines:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn without_keys_a_private_key_file_is_generated_and_reused() {
    let db = TestDb::new();
    let (mut child, lines) = serve(&db, &[]);
    assert!(lines.iter().any(|l| l.starts_with("Connections is running")), "{lines:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let path = db.dir.path().join("encryption.keys");
    let spec = std::fs::read_to_string(&path).expect("key file written");
    assert!(spec.starts_with("k1:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (mut child, _) = serve(&db, &[]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), spec, "the same key file is reused");
}

#[test]
fn a_missing_key_file_stops_serve_with_exit_1_naming_the_key_id_and_makes_no_new_key() {
    let db = TestDb::new();
    let (mut child, lines) = serve(&db, &[]);
    assert!(lines.iter().any(|l| l.starts_with("Connections is running")), "{lines:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let path = db.dir.path().join("encryption.keys");
    std::fs::remove_file(&path).unwrap();

    let out = fails(command(&db).args(["serve", "--bind", "127.0.0.1:0"]));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("error: the key file") && err.contains("missing") && err.contains("\"k1\""),
        "{err}"
    );
    assert!(!path.exists(), "no new key file");
}

#[test]
fn an_unknown_database_scheme_is_refused_with_the_supported_ones_and_creates_nothing() {
    let db = TestDb::new();
    let url = "mysql://root:canary-db-password@127.0.0.1/x";
    for args in [&["serve", "--bind", "127.0.0.1:0"][..], &["user", "list"], &["token", "list"]] {
        let out = fails(
            command(&db).args(args).env("DATABASE_URL", url).env("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS),
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("DATABASE_URL") && err.contains("\"mysql\" is not supported"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("sqlite://") && err.contains("postgres://") && err.contains("postgresql://"),
            "{err}"
        );
        assert!(!err.contains("canary-db-password"), "{err}");
    }
    let created: Vec<_> = std::fs::read_dir(db.dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(created.is_empty(), "no folder, database or key file: {created:?}");
}

#[test]
fn a_keyring_missing_a_key_the_database_used_is_refused_by_name() {
    let db = TestDb::new();
    let (mut child, _) = serve(&db, &[("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS)]);
    child.kill().unwrap();
    child.wait().unwrap();
    let other = "fresh:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let out = command(&db)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("CONNECTIONS_ENCRYPTION_KEYS", other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("\"test1\""), "{err}");
    assert!(!err.contains("AAECAwQF"), "no key material in errors: {err}");
}

#[test]
fn bad_settings_fail_with_a_clear_message_and_non_zero_exit() {
    let db = TestDb::new();
    let out = command(&db).args(["serve", "--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--no-such-flag"));

    let out = command(&db)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("CONNECTIONS_ENCRYPTION_KEYS", "k1:c2hvcnQ=")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("CONNECTIONS_ENCRYPTION_KEYS") && !err.contains("c2hvcnQ"), "{err}");

    let out = command(&db).args(["serve", "--base-url", "not a url"]).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("base URL"));

    for bad in ["10.0.0.0/99", "127.0.0.1:0", "[::1]:x"] {
        let out = command(&db).args(["serve"]).env("CONNECTIONS_OUTBOUND_ALLOW_CIDRS", bad).output().unwrap();
        assert!(!out.status.success(), "{bad}");
        assert!(text(&out.stderr).contains("CONNECTIONS_OUTBOUND_ALLOW_CIDRS"), "{bad}");
    }

    let out =
        command(&db).args(["serve"]).env("CONNECTIONS_REQUEST_BODY_TIMEOUT_SECS", "0").output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("request body timeout"));

    let out = command(&db).args(["serve", "--database-timeout-secs", "0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("database timeout: must be at least 1 second"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_unreachable_database_is_reported_with_the_databases_own_error() {
    let db = TestDb::new();
    let out = command(&db)
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url", "postgres://postgres@127.0.0.1:1/nothing"])
        .env("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("cannot open database") && err.contains("127.0.0.1"), "{err}");
    assert!(!err.contains("Invalid connection url"), "{err}");

    let out = command(&db)
        .args(["user", "list", "--database-url", "sqlite:///proc/forbidden/x.db"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("error:"));
}

/// A server that accepts TCP connections and never says a word (a hung PostgreSQL, a proxy in front
/// of a dead one): the start gives up within the URL's default `connect_timeout`, says so, and
/// exits 1, instead of hanging with no output. (No PostgreSQL is needed: the listener is the test's.)
#[test]
fn a_database_server_that_never_answers_stops_serve_with_exit_1_and_says_so() {
    let db = TestDb::new();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().map_while(Result::ok).collect();
        drop(held);
    });
    let url = format!("postgres://postgres@127.0.0.1:{port}/connections");
    let out = fails(
        command(&db)
            .args(["serve", "--bind", "127.0.0.1:0", "--database-url", &url])
            .env("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS)
            .env_remove("PGCONNECT_TIMEOUT"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot open database: the server did not answer within connect_timeout"), "{err}");
    assert!(err.contains(&format!("port {port}")), "{err}");
}

#[test]
fn users_are_managed_from_the_command_line() {
    let db = TestDb::new();
    let out = run(&db, &["user", "add", "tech", "--role", "technician"], "tech-password-12\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&db, &["user", "add", "tech", "--role", "technician"], "tech-password-12\n");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already exists"));
    let out = run(&db, &["user", "add", "shorty", "--role", "sdadmin"], "short\n");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("at least 12"));
    let out = run(&db, &["user", "add", "x", "--role", "king"], "");
    assert_eq!(out.status.code(), Some(2));

    run(&db, &["user", "set-role", "tech", "sdadmin"], "");
    run(&db, &["user", "disable", "tech"], "");
    let list = text(&run(&db, &["user", "list"], "").stdout);
    let line = list.lines().find(|l| l.starts_with("tech ")).unwrap();
    assert!(line.contains("SDAdmin") && line.contains("disabled"), "{list}");
    assert!(!list.contains("argon2"), "no hashes in the listing");

    let out = run(&db, &["user", "passwd", "nobody"], "another-password\n");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no user named"));
}

#[test]
fn api_tokens_are_shown_once_and_listed_without_the_secret() {
    let db = TestDb::new();
    run(&db, &["user", "add", "ops", "--role", "sdadmin"], "ops-password-123\n");
    let out = run(&db, &["token", "create", "ops", "--label", "nightly sync"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let token = printed.lines().find(|l| l.starts_with("cn_")).expect("token printed").to_owned();
    let list = text(&run(&db, &["token", "list"], "").stdout);
    assert!(list.contains("nightly sync") && list.contains("active"));
    assert!(!list.contains(&token), "the token is never listed");
    let id = printed.split_whitespace().nth(2).unwrap();
    assert!(run(&db, &["token", "revoke", id], "").status.success());
    assert!(text(&run(&db, &["token", "list"], "").stdout).contains("revoked"));
    let again = run(&db, &["token", "revoke", id], "");
    assert!(!again.status.success());
}

#[cfg(unix)]
#[test]
fn a_fresh_data_folder_its_database_and_key_file_are_private_to_the_apps_user() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode()
            & 0o777
    };
    let db = TestDb::new();
    let root = db.dir.path().join("fresh");
    let (db_dir, key_dir) = (root.join("db"), root.join("keys"));
    let file = db_dir.join("connections.db");
    let url = format!("sqlite://{}", file.display());
    let env = [("DATABASE_URL", url.as_str()), ("CONNECTIONS_DATA_DIR", key_dir.to_str().unwrap())];
    let (mut child, lines) = serve(&db, &env);
    assert!(lines.iter().any(|l| l.starts_with("Connections is running")), "{lines:?}");
    let companions = [file.clone(), db_dir.join("connections.db-wal"), db_dir.join("connections.db-shm")];
    for dir in [&root, &db_dir, &key_dir] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
    for path in companions.iter().chain([&key_dir.join("encryption.keys")]) {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // Files an earlier version left readable to everyone are narrowed by the next command.
    for path in &companions {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = command(&db).args(["user", "list"]).env("DATABASE_URL", &url).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for path in companions.iter().filter(|p| p.exists()) {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    assert_eq!(mode(&file), 0o600);
}

/// Whether `token` is accepted by the API of the app at `base`.
async fn token_works(base: &str, token: &str) -> bool {
    Api::at(base, token).get("/api/v1/me").await.status == 200
}

#[tokio::test]
async fn a_password_reset_ends_the_sessions_everywhere_and_revokes_the_users_api_tokens() {
    use connections::models::user::Role;
    let app = TestApp::spawn().await;
    app.add_user("ops", Role::SdAdmin, "ops-password-123").await;
    let browser = app.browser();
    assert_eq!(browser.sign_in("ops", "ops-password-123").await.status, 303);
    let (first, second, other) =
        (app.token_for("ops").await, app.token_for("ops").await, app.token_for("admin").await);
    assert!(token_works(&app.base, &first).await, "tokens are in use (and cached) before the reset");
    assert_eq!(browser.get("/admin/connections").await.status, 200);

    let out = run(&app.shared_db(), &["user", "passwd", "ops"], "new-ops-password-1\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("their sessions have ended") && said.contains("2 API tokens were revoked"),
        "{said}"
    );
    let gone = within_two_seconds(async || {
        browser.get("/admin/connections").await.status == 303
            && !token_works(&app.base, &first).await
            && !token_works(&app.base, &second).await
    })
    .await;
    assert!(gone, "the running app let the old session or a token through");
    assert!(token_works(&app.base, &other).await, "another user's token is untouched");
    let list = text(&run(&app.shared_db(), &["token", "list"], "").stdout);
    assert_eq!(list.lines().filter(|l| l.contains(" ops ") && l.ends_with("revoked")).count(), 2, "{list}");
    assert_eq!(app.browser().sign_in("ops", "ops-password-123").await.status, 401);
    assert_eq!(browser.sign_in("ops", "new-ops-password-1").await.status, 303);

    // --keep-tokens: a routine change keeps scripts running; sessions still end.
    let kept = app.token_for("ops").await;
    let out = run(&app.shared_db(), &["user", "passwd", "ops", "--keep-tokens"], "another-ops-password\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("their API tokens were kept"), "{}", text(&out.stdout));
    assert!(within_two_seconds(async || browser.get("/admin/connections").await.status == 303).await);
    assert!(token_works(&app.base, &kept).await);
}
