//! Webhooks (Settings > Notifications): signed per the Standard Webhooks convention and checked
//! with an implementation of it written from the specification; retried with backoff after the
//! receiver fails; kept across a restart; endpoints refused where the outbound policy forbids them;
//! the events a broken connection raises.

use connections::alerts::delivery::deliver_due;
use connections::alerts::endpoints::refused_address;
use connections::outbound::AddressPolicy;
use serde_json::json;

use crate::support::{
    Api, Browser, Page, Receiver, Setup, TestApp, api_key_service, assert_hidden, connect_oauth, connection,
    database_text, eventually, loopback, me, setup, signed_by, text_of,
};

/// Adds an endpoint through the page and returns its id and the secret shown once.
async fn add_endpoint(browser: &Browser, url: &str, events: &[&str]) -> (String, String) {
    let mut form = vec![("url", url), ("description", "ops"), ("enabled", "on")];
    form.extend(events.iter().map(|e| ("event", *e)));
    let res = browser.submit("/admin/settings/notifications", "/admin/settings/notifications", &form).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let secret = between(&res.body, "id=\"webhook-secret\">", "<");
    let id = between(&res.body, "href=\"/admin/settings/notifications/", "\"");
    (id, secret)
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start} in {text}")) + start.len();
    text[from..].split(end).next().unwrap().to_owned()
}

async fn log_page(browser: &Browser, id: &str) -> Page {
    let page = browser.get(&format!("/admin/settings/notifications/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

async fn create_connection(api: &Api, link: &str) {
    api.create("/api/v1/connections", &connection("desk", link, &[])).await;
}

#[tokio::test]
async fn a_delivery_is_signed_as_the_convention_says_and_the_secret_is_shown_once() {
    let app = TestApp::spawn_with(loopback).await;
    let (browser, api, receiver) = (app.admin().await, Api::admin(&app).await, Receiver::start(0).await);
    let (id, secret) = add_endpoint(&browser, &receiver.url, &["connection.created"]).await;
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    api.create("/api/v1/services", &api_key_service("desk")).await;
    create_connection(&api, "desk_main").await;

    assert_eq!(deliver_due(&app.state).await.unwrap(), 1);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let delivery = &got[0];
    assert!(signed_by(delivery, &secret), "{delivery:?}");
    assert!(delivery.id.starts_with("msg_") && delivery.timestamp == app.clock.now().to_string());
    assert_eq!(delivery.content_type, "application/json");
    let body = delivery.json();
    assert_eq!(body["type"], "connection.created");
    assert_eq!(body["data"]["connection"]["link_name"], "desk_main");
    assert_eq!(body["data"]["connection"]["owner"], "admin");
    // A body changed in transit, or another endpoint's secret, does not verify.
    let mut tampered = delivery.clone();
    tampered.body = tampered.body.replace("desk_main", "desk_evil");
    assert!(!signed_by(&tampered, &secret));

    let page = log_page(&browser, &id).await;
    let text = text_of(&page);
    assert!(text.contains("Delivered") && text.contains(&delivery.id), "{text}");
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0, "sent once");
    // Write-only: not on any page since, and sealed in the database.
    let list = browser.get("/admin/settings/notifications").await;
    assert_hidden(&format!("{}{}", page.body, list.body), std::slice::from_ref(&secret), "pages");
    assert_hidden(&database_text(&app).await, &[secret], "the database");
}

#[tokio::test]
async fn a_failing_receiver_is_tried_again_with_backoff_until_it_answers() {
    let scraper = "metrics-token-for-the-webhook-test";
    let app = TestApp::spawn_with(|config| {
        loopback(config);
        config.metrics_token = Some(connections::crypto::Secret::new(scraper.to_owned()));
    })
    .await;
    let (browser, api, receiver) = (app.admin().await, Api::admin(&app).await, Receiver::start(2).await);
    let (id, secret) = add_endpoint(&browser, &receiver.url, &["connection.created"]).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    create_connection(&api, "desk_main").await;

    assert_eq!(deliver_due(&app.state).await.unwrap(), 1);
    let text = text_of(&log_page(&browser, &id).await);
    assert!(text.contains("Pending") && text.contains("The receiver answered 500.") && text.contains("boom"));
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0, "not before 5 s");
    app.clock.advance(5);
    assert_eq!(deliver_due(&app.state).await.unwrap(), 1);
    app.clock.advance(29);
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0, "not before 30 s more");
    app.clock.advance(1);
    assert_eq!(deliver_due(&app.state).await.unwrap(), 1);

    let got = receiver.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|d| d.id == got[0].id && signed_by(d, &secret)), "one message, each signed");
    let text = text_of(&log_page(&browser, &id).await);
    assert!(text.contains("Delivered") && !text.contains("Pending"), "{text}");
    app.clock.advance(86_400);
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);

    let scraped = app.http().get(format!("{}/metrics", app.base)).bearer_auth(scraper).send().await.unwrap();
    let scraped = scraped.text().await.unwrap();
    for line in [
        r#"connections_webhook_deliveries_total{outcome="delivered"} 1"#,
        r#"connections_webhook_deliveries_total{outcome="retrying"} 2"#,
        r#"connections_webhook_deliveries_total{outcome="failed"} 0"#,
    ] {
        assert!(scraped.lines().any(|l| l == line), "{line} in:\n{scraped}");
    }
}

#[tokio::test]
async fn a_pending_delivery_is_sent_by_the_next_instance_after_a_restart() {
    let app = TestApp::spawn_with(loopback).await;
    let (browser, api, receiver) = (app.admin().await, Api::admin(&app).await, Receiver::start(0).await);
    let (_, secret) = add_endpoint(&browser, &receiver.url, &["connection.created"]).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    create_connection(&api, "desk_main").await;
    let db = app.stop().await;
    assert!(receiver.received().is_empty());

    let _next = TestApp::spawn_on(db, |config| {
        loopback(config);
        config.webhook_interval_secs = 1;
    })
    .await;
    eventually("the restarted instance's worker to send it", async || receiver.received().len() == 1).await;
    let got = receiver.received();
    assert!(signed_by(&got[0], &secret) && got[0].json()["type"] == "connection.created");
}

#[tokio::test]
async fn two_instances_sending_at_once_send_each_delivery_once() {
    let app = TestApp::spawn_with(loopback).await;
    let other = TestApp::spawn_on(app.shared_db(), loopback).await;
    let (browser, api, receiver) = (app.admin().await, Api::admin(&app).await, Receiver::start(0).await);
    add_endpoint(&browser, &receiver.url, &["connection.created"]).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    for n in 0..25 {
        create_connection(&api, &format!("desk_{n}")).await;
    }
    let (a, b) = tokio::join!(deliver_due(&app.state), deliver_due(&other.state));
    assert_eq!(a.unwrap() + b.unwrap(), 25);
    let mut ids: Vec<String> = receiver.received().into_iter().map(|d| d.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), receiver.received().len()), (25, 25));
}

#[tokio::test]
async fn send_test_delivers_a_test_event_to_that_endpoint() {
    let app = TestApp::spawn_with(loopback).await;
    let (browser, receiver) = (app.admin().await, Receiver::start(0).await);
    let (id, secret) = add_endpoint(&browser, &receiver.url, &["connection.deleted"]).await;
    let path = format!("/admin/settings/notifications/{id}");
    let res = browser.submit(&path, &format!("{path}/test"), &[]).await;
    assert_eq!(res.status, 303, "{}", res.body);
    eventually("the test delivery", async || receiver.received().len() == 1).await;
    let got = receiver.received();
    assert!(signed_by(&got[0], &secret) && got[0].json()["type"] == "webhook.test");
}

#[tokio::test]
async fn an_endpoint_the_outbound_policy_forbids_is_refused_when_saved() {
    let app = TestApp::spawn().await;
    let browser = app.admin().await;
    for url in [
        "http://127.0.0.1:9/hooks",
        "https://localhost/hooks",
        "https://[::1]/hooks",
        "https://user:pw@127.0.0.1/hooks",
        "ftp://127.0.0.1/hooks",
        "not a url",
    ] {
        let form = [("url", url), ("event", "connection.created"), ("enabled", "on")];
        let res =
            browser.submit("/admin/settings/notifications", "/admin/settings/notifications", &form).await;
        assert_eq!(res.status, 422, "{url}: {}", res.body);
        assert!(text_of(&res).contains("URL") || text_of(&res).contains("may not receive"), "{url}");
    }
    let none = [("url", "http://127.0.0.1:9/hooks"), ("enabled", "on")];
    let res = browser.submit("/admin/settings/notifications", "/admin/settings/notifications", &none).await;
    assert!(res.status == 422 && text_of(&res).contains("Choose at least one event."));
    assert!(!browser.get("/admin/settings/notifications").await.body.contains("data-endpoint="));

    // The classifier itself: names and literals, resolved and classified, nothing sent.
    let policy = AddressPolicy::default();
    let refused = async |url: &str| refused_address(&policy, &url::Url::parse(url).unwrap()).await;
    assert!(refused("https://localhost/hooks").await.unwrap().contains("internal"));
    for private_or_link_local in ["192.168.1.20", "10.1.2.3", "169.254.169.254"] {
        assert!(!policy.permits(private_or_link_local.parse().unwrap(), 443), "{private_or_link_local}");
    }
    assert!(refused("https://[fd00::1]/hooks").await.is_some());
    assert!(refused("http://93.184.216.34/hooks").await.unwrap().contains("plain http"));
    assert_eq!(refused("https://93.184.216.34/hooks").await, None);
    let loopback_allowed = AddressPolicy {
        allow: vec![connections::config::Cidr::parse("127.0.0.1/32").unwrap()],
        allow_http: true,
    };
    let url = url::Url::parse("http://127.0.0.1:8080/hooks").unwrap();
    assert_eq!(refused_address(&loopback_allowed, &url).await, None);
}

#[tokio::test]
async fn a_broken_connection_raises_its_events_once_and_its_recovery() {
    let Setup { app, fake, api, browser } = setup().await;
    let receiver = Receiver::start(0).await;
    let all = [
        "connection.needs_reconnect",
        "connection.recovered",
        "connection.refresh_failing",
        "service.credentials_refused",
        "connection.revoked",
    ];
    let (_, secret) = add_endpoint(&browser, &receiver.url, &all).await;
    let types = async || {
        deliver_due(&app.state).await.unwrap();
        let got = receiver.received();
        assert!(got.iter().all(|d| signed_by(d, &secret)));
        got.iter().map(|d| d.json()["type"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };

    fake.set(|b| b.token_error = Some((503, "")));
    app.clock.advance(3600);
    for _ in 0..4 {
        assert_eq!(me(&api).await.status, 503);
        app.clock.advance(6);
    }
    assert_eq!(types().await, ["connection.refresh_failing"], "once, at the third failure");
    fake.set(|b| b.token_error = None);
    assert_eq!(me(&api).await.json()["status"], 200);
    assert_eq!(types().await[1..], ["connection.recovered"]);

    fake.set(|b| b.token_error = Some((401, "invalid_client")));
    app.clock.advance(3600);
    assert_eq!(me(&api).await.status, 503);
    let got = types().await;
    assert_eq!(got[2..], ["service.credentials_refused"]);
    let refused = receiver.received()[2].json();
    assert_eq!(refused["data"]["service"]["link_name"], "zoho");

    fake.set(|b| b.token_error = Some((400, "invalid_grant")));
    let res =
        api.patch("/api/v1/services/zoho", &json!({"oauth2": {"client_secret": fake.client_secret}})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(me(&api).await.status, 409);
    assert_eq!(types().await[3..], ["connection.needs_reconnect"]);
    fake.set(|b| b.token_error = None);
    // Hours passed: the first session has timed out.
    connect_oauth(&app.admin().await, "zoho_main").await;
    assert_eq!(types().await[4..], ["connection.recovered"]);
    let body = receiver.received()[4].json();
    assert_eq!(body["data"]["connection"]["status"], "connected");
    assert_hidden(
        &serde_json::to_string(&receiver.received().iter().map(|d| &d.body).collect::<Vec<_>>()).unwrap(),
        &fake.secrets(),
        "webhook bodies",
    );
}
