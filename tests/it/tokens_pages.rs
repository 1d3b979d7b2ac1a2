//! API tokens from the browser: My API Tokens and Admin > API Tokens, the create form (shown once,
//! only the hash stored), its 422s, revoking, and the connection page's way to a restricted token.

use connections::random::sha256_hex;
use serde_json::json;

use crate::support::{
    Api, Browser, T0, TestApp, api_key_service, connection, database_text, flash_of, second_admin, text_of,
};

/// The token shown on the page that created it.
fn shown_token(page: &crate::support::Page) -> String {
    let marker = "<code id=\"new-token\">";
    let start =
        page.body.find(marker).unwrap_or_else(|| panic!("no token shown in: {}", page.body)) + marker.len();
    page.body[start..].split('<').next().unwrap().to_owned()
}

/// An app with service `svc` and connections `desk` and `other`.
async fn app_with_connections() -> (TestApp, Api) {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("svc")).await;
    for link in ["desk", "other"] {
        api.create("/api/v1/connections", &connection("svc", link, &[])).await;
    }
    (app, api)
}

async fn create(browser: &Browser, fields: &[(&str, &str)]) -> crate::support::Page {
    browser.submit("/admin/tokens/new", "/admin/tokens", fields).await
}

#[tokio::test]
async fn a_token_made_on_the_page_is_shown_once_and_only_its_hash_is_stored() {
    let (app, api) = app_with_connections().await;
    let admin = app.admin().await;

    // The connection page points to a token restricted to it.
    let details = admin.get("/admin/connections/desk").await;
    assert!(details.body.contains("href=\"/admin/tokens/new?connection=desk\""), "{}", details.body);
    assert!(!details.body.contains("connections token create"));
    let form = admin.get("/admin/tokens/new?connection=desk").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains(r#"name="connection" value="desk" checked"#), "desk is chosen");
    assert!(form.body.contains(r#"name="connection" value="other">"#), "other is offered, not chosen");
    assert!(form.body.contains(r#"name="scope" value="invoke" checked"#));
    assert!(form.body.contains(r#"name="expiry" value="90" checked"#), "90 days by default");

    let created = create(
        &admin,
        &[("label", "Nightly sync"), ("expiry", "30"), ("scope", "invoke"), ("connection", "desk")],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let token = shown_token(&created);
    assert!(token.starts_with("cn_") && token.len() > 30, "{token}");
    assert!(created.body.contains("shown only this once"));
    assert!(created.body.contains(&format!("{}/api/v1/connections/desk/invoke", app.base)), "the snippet");
    assert!(created.body.contains(&format!("Bearer {token}")), "the snippet carries the token");
    assert!(created.body.contains("hx-history=\"false\""));
    assert_eq!(created.header("cache-control"), "no-store");

    // Never again: not in either list, not in the database (only its hash).
    for path in ["/admin/tokens/mine", "/admin/tokens"] {
        let list = admin.get(path).await;
        assert_eq!(list.status, 200);
        let text = text_of(&list);
        assert!(text.contains("Nightly sync") && text.contains("Invoke only: desk"), "{path}: {text}");
        assert!(!list.body.contains(&token), "{path} shows the token again");
        assert!(list.body.contains(&token[..9]), "{path} shows its prefix");
    }
    let stored = database_text(&app).await;
    assert!(!stored.contains(&token), "the token itself is stored");
    assert!(stored.contains(&sha256_hex(&token)), "its hash is");

    // What the page chose is what the API lists, and the token works for nothing but desk.
    let mine = api.get("/api/v1/tokens").await.json();
    let listed = mine["items"].as_array().unwrap().iter().find(|t| t["label"] == "Nightly sync").unwrap();
    assert_eq!(listed["restricted_to"], json!(["desk"]));
    assert_eq!(listed["expires_at"], connections::clock::rfc3339(T0 + 30 * 86_400));
    let me = Api::at(&app.base, &token).get("/api/v1/me").await;
    assert_eq!(me.status, 403);
    assert_eq!(me.json()["error"]["message"], "This token may only invoke: desk.");
}

#[tokio::test]
async fn a_full_access_token_never_expiring_only_when_chosen() {
    let (app, _) = app_with_connections().await;
    let admin = app.admin().await;
    let created = create(&admin, &[("label", "Ops console"), ("expiry", "never"), ("scope", "all")]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(text_of(&created).contains("Expires: Never"));
    assert!(text_of(&created).contains("/api/v1/connections/LINK_NAME/invoke"), "a generic snippet");
    let token = shown_token(&created);
    assert_eq!(Api::at(&app.base, &token).get("/api/v1/me").await.status, 200);

    let custom = create(
        &admin,
        &[("label", "Until spring"), ("expiry", "custom"), ("expires_on", "2027-03-01"), ("scope", "all")],
    )
    .await;
    assert_eq!(custom.status, 200, "{}", custom.body);
    assert!(text_of(&custom).contains("Expires: 2027-03-01 00:00 UTC"), "{}", text_of(&custom));
}

#[tokio::test]
async fn the_form_refuses_bad_input_with_a_422_that_keeps_what_was_typed() {
    let (app, api) = app_with_connections().await;
    let admin = app.admin().await;
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("label", " "), ("expiry", "90"), ("scope", "all")], "Enter a name."),
        (&[("label", "x"), ("expiry", "90"), ("scope", "invoke")], "Choose at least one connection"),
        (
            &[("label", "x"), ("expiry", "90"), ("scope", "invoke"), ("more_connections", "desk, ghost")],
            "There is no connection with the link name ghost.",
        ),
        (&[("label", "x"), ("expiry", "7"), ("scope", "all")], "Choose when the token expires."),
        (&[("label", "x"), ("expiry", "custom"), ("expires_on", ""), ("scope", "all")], "Choose a date."),
        (
            &[("label", "x"), ("expiry", "custom"), ("expires_on", "2020-01-01"), ("scope", "all")],
            "Choose a date in the future",
        ),
    ];
    for (fields, message) in cases {
        let res = create(&admin, fields).await;
        assert_eq!(res.status, 422, "{fields:?}");
        assert!(text_of(&res).contains(message), "{fields:?}: {}", text_of(&res));
        assert!(!res.body.contains("id=\"new-token\""));
    }
    let kept = create(&admin, &[("label", "Kept label"), ("expiry", "365"), ("scope", "invoke")]).await;
    assert!(kept.body.contains("value=\"Kept label\"") && kept.body.contains(r#"value="365" checked"#));
    let all = api.get("/api/v1/tokens?all=true").await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "only the API client's own token: {all}");
}

#[tokio::test]
async fn an_sdadmin_sees_and_revokes_every_users_tokens_and_my_tokens_are_mine() {
    let (app, _) = app_with_connections().await;
    let admin = app.admin().await;
    let ops = second_admin(&app, "ops").await;
    let token =
        shown_token(&create(&ops, &[("label", "Ops script"), ("expiry", "90"), ("scope", "all")]).await);
    let ops_api = Api::at(&app.base, &token);
    assert_eq!(ops_api.get("/api/v1/me").await.status, 200);
    let used = ops_api.get("/api/v1/me").await;
    assert_eq!(used.status, 200);

    let mine = text_of(&admin.get("/admin/tokens/mine").await);
    assert!(!mine.contains("Ops script"), "My API Tokens holds only mine: {mine}");
    let all = admin.get("/admin/tokens").await;
    let text = text_of(&all);
    assert!(text.contains("Ops script") && text.contains("ops"), "{text}");
    assert!(text.contains("from 127.0.0.1"), "the address of the last use: {text}");
    assert!(text.contains("active"));

    let id = all.body.split("data-token-id=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let revoked = admin.submit("/admin/tokens", &format!("/admin/tokens/{id}/revoke"), &[]).await;
    assert_eq!(revoked.status, 303);
    assert_eq!(revoked.header("location"), "/admin/tokens");
    let after = admin.get("/admin/tokens").await;
    assert!(flash_of(&after).contains("is revoked"), "{}", flash_of(&after));
    assert!(text_of(&after).contains("revoked"));
    assert_eq!(ops_api.get("/api/v1/me").await.status, 401, "refused at once");
    let again = admin.submit("/admin/tokens", &format!("/admin/tokens/{id}/revoke"), &[]).await;
    assert_eq!(again.status, 303, "revoking twice changes nothing");
    assert_eq!(admin.submit("/admin/tokens", "/admin/tokens/99999/revoke", &[]).await.status, 404);
    assert_eq!(admin.submit("/admin/tokens", "/admin/tokens/x/revoke", &[]).await.status, 404);

    let audit = app
        .state
        .db
        .run(|c| Ok(connections::models::audit::recent(c, 10)?))
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.actor, e.action))
        .collect::<Vec<_>>();
    assert!(
        audit.contains(&"ops token.create".to_owned()) && audit.contains(&"admin token.revoke".to_owned())
    );
}
