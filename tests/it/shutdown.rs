//! Stopping: SIGTERM to the real binary. Under invoke load it stops accepting, lets a request in
//! flight finish, writes the activity of every request it answered, and exits 0. The database takes
//! no activity writes from just before the signal until the server has stopped, so the answered
//! requests' events are still queued then: only the flush at shutdown writes them. A token refresh in
//! flight stores its new tokens before the process exits, or, when its provider does not answer within
//! the grace period, is abandoned and its lease released.

use connections::clock::Clock;
use connections::db::schema::{connection_events, connections as table};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;

use crate::support::{
    Api, Behaviour, Setup, TEST_KEYS, TestDb, Upstream, connected_key_connection, eventually, send_sigterm,
    serve, setup_with, spawn_app, terminate, url_of, wait_for_exit,
};

/// Holds off every write of activity events until dropped: SQLite's write lock, or on PostgreSQL a
/// lock on the events table.
enum EventsLock {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl EventsLock {
    fn take(url: &str) -> EventsLock {
        if url.starts_with("postgres") {
            let mut conn = PgConnection::establish(url).unwrap();
            conn.batch_execute("BEGIN; LOCK TABLE connection_events IN SHARE MODE").unwrap();
            EventsLock::Pg(conn)
        } else {
            let mut conn = SqliteConnection::establish(url.trim_start_matches("sqlite://")).unwrap();
            conn.batch_execute("BEGIN IMMEDIATE").unwrap();
            EventsLock::Sqlite(conn)
        }
    }
}

impl Drop for EventsLock {
    fn drop(&mut self) {
        match self {
            EventsLock::Sqlite(conn) => conn.batch_execute("COMMIT").unwrap(),
            EventsLock::Pg(conn) => conn.batch_execute("COMMIT").unwrap(),
        }
    }
}

/// Invokes `desk` at `url` with `path`; the HTTP status of the answer, `None` when there was none.
async fn invoke(http: &reqwest::Client, url: &str, token: &str, path: &str) -> Option<u16> {
    let res = http
        .post(format!("{url}/api/v1/connections/desk/invoke"))
        .bearer_auth(token)
        .json(&json!({"method": "GET", "path": path}))
        .send()
        .await
        .ok()?;
    let status = res.status().as_u16();
    res.bytes().await.ok().map(|_| status)
}

/// Invokes `/{name}-1`, `/{name}-2`, … until the app stops answering; returns the paths answered 200.
async fn invoke_until_refused(url: String, token: String, name: String) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut answered = Vec::new();
    for i in 1.. {
        let path = format!("/{name}-{i}");
        match invoke(&http, &url, &token, &path).await {
            Some(200) => answered.push(path),
            Some(_) => {}
            None => break,
        }
    }
    answered
}

#[tokio::test]
async fn sigterm_under_load_finishes_the_request_in_flight_records_every_answered_one_and_exits_0() {
    let app = spawn_app().await;
    let up = Upstream::start().await;
    connected_key_connection(&Api::admin(&app).await, "desk", &format!("{}/api", up.url)).await;
    let token = app.token_for("admin").await;
    let db = app.stop().await;
    let env = [
        ("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS),
        ("CONNECTIONS_OUTBOUND_ALLOW_CIDRS", "127.0.0.1/32"),
        ("CONNECTIONS_OUTBOUND_ALLOW_HTTP", "true"),
        ("CONNECTIONS_SHUTDOWN_GRACE_SECS", "20"),
        // A write the lock holds off fails after a second and is tried again, until the flush.
        ("CONNECTIONS_DATABASE_TIMEOUT_SECS", "1"),
    ];
    let (mut child, lines) = serve(&db, &env);
    let url = url_of(&lines);

    let loops: Vec<_> = (0..3)
        .map(|n| tokio::spawn(invoke_until_refused(url.clone(), token.clone(), format!("n{n}"))))
        .collect();
    // The upstream answers `slow` two seconds late: that request is in flight when the signal comes.
    let slow = tokio::spawn({
        let (url, token) = (url.clone(), token.clone());
        async move { invoke(&reqwest::Client::new(), &url, &token, "/slow").await }
    });
    eventually("load, and the slow request upstream", async || {
        up.count() >= 30 && up.received().iter().any(|r| r.path == "/api/slow")
    })
    .await;
    let lock = EventsLock::take(&db.url);
    let before_signal = up.count();
    eventually("answers whose events wait", async || up.count() >= before_signal + 10).await;
    send_sigterm(&child);

    assert_eq!(slow.await.unwrap(), Some(200), "the request in flight was answered");
    let mut answered = vec!["/slow".to_owned()];
    for one in loops {
        let paths = one.await.unwrap();
        assert!(!paths.is_empty(), "each loop had answers before the stop");
        answered.extend(paths);
    }
    // The server has stopped: the events are written now, or never.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    drop(lock);
    let status = tokio::task::spawn_blocking(move || wait_for_exit(&mut child)).await.unwrap();
    assert_eq!(status.code(), Some(0), "a clean exit");

    let recorded: Vec<Option<String>> = {
        let store = connections::db::Db::connect(&db.url, 1).unwrap();
        connection_events::table
            .filter(connection_events::kind.eq("invoke"))
            .select(connection_events::path)
            .load(&mut *store.get().unwrap())
            .unwrap()
    };
    let missing: Vec<&String> = answered
        .iter()
        .filter(|path| !recorded.iter().any(|r| r.as_deref() == Some(&format!("/api{path}"))))
        .collect();
    assert!(missing.is_empty(), "answered but not in the activity log: {missing:?} of {}", answered.len());
}

/// Wall-clock seconds: the binary runs on the system clock.
fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The OAuth connection's (token version, lease holder, lease end).
fn tokens_and_lease(db: &TestDb) -> (i64, Option<String>, Option<i64>) {
    let mut conn = connections::db::Db::connect(&db.url, 1).unwrap().get().unwrap();
    table::table
        .select((table::token_version, table::lease_holder, table::lease_until))
        .first(&mut *conn)
        .unwrap()
}

/// The binary, with its provider answering refreshes `token_delay_ms` late and a grace period of
/// `grace` seconds, refreshes the OAuth connection in the background; SIGTERM comes while the
/// provider has not answered. Returns the (token version, lease holder, lease end) before and after
/// the stop.
async fn stop_during_a_refresh(token_delay_ms: u64, grace: &str) -> [(i64, Option<String>, Option<i64>); 2] {
    // Connected 200 s ago for 300 s: within the refresh margin, and still valid.
    let behaviour = Behaviour { expires_in: 300, ..Behaviour::default() };
    let Setup { app, fake, .. } =
        setup_with(|config| config.clock = Clock::manual(now() - 200), behaviour, |_| {}).await;
    let db = app.stop().await;
    let env = [
        ("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS),
        ("CONNECTIONS_OUTBOUND_ALLOW_CIDRS", "127.0.0.1/32"),
        ("CONNECTIONS_OUTBOUND_ALLOW_HTTP", "true"),
        ("CONNECTIONS_REFRESH_MARGIN_SECS", "600"),
        ("CONNECTIONS_REFRESH_INTERVAL_SECS", "1"),
        ("CONNECTIONS_SHUTDOWN_GRACE_SECS", grace),
    ];
    fake.set(|b| b.token_delay_ms = token_delay_ms);
    let (mut child, _) = serve(&db, &env);
    eventually("the refresh to reach the provider", async || fake.grants("refresh_token").len() == 1).await;
    let during = tokens_and_lease(&db);
    assert!(during.1.is_some(), "the refresh holds the lease");
    let status = tokio::task::spawn_blocking(move || terminate(&mut child)).await.unwrap();
    assert_eq!(status.code(), Some(0), "a clean exit");
    [during, tokens_and_lease(&db)]
}

#[tokio::test]
async fn a_refresh_in_flight_at_sigterm_stores_its_new_tokens_before_the_process_exits() {
    let [(version, ..), after] = stop_during_a_refresh(2000, "20").await;
    assert_eq!(after, (version + 1, None, None), "the rotated tokens are stored and the lease is free");
}

#[tokio::test]
async fn a_refresh_the_provider_never_answers_is_abandoned_at_the_end_of_the_grace_and_its_lease_released() {
    let [(version, _, until), after] = stop_during_a_refresh(120_000, "1").await;
    assert!(until.is_some_and(|until| until > now()), "the lease had not run out");
    assert_eq!(after, (version, None, None), "nothing stored, and the lease is free for another instance");
}

#[tokio::test]
async fn ctrl_c_stops_the_server_the_same_way() {
    let db = TestDb::new();
    let (mut child, lines) = serve(&db, &[("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS)]);
    let url = url_of(&lines);
    assert_eq!(reqwest::get(format!("{url}/healthz")).await.unwrap().status(), 200);
    let sent = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let status = tokio::task::spawn_blocking(move || wait_for_exit(&mut child)).await.unwrap();
    assert_eq!(status.code(), Some(0), "a clean exit, not a signal's");
    assert!(reqwest::get(format!("{url}/healthz")).await.is_err(), "no longer listening");
}
