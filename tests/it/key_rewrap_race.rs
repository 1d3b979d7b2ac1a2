//! Rewrap while the app serves: a value written between a batch's read and its write is left as
//! its writer wrote it (a refreshed token is never replaced by the older one rewrap read), and a
//! rewrap running beside invokes that refresh tokens loses no update: every refresh token the app
//! presents afterwards is the latest the provider issued.

use std::collections::HashSet;

use connections::keys::{self, RewrapOptions, Table, read_batch, write_batch};

use crate::support::{
    Api, Setup, TestApp, access_token, basic_connection, keys_ok, kids_of, me, presented, refresh_token,
    secrets_of_every_kind, stored_in, with_key_file,
};

/// `secrets_of_every_kind(extra)`, rotated with `keys rotate`, and the app restarted on the new
/// keyring (as an operator does before rewrap).
async fn rotated(extra: usize) -> Setup {
    let Setup { app, fake, browser, .. } = secrets_of_every_kind(extra).await;
    let db = app.stop().await;
    keys_ok(&db, &["rotate"]);
    let app = TestApp::spawn_on(db, with_key_file).await;
    assert_eq!(app.state.keyring.kids(), ["k2", "k1"]);
    let api = Api::admin(&app).await;
    Setup { app, fake, api, browser }
}

async fn rewrap_all(app: &TestApp, batch_size: i64) -> keys::RewrapSummary {
    let keyring = app.state.keyring.clone();
    app.state
        .db
        .run(move |c| {
            let options = RewrapOptions { batch_size, max_batches: None };
            keys::rewrap(c, &keyring, options, &mut |_| {})
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_refresh_between_a_batchs_read_and_its_write_keeps_the_refreshed_token() {
    let Setup { app, fake, api, .. } = rotated(0).await;
    let keyring = app.state.keyring.clone();
    let batch =
        app.state.db.run(move |c| read_batch(c, &keyring, Table::Connections, None, 100)).await.unwrap();
    assert_eq!(batch.len(), 2, "zoho_main's access and refresh tokens, under k1");

    // The token expires and an invoke refreshes it, after the read and before the write.
    app.clock.advance(3600);
    assert_eq!(me(&api).await.json()["status"].as_u64(), Some(200));
    let (fresh_access, fresh_refresh) =
        (fake.issued("access").last().cloned(), fake.issued("refresh").last().cloned());
    assert_eq!(fake.issued("refresh").len(), 2, "the refresh rotated the refresh token");

    let written = app.state.db.run(move |c| write_batch(c, &batch)).await.unwrap();
    assert_eq!(written, 0, "both values changed since they were read");
    assert_eq!(access_token(&app, "zoho_main").await, fresh_access);
    assert_eq!(refresh_token(&app, "zoho_main").await, fresh_refresh);

    // The next refresh presents the latest refresh token: the provider, which revokes the whole
    // grant on a reused one, accepts it.
    let summary = rewrap_all(&app, 100).await;
    assert_eq!(summary.changed_meanwhile, 0);
    app.clock.advance(3600);
    assert_eq!(me(&api).await.json()["status"].as_u64(), Some(200));
    assert_eq!(presented(&fake).last(), fresh_refresh.as_ref());
    let kids = kids_of(&stored_in(&app).await);
    assert_eq!(kids.len(), 1, "{kids:?}");
    assert_eq!(kids[0].0, "k2");
}

#[tokio::test]
async fn a_rewrap_beside_invokes_and_refreshes_loses_no_update() {
    let Setup { app, fake, api, .. } = rotated(0).await;
    for i in 0..30 {
        basic_connection(&api, &format!("more_{i}")).await;
    }
    // New values are sealed under k2 already: put them back under k1 to give rewrap work.
    let db = app.stop().await;
    let old_first = app_on_old_key(db).await;
    let db = old_first.stop().await;
    let app = TestApp::spawn_on(db, with_key_file).await;
    let api = Api::admin(&app).await;

    let invokes = async {
        let mut statuses = Vec::new();
        for _ in 0..15 {
            app.clock.advance(3600);
            statuses.push(me(&api).await.json()["status"].as_u64());
            tokio::task::yield_now().await;
        }
        statuses
    };
    let (statuses, summary) = tokio::join!(invokes, rewrap_all(&app, 1));
    assert!(statuses.iter().all(|s| *s == Some(200)), "{statuses:?}");
    assert!(summary.resealed >= 30, "{summary:?}");

    rewrap_all(&app, 100).await;
    let kids = kids_of(&stored_in(&app).await);
    assert_eq!(kids.iter().map(|(kid, _)| kid.as_str()).collect::<Vec<_>>(), ["k2"], "{kids:?}");
    let presented = presented(&fake);
    assert_eq!(presented.len(), 15, "one refresh per expiry");
    assert_eq!(presented.iter().collect::<HashSet<_>>().len(), 15, "no refresh token presented twice");
    assert_eq!(refresh_token(&app, "zoho_main").await.as_ref(), fake.issued("refresh").last());
    app.clock.advance(3600);
    assert_eq!(me(&api).await.json()["status"].as_u64(), Some(200));
}

/// The app on `db` with the keyring's old key first again (`k1` active), so that what it writes is
/// sealed under k1.
async fn app_on_old_key(db: crate::support::TestDb) -> TestApp {
    let keyring = crate::support::file_keyring(&db);
    let spec = keyring.to_spec();
    let (k2, k1) = spec.split_once(',').unwrap();
    let reordered = format!("{k1},{k2}");
    let app = TestApp::spawn_on(db, |c| {
        with_key_file(c);
        c.encryption_keys = Some(connections::crypto::Secret::new(reordered));
    })
    .await;
    let api = Api::admin(&app).await;
    for i in 0..30 {
        let body = serde_json::json!({"username": "svc", "password": format!("again-{i}")});
        let res = api.put(&format!("/api/v1/connections/more_{i}/credentials"), &body).await;
        assert_eq!(res.status, 200, "{}", res.body);
    }
    app
}
