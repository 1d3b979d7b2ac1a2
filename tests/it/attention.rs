//! "Needs attention": a connection that needs reconnecting, whose refreshes keep failing, or whose
//! service's client the provider refused shows on the list's filter (pages and API), in the
//! navigation's count, and on its owner's banner; it leaves them once it works again. So does a
//! connected one whose refresh token expires within a week, as the clock moves it there.

use connections::config::Config;
use serde_json::json;

use crate::support::{
    Behaviour, Browser, Page, Setup, connect_oauth, connection, invoke, me, second_admin, setup, setup_with,
    text_of,
};

const DAY: i64 = 86_400;

/// The link names a list page shows, in order.
fn listed(page: &Page) -> Vec<String> {
    page.body
        .split("data-link-name=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

/// The navigation's count, if it shows one.
fn nav_count(page: &Page) -> Option<u32> {
    let rest = page.body.split("class=\"nav-count\"").nth(1)?;
    rest.split('>').nth(1)?.split('<').next()?.trim().parse().ok()
}

async fn attention_api(setup: &Setup, owner: &str) -> Vec<String> {
    let res = setup.api.get(&format!("/api/v1/connections?status=attention&owner={owner}")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let shown = res.json();
    shown["connections"].as_array().unwrap().iter().map(|c| c["link_name"].as_str().unwrap().into()).collect()
}

async fn home(browser: &Browser) -> Page {
    let res = browser.get("/admin/connections").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res
}

#[tokio::test]
async fn a_broken_connection_shows_on_the_filter_the_nav_count_and_its_owners_banner_until_it_works() {
    let setup = setup().await;
    let Setup { app, fake, api, browser } = &setup;
    api.create("/api/v1/connections", &connection("zoho", "zoho_other", &["read", "offline_access"])).await;
    connect_oauth(browser, "zoho_other").await;
    let page = home(browser).await;
    assert_eq!((nav_count(&page), page.body.contains("attention-banner")), (None, false));
    assert!(attention_api(&setup, "any").await.is_empty());

    // The grant dies: Needs reconnect.
    fake.set(|b| b.token_error = Some((400, "invalid_grant")));
    app.clock.advance(3600);
    assert_eq!(me(api).await.status, 409);
    let page = home(browser).await;
    assert_eq!(nav_count(&page), Some(1));
    let text = text_of(&page);
    assert!(text.contains("One of your connections needs attention"), "{text}");
    let filtered = browser.get("/admin/connections?status=attention").await;
    assert_eq!(listed(&filtered), ["zoho_main"]);
    assert_eq!(attention_api(&setup, "me").await, ["zoho_main"]);

    // Refreshes of the other one fail three times in a row: refresh failing.
    fake.set(|b| b.token_error = Some((503, "")));
    for attempt in 1..=3 {
        let res = invoke(api, "zoho_other", json!({"path": "/me"})).await;
        assert_eq!(res.status, 503, "{}", res.body);
        assert_eq!(listed(&browser.get("/admin/connections?status=attention").await).len(), {
            if attempt < 3 { 1 } else { 2 }
        });
        app.clock.advance(6);
    }
    assert_eq!(attention_api(&setup, "any").await, ["zoho_main", "zoho_other"]);

    // Another admin sees the count, but no banner: none of theirs needs attention.
    let other = second_admin(app, "second").await;
    let page = home(&other).await;
    assert_eq!((nav_count(&page), page.body.contains("attention-banner")), (Some(2), false));
    let everyone = other.get("/admin/connections?owner=any&status=attention").await;
    assert_eq!(listed(&everyone), ["zoho_main", "zoho_other"]);

    // Reconnected, and refreshing again: neither needs attention.
    fake.set(|b| b.token_error = None);
    connect_oauth(browser, "zoho_main").await;
    assert_eq!(invoke(api, "zoho_other", json!({"path": "/me"})).await.json()["status"], 200);
    let page = home(browser).await;
    assert_eq!((nav_count(&page), page.body.contains("attention-banner")), (None, false));
    assert!(attention_api(&setup, "any").await.is_empty());
}

#[tokio::test]
async fn the_connected_connections_of_a_service_whose_client_was_refused_need_attention() {
    let setup = setup().await;
    let Setup { app, fake, api, browser } = &setup;
    api.create("/api/v1/connections", &connection("zoho", "zoho_unused", &["read"])).await;
    fake.set(|b| b.token_error = Some((401, "invalid_client")));
    app.clock.advance(3600);
    assert_eq!(me(api).await.status, 503);
    assert_eq!(attention_api(&setup, "any").await, ["zoho_main"], "not the one never connected");
    assert_eq!(nav_count(&home(browser).await), Some(1));

    fake.set(|b| b.token_error = None);
    let res =
        api.patch("/api/v1/services/zoho", &json!({"oauth2": {"client_secret": fake.client_secret}})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(me(api).await.json()["status"], 200);
    assert!(attention_api(&setup, "any").await.is_empty());
    assert_eq!(nav_count(&home(browser).await), None);
}

#[tokio::test]
async fn the_api_refuses_an_unknown_status_and_documents_attention() {
    let setup = setup().await;
    let res = setup.api.get("/api/v1/connections?status=broken").await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("attention"), "{}", res.body);
    let doc = setup.api.get("/api/v1/openapi.json").await.json();
    let params = doc["paths"]["/api/v1/connections"]["get"]["parameters"].as_array().unwrap().clone();
    let status = params.iter().find(|p| p["name"] == "status").unwrap();
    assert!(status.to_string().contains("\"attention\""), "{status}");
}

/// Sessions that outlive the days these tests move the clock by (a new sign-in would itself clear the
/// cached count, and hide a count that went stale).
fn long_sessions(config: &mut Config) {
    config.session_idle_secs = 60 * DAY;
    config.session_absolute_secs = 60 * DAY;
}

#[tokio::test]
async fn a_refresh_token_expiring_within_a_week_needs_attention_and_the_count_follows_the_clock() {
    // `zoho_main`'s refresh token expires in 10 days, `zoho_soon`'s in 3.
    let behaviour = Behaviour { refresh_token_expires_in: Some(10 * DAY), ..Behaviour::default() };
    let setup = setup_with(long_sessions, behaviour, |_| {}).await;
    let Setup { app, fake, api, browser } = &setup;
    fake.set(|b| b.refresh_token_expires_in = Some(3 * DAY));
    api.create("/api/v1/connections", &connection("zoho", "zoho_soon", &["read", "offline_access"])).await;
    connect_oauth(browser, "zoho_soon").await;

    let page = home(browser).await;
    assert_eq!(nav_count(&page), Some(1));
    assert!(text_of(&page).contains("One of your connections needs attention"), "{}", text_of(&page));
    let filtered = browser.get("/admin/connections?status=attention").await;
    assert_eq!(listed(&filtered), ["zoho_soon"]);
    let text = text_of(&filtered);
    assert!(
        text.contains("Reconnect soon") && text.contains("Refresh token expires in 3 days — reconnect"),
        "{text}"
    );
    assert_eq!(attention_api(&setup, "any").await, ["zoho_soon"]);

    // Nothing changes in the database: the clock alone moves `zoho_main` into its last week, and
    // the navigation's count (cached since the first page) follows at that very second.
    app.clock.advance(3 * DAY - 1);
    assert_eq!(nav_count(&home(browser).await), Some(1));
    assert_eq!(nav_count(&home(browser).await), Some(1));
    app.clock.advance(1);
    let page = home(browser).await;
    assert_eq!(nav_count(&page), Some(2));
    assert!(text_of(&page).contains("2 of your connections need attention"), "{}", text_of(&page));
    let filtered = browser.get("/admin/connections?status=attention").await;
    assert_eq!(listed(&filtered), ["zoho_main", "zoho_soon"]);
    let text = text_of(&filtered);
    assert!(text.contains("Refresh token expires in 7 days — reconnect"), "{text}");
    assert!(text.contains("Refresh token expired — reconnect"), "{text}");
    assert_eq!(attention_api(&setup, "me").await, ["zoho_main", "zoho_soon"]);

    // Reconnected with a token that lives 60 days: it leaves the count at once.
    fake.set(|b| b.refresh_token_expires_in = Some(60 * DAY));
    connect_oauth(browser, "zoho_main").await;
    assert_eq!(nav_count(&home(browser).await), Some(1));
    assert_eq!(attention_api(&setup, "any").await, ["zoho_soon"]);
}
