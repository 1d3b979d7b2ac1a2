//! Giving connections to another SDAdmin: one connection (its page's form, a confirmation, the move;
//! and the API), or every connection of a user at once. The new owner may then edit and reconnect;
//! the former owner's consent in progress ends; a technician or a disabled user is refused with a
//! clear 422 and nothing moves; the lists' counts and another instance's cache follow the move.

use connections::models::user::{self, Role};
use serde_json::json;

use crate::support::{
    Api, FakeProvider, TestApp, api_key_service, audit, connect_oauth, connection, follow, invoke,
    oauth_service_at, row, second_admin, spawn_app, text_of, within_two_seconds,
};

/// An app with an OAuth2 service at a fake provider and `zoho_main`, connected by the admin.
async fn connected() -> (TestApp, FakeProvider, Api) {
    let app = spawn_app().await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &oauth_service_at(&fake, "zoho")).await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_main", &["read", "offline_access"])).await;
    connect_oauth(&app.admin().await, "zoho_main").await;
    (app, fake, api)
}

async fn disable(app: &TestApp, name: &str) {
    let (name, now) = (name.to_owned(), app.clock.now());
    app.state
        .db
        .run(move |c| {
            let found = user::find_by_name(c, &name)?.unwrap();
            Ok(user::set_disabled(c, found.id, true, now)?)
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_connection_moves_through_its_page_and_the_new_owner_may_edit_and_reconnect_it() {
    let (app, fake, _api) = connected().await;
    let admin = app.admin().await;
    let bob = second_admin(&app, "bob").await;
    let details = admin.get("/admin/connections/zoho_main").await;
    assert!(details.body.contains("/admin/connections/zoho_main/transfer"), "the action is offered");
    let form = admin.get("/admin/connections/zoho_main/transfer").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("<option value=\"bob\">bob</option>"), "{}", form.body);
    assert!(!form.body.contains("<option value=\"admin\">"), "not its owner");

    // The form asks for confirmation; nothing moves before it.
    let token = form.csrf();
    let confirm =
        admin.post("/admin/connections/zoho_main/transfer", &[("csrf_token", &token), ("to", "bob")]).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(text_of(&confirm).contains("Give “Connection zoho_main” to bob?"), "{}", text_of(&confirm));
    assert_eq!(row(&app, "zoho_main").await.owner_id, row_owner(&app, "admin").await);
    let done = admin
        .post(
            "/admin/connections/zoho_main/transfer",
            &[("csrf_token", &token), ("to", "bob"), ("confirm", "yes")],
        )
        .await;
    let landed = follow(&admin, &done).await;
    assert!(text_of(&landed).contains("now belongs to bob"), "{}", text_of(&landed));
    assert_eq!(row(&app, "zoho_main").await.owner_id, row_owner(&app, "bob").await);
    let entries = audit(&app, "connection.transfer").await;
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].actor.as_str(), entries[0].target.as_str()), ("admin", "zoho_main"));
    assert!(
        entries[0].details.contains("\"from\":\"admin\"") && entries[0].details.contains("\"to\":\"bob\"")
    );

    // The connection still works with the credentials it had; bob may edit and reconnect it, the
    // admin no longer can.
    assert_eq!(row(&app, "zoho_main").await.status().as_str(), "connected");
    assert_eq!(admin.get("/admin/connections/zoho_main/edit").await.status, 403);
    assert_eq!(bob.get("/admin/connections/zoho_main/edit").await.status, 200);
    let tokens_before = fake.token_count();
    connect_oauth(&bob, "zoho_main").await;
    assert_eq!(fake.token_count(), tokens_before + 1, "bob's own consent");
    // My Connections counts it as bob's, no longer as the admin's.
    assert!(text_of(&bob.get("/admin/connections").await).contains("1–1 of 1"));
    assert!(text_of(&admin.get("/admin/connections").await).contains("You have no connections yet"));
}

async fn row_owner(app: &TestApp, name: &str) -> i64 {
    let name = name.to_owned();
    app.state.db.run(move |c| Ok(user::find_by_name(c, &name)?.unwrap().id)).await.unwrap()
}

#[tokio::test]
async fn the_api_refuses_a_technician_a_disabled_user_an_unknown_one_and_the_owner_with_a_clear_422() {
    let (app, _fake, api) = connected().await;
    app.add_user("tech", Role::Technician, "tech-password-12").await;
    app.add_user("gone", Role::SdAdmin, "gone-password-123").await;
    disable(&app, "gone").await;
    for (to, expected) in [
        ("tech", "tech is not an SDAdmin"),
        ("gone", "gone is disabled"),
        ("nobody", "There is no user named “nobody”"),
        ("admin", "admin already owns this connection"),
        ("", "Choose the new owner"),
    ] {
        let res = api.post("/api/v1/connections/zoho_main/transfer", &json!({ "to": to })).await;
        assert_eq!(res.status, 422, "{to}: {}", res.body);
        assert!(res.json()["errors"]["to"][0].as_str().unwrap().contains(expected), "{to}: {}", res.body);
    }
    let res = api.post("/api/v1/connections/zoho_main/transfer", &json!({ "to": "bob", "extra": 1 })).await;
    assert_eq!(res.status, 422, "unknown fields are refused");
    assert_eq!(api.post("/api/v1/connections/nope/transfer", &json!({ "to": "admin" })).await.status, 404);
    assert_eq!(row(&app, "zoho_main").await.owner_id, row_owner(&app, "admin").await, "nothing moved");
    assert!(audit(&app, "connection.transfer").await.is_empty());

    app.add_user("carol", Role::SdAdmin, "carol-password-123").await;
    let res = api.post("/api/v1/connections/zoho_main/transfer", &json!({ "to": "carol" })).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["owner"], "carol");

    // The page refuses the same way, on its form.
    let admin = app.admin().await;
    let token = admin.get("/admin/connections").await.csrf();
    let refused =
        admin.post("/admin/connections/zoho_main/transfer", &[("csrf_token", &token), ("to", "tech")]).await;
    assert_eq!(refused.status, 422);
    assert!(text_of(&refused).contains("tech is not an SDAdmin"), "{}", text_of(&refused));
}

#[tokio::test]
async fn a_consent_the_former_owner_started_cannot_store_tokens_after_the_move() {
    let (app, fake, api) = connected().await;
    let admin = app.admin().await;
    let details = admin.get("/admin/connections/zoho_main").await;
    let to_provider = admin.get(&crate::support::connect_href(&details)).await;
    assert_eq!(to_provider.status, 303);
    second_admin(&app, "bob").await;
    assert_eq!(api.post("/api/v1/connections/zoho_main/transfer", &json!({ "to": "bob" })).await.status, 200);
    let client = app.http();
    let back = client.get(to_provider.header("location")).send().await.unwrap();
    let callback = crate::support::local(back.headers()["location"].to_str().unwrap());
    let tokens_before = fake.token_count();
    let res = admin.get(&callback).await;
    assert_eq!(res.status, 400, "the flow ended with the move: {}", res.body);
    assert_eq!(fake.token_count(), tokens_before, "no code was exchanged");
}

#[tokio::test]
async fn every_connection_of_a_user_moves_at_once_from_the_users_transfer_page() {
    let app = spawn_app().await;
    let bob = second_admin(&app, "bob").await;
    let bob_api = Api::for_user(&app, "bob").await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    for link in ["one", "two", "three"] {
        bob_api.create("/api/v1/connections", &connection("desk", link, &[])).await;
    }
    api.create("/api/v1/connections", &connection("desk", "mine", &[])).await;
    app.add_user("carol", Role::SdAdmin, "carol-password-123").await;
    app.add_user("tech", Role::Technician, "tech-password-12").await;

    let admin = app.admin().await;
    let page = admin.get("/admin/users/bob/transfer?next=/admin/users").await;
    assert_eq!(page.status, 200);
    assert!(text_of(&page).contains("bob owns 3 connections."), "{}", text_of(&page));
    assert!(page.body.contains("<option value=\"carol\">") && !page.body.contains("<option value=\"tech\">"));
    assert!(!page.body.contains("<option value=\"bob\">"), "not to themselves");
    let token = page.csrf();
    let refused = admin.post("/admin/users/bob/transfer", &[("csrf_token", &token), ("to", "tech")]).await;
    assert_eq!(refused.status, 422);
    assert!(text_of(&refused).contains("tech is not an SDAdmin"));
    let done = admin
        .post(
            "/admin/users/bob/transfer",
            &[("csrf_token", &token), ("to", "carol"), ("next", "/admin/users")],
        )
        .await;
    assert_eq!(done.header("location"), "/admin/users");
    assert!(text_of(&follow(&admin, &done).await).contains("3 connections of bob now belong to carol."));
    let carol = row_owner(&app, "carol").await;
    for link in ["one", "two", "three"] {
        assert_eq!(row(&app, link).await.owner_id, carol, "{link}");
    }
    assert_eq!(row(&app, "mine").await.owner_id, row_owner(&app, "admin").await, "others stay");
    assert_eq!(audit(&app, "connection.transfer").await.len(), 3);
    let summary = audit(&app, "user.transfer_connections").await;
    assert_eq!((summary.len(), summary[0].target.as_str()), (1, "bob"));
    assert!(text_of(&bob.get("/admin/connections").await).contains("You have no connections yet"));
    assert_eq!(Api::for_user(&app, "carol").await.get("/api/v1/connections").await.json()["total"], 3);
    assert!(text_of(&admin.get("/admin/users/bob/transfer").await).contains("Nothing to transfer"));

    // The API: the same move, all or nothing, and the same refusals.
    let res = api.post("/api/v1/users/carol/transfer", &json!({ "to": "tech" })).await;
    assert_eq!(res.status, 422);
    assert_eq!(res.json()["errors"]["to"][0], "tech is not an SDAdmin: only SDAdmins can own connections.");
    let res = api.post("/api/v1/users/carol/transfer", &json!({ "to": "carol" })).await;
    assert_eq!(res.status, 422, "not to themselves");
    assert_eq!(api.post("/api/v1/users/nobody/transfer", &json!({ "to": "carol" })).await.status, 404);
    let res = api.post("/api/v1/users/carol/transfer", &json!({ "to": "bob" })).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!((body["count"].as_i64(), body["to"].as_str()), (Some(3), Some("bob")));
    assert_eq!(bob_api.get("/api/v1/connections").await.json()["total"], 3);
}

#[tokio::test]
async fn another_instance_forgets_what_it_cached_of_a_moved_connection_and_lists_it_under_the_new_owner() {
    let one = spawn_app().await;
    let two = TestApp::spawn_on(one.shared_db(), |config| {
        config.outbound_allow_cidrs = one.state.config.outbound_allow_cidrs.clone();
        config.outbound_allow_http = true;
    })
    .await;
    let up = crate::support::Upstream::start().await;
    let api_one = Api::admin(&one).await;
    crate::support::connected_key_connection(&api_one, "desk", &format!("{}/api", up.url)).await;
    let api_two = Api::admin(&two).await;
    let cache = two.state.cache.clone().expect("instances cache connections");
    // An invoke caches the connection once the instance hears the database's reports.
    let cached = async || {
        assert_eq!(invoke(&api_two, "desk", json!({"path": "/items"})).await.status, 200);
        cache.connection("desk").is_some()
    };
    assert!(within_two_seconds(cached).await, "cached by an invoke");
    assert_eq!(cache.connection("desk").unwrap().owner, "admin");
    second_admin(&one, "bob").await;
    let bob_two = Api::for_user(&two, "bob").await;
    assert_eq!(bob_two.get("/api/v1/connections").await.json()["total"], 0);

    assert_eq!(api_one.post("/api/v1/connections/desk/transfer", &json!({ "to": "bob" })).await.status, 200);
    let forgotten = async || cache.connection("desk").is_none_or(|c| c.owner == "bob");
    assert!(within_two_seconds(forgotten).await, "the other instance's copy is evicted");
    let listed = async || {
        let body = bob_two.get("/api/v1/connections?search=desk").await.json();
        body["total"] == 1 && body["connections"][0]["owner"] == "bob"
    };
    assert!(within_two_seconds(listed).await, "bob's list on the other instance, searched by name");
    assert_eq!(invoke(&api_two, "desk", json!({"path": "/items"})).await.status, 200, "it still works");
    let reread = async || cache.connection("desk").is_none_or(|c| c.owner == "bob");
    assert!(within_two_seconds(reread).await, "what it caches again is the new owner's");
}
