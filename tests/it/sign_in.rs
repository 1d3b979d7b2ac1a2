//! Signing in and out, throttling, session lifetime and renewal.

use connections::models::user::Role;
use connections::web::login::SIGN_IN_FAILED;

use crate::support::{ADMIN_PASSWORD, Browser, TestApp, within_two_seconds};

#[tokio::test]
async fn admin_signs_in_and_sees_the_console() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let res = browser.sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), "/");
    let console = browser.get("/admin/connections").await;
    assert_eq!(console.status, 200);
    for text in ["My Connections", "Custom Services", "Developer Space", "admin", "SDAdmin", "Sign out"] {
        assert!(console.body.contains(text), "console lacks {text:?}");
    }
}

#[tokio::test]
async fn sign_in_returns_to_the_page_asked_for_but_never_off_site() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let res = browser.get("/admin/services?page=2").await;
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), "/login?next=%2Fadmin%2Fservices%3Fpage%3D2");
    let login = browser.get("/login?next=%2Fadmin%2Fservices").await;
    let token = login.csrf();
    let res = browser
        .post(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("next", "/admin/services"),
            ],
        )
        .await;
    assert_eq!(res.header("location"), "/admin/services");

    let other = app.browser();
    let token = other.get("/login").await.csrf();
    let res = other
        .post(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(res.header("location"), "/");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_message() {
    let app = TestApp::spawn().await;
    let wrong = app.browser().sign_in("admin", "not-the-password").await;
    let unknown = app.browser().sign_in("nobody", "not-the-password").await;
    for res in [&wrong, &unknown] {
        assert_eq!(res.status, 401);
        assert!(res.body.contains(SIGN_IN_FAILED));
    }
    // The username is kept in the form; the password never is.
    assert!(wrong.body.contains("value=\"admin\""));
    assert!(!wrong.body.contains("not-the-password"));
}

#[tokio::test]
async fn five_failures_lock_the_account_for_fifteen_minutes() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        assert_eq!(app.browser().sign_in("admin", "wrong-password-1").await.status, 401);
    }
    let locked = app.browser().sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(locked.status, 401, "the right password is refused while locked");
    assert!(locked.body.contains(SIGN_IN_FAILED));
    app.clock.advance(14 * 60);
    assert_eq!(app.browser().sign_in("admin", ADMIN_PASSWORD).await.status, 401);
    app.clock.advance(61);
    assert_eq!(app.browser().sign_in("admin", ADMIN_PASSWORD).await.status, 303);
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let app = TestApp::spawn().await;
    for _ in 0..4 {
        app.browser().sign_in("admin", "wrong-password-1").await;
    }
    assert_eq!(app.browser().sign_in("admin", ADMIN_PASSWORD).await.status, 303);
    for _ in 0..4 {
        app.browser().sign_in("admin", "wrong-password-1").await;
    }
    assert_eq!(app.browser().sign_in("admin", ADMIN_PASSWORD).await.status, 303);
}

#[tokio::test]
async fn sign_in_issues_a_new_session_id_and_drops_the_old_one() {
    let app = TestApp::spawn().await;
    let browser = app.admin().await;
    let first = browser.cookie("connections_session").expect("session cookie");
    // Sign in again from a browser that still holds the first session.
    let again = app.browser();
    let token = again.get("/login").await.csrf();
    again.cookies.lock().unwrap().insert("connections_session".into(), first.clone());
    let res = again
        .post("/login", &[("csrf_token", &token), ("username", "admin"), ("password", ADMIN_PASSWORD)])
        .await;
    assert_eq!(res.status, 303);
    let second = again.cookie("connections_session").unwrap();
    assert_ne!(first, second);
    assert_eq!(again.get("/admin/connections").await.status, 200);
    assert_eq!(browser.get("/admin/connections").await.status, 303, "the old id no longer works");
}

#[tokio::test]
async fn a_planted_session_cookie_is_not_promoted_at_sign_in() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    browser.cookies.lock().unwrap().insert("connections_session".into(), "attacker-chosen".into());
    browser.sign_in("admin", ADMIN_PASSWORD).await;
    assert_ne!(browser.cookie("connections_session").unwrap(), "attacker-chosen");
}

#[tokio::test]
async fn session_cookie_is_http_only_and_lax() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let res = browser.sign_in("admin", ADMIN_PASSWORD).await;
    let cookie = res
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("connections_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "no Secure flag on an http base URL");

    let https = TestApp::spawn_with(|c| c.base_url = Some("https://desk.example.com".parse().unwrap())).await;
    let res = https.browser().sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status, 303);
    let cookie = res
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("__Host-connections_session="))
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn sign_out_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let browser = app.admin().await;
    let cookie = browser.cookie("connections_session").unwrap();
    let res = browser.submit("/admin/connections", "/logout", &[]).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), "/login");
    let replay = app.browser();
    replay.cookies.lock().unwrap().insert("connections_session".into(), cookie);
    assert_eq!(replay.get("/admin/connections").await.status, 303);
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_sessions() {
    let app = TestApp::spawn().await;
    let browser = app.admin().await;
    app.clock.advance(59 * 60);
    assert_eq!(browser.get("/admin/connections").await.status, 200, "activity within the idle limit");
    app.clock.advance(59 * 60);
    assert_eq!(browser.get("/admin/connections").await.status, 200, "activity renews the idle limit");
    app.clock.advance(61 * 60);
    assert_eq!(browser.get("/admin/connections").await.status, 303, "idle for more than an hour");

    let browser = app.admin().await;
    for _ in 0..14 {
        app.clock.advance(55 * 60);
        browser.get("/admin/connections").await;
    }
    assert_eq!(browser.get("/admin/connections").await.status, 303, "older than 12 hours despite activity");
}

#[tokio::test]
/// A change made in the database (as the CLI makes it) reaches a signed-in user's next requests
/// within the cache's poll (see `src/cache.rs`), not at the session's next touch.
async fn disabled_users_and_role_changes_take_effect_at_once() {
    let app = TestApp::spawn().await;
    let id = app.add_user("alice", Role::SdAdmin, "alice-password-1").await;
    let alice = app.browser();
    assert_eq!(alice.sign_in("alice", "alice-password-1").await.status, 303);
    for _ in 0..2 {
        assert_eq!(alice.get("/admin/connections").await.status, 200);
    }

    let now = app.clock.now();
    app.state
        .db
        .run(move |c| Ok(connections::models::user::set_role(c, id, Role::Technician, now)?))
        .await
        .unwrap();
    assert!(
        within_two_seconds(async || alice.get("/admin/connections").await.status == 403).await,
        "no longer an SDAdmin"
    );

    app.state.db.run(move |c| Ok(connections::models::user::set_disabled(c, id, true, now)?)).await.unwrap();
    assert!(
        within_two_seconds(async || alice.get("/admin/connections").await.status == 303).await,
        "a disabled user's session ends"
    );
    assert_eq!(app.browser().sign_in("alice", "alice-password-1").await.status, 401);
}

#[tokio::test]
async fn an_oversized_or_malformed_sign_in_is_refused_cleanly() {
    let app = TestApp::spawn().await;
    let huge = "x".repeat(300 * 1024);
    let res = app.browser().sign_in("admin", &huge).await;
    assert_eq!(res.status, 413);
    assert!(res.body.contains("too large"));
    let res = app.browser().post("/login", &[("username", "admin")]).await;
    assert_eq!(res.status, 400, "{}", res.body);
    let res = app.browser().sign_in("ädmïn 🔑", "pässwörd-ünïcode").await;
    assert_eq!(res.status, 401);
    assert!(res.body.contains("ädmïn 🔑"));
}

#[tokio::test]
async fn sessions_live_in_the_database_and_survive_a_restart() {
    let app = TestApp::spawn().await;
    let browser = app.admin().await;
    let cookie = browser.cookie("connections_session").unwrap();
    let db = app.stop().await;
    let app = TestApp::spawn_on(db, |_| {}).await;
    let again = app.browser();
    again.cookies.lock().unwrap().insert("connections_session".into(), cookie);
    assert_eq!(again.get("/admin/connections").await.status, 200);
}

/// Two instances on one database. A session that the second has checked (and cached) stops working
/// there as soon as it ends, or its user changes, on the first.
#[tokio::test]
async fn sign_out_and_role_changes_reach_every_instance_at_once() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_on(a.shared_db(), |_| {}).await;
    let on_b = |signed_in: &Browser| {
        let browser = b.browser();
        browser
            .cookies
            .lock()
            .unwrap()
            .insert("connections_session".into(), signed_in.cookie("connections_session").unwrap());
        browser
    };

    let admin = a.admin().await;
    let admin_on_b = on_b(&admin);
    for _ in 0..2 {
        assert_eq!(admin_on_b.get("/admin/connections").await.status, 200);
    }
    assert_eq!(admin.submit("/admin/connections", "/logout", &[]).await.status, 303);
    assert!(
        within_two_seconds(async || admin_on_b.get("/admin/connections").await.status == 303).await,
        "signed out on B too"
    );

    let bob = a.add_user("bob", Role::SdAdmin, "bob-password-1234").await;
    let bob_on_a = a.browser();
    assert_eq!(bob_on_a.sign_in("bob", "bob-password-1234").await.status, 303);
    let bob_on_b = on_b(&bob_on_a);
    for _ in 0..2 {
        assert_eq!(bob_on_b.get("/admin/connections").await.status, 200);
    }
    let now = a.clock.now();
    a.state
        .db
        .run(move |c| Ok(connections::models::user::set_role(c, bob, Role::Technician, now)?))
        .await
        .unwrap();
    assert!(
        within_two_seconds(async || bob_on_b.get("/admin/connections").await.status == 403).await,
        "no longer an SDAdmin on B"
    );
}

/// The listener's connection is cut (a PostgreSQL restart, a proxy timeout) and a role change is made
/// while it is down, so its notification is lost: the instance stops trusting its cache and reads the
/// session from the database, and the change still takes effect. (SQLite's poller has no
/// connection to cut: its failures are covered by `src/cache/poll/tests.rs`.)
#[tokio::test]
async fn a_change_made_while_the_listener_is_cut_off_still_takes_effect() {
    let app = TestApp::spawn().await;
    if app.state.db.backend() != connections::db::Backend::Postgres {
        return;
    }
    let id = app.add_user("carol", Role::SdAdmin, "carol-password-1").await;
    let carol = app.browser();
    assert_eq!(carol.sign_in("carol", "carol-password-1").await.status, 303);
    for _ in 0..2 {
        assert_eq!(carol.get("/admin/connections").await.status, 200);
    }
    let cut = app
        .state
        .db
        .run(|c| {
            let sql = format!(
                "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE application_name = '{}' AND datname = current_database()",
                connections::cache::LISTENER_NAME
            );
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            Ok(diesel::RunQueryDsl::get_result::<Count>(diesel::sql_query(sql), c)?.n)
        })
        .await
        .unwrap();
    assert_eq!(cut, 1, "one listener connection");
    let now = app.clock.now();
    app.state
        .db
        .run(move |c| Ok(connections::models::user::set_role(c, id, Role::Technician, now)?))
        .await
        .unwrap();
    assert!(
        within_two_seconds(async || carol.get("/admin/connections").await.status == 403).await,
        "no longer an SDAdmin"
    );
}
