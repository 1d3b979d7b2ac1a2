//! Admin > Users: the list with role, status and connections owned, its search and filters.

use connections::models::user::{self, Role};

use crate::support::{Api, Browser, Page, TestApp, api_key_service, connection};

/// The usernames the page lists, in order.
fn listed(page: &Page) -> Vec<String> {
    page.body
        .split("data-username=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

/// The cell of `username`'s row that carries `attr`.
fn cell(page: &Page, username: &str, attr: &str) -> String {
    let row = page.body.split(&format!("data-username=\"{username}\"")).nth(1).unwrap();
    let row = row.split("</tr>").next().unwrap();
    row.split(&format!("{attr}=\"")).nth(1).unwrap().split('"').next().unwrap().to_owned()
}

async fn seeded() -> (TestApp, Browser) {
    let app = TestApp::spawn().await;
    let bob = app.add_user("bob", Role::Technician, "bob-password-123").await;
    app.add_user("carol", Role::SdAdmin, "carol-password-12").await;
    let (now, dave) = (app.clock.now(), app.add_user("dave", Role::Technician, "dave-password-12").await);
    app.state
        .db
        .run(move |c| {
            user::set_disabled(c, bob, true, now)?;
            for _ in 0..user::MAX_FAILED_LOGINS {
                user::record_failure(c, dave, now)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    api.create("/api/v1/connections", &connection("desk", "desk_main", &[])).await;
    api.create("/api/v1/connections", &connection("desk", "desk_two", &[])).await;
    let admin = app.admin().await;
    (app, admin)
}

#[tokio::test]
async fn the_users_page_lists_role_status_and_connections_owned() {
    let (_app, admin) = seeded().await;
    let page = admin.get("/admin/users").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(listed(&page), ["admin", "bob", "carol", "dave"]);
    assert_eq!(cell(&page, "admin", "data-status"), "Active");
    assert_eq!(cell(&page, "bob", "data-status"), "Disabled");
    assert_eq!(cell(&page, "dave", "data-status"), "Locked");
    assert_eq!(cell(&page, "admin", "data-owned"), "2");
    assert_eq!(cell(&page, "carol", "data-owned"), "0");
    assert_eq!(cell(&page, "admin", "data-last-sign-in"), "true", "the admin has signed in");
    assert_eq!(cell(&page, "carol", "data-last-sign-in"), "false", "carol never has");
    assert!(page.body.contains("aria-current=\"page\">Users</a>"), "the navigation shows where we are");
    assert!(!page.body.contains("$argon2"), "no password hash on the page");
}

#[tokio::test]
async fn the_users_page_searches_by_name_and_filters_by_role_and_status() {
    let (_app, admin) = seeded().await;
    assert_eq!(listed(&admin.get("/admin/users?q=CAR").await), ["carol"]);
    assert_eq!(listed(&admin.get("/admin/users?role=technician").await), ["bob", "dave"]);
    assert_eq!(listed(&admin.get("/admin/users?role=sdadmin&status=active").await), ["admin", "carol"]);
    assert_eq!(listed(&admin.get("/admin/users?status=locked").await), ["dave"]);
    let none = admin.get("/admin/users?q=nobody").await;
    assert_eq!(none.status, 200);
    assert!(listed(&none).is_empty());
    assert!(none.body.contains("No users match"), "{}", none.body);
    let unknown = admin.get("/admin/users?role=wizard&status=sleeping").await;
    assert_eq!(listed(&unknown).len(), 4, "an unknown filter value filters nothing");
}

#[tokio::test]
async fn the_users_page_refuses_anonymous_visitors_and_technicians() {
    let (app, _admin) = seeded().await;
    let anon = app.browser().get("/admin/users").await;
    assert_eq!(anon.status, 303);
    assert!(anon.header("location").starts_with("/login?next="), "{}", anon.header("location"));
    app.add_user("tess", Role::Technician, "tess-password-12").await;
    let tech = app.browser();
    assert_eq!(tech.sign_in("tess", "tess-password-12").await.status, 303);
    let refused = tech.get("/admin/users").await;
    assert_eq!(refused.status, 403);
    assert!(!refused.body.contains("data-username"), "no user is listed");
}
