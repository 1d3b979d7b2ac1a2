//! The OAuth2 token lifecycle while invoking, against the fake provider and its protected API:
//! proactive refresh within the margin, reactive refresh and one retry on 401 (or a status the
//! service lists), exactly one refresh for 50 concurrent invokes and for two app instances on one
//! database, rotation, `invalid_grant` and a missing refresh token → Needs reconnect, transient
//! failures → a cooldown, Client Credentials, the background refresher, and a caller that goes away
//! mid-refresh.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    Api, Behaviour, FakeProvider, Setup, T0, TestApp, access_token, assert_hidden, connect_href,
    connect_oauth, connection, database_text, events, eventually, invoke, loopback, me, oauth_service_at,
    presented, refresh_token, row, setup, setup_with, text_of,
};

#[tokio::test]
async fn a_token_expiring_within_the_margin_is_refreshed_once_before_the_call() {
    let Setup { app, fake, api, .. } = setup().await;
    let first = access_token(&app, "zoho_main").await.unwrap();
    app.clock.advance(3600 - 61);
    assert_eq!(me(&api).await.status, 200);
    assert_eq!(fake.token_count(), 1, "61 s left: outside the 60 s margin");
    assert_eq!(fake.api_calls().pop().unwrap().token.as_deref(), Some(first.as_str()));

    app.clock.advance(2);
    let res = me(&api).await;
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{}", res.body);
    assert_eq!(fake.grants("refresh_token").len(), 1, "59 s left: refreshed");
    let fresh = fake.issued("access")[1].clone();
    let calls = fake.api_calls();
    assert_eq!(calls.len(), 2, "no call with the old token first");
    assert_eq!((calls[1].token.as_deref(), calls[1].accepted), (Some(fresh.as_str()), true));
    let stored = row(&app, "zoho_main").await;
    assert_eq!((stored.expires_at, stored.last_refresh_at), (Some(T0 + 3541 + 3600), Some(T0 + 3541)));
    assert_eq!(access_token(&app, "zoho_main").await.as_deref(), Some(fresh.as_str()));

    assert_eq!(me(&api).await.status, 200);
    assert_eq!(fake.grants("refresh_token").len(), 1, "the new token is used as is");
    let refreshes: Vec<_> =
        events(&app, "zoho_main").await.into_iter().filter(|e| e.kind == "refresh").collect();
    assert_eq!(refreshes.len(), 1);
    assert!(refreshes[0].ok && refreshes[0].actor == "system" && refreshes[0].message.is_none());
}

#[tokio::test]
async fn the_refresh_margin_is_configurable() {
    let Setup { app, fake, api, .. } =
        setup_with(|c| c.refresh_margin_secs = 600, Behaviour::default(), |_| {}).await;
    app.clock.advance(3600 - 601);
    assert_eq!(me(&api).await.status, 200);
    assert_eq!(fake.token_count(), 1);
    app.clock.advance(2);
    assert_eq!(me(&api).await.status, 200);
    assert_eq!(fake.grants("refresh_token").len(), 1);
}

#[tokio::test]
async fn a_401_with_a_valid_token_refreshes_once_and_retries_once() {
    let Setup { app, fake, api, .. } = setup().await;
    let first = access_token(&app, "zoho_main").await.unwrap();
    fake.kill(&first);
    let res = me(&api).await;
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{}", res.body);
    assert_eq!(fake.grants("refresh_token").len(), 1);
    let calls = fake.api_calls();
    assert_eq!(
        calls.iter().map(|c| (c.token.clone().unwrap(), c.accepted)).collect::<Vec<_>>(),
        [(first, false), (fake.issued("access")[1].clone(), true)]
    );
    // One event for the invoke (its final status) and one for the refresh.
    let kinds: Vec<(String, Option<i32>)> =
        events(&app, "zoho_main").await.into_iter().map(|e| (e.kind, e.status)).collect();
    assert_eq!(kinds, [("refresh".to_owned(), None), ("invoke".to_owned(), Some(200))]);

    // A token the upstream keeps refusing: still one refresh and one retry, then its answer.
    fake.set(|b| b.api_accepts = false);
    let res = me(&api).await;
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(401)), "{}", res.body);
    assert_eq!(fake.grants("refresh_token").len(), 2);
    assert_eq!(fake.api_calls().len(), 4);
}

#[tokio::test]
async fn a_status_the_service_lists_refreshes_like_a_401_and_others_do_not() {
    let listed = setup_with(
        |_| {},
        Behaviour { api_reject_status: 403, ..Behaviour::default() },
        |s| s["oauth2"]["refresh_on_status"] = json!([403]),
    )
    .await;
    listed.fake.kill(&access_token(&listed.app, "zoho_main").await.unwrap());
    let res = me(&listed.api).await;
    assert_eq!(res.json()["status"], 200, "{}", res.body);
    assert_eq!(listed.fake.grants("refresh_token").len(), 1);
    assert_eq!(listed.fake.api_calls().len(), 2);

    let unlisted =
        setup_with(|_| {}, Behaviour { api_reject_status: 403, ..Behaviour::default() }, |_| {}).await;
    unlisted.fake.kill(&access_token(&unlisted.app, "zoho_main").await.unwrap());
    let res = me(&unlisted.api).await;
    assert_eq!(res.json()["status"], 403, "{}", res.body);
    assert_eq!(unlisted.fake.grants("refresh_token").len(), 0, "a 403 alone is the upstream's answer");
    assert_eq!(unlisted.fake.api_calls().len(), 1);
}

/// Sends `n` invokes at once and returns their answers' HTTP statuses and upstream statuses.
async fn burst(api: Arc<Api>, n: usize) -> tokio::task::JoinSet<(u16, Option<u64>)> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let api = api.clone();
        tasks.spawn(async move {
            let res = me(&api).await;
            let upstream = serde_json::from_str::<Value>(&res.body).ok().and_then(|v| v["status"].as_u64());
            (res.status, upstream)
        });
    }
    tasks
}

#[tokio::test]
async fn fifty_concurrent_invokes_on_an_expired_token_make_exactly_one_refresh() {
    let Setup { app, fake, api, .. } = setup().await;
    fake.set(|b| b.token_delay_ms = 300);
    app.clock.advance(3600);
    let outcomes = burst(Arc::new(api), 50).await.join_all().await;
    assert_eq!(outcomes.len(), 50);
    assert!(outcomes.iter().all(|o| *o == (200, Some(200))), "{outcomes:?}");
    assert_eq!(fake.grants("refresh_token").len(), 1, "exactly one refresh");
    let calls = fake.api_calls();
    let fresh = fake.issued("access")[1].clone();
    assert_eq!(calls.len(), 50);
    assert!(
        calls.iter().all(|c| c.accepted && c.token.as_deref() == Some(fresh.as_str())),
        "all with the new token"
    );
    let refreshes = events(&app, "zoho_main").await.into_iter().filter(|e| e.kind == "refresh").count();
    assert_eq!(refreshes, 1);
}

#[tokio::test]
async fn two_app_instances_on_one_database_make_exactly_one_refresh() {
    let Setup { app, fake, api, .. } = setup().await;
    let other = TestApp::spawn_on(app.shared_db(), loopback).await;
    let other_api = Api::admin(&other).await;
    assert_eq!(me(&other_api).await.status, 200, "the second instance sees the connection");
    fake.set(|b| b.token_delay_ms = 300);
    app.clock.advance(3600);
    other.clock.advance(3600);

    let mut one = burst(Arc::new(api), 25).await;
    let mut two = burst(Arc::new(other_api), 25).await;
    let mut outcomes = Vec::new();
    while let Some(o) = one.join_next().await {
        outcomes.push(o.unwrap());
    }
    while let Some(o) = two.join_next().await {
        outcomes.push(o.unwrap());
    }
    assert!(outcomes.iter().all(|o| *o == (200, Some(200))), "{outcomes:?}");
    assert_eq!(fake.grants("refresh_token").len(), 1, "exactly one refresh across both instances");
    let fresh = fake.issued("access")[1].clone();
    let calls = fake.api_calls();
    assert_eq!(calls.len(), 51);
    assert!(calls[1..].iter().all(|c| c.accepted && c.token.as_deref() == Some(fresh.as_str())));
    assert_eq!(access_token(&other, "zoho_main").await, Some(fresh));
    let stored = row(&app, "zoho_main").await;
    assert_eq!((stored.lease_holder, stored.lease_until), (None, None), "the lease is released");
}

#[tokio::test]
async fn rotation_replaces_the_refresh_token_and_one_the_provider_does_not_rotate_is_kept() {
    let Setup { app, fake, api, .. } = setup().await;
    let r0 = refresh_token(&app, "zoho_main").await.unwrap();
    app.clock.advance(3600);
    assert_eq!(me(&api).await.status, 200);
    let r1 = refresh_token(&app, "zoho_main").await.unwrap();
    assert_ne!(r1, r0);
    assert_eq!(fake.issued("refresh"), [r0.clone(), r1.clone()]);
    assert!(!fake.is_active(&r0) && fake.is_active(&r1), "the old one is dead at the provider");

    app.clock.advance(3600);
    assert_eq!(me(&api).await.status, 200);
    let r2 = refresh_token(&app, "zoho_main").await.unwrap();
    assert_eq!(presented(&fake), [r0.clone(), r1.clone()], "each refresh with the newest token");

    // The provider stops rotating: the token it did not replace stays and is used again.
    fake.set(|b| b.rotate_refresh_tokens = false);
    for _ in 0..2 {
        app.clock.advance(3600);
        assert_eq!(me(&api).await.status, 200);
        assert_eq!(refresh_token(&app, "zoho_main").await.as_deref(), Some(r2.as_str()));
    }
    assert_eq!(presented(&fake), [r0, r1, r2.clone(), r2.clone()]);
    assert_eq!(fake.issued("refresh").len(), 3, "no new refresh token issued");
    assert_eq!(row(&app, "zoho_main").await.status, "connected");

    // A reused (rotated-away) refresh token is rejected by the fake: the app never sent one.
    assert!(fake.grants("refresh_token").len() == 4 && fake.api_calls().iter().all(|c| c.accepted));
}

#[tokio::test]
async fn invalid_grant_means_needs_reconnect_with_a_message_and_no_more_token_calls() {
    let Setup { app, fake, api, browser } = setup().await;
    fake.set(|b| b.token_error = Some((400, "invalid_grant")));
    app.clock.advance(3600);
    let res = me(&api).await;
    assert_eq!(res.status, 409, "{}", res.body);
    let error = &res.json()["error"];
    assert_eq!(
        (error["code"].as_str(), error["status"].as_str()),
        (Some("not_connected"), Some("needs_reconnect"))
    );
    let message = error["message"].as_str().unwrap().to_owned();
    assert!(message.contains("invalid_grant") && message.contains("reconnect"), "{message}");
    assert_eq!(fake.token_count(), 2);
    assert!(fake.api_calls().is_empty());

    let shown = api.get("/api/v1/connections/zoho_main").await.json();
    assert_eq!(shown["status"], "needs_reconnect");
    assert_eq!(shown["last_error"].as_str(), Some(message.as_str()));
    let stored = row(&app, "zoho_main").await;
    assert!(
        stored.access_token.is_none() && stored.refresh_token.is_none() && stored.expires_at.is_none(),
        "tokens cleared"
    );
    let page = browser.get("/admin/connections/zoho_main").await;
    let text = text_of(&page);
    assert!(
        text.contains("Needs reconnect")
            && text.contains("The provider rejected the token refresh (invalid_grant"),
        "{text}"
    );

    fake.set(|b| b.token_error = None);
    for _ in 0..3 {
        let res = me(&api).await;
        assert_eq!((res.status, res.json()["error"]["status"].as_str()), (409, Some("needs_reconnect")));
        assert!(res.json()["error"]["message"].as_str().unwrap().contains("needs to be reconnected"));
    }
    assert_eq!(api.post("/api/v1/connections/zoho_main/test", &json!({})).await.status, 409);
    assert_eq!(
        connections::ops::access_tokens::refresh_due(&app.state).await.unwrap(),
        0,
        "the background refresher skips it"
    );
    assert_eq!(fake.token_count(), 2, "no retry loop");

    // Reconnecting makes it usable again.
    connect_oauth(&browser, "zoho_main").await;
    assert_eq!(me(&api).await.status, 200);
}

#[tokio::test]
async fn a_missing_refresh_token_means_needs_reconnect_once_the_access_token_expires() {
    let Setup { app, fake, api, .. } =
        setup_with(|_| {}, Behaviour { refresh_tokens: false, ..Behaviour::default() }, |_| {}).await;
    assert!(refresh_token(&app, "zoho_main").await.is_none());
    // Within the margin but still valid: nothing to refresh with, so the token is used while it lasts.
    app.clock.advance(3600 - 30);
    assert_eq!(me(&api).await.json()["status"], 200);
    assert_eq!(row(&app, "zoho_main").await.status, "connected");

    app.clock.advance(30);
    let res = me(&api).await;
    assert_eq!(
        (res.status, res.json()["error"]["status"].as_str()),
        (409, Some("needs_reconnect")),
        "{}",
        res.body
    );
    assert!(res.json()["error"]["message"].as_str().unwrap().contains("no refresh token"), "{}", res.body);
    assert_eq!(fake.token_count(), 1, "no token request without a refresh token");
    assert_eq!(row(&app, "zoho_main").await.status, "needs_reconnect");
    assert_eq!(fake.api_calls().len(), 1);
}

#[tokio::test]
async fn a_transient_failure_keeps_the_status_and_an_expired_token_is_retried_after_a_short_gap() {
    let Setup { app, fake, api, browser } = setup().await;
    fake.set(|b| b.token_error = Some((500, "")));
    // Still valid for 20 s: the failed proactive refresh falls back to the current token.
    app.clock.advance(3600 - 20);
    let res = me(&api).await;
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{}", res.body);
    assert_eq!(fake.grants("refresh_token").len(), 1);
    let failed_at = T0 + 3580;
    let stored = row(&app, "zoho_main").await;
    assert_eq!(stored.status, "connected");
    assert_eq!(
        (stored.refresh_failures, stored.retry_after),
        (1, Some(failed_at + 30)),
        "the first cooldown is 30 s"
    );
    let message = stored.status_message.clone().unwrap();
    assert!(message.contains("HTTP 500"), "{message}");

    // Expired: an invoke does not wait out the background cooldown, only a short gap since the
    // last attempt. It tries again, and the failure is a clear 503.
    app.clock.advance(20);
    let res = me(&api).await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "unavailable");
    assert_eq!(fake.grants("refresh_token").len(), 2);
    let stored = row(&app, "zoho_main").await;
    assert_eq!(
        (stored.refresh_failures, stored.retry_after),
        (2, Some(failed_at + 20 + 60)),
        "the cooldown doubles"
    );
    let shown = api.get("/api/v1/connections/zoho_main").await.json();
    assert_eq!(shown["status"].as_str(), Some("connected"));
    assert!(
        text_of(&browser.get("/admin/connections/zoho_main").await).contains("The last token refresh failed")
    );

    // Within the gap: no token call, and the answer says when the next attempt may be.
    let res = me(&api).await;
    assert_eq!(res.status, 503);
    assert!(
        res.json()["error"]["message"].as_str().unwrap().contains("The next refresh attempt is in 5 s"),
        "{}",
        res.body
    );
    // The background refresher keeps its cooldown.
    app.clock.advance(4);
    connections::ops::access_tokens::refresh_due(&app.state).await.unwrap();
    assert_eq!(fake.grants("refresh_token").len(), 2, "no token call within the gap or the cooldown");

    // The provider is back: the next invoke after the gap refreshes and clears the failure.
    fake.set(|b| b.token_error = None);
    app.clock.advance(1);
    let res = me(&api).await;
    assert_eq!(res.json()["status"], 200, "{}", res.body);
    assert_eq!(fake.grants("refresh_token").len(), 3);
    let stored = row(&app, "zoho_main").await;
    assert_eq!((stored.refresh_failures, stored.retry_after, stored.meta.status_message), (0, None, None));
    let failed = events(&app, "zoho_main").await.into_iter().filter(|e| e.kind == "refresh" && !e.ok).count();
    assert_eq!(failed, 2);
}

#[tokio::test]
async fn client_credentials_get_a_new_token_when_the_current_one_expires() {
    let app = TestApp::spawn_with(loopback).await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&app).await;
    let mut service = oauth_service_at(&fake, "machine");
    service["oauth2"]["grant_type"] = "client_credentials".into();
    service["oauth2"].as_object_mut().unwrap().remove("authorization_url");
    service["api_base_url"] = fake.api_url().into();
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection("machine", "machine", &["read"])).await;
    let browser = app.admin().await;
    let details = browser.get("/admin/connections/machine").await;
    assert_eq!(browser.get(&connect_href(&details)).await.status, 303);
    assert_eq!(fake.grants("client_credentials").len(), 1);

    let call = json!({"path": "/me"});
    assert_eq!(invoke(&api, "machine", call.clone()).await.json()["status"], 200);
    assert_eq!(fake.token_count(), 1);
    app.clock.advance(3600);
    assert_eq!(invoke(&api, "machine", call.clone()).await.json()["status"], 200);
    let grants = fake.grants("client_credentials");
    assert_eq!(grants.len(), 2, "a new token for the expired one");
    assert_eq!(grants[1].params["scope"], "read");
    assert_eq!(fake.token_count(), 2, "no refresh_token grant");
    assert_eq!(fake.api_calls().pop().unwrap().token.as_deref(), Some(fake.issued("access")[1].as_str()));
    assert_eq!(row(&app, "machine").await.expires_at, Some(T0 + 7200));
}

#[tokio::test]
async fn the_background_pass_refreshes_only_tokens_about_to_expire_and_stops_when_told() {
    let Setup { app, fake, api, browser } = setup().await;
    fake.set(|b| b.expires_in = 7200);
    api.create("/api/v1/connections", &connection("zoho", "zoho_late", &["read", "offline_access"])).await;
    connect_oauth(&browser, "zoho_late").await;
    let late_token = access_token(&app, "zoho_late").await;
    let main_refresh = refresh_token(&app, "zoho_main").await.unwrap();

    // zoho_main has 100 s left (within twice the margin), zoho_late 7100 s.
    app.clock.advance(3500);
    assert_eq!(connections::ops::access_tokens::refresh_due(&app.state).await.unwrap(), 1);
    assert_eq!(presented(&fake), [main_refresh]);
    assert_eq!(row(&app, "zoho_main").await.expires_at, Some(T0 + 3500 + 7200));
    assert_eq!(access_token(&app, "zoho_late").await, late_token, "left alone");
    assert!(fake.api_calls().is_empty(), "no invoke was needed");
    assert_eq!(connections::ops::access_tokens::refresh_due(&app.state).await.unwrap(), 0, "nothing due now");
    assert_eq!(fake.grants("refresh_token").len(), 1);

    // The task: every 50 ms; zoho_late becomes due and is refreshed with nobody invoking.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    connections::ops::access_tokens::spawn_background(app.state.clone(), Duration::from_millis(50), stopped);
    app.clock.advance(3600);
    eventually("the background refresh", async || fake.grants("refresh_token").len() == 2).await;
    assert_eq!(row(&app, "zoho_late").await.expires_at, Some(T0 + 7100 + 7200));
    drop(stop);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let calls = fake.token_count();
    app.clock.advance(7200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.token_count(), calls, "stopped: no more refreshes");
    // The app still works, and the next invoke does the refresh itself.
    assert_eq!(me(&api).await.json()["status"], 200);
    assert_eq!(fake.grants("refresh_token").len(), 3);
}

#[tokio::test]
async fn a_caller_that_goes_away_mid_refresh_does_not_lose_the_rotated_token() {
    let Setup { app, fake, api, .. } = setup().await;
    let token = app.token_for("admin").await;
    fake.set(|b| b.token_delay_ms = 500);
    app.clock.advance(3600);
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(150)).build().unwrap();
    let gone = impatient
        .post(format!("{}/api/v1/connections/zoho_main/invoke", app.base))
        .bearer_auth(&token)
        .json(&json!({"path": "/me"}))
        .send()
        .await;
    assert!(gone.is_err(), "the caller gave up before the provider answered");
    eventually("the refresh to be stored", async || row(&app, "zoho_main").await.last_refresh_at.is_some())
        .await;
    assert_eq!(refresh_token(&app, "zoho_main").await.as_deref(), Some(fake.issued("refresh")[1].as_str()));
    fake.set(|b| b.token_delay_ms = 0);
    let res = me(&api).await;
    assert_eq!(res.json()["status"], 200, "{}", res.body);
    assert_eq!(fake.grants("refresh_token").len(), 1, "the stored token is used, the dead one never sent");
    assert_eq!(row(&app, "zoho_main").await.status, "connected");
}

#[tokio::test]
async fn refreshes_show_on_the_details_page_and_no_token_reaches_a_page_answer_or_the_database() {
    let Setup { app, fake, api, browser } = setup().await;
    app.clock.advance(3600);
    let mut seen = me(&api).await.body;
    fake.kill(&access_token(&app, "zoho_main").await.unwrap());
    seen.push_str(&me(&api).await.body);
    seen.push_str(&api.post("/api/v1/connections/zoho_main/test", &json!({})).await.body);
    let page = browser.get("/admin/connections/zoho_main").await;
    let text = text_of(&page);
    let activity = &text[text.find("Recent activity").unwrap()..];
    assert_eq!(activity.matches("Token refresh system OK").count(), 2, "{activity}");
    assert_eq!(activity.matches("GET 127.0.0.1 /api/me admin 200").count(), 2, "{activity}");
    assert!(activity.contains("Test admin OK"), "{activity}");
    assert!(text.contains(&format!("Last refresh {}", connections::clock::format_time(T0 + 3600))), "{text}");
    seen.push_str(&page.body);
    assert_hidden(&seen, &fake.secrets(), "an answer or the details page");
    assert_hidden(&database_text(&app).await, &fake.secrets(), "the database");
}
