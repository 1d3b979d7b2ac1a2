//! The sign-in throttles under concurrency: the per-account lock (five failures in a row) holds against
//! bursts from many addresses, and the per-address throttle slows one address that keeps failing,
//! whichever usernames it tries.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use connections::models::user::{self, LOCKOUT_SECS, MAX_FAILED_LOGINS};
use connections::throttle::{BURST, REFILL_SECS};
use connections::web::login::SIGN_IN_FAILED;
use tokio::task::JoinSet;

use crate::support::{ADMIN_PASSWORD, Page, T0, TestApp};

/// A loopback address of its own for client `i` of group `group`.
fn source(group: u8, i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, group, i + 1))
}

/// Starts `n` sign-ins of `username` with `password`, each from its own address in `group`: every
/// client fetches the sign-in form first, then all send at once.
fn start_burst(app: &TestApp, group: u8, n: u8, username: &str, password: &str) -> JoinSet<Page> {
    let gate = Arc::new(tokio::sync::Barrier::new(n.into()));
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let browser = app.browser_from(source(group, i));
        let (gate, username, password) = (gate.clone(), username.to_owned(), password.to_owned());
        tasks.spawn(async move {
            let token = browser.get("/login").await.csrf();
            gate.wait().await;
            browser
                .post("/login", &[("csrf_token", &token), ("username", &username), ("password", &password)])
                .await
        });
    }
    tasks
}

/// The admin's failure count and lock, as the database holds them.
async fn admin_row(app: &TestApp) -> (i32, Option<i64>) {
    let admin =
        app.state.db.run(|c| Ok(user::find_by_name(c, "admin")?.expect("admin exists"))).await.unwrap();
    (admin.failed_logins, admin.locked_until)
}

fn assert_refused(page: &Page, what: &str) {
    assert_eq!(page.status, 401, "{what}: {}", page.body);
    assert!(page.body.contains(SIGN_IN_FAILED), "{what}: the one message");
}

#[tokio::test]
async fn fifty_concurrent_wrong_passwords_lock_the_account_at_exactly_five_failures() {
    let app = TestApp::spawn().await;
    for page in start_burst(&app, 1, 50, "admin", "wrong-password-1").join_all().await {
        assert_refused(&page, "a wrong password");
    }
    assert_eq!(
        admin_row(&app).await,
        (MAX_FAILED_LOGINS, Some(T0 + LOCKOUT_SECS)),
        "locked once, by the fifth failure"
    );

    let right = app.browser_from(source(2, 0));
    assert_refused(&right.sign_in("admin", ADMIN_PASSWORD).await, "the right password while locked");
    app.clock.advance(LOCKOUT_SECS - 1);
    assert_refused(
        &right.sign_in("admin", ADMIN_PASSWORD).await,
        "the right password a second before the lock ends",
    );
    assert_eq!(
        admin_row(&app).await,
        (MAX_FAILED_LOGINS, Some(T0 + LOCKOUT_SECS)),
        "refusals neither extend nor lift the lock"
    );
    app.clock.advance(1);
    assert_eq!(right.sign_in("admin", ADMIN_PASSWORD).await.status, 303, "the lock has ended");
    assert_eq!(admin_row(&app).await, (0, None), "a success starts the count again");
}

/// The lock is checked again after the (slow) password check: a right password whose check ends
/// after a burst has locked the account is refused, although the account was unlocked when it came.
/// Password checks run a few at a time in arrival order, so a right password sent once the burst's
/// first failure is recorded is checked after the burst's others.
#[tokio::test]
async fn a_right_password_arriving_during_a_burst_is_refused() {
    let app = TestApp::spawn().await;
    let burst = start_burst(&app, 1, 50, "admin", "wrong-password-1");
    let mut started = false;
    for _ in 0..500 {
        if admin_row(&app).await.0 >= 1 {
            started = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(started, "the burst's first failure is recorded");
    assert_refused(
        &app.browser_from(source(2, 0)).sign_in("admin", ADMIN_PASSWORD).await,
        "the right password during the burst",
    );
    for page in burst.join_all().await {
        assert_refused(&page, "a wrong password");
    }
    assert_eq!(admin_row(&app).await, (MAX_FAILED_LOGINS, Some(T0 + LOCKOUT_SECS)));
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_refused_for_every_username_for_a_while() {
    let app = TestApp::spawn().await;
    let n = u8::try_from(BURST).unwrap() + 10;
    // Unknown usernames have no account to lock: only the address's allowance stops them.
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let browser = app.browser_from(source(3, 0));
        tasks.spawn(async move { browser.sign_in(&format!("nobody-{i}"), "guess-password-1").await });
    }
    for page in tasks.join_all().await {
        assert_refused(&page, "an unknown username");
    }
    let guesser = app.browser_from(source(3, 0));
    assert_refused(
        &guesser.sign_in("admin", ADMIN_PASSWORD).await,
        "any username from the address, even with the right password",
    );
    assert_eq!(admin_row(&app).await, (0, None), "the throttled attempt never reached the account");

    assert_eq!(
        app.browser_from(source(4, 0)).sign_in("admin", ADMIN_PASSWORD).await.status,
        303,
        "other addresses are not affected"
    );
    app.clock.advance(REFILL_SECS);
    assert_eq!(
        guesser.sign_in("admin", ADMIN_PASSWORD).await.status,
        303,
        "the address earns an attempt back"
    );
}

#[tokio::test]
async fn successful_sign_ins_do_not_use_up_an_address_allowance() {
    let app = TestApp::spawn().await;
    for _ in 0..BURST + 5 {
        assert_eq!(app.browser_from(source(5, 0)).sign_in("admin", ADMIN_PASSWORD).await.status, 303);
    }
}
