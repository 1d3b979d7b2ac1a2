//! Email alerts: SMTP settings (the password sealed and write-only), `mailto:` endpoints that go
//! through the same queue as webhooks, to a list of addresses and the connection's owner, sent to a
//! small SMTP server of the test's own on loopback.

use connections::alerts::delivery::deliver_due;
use connections::models::user::Role;

use crate::support::{
    Api, Browser, SmtpServer, TestApp, api_key_service, assert_hidden, connection, database_text, loopback,
    text_of,
};

const PAGE: &str = "/admin/settings/notifications";

async fn save_smtp(browser: &Browser, fields: &[(&str, &str)]) -> u16 {
    browser.submit(PAGE, "/admin/settings/notifications/smtp", fields).await.status
}

async fn add_email_endpoint(browser: &Browser, url: &str) -> crate::support::Page {
    let form = [("url", url), ("event", "connection.created"), ("email_owner", "on"), ("enabled", "on")];
    browser.submit(PAGE, PAGE, &form).await
}

#[tokio::test]
async fn an_event_is_emailed_to_the_list_and_the_owner_through_the_smtp_server() {
    let app = TestApp::spawn_with(loopback).await;
    let (browser, server) = (app.admin().await, SmtpServer::start().await);
    let port = server.port.to_string();
    let res = add_email_endpoint(&browser, "mailto:ops@example.com").await;
    assert_eq!(res.status, 422, "no SMTP server yet");
    assert!(text_of(&res).contains("Set up email"), "{}", text_of(&res));

    // A password is stored sealed and never shown; plain text never carries credentials.
    let password = "smtp-password-canary-71c3";
    let secured = [
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", port.as_str()),
        ("smtp_security", "starttls"),
        ("smtp_username", "alerts"),
        ("smtp_password", password),
        ("smtp_from", "alerts@example.com"),
    ];
    assert_eq!(save_smtp(&browser, &secured).await, 303);
    let page = browser.get(PAGE).await;
    assert!(page.body.contains("Stored: leave blank to keep it"));
    assert_hidden(&page.body, &[password.to_owned()], "the settings page");
    assert_hidden(&database_text(&app).await, &[password.to_owned()], "the database");
    let mut plain = secured;
    plain[2] = ("smtp_security", "none");
    assert_eq!(save_smtp(&browser, &plain).await, 422);
    plain[3] = ("smtp_username", "");
    plain[4] = ("smtp_password", "");
    assert_eq!(save_smtp(&browser, &plain).await, 303);

    let res = add_email_endpoint(&browser, "mailto:ops@example.com, oncall@example.com").await;
    assert_eq!(res.status, 303, "{}", res.body);
    app.add_user("owner@example.com", Role::SdAdmin, "owner-password-long").await;
    let (admin, owner) = (Api::admin(&app).await, Api::for_user(&app, "owner@example.com").await);
    admin.create("/api/v1/services", &api_key_service("desk")).await;
    owner.create("/api/v1/connections", &connection("desk", "desk_main", &[])).await;
    assert_eq!(deliver_due(&app.state).await.unwrap(), 1);

    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.from, "alerts@example.com");
    assert_eq!(mail.to, ["ops@example.com", "oncall@example.com", "owner@example.com"]);
    assert!(mail.data.contains("Subject: [Connections] A connection was created"), "{}", mail.data);
    assert!(mail.data.contains("Connection: desk_main") && mail.data.contains("Owner: owner@example.com"));
    let endpoint = between(&browser.get(PAGE).await.body, "href=\"/admin/settings/notifications/", "\"");
    let log = text_of(&browser.get(&format!("{PAGE}/{endpoint}")).await);
    assert!(log.contains("Delivered") && log.contains("250"), "{log}");
}

#[tokio::test]
async fn an_smtp_server_the_outbound_policy_forbids_is_refused() {
    let app = TestApp::spawn().await;
    let browser = app.admin().await;
    for host in ["127.0.0.1", "localhost"] {
        let fields = [
            ("smtp_host", host),
            ("smtp_port", "587"),
            ("smtp_security", "starttls"),
            ("smtp_from", "alerts@example.com"),
        ];
        let res = browser.submit(PAGE, "/admin/settings/notifications/smtp", &fields).await;
        assert_eq!(res.status, 422, "{host}");
        assert!(text_of(&res).contains("This server may not be used"), "{host}: {}", text_of(&res));
    }
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start} in {text}")) + start.len();
    text[from..].split(end).next().unwrap().to_owned()
}
