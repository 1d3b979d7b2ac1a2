//! Managing users as an SDAdmin, in the browser and the API: add a user (who must change the
//! password at first sign-in), change a role, disable and enable, reset a password, delete; the
//! last-SDAdmin rule, also when two SDAdmins act at the same moment.

use connections::models::user::{self, Role};
use serde_json::json;

use crate::support::{
    Api, Browser, Page, TestApp, api_key_service, audit, connection, flash_of, follow, text_of,
    within_two_seconds,
};

mod race;

/// The password a page shows once (`users/password.html`).
fn shown_password(page: &Page) -> String {
    let marker = "id=\"new-password\">";
    let start =
        page.body.find(marker).unwrap_or_else(|| panic!("no password shown: {}", page.body)) + marker.len();
    page.body[start..].split('<').next().unwrap().to_owned()
}

/// Adds `name` from the Add user page with a generated password, and returns that password.
async fn add_with_generated_password(admin: &Browser, name: &str, role: &str) -> String {
    let res = admin
        .submit(
            "/admin/users/new",
            "/admin/users",
            &[("username", name), ("role", role), ("password_mode", "generate")],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(text_of(&res).contains("shown only this once"), "{}", res.body);
    shown_password(&res)
}

/// The same browser's cookies in a browser of another instance.
fn on(other: &TestApp, signed_in: &Browser) -> Browser {
    let browser = other.browser();
    *browser.cookies.lock().unwrap() = signed_in.cookies.lock().unwrap().clone();
    browser
}

#[tokio::test]
async fn an_added_user_signs_in_with_the_generated_password_and_must_change_it_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    assert_eq!(admin.get("/admin/users/new").await.status, 200);
    let password = add_with_generated_password(&admin, "carol", "technician").await;
    assert_eq!(password.len(), 23, "{password}");
    let created = audit(&app, "user.create").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].target, "carol");
    assert!(!created[0].details.contains(&password), "no password in the audit log");
    assert!(admin.get("/admin/users/carol").await.body.contains("Must change password"));

    let carol = app.browser();
    let res = carol.sign_in("carol", &password).await;
    assert_eq!(res.header("location"), "/account/password");
    for page in ["/account", "/admin/connections", "/"] {
        let res = carol.get(page).await;
        assert_eq!(res.status, 303, "{page}");
        assert!(
            res.header("location").starts_with("/account/password"),
            "{page}: {}",
            res.header("location")
        );
    }
    let form = carol.get("/account/password").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("id=\"password-required\""), "{}", form.body);
    let res = carol
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", &password),
                ("new_password", "carol-own-password"),
                ("new_password_again", "carol-own-password"),
            ],
        )
        .await;
    assert_eq!(res.header("location"), "/account", "a technician goes on to My account");
    let account = follow(&carol, &res).await;
    assert_eq!(account.status, 200);
    assert!(flash_of(&account).contains("Your password is changed"), "{}", account.body);
    assert!(!admin.get("/admin/users/carol").await.body.contains("Must change password"));
    assert_eq!(app.browser().sign_in("carol", &password).await.status, 401, "the given password is gone");
}

#[tokio::test]
async fn a_typed_password_is_never_shown_and_the_change_leads_on_to_the_page_asked_for() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res = admin
        .submit(
            "/admin/users/new",
            "/admin/users",
            &[
                ("username", "dave"),
                ("role", "sdadmin"),
                ("password_mode", "type"),
                ("password", "typed-for-dave-1"),
                ("password_again", "typed-for-dave-1"),
            ],
        )
        .await;
    assert_eq!(res.header("location"), "/admin/users/dave");
    let page = follow(&admin, &res).await;
    assert!(flash_of(&page).contains("User dave added"), "{}", page.body);
    assert!(!page.body.contains("typed-for-dave-1"));

    // API tokens are not held to the change.
    let api = Api::for_user(&app, "dave").await;
    assert_eq!(api.get("/api/v1/me").await.status, 200);

    let dave = app.browser();
    let res = dave
        .submit(
            "/login?next=/admin/services",
            "/login",
            &[("username", "dave"), ("password", "typed-for-dave-1"), ("next", "/admin/services")],
        )
        .await;
    assert_eq!(res.header("location"), "/account/password?next=%2Fadmin%2Fservices");
    let res = dave
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "typed-for-dave-1"),
                ("new_password", "dave-chose-this-one"),
                ("new_password_again", "dave-chose-this-one"),
                ("next", "/admin/services"),
            ],
        )
        .await;
    assert_eq!(res.header("location"), "/admin/services");
    assert_eq!(dave.get("/admin/services").await.status, 200);
}

#[tokio::test]
async fn adding_a_user_refuses_bad_input_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("username", ""), ("role", "sdadmin")], "Enter a username"),
        (&[("username", "bad name"), ("role", "sdadmin")], "Use letters, digits"),
        (&[("username", "new"), ("role", "sdadmin")], "reserved"),
        (&[("username", "ADMIN"), ("role", "sdadmin")], "“admin” is already a user"),
        (&[("username", "erin"), ("role", "wizard")], "Choose SDAdmin or Technician"),
        (
            &[("username", "erin"), ("role", "sdadmin"), ("password_mode", "type"), ("password", "short")],
            "at least 12",
        ),
        (
            &[
                ("username", "erin"),
                ("role", "sdadmin"),
                ("password_mode", "type"),
                ("password", "long-enough-password"),
                ("password_again", "another-password!"),
            ],
            "The two passwords differ",
        ),
    ];
    for (fields, message) in cases {
        let res = admin.submit("/admin/users/new", "/admin/users", fields).await;
        assert_eq!(res.status, 422, "{fields:?}");
        assert!(text_of(&res).contains(message), "{fields:?}: {}", text_of(&res));
        assert!(!res.body.contains("long-enough-password"), "a typed password is not rendered back");
    }
    let count = app.state.db.run(|c| Ok(user::count(c)?)).await.unwrap();
    assert_eq!(count, 1, "only the admin");
    assert!(audit(&app, "user.create").await.is_empty());
}

#[tokio::test]
async fn a_role_change_takes_effect_on_every_instance_at_once() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn_on(app.shared_db(), |_| {}).await;
    let admin = app.admin().await;
    let bob = crate::support::second_admin(&app, "bob").await;
    let bob_elsewhere = on(&other, &bob);
    assert_eq!(bob_elsewhere.get("/admin/connections").await.status, 200);

    let res = admin.submit("/admin/users/bob", "/admin/users/bob/role", &[("role", "technician")]).await;
    assert_eq!(res.header("location"), "/admin/users/bob");
    assert!(flash_of(&follow(&admin, &res).await).contains("bob is Technician"));
    assert_eq!(bob.get("/admin/connections").await.status, 403);
    assert!(within_two_seconds(async || bob_elsewhere.get("/admin/connections").await.status == 403).await);
    assert_eq!(bob.get("/account").await.status, 200, "a technician still has My account");
    let changed = audit(&app, "user.role_change").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].details, json!({ "from": "sdadmin", "to": "technician" }).to_string());

    let res = admin.submit("/admin/users/bob", "/admin/users/bob/role", &[("role", "wizard")]).await;
    assert_eq!(res.status, 422);
    assert!(text_of(&res).contains("Choose SDAdmin or Technician"));
}

#[tokio::test]
async fn disabling_ends_the_sessions_everywhere_and_refuses_the_api_tokens_until_enabled() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn_on(app.shared_db(), |_| {}).await;
    let admin = app.admin().await;
    let bob = crate::support::second_admin(&app, "bob").await;
    let bob_elsewhere = on(&other, &bob);
    let bob_api = Api::for_user(&app, "bob").await;
    let bob_api_elsewhere = Api::at(&other.base, &app.token_for("bob").await);
    assert_eq!(bob_elsewhere.get("/admin/connections").await.status, 200);
    assert_eq!(bob_api_elsewhere.get("/api/v1/me").await.status, 200);

    let confirm = admin.get("/admin/users/bob/disable").await;
    assert_eq!(confirm.status, 200);
    assert!(text_of(&confirm).contains("Disable bob?"), "{}", confirm.body);
    let res = admin.submit("/admin/users/bob", "/admin/users/bob/disable", &[]).await;
    assert_eq!(res.status, 303);
    assert!(flash_of(&follow(&admin, &res).await).contains("bob is disabled: 1 session ended"));
    assert_eq!(bob.get("/admin/connections").await.status, 303, "signed out");
    assert_eq!(bob_api.get("/api/v1/me").await.status, 401);
    assert!(within_two_seconds(async || bob_elsewhere.get("/admin/connections").await.status == 303).await);
    assert!(within_two_seconds(async || bob_api_elsewhere.get("/api/v1/me").await.status == 401).await);
    assert_eq!(app.browser().sign_in("bob", "second-admin-password").await.status, 401);
    assert!(admin.get("/admin/users/bob").await.body.contains("data-status=\"disabled\""));

    let res = admin.submit("/admin/users/bob", "/admin/users/bob/enable", &[]).await;
    assert!(flash_of(&follow(&admin, &res).await).contains("bob is enabled"));
    assert_eq!(bob_api.get("/api/v1/me").await.status, 200, "the tokens work again");
    assert_eq!(bob.get("/admin/connections").await.status, 303, "the sessions stay ended");
    assert_eq!(audit(&app, "user.disable").await.len(), 1);
    assert_eq!(audit(&app, "user.enable").await.len(), 1);
}

#[tokio::test]
async fn a_reset_signs_the_user_out_everywhere_revokes_their_tokens_and_must_be_changed() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn_on(app.shared_db(), |_| {}).await;
    let admin = app.admin().await;
    let bob = crate::support::second_admin(&app, "bob").await;
    let bob_elsewhere = on(&other, &bob);
    let bob_api = Api::for_user(&app, "bob").await;
    assert_eq!(bob_elsewhere.get("/admin/connections").await.status, 200);

    assert_eq!(admin.get("/admin/users/bob/reset-password").await.status, 200);
    let res = admin
        .submit(
            "/admin/users/bob/reset-password",
            "/admin/users/bob/reset-password",
            &[("password_mode", "generate")],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let password = shown_password(&res);
    assert!(text_of(&res).contains("1 session(s) ended and 1 API token(s) revoked"), "{}", text_of(&res));
    assert_eq!(bob.get("/admin/connections").await.status, 303);
    assert!(within_two_seconds(async || bob_elsewhere.get("/admin/connections").await.status == 303).await);
    assert_eq!(bob_api.get("/api/v1/me").await.status, 401);
    assert_eq!(app.browser().sign_in("bob", "second-admin-password").await.status, 401);
    let again = app.browser();
    assert_eq!(again.sign_in("bob", &password).await.header("location"), "/account/password");
    let reset = audit(&app, "user.password_reset").await;
    assert_eq!(reset.len(), 1);
    assert!(!reset[0].details.contains(&password));

    // A typed password, keeping the tokens: the token made after the first reset keeps working.
    let kept = Api::for_user(&app, "bob").await;
    let res = admin
        .submit(
            "/admin/users/bob/reset-password",
            "/admin/users/bob/reset-password",
            &[
                ("password_mode", "type"),
                ("password", "typed-reset-password"),
                ("password_again", "typed-reset-password"),
                ("keep_tokens", "1"),
            ],
        )
        .await;
    assert_eq!(res.header("location"), "/admin/users/bob");
    assert_eq!(kept.get("/api/v1/me").await.status, 200);
    assert_eq!(again.get("/account/password").await.status, 303, "signed out again");
    let res = admin
        .submit(
            "/admin/users/bob/reset-password",
            "/admin/users/bob/reset-password",
            &[("password_mode", "type"), ("password", "short")],
        )
        .await;
    assert_eq!(res.status, 422);

    let own = admin.get("/admin/users/admin/reset-password").await;
    assert!(text_of(&own).contains("Change your own password under My account"));
}

#[tokio::test]
async fn a_user_who_owns_connections_is_deleted_only_after_a_transfer() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    crate::support::second_admin(&app, "bob").await;
    let bob_api = Api::for_user(&app, "bob").await;
    bob_api.create("/api/v1/services", &api_key_service("desk")).await;
    bob_api.create("/api/v1/connections", &connection("desk", "bobs_desk", &[])).await;

    let confirm = admin.get("/admin/users/bob/delete").await;
    assert!(text_of(&confirm).contains("bob owns 1 connection: transfer it to another SDAdmin first."));
    assert!(
        confirm.body.contains("href=\"/admin/users/bob/transfer?next=%2Fadmin%2Fusers%2Fbob\""),
        "{}",
        confirm.body
    );
    let res = admin.submit("/admin/users/bob", "/admin/users/bob/delete", &[]).await;
    assert_eq!(res.header("location"), "/admin/users/bob");
    assert!(flash_of(&follow(&admin, &res).await).contains("bob owns 1 connection"));
    let api = Api::admin(&app).await;
    assert_eq!(api.delete("/api/v1/users/bob").await.status, 409);

    assert_eq!(api.post("/api/v1/users/bob/transfer", &json!({ "to": "admin" })).await.status, 200);
    let confirm = admin.get("/admin/users/bob/delete").await;
    assert!(text_of(&confirm).contains("Delete bob?"), "{}", confirm.body);
    let res = admin.submit("/admin/users/bob", "/admin/users/bob/delete", &[]).await;
    assert_eq!(res.header("location"), "/admin/users");
    assert!(flash_of(&follow(&admin, &res).await).contains("User bob deleted"));
    assert_eq!(admin.get("/admin/users/bob").await.status, 404);
    assert_eq!(bob_api.get("/api/v1/me").await.status, 401, "their tokens went with them");
    assert_eq!(audit(&app, "user.delete").await.len(), 1);
}

/// What the last-SDAdmin rule stops is two SDAdmins acting on each other at once (`race`): on
/// oneself, no change is possible at all.
#[tokio::test]
async fn no_one_demotes_disables_deletes_or_resets_themselves() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.add_user("bob", Role::SdAdmin, "bob-password-1234").await;
    let api = Api::admin(&app).await;

    let res = admin.submit("/admin/users/admin", "/admin/users/admin/role", &[("role", "technician")]).await;
    let page = follow(&admin, &res).await;
    assert!(flash_of(&page).contains("You cannot change your own role"), "{}", page.body);
    assert!(!page.body.contains("action=\"/admin/users/admin/role\""), "no role form on one's own page");
    for (method, body) in [("PATCH", json!({ "role": "technician" })), ("PATCH", json!({ "disabled": true }))]
    {
        let res = api.send(method.parse().unwrap(), "/api/v1/users/admin", Some(&body)).await;
        assert_eq!(res.status, 409, "{body}");
        assert!(res.json()["error"]["message"].as_str().unwrap().contains("ask another SDAdmin"));
    }
    assert_eq!(api.delete("/api/v1/users/admin").await.status, 409);
    assert_eq!(api.post("/api/v1/users/admin/reset-password", &json!({})).await.status, 409);
    assert!(
        text_of(&admin.get("/admin/users/admin/delete").await).contains("You cannot delete your own account")
    );
    assert!(text_of(&admin.get("/admin/users/admin/disable").await).contains("disable your own account"));
    let res = admin.submit("/admin/users/admin", "/admin/users/admin/disable", &[]).await;
    assert!(flash_of(&follow(&admin, &res).await).contains("disable your own account"));
    assert_eq!(
        api.patch("/api/v1/users/admin", &json!({ "role": "sdadmin" })).await.status,
        200,
        "no change"
    );
    assert_eq!(admin.get("/admin/connections").await.status, 200, "still an SDAdmin");
    assert!(audit(&app, "user.role_change").await.is_empty());

    // Another SDAdmin may.
    let bob_api = Api::for_user(&app, "bob").await;
    let res = bob_api.patch("/api/v1/users/admin", &json!({ "role": "technician" })).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(admin.get("/admin/connections").await.status, 403);
}

#[tokio::test]
async fn the_users_api_adds_shows_changes_resets_and_deletes() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    let res = api.post("/api/v1/users", &json!({ "username": "erin", "role": "sdadmin" })).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.header("location"), "/api/v1/users/erin");
    let created = res.json();
    let password = created["generated_password"].as_str().unwrap().to_owned();
    assert_eq!(created["must_change_password"], true);
    assert_eq!(created["status"], "active");
    assert_eq!(app.browser().sign_in("erin", &password).await.header("location"), "/account/password");

    let res = api
        .post(
            "/api/v1/users",
            &json!({ "username": "fay", "role": "technician", "password": "fay-typed-password" }),
        )
        .await;
    assert_eq!(res.status, 201);
    assert_eq!(res.json()["generated_password"], serde_json::Value::Null);
    assert!(!res.body.contains("fay-typed-password"));
    let res = api.post("/api/v1/users", &json!({ "username": "Erin", "role": "sdadmin" })).await;
    assert_eq!(res.status, 422);
    assert!(res.json()["errors"]["username"].is_array());
    assert_eq!(api.post("/api/v1/users", &json!({ "username": "gus", "role": "SDAdmin" })).await.status, 422);
    assert_eq!(
        api.post("/api/v1/users", &json!({ "username": "gus", "role": "sdadmin", "x": 1 })).await.status,
        422
    );

    let list = api.get("/api/v1/users").await.json();
    let names: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "erin", "fay"]);
    assert_eq!(api.get("/api/v1/users/fay").await.json()["role"], "technician");
    assert_eq!(api.get("/api/v1/users/nobody").await.status, 404);

    let res = api.patch("/api/v1/users/fay", &json!({ "role": "sdadmin", "disabled": true })).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        (res.json()["role"].clone(), res.json()["status"].clone()),
        (json!("sdadmin"), json!("disabled"))
    );
    assert_eq!(api.patch("/api/v1/users/fay", &json!({ "role": "boss" })).await.status, 422);

    let res = api.post("/api/v1/users/erin/reset-password", &json!({})).await;
    assert_eq!(res.status, 200);
    let reset = res.json();
    let new_password = reset["generated_password"].as_str().unwrap();
    assert_ne!(new_password, password);
    assert_eq!(app.browser().sign_in("erin", &password).await.status, 401);
    assert_eq!(app.browser().sign_in("erin", new_password).await.status, 303);
    assert_eq!(api.post("/api/v1/users/admin/reset-password", &json!({})).await.status, 409);
    assert_eq!(
        api.post("/api/v1/users/erin/reset-password", &json!({ "password": "short" })).await.status,
        422
    );

    assert_eq!(api.delete("/api/v1/users/fay").await.status, 204);
    assert_eq!(api.get("/api/v1/users/fay").await.status, 404);
}

#[tokio::test]
async fn technicians_and_anonymous_callers_cannot_manage_users() {
    let app = TestApp::spawn().await;
    app.add_user("tech", Role::Technician, "tech-password-12").await;
    let tech = app.browser();
    assert_eq!(tech.sign_in("tech", "tech-password-12").await.status, 303);
    for page in ["/admin/users/new", "/admin/users/admin", "/admin/users/admin/delete"] {
        assert_eq!(tech.get(page).await.status, 403, "{page}");
    }
    let token = tech.get("/account").await.csrf();
    let res = tech.post("/admin/users/admin/disable", &[("csrf_token", &token)]).await;
    assert_eq!(res.status, 403);
    let res =
        tech.post("/admin/users", &[("csrf_token", &token), ("username", "x1"), ("role", "sdadmin")]).await;
    assert_eq!(res.status, 403);
    let tech_api = Api::for_user(&app, "tech").await;
    assert_eq!(tech_api.get("/api/v1/users").await.status, 403);
    assert_eq!(tech_api.patch("/api/v1/users/admin", &json!({ "disabled": true })).await.status, 403);
    assert_eq!(app.http().get(format!("{}/api/v1/users", app.base)).send().await.unwrap().status(), 401);
    let anon = app.browser();
    assert!(anon.get("/admin/users/admin").await.header("location").starts_with("/login?next="));
    let admin = app.admin().await;
    assert!(!admin.get("/admin/users/admin").await.body.contains("data-status=\"disabled\""));
}
