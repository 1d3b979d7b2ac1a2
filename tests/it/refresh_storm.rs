//! Many tokens due at once, against the fake provider: at most `refresh_concurrency_per_service`
//! token requests per service in flight (background and on-demand alike) while two services
//! proceed side by side; a 429 with `Retry-After` pauses every token request of its service until
//! then — a caller with a valid token goes on with it, one without gets a 503 saying when to come
//! back — and is recorded without counting as a failing refresh; one background pass renews every
//! connection due, however many batches that takes.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::support::{
    Api, Behaviour, FakeProvider, T0, TestApp, access_token, connection, events, invoke, loopback,
    oauth_service_at, row,
};

use connections::ops::access_tokens::refresh_due;

/// A Client Credentials service `link` at `fake` whose API is the fake's protected API.
async fn machine_service(api: &Api, fake: &FakeProvider, link: &str) {
    let mut service = oauth_service_at(fake, link);
    service["oauth2"]["grant_type"] = "client_credentials".into();
    service["oauth2"].as_object_mut().unwrap().remove("authorization_url");
    service["api_base_url"] = fake.api_url().into();
    api.create("/api/v1/services", &service).await;
}

/// Creates connections `{service}_{i}` of `service` for each `i` of `numbers` and connects each (a
/// token request apiece), eight at a time.
async fn connect_many(api: &Arc<Api>, service: &str, numbers: std::ops::Range<usize>) -> Vec<String> {
    let links: Vec<String> = numbers.map(|i| format!("{service}_{i}")).collect();
    for chunk in links.chunks(8) {
        let mut tasks = tokio::task::JoinSet::new();
        for link in chunk {
            let (api, service, link) = (api.clone(), service.to_owned(), link.clone());
            tasks.spawn(async move {
                api.create("/api/v1/connections", &connection(&service, &link, &["read"])).await;
                let res = api.post(&format!("/api/v1/connections/{link}/authorize"), &json!({})).await;
                assert_eq!(
                    (res.status, res.json()["status"].as_str()),
                    (200, Some("connected")),
                    "{}",
                    res.body
                );
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    }
    links
}

/// Invokes every link at once; returns the HTTP statuses and the upstream's, in order.
async fn invoke_all(api: &Arc<Api>, links: &[String]) -> Vec<(u16, Option<u64>)> {
    let calls = links.iter().map(|link| {
        let (api, link) = (api.clone(), link.clone());
        tokio::spawn(async move {
            let res = invoke(&api, &link, json!({"path": "/me"})).await;
            let inner =
                serde_json::from_str::<serde_json::Value>(&res.body).ok().and_then(|v| v["status"].as_u64());
            (res.status, inner)
        })
    });
    let mut answers = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        answers.push(call.await.unwrap());
    }
    answers
}

/// The most token requests the fakes were answering at once, all together.
fn peak_together(fakes: &[&FakeProvider]) -> usize {
    let spans: Vec<_> = fakes.iter().flat_map(|f| f.token_spans()).collect();
    spans
        .iter()
        .map(|(start, _)| spans.iter().filter(|(s, e)| s <= start && start < e).count())
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_pass_keeps_each_service_within_its_bound_while_two_services_proceed_side_by_side() {
    let app = TestApp::spawn_with(|c| {
        loopback(c);
        c.refresh_concurrency_per_service = 2;
    })
    .await;
    let api = Arc::new(Api::admin(&app).await);
    let (first, second) = (FakeProvider::start().await, FakeProvider::start().await);
    machine_service(&api, &first, "first").await;
    machine_service(&api, &second, "second").await;
    let links = [connect_many(&api, "first", 0..8).await, connect_many(&api, "second", 0..8).await].concat();
    for fake in [&first, &second] {
        fake.set(|b| b.token_delay_ms = 150);
    }

    // 100 s left: within twice the margin, so the background pass takes all sixteen.
    app.clock.advance(3500);
    assert_eq!(refresh_due(&app.state).await.unwrap(), 16);
    for (name, fake) in [("first", &first), ("second", &second)] {
        assert_eq!(fake.grants("client_credentials").len(), 16, "{name}: eight connects, eight refreshes");
        assert_eq!(fake.peak_token_requests(), 2, "{name}: two at a time, never more");
    }
    assert_eq!(peak_together(&[&first, &second]), 4, "side by side, not one service after the other");
    for link in &links {
        assert_eq!(row(&app, link).await.expires_at, Some(T0 + 3500 + 3600), "{link}");
    }
}

#[tokio::test]
async fn invokes_that_need_new_tokens_share_the_bound_with_the_background() {
    let app = TestApp::spawn_with(|c| {
        loopback(c);
        c.refresh_concurrency_per_service = 2;
    })
    .await;
    let api = Arc::new(Api::admin(&app).await);
    let fake = FakeProvider::start().await;
    machine_service(&api, &fake, "machine").await;
    let links = connect_many(&api, "machine", 0..8).await;
    fake.set(|b| b.token_delay_ms = 150);
    app.clock.advance(3600);

    // Six invokes on expired tokens and a background pass over all eight, at once.
    let state = app.state.clone();
    let background = tokio::spawn(async move { refresh_due(&state).await.unwrap() });
    let answers = invoke_all(&api, &links[..6]).await;
    background.await.unwrap();
    assert!(answers.iter().all(|a| *a == (200, Some(200))), "{answers:?}");
    assert_eq!(fake.grants("client_credentials").len(), 16, "one new token per connection");
    assert_eq!(fake.peak_token_requests(), 2);
}

#[tokio::test]
async fn a_429_pauses_the_service_until_its_retry_after_without_counting_as_a_failure() {
    let app = TestApp::spawn_with(loopback).await;
    let api = Arc::new(Api::admin(&app).await);
    let fake = FakeProvider::start_with(Behaviour { expires_in: 30, ..Behaviour::default() }).await;
    machine_service(&api, &fake, "machine").await;
    // `machine_0` holds a 30 s token, the others one-hour tokens.
    let links = connect_many(&api, "machine", 0..1).await;
    fake.set(|b| b.expires_in = 3600);
    let links = [links, connect_many(&api, "machine", 1..6).await].concat();
    let (expired, valid) = (&links[0], &links[1]);
    app.clock.advance(3550);
    let token_before = access_token(&app, valid).await.unwrap();

    fake.set(|b| b.throttle = Some((429, Some("2".into()))));
    assert_eq!(refresh_due(&app.state).await.unwrap(), 6);
    let throttled = fake.token_count() - 6;
    assert!((1..=4).contains(&throttled), "the first answers paused the rest: {throttled} sent");
    fake.set(|b| b.throttle = None);

    // Paused: no token request, whoever asks. A valid token serves; without one, 503 and when.
    for _ in 0..2 {
        assert_eq!(refresh_due(&app.state).await.unwrap(), 0, "the background waits as well");
        let res = invoke(&api, valid, json!({"path": "/me"})).await;
        assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{}", res.body);
        assert_eq!(fake.api_calls().last().unwrap().token.as_deref(), Some(token_before.as_str()));
        let res = invoke(&api, expired, json!({"path": "/me"})).await;
        assert_eq!(
            (res.status, res.json()["error"]["code"].as_str()),
            (503, Some("unavailable")),
            "{}",
            res.body
        );
        let wait: u64 = res.header("retry-after").parse().unwrap();
        assert!((1..=2).contains(&wait), "{wait}");
        assert!(
            res.json()["error"]["message"].as_str().unwrap().contains("fewer token requests"),
            "{}",
            res.body
        );
        assert_eq!(fake.token_count(), 6 + throttled, "nothing sent during the pause");
        app.clock.advance(1);
    }

    // Two seconds on: every connection gets its new token.
    assert_eq!(refresh_due(&app.state).await.unwrap(), 6);
    assert_eq!(fake.token_count(), 6 + throttled + 6);
    let res = invoke(&api, expired, json!({"path": "/me"})).await;
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{}", res.body);
    for link in &links {
        let stored = row(&app, link).await;
        assert_eq!((stored.expires_at, stored.refresh_failures), (Some(T0 + 3552 + 3600), 0), "{link}");
    }
    let recorded: Vec<_> =
        events(&app, "machine_1").await.into_iter().filter(|e| e.kind == "refresh").collect();
    assert!(recorded.last().unwrap().ok);
}

#[tokio::test]
async fn throttles_in_a_row_never_make_a_connection_need_attention_and_back_off_without_retry_after() {
    let app = TestApp::spawn_with(|c| {
        loopback(c);
        c.refresh_concurrency_per_service = 1;
    })
    .await;
    let api = Arc::new(Api::admin(&app).await);
    let fake = FakeProvider::start().await;
    machine_service(&api, &fake, "machine").await;
    connect_many(&api, "machine", 0..1).await;
    app.clock.advance(3550);

    // No Retry-After: 1 s, then 2 s, then 4 s, … between attempts.
    fake.set(|b| b.throttle = Some((429, None)));
    let mut sent_at = Vec::new();
    for second in 0..8 {
        let before = fake.token_count();
        refresh_due(&app.state).await.unwrap();
        if fake.token_count() > before {
            sent_at.push(second);
        }
        app.clock.advance(1);
    }
    assert_eq!(sent_at, [0, 1, 3, 7], "backing off");
    let stored = row(&app, "machine_0").await;
    assert_eq!((stored.refresh_failures, stored.status.as_str()), (0, "connected"));
    assert!(stored.status_message.as_deref().unwrap().contains("HTTP 429"));
    let attention = api.get("/api/v1/connections?status=attention&owner=any").await;
    assert_eq!(attention.json()["connections"], json!([]), "{}", attention.body);
    let refreshes: Vec<_> =
        events(&app, "machine_0").await.into_iter().filter(|e| e.kind == "refresh").collect();
    assert_eq!(refreshes.len(), 4, "each throttled attempt is recorded");
    assert!(refreshes.iter().all(|e| !e.ok && e.message.as_deref().unwrap().contains("HTTP 429")));

    // A 503 with a Retry-After date is a throttle too; the next answer ends the backoff.
    app.clock.advance(60);
    let at = chrono::DateTime::from_timestamp(app.clock.now() + 5, 0).unwrap();
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    fake.set(|b| b.throttle = Some((503, Some(date))));
    refresh_due(&app.state).await.unwrap();
    let sent = fake.token_count();
    fake.set(|b| b.throttle = None);
    app.clock.advance(4);
    refresh_due(&app.state).await.unwrap();
    assert_eq!(fake.token_count(), sent, "until the date named");
    app.clock.advance(1);
    refresh_due(&app.state).await.unwrap();
    assert_eq!(fake.token_count(), sent + 1);
    assert_eq!(row(&app, "machine_0").await.refresh_failures, 0);
    assert_eq!(row(&app, "machine_0").await.status_message, None);
}

#[tokio::test]
async fn one_pass_renews_every_connection_due_not_only_the_first_batch() {
    let app = TestApp::spawn_with(loopback).await;
    let api = Arc::new(Api::admin(&app).await);
    let fake = FakeProvider::start().await;
    machine_service(&api, &fake, "machine").await;
    let links = connect_many(&api, "machine", 0..500).await;
    app.clock.advance(3500);

    let pass = tokio::time::timeout(Duration::from_secs(120), refresh_due(&app.state)).await;
    assert_eq!(pass.expect("the pass ends").unwrap(), 500);
    assert_eq!(fake.grants("client_credentials").len(), 1000);
    let renewed = app
        .state
        .db
        .run(|c| {
            use connections::db::schema::connections as table;
            use diesel::prelude::*;
            let renewed = table::table.filter(table::expires_at.eq(Some(T0 + 3500 + 3600)));
            Ok(renewed.count().get_result::<i64>(c)?)
        })
        .await
        .unwrap();
    assert_eq!(renewed, links.len() as i64);
    assert!(fake.peak_token_requests() <= 4);
    assert_eq!(refresh_due(&app.state).await.unwrap(), 0, "nothing due is left");
}
