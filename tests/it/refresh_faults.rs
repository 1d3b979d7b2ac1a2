//! Token refreshes under faults, against the fake provider: each class of token-endpoint failure
//! keeps or ends the tokens as it should, a refused client marks its service, a provider's grace
//! window for a rotated refresh token is used, short-lived tokens are refreshed at half their life,
//! a valid token is served while another instance holds the lease, and a database outage while the
//! provider answers a refresh loses nothing.

use std::time::Duration;

use connections::db::schema::connections as table;
use diesel::prelude::*;
use serde_json::json;

use crate::support::{
    Behaviour, FakeProvider, Relay, Setup, SqliteLock, T0, TestApp, TestDb, connect_oauth, connection,
    eventually, invoke, loopback, me, presented, refresh_token, row, setup, setup_on, setup_with, text_of,
};

#[tokio::test]
async fn only_invalid_grant_ends_the_tokens_and_every_other_refusal_keeps_them() {
    for (status, code, ends) in [
        (400, "invalid_grant", true),
        (400, "temporarily_unavailable", false),
        (400, "server_error", false),
        (400, "invalid_request", false),
        (429, "slow_down", false),
        (503, "", false),
        (401, "invalid_client", false),
        (400, "unauthorized_client", false),
    ] {
        let Setup { app, fake, api, .. } = setup().await;
        let before = (row(&app, "zoho_main").await.access_token, refresh_token(&app, "zoho_main").await);
        fake.set(|b| b.token_error = Some((status, code)));
        app.clock.advance(3600);
        let res = me(&api).await;
        let stored = row(&app, "zoho_main").await;
        if ends {
            assert_eq!(
                (res.status, res.json()["error"]["status"].as_str()),
                (409, Some("needs_reconnect")),
                "{code}"
            );
            assert_eq!(
                (stored.status.as_str(), stored.refresh_token.is_none()),
                ("needs_reconnect", true),
                "{code}"
            );
        } else {
            assert_eq!(res.status, 503, "{code}: {}", res.body);
            assert_eq!(stored.status, "connected", "{code}");
            assert_eq!(
                (stored.access_token.clone(), refresh_token(&app, "zoho_main").await),
                before,
                "{code}: the tokens are kept"
            );
            // A throttle is the provider's pace, not a failing refresh (see `refresh_storm`).
            assert_eq!(stored.refresh_failures, i32::from(status != 429), "{code}");
        }
    }
}

#[tokio::test]
async fn a_refused_client_marks_the_service_holds_back_its_connections_and_is_retried_when_the_secret_changes()
 {
    let Setup { app, fake, api, browser } = setup().await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_other", &["read", "offline_access"])).await;
    connect_oauth(&browser, "zoho_other").await;
    let calls = fake.token_count();
    fake.set(|b| b.token_error = Some((401, "invalid_client")));
    app.clock.advance(3600);

    let res = me(&api).await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert!(
        res.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refused the client credentials of the service"),
        "{}",
        res.body
    );
    assert_eq!(fake.token_count(), calls + 1);
    // The other connection of the service does not try a client the provider refuses.
    let res = invoke(&api, "zoho_other", json!({"path": "/me"})).await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert_eq!(fake.token_count(), calls + 1, "no second refusal");
    assert_eq!(row(&app, "zoho_other").await.status, "connected");
    let page = text_of(&browser.get("/admin/services/zoho").await);
    assert!(page.contains("The provider refused the client credentials"), "{page}");

    // An admin enters the secret again: refreshes resume.
    fake.set(|b| b.token_error = None);
    let res =
        api.patch("/api/v1/services/zoho", &json!({"oauth2": {"client_secret": fake.client_secret}})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(me(&api).await.json()["status"], 200);
    assert_eq!(invoke(&api, "zoho_other", json!({"path": "/me"})).await.json()["status"], 200);
    assert!(!text_of(&browser.get("/admin/services/zoho").await).contains("refused the client credentials"));
}

#[tokio::test]
async fn a_refused_rotated_token_falls_back_to_the_one_it_replaced_within_the_providers_grace_window() {
    let behaviour = Behaviour { grace_previous: true, ..Behaviour::default() };
    let Setup { app, fake, api, .. } = setup_with(|_| {}, behaviour, |_| {}).await;
    app.clock.advance(3600);
    assert_eq!(me(&api).await.json()["status"], 200);
    let first = fake.issued("refresh")[0].clone();
    let second = stored_refresh_token(&app, &fake).await;
    assert_ne!(first, second);
    assert!(row(&app, "zoho_main").await.previous_refresh_token.is_some(), "the replaced token is kept");

    // The provider loses the new token; the old one is still in its grace window.
    fake.kill(&second);
    app.clock.advance(3600);
    let res = me(&api).await;
    assert_eq!(res.json()["status"], 200, "{}", res.body);
    assert_eq!(presented(&fake), [first.clone(), second, first]);
    stored_refresh_token(&app, &fake).await;
    assert_eq!(row(&app, "zoho_main").await.status, "connected");
}

/// The refresh token the fake issued last, once the app has stored it (a refresh answers before its
/// store lands).
async fn stored_refresh_token(app: &TestApp, fake: &FakeProvider) -> String {
    let last = fake.issued("refresh").last().cloned().unwrap();
    eventually("the refreshed tokens to be stored", async || {
        refresh_token(app, "zoho_main").await.as_deref() == Some(&last)
    })
    .await;
    last
}

#[tokio::test]
async fn a_token_that_lives_less_than_the_margin_is_refreshed_at_half_its_life() {
    let behaviour = Behaviour { expires_in: 4, ..Behaviour::default() };
    let Setup { app, fake, api, .. } = setup_with(|_| {}, behaviour, |_| {}).await;
    for _ in 0..=8 {
        assert_eq!(me(&api).await.json()["status"], 200);
        app.clock.advance(1);
    }
    assert_eq!(fake.grants("refresh_token").len(), 4, "at 2, 4, 6 and 8 s: not on every call");
}

/// Another instance holds the lease (a foreign holder in the row): a valid token is used at once;
/// without one, the caller waits until that lease runs out, not longer.
#[tokio::test]
async fn a_valid_token_is_served_while_another_instance_holds_the_lease() {
    let Setup { app, fake, api, .. } = setup().await;
    let hold = async |until: i64| {
        app.state
            .db
            .run(move |c| {
                diesel::update(table::table)
                    .set((table::lease_holder.eq(Some("elsewhere:1")), table::lease_until.eq(Some(until))))
                    .execute(c)?;
                Ok(())
            })
            .await
            .unwrap()
    };
    app.clock.advance(3600 - 30);
    hold(T0 + 3570 + 20).await;
    assert_eq!(me(&api).await.json()["status"], 200);
    assert_eq!(fake.grants("refresh_token").len(), 0, "the other holder refreshes; this one uses its token");

    app.clock.advance(30);
    hold(T0 + 3600 + 20).await;
    let api = std::sync::Arc::new(api);
    let waiting = tokio::spawn({
        let api = api.clone();
        async move { me(&api).await }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!waiting.is_finished(), "no token: it waits for the other holder");
    app.clock.advance(21);
    let res = waiting.await.unwrap();
    assert_eq!(res.json()["status"], 200, "{}", res.body);
    assert_eq!(fake.grants("refresh_token").len(), 1, "the lease ran out: this instance refreshed");
}

/// A caller without a token that gives up waiting for another instance's refresh is told which
/// holder has the lease.
#[tokio::test]
async fn a_caller_that_gives_up_on_another_instances_refresh_is_told_which_one_holds_it() {
    let Setup { app, fake, api, .. } = setup().await;
    app.state
        .db
        .run(|c| {
            diesel::update(table::table)
                .set((table::lease_holder.eq(Some("elsewhere:7Qx")), table::lease_until.eq(Some(T0 + 7200))))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    app.clock.advance(3600);
    let res = me(&api).await;
    assert_eq!(res.status, 503, "{}", res.body);
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert_eq!(message, "Another instance (elsewhere:7Qx) is refreshing this token; try again shortly.");
    assert_eq!(fake.grants("refresh_token").len(), 0);
}

/// The provider answers a refresh while the database cannot be written: the rotated tokens are
/// served at once, stored when the database is back, and the old refresh token is never sent again.
#[tokio::test]
async fn a_database_outage_during_a_refresh_loses_no_token() {
    let db = TestDb::new();
    let postgres = db.url.starts_with("postgres");
    let (relay, through) = match postgres {
        true => {
            let (relay, url) = Relay::in_front_of(&db.url).await;
            (Some(relay), Some(url))
        }
        false => (None, None),
    };
    let Setup { app, fake, api, .. } = setup_on(db, move |config| {
        loopback(config);
        if let Some(url) = through {
            config.database_url = url;
        }
    })
    .await;
    let first = refresh_token(&app, "zoho_main").await.unwrap();
    fake.set(|b| b.token_delay_ms = 600);
    app.clock.advance(3600);
    let invoking = tokio::spawn(async move { (me(&api).await, api) });
    // The refresh is at the provider: the database goes away before it answers.
    eventually("the refresh to reach the provider", async || fake.grants("refresh_token").len() == 1).await;
    let lock = match &relay {
        Some(relay) => {
            relay.cut();
            None
        }
        None => Some(hold_sqlite_write_lock(&app, Duration::from_secs(7))),
    };
    let (res, api) = invoking.await.unwrap();
    assert_eq!(
        res.json()["status"],
        200,
        "the new token is served before it is stored: {} {}",
        res.status,
        res.body
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Some(relay) = &relay {
        relay.restore();
    }
    if let Some(lock) = lock {
        lock.await.unwrap();
    }
    eventually("the rotated tokens to be stored", async || {
        refresh_token(&app, "zoho_main").await.as_deref() != Some(first.as_str())
    })
    .await;
    assert_eq!(refresh_token(&app, "zoho_main").await, fake.issued("refresh").last().cloned());
    assert_eq!(row(&app, "zoho_main").await.status, "connected");

    fake.set(|b| b.token_delay_ms = 0);
    app.clock.advance(3600);
    assert_eq!(me(&api).await.json()["status"], 200);
    assert_eq!(presented(&fake).len(), 2);
    assert_ne!(presented(&fake)[1], first, "the dead token was never sent again");
}

/// Holds SQLite's write lock from a connection of its own for `how_long` (longer than the app's busy
/// timeout, so that its writes fail meanwhile).
fn hold_sqlite_write_lock(app: &TestApp, how_long: Duration) -> tokio::task::JoinHandle<()> {
    let lock = SqliteLock::take(app);
    tokio::task::spawn_blocking(move || {
        std::thread::sleep(how_long);
        drop(lock);
    })
}
