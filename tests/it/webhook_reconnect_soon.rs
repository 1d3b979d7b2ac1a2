//! `connection.reconnect_soon`: sent once when a connected connection's refresh token comes within a
//! week of expiring — not again on the next sweep, from a second instance sweeping at the same
//! moment, or after a restart — and again after its owner reconnects. The endpoint form offers it.

use connections::alerts::delivery::deliver_due;
use connections::alerts::reconnect_soon::sweep;
use connections::clock::rfc3339;
use connections::config::Config;

use crate::support::{
    Behaviour, Browser, Receiver, Setup, T0, TestApp, connect_oauth, loopback, setup_with, signed_by,
};

const DAY: i64 = 86_400;

/// Sessions that outlive the days the test moves the clock by.
fn long_sessions(config: &mut Config) {
    loopback(config);
    config.session_idle_secs = 60 * DAY;
    config.session_absolute_secs = 60 * DAY;
}

/// Adds an endpoint for `events` through the page; returns its signing secret.
async fn add_endpoint(browser: &Browser, url: &str, events: &[&str]) -> String {
    let mut form = vec![("url", url), ("description", "ops"), ("enabled", "on")];
    form.extend(events.iter().map(|e| ("event", *e)));
    let res = browser.submit("/admin/settings/notifications", "/admin/settings/notifications", &form).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let from = res.body.find("id=\"webhook-secret\">").unwrap() + "id=\"webhook-secret\">".len();
    res.body[from..].split('<').next().unwrap().to_owned()
}

/// One sweep of `app`'s upkeep at its clock's time: how many connections it claimed.
async fn swept(app: &TestApp) -> usize {
    sweep(&app.state.db, app.clock.now()).await.unwrap()
}

#[tokio::test]
async fn reconnect_soon_is_sent_once_when_a_refresh_token_enters_its_last_week_and_again_after_a_reconnect() {
    let behaviour = Behaviour { refresh_token_expires_in: Some(10 * DAY), ..Behaviour::default() };
    let Setup { app, fake, browser, .. } = setup_with(long_sessions, behaviour, |_| {}).await;
    let form = browser.get("/admin/settings/notifications").await;
    assert!(form.body.contains("value=\"connection.reconnect_soon\""), "the endpoint form offers it");
    let receiver = Receiver::start(0).await;
    let secret = add_endpoint(&browser, &receiver.url, &["connection.reconnect_soon"]).await;
    let other = TestApp::spawn_on(app.shared_db(), long_sessions).await;

    assert_eq!(swept(&app).await, 0, "ten days out");
    for instance in [&app, &other] {
        instance.clock.advance(3 * DAY - 1);
    }
    assert_eq!(swept(&app).await, 0, "a second before its last week");
    for instance in [&app, &other] {
        instance.clock.advance(1);
    }
    let (a, b) = tokio::join!(swept(&app), swept(&other));
    assert_eq!(a + b, 1, "two instances sweeping at once claim it once");
    deliver_due(&app.state).await.unwrap();
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(signed_by(&got[0], &secret), "{:?}", got[0]);
    let body = got[0].json();
    assert_eq!(body["type"], "connection.reconnect_soon");
    assert_eq!(body["data"]["connection"]["link_name"], "zoho_main");
    assert_eq!(body["data"]["connection"]["status"], "connected");
    assert_eq!(body["data"]["connection"]["refresh_token_expires_at"], rfc3339(T0 + 10 * DAY));

    // Later sweeps, on either instance, and a restarted instance send nothing more.
    app.clock.advance(3600);
    other.clock.advance(3600);
    assert_eq!((swept(&app).await, swept(&other).await), (0, 0));
    other.stop().await;
    let app = TestApp::spawn_on(app.stop().await, long_sessions).await;
    app.clock.advance(3 * DAY + 3600);
    assert_eq!(swept(&app).await, 0);
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    assert_eq!(receiver.received().len(), 1);

    // Reconnected, with a token that again expires within the week: its own event, once.
    let browser = app.admin().await;
    fake.set(|b| b.refresh_token_expires_in = Some(5 * DAY));
    connect_oauth(&browser, "zoho_main").await;
    assert_eq!(swept(&app).await, 1);
    assert_eq!(swept(&app).await, 0);
    deliver_due(&app.state).await.unwrap();
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].json()["data"]["connection"]["refresh_token_expires_at"],
        rfc3339(app.clock.now() + 5 * DAY)
    );

    // Reconnected with a 60-day token: nothing until its last week begins.
    fake.set(|b| b.refresh_token_expires_in = Some(60 * DAY));
    connect_oauth(&browser, "zoho_main").await;
    assert_eq!(swept(&app).await, 0);
    app.clock.advance(53 * DAY - 1);
    assert_eq!(swept(&app).await, 0);
    app.clock.advance(1);
    assert_eq!(swept(&app).await, 1);
    deliver_due(&app.state).await.unwrap();
    assert_eq!(receiver.received().len(), 3);
}
