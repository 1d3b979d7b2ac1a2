//! A webhook endpoint's URL is write-only, like a secret (a Slack incoming webhook's URL is a
//! credential): sealed in the database; shown masked on every page, in the delivery log and in the
//! audit log; never sent back in a form; kept by an edit that types no new one; and deliveries still
//! reach the full URL. A URL an older version stored in plain text is sealed at the next start.

use connections::db::schema::{audit_log, settings, webhook_deliveries, webhook_endpoints};
use diesel::prelude::*;
use serde_json::json;

use crate::support::{
    Api, Browser, Page, Receiver, Seen, TestApp, api_key_service, assert_hidden, audit, canary, connection,
    database_text, eventually, loopback, signed_by, stored_in, text_of,
};

const NOTIFICATIONS: &str = "/admin/settings/notifications";

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start} in {text}")) + start.len();
    text[from..].split(end).next().unwrap().to_owned()
}

/// The endpoint form's fields.
fn fields<'a>(url: &'a str, description: &'a str) -> [(&'static str, &'a str); 4] {
    [("url", url), ("description", description), ("event", "connection.created"), ("enabled", "on")]
}

/// Adds an endpoint through the page: the answer, the endpoint's id and its signing secret.
async fn add_endpoint(browser: &Browser, url: &str) -> (Page, String, String) {
    let res = browser.submit(NOTIFICATIONS, NOTIFICATIONS, &fields(url, "ops")).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let id = between(&res.body, "href=\"/admin/settings/notifications/", "\"");
    let secret = between(&res.body, "id=\"webhook-secret\">", "<");
    (res, id, secret)
}

/// Creates connection `link` (an event for the endpoint) and sends what is due.
async fn raise_event(app: &TestApp, api: &Api, link: &str) {
    api.create("/api/v1/connections", &connection("desk", link, &[])).await;
    assert_eq!(connections::alerts::delivery::deliver_due(&app.state).await.unwrap(), 1);
}

/// The details of the audit log's webhook entries.
async fn webhook_audit(app: &TestApp) -> String {
    let mut all = String::new();
    for action in ["webhook.create", "webhook.update", "webhook.delete"] {
        for entry in audit(app, action).await {
            all.push_str(&entry.details);
            all.push('\n');
        }
    }
    all
}

#[tokio::test]
async fn an_endpoint_url_is_never_shown_in_full_after_it_is_typed_and_deliveries_still_reach_it() {
    let app = TestApp::spawn_with(loopback).await;
    let (browser, api, receiver) = (app.admin().await, Api::admin(&app).await, Receiver::start(0).await);
    api.create("/api/v1/services", &api_key_service("desk")).await;
    let key = canary("hook");
    let url = format!("{}/{key}", receiver.url);
    let shown = format!("{}/…", receiver.url);
    let seen = Seen::default();

    // A form sent back with errors does not echo the URL: it asks for it again.
    let long = "x".repeat(201);
    let res = seen.keep(browser.submit(NOTIFICATIONS, NOTIFICATIONS, &fields(&url, &long)).await);
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(text_of(&res).contains("Enter the URL again"), "{}", text_of(&res));

    let (created, id, secret) = add_endpoint(&browser, &url).await;
    seen.keep(created);
    let endpoint = format!("{NOTIFICATIONS}/{id}");
    for path in [NOTIFICATIONS, endpoint.as_str()] {
        let page = seen.keep(browser.get(path).await);
        assert!(page.body.contains(&shown), "{path} shows the masked URL: {}", page.body);
    }
    raise_event(&app, &api, "desk_one").await;
    let got = receiver.received();
    assert_eq!(got[0].path, format!("/hooks/{key}"), "delivered to the full URL");
    assert!(signed_by(&got[0], &secret));

    // An edit that types no URL keeps the stored one.
    let res = browser.submit(&endpoint, &endpoint, &fields("", "edited")).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = seen.keep(browser.get(&endpoint).await);
    assert!(text_of(&page).contains(&shown), "{}", text_of(&page));
    raise_event(&app, &api, "desk_two").await;
    assert_eq!(receiver.received()[1].path, format!("/hooks/{key}"));

    // A new URL, typed, takes over; nothing listens there, and the log names it masked.
    let dead_key = canary("dead");
    let dead = format!("http://127.0.0.1:1/hooks/{dead_key}");
    let res = browser.submit(&endpoint, &endpoint, &fields(&dead, "moved")).await;
    assert_eq!(res.status, 303, "{}", res.body);
    raise_event(&app, &api, "desk_three").await;
    assert_eq!(receiver.received().len(), 2);
    let log = seen.keep(browser.get(&endpoint).await);
    let text = text_of(&log);
    assert!(text.contains("http://127.0.0.1:1/hooks/…") && text.contains("refused"), "{text}");

    let audited = webhook_audit(&app).await;
    assert!(audited.contains(&shown) && audited.contains("http://127.0.0.1:1/hooks/…"), "{audited}");
    let secrets = [key, dead_key];
    assert_hidden(&seen.text(), &secrets, "pages");
    assert_hidden(&audited, &secrets, "the audit log");
    assert_hidden(&database_text(&app).await, &secrets, "the database");
}

#[tokio::test]
async fn an_endpoint_url_stored_in_plain_text_is_sealed_and_masked_at_the_next_start() {
    let app = TestApp::spawn_with(loopback).await;
    let (browser, receiver) = (app.admin().await, Receiver::start(0).await);
    let key = canary("legacy");
    let url = format!("{}/{key}", receiver.url);
    let (_, id, secret) = add_endpoint(&browser, &url).await;
    // As an older version left it: the URL in plain text and nothing sealed, the audit log and a
    // failed delivery naming it in full, and the migration's request to mask the audit log.
    let (plain, row) = (url.clone(), id.parse::<i64>().unwrap());
    app.state
        .db
        .run(move |c| {
            diesel::update(webhook_endpoints::table.find(row))
                .set((webhook_endpoints::shown_url.eq(&plain), webhook_endpoints::url.eq(None::<Vec<u8>>)))
                .execute(c)?;
            let failed = format!("Connection refused by the upstream ({plain}).");
            diesel::insert_into(webhook_deliveries::table)
                .values((
                    webhook_deliveries::endpoint_id.eq(row),
                    webhook_deliveries::message_id.eq("msg_legacy"),
                    webhook_deliveries::event.eq("connection.created"),
                    webhook_deliveries::payload.eq("{}"),
                    webhook_deliveries::state.eq("failed"),
                    webhook_deliveries::attempts.eq(11),
                    webhook_deliveries::next_attempt_at.eq(0),
                    webhook_deliveries::last_error.eq(Some(failed)),
                    webhook_deliveries::created_at.eq(0),
                    webhook_deliveries::updated_at.eq(0),
                ))
                .execute(c)?;
            diesel::update(audit_log::table.filter(audit_log::target_type.eq("webhook")))
                .set(audit_log::details.eq(json!({ "url": plain }).to_string()))
                .execute(c)?;
            let marker = "pending.webhook_url_masking";
            diesel::delete(settings::table.find(marker)).execute(c)?;
            diesel::insert_into(settings::table)
                .values((
                    settings::key.eq(marker),
                    settings::value.eq("audit_log"),
                    settings::updated_at.eq(0),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let app = TestApp::spawn_on(app.stop().await, loopback).await;

    let browser = app.admin().await;
    let shown = format!("{}/…", receiver.url);
    let endpoint = format!("{NOTIFICATIONS}/{id}");
    let page = browser.get(&endpoint).await;
    assert!(page.body.contains(&shown) && !page.body.contains(&key), "{}", page.body);
    assert!(
        text_of(&page).contains(&format!("Connection refused by the upstream ({shown})")),
        "{}",
        text_of(&page)
    );
    let sealed =
        stored_in(&app).await.into_iter().find(|v| v.table == "webhook_endpoints" && v.column == "url");
    assert_eq!(sealed.expect("the URL is sealed").open(&app.state.keyring), Ok(url));
    let audited = webhook_audit(&app).await;
    assert!(audited.contains(&shown), "{audited}");
    assert_hidden(&audited, std::slice::from_ref(&key), "the audit log");
    assert_hidden(&database_text(&app).await, std::slice::from_ref(&key), "the database");

    // Deliveries reach the full URL.
    let res = browser.submit(&endpoint, &format!("{endpoint}/test"), &[]).await;
    assert_eq!(res.status, 303, "{}", res.body);
    eventually("the test delivery", async || receiver.received().len() == 1).await;
    let got = receiver.received();
    assert_eq!(got[0].path, format!("/hooks/{key}"));
    assert!(signed_by(&got[0], &secret));
}
