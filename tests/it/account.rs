//! My account, for every signed-in user: changing one's own password (the current one required, the
//! new one twice), the list of one's sessions with browser and address, and ending any of them.

use connections::models::user::Role;

use crate::support::{ADMIN_PASSWORD, Api, Browser, Page, TestApp, audit, flash_of, follow, text_of};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                      Version/17.5 Safari/605.1.15";

/// A browser that sends `agent` as its `User-Agent`.
fn browser_as(app: &TestApp, agent: &str) -> Browser {
    let mut browser = app.browser();
    browser.http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(agent)
        .build()
        .unwrap();
    browser
}

/// The sessions My account lists: `(handle, row text, is this browser)`.
fn sessions(page: &Page) -> Vec<(String, String, bool)> {
    page.body
        .split("<tr data-session=\"")
        .skip(1)
        .map(|rest| {
            let handle = rest.split('"').next().unwrap().to_owned();
            let row = rest.split("</tr>").next().unwrap();
            let text = text_of(&Page { status: 200, headers: Default::default(), body: format!("<x {row}") });
            (handle, text, row.contains("data-current=\"true\""))
        })
        .collect()
}

async fn change(browser: &Browser, current: &str, new: &str, again: &str) -> Page {
    browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", current),
                ("new_password", new),
                ("new_password_again", again),
                ("from", "account"),
            ],
        )
        .await
}

#[tokio::test]
async fn changing_ones_password_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let elsewhere = app.admin().await;
    let api = Api::admin(&app).await;
    assert_eq!(admin.get("/account").await.status, 200);

    let refusals = [
        (
            "wrong-current-password",
            "brand-new-password",
            "brand-new-password",
            "This is not your current password",
        ),
        (ADMIN_PASSWORD, "short", "short", "Use at least 12 characters"),
        (ADMIN_PASSWORD, "brand-new-password", "brand-new-passw0rd", "The two passwords differ"),
        (ADMIN_PASSWORD, ADMIN_PASSWORD, ADMIN_PASSWORD, "Choose a password other than the current one"),
    ];
    for (current, new, again, message) in refusals {
        let res = change(&admin, current, new, again).await;
        assert_eq!(res.status, 422, "{message}");
        assert!(text_of(&res).contains(message), "{message}: {}", text_of(&res));
        assert!(res.body.contains("id=\"session-table\""), "My account is shown again");
        assert!(!res.body.contains(new) && !res.body.contains(current), "no password rendered back");
    }
    assert_eq!(app.browser().sign_in("admin", ADMIN_PASSWORD).await.status, 303, "unchanged");

    let res = change(&admin, ADMIN_PASSWORD, "brand-new-password", "brand-new-password").await;
    assert_eq!(res.header("location"), "/account");
    let page = follow(&admin, &res).await;
    assert!(
        flash_of(&page).contains("Your password is changed. Your 2 other sessions have ended."),
        "{}",
        page.body
    );
    assert_eq!(admin.get("/admin/connections").await.status, 200, "this session stays");
    assert_eq!(elsewhere.get("/admin/connections").await.status, 303, "the others end");
    assert_eq!(api.get("/api/v1/me").await.status, 200, "API tokens are left alone");
    assert_eq!(app.browser().sign_in("admin", ADMIN_PASSWORD).await.status, 401);
    assert_eq!(app.browser().sign_in("admin", "brand-new-password").await.status, 303);
    let changed = audit(&app, "user.password_change").await;
    assert_eq!(changed.len(), 1);
    assert!(!changed[0].details.contains("brand-new-password"));
    assert_eq!(changed[0].source.as_deref(), Some("127.0.0.1"), "the address it came from");
}

#[tokio::test]
async fn wrong_current_passwords_count_towards_the_sign_in_lock() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for _ in 0..5 {
        assert_eq!(
            change(&admin, "not-my-password", "brand-new-password", "brand-new-password").await.status,
            422
        );
    }
    let res = change(&admin, ADMIN_PASSWORD, "brand-new-password", "brand-new-password").await;
    assert_eq!(res.status, 422);
    assert!(text_of(&res).contains("Too many wrong passwords"), "{}", text_of(&res));
    app.clock.advance(15 * 60 + 1);
    let res = change(&admin, ADMIN_PASSWORD, "brand-new-password", "brand-new-password").await;
    assert_eq!(res.status, 303, "{}", res.body);
}

#[tokio::test]
async fn my_account_lists_my_sessions_with_browser_address_and_times() {
    let app = TestApp::spawn().await;
    let firefox = browser_as(&app, FIREFOX);
    assert_eq!(firefox.sign_in("admin", ADMIN_PASSWORD).await.status, 303);
    app.clock.advance(120);
    let safari = browser_as(&app, SAFARI);
    assert_eq!(safari.sign_in("admin", ADMIN_PASSWORD).await.status, 303);
    app.add_user("bob", Role::SdAdmin, "bob-password-1234").await;
    assert_eq!(app.browser().sign_in("bob", "bob-password-1234").await.status, 303);

    let listed = sessions(&firefox.get("/account").await);
    assert_eq!(listed.len(), 2, "only my own: {listed:?}");
    let (_, newest, newest_current) = &listed[0];
    assert!(newest.contains("Safari 17 on macOS") && newest.contains("127.0.0.1"), "{newest}");
    assert!(!newest_current);
    let (_, mine, current) = &listed[1];
    assert!(mine.contains("Firefox 128 on Linux") && mine.contains("This browser"), "{mine}");
    assert!(*current);
    assert!(mine.contains("UTC"), "times are shown: {mine}");
}

#[tokio::test]
async fn ending_a_session_signs_that_browser_out_and_ending_this_one_signs_out() {
    let app = TestApp::spawn().await;
    let firefox = browser_as(&app, FIREFOX);
    assert_eq!(firefox.sign_in("admin", ADMIN_PASSWORD).await.status, 303);
    let safari = browser_as(&app, SAFARI);
    assert_eq!(safari.sign_in("admin", ADMIN_PASSWORD).await.status, 303);

    let page = firefox.get("/account").await;
    let (other, _, _) = sessions(&page).into_iter().find(|(_, _, current)| !current).unwrap();
    let res = firefox.post(&format!("/account/sessions/{other}/end"), &[("csrf_token", &page.csrf())]).await;
    assert_eq!(res.header("location"), "/account");
    assert!(flash_of(&follow(&firefox, &res).await).contains("that browser is signed out"));
    assert_eq!(safari.get("/admin/connections").await.status, 303, "Safari is signed out");
    assert_eq!(firefox.get("/admin/connections").await.status, 200);
    let ended = audit(&app, "session.end").await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].source.as_deref(), Some("127.0.0.1"), "the address it came from");

    let page = firefox.get("/account").await;
    let listed = sessions(&page);
    assert_eq!(listed.len(), 1);
    let (mine, _, _) = &listed[0];
    let res = firefox.post(&format!("/account/sessions/{mine}/end"), &[("csrf_token", &page.csrf())]).await;
    assert_eq!(res.header("location"), "/login");
    assert!(firefox.cookie("connections_session").is_none(), "the cookie is removed");
    assert_eq!(firefox.get("/account").await.status, 303);
}

#[tokio::test]
async fn another_users_session_cannot_be_ended() {
    let app = TestApp::spawn().await;
    app.add_user("bob", Role::Technician, "bob-password-1234").await;
    let bob = app.browser();
    assert_eq!(bob.sign_in("bob", "bob-password-1234").await.status, 303);
    let (bobs, _, _) = sessions(&bob.get("/account").await).remove(0);
    let admin = app.admin().await;
    let token = admin.get("/account").await.csrf();
    let res = admin.post(&format!("/account/sessions/{bobs}/end"), &[("csrf_token", &token)]).await;
    assert_eq!(res.status, 404);
    assert_eq!(bob.get("/account").await.status, 200, "bob is still signed in");
}

#[tokio::test]
async fn a_technician_has_my_account_but_not_the_console() {
    let app = TestApp::spawn().await;
    app.add_user("tech", Role::Technician, "tech-password-12").await;
    let tech = app.browser();
    assert_eq!(tech.sign_in("tech", "tech-password-12").await.status, 303);
    let page = tech.get("/account").await;
    assert_eq!(page.status, 200);
    assert!(text_of(&page).contains("Technician"));
    assert_eq!(tech.get("/admin/users").await.status, 403);
    let res = change(&tech, "tech-password-12", "tech-new-password", "tech-new-password").await;
    assert_eq!(res.header("location"), "/account");
    let anon = app.browser();
    assert_eq!(anon.get("/account").await.header("location"), "/login?next=%2Faccount");
}
