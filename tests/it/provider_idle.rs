//! Refresh tokens that die when idle (Google "Refresh token expiration",
//! https://developers.google.com/identity/protocols/oauth2#expiration; Microsoft, Box and Xero
//! likewise): a service's keep-alive interval makes the background refresher refresh a token nobody
//! uses, and a provider's `refresh_token_expires_in` is stored per connection, shown, and flagged
//! "Reconnect soon" in its last week.

use connections::ops::access_tokens::refresh_due;
use serde_json::json;

use crate::support::{Behaviour, Setup, T0, connect_oauth, connection, row, setup_with, text_of};

const DAY: i64 = 86_400;

#[tokio::test]
async fn an_idle_token_is_refreshed_by_the_background_refresher_after_the_keep_alive_interval() {
    // Access tokens that live a year: only the keep-alive refreshes them within it.
    let behaviour = Behaviour { expires_in: 365 * DAY, ..Behaviour::default() };
    let Setup { app, fake, api, browser } =
        setup_with(|_| {}, behaviour, |s| s["oauth2"]["keep_alive_days"] = 30.into()).await;
    // A connection of a service without a keep-alive stays untouched.
    let mut other = crate::support::oauth_service_at(&fake, "plain");
    other["oauth2"]["scopes"] = json!([{"scope": "read", "display_name": "Read"}]);
    api.create("/api/v1/services", &other).await;
    api.create("/api/v1/connections", &connection("plain", "plain_main", &["read"])).await;
    connect_oauth(&browser, "plain_main").await;

    app.clock.advance(30 * DAY - 1);
    assert_eq!(refresh_due(&app.state).await.unwrap(), 0, "idle for less than 30 days");
    app.clock.advance(1);
    assert_eq!(refresh_due(&app.state).await.unwrap(), 1);
    assert_eq!(fake.grants("refresh_token").len(), 1);
    assert!(fake.api_calls().is_empty(), "no invoke was needed");
    let stored = row(&app, "zoho_main").await;
    assert_eq!((stored.last_refresh_at, stored.status.as_str()), (Some(T0 + 30 * DAY), "connected"));
    assert_eq!(crate::support::access_token(&app, "zoho_main").await, Some(fake.issued("access")[2].clone()));
    assert_eq!(row(&app, "plain_main").await.last_refresh_at, None);

    // The interval counts from the last refresh.
    app.clock.advance(29 * DAY);
    assert_eq!(refresh_due(&app.state).await.unwrap(), 0);
    app.clock.advance(DAY);
    assert_eq!(refresh_due(&app.state).await.unwrap(), 1);
    assert_eq!(fake.grants("refresh_token").len(), 2);
}

#[tokio::test]
async fn a_refresh_token_expiry_from_the_provider_is_stored_shown_and_flagged_in_its_last_week() {
    let behaviour = Behaviour { refresh_token_expires_in: Some(8 * DAY), ..Behaviour::default() };
    let Setup { app, fake, api, browser } = setup_with(|_| {}, behaviour, |_| {}).await;
    assert_eq!(row(&app, "zoho_main").await.refresh_expires_at, Some(T0 + 8 * DAY));
    let shown = api.get("/api/v1/connections/zoho_main").await.json();
    assert_eq!(shown["reconnect_soon"], false);
    assert!(shown["refresh_token_expires_at"].as_str().is_some(), "{shown}");
    let page = text_of(&browser.get("/admin/connections/zoho_main").await);
    assert!(page.contains("Refresh token expiry") && !page.contains("Reconnect soon"), "{page}");

    app.clock.advance(DAY);
    let shown = api.get("/api/v1/connections/zoho_main").await.json();
    assert_eq!(shown["reconnect_soon"], true, "{shown}");
    let listed = api.get("/api/v1/connections").await.json();
    assert_eq!(listed["connections"][0]["reconnect_soon"], true);
    // A day later the session has ended: a new one.
    let page = text_of(&app.admin().await.get("/admin/connections/zoho_main").await);
    assert!(page.contains("Reconnect soon"), "{page}");

    // A rotated refresh token brings its own expiry.
    fake.set(|b| b.refresh_token_expires_in = Some(60 * DAY));
    app.clock.advance(3600);
    assert_eq!(crate::support::me(&api).await.json()["status"], 200);
    let now = T0 + DAY + 3600;
    assert_eq!(row(&app, "zoho_main").await.refresh_expires_at, Some(now + 60 * DAY));
    assert_eq!(api.get("/api/v1/connections/zoho_main").await.json()["reconnect_soon"], false);

    // Revoked: no expiry is left to show.
    let res = api.post("/api/v1/connections/zoho_main/revoke", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(row(&app, "zoho_main").await.refresh_expires_at, None);
}

#[tokio::test]
async fn reconnect_soon_shows_as_a_badge_with_its_reason_in_both_lists_and_in_the_json_list() {
    let behaviour = Behaviour { refresh_token_expires_in: Some(30 * DAY), ..Behaviour::default() };
    let Setup { app: _app, fake, api, browser } = setup_with(|_| {}, behaviour, |_| {}).await;
    fake.set(|b| b.refresh_token_expires_in = Some(2 * DAY));
    api.create("/api/v1/connections", &connection("zoho", "zoho_soon", &["read", "offline_access"])).await;
    connect_oauth(&browser, "zoho_soon").await;

    /// The row of `link` on a page (from its link name to the end of its row).
    fn row_of<'a>(body: &'a str, link: &str) -> &'a str {
        let at =
            body.find(&format!("/admin/connections/{link}\"")).unwrap_or_else(|| panic!("{link} in {body}"));
        body[at..].split("</tr>").next().unwrap()
    }
    for path in ["/admin/connections", "/admin/connections?owner=any", "/admin/services/zoho"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        let soon = row_of(&page.body, "zoho_soon");
        assert!(soon.contains("Reconnect soon"), "{path}: {soon}");
        assert!(soon.contains("Refresh token expires in 2 days — reconnect"), "{path}: {soon}");
        assert!(!row_of(&page.body, "zoho_main").contains("Reconnect soon"), "{path}");
    }
    let listed = api.get("/api/v1/connections?sort=name").await.json();
    let flags: Vec<(String, bool)> = listed["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["link_name"].as_str().unwrap().to_owned(), c["reconnect_soon"].as_bool().unwrap()))
        .collect();
    assert_eq!(flags, [("zoho_main".to_owned(), false), ("zoho_soon".to_owned(), true)]);
}
