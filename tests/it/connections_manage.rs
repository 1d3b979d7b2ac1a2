//! Owning, editing, revoking and deleting connections: only the owner edits or connects; any SDAdmin
//! revokes or deletes, audited with the actor; revocation at the provider (refresh token first),
//! its recorded outcome when the provider fails, the freed link name, and scope edits that need a
//! new consent. Also the lists: My Connections by default, All on request, search and filters.

use serde_json::json;

use crate::support::{
    Api, Browser, FakeProvider, Page, RevokeCall, TestApp, api_key_service, assert_hidden, audit,
    basic_service, canary, connect_oauth, connection, follow, oauth_service_at, row, second_admin, spawn_app,
    text_of, try_row,
};

/// An app with an OAuth2 service at a fake provider and a connected connection `zoho_main`.
async fn connected() -> (TestApp, FakeProvider, Browser, Api) {
    let app = spawn_app().await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &oauth_service_at(&fake, "zoho")).await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_main", &["read", "offline_access"])).await;
    let browser = app.admin().await;
    connect_oauth(&browser, "zoho_main").await;
    (app, fake, browser, api)
}

#[tokio::test]
async fn a_non_owner_gets_403_on_connect_and_edit_but_may_revoke_and_delete_and_is_audited() {
    let (app, fake, _admin, api) = connected().await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    api.create("/api/v1/connections", &connection("desk", "desk_main", &[])).await;
    let key = canary("key");
    let body = json!({"params": {"X-Api-Key": key, "X-Org-Id": "1"}});
    assert_eq!(api.put("/api/v1/connections/desk_main/credentials", &body).await.status, 200);

    let bob = second_admin(&app, "bob").await;
    let bob_api = Api::for_user(&app, "bob").await;
    let before = (row(&app, "desk_main").await, row(&app, "zoho_main").await);
    let forbidden = [
        bob.get("/admin/connections/desk_main/edit").await,
        bob.submit("/admin/connections/desk_main", "/admin/connections/desk_main", &[("name", "Taken over")])
            .await,
        bob.get("/admin/connections/desk_main/connect").await,
        bob.submit(
            "/admin/connections/desk_main",
            "/admin/connections/desk_main/connect",
            &[("param.X-Api-Key", "mine"), ("param.X-Org-Id", "2")],
        )
        .await,
        bob.get(&format!(
            "/admin/connections/zoho_main/connect?csrf_token={}",
            bob.get("/admin/connections").await.csrf()
        ))
        .await,
    ];
    for (i, res) in forbidden.iter().enumerate() {
        assert_eq!(res.status, 403, "page {i}: {}", res.body);
    }
    assert!(
        text_of(&forbidden[1]).contains("Only the owner (admin) can edit this connection"),
        "{}",
        text_of(&forbidden[1])
    );
    for res in [
        bob_api
            .put(
                "/api/v1/connections/desk_main/credentials",
                &json!({"params": {"X-Api-Key": "mine", "X-Org-Id": "2"}}),
            )
            .await,
        bob_api.patch("/api/v1/connections/desk_main", &json!({"name": "Taken over"})).await,
        bob_api.patch("/api/v1/connections/zoho_main", &json!({"scopes": ["read"]})).await,
        bob_api.post("/api/v1/connections/zoho_main/authorize", &json!({})).await,
    ] {
        assert_eq!(res.status, 403, "{}", res.body);
        assert_eq!(res.json()["error"]["code"], "forbidden");
    }
    let after = (row(&app, "desk_main").await, row(&app, "zoho_main").await);
    assert_eq!(
        (after.0.meta.name, after.0.credentials, after.0.token_version),
        (before.0.meta.name, before.0.credentials, before.0.token_version)
    );
    assert_eq!(
        (after.1.meta.scopes_requested, after.1.access_token),
        (before.1.meta.scopes_requested, before.1.access_token)
    );
    assert_eq!((fake.token_count(), fake.authorize_calls().len()), (1, 1), "bob started no flow");

    // Bob sees the metadata and only the actions he may use.
    let details = bob.get("/admin/connections/desk_main").await;
    assert!(details.body.contains("Revoke") && details.body.contains("Delete"));
    assert!(
        !details.body.contains("connect-button")
            && !details.body.contains("/admin/connections/desk_main/edit")
    );
    let list = bob.get("/admin/connections?owner=any").await;
    assert!(
        list.body.contains("/admin/connections/desk_main/revoke")
            && !list.body.contains("/admin/connections/desk_main/edit")
    );

    // Revoke on the page, delete through the API: both audited with bob as the actor.
    let confirm = bob.get("/admin/connections/zoho_main/revoke").await;
    assert!(
        text_of(&confirm).contains("Revoke “Connection zoho_main”?")
            && text_of(&confirm).contains("Owner: admin")
    );
    let res =
        bob.submit("/admin/connections/zoho_main/revoke", "/admin/connections/zoho_main/revoke", &[]).await;
    assert!(text_of(&follow(&bob, &res).await).contains("Revoked. Revoked at the provider."));
    assert_eq!(row(&app, "zoho_main").await.status, "disconnected");
    let res = bob_api.post("/api/v1/connections/desk_main/revoke", &json!({})).await;
    assert_eq!(
        res.json()["revoke_outcome"],
        "Credentials deleted (API Key and Basic credentials have no revocation at the provider)."
    );
    let stored = row(&app, "desk_main").await;
    assert_eq!((stored.meta.status.as_str(), stored.credentials), ("disconnected", None));
    let res = bob_api.delete("/api/v1/connections/desk_main").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["deleted"], "desk_main");
    assert!(try_row(&app, "desk_main").await.is_none());

    let revoked = audit(&app, "connection.revoke").await;
    assert_eq!(
        (revoked.len(), revoked[0].actor.as_str(), revoked[0].target.as_str()),
        (2, "bob", "zoho_main")
    );
    assert!(revoked[0].details.contains("\"owner\":\"admin\""), "{}", revoked[0].details);
    let deleted = audit(&app, "connection.delete").await;
    assert_eq!(
        (deleted.len(), deleted[0].actor.as_str(), deleted[0].target.as_str()),
        (1, "bob", "desk_main")
    );
    assert!(!revoked[0].details.contains(&key) && !deleted[0].details.contains(&key));
}

#[tokio::test]
async fn revoke_revokes_the_refresh_token_then_the_access_token_and_records_the_outcome() {
    let (app, fake, browser, _api) = connected().await;
    let (access, refresh) = (fake.issued("access")[0].clone(), fake.issued("refresh")[0].clone());
    let confirm = browser.get("/admin/connections/zoho_main/revoke").await;
    assert!(
        text_of(&confirm)
            .contains("The tokens are revoked at the provider, then stored credentials are deleted"),
        "{}",
        text_of(&confirm)
    );
    let res = browser
        .submit("/admin/connections/zoho_main/revoke", "/admin/connections/zoho_main/revoke", &[])
        .await;
    let page = follow(&browser, &res).await;
    assert_hidden(&format!("{}{}{res:?}{page:?}", confirm.body, res.body), &fake.secrets(), "a response");
    let text = text_of(&page);
    assert!(
        text.contains("Revoked. Revoked at the provider.")
            && text.contains("Last revocation Revoked at the provider."),
        "{text}"
    );
    assert!(text.contains("Disconnected"));

    assert_eq!(
        fake.revoke_calls(),
        [
            RevokeCall { token: refresh.clone(), hint: Some("refresh_token".into()) },
            RevokeCall { token: access.clone(), hint: Some("access_token".into()) }
        ]
    );
    assert!(!fake.is_active(&access) && !fake.is_active(&refresh), "the provider no longer accepts them");
    let stored = row(&app, "zoho_main").await;
    assert_eq!(stored.status, "disconnected");
    assert_eq!(
        (stored.access_token, stored.refresh_token, stored.credentials, stored.meta.expires_at),
        (None, None, None, None)
    );
    assert_eq!(stored.meta.revoke_outcome.as_deref(), Some("Revoked at the provider."));
    let entries = audit(&app, "connection.revoke").await;
    assert_eq!(entries[0].actor, "admin");
    assert!(entries[0].details.contains("Revoked at the provider."));

    // Reconnecting afterwards clears the outcome; a second revoke of nothing calls no provider.
    connect_oauth(&browser, "zoho_main").await;
    assert_eq!(row(&app, "zoho_main").await.revoke_outcome, None);
    browser.submit("/admin/connections/zoho_main/revoke", "/admin/connections/zoho_main/revoke", &[]).await;
    browser.submit("/admin/connections/zoho_main/revoke", "/admin/connections/zoho_main/revoke", &[]).await;
    assert_eq!(fake.revoke_calls().len(), 4);
    assert_eq!(row(&app, "zoho_main").await.revoke_outcome.as_deref(), Some("No tokens were stored."));
}

#[tokio::test]
async fn a_failing_revoke_url_still_deletes_the_stored_credentials_and_records_why() {
    let (app, fake, _browser, api) = connected().await;
    fake.set(|b| b.revoke_status = 503);
    let res = api.post("/api/v1/connections/zoho_main/revoke", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!(body["status"], "disconnected");
    let outcome = body["revoke_outcome"].as_str().unwrap().to_owned();
    assert!(outcome.starts_with("The provider call failed (refresh_token: "), "{outcome}");
    assert!(
        outcome.contains("HTTP 503") && outcome.ends_with("the stored tokens were deleted anyway."),
        "{outcome}"
    );
    assert_eq!(fake.revoke_calls().len(), 2, "both tokens were tried");
    let stored = row(&app, "zoho_main").await;
    assert_eq!(
        (stored.meta.status.as_str(), stored.access_token, stored.refresh_token),
        ("disconnected", None, None)
    );
    assert_eq!(stored.meta.revoke_outcome.as_deref(), Some(outcome.as_str()));
    let details = audit(&app, "connection.revoke").await[0].details.clone();
    assert!(details.contains("HTTP 503"), "{details}");
    assert_hidden(&format!("{}{details}", res.body), &fake.secrets(), "the answer or the audit log");

    // An unreachable provider is recorded the same way.
    let browser = app.admin().await;
    connect_oauth(&browser, "zoho_main").await;
    fake.stop().await;
    let res = api.post("/api/v1/connections/zoho_main/revoke", &json!({})).await;
    let outcome = res.json()["revoke_outcome"].as_str().unwrap().to_owned();
    assert!(
        outcome.starts_with("The provider call failed") && outcome.contains("could not be reached"),
        "{outcome}"
    );
    assert_eq!(row(&app, "zoho_main").await.access_token, None);
}

#[tokio::test]
async fn without_a_revoke_url_the_tokens_are_deleted_and_the_outcome_says_so() {
    let app = spawn_app().await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&app).await;
    let mut service = oauth_service_at(&fake, "zoho");
    service["oauth2"].as_object_mut().unwrap().remove("revoke_url");
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_main", &["read"])).await;
    let browser = app.admin().await;
    connect_oauth(&browser, "zoho_main").await;
    let confirm = text_of(&browser.get("/admin/connections/zoho_main/revoke").await);
    assert!(confirm.contains("The stored credentials are deleted"), "{confirm}");
    let body = api.post("/api/v1/connections/zoho_main/revoke", &json!({})).await.json();
    assert_eq!(body["revoke_outcome"], "The provider has no revoke URL: the stored tokens were deleted.");
    assert!(fake.revoke_calls().is_empty());
    assert_eq!(row(&app, "zoho_main").await.access_token, None);
}

#[tokio::test]
async fn delete_revokes_removes_the_connection_and_frees_its_link_name() {
    let (app, fake, browser, api) = connected().await;
    let confirm = text_of(&browser.get("/admin/connections/zoho_main/delete").await);
    assert!(
        confirm.contains("Its tokens are revoked at the provider")
            && confirm.contains("the link name becomes free"),
        "{confirm}"
    );
    let res = browser
        .submit("/admin/connections/zoho_main/delete", "/admin/connections/zoho_main/delete", &[])
        .await;
    assert_eq!(res.header("location"), "/admin/connections");
    assert!(
        text_of(&browser.get("/admin/connections").await)
            .contains("Connection zoho_main deleted. Revoked at the provider.")
    );
    assert_eq!(fake.revoke_calls().len(), 2);
    assert!(try_row(&app, "zoho_main").await.is_none());
    assert_eq!(browser.get("/admin/connections/zoho_main").await.status, 404);
    assert_eq!(api.get("/api/v1/connections/zoho_main").await.status, 404);
    let entries = audit(&app, "connection.delete").await;
    assert_eq!((entries.len(), entries[0].actor.as_str()), (1, "admin"));

    // The link name is free again, and a failing provider does not block the API delete.
    api.create("/api/v1/connections", &connection("zoho", "zoho_main", &["read"])).await;
    connect_oauth(&browser, "zoho_main").await;
    fake.set(|b| b.revoke_status = 500);
    let res = api.delete("/api/v1/connections/zoho_main").await;
    assert_eq!(res.status, 200);
    assert!(res.json()["revoke_outcome"].as_str().unwrap().contains("HTTP 500"));
    assert!(try_row(&app, "zoho_main").await.is_none());
    assert_eq!(api.delete("/api/v1/connections/zoho_main").await.status, 404);
}

#[tokio::test]
async fn changing_the_scopes_sets_not_connected_with_a_message_and_a_rename_does_not() {
    let (app, fake, browser, api) = connected().await;
    let edit = browser.get("/admin/connections/zoho_main/edit").await;
    assert!(edit.body.contains("Save and Reconnect"));
    let path = "/admin/connections/zoho_main";
    let res = browser
        .submit(
            path,
            path,
            &[("name", "Renamed"), ("scope", "read"), ("scope", "offline_access"), ("action", "save")],
        )
        .await;
    assert!(text_of(&follow(&browser, &res).await).contains("Connection saved."));
    let stored = row(&app, "zoho_main").await;
    assert_eq!((stored.name.as_str(), stored.status.as_str()), ("Renamed", "connected"));

    let res = browser
        .submit(path, path, &[("name", "Renamed"), ("scope", "read"), ("scope", "write"), ("action", "save")])
        .await;
    let page = follow(&browser, &res).await;
    let text = text_of(&page);
    assert!(
        text.contains(
            "Saved. The scopes changed, so the connection is Not connected until you reconnect and \
             consent to them."
        ),
        "{text}"
    );
    assert!(
        text.contains("The scopes changed: reconnect to grant them.") && text.contains("Not connected"),
        "{text}"
    );
    let stored = row(&app, "zoho_main").await;
    assert_eq!(stored.scopes_requested(), ["read", "write"]);
    assert_eq!(
        (stored.meta.status.as_str(), stored.access_token, stored.refresh_token),
        ("not_connected", None, None)
    );
    assert_eq!(stored.meta.status_message.as_deref(), Some("The scopes changed: reconnect to grant them."));

    // "Save and Reconnect" goes on to the consent with the new scopes.
    connect_oauth(&browser, "zoho_main").await;
    let res =
        browser.submit(path, path, &[("name", "Renamed"), ("scope", "write"), ("action", "reconnect")]).await;
    let to_connect = res.header("location").to_owned();
    assert!(to_connect.starts_with("/admin/connections/zoho_main/connect?nonce="), "{to_connect}");
    let to_provider = browser.get(&to_connect).await;
    assert!(to_provider.header("location").contains("scope=write&"), "{}", to_provider.header("location"));
    assert_eq!(row(&app, "zoho_main").await.status, "not_connected");

    // The API: the same rule, and the link name and service cannot change.
    connect_oauth(&browser, "zoho_main").await;
    let res = api.patch("/api/v1/connections/zoho_main", &json!({"name": "Again"})).await;
    assert_eq!((res.status, res.json()["status"].as_str()), (200, Some("connected")));
    let res = api.patch("/api/v1/connections/zoho_main", &json!({"scopes": ["read"]})).await;
    let body = res.json();
    assert_eq!(
        (body["status"].as_str(), body["last_error"].as_str()),
        (Some("not_connected"), Some("The scopes changed: reconnect to grant them."))
    );
    let res = api
        .patch("/api/v1/connections/zoho_main", &json!({"link_name": "other", "service": "other_service"}))
        .await;
    assert_eq!(res.status, 422);
    assert!(res.json()["errors"]["link_name"].is_array() && res.json()["errors"]["service"].is_array());
    let res = api.patch("/api/v1/connections/zoho_main", &json!({"scopes": ["nope"]})).await;
    assert_eq!(res.status, 422);
    assert_eq!(row(&app, "zoho_main").await.scopes_requested(), ["read"]);
    assert!(fake.revoke_calls().is_empty(), "a scope change forgets the tokens without revoking them");
    let updates = audit(&app, "connection.update").await;
    assert!(updates.iter().any(|e| e.details == r#"{"changed":["scopes"]}"#), "{updates:?}");
}

#[tokio::test]
async fn my_connections_is_the_default_and_all_connections_search_and_filter() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    api.create("/api/v1/services", &basic_service("legacy")).await;
    api.create(
        "/api/v1/connections",
        &json!({"service": "desk", "name": "Billing Desk", "link_name": "billing_desk"}),
    )
    .await;
    api.create("/api/v1/connections", &json!({"service": "legacy", "name": "Old HR", "link_name": "old_hr"}))
        .await;
    let bob = second_admin(&app, "bob").await;
    let bob_api = Api::for_user(&app, "bob").await;
    bob_api
        .create(
            "/api/v1/connections",
            &json!({"service": "desk", "name": "Bob Desk", "link_name": "bob_desk"}),
        )
        .await;
    api.put(
        "/api/v1/connections/billing_desk/credentials",
        &json!({"params": {"X-Api-Key": "k", "X-Org-Id": "o"}}),
    )
    .await;

    let links = |v: serde_json::Value| -> Vec<String> {
        v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["link_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(links(api.get("/api/v1/connections").await.json()), ["billing_desk", "old_hr"]);
    assert_eq!(
        links(api.get("/api/v1/connections?owner=any").await.json()),
        ["billing_desk", "bob_desk", "old_hr"]
    );
    assert_eq!(
        links(api.get("/api/v1/connections?owner=any&search=DESK").await.json()),
        ["billing_desk", "bob_desk"]
    );
    assert_eq!(links(api.get("/api/v1/connections?owner=any&search=old_h").await.json()), ["old_hr"]);
    assert_eq!(
        links(api.get("/api/v1/connections?owner=any&status=connected").await.json()),
        ["billing_desk"]
    );
    assert_eq!(links(api.get("/api/v1/connections?owner=any&auth_type=basic").await.json()), ["old_hr"]);
    assert_eq!(
        links(api.get("/api/v1/connections?owner=any&service=desk&sort=-name").await.json()),
        ["bob_desk", "billing_desk"]
    );
    assert_eq!(api.get("/api/v1/connections?status=broken").await.status, 422);

    let mine = bob.get("/admin/connections").await;
    assert!(mine.body.contains("bob_desk") && !mine.body.contains("billing_desk"));
    let all = bob.get("/admin/connections?owner=any&q=desk").await;
    assert!(
        all.body.contains("bob_desk") && all.body.contains("billing_desk") && !all.body.contains("old_hr")
    );

    // Each row's columns, in the one-owner list (whose owner's name is read once) and in the list of all.
    let row_of = |page: &Page, link: &str| -> String {
        let start = page
            .body
            .find(&format!("<tr data-link-name=\"{link}\""))
            .unwrap_or_else(|| panic!("no row {link}"));
        let row = &page.body[start..];
        text_of(&Page {
            status: 200,
            headers: Default::default(),
            body: row[..row.find("</tr>").unwrap()].to_owned(),
        })
    };
    assert_eq!(row_of(&mine, "bob_desk"), row_of(&all, "bob_desk"));
    let bob_desk = row_of(&mine, "bob_desk");
    assert!(
        ["Bob Desk", "Service desk", "API Key", "Not connected", "bob"].iter().all(|s| bob_desk.contains(s)),
        "{bob_desk}"
    );
    let billing = row_of(&all, "billing_desk");
    assert!(
        ["Billing Desk", "Service desk", "API Key", "Connected", "admin"].iter().all(|s| billing.contains(s)),
        "{billing}"
    );
    assert!(!billing.contains("bob"), "{billing}");
    let owners = |v: serde_json::Value| -> Vec<String> {
        v["connections"].as_array().unwrap().iter().map(|c| c["owner"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(owners(bob_api.get("/api/v1/connections").await.json()), ["bob"]);
    assert_eq!(owners(bob_api.get("/api/v1/connections?owner=any").await.json()), ["admin", "bob", "admin"]);
}

#[tokio::test]
async fn the_list_shows_a_hostile_name_as_text_in_every_place_a_row_repeats_it() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    let hostile = r#"<img src=x onerror=alert(1)> "Tom's" & Ünïcödé"#;
    api.create(
        "/api/v1/connections",
        &json!({"service": "desk", "name": hostile, "link_name": "hostile_row"}),
    )
    .await;
    let browser = app.admin().await;

    let page = browser.get("/admin/connections").await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("<img src=x") && !page.body.contains("\"Tom's\""),
        "a name reached the page unescaped"
    );
    let escaped = "&#60;img src=x onerror=alert(1)&#62; &#34;Tom&#39;s&#34; &#38; Ünïcödé";
    // The name as the row's title and in the Select, Edit, Connect and Delete labels.
    assert_eq!(
        page.body.matches(escaped).count(),
        5,
        "{}",
        &page.body[page.body.find("hostile_row").unwrap_or(0)..]
    );
    assert!(text_of(&page).contains(hostile));
}
